/**
 * An independent reference implementation of the Ada-DF loss and of class-distribution mining, used
 * only as a test oracle. It is written directly from the paper's equations and the authors' PyTorch
 * code, in double precision on plain arrays: no tensors and nothing shared with the library, so that a
 * mistake in `strategies/` cannot hide in both.
 *
 * Where the library documents its own choice in a case the reference leaves undefined (a batch whose
 * attention weights are all equal, an empty rank group, a class without samples), the oracle makes the
 * same documented choice.
 *
 * @module
 */

/** The raw model outputs of a batch and its labels. */
export interface ReferenceBatch {
  /** [B][C] raw auxiliary classifier outputs fc_1(h_1). */
  fc1: number[][];
  /** [B][C] raw target classifier outputs fc_2(h_2). */
  fc2: number[][];
  /** [B] raw auxiliary attention scores (before the sigmoid). */
  s1: number[];
  /** [B] raw target attention scores (before the sigmoid). */
  s2: number[];
  /** [B] class of each sample. */
  labels: number[];
  /** [C][C] class distributions c', row j for class j. */
  classDistributions: number[][];
}

/** The method's settings. */
export interface ReferenceSettings {
  /** Epoch, counted from 1. */
  epoch: number;
  /** Epoch threshold beta of the ramp. */
  beta: number;
  /** w_min. */
  minWeight: number;
  /** w_max. */
  maxWeight: number;
  /** Share of the high group of the rank regularisation. */
  ratio: number;
  /** Margin delta of the rank regularisation. */
  margin: number;
  /** Nominal batch size n (KL divisor, rank split); the number of rows by default. */
  batchSize?: number;
}

