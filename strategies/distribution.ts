/**
 * Distribution sources: the supervision of the target branch, a distribution per sample that the
 * target branch's KL term matches. The built-ins are the paper's ablations: `onehot` (the single-label
 * baseline), `label` (the sample's own label distribution), `class` (its class's distribution) and
 * `fused` (Ada-DF: an attention-weighted mix of the two).
 *
 * @module
 */
import { type Tensor1D, type Tensor2D, tf } from "../engine/tf.ts";
import { fuseDistributions, stopGradient } from "./functional.ts";
import { checkOptions } from "./_options.ts";

/**
 * What a {@linkcode DistributionSource} may use to build the targets of a batch.
 *
 * @example The fused targets of a batch of one
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { type DistributionInputs, fusedDistribution } from "./distribution.ts";
 * const auxLogits = tf.tensor2d([[0, 0]]);
 * const inputs: DistributionInputs = {
 *   auxLogits,
 *   auxProbs: tf.softmax(auxLogits),
 *   labels: tf.tensor1d([1], "int32"),
 *   weights: tf.tensor1d([0.5]),
 *   classDistributions: tf.tensor2d([[0.9, 0.1], [0.2, 0.8]]),
 * };
 * console.log(fusedDistribution().targets(inputs).arraySync()); // [[0.35, 0.65]]
 * ```
 */
export interface DistributionInputs {
  /** [B, C] attention-scaled auxiliary logits z_1. */
  auxLogits: Tensor2D;
  /** [B, C] softmax(z_1): the label distributions l_i. */
  auxProbs: Tensor2D;
  /** int32 [B] class of each sample. */
  labels: Tensor1D;
  /** [B] normalised attention weights w'_i (from the weight normaliser). */
  weights: Tensor1D;
  /** [C, C] current class distributions c' (row j for class j). */
  classDistributions: Tensor2D;
}

/**
 * A distribution source. `targets` returns a new [B, C] tensor owned by the caller, each row a
 * distribution.
 *
 * @example A custom source: label smoothing by 0.1
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import type { DistributionSource } from "./distribution.ts";
 *
 * const smoothed: DistributionSource = {
 *   name: "smoothed",
 *   targets: ({ labels, auxProbs }) => {
 *     const c = auxProbs.shape[1];
 *     return tf.oneHot(labels, c).toFloat().mul(0.9).add(0.1 / c) as tf.Tensor2D;
 *   },
 * };
 * ```
 */
export interface DistributionSource {
  /** The plugin's name, as in configs. */
  readonly name: string;
  /** The [B, C] target distributions of the batch. */
  targets(inputs: DistributionInputs): Tensor2D;
}

/**
 * Options of the distribution sources whose targets can carry a gradient.
 *
 * @example Detach the targets of the label-distribution source
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { labelDistribution, type DistributionSourceOptions } from "./distribution.ts";
 * const options: DistributionSourceOptions = { stopGradient: true };
 * const source = labelDistribution(options);
 * const auxLogits = tf.tensor2d([[1, 0]]);
 * const grad = tf.grad((z: tf.Tensor) => {
 *   const auxProbs = tf.softmax(z as tf.Tensor2D);
 *   const targets = source.targets({
 *     auxLogits: z as tf.Tensor2D,
 *     auxProbs,
 *     labels: tf.tensor1d([0], "int32"),
 *     weights: tf.tensor1d([1]),
 *     classDistributions: tf.eye(2) as tf.Tensor2D,
 *   });
 *   return targets.sum();
 * })(auxLogits);
 * console.log(grad.arraySync()); // [[0, 0]]: no gradient through the targets
 * ```
 */
export interface DistributionSourceOptions {
  /**
   * Stop the gradient at the targets. The reference keeps it: the KL term's gradient then reaches the
   * auxiliary branch and the attention heads through the targets.
   *
   * @default {false}
   */
  stopGradient?: boolean;
}

function maybeStop(stop: boolean, t: Tensor2D): Tensor2D {
  if (!stop) return t;
  const out = stopGradient(t);
  t.dispose();
  return out;
}

