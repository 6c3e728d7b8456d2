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
 * @module
 */
export { tf } from "./engine/tf.ts";
export * from "./engine/backend.ts";
export * from "./engine/wasm_kernels.ts";
export * from "./backbones/layers.ts";
export * from "./backbones/resnet.ts";
export * from "./backbones/adadf.ts";
export * from "./core/step.ts";
export * from "./core/random.ts";
export * from "./core/math.ts";
export * from "./strategies/mod.ts";