/** Every quantity of the loss. */
export interface ReferenceLoss {
  /** [B] a_1 = sigmoid(s_1). */
  a1: number[];
  /** [B] a_2 = sigmoid(s_2). */
  a2: number[];
  /** [B] w = (a_1 + a_2) / 2 (eq. 8). */
  attention: number[];
  /** [B] w' (eq. 11). */
  weights: number[];
  /** [B][C] l = softmax(z_1) (eqs. 1-2). */
  auxProbs: number[][];
  /** [B][C] f (eq. 12). */
  targets: number[][];
  /** L_ce (eq. 3). */
  ce: number;
  /** L_kl (eq. 13). */
  kl: number;
  /** L_rr (eqs. 9-10). */
  rr: number;
  /** alpha_1 (eqs. 15-16). */
  alpha1: number;
  /** alpha_2 (eqs. 15-16). */
  alpha2: number;
  /** L (eq. 14). */
  total: number;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function softmax(row: number[]): number[] {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function logSoftmax(row: number[]): number[] {
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
  return row.map((v) => v - lse);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The whole Ada-DF loss of a batch from the model's raw outputs, with the Ada-DF strategy. */
export function referenceLoss(batch: ReferenceBatch, settings: ReferenceSettings): ReferenceLoss {
  const { fc1, fc2, s1, s2, labels, classDistributions } = batch;
  const { epoch, beta, minWeight, maxWeight, ratio, margin } = settings;
  const b = labels.length;
  const n = settings.batchSize ?? b;
  const a1 = s1.map(sigmoid);
  const a2 = s2.map(sigmoid);
  const z1 = fc1.map((row, i) => row.map((v) => a1[i] * v));
  const z2 = fc2.map((row, i) => row.map((v) => a2[i] * v));
  const attention = a1.map((v, i) => (v + a2[i]) / 2);
  // eq. 11; all weights equal: every sample gets the midpoint of [w_min, w_max]
  const lo = Math.min(...attention);
  const hi = Math.max(...attention);
  const weights = attention.map((w) =>
    hi > lo ? ((w - lo) / (hi - lo)) * (maxWeight - minWeight) + minWeight : (minWeight + maxWeight) / 2
  );
  const auxProbs = z1.map(softmax);
  const targets = auxProbs.map((l, i) =>
    l.map((v, k) => (1 - weights[i]) * v + weights[i] * classDistributions[labels[i]][k])
  );
  const ce = mean(z1.map((row, i) => -logSoftmax(row)[labels[i]]));
  let kl = 0;
  z2.forEach((row, i) => {
    const logQ = logSoftmax(row);
    targets[i].forEach((f, k) => {
      if (f > 0) kl += f * (Math.log(f) - logQ[k]);
    });
  });
  kl /= n;
  // eqs. 9-10: the M = floor(ratio * n) largest weights against the n - M smallest; the floor is that
  // of the exact product (0.7 * 90 = 63 although it evaluates to 62.99999999999999)
  const sorted = [...attention].sort((x, y) => y - x);
  const m = Math.floor(ratio * n + 1e-9);
  const rr = m === 0 || m === n
    ? 0
    : Math.max(0, margin - (mean(sorted.slice(0, m)) - mean(sorted.slice(b - (n - m)))));
  const alpha1 = epoch <= beta ? Math.exp(-((1 - epoch / beta) ** 2)) : 1;
  const alpha2 = epoch <= beta ? 1 : Math.exp(-((1 - beta / epoch) ** 2));
  const total = alpha2 * ce + alpha1 * kl + rr;
  return { a1, a2, attention, weights, auxProbs, targets, ce, kl, rr, alpha1, alpha2, total };
}

/** The threshold distributions d_j (t on the diagonal, (1 - t) / (C - 1) elsewhere). */
export function referenceThresholdDistributions(numClasses: number, threshold: number): number[][] {
  return Array.from(
    { length: numClasses },
    (_, j) =>
      Array.from(
        { length: numClasses },
        (_, k) => (k === j ? threshold : (1 - threshold) / (numClasses - 1)),
      ),
  );
}

/**
 * The mined class distributions c' (eqs. 4-7) over a set of samples: the mean probability row of each
 * class, kept when its own entry reaches t, otherwise d_j (with `legacyFallback`, the authors' code's
 * per-epoch row: t and 0.4 / (C - 1)).
 */
export function referenceMinedDistributions(
  probs: number[][],
  labels: number[],
  numClasses: number,
  threshold: number,
  legacyFallback = false,
): number[][] {
  const d = referenceThresholdDistributions(numClasses, threshold);
  return Array.from({ length: numClasses }, (_, j) => {
    const rows = probs.filter((_, i) => labels[i] === j);
    const fallback = legacyFallback
      ? Array.from({ length: numClasses }, (_, k) => (k === j ? threshold : 0.4 / (numClasses - 1)))
      : d[j];
    if (rows.length === 0) return fallback;
    const c = Array.from({ length: numClasses }, (_, k) => mean(rows.map((r) => r[k])));
    return c[j] >= threshold ? c : fallback;
  });
}

/** The softmax of each row. */
export function referenceSoftmax(logits: number[][]): number[][] {
  return logits.map(softmax);
}

/** Central-difference gradient of `f` at `x` (step `h`). */
export function numericGradient(f: (x: number[]) => number, x: number[], h = 1e-6): number[] {
  return x.map((_, i) => {
    const up = x.slice();
    const down = x.slice();
    up[i] += h;
    down[i] -= h;
    return (f(up) - f(down)) / (2 * h);
  });
}

/** The raw outputs of a batch of B images of `crops` crops each, per image and crop. */
export interface ReferenceCropBatch {
  /** [B][crops][C] raw auxiliary classifier outputs. */
  fc1: number[][][];
  /** [B][crops][C] raw target classifier outputs. */
  fc2: number[][][];
  /** [B][crops] raw auxiliary attention scores. */
  s1: number[][];
  /** [B][crops] raw target attention scores. */
  s2: number[][];
  /** [B] class of each image. */
  labels: number[];
  /** [C][C] class distributions c'. */
  classDistributions: number[][];
}

/** Each label `crops` times in a row (`torch.repeat_interleave(labels, crops)`). */
export function referenceRepeatLabels(labels: readonly number[], crops: number): number[] {
  return labels.flatMap((y) => Array.from({ length: crops }, () => y));
}

/**
 * The loss of a ten-crop training step as the authors' `train.py` computes it for SFEW: the crops are
 * the rows (`images.view(-1, c, h, w)`, image after image), each with its image's label, the KL divergence
 * summed over the rows and divided by the number of images B, and the rank regularisation's groups the
 * floor(ratio * B) highest and the B - floor(ratio * B) lowest weights of all the rows.
 */
export function referenceCropLoss(batch: ReferenceCropBatch, settings: ReferenceSettings): ReferenceLoss {
  const crops = batch.fc1[0]?.length ?? 1;
  return referenceLoss({
    fc1: batch.fc1.flat(),
    fc2: batch.fc2.flat(),
    s1: batch.s1.flat(),
    s2: batch.s2.flat(),
    labels: referenceRepeatLabels(batch.labels, crops),
    classDistributions: batch.classDistributions,
  }, { ...settings, batchSize: batch.labels.length });
}

/**
 * The rows of the rank regularisation's two groups, as `torch.topk` picks them: the M = floor(ratio * n)
 * largest weights and the n - M smallest (ties by position, the earlier first), each sorted by row.
 */
export function referenceRankSplit(
  attention: readonly number[],
  n: number,
  ratio: number,
): { top: number[]; bottom: number[] } {
  const m = Math.floor(ratio * n + 1e-9);
  const order = attention.map((w, i) => ({ w, i })).sort((a, b) => b.w - a.w || a.i - b.i).map((x) => x.i);
  return {
    top: order.slice(0, m).sort((a, b) => a - b),
    bottom: order.slice(order.length - (n - m)).sort((a, b) => a - b),
  };
}