/**
 * The single-label baseline (config name `onehot`): the one-hot vector of the label, so the KL term is
 * the target branch's cross-entropy. The paper's baseline is a plain single-branch ResNet trained with
 * cross-entropy; here it is the same two-branch model with only the target's supervision swapped, so
 * that one plugin is the only difference between the ablations.
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { onehotDistribution } from "./distribution.ts";
 *
 * const t = onehotDistribution().targets({
 *   auxLogits: tf.zeros([1, 3]), auxProbs: tf.fill([1, 3], 1 / 3),
 *   labels: tf.tensor1d([2], "int32"), weights: tf.tensor1d([1]), classDistributions: tf.eye(3),
 * });
 * // [[0, 0, 1]]
 * ```
 */
export function onehotDistribution(options: Record<string, never> = {}): DistributionSource {
  checkOptions("onehotDistribution", options, {});
  return {
    name: "onehot",
    targets: ({ labels, auxProbs }) => tf.oneHot(labels, auxProbs.shape[1]).toFloat() as Tensor2D,
  };
}

/**
 * Label distributions only (config name `label`): l_i = softmax(z_1,i), the auxiliary branch's
 * prediction for the sample itself.
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { labelDistribution } from "./distribution.ts";
 *
 * const source = labelDistribution({ stopGradient: true });
 * const t = source.targets({
 *   auxLogits: tf.zeros([1, 2]), auxProbs: tf.tensor2d([[0.3, 0.7]]),
 *   labels: tf.tensor1d([1], "int32"), weights: tf.tensor1d([1]), classDistributions: tf.eye(2),
 * });
 * // [[0.3, 0.7]]
 * ```
 */
export function labelDistribution(options: DistributionSourceOptions = {}): DistributionSource {
  checkOptions("labelDistribution", options, { stopGradient: "boolean" });
  const { stopGradient: stop = false } = options;
  return {
    name: "label",
    targets: ({ auxProbs }) => maybeStop(stop, auxProbs.clone()),
  };
}

/**
 * Class distributions only (config name `class`): c'_{y_i}, the mined distribution of the sample's class
 * (the threshold distribution d_{y_i} before the first mining). The class distributions are constants
 * of the step, so no gradient flows through these targets.
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { classDistribution } from "./distribution.ts";
 *
 * const t = classDistribution().targets({
 *   auxLogits: tf.zeros([1, 2]), auxProbs: tf.tensor2d([[0.5, 0.5]]),
 *   labels: tf.tensor1d([1], "int32"), weights: tf.tensor1d([1]),
 *   classDistributions: tf.tensor2d([[0.8, 0.2], [0.3, 0.7]]),
 * });
 * // [[0.3, 0.7]]
 * ```
 */
export function classDistribution(options: Record<string, never> = {}): DistributionSource {
  checkOptions("classDistribution", options, {});
  return {
    name: "class",
    targets: ({ labels, classDistributions }) =>
      tf.tidy(() =>
        tf.matMul(tf.oneHot(labels, classDistributions.shape[0]).toFloat(), classDistributions) as Tensor2D
      ),
  };
}

/**
 * The Ada-DF fused distributions (config name `fused`): f_i = (1 - w'_i) l_i + w'_i c'_{y_i}
 * ({@linkcode fuseDistributions}).
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { fusedDistribution } from "./distribution.ts";
 *
 * const t = fusedDistribution().targets({
 *   auxLogits: tf.zeros([1, 2]), auxProbs: tf.tensor2d([[0.5, 0.5]]),
 *   labels: tf.tensor1d([1], "int32"), weights: tf.tensor1d([0.5]),
 *   classDistributions: tf.tensor2d([[0.9, 0.1], [0.2, 0.8]]),
 * });
 * // [[0.35, 0.65]]
 * ```
 */
export function fusedDistribution(options: DistributionSourceOptions = {}): DistributionSource {
  checkOptions("fusedDistribution", options, { stopGradient: "boolean" });
  const { stopGradient: stop = false } = options;
  return {
    name: "fused",
    targets: ({ auxProbs, labels, weights, classDistributions }) =>
      maybeStop(
        stop,
        fuseDistributions({ labelDistributions: auxProbs, classDistributions, labels, weights }),
      ),
  };
}
