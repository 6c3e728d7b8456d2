/**
 * The training objective assembled from plugins: from a batch's raw model outputs to the loss terms.
 *
 * @module
 */
import { type Scalar, type Tensor1D, type Tensor2D, tf } from "../engine/tf.ts";
import { type AdaDfLossResult, crossEntropy, klDivergence } from "./functional.ts";
import type { Attention } from "./attention.ts";
import type { DistributionSource } from "./distribution.ts";
import type { Regularizer } from "./regularizer.ts";
import type { LossSchedule } from "./schedule.ts";
import type { WeightNormalizer } from "./normalizer.ts";

/**
 * The plugins that shape the per-batch objective (a full plugin set also has a miner).
 *
 * @example Only the plugins the objective needs
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { noAttention } from "./attention.ts";
 * import { onehotDistribution } from "./distribution.ts";
 * import { fixedNormalizer } from "./normalizer.ts";
 * import { computeObjective, type ObjectivePlugins } from "./objective.ts";
 * import { noRegularizer } from "./regularizer.ts";
 * import { constantSchedule } from "./schedule.ts";
 * const plugins: ObjectivePlugins = {
 *   attention: noAttention(),
 *   normalizer: fixedNormalizer(),
 *   distribution: onehotDistribution(),
 *   regularizer: noRegularizer(),
 *   schedule: constantSchedule(),
 * };
 * const result = computeObjective(plugins, {
 *   auxLogits: tf.tensor2d([[0, 0]]),
 *   targetLogits: tf.tensor2d([[0, 0]]),
 *   scores1: tf.tensor1d([0]),
 *   scores2: tf.tensor1d([0]),
 *   labels: tf.tensor1d([0], "int32"),
 *   classDistributions: tf.eye(2) as tf.Tensor2D,
 * }, { epoch: 1 });
 * console.log(result.total.dataSync()[0]); // 2 ln 2: the cross-entropy plus the KL to the one-hot target
 * ```
 */
export interface ObjectivePlugins {
  /** Scores to branch attention. */
  attention: Attention;
  /** Averaged attention to fusion weights. */
  normalizer: WeightNormalizer;
  /** The target branch's supervision. */
  distribution: DistributionSource;
  /** The extra loss term. */
  regularizer: Regularizer;
  /** The terms' weights per epoch. */
  schedule: LossSchedule;
}

/**
 * A batch's raw model outputs and labels, as given to {@linkcode computeObjective}.
 *
 * @example A batch from the model's raw outputs
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { computeObjective, type ObjectiveBatch } from "./objective.ts";
 * import { buildPlugins } from "./registry.ts";
 * const model = new AdaDfModel("tiny", { numClasses: 3 });
 * const plugins = buildPlugins();
 * const outputs = model.forward(tf.zeros([2, 32, 32, 3]), { training: true });
 * const batch: ObjectiveBatch = {
 *   ...outputs,
 *   labels: tf.tensor1d([0, 2], "int32"),
 *   classDistributions: plugins.miner.distributions(3),
 * };
 * const result = computeObjective(plugins, batch, { epoch: 1 });
 * console.assert(result.targets.shape.join("x") === "2x3");
 * model.dispose();
 * ```
 */
export interface ObjectiveBatch {
  /** [B, C] raw auxiliary classifier outputs fc_1(h_1), before attention scaling. */
  auxLogits: Tensor2D;
  /** [B, C] raw target classifier outputs fc_2(h_2), before attention scaling. */
  targetLogits: Tensor2D;
  /** [B] raw auxiliary attention-head outputs, before any sigmoid. */
  scores1: Tensor1D;
  /** [B] raw target attention-head outputs, before any sigmoid. */
  scores2: Tensor1D;
  /** int32 [B] class of each sample. */
  labels: Tensor1D;
  /** [C, C] current class distributions c'. */
  classDistributions: Tensor2D;
}

/**
 * Options of {@linkcode computeObjective}.
 *
 * @example Two images of two crops each
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { computeObjective, type ObjectiveOptions } from "./objective.ts";
 * import { buildPlugins } from "./registry.ts";
 * const plugins = buildPlugins();
 * const options: ObjectiveOptions = { epoch: 4, batchSize: 2 };
 * const result = computeObjective(plugins, {
 *   auxLogits: tf.tensor2d([[1, 0], [1, 0], [0, 1], [0, 1]]),
 *   targetLogits: tf.tensor2d([[1, 0], [1, 0], [0, 1], [0, 1]]),
 *   scores1: tf.tensor1d([0, 0.1, 0.2, 0.3]),
 *   scores2: tf.tensor1d([0.3, 0.2, 0.1, 0]),
 *   labels: tf.tensor1d([0, 0, 1, 1], "int32"),
 *   classDistributions: plugins.miner.distributions(2),
 * }, options);
 * console.assert(result.alpha1 === 1 && result.alpha2 < 1); // epoch 4 is past beta = 3
 * ```
 */
export interface ObjectiveOptions {
  /** The current epoch, counted from 1. */
  epoch: number;
  /**
   * The nominal batch size (number of images): the KL divisor and the rank split's size. Differs from
   * B only when several crops per image are stacked in the batch (the reference's SFEW training).
   *
   * @default {auxLogits.shape[0]}
   */
  batchSize?: number;
}

