/**
 * The face detection and landmark weights that ship in the `@vladmandic/face-api` npm package (pinned in
 * `deno.json`): where they are on disk and how a TensorFlow.js weights manifest plus its `.bin` become
 * named tensors. Nothing is downloaded at run time: the files are those of the installed package.
 *
 * | model             | files (in the package's `model/` folder)                  | what                             |
 * | ----------------- | --------------------------------------------------------- | -------------------------------- |
 * | `ssd_mobilenetv1` | `ssd_mobilenetv1_model.bin` + `-weights_manifest.json`    | SSD MobileNet v1 face detector   |
 * | `face_landmark_68`| `face_landmark_68_model.bin` + `-weights_manifest.json`   | 68 iBUG landmarks from a crop    |
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeWeightMap, type FaceModelName, type WeightMap } from "./_weight_map.ts";
// A static import keeps the package in the module graph (installed, locked) and checks that it is there.
import ssdManifestJson from "@vladmandic/face-api/model/ssd_mobilenetv1_model-weights_manifest.json" with {
  type: "json",
};

/** The version of `@vladmandic/face-api` whose weights are used (as pinned in `deno.json`). */
export const FACE_MODEL_PACKAGE = "@vladmandic/face-api@1.7.15";

/**
 * The folder of the installed package's model files (`model/`), found through the module resolution of
 * `deno.json`'s import of `@vladmandic/face-api`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packagedModelDir } from "./weights.ts";
 * assert.ok(Deno.statSync(`${packagedModelDir()}/ssd_mobilenetv1_model.bin`).size > 5_000_000);
 * ```
 */
export function packagedModelDir(): string {
  if (!Array.isArray(ssdManifestJson)) throw new Error(`${FACE_MODEL_PACKAGE}: unexpected manifest format.`);
  const file = "model/ssd_mobilenetv1_model-weights_manifest.json";
  let url: string;
  try {
    url = import.meta.resolve(`@vladmandic/face-api/${file}`);
  } catch {
    // Where the user's import map does not name the package (the library used as a dependency).
    url = import.meta.resolve(`npm:${FACE_MODEL_PACKAGE}/${file}`);
  }
  if (!url.startsWith("file:")) {
    throw new Error(`${FACE_MODEL_PACKAGE} does not resolve to files on disk (${url}).`);
  }
  return join(fileURLToPath(url), "..");
}

/**
 * Reads a model's weights manifest and `.bin` from `dir` and decodes them (uint8-quantised weights are
 * de-quantised to float32). Errors name the file at fault.
 *
 * @example
 * ```ts ignore
 * import { loadWeightMap, packagedModelDir } from "./weights.ts";
 * const weights = await loadWeightMap("face_landmark_68", packagedModelDir());
 * console.log(weights["fc/weights"].shape); // [256, 136]
 * ```
 */
export async function loadWeightMap(
  name: FaceModelName,
  dir: string = packagedModelDir(),
): Promise<WeightMap> {
  const manifestPath = join(dir, `${name}_model-weights_manifest.json`);
  let manifest: { paths: string[]; weights: unknown[] }[];
  try {
    manifest = JSON.parse(await Deno.readTextFile(manifestPath));
  } catch (e) {
    throw new Error(`${manifestPath}: cannot read the weights manifest: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (
    !Array.isArray(manifest) || manifest.some((g) => !Array.isArray(g?.paths) || !Array.isArray(g?.weights))
  ) {
    throw new Error(`${manifestPath}: not a TensorFlow.js weights manifest (a list of {paths, weights}).`);
  }
  const buffers: ArrayBuffer[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      const file = join(dir, p);
      try {
        buffers.push((await Deno.readFile(file)).slice().buffer);
      } catch (e) {
        throw new Error(`${file}: cannot read the weights: ${(e as Error).message}`, { cause: e });
      }
    }
  }
  return decodeWeightMap(manifest, buffers, manifestPath);
}
