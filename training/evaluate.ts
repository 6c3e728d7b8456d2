/**
 * Evaluation of the dual-branch model: the target branch (the inference model) over a batch source,
 * with logits averaged over the crops of an image, and the auxiliary branch's distributions when asked.
 *
 * @module
 */
import { type Tensor, type Tensor1D, type Tensor2D, tf } from "../engine/tf.ts";
import type { AdaDfModel } from "../backbones/adadf.ts";
import type { Batch } from "../datasets/loader.ts";
import type { Attention } from "../strategies/attention.ts";
import { argmaxRows, type ClassificationReport, classificationReport } from "./metrics.ts";

/**
 * Anything that yields an epoch's batches; `DataLoader` is one.
 *
 * @example An in-memory source of one batch of two 32x32 images
 * ```ts
 * import type { BatchSource } from "./evaluate.ts";
 * const source: BatchSource = {
 *   length: 1,
 *   async *batches(_epoch: number) {
 *     yield {
 *       images: new Float32Array(2 * 32 * 32 * 3),
 *       shape: [2, 32, 32, 3],
 *       labels: Int32Array.from([0, 1]),
 *       indices: Int32Array.from([0, 1]),
 *       crops: 1,
 *     };
 *   },
 * };
 * for await (const batch of source.batches(0)) console.assert(batch.labels.length === 2);
 * ```
 */
export interface BatchSource {
  /** Batches per epoch. */
  readonly length: number;
  /** The batches of an epoch (0-based). */
  batches(epoch: number): AsyncIterable<Batch>;
}

/**
 * What {@linkcode evaluateModel} measures.
 *
 * @example Evaluate the tiny model on a few blank images
 * ```ts
 * import { type BatchSource, evaluateModel, type EvaluationResult } from "./evaluate.ts";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { sigmoidAttention } from "../strategies/attention.ts";
 * const source: BatchSource = {
 *   length: 1,
 *   async *batches() {
 *     yield {
 *       images: new Float32Array(3 * 32 * 32 * 3),
 *       shape: [3, 32, 32, 3],
 *       labels: Int32Array.from([0, 1, 2]),
 *       indices: Int32Array.from([0, 1, 2]),
 *       crops: 1,
 *     };
 *   },
 * };
 * const model = new AdaDfModel("tiny", { numClasses: 3 });
 * const result: EvaluationResult = await evaluateModel(model, sigmoidAttention(), source);
 * console.assert(result.count === 3 && result.probabilities.length === 3 * 3);
 * console.log(result.accuracy, result.confusion);
 * model.dispose();
 * ```
 */
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

/**
 * Per-batch outputs of {@linkcode forEachEvalBatch} (valid only during the callback).
 *
 * @example Collect the averaged attention weight of every image
 * ```ts
 * import { type BatchSource, type EvalBatchOutputs, forEachEvalBatch } from "./evaluate.ts";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { sigmoidAttention } from "../strategies/attention.ts";
 * const source: BatchSource = {
 *   length: 1,
 *   async *batches() {
 *     yield {
 *       images: new Float32Array(2 * 32 * 32 * 3),
 *       shape: [2, 32, 32, 3],
 *       labels: Int32Array.from([0, 1]),
 *       indices: Int32Array.from([0, 1]),
 *       crops: 1,
 *     };
 *   },
 * };
 * const model = new AdaDfModel("tiny", { numClasses: 2 });
 * const weights: number[] = [];
 * await forEachEvalBatch(model, sigmoidAttention(), source, { withAux: true }, (out: EvalBatchOutputs) => {
 *   weights.push(...out.attention!.dataSync());
 * });
 * console.assert(weights.length === 2);
 * model.dispose();
 * ```
 */
export interface EvalBatchOutputs {
  /** Target logits z_2 = a_2 * fc_2(h_2), averaged over each image's crops: [B, C]. */
  logits: Tensor2D;
  /** With `withAux`: softmax of the auxiliary logits z_1 (crop-averaged): [B, C]. */
  auxProbs?: Tensor2D;
  /** With `withAux`: averaged attention w = (a_1 + a_2) / 2 per image: [B]. */
  attention?: Tensor1D;
}

/**
 * Options of {@linkcode forEachEvalBatch}.
 *
 * @example Look at the first batch only
 * ```ts
 * import { type BatchSource, forEachEvalBatch, type ForEachEvalBatchOptions } from "./evaluate.ts";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { noAttention } from "../strategies/attention.ts";
 * const source: BatchSource = {
 *   length: 3,
 *   async *batches() {
 *     for (let b = 0; b < 3; b++) {
 *       yield {
 *         images: new Float32Array(32 * 32 * 3),
 *         shape: [1, 32, 32, 3],
 *         labels: Int32Array.from([0]),
 *         indices: Int32Array.from([b]),
 *         crops: 1,
 *       };
 *     }
 *   },
 * };
 * const model = new AdaDfModel("tiny", { numClasses: 2 });
 * const options: ForEachEvalBatchOptions = { epoch: 0, maxBatches: 1 };
 * let seen = 0;
 * await forEachEvalBatch(model, noAttention(), source, options, () => {
 *   seen++;
 * });
 * console.assert(seen === 1);
 * model.dispose();
 * ```
 */
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
}

function averageCrops<T extends Tensor>(x: T, crops: number): T {
  if (crops === 1) return x;
  return tf.mean(tf.reshape(x, [-1, crops, ...x.shape.slice(1)]), 1) as T;
}

/**
 * Runs the model in evaluation mode over a source's batches and calls (and awaits) `visit` with each
 * batch's outputs, which are disposed after the call.
 *
 * @example
 * ```ts ignore
 * await forEachEvalBatch(model, attention, loader, {}, ({ logits }) => console.log(logits.shape));
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
    const crops = batch.crops;
    const outputs: EvalBatchOutputs = tf.tidy(() => {
      const images = tf.tensor4d(batch.images, batch.shape);
      const features = model.stem(images, mode);
      const target = model.branch("target", features, mode);
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
    const labels = tf.tensor1d(batch.labels, "int32");
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
 * ```ts ignore
 * const result = await evaluateModel(model, plugins.attention, testLoader);
 * console.log(result.accuracy, result.confusion);
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
