/**
 * Test helper: the Ada-DF objective as a function of the four raw head outputs (auxiliary and target
 * logits, the two attention scores), the rest of the batch fixed, as `tf.grads` differentiates it.
 *
 * @module
 */
import type { tf } from "../engine/tf.ts";
import {
  computeObjective,
  type ObjectiveBatch,
  type ObjectiveOptions,
  type ObjectivePlugins,
  type ObjectiveResult,
} from "../strategies/objective.ts";

/** The batch without its head outputs. */
export type FixedBatch = Omit<ObjectiveBatch, "auxLogits" | "targetLogits" | "scores1" | "scores2">;

/** `computeObjective` of `(auxLogits, targetLogits, scores1, scores2)` with `batch` and `options` fixed. */
export function objectiveOfHeads(
  plugins: ObjectivePlugins,
  batch: FixedBatch,
  options: ObjectiveOptions,
): (f1: tf.Tensor, f2: tf.Tensor, c1: tf.Tensor, c2: tf.Tensor) => ObjectiveResult {
  return (f1, f2, c1, c2) =>
    computeObjective(plugins, {
      ...batch,
      auxLogits: f1 as tf.Tensor2D,
      targetLogits: f2 as tf.Tensor2D,
      scores1: c1 as tf.Tensor1D,
      scores2: c2 as tf.Tensor1D,
    }, options);
}
