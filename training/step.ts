/**
 * One optimisation step of the dual-branch model: the frozen stem outside the gradient tape, both
 * branches and the objective inside it, then Adam's update of the trainable parameters.
 *
 * @module
 */
import { type Scalar, type Tensor, type Tensor1D, type Tensor4D, tf } from "../engine/tf.ts";
import type { AdaDfModel, AdaDfOutputs } from "../backbones/adadf.ts";
import type { ForwardMode } from "../backbones/layers.ts";
import { type Batch, repeatLabels } from "../datasets/loader.ts";
import type { Adam } from "./optim.ts";

/**
 * A training batch as the step's tensors. With several crops per image (TenCrop training) the crops are
 * the rows: B images of `crops` crops are `B * crops` rows, each with its image's label, as the
 * reference's `images.view(-1, c, h, w)` and `torch.repeat_interleave(labels, ncrops)`; the objective
 * still divides the KL divergence by B and takes the rank regularisation's groups of B
 * (`StepBatch.batchSize`).
 */
export interface StepBatch {
  /** The pixels, `[B * crops, size, size, 3]`. */
  images: Tensor4D;
  /** int32 `[B * crops]`: each image's label, once per crop. */
  labels: Tensor1D;
  /** The same labels on the host. */
  rowLabels: Int32Array;
  /** B, the number of images: the KL divisor and the size of the rank split (the reference's `batch_size`). */
  batchSize: number;
  /** Crops per image. */
  crops: number;
}

/**
 * The tensors of a training batch, its crops stacked as rows with the labels repeated; the caller
 * disposes `images` and `labels`.
 *
 * @example Two images of ten crops are twenty rows
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { stepBatch } from "./step.ts";
 * const step = stepBatch({
 *   images: new Float32Array(20 * 4 * 4 * 3),
 *   shape: [20, 4, 4, 3],
 *   labels: Int32Array.from([3, 5]),
 *   indices: Int32Array.from([0, 1]),
 *   crops: 10,
 * });
 * assert.deepEqual(step.images.shape, [20, 4, 4, 3]);
 * assert.deepEqual([...step.rowLabels.subarray(8, 12)], [3, 3, 5, 5]);
 * assert.equal(step.batchSize, 2);
 * tf.dispose([step.images, step.labels]);
 * ```
 */
export function stepBatch(batch: Batch): StepBatch {
  const crops = batch.crops;
  const rows = batch.labels.length * crops;
  if (!Number.isInteger(crops) || crops < 1 || batch.shape[0] !== rows) {
    throw new Error(
      `stepBatch: a batch of ${batch.labels.length} images of ${crops} crops needs ${rows} rows, ` +
        `got shape [${batch.shape.join(", ")}]`,
    );
  }
  const rowLabels = crops === 1 ? batch.labels : repeatLabels(batch.labels, crops);
  return {
    images: tf.tensor4d(batch.images, batch.shape),
    labels: tf.tensor1d(rowLabels, "int32"),
    rowLabels,
    batchSize: batch.labels.length,
    crops,
  };
}

/** What an objective returns: the scalar to minimise; further fields go back to the caller. */
export interface StepObjectiveResult {
  /** The loss to minimise. */
  total: Scalar;
}

/** Options of {@linkcode trainStep}. */
export interface TrainStepOptions {
  /**
   * How the frozen stem runs. The paper freezes its parameters but keeps it in training mode (batch
   * statistics and running-average updates); `{ training: false }` uses its running statistics.
   * @default {{ training: true }}
   */
  stemMode?: ForwardMode;
}

/**
 * Runs one training step and returns the objective's result; its tensors are kept and owned by the
 * caller (release them with {@linkcode disposeOutputs}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { Adam } from "./optim.ts";
 * import { disposeOutputs, trainStep } from "./step.ts";
 *
 * const model = new AdaDfModel("tiny", { numClasses: 3 });
 * const out = trainStep(model, new Adam(), tf.zeros([2, 16, 16, 3]), (o) => ({
 *   total: tf.mean(tf.square(o.targetLogits)) as tf.Scalar,
 * }));
 * assert.ok(out.total.dataSync()[0] >= 0); // a mean of squares
 * const optimizer = new Adam();
 * trainStep(model, optimizer, tf.zeros([2, 16, 16, 3]), (o) => ({ total: tf.mean(o.targetLogits) as tf.Scalar }));
 * assert.equal(optimizer.step, 1); // one update of the parameters
 * disposeOutputs(out);
 * ```
 */
