/**
 * Attention plugins: turn the two attention heads' raw scores into the per-branch weights a_1, a_2
 * that scale each branch's logits (z_k = a_k * logits_k) and whose mean w = (a_1 + a_2) / 2 drives the
 * fusion and the rank regularisation.
 *
 * @module
 */
import { type Tensor1D, tf } from "../engine/tf.ts";
import * as v from "valibot";
import { numberOption, type OptionsSchema, parseOptions, pluginOptions } from "./options.ts";

/** The raw outputs of the two attention heads (before any sigmoid), as given to an {@linkcode Attention}. */
export interface AttentionInputs {
  /** [B] raw score of the auxiliary branch's head. */
  scores1: Tensor1D;
  /** [B] raw score of the target branch's head. */
  scores2: Tensor1D;
  /** The current training epoch, counted from 1 (absent at evaluation time). */
  epoch?: number;
}

/** Per-branch attention weights, as returned by an {@linkcode Attention}. */
export type AttentionWeights = {
  /** [B] a_1, scaling the auxiliary logits. */
  a1: Tensor1D;
  /** [B] a_2, scaling the target logits. */
  a2: Tensor1D;
};

/**
 * An attention plugin. `apply` returns new tensors owned by the caller.
 *
 * @example A custom attention: a temperature-scaled sigmoid
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import type { Attention } from "./attention.ts";
 *
 * const softSigmoid: Attention = {
 *   name: "soft-sigmoid",
 *   apply: ({ scores1, scores2 }) => ({ a1: tf.sigmoid(scores1.div(2)), a2: tf.sigmoid(scores2.div(2)) }),
 * };
 * const { a1 } = softSigmoid.apply({ scores1: tf.tensor1d([0]), scores2: tf.tensor1d([0]) });
 * assert.deepEqual(a1.arraySync(), [0.5]);
 * ```
 */
export interface Attention {
  /** The plugin's name, as in configs. */
  readonly name: string;
  /** Maps the raw head scores to the branch weights a_1, a_2 ([B] each). */
  apply(inputs: AttentionInputs): AttentionWeights;
}

/** Options of {@linkcode sigmoidAttention}. */
export interface SigmoidAttentionOptions {
  /**
   * Training epochs (from the first) during which a_k = 1, as with `none`, before the sigmoid takes
   * over. The paper starts from a pretrained face backbone; from random weights the branches' logits
   * carry no information at first, and the cross-entropy then drives every a_k towards 0 (a uniform
   * prediction beats random confident ones), which scales the logits' gradients away and stalls
   * training. A few warm-up epochs let the branches learn first. 0 is the paper's behaviour.
   *
   * @default {0}
   */
  warmupEpochs?: number;
}

/** The options schema of {@linkcode sigmoidAttention}. */
export const SIGMOID_ATTENTION_OPTIONS: OptionsSchema<Required<SigmoidAttentionOptions>> = pluginOptions(
  "sigmoidAttention",
  {
    warmupEpochs: v.optional(
      v.pipe(
        numberOption("sigmoidAttention", "warmupEpochs", 0),
        v.check(
          (n) => Number.isInteger(n) && n >= 0,
          (issue) => `sigmoidAttention: warmupEpochs must be an integer >= 0, got ${issue.input}`,
        ),
      ),
      0,
    ),
  },
);

/** The options schema of {@linkcode noAttention} (it has none). */
export const NO_ATTENTION_OPTIONS: OptionsSchema<Record<string, never>> = pluginOptions("noAttention", {});

/**
 * The Ada-DF attention (config name `sigmoid`): a_k = sigmoid(score_k), in (0, 1), optionally after
 * `warmupEpochs` epochs of a_k = 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { sigmoidAttention } from "./attention.ts";
 *
 * const { a1, a2 } = sigmoidAttention().apply({ scores1: tf.tensor1d([0]), scores2: tf.tensor1d([2]) });
 * assert.deepEqual(a1.arraySync(), [0.5]);
 * assert.ok(Math.abs(a2.arraySync()[0] - 1 / (1 + Math.exp(-2))) < 1e-6); // 0.881
 * ```
 */
export function sigmoidAttention(options: SigmoidAttentionOptions = {}): Attention {
  const { warmupEpochs: warmup } = parseOptions(SIGMOID_ATTENTION_OPTIONS, options);
  const ones = noAttention();
  return {
    name: "sigmoid",
    apply: (inputs) =>
      inputs.epoch !== undefined && inputs.epoch <= warmup
        ? ones.apply(inputs)
        : { a1: tf.sigmoid(inputs.scores1), a2: tf.sigmoid(inputs.scores2) },
  };
}

/**
 * No attention (config name `none`): a_k = 1, so the logits are used unscaled and every averaged weight
 * w is 1. The ones are tied to the scores with a zero gradient, so gradient calls that list the heads'
 * parameters still succeed (the heads simply do not move). With the `adaptive` normaliser every
 * normalised weight is then the midpoint of its range, and the `rank` regulariser is the constant
 * margin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { noAttention } from "./attention.ts";
 *
 * const { a1 } = noAttention().apply({ scores1: tf.tensor1d([-3, 5]), scores2: tf.tensor1d([0, 0]) });
 * assert.deepEqual(a1.arraySync(), [1, 1]);
 * ```
 */
export function noAttention(options: Record<string, never> = {}): Attention {
  parseOptions(NO_ATTENTION_OPTIONS, options);
  return {
    name: "none",
    apply: ({ scores1, scores2 }) =>
      tf.tidy(() => ({
        a1: scores1.mul(0).add(1) as Tensor1D,
        a2: scores2.mul(0).add(1) as Tensor1D,
      })),
  };
}
