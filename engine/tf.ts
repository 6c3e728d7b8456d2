/**
 * The single TensorFlow.js namespace that the whole library uses.
 *
 * Every module imports `tf` from here, so that users and the library share one engine instance
 * (one backend registry, one memory tracker).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

// The cpu backend greets Node-like hosts with advice to install tfjs-node on its first write; the
// library picks backends itself (engine/backend.ts), so the greeting is turned off.
// `setBackend("cpu")` completes synchronously (the cpu backend has no async initialisation).
void tf.setBackend("cpu");
const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
if (cpu) cpu.firstUse = false;

export { tf };

// Names for the TensorFlow.js types in the library's public signatures, so that its documentation can
// link them (documentation tools treat types reached only through an npm package as private).

/**
 * A tensor of any rank: TensorFlow.js's `tf.Tensor`.
 *
 * @example
 * ```ts
 * import { type Tensor, tf } from "./tf.ts";
 * const x: Tensor = tf.zeros([2, 3, 4]);
 * console.assert(x.rank === 3);
 * ```
 */
export type Tensor = tf.Tensor;
/**
 * A rank-0 tensor (a loss value): TensorFlow.js's `tf.Scalar`.
 *
 * @example
 * ```ts
 * import { type Scalar, tf } from "./tf.ts";
 * const loss: Scalar = tf.scalar(0.5);
 * console.assert(loss.dataSync()[0] === 0.5);
 * ```
 */
export type Scalar = tf.Scalar;
/**
 * A rank-1 tensor (labels, attention weights): TensorFlow.js's `tf.Tensor1D`.
 *
 * @example
 * ```ts
 * import { type Tensor1D, tf } from "./tf.ts";
 * const labels: Tensor1D = tf.tensor1d([0, 3, 6], "int32");
 * console.assert(labels.shape[0] === 3);
 * ```
 */
export type Tensor1D = tf.Tensor1D;
/**
 * A rank-2 tensor (logits, distributions): TensorFlow.js's `tf.Tensor2D`.
 *
 * @example
 * ```ts
 * import { type Tensor2D, tf } from "./tf.ts";
 * const probs: Tensor2D = tf.softmax(tf.zeros([4, 7]));
 * console.assert(probs.shape[1] === 7);
 * ```
 */
export type Tensor2D = tf.Tensor2D;
/**
 * A rank-4 tensor (NHWC images, feature maps): TensorFlow.js's `tf.Tensor4D`.
 *
 * @example
 * ```ts
 * import { type Tensor4D, tf } from "./tf.ts";
 * const images: Tensor4D = tf.zeros([2, 112, 112, 3]);
 * console.assert(images.shape[3] === 3);
 * ```
 */
export type Tensor4D = tf.Tensor4D;
/**
 * A mutable tensor (model parameters, optimiser moments): TensorFlow.js's `tf.Variable`.
 *
 * @example
 * ```ts
 * import { tf, type Variable } from "./tf.ts";
 * const w: Variable = tf.variable(tf.ones([3]));
 * w.assign(tf.zeros([3]));
 * console.assert(w.dataSync()[0] === 0);
 * ```
 */
export type Variable = tf.Variable;
/**
 * A TensorFlow.js Layers model (what `deno task export` writes): TensorFlow.js's `tf.LayersModel`.
 *
 * @example
 * ```ts
 * import { type LayersModel, tf } from "./tf.ts";
 * const model: LayersModel = tf.sequential({ layers: [tf.layers.dense({ units: 7, inputShape: [4] })] });
 * console.assert(model.outputs[0].shape[1] === 7);
 * ```
 */
export type LayersModel = tf.LayersModel;
