/**
 * The single TensorFlow.js namespace that the whole library uses.
 *
 * Every module imports `tf` from here, so that users and the library share one engine instance
 * (one backend registry, one memory tracker).
 *
 * Importing it chooses no backend: `initBackend` (`backend.ts`) does. Code that uses `tf` before
 * `initBackend` gets TensorFlow.js's own lazy choice, its highest-priority registered backend: `cpu`, the
 * only one registered on import (the others' packages are imported by `initBackend`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

export { tf };

// Names for the TensorFlow.js types in the library's public signatures, so that its documentation can
// link them (documentation tools treat types reached only through an npm package as private).

/** A tensor of any rank: TensorFlow.js's `tf.Tensor`. */
export type Tensor = tf.Tensor;
/** A rank-0 tensor (a loss value): TensorFlow.js's `tf.Scalar`. */
export type Scalar = tf.Scalar;
/** A rank-1 tensor (labels, attention weights): TensorFlow.js's `tf.Tensor1D`. */
export type Tensor1D = tf.Tensor1D;
/** A rank-2 tensor (logits, distributions): TensorFlow.js's `tf.Tensor2D`. */
export type Tensor2D = tf.Tensor2D;
/** A rank-4 tensor (NHWC images, feature maps): TensorFlow.js's `tf.Tensor4D`. */
export type Tensor4D = tf.Tensor4D;
/** A mutable tensor (model parameters, optimiser moments): TensorFlow.js's `tf.Variable`. */
export type Variable = tf.Variable;
/** A TensorFlow.js Layers model (what `deno task export` writes): TensorFlow.js's `tf.LayersModel`. */
export type LayersModel = tf.LayersModel;
