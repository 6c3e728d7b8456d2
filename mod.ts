/**
 * ada-df: facial expression recognition with label distribution learning, on TensorFlow.js, for Deno.
 *
 * Its first method is Ada-DF (an adaptive label distribution fusion network): a frozen ResNet stem, an
 * auxiliary branch that mines label and class distributions, and a target branch trained on their
 * attention-weighted fusion. Every part is a plugin; the math is exported as pure tensor functions.
 *
 * @example Build the Ada-DF model and run it
 * ```ts
 * import { AdaDfModel, initBackend, tf } from "./mod.ts";
 *
 * await initBackend("cpu");
 * const model = new AdaDfModel("tiny", { numClasses: 7 });
 * const out = model.forward(tf.zeros([1, 32, 32, 3]), { training: false });
 * console.log(out.targetLogits.shape); // [1, 7]
 * model.dispose();
 * ```
 *
 * @example The fused distribution of two samples
 * ```ts
 * import { fuseDistributions, tf } from "./mod.ts";
 *
 * const fused = fuseDistributions({
 *   labelDistributions: tf.tensor2d([[0.6, 0.4], [0.5, 0.5]]),
 *   classDistributions: tf.tensor2d([[0.8, 0.2], [0.3, 0.7]]),
 *   labels: tf.tensor1d([0, 1], "int32"),
 *   weights: tf.tensor1d([1, 0.2]),
 * });
 * console.log(fused.arraySync()); // [[0.8, 0.2], [0.46, 0.54]]
 * ```
 *
 * @module
 */
import { tf as tfNamespace } from "./engine/tf.ts";

/**
 * The TensorFlow.js namespace (`@tensorflow/tfjs` 4.22) the library uses: create the tensors you give
 * to the library's functions with it, so that both share one engine and one backend.
 *
 * @example
 * ```ts
 * import { tf } from "./mod.ts";
 * const x = tf.tensor2d([[1, 2], [3, 4]]);
 * console.log(x.sum().dataSync()[0]); // 10
 * ```
 */
export const tf: typeof tfNamespace = tfNamespace;
export type { LayersModel, Scalar, Tensor, Tensor1D, Tensor2D, Tensor4D, Variable } from "./engine/tf.ts";
export * from "./engine/backend.ts";
export * from "./engine/wasm_kernels.ts";
export * from "./backbones/layers.ts";
export * from "./backbones/resnet.ts";
export * from "./backbones/adadf.ts";
export * from "./engine/random.ts";
export * from "./strategies/functional.ts";
export * from "./training/optim.ts";
export * from "./training/step.ts";
export * from "./training/metrics.ts";
export * from "./training/evaluate.ts";
export * from "./training/trainer.ts";
export * from "./experiments/config.ts";
export * from "./strategies/mod.ts";
export * from "./datasets/mod.ts";
export * from "./formats/safetensors.ts";
export * from "./formats/pytorch.ts";
export * from "./backbones/state_dict.ts";
export * from "./training/checkpoint.ts";
export * from "./experiments/export.ts";
export * from "./experiments/inference.ts";
