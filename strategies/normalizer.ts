/**
 * Weight-normalisation plugins: map the averaged attention w = (a_1 + a_2) / 2 to the fusion weights
 * w' that decide how much of the class distribution each sample's target takes
 * (f_i = (1 - w'_i) l_i + w'_i c'_{y_i}).
 *
 * @module
 */
import { type Tensor1D, tf } from "../engine/tf.ts";
import { normalizeAttention } from "./functional.ts";
import { checkOptions, checkRange } from "./_options.ts";

/**
 * A weight-normalisation plugin. `normalize` returns a new tensor owned by the caller.
 *
 * @example A custom normaliser: the raw averaged attention, unchanged
 * ```ts
 * import type { WeightNormalizer } from "./normalizer.ts";
 *
 * const identity: WeightNormalizer = { name: "identity", normalize: (w) => w.clone() };
 * ```
 */
export interface WeightNormalizer {
  /** The plugin's name, as in configs. */
  readonly name: string;
  /** Maps the [B] averaged attention w to the [B] fusion weights w'. */
  normalize(attention: Tensor1D): Tensor1D;
}

/**
 * Options of {@linkcode adaptiveNormalizer}.
 *
 * @example Normalise to [0.5, 1]
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { adaptiveNormalizer, type AdaptiveNormalizerOptions } from "./normalizer.ts";
 * const options: AdaptiveNormalizerOptions = { minWeight: 0.5, maxWeight: 1 };
 * const w = adaptiveNormalizer(options).normalize(tf.tensor1d([0.2, 0.4, 0.6]));
 * console.log(w.arraySync()); // [0.5, 0.75, 1]
 * ```
 */
export interface AdaptiveNormalizerOptions {
  /**
   * w_min, the weight of the batch's least confident sample.
   *
   * @default {0.2}
   */
  minWeight?: number;
  /**
   * w_max, the weight of the batch's most confident sample.
   *
   * @default {1}
   */
  maxWeight?: number;
}

/**
 * The Ada-DF normalisation (config name `adaptive`): min-max over the batch to [minWeight, maxWeight]
 * ({@linkcode normalizeAttention}; a batch whose weights are all equal gets the midpoint).
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { adaptiveNormalizer } from "./normalizer.ts";
 *
 * const w = adaptiveNormalizer({ minWeight: 0.2, maxWeight: 1 }).normalize(tf.tensor1d([0.5, 0.9]));
 * // [0.2, 1]
 * ```
 */
export function adaptiveNormalizer(options: AdaptiveNormalizerOptions = {}): WeightNormalizer {
  const owner = "adaptiveNormalizer";
  checkOptions(owner, options, { minWeight: "number", maxWeight: "number" });
  const { minWeight = 0.2, maxWeight = 1 } = options;
  if (minWeight > maxWeight) {
    throw new Error(`${owner}: option "minWeight" (${minWeight}) must not exceed "maxWeight" (${maxWeight})`);
  }
  return {
    name: "adaptive",
    normalize: (attention) => normalizeAttention(attention, { minWeight, maxWeight }),
  };
}

/**
 * Options of {@linkcode fixedNormalizer}.
 *
 * @example Keep only the class distributions
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { fixedNormalizer, type FixedNormalizerOptions } from "./normalizer.ts";
 * import { buildPlugins } from "./registry.ts";
 * const options: FixedNormalizerOptions = { value: 1 };
 * console.log(fixedNormalizer(options).normalize(tf.tensor1d([0.3, 0.7])).arraySync()); // [1, 1]
 * const plugins = buildPlugins({ normalizer: { type: "fixed", ...options } });
 * console.assert(plugins.normalizer.name === "fixed");
 * ```
 */
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

/**
 * A constant fusion weight (config name `fixed`): w'_i = value for every sample, whatever the attention.
 * The fusion then no longer adapts per sample; the attention still scales the logits and feeds the
 * regulariser.
 *
 * @example
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { fixedNormalizer } from "./normalizer.ts";
 *
 * const w = fixedNormalizer({ value: 0.5 }).normalize(tf.tensor1d([0.1, 0.9]));
 * // [0.5, 0.5]
 * ```
 */
export function fixedNormalizer(options: FixedNormalizerOptions = {}): WeightNormalizer {
  const owner = "fixedNormalizer";
  checkOptions(owner, options, { value: "number" });
  const { value = 0.6 } = options;
  checkRange(owner, "value", value, 0, 1);
  return {
    name: "fixed",
    normalize: (attention) => tf.fill([attention.shape[0]], value, "float32") as Tensor1D,
  };
}
