/**
 * Regulariser plugins: an extra loss term on the attention weights, added to the total as is.
 *
 * @module
 */
import { type Scalar, type Tensor1D, tf } from "../engine/tf.ts";
import { rankRegularization } from "./functional.ts";
import { numberOption, type OptionsSchema, parseOptions, pluginOptions } from "./options.ts";

/** What a {@linkcode Regularizer} may use. */
export interface RegularizerInputs {
  /** [B] averaged attention weights w_i = (a_1,i + a_2,i) / 2, before normalisation. */
  attention: Tensor1D;
  /** [B] normalised fusion weights w'_i. */
  weights: Tensor1D;
  /** int32 [B] class of each sample. */
  labels: Tensor1D;
  /**
   * The nominal batch size (number of images); equals B unless several crops per image are stacked
   * in the batch.
   */
  batchSize: number;
}

/**
 * A regulariser. `loss` returns a new scalar owned by the caller.
 *
 * @example A custom regulariser: keep the mean attention near 0.5
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import type { Regularizer } from "./regularizer.ts";
 *
 * const centred: Regularizer = {
 *   name: "centred",
 *   loss: ({ attention }) => tf.tidy(() => attention.mean().sub(0.5).square() as tf.Scalar),
 * };
 * const w = tf.tensor1d([0.5, 0.5]);
 * assert.equal(centred.loss({ attention: w, weights: w, labels: tf.tensor1d([0, 1], "int32"), batchSize: 2 })
 *   .arraySync(), 0);
 * ```
 */
export interface Regularizer {
  /** The plugin's name, as in configs. */
  readonly name: string;
  /** The scalar loss term of the batch. */
  loss(inputs: RegularizerInputs): Scalar;
}

/** Options of {@linkcode rankRegularizer}. */
export interface RankRegularizerOptions {
  /**
   * The fraction of the batch in the high-weight group.
   *
   * @default {0.7}
   */
  ratio?: number;
  /**
   * delta, the required gap between the high and the low group's mean weight, in [0, 1] (SCN's paper
   * uses 0.15).
   *
   * @default {0.07}
   */
  margin?: number;
}

/** The options schema of {@linkcode rankRegularizer}. */
export const RANK_REGULARIZER_OPTIONS: OptionsSchema<Required<RankRegularizerOptions>> = pluginOptions(
  "rankRegularizer",
  {
    ratio: numberOption("rankRegularizer", "ratio", 0.7, [0, 1]),
    margin: numberOption("rankRegularizer", "margin", 0.07, [0, 1]),
  },
);

/** The options schema of {@linkcode noRegularizer} (it has none). */
export const NO_REGULARIZER_OPTIONS: OptionsSchema<Record<string, never>> = pluginOptions(
  "noRegularizer",
  {},
);

/**
 * SCN's rank regularisation (config name `rank`), as in the reference: max(0, margin - (w_H - w_L)) on
 * the averaged attention ({@linkcode rankRegularization}); the split uses the nominal batch size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { rankRegularizer } from "./regularizer.ts";
 *
 * const attention = tf.tensor1d([0.5, 0.52, 0.54, 0.56]);
 * const rr = rankRegularizer({ ratio: 0.5 }).loss({
 *   attention, weights: attention, labels: tf.tensor1d([0, 0, 1, 1], "int32"), batchSize: 4,
 * });
 * // 0.07 - (0.55 - 0.51) = 0.03
 * assert.ok(Math.abs(rr.arraySync() - 0.03) < 1e-6);
 * ```
 */
export function rankRegularizer(options: RankRegularizerOptions = {}): Regularizer {
  const { ratio, margin } = parseOptions(RANK_REGULARIZER_OPTIONS, options);
  return {
    name: "rank",
    loss: ({ attention, batchSize }) => rankRegularization(attention, { ratio, margin, batchSize }),
  };
}

/**
 * No regularisation (config name `none`): a zero loss.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { noRegularizer } from "./regularizer.ts";
 *
 * const w = tf.tensor1d([0.1, 0.9]);
 * const rr = noRegularizer().loss({ attention: w, weights: w, labels: tf.tensor1d([0, 1], "int32"), batchSize: 2 });
 * assert.equal(rr.arraySync(), 0);
 * ```
 */
export function noRegularizer(options: Record<string, never> = {}): Regularizer {
  parseOptions(NO_REGULARIZER_OPTIONS, options);
  return { name: "none", loss: () => tf.scalar(0) };
}