/**
 * The objective's terms and the intermediate quantities a trainer or a logger may need. (A type alias,
 * so that a result can be returned from `tf.tidy` or passed to `tf.dispose`.)
 *
 * @example Log the terms, then free every tensor
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { computeObjective, type ObjectiveResult } from "./objective.ts";
 * import { buildPlugins } from "./registry.ts";
 * const plugins = buildPlugins();
 * const result: ObjectiveResult = computeObjective(plugins, {
 *   auxLogits: tf.tensor2d([[2, 0], [0, 1]]),
 *   targetLogits: tf.tensor2d([[1, 0], [0, 2]]),
 *   scores1: tf.tensor1d([0.1, -0.2]),
 *   scores2: tf.tensor1d([0, 0.4]),
 *   labels: tf.tensor1d([0, 1], "int32"),
 *   classDistributions: plugins.miner.distributions(2),
 * }, { epoch: 1 });
 * const predictions = result.scaledTargetLogits.argMax(1);
 * console.log(result.ce.dataSync()[0], result.kl.dataSync()[0], predictions.arraySync()); // ..., ..., [0, 1]
 * tf.dispose([result, predictions]);
 * ```
 */
export type ObjectiveResult = AdaDfLossResult & {
  /** [B] averaged attention w = (a1 + a2) / 2. */
  attention: Tensor1D;
  /** [B, C] softmax of the scaled auxiliary logits (what an online miner observes). */
  auxProbs: Tensor2D;
  /** [B, C] attention-scaled auxiliary logits z_1. */
  scaledAuxLogits: Tensor2D;
  /** [B, C] attention-scaled target logits z_2 (the prediction is their argmax). */
  scaledTargetLogits: Tensor2D;
};

/**
 * Runs the plugin chain on a batch: attention (a_1, a_2), scaled logits z_k = a_k * logits_k, averaged
 * attention w = (a_1 + a_2) / 2, fusion weights w' (normaliser), targets (distribution source),
 * cross-entropy of z_1, KL of z_2 to the targets, the regulariser on w, and the schedule's weights:
 * total = alpha2 * ce + alpha1 * kl + rr. With the Ada-DF plugins (`sigmoid`, `adaptive`, `fused`,
 * `rank`, `ramp`) the terms equal {@linkcode adaDfLoss} on sigmoid-scaled logits.
 *
 * Differentiable in the four raw outputs. Every returned tensor is new and owned by the caller;
 * intermediates are released.
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { buildPlugins } from "./registry.ts";
 * import { computeObjective } from "./objective.ts";
 *
 * const plugins = buildPlugins({ distribution: "fused" });
 * const result = computeObjective(plugins, {
 *   auxLogits: tf.tensor2d([[2, 0], [0, 1], [1, 0]]),
 *   targetLogits: tf.tensor2d([[1, 0], [0, 2], [0, 1]]),
 *   scores1: tf.tensor1d([0.1, -0.2, 0.3]),
 *   scores2: tf.tensor1d([0.0, 0.4, -0.1]),
 *   labels: tf.tensor1d([0, 1, 0], "int32"),
 *   classDistributions: plugins.miner.distributions(2),
 * }, { epoch: 1 });
 * console.log(result.total.dataSync()[0]);
 * ```
 */
export function computeObjective(
  plugins: ObjectivePlugins,
  batch: ObjectiveBatch,
  options: ObjectiveOptions,
): ObjectiveResult {
  const { auxLogits, targetLogits, scores1, scores2, labels, classDistributions } = batch;
  const { epoch, batchSize = auxLogits.shape[0] } = options;
  for (
    const [name, t, rank] of [
      ["auxLogits", auxLogits, 2],
      ["targetLogits", targetLogits, 2],
      ["scores1", scores1, 1],
      ["scores2", scores2, 1],
    ] as const
  ) {
    if (!(t instanceof tf.Tensor) || t.rank !== rank || t.shape[0] !== auxLogits.shape[0]) {
      throw new Error(
        `computeObjective: batch.${name} must be a rank-${rank} tensor with ${auxLogits.shape?.[0]} rows`,
      );
    }
  }
  const { alpha1, alpha2 } = plugins.schedule.weights(epoch);
  return tf.tidy(() => {
    const { a1, a2 } = plugins.attention.apply({ scores1, scores2, epoch });
    const scaledAuxLogits = a1.expandDims(1).mul(auxLogits) as Tensor2D;
    const scaledTargetLogits = a2.expandDims(1).mul(targetLogits) as Tensor2D;
    const attention = a1.add(a2).div(2) as Tensor1D;
    const weights = plugins.normalizer.normalize(attention);
    const auxProbs = tf.softmax(scaledAuxLogits);
    const targets = plugins.distribution.targets({
      auxLogits: scaledAuxLogits,
      auxProbs,
      labels,
      weights,
      classDistributions,
    });
    const ce = crossEntropy(scaledAuxLogits, labels);
    const kl = klDivergence(scaledTargetLogits, targets, { batchSize });
    const rr = plugins.regularizer.loss({ attention, weights, labels, batchSize });
    const total = ce.mul(alpha2).add(kl.mul(alpha1)).add(rr) as Scalar;
    return {
      total,
      ce,
      kl,
      rr,
      alpha1,
      alpha2,
      weights,
      attention,
      targets,
      auxProbs,
      scaledAuxLogits,
      scaledTargetLogits,
    };
  });
}
