/**
 * Synthetic label noise (SCN/DMUE protocol, paper section 4.6): a fraction of the training labels is
 * replaced by a different class drawn uniformly, and the flipped indices are kept so that evaluation
 * can tell clean samples from noisy ones.
 *
 * @module
 */
import { Random } from "../engine/random.ts";

/** Options of {@linkcode applyLabelNoise}. */
export interface LabelNoiseOptions {
  /** Fraction of labels to flip, 0..1; exactly `round(fraction * N)` are flipped. */
  fraction: number;
  /** Number of classes (labels are `0..numClasses - 1`). */
  numClasses: number;
  /**
   * Seed of the choice of indices and new classes.
   * @default 0
   */
  seed?: number;
}

/** The noisy labels and which of them were flipped. */
export interface LabelNoiseResult {
  /** The new labels (a copy; the input is untouched). */
  labels: Int32Array;
  /** Indices whose label was changed, ascending. */
  flipped: Int32Array;
  /** 1 where the label was changed, 0 elsewhere. */
  isFlipped: Uint8Array;
}

/**
 * Flips exactly `round(fraction * N)` labels, chosen uniformly without replacement, each to a class
 * drawn uniformly among the other `numClasses - 1`.
 *
 * @example Flip 20% of the labels
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyLabelNoise } from "./label_noise.ts";
 * const labels = new Int32Array(100);
 * const noisy = applyLabelNoise(labels, { fraction: 0.2, numClasses: 7, seed: 1 });
 * assert.equal(noisy.flipped.length, 20);
 * assert.equal(noisy.labels.filter((l) => l !== 0).length, 20);
 * ```
 */
export function applyLabelNoise(labels: ArrayLike<number>, options: LabelNoiseOptions): LabelNoiseResult {
  const { fraction, numClasses } = options;
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`label noise fraction ${fraction} not in 0..1`);
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new RangeError(`label noise needs at least 2 classes, got ${numClasses}`);
  }
  const n = labels.length;
  const out = Int32Array.from(labels);
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(out[i]) || out[i] < 0 || out[i] >= numClasses || out[i] !== labels[i]) {
      throw new RangeError(`label ${labels[i]} at ${i} out of range 0..${numClasses - 1}`);
    }
  }
  const count = Math.round(fraction * n);
  const random = new Random(options.seed ?? 0);
  const pool = Int32Array.from({ length: n }, (_, i) => i);
  for (let k = 0; k < count; k++) {
    const j = k + random.int(n - k);
    const t = pool[k];
    pool[k] = pool[j];
    pool[j] = t;
  }
  const flipped = pool.slice(0, count).sort();
  const isFlipped = new Uint8Array(n);
  for (const i of flipped) {
    const r = random.int(numClasses - 1);
    out[i] = r >= out[i] ? r + 1 : r;
    isFlipped[i] = 1;
  }
  return { labels: out, flipped, isFlipped };
}
