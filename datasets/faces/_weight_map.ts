/**
 * Named weight tensors of the packaged face networks, without file access (so that it also runs in a
 * browser): decoding a TensorFlow.js weights manifest and its bytes, and checked look-ups.
 *
 * @module
 */
import { type Tensor, tf } from "../../engine/tf.ts";

/** The packaged models. */
export type FaceModelName = "ssd_mobilenetv1" | "face_landmark_68";

/** Named tensors of one model, keyed by the manifest's weight names. */
export type WeightMap = Record<string, Tensor>;

/**
 * Decodes a weights manifest (the parsed `*-weights_manifest.json`) and the bytes of its files, in the
 * manifest's order (uint8-quantised weights are de-quantised to float32). `where` names the manifest in
 * errors.
 */
export function decodeWeightMap(
  manifest: unknown,
  buffers: readonly ArrayBuffer[],
  where: string,
): WeightMap {
  const groups = manifest as tf.io.WeightsManifestConfig;
  if (!Array.isArray(groups) || groups.some((g) => !Array.isArray(g?.paths) || !Array.isArray(g?.weights))) {
    throw new Error(`${where}: not a TensorFlow.js weights manifest (a list of {paths, weights}).`);
  }
  const files = groups.reduce((n, g) => n + g.paths.length, 0);
  if (files !== buffers.length) throw new Error(`${where}: ${files} weight files, ${buffers.length} given.`);
  try {
    return tf.io.decodeWeights(
      tf.io.concatenateArrayBuffers([...buffers]),
      groups.flatMap((g) => g.weights),
    ) as WeightMap;
  } catch (e) {
    throw new Error(`${where}: cannot decode the weights: ${(e as Error).message}`, { cause: e });
  }
}

/** Disposes every tensor of a weight map. */
export function disposeWeights(weights: WeightMap): void {
  for (const t of Object.values(weights)) t.dispose();
}

/**
 * The tensor `name` of `weights`, checked to have `rank` dimensions; the error names the model and the
 * weight.
 */
export function weight<T extends Tensor>(
  weights: WeightMap,
  model: FaceModelName,
  name: string,
  rank: number,
): T {
  const t = weights[name];
  if (!t) throw new Error(`${model}: the weights have no tensor "${name}".`);
  if (t.rank !== rank) throw new Error(`${model}: "${name}" has shape [${t.shape}], expected rank ${rank}.`);
  return t as T;
}
