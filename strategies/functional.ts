/**
 * The Ada-DF method as pure functions: threshold and class distributions, attention normalisation,
 * distribution fusion, rank regularisation, the ramp weights, the loss terms and their total. Each
 * equation exists once, here; the strategy plugins and `computeObjective` are built on these
 * functions (as `torch.nn` modules are built on `torch.nn.functional`).
 *
 * Per-batch quantities are tensors. The per-epoch ones are plain numbers: the ramp weights, and the
 * class distributions mined from per-class sums accumulated on the host in double precision
 * ({@linkcode stabilizeClassDistributions}), which is how the miners hold them.
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
 * Every tensor function returns new tensors that the caller owns (dispose them, or call inside
 * `tf.tidy`); intermediate tensors are released.
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
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { stopGradient } from "./functional.ts";
 *
 * const x = tf.scalar(3);
 * const grad = tf.grad((v: tf.Tensor) => v.mul(stopGradient(v)))(x);
 * assert.equal(grad.arraySync(), 3); // d/dv (v * const) = const
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
 * import assert from "node:assert/strict";
 * import { thresholdDistributions } from "./functional.ts";
 *
 * const d = thresholdDistributions(3, 0.7);
 * const rounded = d.arraySync().map((row) => row.map((v) => Math.round(v * 1e4) / 1e4));
 * assert.deepEqual(rounded, [[0.7, 0.15, 0.15], [0.15, 0.7, 0.15], [0.15, 0.15, 0.7]]);
 * d.dispose();
 * ```
 */
export function thresholdDistributions(numClasses: number, threshold: number): Tensor2D {
  const fn = "thresholdDistributions";
  checkInteger(fn, "numClasses", numClasses, 2);
  checkUnit(fn, "threshold", threshold);
  return constantRows(numClasses, threshold, (1 - threshold) / (numClasses - 1));
}

