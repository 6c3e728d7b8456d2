/**
 * One optimisation step of the dual-branch model: the frozen stem outside the gradient tape, both
 * branches and the objective inside it, then Adam's update of the trainable parameters.
 *
 * @module
 */
import { type Scalar, type Tensor, type Tensor4D, tf } from "../engine/tf.ts";
import type { AdaDfModel, AdaDfOutputs } from "../backbones/adadf.ts";
import type { ForwardMode } from "../backbones/layers.ts";
import type { Adam } from "./optim.ts";

/** What an objective returns: the scalar to minimise; further fields go back to the caller. */
export interface StepObjectiveResult {
  /** The loss to minimise. */
  total: Scalar;
}

/** Options of {@linkcode trainStep}. */
export interface TrainStepOptions {
  /**
   * How the frozen stem runs. The paper freezes its parameters but keeps it in training mode (batch
   * statistics and running-average updates); `{ training: false }` uses its running statistics.
   * @default {{ training: true }}
   */
  stemMode?: ForwardMode;
}

/**
 * Runs one training step and returns the objective's result; its tensors are kept and owned by the
 * caller (release them with {@linkcode disposeOutputs}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { Adam } from "./optim.ts";
 * import { disposeOutputs, trainStep } from "./step.ts";
 *
 * const model = new AdaDfModel("tiny", { numClasses: 3 });
 * const out = trainStep(model, new Adam(), tf.zeros([2, 32, 32, 3]), (o) => ({
 *   total: tf.mean(tf.square(o.targetLogits)) as tf.Scalar,
 * }));
 * assert.ok(out.total.dataSync()[0] >= 0); // a mean of squares
 * const optimizer = new Adam();
 * trainStep(model, optimizer, tf.zeros([2, 32, 32, 3]), (o) => ({ total: tf.mean(o.targetLogits) as tf.Scalar }));
 * assert.equal(optimizer.step, 1); // one update of the parameters
 * disposeOutputs(out);
 * ```
 */
export function trainStep<R extends StepObjectiveResult>(
  model: AdaDfModel,
  optimizer: Adam,
  images: Tensor4D,
  objective: (outputs: AdaDfOutputs) => R,
  options: TrainStepOptions = {},
): R {
  const stemMode = options.stemMode ?? { training: true };
  const trainable = new Map([...model.params].filter(([, v]) => v.trainable));
  const nameOf = new Map([...trainable].map(([name, v]) => [v.name, name]));
  let kept: R | undefined;
  tf.tidy(() => {
    // The frozen stem needs no gradient: computing it outside the tape keeps the tape small.
    const features = model.freezeStem ? model.stem(images, stemMode) : undefined;
    const { grads } = tf.variableGrads(() => {
      const outputs = model.branches(features ?? model.stem(images, { training: true }), { training: true });
      const result = objective(outputs);
      for (const v of Object.values(result)) if (v instanceof tf.Tensor) tf.keep(v);
      kept = result;
      return result.total;
    }, [...trainable.values()]);
    const named = new Map<string, Tensor>();
    for (const [varName, g] of Object.entries(grads)) named.set(nameOf.get(varName)!, g);
    optimizer.update(trainable, named);
  });
  return kept!;
}

/**
 * Disposes every tensor of a step's result.
 *
 * @example Free every tensor of a result object
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { disposeOutputs } from "./step.ts";
 * const before = tf.memory().numTensors;
 * const result = { total: tf.scalar(1), extra: tf.ones([2]), note: "kept" };
 * disposeOutputs(result);
 * assert.equal(tf.memory().numTensors, before);
 * ```
 */
export function disposeOutputs(outputs: object): void {
  tf.dispose(Object.values(outputs).filter((v): v is Tensor => v instanceof tf.Tensor));
}
