/**
 * Classification metrics on plain arrays: confusion matrix, accuracy, per-class and mean class accuracy,
 * and summary statistics.
 *
 * @module
 */

/** Accuracy figures derived from a confusion matrix. */
export interface ClassificationReport {
  /** Samples counted. */
  count: number;
  /** Top-1 accuracy in [0, 1]. */
  accuracy: number;
  /** Mean over classes (present in the labels) of the per-class accuracy. */
  meanClassAccuracy: number;
  /** Accuracy per class (NaN for a class absent from the labels). */
  perClassAccuracy: number[];
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
}

/**
 * Builds the report from true and predicted labels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classificationReport } from "./metrics.ts";
 * const r = classificationReport([0, 1, 1], [0, 1, 0], 2);
 * assert.equal(r.accuracy, 2 / 3);
 * assert.equal(r.perClassAccuracy[1], 0.5);
 * ```
 */
export function classificationReport(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  numClasses: number,
): ClassificationReport {
  if (labels.length !== predictions.length) {
    throw new Error(`classificationReport: ${labels.length} labels but ${predictions.length} predictions`);
  }
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    confusion[labels[i]][predictions[i]]++;
    if (labels[i] === predictions[i]) correct++;
  }
  const perClassAccuracy = confusion.map((row, j) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n === 0 ? NaN : row[j] / n;
  });
  const present = perClassAccuracy.filter((a) => !Number.isNaN(a));
  return {
    count: labels.length,
    accuracy: labels.length ? correct / labels.length : NaN,
    meanClassAccuracy: present.length ? present.reduce((a, b) => a + b, 0) / present.length : NaN,
    perClassAccuracy,
    confusion,
  };
}

/** Mean, standard deviation, minimum and maximum of a sample. */
export interface Summary {
  /** Number of values. */
  count: number;
  /** Mean. */
  mean: number;
  /** Population standard deviation. */
  std: number;
  /** Minimum. */
  min: number;
  /** Maximum. */
  max: number;
}

/**
 * Summarises values (NaN fields for an empty sample).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarize } from "./metrics.ts";
 * assert.equal(summarize([1, 3]).mean, 2);
 * ```
 */
export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) return { count: 0, mean: NaN, std: NaN, min: NaN, max: NaN };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    sum += values[i];
    min = Math.min(min, values[i]);
    max = Math.max(max, values[i]);
  }
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (values[i] - mean) ** 2;
  return { count: n, mean, std: Math.sqrt(sq / n), min, max };
}

/**
 * Index of the largest value in each row of a row-major [rows, cols] array.
 *
 * @example Predicted classes from row-major probabilities
 * ```ts
 * import assert from "node:assert/strict";
 * import { argmaxRows } from "./metrics.ts";
 * const probabilities = [0.1, 0.7, 0.2, 0.6, 0.3, 0.1];
 * assert.deepEqual(argmaxRows(probabilities, 3), Int32Array.from([1, 0]));
 * ```
 */
export function argmaxRows(values: ArrayLike<number>, cols: number): Int32Array {
  const rows = values.length / cols;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (values[r * cols + c] > values[r * cols + best]) best = c;
    out[r] = best;
  }
  return out;
}

/**
 * Area under the ROC curve of a score that should rank `positives` above `negatives`: the probability
 * that a random positive scores higher than a random negative, ties counting one half (NaN when either
 * sample is empty).
 *
 * @example Attention weights of clean samples against those of mislabelled ones
 * ```ts
 * import assert from "node:assert/strict";
 * import { rocAuc } from "./metrics.ts";
 * assert.equal(rocAuc([0.9, 0.8], [0.1, 0.85]), 0.75);
 * assert.equal(rocAuc([1], [1]), 0.5);
 * ```
 */
export function rocAuc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  const p = positives.length;
  const n = negatives.length;
  if (p === 0 || n === 0) return NaN;
  // Rank-sum (Mann-Whitney U) with average ranks for ties.
  const all = [
    ...Array.from(positives, (v) => ({ v, positive: true })),
    ...Array.from(negatives, (v) => ({ v, positive: false })),
  ].sort((a, b) => a.v - b.v);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (all[k].positive) rankSum += rank;
    i = j + 1;
  }
  return (rankSum - p * (p + 1) / 2) / (p * n);
}

/**
 * Per-sample outputs of a model on a training split with known label noise: what
 * {@linkcode labelNoiseReport} reads. Distributions are row-major [N, C].
 */
export interface LabelNoiseInputs {
  /** Number of classes C. */
  numClasses: number;
  /** The labels before noise. */
  trueLabels: ArrayLike<number>;
  /** The labels trained on (some flipped). */
  trainingLabels: ArrayLike<number>;
  /** Attention weight w_i of each sample. */
  attention: ArrayLike<number>;
  /** The target branch's predicted distribution. */
  predictions: ArrayLike<number>;
  /** The label distributions l_i (auxiliary branch). */
  labelDistributions: ArrayLike<number>;
  /** The fused distributions f_i. */
  fusedDistributions: ArrayLike<number>;
}

