/**
 * The networks: ResNet18/50 (and a small and a tiny one for quick runs) and the face-recognition
 * ResNet-29, each as a shared stem and a branch; the dual-branch Ada-DF model built from them; the
 * functional layers they are made of (PyTorch semantics, NHWC tensors); the input normalisations; and
 * the import of PyTorch state_dicts into them.
 *
 * @example The parameters of each backbone, and a forward pass of the tiny one
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel, BACKBONES, countParameters } from "./mod.ts";
 * import { tf } from "../engine/tf.ts";
 *
 * for (const name of ["resnet18", "resnet50", "small", "tiny"] as const) assert.ok(BACKBONES.includes(name));
 * const model = new AdaDfModel("tiny", { numClasses: 7 });
 * assert.ok(countParameters(model) > 0);
 * const out = model.forward(tf.zeros([2, 32, 32, 3]), { training: false });
 * assert.deepEqual(out.targetLogits.shape, [2, 7]);
 * model.dispose();
 * ```
 *
 * @module
 */
export * from "./layers.ts";
export * from "./resnet.ts";
export * from "./face_resnet29.ts";
export * from "./normalization.ts";
export * from "./adadf.ts";
export * from "./state_dict.ts";
