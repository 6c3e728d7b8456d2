/**
 * File formats, with no dependency on the rest of the library: safetensors (read and write), the
 * restricted reader of PyTorch's `.pth` checkpoints (zip + a pickle subset that never runs code), and
 * the dtypes and state_dict shapes they share.
 *
 * @example Write a state_dict as safetensors and read it back
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors, type StateDict } from "./mod.ts";
 *
 * const weights: StateDict = new Map([
 *   ["fc.weight", { dtype: "float32", shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }],
 * ]);
 * const { tensors } = decodeSafetensors(encodeSafetensors(weights));
 * assert.deepEqual(tensors.get("fc.weight")?.shape, [2, 2]);
 * assert.deepEqual([...tensors.get("fc.weight")!.data], [1, 2, 3, 4]);
 * ```
 *
 * @module
 */
export * from "./safetensors.ts";
export * from "./pytorch.ts";