/** How a model treats the mislabelled samples of its training split. */
export interface LabelNoiseReport {
  /** Samples whose training label is the true one. */
  clean: number;
  /** Samples whose training label was flipped. */
  flipped: number;
  /** Mean attention weight of the clean samples. */
  attentionClean: number;
  /** Mean attention weight of the flipped samples. */
  attentionFlipped: number;
  /** ROC AUC of the attention weight as a detector of clean labels (0.5: blind, 1: perfect). */
  attentionAuc: number;
  /** Fraction of clean samples the target branch predicts as their label. */
  cleanAccuracy: number;
  /** Fraction of flipped samples the target branch predicts as their true label. */
  flippedRecovered: number;
  /** Fraction of flipped samples the target branch predicts as their flipped label (memorised). */
  flippedMemorised: number;
  /** Mean probability l_i gives the true label of a flipped sample. */
  labelTrueMass: number;
  /** Mean probability l_i gives the flipped label of a flipped sample. */
  labelNoisyMass: number;
  /** Mean probability f_i gives the true label of a flipped sample. */
  fusedTrueMass: number;
  /** Mean probability f_i gives the flipped label of a flipped sample. */
  fusedNoisyMass: number;
}

/**
 * Measures how a model treats mislabelled training samples: whether its attention ranks them below the
 * clean ones (Ada-DF's premise: a low weight moves f_i from the class distribution of the given label
 * towards the sample's own label distribution), whether the target branch recovers their true labels or
 * memorises the flipped ones, and where the label and fused distributions put their mass.
 *
 * @example Two samples, the second mislabelled
 * ```ts
 * import assert from "node:assert/strict";
 * import { labelNoiseReport } from "./metrics.ts";
 * const r = labelNoiseReport({
 *   numClasses: 2,
 *   trueLabels: [0, 1],
 *   trainingLabels: [0, 0],
 *   attention: [0.9, 0.2],
 *   predictions: [0.8, 0.2, 0.3, 0.7],
 *   labelDistributions: [0.7, 0.3, 0.4, 0.6],
 *   fusedDistributions: [0.9, 0.1, 0.5, 0.5],
 * });
 * assert.equal(r.flipped, 1);
 * assert.equal(r.attentionAuc, 1);
 * assert.equal(r.flippedRecovered, 1);
 * assert.equal(r.labelTrueMass, 0.6);
 * assert.equal(r.fusedNoisyMass, 0.5);
 * ```
 */
export function labelNoiseReport(inputs: LabelNoiseInputs): LabelNoiseReport {
  const { numClasses: C, trueLabels, trainingLabels, attention } = inputs;
  const n = trueLabels.length;
  const fields: [string, ArrayLike<number>, number][] = [
    ["trainingLabels", trainingLabels, n],
    ["attention", attention, n],
    ["predictions", inputs.predictions, n * C],
    ["labelDistributions", inputs.labelDistributions, n * C],
    ["fusedDistributions", inputs.fusedDistributions, n * C],
  ];
  for (const [name, values, expected] of fields) {
    if (values.length !== expected) {
      throw new Error(`labelNoiseReport: ${name} has ${values.length} values, expected ${expected}`);
    }
  }
  const predicted = argmaxRows(inputs.predictions, C);
  const cleanWeights: number[] = [];
  const flippedWeights: number[] = [];
  let cleanCorrect = 0;
  let recovered = 0;
  let memorised = 0;
  let labelTrue = 0;
  let labelNoisy = 0;
  let fusedTrue = 0;
  let fusedNoisy = 0;
  for (let i = 0; i < n; i++) {
    const truth = trueLabels[i];
    const given = trainingLabels[i];
    if (truth === given) {
      cleanWeights.push(attention[i]);
      if (predicted[i] === truth) cleanCorrect++;
      continue;
    }
    flippedWeights.push(attention[i]);
    if (predicted[i] === truth) recovered++;
    if (predicted[i] === given) memorised++;
    labelTrue += inputs.labelDistributions[i * C + truth];
    labelNoisy += inputs.labelDistributions[i * C + given];
    fusedTrue += inputs.fusedDistributions[i * C + truth];
    fusedNoisy += inputs.fusedDistributions[i * C + given];
  }
  const clean = cleanWeights.length;
  const flipped = flippedWeights.length;
  const mean = (values: number[]) => values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
  const perFlipped = (sum: number) => flipped ? sum / flipped : NaN;
  return {
    clean,
    flipped,
    attentionClean: mean(cleanWeights),
    attentionFlipped: mean(flippedWeights),
    attentionAuc: rocAuc(cleanWeights, flippedWeights),
    cleanAccuracy: clean ? cleanCorrect / clean : NaN,
    flippedRecovered: perFlipped(recovered),
    flippedMemorised: perFlipped(memorised),
    labelTrueMass: perFlipped(labelTrue),
    labelNoisyMass: perFlipped(labelNoisy),
    fusedTrueMass: perFlipped(fusedTrue),
    fusedNoisyMass: perFlipped(fusedNoisy),
  };
}

