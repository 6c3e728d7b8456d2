/**
 * The training objective assembled from plugins: from a batch's raw model outputs to the loss terms.
 *
 * @module
 */
import { type Scalar, type Tensor1D, type Tensor2D, tf } from "../engine/tf.ts";
import { crossEntropy, klDivergence, totalLoss } from "./functional.ts";
import type { Attention } from "./attention.ts";
import type { DistributionSource } from "./distribution.ts";
import type { Regularizer } from "./regularizer.ts";
import type { LossSchedule } from "./schedule.ts";
import type { WeightNormalizer } from "./normalizer.ts";

/** The plugins that shape the per-batch objective (a full plugin set also has a miner). */
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

/** A batch's raw model outputs and labels, as given to {@linkcode computeObjective}. */
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

/** Options of {@linkcode computeObjective}. */
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
 */
export type ObjectiveResult = {
  /** alpha_2 * ce + alpha_1 * kl + rr (eq. 14). */
  total: Scalar;
  /** The auxiliary branch's mean cross-entropy of z_1 (eq. 3). */
  ce: Scalar;
  /** The target branch's KL divergence of z_2 to the targets (eq. 13). */
  kl: Scalar;
  /** The regulariser's term (the rank regularisation, eqs. 9-10, for Ada-DF). */
  rr: Scalar;
  /** alpha_1 of the schedule. */
  alpha1: number;
  /** alpha_2 of the schedule. */
  alpha2: number;
  /** [B] fusion weights w' from the normaliser. */
  weights: Tensor1D;
  /** [B, C] the target branch's target distributions (the fused f_i for Ada-DF). */
  targets: Tensor2D;
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
 * total = alpha2 * ce + alpha1 * kl + rr ({@linkcode totalLoss}). With the Ada-DF plugins (`sigmoid`,
 * `adaptive`, `fused`, `rank`, `ramp`) this is the paper's loss (eq. 14) and nothing else computes it:
 * every step is one of the equations of `functional.ts` ({@linkcode crossEntropy},
 * {@linkcode klDivergence}, and, through the plugins, `normalizeAttention`, `fuseDistributions`,
 * `rankRegularization`, `rampWeights`).
 *
 * Differentiable in the four raw outputs. Every returned tensor is new and owned by the caller;
 * intermediates are released.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
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
 * // L = alpha_2 * L_ce + alpha_1 * L_kl + L_rr, with the ramp's weights of epoch 1
 * const terms = result.alpha2 * result.ce.arraySync() + result.alpha1 * result.kl.arraySync() +
 *   result.rr.arraySync();
 * assert.ok(Math.abs(result.total.arraySync() - terms) < 1e-5);
 * assert.deepEqual(result.targets.shape, [3, 2]);
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
    const total = totalLoss({ ce, kl, rr }, { alpha1, alpha2 });
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

/**
 * The plain single-branch baseline's objective: the mean cross-entropy of one classifier's logits and
 * nothing else (no attention, no distributions, no regulariser, no schedule), returned in the shape of
 * {@linkcode ObjectiveResult} so that a trainer treats both alike: `total` and `ce` are the
 * cross-entropy, `kl` and `rr` are 0, `alpha1` 0 and `alpha2` 1, the attention and fusion weights are 1,
 * the targets are the one-hot labels, and both logits fields are the logits as given.
 *
 * Differentiable in `logits`. Every returned tensor is new and owned by the caller.
 *
 * @example The loss is PyTorch's CrossEntropyLoss
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { singleBranchObjective } from "./objective.ts";
 *
 * const result = singleBranchObjective({
 *   logits: tf.tensor2d([[2, 0], [0, 0]]),
 *   labels: tf.tensor1d([0, 1], "int32"),
 * });
 * const expected = (Math.log(1 + Math.exp(-2)) + Math.log(2)) / 2;
 * assert.ok(Math.abs(result.total.arraySync() - expected) < 1e-6);
 * assert.equal(result.kl.arraySync(), 0);
 * assert.deepEqual(result.targets.arraySync(), [[1, 0], [0, 1]]);
 * ```
 */
export function singleBranchObjective(batch: { logits: Tensor2D; labels: Tensor1D }): ObjectiveResult {
  const { logits, labels } = batch;
  if (!(logits instanceof tf.Tensor) || logits.rank !== 2 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(`singleBranchObjective: logits must be a rank-2 tensor with one row per label`);
  }
  return tf.tidy(() => {
    const ce = crossEntropy(logits, labels);
    const ones = tf.ones([logits.shape[0]]) as Tensor1D;
    return {
      total: tf.clone(ce),
      ce,
      kl: tf.scalar(0),
      rr: tf.scalar(0),
      alpha1: 0,
      alpha2: 1,
      weights: ones,
      attention: tf.clone(ones),
      targets: tf.oneHot(labels, logits.shape[1]).toFloat() as Tensor2D,
      auxProbs: tf.softmax(logits),
      scaledAuxLogits: tf.clone(logits),
      scaledTargetLogits: tf.clone(logits),
    };
  });
}
