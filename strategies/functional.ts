/**
 * The Ada-DF method as pure functions on tensors: threshold and class distributions, attention
 * normalisation, distribution fusion, rank regularisation, the ramp weights and the whole loss.
 *
 * Every function here is differentiable where the method needs it and uses only operations whose
 * gradients exist on TensorFlow.js's `cpu` and `wasm` backends: no `tf.topk` (no gradient) and no
 * `tf.gather` (its gradient needs `UnsortedSegmentSum`, which `wasm` lacks) in a gradient path. Rows of
 * the class distributions are selected with a one-hot matrix product instead, and the top/bottom split
 * of the rank regularisation is a mask computed outside the gradient tape.
 *
 * Equations follow the paper and the authors' reference code; where the two differ, the default is
 * named in each function's documentation and the other behaviour is an option.
 *
 * Every function returns new tensors that the caller owns (dispose them, or call inside `tf.tidy`);
 * intermediate tensors are released.
 *
 * @module
 */
import { type Scalar, type Tensor, type Tensor1D, type Tensor2D, tf } from "../engine/tf.ts";

// ---------------------------------------------------------------------------------------------------
// Private helpers
// ---------------------------------------------------------------------------------------------------

/** Runs `fn` on `inputs` as one tape node whose gradient is zero for every input. */
function withoutGradient<T extends Tensor>(inputs: Tensor[], fn: (...xs: Tensor[]) => T): T {
  const op = tf.customGrad((...args: unknown[]) => {
    const xs = args.slice(0, inputs.length) as Tensor[];
    // The gradient uses only shapes, so the inputs may be disposed before the backward pass.
    const shapes = xs.map((x) => ({ shape: x.shape, dtype: x.dtype }));
    return {
      value: fn(...xs),
      gradFunc: () => shapes.map(({ shape, dtype }) => tf.zeros(shape, dtype)),
    };
  });
  return op(...inputs) as T;
}

function fail(fn: string, message: string): never {
  throw new Error(`${fn}: ${message}`);
}

function checkTensor(fn: string, name: string, value: unknown, rank: number): Tensor {
  if (!(value instanceof tf.Tensor)) fail(fn, `${name} must be a rank-${rank} tensor, got ${typeof value}`);
  if (value.isDisposed) fail(fn, `${name} is a disposed tensor`);
  if (value.rank !== rank) {
    fail(fn, `${name} must be a rank-${rank} tensor, got shape [${value.shape.join(", ")}]`);
  }
  return value;
}

function checkFloat(fn: string, name: string, value: unknown, rank: number): Tensor {
  const t = checkTensor(fn, name, value, rank);
  if (t.dtype !== "float32") fail(fn, `${name} must be a float32 tensor, got ${t.dtype}`);
  return t;
}

function checkLabels(fn: string, name: string, value: unknown, n: number): Tensor1D {
  const t = checkTensor(fn, name, value, 1) as Tensor1D;
  if (t.dtype !== "int32") fail(fn, `${name} must be an int32 Tensor1D, got ${t.dtype}`);
  if (t.shape[0] !== n) fail(fn, `${name} has ${t.shape[0]} entries, expected ${n}`);
  return t;
}

function checkNumber(fn: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    fail(fn, `${name} must be a finite number, got ${String(value)}`);
  }
  return value;
}

