/**
 * The engine layer: the TensorFlow.js namespace the library shares with its users, the choice and
 * set-up of its backend (wasm, webgpu, tensorflow, cpu), the training kernels the wasm backend lacks,
 * seeded randomness, and atomic file writes.
 *
 * @example Pick a backend and draw reproducible numbers
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend, Random, tf } from "./mod.ts";
 *
 * const info = await initBackend("cpu");
 * assert.equal(info.name, "cpu");
 * assert.equal(tf.getBackend(), "cpu");
 * assert.equal(new Random(7).next(), new Random(7).next());
 * ```
 *
 * @module
 */
import { tf as tfNamespace } from "./tf.ts";

/**
 * The TensorFlow.js namespace (`@tensorflow/tfjs` 4.22) the library uses: create the tensors you give
 * to the library's functions with it, so that both share one engine and one backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "./mod.ts";
 * assert.equal(tf.tensor2d([[1, 2], [3, 4]]).sum().dataSync()[0], 10);
 * ```
 */
export const tf: typeof tfNamespace = tfNamespace;
export type { LayersModel, Scalar, Tensor, Tensor1D, Tensor2D, Tensor4D, Variable } from "./tf.ts";
export * from "./backend.ts";
export * from "./wasm_kernels.ts";
export * from "./random.ts";
export * from "./files.ts";
