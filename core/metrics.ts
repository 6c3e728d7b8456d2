/**
 * Classification metrics on plain arrays: confusion matrix, accuracy, per-class and mean class accuracy,
 * and summary statistics.
 *
 * @module
 */

/**
 * Accuracy figures derived from a confusion matrix.
 *
 * @example Read a report
 * ```ts
 * import { classificationReport, type ClassificationReport } from "./metrics.ts";
 * const report: ClassificationReport = classificationReport([0, 0, 1, 1], [0, 1, 1, 1], 2);
 * console.log(report.accuracy, report.meanClassAccuracy); // 0.75 0.75
 * console.log(report.confusion); // [[1, 1], [0, 2]]
 * ```
 */
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
 * import { classificationReport } from "./metrics.ts";
 * const r = classificationReport([0, 1, 1], [0, 1, 0], 2);
 * console.assert(r.accuracy === 2 / 3 && r.perClassAccuracy[1] === 0.5);
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

/**
 * Mean, standard deviation, minimum and maximum of a sample.
 *
 * @example Mean and spread of accuracies over seeds
 * ```ts
 * import { summarize, type Summary } from "./metrics.ts";
 * const s: Summary = summarize([0.8, 0.82, 0.84]);
 * console.log(`${(s.mean * 100).toFixed(1)} +- ${(s.std * 100).toFixed(1)} (n = ${s.count})`);
 * ```
 */
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
 * import { summarize } from "./metrics.ts";
 * console.assert(summarize([1, 3]).mean === 2);
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
 * import { argmaxRows } from "./metrics.ts";
 * const probabilities = [0.1, 0.7, 0.2, 0.6, 0.3, 0.1];
 * console.log(argmaxRows(probabilities, 3)); // Int32Array [1, 0]
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