/** Options of {@linkcode stabilizeClassDistributions}. */
export interface StabilizeClassDistributionsOptions {
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
 * The stabilised class distributions c'_j (eqs. 4-7) from per-class sums of the auxiliary branch's
 * probability rows over a set of samples (the reference: the whole training set, after each epoch).
 *
 * c_j = sum_j / N_j is the mean label distribution of the N_j samples labelled j (eq. 4); c'_j = c_j
 * when N_j > 0 and c_j[j] >= t, otherwise the threshold distribution d_j (see
 * {@linkcode thresholdDistributions}). An absent class therefore falls back to d_j (the reference's
 * mean of nothing is NaN, which fails the test the same way), and with no sample at all every row is
 * d_j: the class distributions in effect before the first mining. A mean that is not a number (from
 * diverged probabilities) fails the test too.
 *
 * The arguments are plain numbers, not tensors, so that a miner can accumulate them batch by batch on
 * the host (see `strategies/miner.ts`). The means are computed in double precision and compared with t
 * in single precision, as the reference compares its float32 means with t.
 *
 * @param sums [C * C] row-major: row j is the sum of the probability rows of the samples labelled j.
 * @param counts [C] the number of samples N_j of each class.
 * @returns The rows c'_j (`tf.tensor2d(rows)` is the [C, C] tensor a loss uses).
 *
 * @example Two classes, t = 0.6
 * ```ts
 * import assert from "node:assert/strict";
 * import { stabilizeClassDistributions } from "./functional.ts";
 *
 * // class 0: probability rows [0.9, 0.1] and [0.7, 0.3]; class 1: the row [0.5, 0.5]
 * const rows = stabilizeClassDistributions([1.6, 0.4, 0.5, 0.5], [2, 1], { threshold: 0.6 });
 * // class 0: mean [0.8, 0.2], 0.8 >= 0.6, kept; class 1: mean [0.5, 0.5], 0.5 < 0.6, so d_1 = [0.4, 0.6]
 * assert.deepEqual(rows, [[0.8, 0.2], [0.4, 0.6]]);
 * // no sample yet: every row is d_j
 * const none = stabilizeClassDistributions([0, 0, 0, 0], [0, 0], { threshold: 0.6 });
 * assert.deepEqual(none, [[0.6, 0.4], [0.4, 0.6]]);
 * ```
 */
export function stabilizeClassDistributions(
  sums: ArrayLike<number>,
  counts: ArrayLike<number>,
  options: StabilizeClassDistributionsOptions = {},
): number[][] {
  const fn = "stabilizeClassDistributions";
  const { threshold = 0.7, legacyFallback = false } = options;
  if (typeof counts?.length !== "number") {
    fail(fn, `counts must be an array of numbers, got ${typeof counts}`);
  }
  const c = checkInteger(fn, "counts.length (number of classes)", counts.length, 2);
  if (typeof sums?.length !== "number" || sums.length !== c * c) {
    fail(fn, `sums must be an array of C * C = ${c * c} numbers, got ${sums?.length ?? typeof sums}`);
  }
  checkUnit(fn, "options.threshold", threshold);
  for (let j = 0; j < c; j++) {
    const n = counts[j];
    if (typeof n !== "number" || !(n >= 0) || !Number.isFinite(n)) {
      fail(fn, `counts[${j}] must be a finite number >= 0, got ${String(n)}`);
    }
  }
  for (let i = 0; i < c * c; i++) {
    if (typeof sums[i] !== "number") fail(fn, `sums[${i}] must be a number, got ${typeof sums[i]}`);
  }
  const offDiagonal = (legacyFallback ? 0.4 : 1 - threshold) / (c - 1);
  const rows: number[][] = [];
  for (let j = 0; j < c; j++) {
    const n = counts[j];
    const mean = Array.from({ length: c }, (_, k) => (n > 0 ? sums[j * c + k] / n : NaN));
    const keep = n > 0 && Math.fround(mean[j]) >= Math.fround(threshold);
    rows.push(keep ? mean : Array.from({ length: c }, (_, k) => (k === j ? threshold : offDiagonal)));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------
// Attention and fusion
// ---------------------------------------------------------------------------------------------------

/** Options of {@linkcode normalizeAttention}. */
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
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { normalizeAttention } from "./functional.ts";
 *
 * const round = (xs: number[]) => xs.map((v) => Math.round(v * 1e4) / 1e4);
 * const w = normalizeAttention(tf.tensor1d([0.5, 0.7, 0.9]));
 * assert.deepEqual(round(w.arraySync()), [0.2, 0.6, 1]);
 * // all equal: the midpoint of [0.2, 1]
 * const flat = normalizeAttention(tf.tensor1d([0.4, 0.4]));
 * assert.deepEqual(round(flat.arraySync()), [0.6, 0.6]);
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

/** Inputs of {@linkcode fuseDistributions}. */
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
 * import assert from "node:assert/strict";
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
 * const [row] = f.arraySync();
 * assert.deepEqual(row.map((v) => Math.round(v * 1e4) / 1e4), [0.35, 0.65]);
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

/** Options of {@linkcode rankRegularization}. */
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
   * crops per image are stacked (its SFEW training): then the middle B - n weights are in neither group
   * (B = 160 rows of 16 images: the 11 highest against the 5 lowest). The trainer passes the number of
   * images (`data.trainCrops: 10` trains that way).
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
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { rankRegularization } from "./functional.ts";
 *
 * const w = tf.tensor1d([0.5, 0.52, 0.54, 0.56]);
 * const rr = rankRegularization(w, { ratio: 0.5, margin: 0.07 });
 * // M = 2: w_H = 0.55, w_L = 0.51, max(0, 0.07 - 0.04) = 0.03
 * assert.ok(Math.abs(rr.arraySync() - 0.03) < 1e-6);
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

/** The two loss weights of {@linkcode rampWeights}. */
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
 * import assert from "node:assert/strict";
 * import { rampWeights } from "./functional.ts";
 *
 * assert.deepEqual(rampWeights(3, 3), { alpha1: 1, alpha2: 1 });
 * assert.deepEqual(rampWeights(6, 3), { alpha1: 1, alpha2: Math.exp(-0.25) });
 * assert.deepEqual(rampWeights(1.5, 3), { alpha1: Math.exp(-0.25), alpha2: 1 });
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
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { crossEntropy } from "./functional.ts";
 *
 * const ce = crossEntropy(tf.tensor2d([[0, 0]]), tf.tensor1d([1], "int32"));
 * assert.ok(Math.abs(ce.arraySync() - Math.log(2)) < 1e-6);
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

/** Options of {@linkcode klDivergence}. */
export interface KlDivergenceOptions {
  /**
   * The divisor of the summed divergence. The reference divides by its configured batch size (the
   * number of images), which differs from the number of rows only when crops are stacked (the trainer
   * passes the number of images).
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
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { klDivergence } from "./functional.ts";
 *
 * // 0: the prediction equals the target
 * const kl = klDivergence(tf.tensor2d([[0, 0]]), tf.tensor2d([[0.5, 0.5]]));
 * assert.ok(Math.abs(kl.arraySync()) < 1e-6);
 * // a one-hot target gives the cross-entropy: log 2
 * const oneHot = klDivergence(tf.tensor2d([[0, 0]]), tf.tensor2d([[0, 1]]));
 * assert.ok(Math.abs(oneHot.arraySync() - Math.log(2)) < 1e-6);
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
// The total
// ---------------------------------------------------------------------------------------------------

/** The three loss terms that {@linkcode totalLoss} weighs. */
export interface LossTerms {
  /** L_ce, the auxiliary branch's cross-entropy (eq. 3; {@linkcode crossEntropy}). */
  ce: Scalar;
  /** L_kl, the target branch's KL divergence to its targets (eq. 13; {@linkcode klDivergence}). */
  kl: Scalar;
  /** L_rr, the regularisation term (eqs. 9-10; {@linkcode rankRegularization}). */
  rr: Scalar;
}

/**
 * The total loss (eq. 14): L = alpha_2 * L_ce + alpha_1 * L_kl + L_rr, with the weights of the epoch
 * (eqs. 15-16; {@linkcode rampWeights}). Differentiable in the three terms.
 *
 * @param terms The scalar terms; they are not disposed.
 * @param weights alpha_1 and alpha_2.
 * @returns A new scalar.
 *
 * @example Epoch 1 of the ramp with beta = 3
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { rampWeights, totalLoss } from "./functional.ts";
 *
 * const weights = rampWeights(1, 3); // alpha_1 = exp(-4 / 9), alpha_2 = 1
 * const total = totalLoss({ ce: tf.scalar(2), kl: tf.scalar(0.5), rr: tf.scalar(0.01) }, weights);
 * assert.ok(Math.abs(total.arraySync() - (2 + Math.exp(-4 / 9) * 0.5 + 0.01)) < 1e-6);
 * ```
 */
export function totalLoss(terms: LossTerms, weights: RampWeights): Scalar {
  const fn = "totalLoss";
  if (terms === null || typeof terms !== "object") fail(fn, "terms must be an object { ce, kl, rr }");
  if (weights === null || typeof weights !== "object") {
    fail(fn, "weights must be an object { alpha1, alpha2 }");
  }
  const { ce, kl, rr } = terms;
  checkFloat(fn, "terms.ce", ce, 0);
  checkFloat(fn, "terms.kl", kl, 0);
  checkFloat(fn, "terms.rr", rr, 0);
  const alpha1 = checkNumber(fn, "weights.alpha1", weights.alpha1);
  const alpha2 = checkNumber(fn, "weights.alpha2", weights.alpha2);
  return tf.tidy(() => ce.mul(alpha2).add(kl.mul(alpha1)).add(rr) as Scalar);
}
