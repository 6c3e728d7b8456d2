/**
 * Evaluation of the dual-branch model: the target branch (the inference model) over a batch source,
 * with logits averaged over the crops of an image, and the auxiliary branch's distributions when asked.
 *
 * @module
 */
import { type Tensor, type Tensor1D, type Tensor2D, tf } from "../engine/tf.ts";
import type { AdaDfModel } from "../backbones/adadf.ts";
import { type Batch, repeatLabels } from "../datasets/loader.ts";
import type { Attention } from "../strategies/attention.ts";
import { argmaxRows, type ClassificationReport, classificationReport } from "./metrics.ts";

/** Anything that yields an epoch's batches; `DataLoader` is one. */
export interface BatchSource {
  /** Batches per epoch. */
  readonly length: number;
  /**
   * The batches of an epoch (0-based), from batch position `from` (0-based; default 0) on: a run
   * resumed inside an epoch asks for the rest of it, so a source used for that must honour `from`
   * (a {@linkcode Batch}'s `position`, when set, says where each batch stands).
   */
  batches(epoch: number, from?: number): AsyncIterable<Batch>;
}

/** What {@linkcode evaluateModel} measures. */
export interface EvaluationResult extends ClassificationReport {
  /** Per-image softmax of the target branch's (crop-averaged, attention-scaled) logits, [N * C]. */
  probabilities: Float32Array;
  /** Labels, [N]. */
  labels: Int32Array;
  /** Dataset indices, [N]. */
  indices: Int32Array;
  /** Ground-truth distributions [N * C] when the dataset has them. */
  distributions?: Float32Array;
}

/** Per-batch outputs of {@linkcode forEachEvalBatch} (valid only during the callback). */
export interface EvalBatchOutputs {
  /** Target logits z_2 = a_2 * fc_2(h_2), averaged over each image's crops: [B, C] (`perCrop`: per crop). */
  logits: Tensor2D;
  /** With `withAux`: softmax of the auxiliary logits z_1 (crop-averaged): [B, C] (`perCrop`: per crop). */
  auxProbs?: Tensor2D;
  /** With `withAux`: averaged attention w = (a_1 + a_2) / 2 per image: [B] (`perCrop`: per crop). */
  attention?: Tensor1D;
}

/** Options of {@linkcode forEachEvalBatch}. */
export interface ForEachEvalBatchOptions {
  /**
   * The epoch index passed to the source (it seeds augmentations and order).
   * @default {0}
   */
  epoch?: number;
  /**
   * Also run the auxiliary branch.
   * @default {false}
   */
  withAux?: boolean;
  /**
   * Stop after this many batches.
   * @default {Infinity}
   */
  maxBatches?: number;
  /**
   * Give every crop its own row instead of averaging an image's crops: the outputs have `B * crops`
   * rows and the labels are repeated per crop (the reference's mining pass over ten-crop batches).
   * @default {false}
   */
  perCrop?: boolean;
}

function averageCrops<T extends Tensor>(x: T, crops: number): T {
  if (crops === 1) return x;
  return tf.mean(tf.reshape(x, [-1, crops, ...x.shape.slice(1)]), 1) as T;
}

/**
 * Runs the model in evaluation mode over a source's batches and calls (and awaits) `visit` with each
 * batch's outputs, which are disposed after the call. On a single-branch model (`branches: 1`, no
 * attention head) the logits are the classifier's as they are, whatever `attention` says, and
 * `withAux` is an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { noAttention } from "../strategies/attention.ts";
 * import { forEachEvalBatch } from "./evaluate.ts";
 *
 * const batch = {
 *   images: new Float32Array(4 * 16 * 16 * 3),
 *   shape: [4, 16, 16, 3] as [number, number, number, 3],
 *   labels: Int32Array.from([0, 1, 0, 1]),
 *   indices: Int32Array.from([0, 1, 2, 3]),
 *   crops: 1,
 * };
 * const source = { length: 1, async *batches() { yield batch; } };
 * const model = new AdaDfModel("tiny", { numClasses: 2 });
 * const shapes: number[][] = [];
 * await forEachEvalBatch(model, noAttention(), source, {}, ({ logits }) => {
 *   shapes.push(logits.shape);
 * });
 * assert.deepEqual(shapes, [[4, 2]]);
 * ```
 */
