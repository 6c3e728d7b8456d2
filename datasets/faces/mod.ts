/**
 * Real faces in photos: detection (SSD MobileNet v1), 68-point landmarks, and five-point similarity
 * alignment onto a canonical template at any size, with the detector and landmark weights that ship in
 * the `@vladmandic/face-api` npm package (nothing is downloaded at run time) and sharp for the warp.
 *
 * @example Find and align every face of a photo
 * ```ts ignore
 * import { decodePhoto, FaceAnalyzer } from "./mod.ts";
 * const analyzer = await FaceAnalyzer.load();
 * const photo = await decodePhoto("group.jpg");
 * for (const face of await analyzer.detect(photo)) {
 *   const { image } = await analyzer.align(photo, face, { size: 100 });
 *   console.log(face.box, face.score, image.width);
 * }
 * analyzer.dispose();
 * ```
 *
 * @module
 */
import sharp from "sharp";
import type { RgbImage } from "../transforms.ts";
import { DatasetError } from "../types.ts";
import {
  type AlignedFace,
  alignFace,
  type AlignOptions,
  type FivePoints,
  fivePointsFrom68,
} from "./align.ts";
import { type DetectOptions, type FaceBox, FaceDetector } from "./detector.ts";
import { LandmarkNet } from "./landmarks.ts";
import type { Point } from "./geometry.ts";

export * from "./align.ts";
export * from "./annotate.ts";
export * from "./detector.ts";
export * from "./landmarks.ts";
import { loadWeightMap } from "./weights.ts";

export { FACE_MODEL_PACKAGE, loadWeightMap, packagedModelDir } from "./weights.ts";
export { decodeWeightMap, disposeWeights, type FaceModelName, type WeightMap } from "./_weight_map.ts";
export type { Rgb, RgbImage } from "../transforms.ts";

/** A face found in a photo. */
export interface Face {
  /** The detector's box, in photo pixels. */
  box: FaceBox;
  /** The detector's confidence, 0..1. */
  score: number;
  /** The 68 iBUG landmarks, in photo pixels. */
  landmarks: Point[];
  /** The five alignment points derived from the landmarks. */
  points: FivePoints;
}

/** Detection, landmarks and alignment together. Load with {@linkcode FaceAnalyzer.load}. */
export class FaceAnalyzer {
  /** The face detector. */
  readonly detector: FaceDetector;
  /** The landmark network. */
  readonly landmarkNet: LandmarkNet;

  private constructor(detector: FaceDetector, landmarkNet: LandmarkNet) {
    this.detector = detector;
    this.landmarkNet = landmarkNet;
  }

  /**
   * Loads both networks from a folder holding face-api's model files; by default the installed
   * `@vladmandic/face-api` package's `model/` folder.
   */
  static async load(modelDir?: string): Promise<FaceAnalyzer> {
    const detector = FaceDetector.fromWeights(await loadWeightMap("ssd_mobilenetv1", modelDir));
    try {
      return new FaceAnalyzer(
        detector,
        LandmarkNet.fromWeights(await loadWeightMap("face_landmark_68", modelDir)),
      );
    } catch (e) {
      detector.dispose();
      throw e;
    }
  }

  /** The faces of a photo with their landmarks, best detection score first. */
  async detect(photo: RgbImage, options: DetectOptions = {}): Promise<Face[]> {
    const detections = await this.detector.detect(photo, options);
    const landmarks = await this.landmarkNet.landmarks(photo, detections.map((d) => d.box));
    return detections.map((d, i) => ({
      box: d.box,
      score: d.score,
      landmarks: landmarks[i],
      points: fivePointsFrom68(landmarks[i]),
    }));
  }

  /** Aligns one face of the photo (see `alignFace`). */
  align(photo: RgbImage, face: Face, options: AlignOptions = {}): Promise<AlignedFace> {
    return alignFace(photo, face.points, options);
  }

  /** Frees both networks. */
  dispose(): void {
    this.detector.dispose();
    this.landmarkNet.dispose();
  }
}

/** How to choose one face when a photo has several. */
export type FacePick = "largest" | "best";

/**
 * Which face to keep of several, and why: `largest` keeps the largest box (ties: the higher score),
 * `best` the highest detection score. Null when there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pickFace } from "./mod.ts";
 * const faces = [
 *   { box: { x: 0, y: 0, width: 10, height: 10 }, score: 0.99 },
 *   { box: { x: 50, y: 0, width: 40, height: 40 }, score: 0.8 },
 * ];
 * assert.equal(pickFace(faces, "largest")?.index, 1);
 * assert.equal(pickFace(faces, "best")?.index, 0);
 * ```
 */
export function pickFace(
  faces: readonly { box: FaceBox; score: number }[],
  pick: FacePick = "largest",
): { index: number; reason: string } | null {
  if (faces.length === 0) return null;
  if (faces.length === 1) return { index: 0, reason: "the only face" };
  const area = (i: number) => faces[i].box.width * faces[i].box.height;
  let best = 0;
  for (let i = 1; i < faces.length; i++) {
    const better = pick === "largest"
      ? area(i) > area(best) || (area(i) === area(best) && faces[i].score > faces[best].score)
      : faces[i].score > faces[best].score;
    if (better) best = i;
  }
  const b = faces[best].box;
  const reason = pick === "largest"
    ? `the largest of ${faces.length} faces (${Math.round(b.width)}x${Math.round(b.height)} px)`
    : `the highest score of ${faces.length} faces (${faces[best].score.toFixed(3)})`;
  return { index: best, reason };
}

/**
 * Decodes a photo (a file or encoded bytes) to 8-bit RGB, turned upright by its EXIF orientation as
 * cameras and phones record it. A file that cannot be read or is not an image fails with a
 * `DatasetError` naming it.
 */
export async function decodePhoto(input: string | Uint8Array): Promise<RgbImage> {
  const source = typeof input === "string" ? input : `encoded image (${input.length} bytes)`;
  try {
    const { data, info } = await sharp(input, { failOn: "error" }).rotate().removeAlpha().toColourspace(
      "srgb",
    )
      .raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
    };
  } catch (e) {
    throw new DatasetError(`cannot decode image: ${(e as Error).message}`, { file: source, cause: e });
  }
}
