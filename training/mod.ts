/**
 * Training and evaluation: Adam as PyTorch's, one training step, the {@linkcode Trainer} with its
 * lifecycle hooks, evaluation (single view and TenCrop), the metrics of a run, and checkpoints
 * (safetensors files that hold the model, the optimiser, the miner and the random state).
 *
 * @example Metrics from predictions
 * ```ts
 * import assert from "node:assert/strict";
 * import { classificationReport, summarize } from "./mod.ts";
 *
 * const report = classificationReport([0, 0, 1, 1], [0, 1, 1, 1], 2);
 * assert.equal(report.accuracy, 0.75);
 * assert.deepEqual(report.confusion, [[1, 1], [0, 2]]);
 * assert.equal(summarize([0.7, 0.8, 0.9]).count, 3);
 * ```
 *
 * @module
 */
export * from "./optim.ts";
export * from "./step.ts";
export * from "./trainer.ts";
export * from "./evaluate.ts";
export * from "./metrics.ts";
export * from "./checkpoint.ts";
