/**
 * The browser side of the faces page (`faces.html`): the library's own face detector, landmark network and
 * five-point alignment geometry (`datasets/faces/`), with the TensorFlow.js they run on. `build_faces.ts`
 * bundles this module into `faces.bundle.js` beside an export, so the page runs the same code as
 * `deno task predict`; only the image warp differs (a canvas transform in the page, sharp in Deno).
 *
 * @module
 */
import { tf } from "../../engine/tf.ts";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { FaceDetector } from "../../datasets/faces/detector.ts";
import { LandmarkNet } from "../../datasets/faces/landmarks.ts";
import { decodeWeightMap, type FaceModelName } from "../../datasets/faces/_weight_map.ts";
import { type FivePoints, fivePointsFrom68, type Point } from "../../datasets/faces/geometry.ts";
import type { FaceBox } from "../../datasets/faces/detector.ts";
import type { RgbImage } from "../../datasets/transforms.ts";

export { tf };

/**
 * Makes TensorFlow.js's `wasm` backend (bundled here, registered on import) load its `.wasm` binaries from
 * `base`, the folder `build_faces.ts` copies them into (`wasm/` beside the export); then
 * `tf.setBackend("wasm")` starts it. On machines without WebGL, wasm is several times faster than `cpu`.
 *
 * @example
 * ```ts ignore
 * import { tf, useWasm } from "./faces.ts";
 * useWasm(new URL("./model/wasm/", location.href));
 * await tf.setBackend("wasm");
 * ```
 */
export function useWasm(base: string | URL): void {
  const url = new URL(base);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  setWasmPaths(url.href);
}
export { FaceDetector, LandmarkNet };
export { alignmentTransform, checkTemplate, DEFAULT_TEMPLATE } from "../../datasets/faces/geometry.ts";

/** The face networks of the page. */
export interface FaceModels {
  /** The detector. */
  detector: FaceDetector;
  /** The landmark network. */
  landmarks: LandmarkNet;
}

/** One face found by {@linkcode findFaces}. */
export interface FoundFace {
  /** The box in the image's pixels. */
  box: FaceBox;
  /** The detection score. */
  score: number;
  /** The 68 landmarks. */
  landmarks: Point[];
  /** The five alignment points. */
  points: FivePoints;
}

async function fetchModel(base: URL, name: FaceModelName) {
  const manifestUrl = new URL(`${name}_model-weights_manifest.json`, base);
  const response = await fetch(manifestUrl);
  if (!response.ok) throw new Error(`${manifestUrl}: HTTP ${response.status}`);
  const manifest = await response.json() as { paths: string[] }[];
  const buffers: ArrayBuffer[] = [];
  for (const group of manifest) {
    for (const path of group.paths) {
      const url = new URL(path, base);
      const r = await fetch(url);
      if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
      buffers.push(await r.arrayBuffer());
    }
  }
  return decodeWeightMap(manifest, buffers, manifestUrl.href);
}

/**
 * Fetches and decodes the detector and landmark weights from a folder URL holding face-api's model files
 * (as `build_faces.ts` copies them).
 *
 * @example
 * ```ts ignore
 * import { loadFaceModels } from "./faces.ts";
 * const models = await loadFaceModels(new URL("./model/face-models/", location.href));
 * ```
 */
export async function loadFaceModels(base: string | URL): Promise<FaceModels> {
  const url = new URL(base);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  const detector = FaceDetector.fromWeights(await fetchModel(url, "ssd_mobilenetv1"));
  try {
    return { detector, landmarks: LandmarkNet.fromWeights(await fetchModel(url, "face_landmark_68")) };
  } catch (e) {
    detector.dispose();
    throw e;
  }
}

/** RGB bytes from canvas RGBA pixels (`ImageData.data`). */
export function rgbFromRgba(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return { data, width, height };
}

/**
 * The faces of an image with their landmarks and five alignment points, best detection score first, as
 * `FaceAnalyzer.detect` finds them in Deno.
 *
 * @example
 * ```ts ignore
 * import { findFaces, loadFaceModels, rgbFromRgba } from "./faces.ts";
 * const models = await loadFaceModels("https://example.org/model/face-models/");
 * const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
 * const faces = await findFaces(models, rgbFromRgba(pixels.data, pixels.width, pixels.height));
 * ```
 */
export async function findFaces(
  models: FaceModels,
  image: RgbImage,
  options: { minConfidence?: number } = {},
): Promise<FoundFace[]> {
  const detections = await models.detector.detect(image, options);
  const landmarks = await models.landmarks.landmarks(image, detections.map((d) => d.box));
  return detections.map((d, i) => ({
    box: d.box,
    score: d.score,
    landmarks: landmarks[i],
    points: fivePointsFrom68(landmarks[i]),
  }));
}