export async function forEachEvalBatch(
  model: AdaDfModel,
  attention: Attention,
  source: BatchSource,
  options: ForEachEvalBatchOptions,
  visit: (outputs: EvalBatchOutputs, labels: Tensor1D, batch: Batch) => void | Promise<void>,
): Promise<void> {
  const mode = { training: false };
  const cap = options.maxBatches ?? Infinity;
  let count = 0;
  for await (const batch of source.batches(options.epoch ?? 0)) {
    if (count++ >= cap) break;
    const crops = options.perCrop ? 1 : batch.crops;
    const outputs: EvalBatchOutputs = tf.tidy(() => {
      const images = tf.tensor4d(batch.images, batch.shape);
      const features = model.stem(images, mode);
      const target = model.branch("target", features, mode);
      // The single-branch baseline has no attention head: its logits are used as they are.
      if (model.branchNames.length === 1) {
        if (options.withAux) {
          throw new Error("forEachEvalBatch: the single-branch model has no auxiliary branch");
        }
        return { logits: averageCrops(target.logits, crops) };
      }
      if (!options.withAux) {
        const { a2 } = attention.apply({ scores1: target.scores, scores2: target.scores });
        return { logits: averageCrops(tf.mul(target.logits, a2.expandDims(1)) as Tensor2D, crops) };
      }
      const aux = model.branch("aux", features, mode);
      const { a1, a2 } = attention.apply({ scores1: aux.scores, scores2: target.scores });
      return {
        logits: averageCrops(tf.mul(target.logits, a2.expandDims(1)) as Tensor2D, crops),
        auxProbs: tf.softmax(averageCrops(tf.mul(aux.logits, a1.expandDims(1)) as Tensor2D, crops)),
        attention: averageCrops(tf.div(tf.add(a1, a2), 2) as Tensor1D, crops),
      };
    });
    const rowLabels = options.perCrop && batch.crops > 1
      ? repeatLabels(batch.labels, batch.crops)
      : batch.labels;
    const labels = tf.tensor1d(rowLabels, "int32");
    try {
      await visit(outputs, labels, batch);
    } finally {
      tf.dispose([...Object.values(outputs), labels]);
    }
  }
}

/**
 * Evaluates the target branch: accuracy, mean class accuracy, per-class accuracy, confusion matrix,
 * and each image's predicted distribution (logits averaged over an image's crops).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { noAttention } from "../strategies/attention.ts";
 * import { evaluateModel } from "./evaluate.ts";
 *
 * const batch = {
 *   images: new Float32Array(4 * 16 * 16 * 3),
 *   shape: [4, 16, 16, 3] as [number, number, number, 3],
 *   labels: Int32Array.from([0, 1, 0, 1]),
 *   indices: Int32Array.from([0, 1, 2, 3]),
 *   crops: 1,
 * };
 * const source = { length: 1, async *batches() { yield batch; } };
 * const model = new AdaDfModel("tiny", { numClasses: 2 });
 * const result = await evaluateModel(model, noAttention(), source);
 * assert.equal(result.count, 4);
 * assert.equal(result.probabilities.length, 4 * 2);
 * // identical images get one prediction: half of the labels
 * assert.equal(result.accuracy, 0.5);
 * assert.equal(result.confusion.flat().reduce((a, b) => a + b), 4);
 * ```
 */
export async function evaluateModel(
  model: AdaDfModel,
  attention: Attention,
  source: BatchSource,
): Promise<EvaluationResult> {
  const probabilities: number[] = [];
  const labels: number[] = [];
  const indices: number[] = [];
  const distributions: number[] = [];
  let haveDistributions = true;
  await forEachEvalBatch(model, attention, source, {}, async ({ logits }, _labels, batch) => {
    const probs = tf.softmax(logits);
    const p = await probs.data();
    probs.dispose();
    for (const v of p) probabilities.push(v);
    for (const v of batch.labels) labels.push(v);
    for (const v of batch.indices) indices.push(v);
    if (batch.distributions) { for (const v of batch.distributions) distributions.push(v); }
    else haveDistributions = false;
  });
  const C = model.numClasses;
  const report = classificationReport(labels, argmaxRows(probabilities, C), C);
  return {
    ...report,
    probabilities: Float32Array.from(probabilities),
    labels: Int32Array.from(labels),
    indices: Int32Array.from(indices),
    ...(haveDistributions && labels.length ? { distributions: Float32Array.from(distributions) } : {}),
  };
}