export function trainStep<R extends StepObjectiveResult>(
  model: AdaDfModel,
  optimizer: Adam,
  images: Tensor4D,
  objective: (outputs: AdaDfOutputs) => R,
  options: TrainStepOptions = {},
): R {
  const stemMode = options.stemMode ?? { training: true };
  const trainable = new Map([...model.params].filter(([, v]) => v.trainable));
  const nameOf = new Map([...trainable].map(([name, v]) => [v.name, name]));
  let kept: R | undefined;
  tf.tidy(() => {
    // The frozen stem needs no gradient: computing it outside the tape keeps the tape small.
    const features = model.freezeStem ? model.stem(images, stemMode) : undefined;
    const { grads } = tf.variableGrads(() => {
      const outputs = model.branches(features ?? model.stem(images, { training: true }), { training: true });
      const result = objective(outputs);
      for (const v of Object.values(result)) if (v instanceof tf.Tensor) tf.keep(v);
      kept = result;
      return result.total;
    }, [...trainable.values()]);
    const named = new Map<string, Tensor>();
    for (const [varName, g] of Object.entries(grads)) named.set(nameOf.get(varName)!, g);
    optimizer.update(trainable, named);
  });
  return kept!;
}

/**
 * Disposes every tensor of a step's result.
 *
 * @example Free every tensor of a result object
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { disposeOutputs } from "./step.ts";
 * const before = tf.memory().numTensors;
 * const result = { total: tf.scalar(1), extra: tf.ones([2]), note: "kept" };
 * disposeOutputs(result);
 * assert.equal(tf.memory().numTensors, before);
 * ```
 */
export function disposeOutputs(outputs: object): void {
  tf.dispose(Object.values(outputs).filter((v): v is Tensor => v instanceof tf.Tensor));
}

/** Where a loss became non-finite, and the values in play there. */
export interface NonFiniteLossInfo {
  /** Epoch, from 1. */
  epoch: number;
  /** Batch within the epoch, from 1. */
  batch: number;
  /** Batches in the epoch. */
  batches: number;
  /** The loss terms of that batch. */
  terms: { total: number; ce: number; kl: number; rr: number };
  /** The learning rate of that epoch. */
  lr: number;
  /** The KL weight alpha_1 of that epoch. */
  alpha1: number;
  /** The cross-entropy weight alpha_2 of that epoch. */
  alpha2: number;
}

/**
 * A training loss that became NaN or infinite: the message names the step (epoch, batch), the term
 * (`ce`, `kl` or `rr`, or `total` when every term is finite), every term's value and the learning rate
 * and loss weights of the epoch. A run adds the config fields that can cause it.
 *
 * @example The message of a NaN in the KL term
 * ```ts
 * import assert from "node:assert/strict";
 * import { NonFiniteLossError } from "./step.ts";
 * const error = new NonFiniteLossError({
 *   epoch: 3, batch: 7, batches: 40, terms: { total: NaN, ce: 1.2, kl: NaN, rr: 0.01 },
 *   lr: 0.00081, alpha1: 1, alpha2: 0.5,
 * });
 * assert.equal(error.term, "kl");
 * assert.match(error.message, /^epoch 3, batch 7 of 40: the kl term of the loss is NaN \(total NaN, ce 1\.2, kl NaN, rr 0\.01\)/);
 * assert.match(error.message, /learning rate 0\.00081, alpha1 1, alpha2 0\.5/);
 * ```
 */
export class NonFiniteLossError extends Error {
  /** Where and with what values. */
  readonly info: NonFiniteLossInfo;
  /** The first non-finite term: `ce`, `kl`, `rr`, or `total` when only the sum is. */
  readonly term: "ce" | "kl" | "rr" | "total";

  /** Creates the error. */
  constructor(info: NonFiniteLossInfo) {
    const { epoch, batch, batches, terms, lr, alpha1, alpha2 } = info;
    const term = (["ce", "kl", "rr"] as const).find((name) => !Number.isFinite(terms[name])) ?? "total";
    const value = terms[term];
    const all = (["total", "ce", "kl", "rr"] as const).map((name) => `${name} ${terms[name]}`).join(", ");
    const what = term === "total" ? "the loss" : `the ${term} term of the loss`;
    super(
      `epoch ${epoch}, batch ${batch} of ${batches}: ${what} is ${value} (${all}); ` +
        `learning rate ${lr}, alpha1 ${alpha1}, alpha2 ${alpha2}`,
    );
    this.name = "NonFiniteLossError";
    this.info = info;
    this.term = term;
  }
}