/** One epoch's test figures, as the evaluation protocols read them (an epoch line of `metrics.jsonl`). */
export interface EvaluatedEpoch {
  /** Epoch, from 1. */
  epoch: number;
  /** Test accuracy, when the epoch was evaluated. */
  testAccuracy?: number;
  /** Test mean class accuracy. */
  testMeanClassAccuracy?: number;
  /** Test confusion matrix, `[true][predicted]`. */
  testConfusion?: number[][];
}

/** One epoch's scores under a protocol. */
export interface ProtocolEpoch {
  /** The epoch, from 1. */
  epoch: number;
  /** Its test accuracy. */
  accuracy: number;
  /** Its test mean class accuracy (NaN when not recorded). */
  meanClassAccuracy: number;
  /** Its test confusion matrix, `[true][predicted]`, when recorded. */
  confusion?: number[][];
}

/** The mean of the last k evaluated epochs. */
export interface ProtocolMeanOfLast {
  /** How many epochs were averaged: min(k asked, epochs evaluated). */
  k: number;
  /** Those epochs. */
  epochs: number[];
  /** Mean test accuracy over them. */
  accuracy: number;
  /** Mean test mean class accuracy over them. */
  meanClassAccuracy: number;
}

/**
 * A run's test results under three protocols side by side: the best epoch (chosen on the test set
 * itself, as the reference does: an optimistic figure), the last epoch, and the mean of the last k
 * evaluated epochs.
 */
export interface EvaluationProtocols {
  /** The epoch of the highest test accuracy (the first such epoch), chosen on the test set. */
  best: ProtocolEpoch & { chosenOnTestSet: true };
  /** The last evaluated epoch. */
  last: ProtocolEpoch;
  /** The mean of the last k evaluated epochs. */
  meanOfLast: ProtocolMeanOfLast;
}

/**
 * The evaluation protocols of a run's epochs ({@linkcode EvaluationProtocols}); epochs without a test
 * accuracy are left out, and null is returned when no epoch was evaluated. The best epoch is the first
 * of the highest accuracy, as the trainer picks it; the mean of the last k uses min(k, evaluated epochs).
 *
 * @example Five epochs, the mean of the last three
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluationProtocols } from "./metrics.ts";
 * const history = [0.5, 0.7, 0.6, 0.65, 0.62].map((testAccuracy, i) => ({ epoch: i + 1, testAccuracy }));
 * const p = evaluationProtocols(history, 3)!;
 * assert.deepEqual([p.best.epoch, p.best.accuracy, p.best.chosenOnTestSet], [2, 0.7, true]);
 * assert.deepEqual([p.last.epoch, p.last.accuracy], [5, 0.62]);
 * assert.deepEqual(p.meanOfLast.epochs, [3, 4, 5]);
 * assert.ok(Math.abs(p.meanOfLast.accuracy - (0.6 + 0.65 + 0.62) / 3) < 1e-12);
 * assert.equal(evaluationProtocols([{ epoch: 1 }], 5), null);
 * ```
 */
export function evaluationProtocols(
  history: readonly EvaluatedEpoch[],
  k: number,
): EvaluationProtocols | null {
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`evaluationProtocols: k must be an integer >= 1, got ${k}`);
  }
  const evaluated = history.filter((m) => typeof m.testAccuracy === "number");
  if (evaluated.length === 0) return null;
  const score = (m: EvaluatedEpoch): ProtocolEpoch => ({
    epoch: m.epoch,
    accuracy: m.testAccuracy!,
    meanClassAccuracy: m.testMeanClassAccuracy ?? NaN,
    ...(m.testConfusion ? { confusion: m.testConfusion } : {}),
  });
  let best = evaluated[0];
  for (const m of evaluated) if (!(m.testAccuracy! <= best.testAccuracy!)) best = m;
  const tail = evaluated.slice(-k);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    best: { ...score(best), chosenOnTestSet: true },
    last: score(evaluated[evaluated.length - 1]),
    meanOfLast: {
      k: tail.length,
      epochs: tail.map((m) => m.epoch),
      accuracy: mean(tail.map((m) => m.testAccuracy!)),
      meanClassAccuracy: mean(tail.map((m) => m.testMeanClassAccuracy ?? NaN)),
    },
  };
}
