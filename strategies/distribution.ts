/**
 * Distribution sources: the supervision of the target branch, a distribution per sample that the
 * target branch's KL term matches. The built-ins are the paper's ablations: `onehot` (the dual-branch
 * one-hot variant: the labels themselves), `label` (the sample's own label distribution), `class` (its
 * class's distribution) and `fused` (Ada-DF: an attention-weighted mix of the two). The paper's baseline,
 * a single branch trained with cross-entropy alone, is a model, not a distribution: `model.branches: 1`.
 *
 * @module
 */
import { type Tensor1D, type Tensor2D, tf } from "../engine/tf.ts";
import { fuseDistributions, stopGradient } from "./functional.ts";
import { booleanOption, type OptionsSchema, parseOptions, pluginOptions } from "./options.ts";

/** What a {@linkcode DistributionSource} may use to build the targets of a batch. */
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
 * import assert from "node:assert/strict";
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
 * const targets = smoothed.targets({
 *   auxLogits: tf.zeros([1, 2]), auxProbs: tf.fill([1, 2], 0.5),
 *   labels: tf.tensor1d([1], "int32"), weights: tf.tensor1d([1]), classDistributions: tf.eye(2),
 * });
 * const round = (xs: number[]) => xs.map((v) => Math.round(v * 1e4) / 1e4);
 * assert.deepEqual(round(targets.arraySync()[0]), [0.05, 0.95]);
 * ```
 */
export interface DistributionSource {
  /** The plugin's name, as in configs. */
  readonly name: string;
  /** The [B, C] target distributions of the batch. */
  targets(inputs: DistributionInputs): Tensor2D;
}

/** Options of the distribution sources whose targets can carry a gradient. */
export interface DistributionSourceOptions {
  /**
   * Stop the gradient at the targets. The reference keeps it: the KL term's gradient then reaches the
   * auxiliary branch and the attention heads through the targets.
   *
   * @default {false}
   */
  stopGradient?: boolean;
}

/** The options schema of {@linkcode onehotDistribution} (it has none). */
export const ONEHOT_DISTRIBUTION_OPTIONS: OptionsSchema<Record<string, never>> = pluginOptions(
  "onehotDistribution",
  {},
);

/** The options schema of {@linkcode labelDistribution}. */
export const LABEL_DISTRIBUTION_OPTIONS: OptionsSchema<Required<DistributionSourceOptions>> = pluginOptions(
  "labelDistribution",
  { stopGradient: booleanOption("labelDistribution", "stopGradient", false) },
);

/** The options schema of {@linkcode classDistribution} (it has none). */
export const CLASS_DISTRIBUTION_OPTIONS: OptionsSchema<Record<string, never>> = pluginOptions(
  "classDistribution",
  {},
);

/** The options schema of {@linkcode fusedDistribution}. */
export const FUSED_DISTRIBUTION_OPTIONS: OptionsSchema<Required<DistributionSourceOptions>> = pluginOptions(
  "fusedDistribution",
  { stopGradient: booleanOption("fusedDistribution", "stopGradient", false) },
);

function maybeStop(stop: boolean, t: Tensor2D): Tensor2D {
  if (!stop) return t;
  const out = stopGradient(t);
  t.dispose();
  return out;
}

/**
 * The dual-branch one-hot variant (config name `onehot`): the one-hot vector of the label, so the KL
 * term is the target branch's cross-entropy. It keeps the auxiliary branch, the attention, the rank
 * regulariser and the ramps, with only the target's supervision swapped, so that one plugin is the only
 * difference from the other distributions. The paper's baseline, a plain single-branch ResNet trained
 * with cross-entropy alone, is `model.branches: 1` (see `singleBranchObjective`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { onehotDistribution } from "./distribution.ts";
 *
 * const t = onehotDistribution().targets({
 *   auxLogits: tf.zeros([1, 3]), auxProbs: tf.fill([1, 3], 1 / 3),
 *   labels: tf.tensor1d([2], "int32"), weights: tf.tensor1d([1]), classDistributions: tf.eye(3),
 * });
 * assert.deepEqual(t.arraySync(), [[0, 0, 1]]);
 * ```
 */
export function onehotDistribution(options: Record<string, never> = {}): DistributionSource {
  parseOptions(ONEHOT_DISTRIBUTION_OPTIONS, options);
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
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { labelDistribution } from "./distribution.ts";
 *
 * const source = labelDistribution({ stopGradient: true });
 * const t = source.targets({
 *   auxLogits: tf.zeros([1, 2]), auxProbs: tf.tensor2d([[0.3, 0.7]]),
 *   labels: tf.tensor1d([1], "int32"), weights: tf.tensor1d([1]), classDistributions: tf.eye(2),
 * });
 * const round = (xs: number[]) => xs.map((v) => Math.round(v * 1e4) / 1e4);
 * assert.deepEqual(round(t.arraySync()[0]), [0.3, 0.7]);
 * ```
 */
export function labelDistribution(options: DistributionSourceOptions = {}): DistributionSource {
  const { stopGradient: stop } = parseOptions(LABEL_DISTRIBUTION_OPTIONS, options);
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
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { classDistribution } from "./distribution.ts";
 *
 * const t = classDistribution().targets({
 *   auxLogits: tf.zeros([1, 2]), auxProbs: tf.tensor2d([[0.5, 0.5]]),
 *   labels: tf.tensor1d([1], "int32"), weights: tf.tensor1d([1]),
 *   classDistributions: tf.tensor2d([[0.8, 0.2], [0.3, 0.7]]),
 * });
 * const round = (xs: number[]) => xs.map((v) => Math.round(v * 1e4) / 1e4);
 * assert.deepEqual(round(t.arraySync()[0]), [0.3, 0.7]);
 * ```
 */
export function classDistribution(options: Record<string, never> = {}): DistributionSource {
  parseOptions(CLASS_DISTRIBUTION_OPTIONS, options);
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
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { fusedDistribution } from "./distribution.ts";
 *
 * const t = fusedDistribution().targets({
 *   auxLogits: tf.zeros([1, 2]), auxProbs: tf.tensor2d([[0.5, 0.5]]),
 *   labels: tf.tensor1d([1], "int32"), weights: tf.tensor1d([0.5]),
 *   classDistributions: tf.tensor2d([[0.9, 0.1], [0.2, 0.8]]),
 * });
 * // (1 - 0.5) * [0.5, 0.5] + 0.5 * [0.2, 0.8]
 * const round = (xs: number[]) => xs.map((v) => Math.round(v * 1e4) / 1e4);
 * assert.deepEqual(round(t.arraySync()[0]), [0.35, 0.65]);
 * ```
 */
export function fusedDistribution(options: DistributionSourceOptions = {}): DistributionSource {
  const { stopGradient: stop } = parseOptions(FUSED_DISTRIBUTION_OPTIONS, options);
  return {
    name: "fused",
    targets: ({ auxProbs, labels, weights, classDistributions }) =>
      maybeStop(
        stop,
        fuseDistributions({ labelDistributions: auxProbs, classDistributions, labels, weights }),
      ),
  };
}
