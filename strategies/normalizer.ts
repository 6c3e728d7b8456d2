/**
 * Weight-normalisation plugins: map the averaged attention w = (a_1 + a_2) / 2 to the fusion weights
 * w' that decide how much of the class distribution each sample's target takes
 * (f_i = (1 - w'_i) l_i + w'_i c'_{y_i}).
 *
 * @module
 */
import { type Tensor1D, tf } from "../engine/tf.ts";
import { normalizeAttention } from "./functional.ts";
import * as v from "valibot";
import { numberOption, type OptionsSchema, parseOptions, pluginOptions } from "./options.ts";

/**
 * A weight-normalisation plugin. `normalize` returns a new tensor owned by the caller.
 *
 * @example A custom normaliser: the raw averaged attention, unchanged
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import type { WeightNormalizer } from "./normalizer.ts";
 *
 * const identity: WeightNormalizer = { name: "identity", normalize: (w) => w.clone() };
 * assert.deepEqual(identity.normalize(tf.tensor1d([0.25, 0.5])).arraySync(), [0.25, 0.5]);
 * ```
 */
export interface WeightNormalizer {
  /** The plugin's name, as in configs. */
  readonly name: string;
  /** Maps the [B] averaged attention w to the [B] fusion weights w'. */
  normalize(attention: Tensor1D): Tensor1D;
}

/** Options of {@linkcode adaptiveNormalizer}. */
export interface AdaptiveNormalizerOptions {
  /**
   * w_min, the weight of the batch's least confident sample, in [0, 1].
   *
   * @default {0.2}
   */
  minWeight?: number;
  /**
   * w_max, the weight of the batch's most confident sample, in [0, 1] (and at least w_min).
   *
   * @default {1}
   */
  maxWeight?: number;
}

/** The options schema of {@linkcode adaptiveNormalizer}. */
export const ADAPTIVE_NORMALIZER_OPTIONS: OptionsSchema<Required<AdaptiveNormalizerOptions>> = pluginOptions(
  "adaptiveNormalizer",
  {
    minWeight: numberOption("adaptiveNormalizer", "minWeight", 0.2, [0, 1]),
    maxWeight: numberOption("adaptiveNormalizer", "maxWeight", 1, [0, 1]),
  },
  v.forward(
    v.check(
      ({ minWeight, maxWeight }) => minWeight <= maxWeight,
      (issue) => {
        const { minWeight, maxWeight } = issue.input as Required<AdaptiveNormalizerOptions>;
        return `adaptiveNormalizer: option "minWeight" (${minWeight}) must not exceed "maxWeight" (${maxWeight})`;
      },
    ),
    ["minWeight"],
  ) as v.GenericValidation<Required<AdaptiveNormalizerOptions>>,
);

/**
 * The Ada-DF normalisation (config name `adaptive`): min-max over the batch to [minWeight, maxWeight]
 * ({@linkcode normalizeAttention}; a batch whose weights are all equal gets the midpoint).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { adaptiveNormalizer } from "./normalizer.ts";
 *
 * const w = adaptiveNormalizer({ minWeight: 0.2, maxWeight: 1 }).normalize(tf.tensor1d([0.5, 0.9]));
 * const round = (xs: number[]) => xs.map((v) => Math.round(v * 1e4) / 1e4);
 * assert.deepEqual(round(w.arraySync()), [0.2, 1]);
 * ```
 */
export function adaptiveNormalizer(options: AdaptiveNormalizerOptions = {}): WeightNormalizer {
  const { minWeight, maxWeight } = parseOptions(ADAPTIVE_NORMALIZER_OPTIONS, options);
  return {
    name: "adaptive",
    normalize: (attention) => normalizeAttention(attention, { minWeight, maxWeight }),
  };
}

/** Options of {@linkcode fixedNormalizer}. */
export interface FixedNormalizerOptions {
  /**
   * The weight w' of every sample, in [0, 1]: 0 keeps the label distributions, 1 the class
   * distributions. The default is the midpoint of the adaptive range [0.2, 1], the weight the
   * `adaptive` normaliser gives when it cannot tell samples apart.
   *
   * @default {0.6}
   */
  value?: number;
}

/** The options schema of {@linkcode fixedNormalizer}. */
export const FIXED_NORMALIZER_OPTIONS: OptionsSchema<Required<FixedNormalizerOptions>> = pluginOptions(
  "fixedNormalizer",
  { value: numberOption("fixedNormalizer", "value", 0.6, [0, 1]) },
);

/**
 * A constant fusion weight (config name `fixed`): w'_i = value for every sample, whatever the attention.
 * The fusion then no longer adapts per sample; the attention still scales the logits and feeds the
 * regulariser.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { fixedNormalizer } from "./normalizer.ts";
 *
 * const w = fixedNormalizer({ value: 0.5 }).normalize(tf.tensor1d([0.1, 0.9]));
 * assert.deepEqual(w.arraySync(), [0.5, 0.5]);
 * ```
 */
export function fixedNormalizer(options: FixedNormalizerOptions = {}): WeightNormalizer {
  const { value } = parseOptions(FIXED_NORMALIZER_OPTIONS, options);
  return {
    name: "fixed",
    normalize: (attention) => tf.fill([attention.shape[0]], value, "float32") as Tensor1D,
  };
}
