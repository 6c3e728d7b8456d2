/**
 * Strategy plugins of the training objective, one family per module, and the registry that maps
 * config names to them.
 *
 * - {@linkcode Attention}: `sigmoid`, `none`
 * - {@linkcode WeightNormalizer}: `adaptive`, `fixed`
 * - {@linkcode DistributionSource}: `onehot`, `label`, `class`, `fused`
 * - {@linkcode Regularizer}: `rank`, `none`
 * - {@linkcode LossSchedule}: `ramp`, `constant`
 * - {@linkcode ClassDistributionMiner}: `epoch-pass`, `online`
 *
 * {@linkcode computeObjective} runs the per-batch chain; {@linkcode buildPlugins} builds a set from a
 * config; {@linkcode registerPlugin} adds user-defined plugins.
 *
 * @example Swap one plugin
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { buildPlugins, computeObjective } from "./mod.ts";
 *
 * const plugins = buildPlugins({ distribution: "label", regularizer: "none" });
 * const out = computeObjective(plugins, {
 *   auxLogits: tf.tensor2d([[1, 0], [0, 1]]),
 *   targetLogits: tf.tensor2d([[1, 0], [0, 1]]),
 *   scores1: tf.tensor1d([0, 1]),
 *   scores2: tf.tensor1d([1, 0]),
 *   labels: tf.tensor1d([0, 1], "int32"),
 *   classDistributions: plugins.miner.distributions(2),
 * }, { epoch: 2 });
 * // no regulariser: the total is the two weighted terms
 * assert.equal(out.rr.arraySync(), 0);
 * const terms = out.alpha2 * out.ce.arraySync() + out.alpha1 * out.kl.arraySync();
 * assert.ok(Math.abs(out.total.arraySync() - terms) < 1e-5);
 * ```
 *
 * @module
 */
export * from "./attention.ts";
export * from "./normalizer.ts";
export * from "./distribution.ts";
export * from "./regularizer.ts";
export * from "./schedule.ts";
export * from "./miner.ts";
export * from "./objective.ts";
export * from "./registry.ts";