function checkInteger(fn: string, name: string, value: unknown, min: number): number {
  const v = checkNumber(fn, name, value);
  if (!Number.isInteger(v) || v < min) fail(fn, `${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

function checkUnit(fn: string, name: string, value: unknown): number {
  const v = checkNumber(fn, name, value);
  if (v < 0 || v > 1) fail(fn, `${name} must lie in [0, 1], got ${v}`);
  return v;
}

/**
 * floor(x) that treats x within 1e-9 (relative) of an integer as that integer, so that a product
 * such as 0.7 * 90 = 62.99999999999999 gives 63, not 62.
 */
function tolerantFloor(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) <= 1e-9 * Math.max(1, Math.abs(x)) ? r : Math.floor(x);
}

/** One row per class: `diagonal` on the diagonal, `offDiagonal` elsewhere, as a [C, C] tensor. */
function constantRows(numClasses: number, diagonal: number, offDiagonal: number): Tensor2D {
  const values = new Float32Array(numClasses * numClasses).fill(offDiagonal);
  for (let j = 0; j < numClasses; j++) values[j * numClasses + j] = diagonal;
  return tf.tensor2d(values, [numClasses, numClasses]);
}

// ---------------------------------------------------------------------------------------------------
// Gradient control
// ---------------------------------------------------------------------------------------------------

/**
 * Returns a copy of `x` through which no gradient flows (TensorFlow's `stop_gradient`, PyTorch's
 * `detach`). Works on every backend: it is one custom-gradient node whose gradient is zero.
 *
 * @example Detach the targets of a loss
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { stopGradient } from "./functional.ts";
 *
 * const x = tf.scalar(3);
 * const grad = tf.grad((v: tf.Tensor) => v.mul(stopGradient(v)))(x);
 * console.assert(grad.arraySync() === 3); // d/dv (v * const) = const
 * ```
 */
export function stopGradient<T extends Tensor>(x: T): T {
  return withoutGradient([x], (v) => v.clone() as T);
}

// ---------------------------------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------------------------------

/**
 * The threshold distributions d_j of every class, one per row: d_j[j] = t and d_j[k] = (1 - t) / (C - 1)
 * for k != j. They are the initial class distributions (before the first mining) and the fallback of
 * a class whose mined distribution is not confident enough.
 *
 * @param numClasses C, the number of classes (at least 2).
 * @param threshold t, in [0, 1].
 * @returns A [C, C] tensor whose row j is d_j; every row sums to 1.
 *
 * @example Three classes, t = 0.7
 * ```ts
 * import { thresholdDistributions } from "./functional.ts";
 *
 * const d = thresholdDistributions(3, 0.7);
 * // [[0.7, 0.15, 0.15], [0.15, 0.7, 0.15], [0.15, 0.15, 0.7]]
 * d.dispose();
 * ```
 */
export function thresholdDistributions(numClasses: number, threshold: number): Tensor2D {
  const fn = "thresholdDistributions";
  checkInteger(fn, "numClasses", numClasses, 2);
  checkUnit(fn, "threshold", threshold);
  return constantRows(numClasses, threshold, (1 - threshold) / (numClasses - 1));
}

/**
 * Options of {@linkcode mineClassDistributions}.
 *
 * @example The reference code's per-epoch fallback rows
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { mineClassDistributions, type MineClassDistributionsOptions } from "./functional.ts";
 * const options: MineClassDistributionsOptions = { threshold: 0.7, legacyFallback: true };
 * const probs = tf.tensor2d([[0.5, 0.3, 0.2], [0.2, 0.7, 0.1]]);
 * const c = mineClassDistributions(probs, tf.tensor1d([0, 1], "int32"), options);
 * // class 1 is kept; class 0 (0.5 < 0.7) falls back to the legacy row [0.7, 0.2, 0.2], which sums to 1.1
 * console.assert(Math.abs(c.arraySync()[0][1] - 0.2) < 1e-6);
 * ```
 */
export interface MineClassDistributionsOptions {
  /**
   * The threshold t: a class keeps its mined mean c_j only when c_j[j] >= t.
   *
   * @default {0.7}
   */
  threshold?: number;
  /**
   * Reproduce the reference code's per-epoch fallback row exactly: t on the diagonal and a hard-coded
   * 0.4 / (C - 1) elsewhere, so the row does not sum to 1 unless t = 0.6. The default (false) is the
   * paper's d_j, (1 - t) / (C - 1) off the diagonal, the same rows the reference uses before the
   * first mining.
   *
   * @default {false}
   */
  legacyFallback?: boolean;
}

/**
 * Mines the stabilised class distributions c'_j from the auxiliary branch's probabilities over a set of
 * samples (the reference: the whole training set, after each epoch).
 *
 * c_j is the mean of the probability rows of the samples labelled j. c'_j = c_j when class j is
 * present and c_j[j] >= t, otherwise c'_j = d_j (see {@linkcode thresholdDistributions}). A class absent
 * from `labels` falls back to d_j (the reference's mean of nothing is NaN, which fails the test the
 * same way).
 *
 * @param probs [N, C] softmax of the auxiliary logits.
 * @param labels int32 [N] class indices in [0, C).
 * @returns The [C, C] class distributions, row j = c'_j.
 *
 * @example Two classes, t = 0.6
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { mineClassDistributions } from "./functional.ts";
 *
 * const probs = tf.tensor2d([[0.9, 0.1], [0.7, 0.3], [0.5, 0.5]]);
 * const labels = tf.tensor1d([0, 0, 1], "int32");
 * const c = mineClassDistributions(probs, labels, { threshold: 0.6 });
 * // class 0: mean [0.8, 0.2], 0.8 >= 0.6, kept; class 1: mean [0.5, 0.5], 0.5 < 0.6, so d_1 = [0.4, 0.6]
 * console.assert(Math.abs(c.arraySync()[1][1] - 0.6) < 1e-6);
 * ```
 */
export function mineClassDistributions(
  probs: Tensor2D,
  labels: Tensor1D,
  options: MineClassDistributionsOptions = {},
): Tensor2D {
  const fn = "mineClassDistributions";
  const { threshold = 0.7, legacyFallback = false } = options;
  checkFloat(fn, "probs", probs, 2);
  const [n, numClasses] = probs.shape;
  checkInteger(fn, "probs.shape[1] (number of classes)", numClasses, 2);
  checkLabels(fn, "labels", labels, n);
  checkUnit(fn, "options.threshold", threshold);
  return tf.tidy(() => {
    const oneHot = tf.oneHot(labels, numClasses).toFloat(); // [N, C]
    const counts = oneHot.sum(0); // [C]
    const sums = n === 0 ? tf.zeros([numClasses, numClasses]) : tf.matMul(oneHot, probs, true, false);
    const means = sums.div(counts.maximum(1).expandDims(1)); // [C, C]
    const diagonal = means.mul(tf.eye(numClasses)).sum(1); // [C]
    const keep = tf.logicalAnd(counts.greater(0), diagonal.greaterEqual(threshold)).toFloat().expandDims(1);
    const fallback = legacyFallback
      ? constantRows(numClasses, threshold, 0.4 / (numClasses - 1))
      : thresholdDistributions(numClasses, threshold);
    return means.mul(keep).add(fallback.mul(tf.scalar(1).sub(keep))) as Tensor2D;
  });
}

// ---------------------------------------------------------------------------------------------------
// Attention and fusion
// ---------------------------------------------------------------------------------------------------

/**
 * Options of {@linkcode normalizeAttention}.
 *
 * @example Normalise to [0.5, 1]
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { normalizeAttention, type NormalizeAttentionOptions } from "./functional.ts";
 * const options: NormalizeAttentionOptions = { minWeight: 0.5, maxWeight: 1 };
 * const w = normalizeAttention(tf.tensor1d([0.1, 0.3, 0.5]), options);
 * console.log(w.arraySync()); // [0.5, 0.75, 1]
 * ```
 */
export interface NormalizeAttentionOptions {
  /**
   * w_min, the weight given to the least confident sample of the batch.
   *
   * @default {0.2}
   */
  minWeight?: number;
  /**
   * w_max, the weight given to the most confident sample of the batch.
   *
   * @default {1}
   */
  maxWeight?: number;
}

/**
 * Min-max normalises the averaged attention weights over the batch to [w_min, w_max] (eq. 11):
 * w'_i = (w_i - min w) / (max w - min w) * (w_max - w_min) + w_min.
 *
 * When every weight of the batch is equal (a batch of one, or an attention that is constant), the
 * quotient is 0 / 0: the reference code then produces NaN and the training diverges. Here every sample
 * gets the midpoint (w_min + w_max) / 2 instead, with zero gradient: no sample is more or less
 * ambiguous than another, so none is pushed towards either end, and the value is the mean of the
 * range that a spread-out batch covers. Otherwise the result is exactly the reference's.
 *
 * @param weights [B] averaged attention weights w_i.
 * @returns [B] normalised weights w'_i.
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { normalizeAttention } from "./functional.ts";
 *
 * const w = normalizeAttention(tf.tensor1d([0.5, 0.7, 0.9]));
 * // [0.2, 0.6, 1.0]
 * const flat = normalizeAttention(tf.tensor1d([0.4, 0.4]));
 * // [0.6, 0.6]: all equal, the midpoint of [0.2, 1]
 * ```
 */
export function normalizeAttention(
  weights: Tensor1D,
  options: NormalizeAttentionOptions = {},
): Tensor1D {
  const fn = "normalizeAttention";
  const { minWeight = 0.2, maxWeight = 1 } = options;
  checkFloat(fn, "weights", weights, 1);
  if (weights.shape[0] < 1) fail(fn, "weights is empty; a batch needs at least one sample");
  checkNumber(fn, "options.minWeight", minWeight);
  checkNumber(fn, "options.maxWeight", maxWeight);
  if (minWeight > maxWeight) {
    fail(fn, `options.minWeight (${minWeight}) must not exceed options.maxWeight (${maxWeight})`);
  }
  return tf.tidy(() => {
    const min = weights.min();
    const range = weights.max().sub(min);
    // flat = 1 when every weight is equal, else 0; it carries no gradient.
    const flat = withoutGradient([range], (r) => r.lessEqual(0).toFloat());
    const unit = weights.sub(min).div(range.add(flat)).mul(tf.scalar(1).sub(flat)).add(flat.mul(0.5));
    return unit.mul(maxWeight - minWeight).add(minWeight) as Tensor1D;
  });
}

/**
 * Inputs of {@linkcode fuseDistributions}.
 *
 * @example Build the inputs, then fuse
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { fuseDistributions, type FuseDistributionsInputs, thresholdDistributions } from "./functional.ts";
 * const inputs: FuseDistributionsInputs = {
 *   labelDistributions: tf.softmax(tf.tensor2d([[2, 0, 0], [0, 0, 1]])),
 *   classDistributions: thresholdDistributions(3, 0.7),
 *   labels: tf.tensor1d([0, 2], "int32"),
 *   weights: tf.tensor1d([0.2, 1]),
 * };
 * const fused = fuseDistributions(inputs);
 * console.log(fused.arraySync()[1]); // weight 1: exactly the class row [0.15, 0.15, 0.7]
 * ```
 */
export interface FuseDistributionsInputs {
  /** [B, C] label distributions l_i (softmax of the auxiliary logits). */
  labelDistributions: Tensor2D;
  /** [C, C] class distributions c', row j for class j. */
  classDistributions: Tensor2D;
  /** int32 [B] class of each sample. */
  labels: Tensor1D;
  /** [B] normalised attention weights w'_i. */
  weights: Tensor1D;
}

/**
 * The fused distributions (eq. 12): f_i = (1 - w'_i) * l_i + w'_i * c'_{y_i}. Differentiable in the label
 * distributions, the class distributions and the weights; c'_{y_i} is selected by a one-hot matrix
 * product.
 *
 * @returns [B, C] fused distributions.
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { fuseDistributions } from "./functional.ts";
 *
 * const f = fuseDistributions({
 *   labelDistributions: tf.tensor2d([[0.5, 0.5]]),
 *   classDistributions: tf.tensor2d([[0.9, 0.1], [0.2, 0.8]]),
 *   labels: tf.tensor1d([1], "int32"),
 *   weights: tf.tensor1d([0.5]),
 * });
 * // 0.5 * [0.5, 0.5] + 0.5 * [0.2, 0.8] = [0.35, 0.65]
 * ```
 */
export function fuseDistributions(inputs: FuseDistributionsInputs): Tensor2D {
  const fn = "fuseDistributions";
  const { labelDistributions, classDistributions, labels, weights } = inputs;
  checkFloat(fn, "labelDistributions", labelDistributions, 2);
  checkFloat(fn, "classDistributions", classDistributions, 2);
  const [b, numClasses] = labelDistributions.shape;
  if (classDistributions.shape[0] !== numClasses || classDistributions.shape[1] !== numClasses) {
    fail(
      fn,
      `classDistributions must be [${numClasses}, ${numClasses}] to match labelDistributions, ` +
        `got [${classDistributions.shape.join(", ")}]`,
    );
  }
  checkLabels(fn, "labels", labels, b);
  checkFloat(fn, "weights", weights, 1);
  if (weights.shape[0] !== b) fail(fn, `weights has ${weights.shape[0]} entries, expected ${b}`);
  return tf.tidy(() => {
    const classRows = tf.matMul(tf.oneHot(labels, numClasses).toFloat(), classDistributions); // c'_{y_i}
    const w = weights.expandDims(1);
    return tf.scalar(1).sub(w).mul(labelDistributions).add(w.mul(classRows)) as Tensor2D;
  });
}

// ---------------------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------------------

/**
 * Options of {@linkcode rankRegularization}.
 *
 * @example The reference's split with stacked crops: 2 images of 2 crops each
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { rankRegularization, type RankRegularizationOptions } from "./functional.ts";
 * const options: RankRegularizationOptions = { ratio: 0.5, margin: 0.1, batchSize: 2 };
 * const rr = rankRegularization(tf.tensor1d([0.9, 0.2, 0.5, 0.4]), options);
 * // high group: 0.9, low group: 0.2 (the middle two are in neither); max(0, 0.1 - 0.7) = 0
 * console.assert(rr.dataSync()[0] === 0);
 * ```
 */
export interface RankRegularizationOptions {
  /**
   * The fraction of the batch in the high-weight group: M = floor(ratio * batchSize). A product within
   * 1e-9 of an integer counts as that integer (0.7 * 90 gives 63; Python's `int()` in the reference
   * gives 62 there, and 7 for 0.7 * 10 like here).
   *
   * @default {0.7}
   */
  ratio?: number;
  /**
   * delta, the margin between the two groups' mean weights (the reference's `margin_1`).
   *
   * @default {0.07}
   */
  margin?: number;
  /**
   * The nominal batch size n: the high group is the M = floor(ratio * n) largest weights and the low
   * group the n - M smallest. Defaults to the number of weights B, so the groups split the batch. The
   * reference uses its configured batch size (number of images), which is smaller than B when several
   * crops per image are stacked (its SFEW training): then the middle B - n weights are in neither group.
   * Set it to reproduce that.
   *
   * @default {weights.shape[0]}
   */
  batchSize?: number;
}

/**
 * Rank regularisation (eqs. 9-10, from SCN): with the weights sorted in descending order, w_H is the
 * mean of the top M = floor(ratio * B), w_L the mean of the other B - M, and the loss is
 * max(0, margin - (w_H - w_L)).
 *
 * The split is a mask computed outside the gradient tape, so the gradient flows through the selected
 * weights (as the reference's `attention_weights[top_idx]`). Ties are broken by position (the earlier
 * sample ranks higher); group means do not depend on how ties are broken. When a group is empty
 * (M = 0 or M = n, e.g. a batch of one), the loss is 0 (the reference's mean of nothing would be NaN).
 *
 * @param weights [B] averaged attention weights w_i (before normalisation).
 * @returns A scalar.
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { rankRegularization } from "./functional.ts";
 *
 * const w = tf.tensor1d([0.5, 0.52, 0.54, 0.56]);
 * const rr = rankRegularization(w, { ratio: 0.5, margin: 0.07 });
 * // M = 2: w_H = 0.55, w_L = 0.51, max(0, 0.07 - 0.04) = 0.03
 * ```
 */
export function rankRegularization(
  weights: Tensor1D,
  options: RankRegularizationOptions = {},
): Scalar {
  const fn = "rankRegularization";
  checkFloat(fn, "weights", weights, 1);
  const b = weights.shape[0];
  const { ratio = 0.7, margin = 0.07, batchSize = b } = options;
  checkUnit(fn, "options.ratio", ratio);
  checkNumber(fn, "options.margin", margin);
  checkInteger(fn, "options.batchSize", batchSize, 1);
  if (batchSize > b) fail(fn, `options.batchSize (${batchSize}) exceeds the number of weights (${b})`);
  const high = tolerantFloor(ratio * batchSize);
  const low = batchSize - high;
  return tf.tidy(() => {
    if (high === 0 || low === 0) return weights.sum().mul(0) as Scalar;
    const masks = withoutGradient([weights], (w) => {
      // rank_i = #{j: w_j > w_i} + #{j < i: w_j == w_i}: a permutation of 0..B-1, largest first.
      const wi = w.expandDims(1); // [B, 1]
      const wj = w.expandDims(0); // [1, B]
      const index = tf.range(0, b, 1, "int32");
      const before = tf.logicalOr(
        wj.greater(wi),
        tf.logicalAnd(wj.equal(wi), index.expandDims(0).less(index.expandDims(1))),
      );
      const rank = before.toFloat().sum(1);
      return tf.stack([rank.less(high), rank.greaterEqual(b - low)]).toFloat(); // [2, B]
    });
    const [highMask, lowMask] = tf.unstack(masks);
    const wHigh = weights.mul(highMask).sum().div(high);
    const wLow = weights.mul(lowMask).sum().div(low);
    return tf.relu(wLow.sub(wHigh).add(margin)) as Scalar;
  });
}

/**
 * The two loss weights of {@linkcode rampWeights}.
 *
 * @example Weight the two loss terms of an epoch
 * ```ts
 * import { rampWeights, type RampWeights } from "./functional.ts";
 * const { alpha1, alpha2 }: RampWeights = rampWeights(1, 3);
 * const [ce, kl] = [1.2, 0.8];
 * const loss = alpha2 * ce + alpha1 * kl;
 * console.assert(alpha2 === 1 && alpha1 < 1 && loss < ce + kl);
 * ```
 */
export interface RampWeights {
  /** alpha_1, the weight of the target branch's KL term. */
  alpha1: number;
  /** alpha_2, the weight of the auxiliary branch's cross-entropy term. */
  alpha2: number;
}

/**
 * The ramp weights (eqs. 15-16), epoch e counted from 1, epoch threshold beta:
 * for e <= beta, alpha_1 = exp(-(1 - e / beta)^2) and alpha_2 = 1;
 * for e > beta, alpha_1 = 1 and alpha_2 = exp(-(1 - beta / e)^2).
 *
 * @param epoch e >= 1 (fractional values are allowed, e.g. for per-step ramps).
 * @param beta The epoch threshold, >= 0.
 *
 * @example
 * ```ts
 * import { rampWeights } from "./functional.ts";
 *
 * rampWeights(3, 3); // { alpha1: 1, alpha2: 1 }
 * rampWeights(6, 3); // { alpha1: 1, alpha2: exp(-0.25) }
 * ```
 */
export function rampWeights(epoch: number, beta: number): RampWeights {
  const fn = "rampWeights";
  checkNumber(fn, "epoch", epoch);
  if (epoch < 1) fail(fn, `epoch is counted from 1, got ${epoch}`);
  checkNumber(fn, "beta", beta);
  if (beta < 0) fail(fn, `beta must be >= 0, got ${beta}`);
  if (epoch <= beta) return { alpha1: Math.exp(-((1 - epoch / beta) ** 2)), alpha2: 1 };
  return { alpha1: 1, alpha2: Math.exp(-((1 - beta / epoch) ** 2)) };
}

/**
 * Mean cross-entropy of logits against integer labels (eq. 3): mean_i(-log softmax(z_i)[y_i]),
 * with a numerically stable log-softmax. PyTorch's `CrossEntropyLoss()(z, y)`.
 *
 * @param logits [B, C].
 * @param labels int32 [B].
 * @returns A scalar.
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { crossEntropy } from "./functional.ts";
 *
 * const ce = crossEntropy(tf.tensor2d([[0, 0]]), tf.tensor1d([1], "int32"));
 * // log 2
 * ```
 */
export function crossEntropy(logits: Tensor2D, labels: Tensor1D): Scalar {
  const fn = "crossEntropy";
  checkFloat(fn, "logits", logits, 2);
  const [b, numClasses] = logits.shape;
  checkLabels(fn, "labels", labels, b);
  if (b < 1) fail(fn, "logits is empty; a batch needs at least one sample");
  return tf.tidy(() => {
    const picked = tf.logSoftmax(logits).mul(tf.oneHot(labels, numClasses).toFloat()).sum(1);
    return picked.mean().neg() as Scalar;
  });
}

/**
 * Options of {@linkcode klDivergence}.
 *
 * @example Divide by the number of images, not of crops
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { klDivergence, type KlDivergenceOptions } from "./functional.ts";
 * const logits = tf.tensor2d([[0, 0], [0, 0], [0, 0], [0, 0]]); // 2 images x 2 crops
 * const targets = tf.tensor2d([[1, 0], [1, 0], [1, 0], [1, 0]]);
 * const options: KlDivergenceOptions = { batchSize: 2 };
 * const kl = klDivergence(logits, targets, options);
 * console.log(kl.dataSync()[0]); // 4 * ln 2 / 2
 * ```
 */
export interface KlDivergenceOptions {
  /**
   * The divisor of the summed divergence. The reference divides by its configured batch size (the
   * number of images), which differs from the number of rows only when crops are stacked.
   *
   * @default {logits.shape[0]}
   */
  batchSize?: number;
}

/**
 * The target branch's KL term (eq. 13): sum_i sum_j f_i[j] * (log f_i[j] - log softmax(z_i)[j]) / B,
 * PyTorch's `KLDivLoss(reduction='none')(log_softmax(z), f).sum() / B`, with 0 * log 0 = 0 as there
 * (so one-hot targets give the cross-entropy). Differentiable in both the logits and the targets.
 *
 * @param logits [B, C] logits z of the target branch.
 * @param targets [B, C] target distributions f.
 * @returns A scalar.
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { klDivergence } from "./functional.ts";
 *
 * const kl = klDivergence(tf.tensor2d([[0, 0]]), tf.tensor2d([[0.5, 0.5]]));
 * // 0: the prediction equals the target
 * ```
 */
export function klDivergence(
  logits: Tensor2D,
  targets: Tensor2D,
  options: KlDivergenceOptions = {},
): Scalar {
  const fn = "klDivergence";
  checkFloat(fn, "logits", logits, 2);
  checkFloat(fn, "targets", targets, 2);
  if (logits.shape[0] !== targets.shape[0] || logits.shape[1] !== targets.shape[1]) {
    fail(fn, `targets [${targets.shape.join(", ")}] must match logits [${logits.shape.join(", ")}]`);
  }
  const { batchSize = logits.shape[0] } = options;
  checkInteger(fn, "options.batchSize", batchSize, 1);
  return tf.tidy(() => {
    // log(f + [f == 0]) is log f where f > 0 and 0 where f == 0, so f * log f is 0 there, with a
    // finite gradient.
    const zero = withoutGradient([targets], (f) => f.lessEqual(0).toFloat());
    const logTargets = targets.add(zero).log();
    const pointwise = targets.mul(logTargets.sub(tf.logSoftmax(logits)));
    return pointwise.sum().div(batchSize) as Scalar;
  });
}

// ---------------------------------------------------------------------------------------------------
// The whole loss
// ---------------------------------------------------------------------------------------------------

/**
 * Inputs of {@linkcode adaDfLoss}.
 *
 * @example The inputs of a batch of two, three classes
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { adaDfLoss, type AdaDfLossInputs, thresholdDistributions } from "./functional.ts";
 * const inputs: AdaDfLossInputs = {
 *   auxLogits: tf.tensor2d([[2, 0, 0], [0, 1, 0]]),
 *   targetLogits: tf.tensor2d([[1, 0, 0], [0, 2, 0]]),
 *   attention: tf.tensor1d([0.6, 0.8]),
 *   labels: tf.tensor1d([0, 1], "int32"),
 *   classDistributions: thresholdDistributions(3, 0.7),
 * };
 * const loss = adaDfLoss(inputs, { epoch: 5 });
 * console.assert(loss.targets.shape.join("x") === "2x3");
 * ```
 */
export interface AdaDfLossInputs {
  /** [B, C] attention-scaled auxiliary logits z_1 = a_1 * fc_1(h_1). */
  auxLogits: Tensor2D;
  /** [B, C] attention-scaled target logits z_2 = a_2 * fc_2(h_2). */
  targetLogits: Tensor2D;
  /** [B] averaged attention weights w_i = (a_1,i + a_2,i) / 2. */
  attention: Tensor1D;
  /** int32 [B] class of each sample. */
  labels: Tensor1D;
  /** [C, C] current class distributions c'. */
  classDistributions: Tensor2D;
}

/**
 * Options of {@linkcode adaDfLoss}.
 *
 * @example The AffectNet settings, with the targets detached
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { adaDfLoss, type AdaDfLossOptions, thresholdDistributions } from "./functional.ts";
 * const options: AdaDfLossOptions = { epoch: 2, beta: 5, minWeight: 0.2, maxWeight: 1, stopGradient: true };
 * const loss = adaDfLoss({
 *   auxLogits: tf.tensor2d([[2, 0], [0, 1]]),
 *   targetLogits: tf.tensor2d([[1, 0], [0, 2]]),
 *   attention: tf.tensor1d([0.6, 0.8]),
 *   labels: tf.tensor1d([0, 1], "int32"),
 *   classDistributions: thresholdDistributions(2, 0.7),
 * }, options);
 * console.assert(loss.alpha2 === 1 && loss.alpha1 < 1);
 * ```
 */
export interface AdaDfLossOptions {
  /** The current epoch, counted from 1. */
  epoch: number;
  /**
   * beta, the epoch threshold of the ramp weights.
   *
   * @default {3}
   */
  beta?: number;
  /**
   * w_min of the attention normalisation.
   *
   * @default {0.2}
   */
  minWeight?: number;
  /**
   * w_max of the attention normalisation.
   *
   * @default {1}
   */
  maxWeight?: number;
  /**
   * The high-group ratio of the rank regularisation.
   *
   * @default {0.7}
   */
  ratio?: number;
  /**
   * The margin delta of the rank regularisation.
   *
   * @default {0.07}
   */
  margin?: number;
  /**
   * Stop the gradient at the fused targets. The reference does not: the KL term's gradient reaches the
   * auxiliary branch and both attention heads through l_i and w'_i.
   *
   * @default {false}
   */
  stopGradient?: boolean;
  /**
   * The nominal batch size (number of images) used as the KL divisor and for the rank split; see
   * {@linkcode RankRegularizationOptions.batchSize}.
   *
   * @default {auxLogits.shape[0]}
   */
  batchSize?: number;
}

/**
 * The terms of the Ada-DF loss, as returned by {@linkcode adaDfLoss}. (A type alias rather than an
 * interface, so that a result can be returned from `tf.tidy` or passed to `tf.dispose`.)
 *
 * @example Log the terms, then free them
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { adaDfLoss, type AdaDfLossResult, thresholdDistributions } from "./functional.ts";
 * const loss: AdaDfLossResult = adaDfLoss({
 *   auxLogits: tf.tensor2d([[2, 0], [0, 1]]),
 *   targetLogits: tf.tensor2d([[1, 0], [0, 2]]),
 *   attention: tf.tensor1d([0.6, 0.8]),
 *   labels: tf.tensor1d([0, 1], "int32"),
 *   classDistributions: thresholdDistributions(2, 0.7),
 * }, { epoch: 4 });
 * const [total, ce, kl, rr] = [loss.total, loss.ce, loss.kl, loss.rr].map((t) => t.dataSync()[0]);
 * console.log({ total, ce, kl, rr, alpha1: loss.alpha1, alpha2: loss.alpha2 });
 * tf.dispose(loss);
 * ```
 */
export type AdaDfLossResult = {
  /** alpha_2 * ce + alpha_1 * kl + rr. */
  total: Scalar;
  /** The auxiliary branch's mean cross-entropy. */
  ce: Scalar;
  /** The target branch's KL divergence to the fused distributions. */
  kl: Scalar;
  /** The rank regularisation. */
  rr: Scalar;
  /** alpha_1 of the ramp. */
  alpha1: number;
  /** alpha_2 of the ramp. */
  alpha2: number;
  /** [B] normalised attention weights w'_i. */
  weights: Tensor1D;
  /** [B, C] fused target distributions f_i. */
  targets: Tensor2D;
};

/**
 * The whole Ada-DF loss (eq. 14) for one batch: L = alpha_2 * L_ce + alpha_1 * L_kl + L_rr, with
 * L_ce the auxiliary cross-entropy, L_kl the target branch's KL divergence to the fused distributions
 * f_i = (1 - w'_i) softmax(z_1,i) + w'_i c'_{y_i}, and L_rr the rank regularisation of the averaged
 * attention. Differentiable end to end; all returned tensors are owned by the caller.
 *
 * @example One training step's loss
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { adaDfLoss, thresholdDistributions } from "./functional.ts";
 *
 * const loss = adaDfLoss({
 *   auxLogits: tf.tensor2d([[2, 0, 0], [0, 1, 0], [0, 0, 3]]),
 *   targetLogits: tf.tensor2d([[1, 0, 0], [0, 2, 0], [0, 0, 1]]),
 *   attention: tf.tensor1d([0.6, 0.5, 0.7]),
 *   labels: tf.tensor1d([0, 1, 2], "int32"),
 *   classDistributions: thresholdDistributions(3, 0.7),
 * }, { epoch: 1, beta: 3 });
 * console.log(loss.total.dataSync()[0], loss.alpha1, loss.alpha2);
 * ```
 */
export function adaDfLoss(inputs: AdaDfLossInputs, options: AdaDfLossOptions): AdaDfLossResult {
  const fn = "adaDfLoss";
  const { auxLogits, targetLogits, attention, labels, classDistributions } = inputs;
  if (options === undefined || options === null) fail(fn, "options with an epoch are required");
  const {
    epoch,
    beta = 3,
    minWeight = 0.2,
    maxWeight = 1,
    ratio = 0.7,
    margin = 0.07,
    stopGradient: stop = false,
    batchSize,
  } = options;
  checkFloat(fn, "auxLogits", auxLogits, 2);
  checkFloat(fn, "targetLogits", targetLogits, 2);
  if (auxLogits.shape[0] !== targetLogits.shape[0] || auxLogits.shape[1] !== targetLogits.shape[1]) {
    fail(
      fn,
      `targetLogits [${targetLogits.shape.join(", ")}] must match auxLogits [${auxLogits.shape.join(", ")}]`,
    );
  }
  checkFloat(fn, "attention", attention, 1);
  if (attention.shape[0] !== auxLogits.shape[0]) {
    fail(fn, `attention has ${attention.shape[0]} entries, expected ${auxLogits.shape[0]}`);
  }
  const { alpha1, alpha2 } = rampWeights(epoch, beta);
  return tf.tidy(() => {
    const weights = normalizeAttention(attention, { minWeight, maxWeight });
    const fused = fuseDistributions({
      labelDistributions: tf.softmax(auxLogits),
      classDistributions,
      labels,
      weights,
    });
    const targets = stop ? stopGradient(fused) : fused;
    const ce = crossEntropy(auxLogits, labels);
    const kl = klDivergence(targetLogits, targets, { batchSize });
    const rr = rankRegularization(attention, { ratio, margin, batchSize });
    const total = ce.mul(alpha2).add(kl.mul(alpha1)).add(rr) as Scalar;
    return { total, ce, kl, rr, alpha1, alpha2, weights, targets };
  });
}
