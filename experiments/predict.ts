/**
 * Prediction with a trained run's inference model (the target branch and its attention, as in the
 * paper's test): each image file's distribution over the emotions, the way the run's evaluation sees it
 * (its input size and test crops), and a text table of the results. `deno task predict` is this module
 * on the command line.
 *
 * @module
 */
import { tf } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import { type DatasetItem, ImagePipeline } from "../datasets/mod.ts";
import type { BackendName } from "../engine/backend.ts";
import { type LoadedRun, loadRun, pipelineOptions } from "./run.ts";
import { basename, extname, join } from "node:path";
import sharp from "sharp";
import { writeFileAtomic } from "../engine/files.ts";
import type { RgbImage } from "../datasets/transforms.ts";
import { checkImageFile } from "../datasets/image.ts";
import {
  annotatePhoto,
  decodePhoto,
  FaceAnalyzer,
  type FaceBox,
  type FaceTemplate,
} from "../datasets/faces/mod.ts";

/** One image's prediction. */
export interface Prediction {
  /** The image file. */
  image: string;
  /** The most probable class. */
  prediction: string;
  /** Probability per class name. */
  probabilities: Record<string, number>;
}

/**
 * Predicts the emotion distribution of image files with a loaded run (see `loadRun`); the caller keeps
 * the run and disposes its model.
 *
 * @example
 * ```ts ignore
 * import { loadRun } from "./run.ts";
 * import { predictImages } from "./predict.ts";
 * const run = await loadRun("runs/synthetic-fused-20261128-101500");
 * const [first] = await predictImages(run, ["face.jpg"]);
 * run.model.dispose();
 * ```
 */
export async function predictImages(run: LoadedRun, images: readonly string[]): Promise<Prediction[]> {
  const pipeline = new ImagePipeline(pipelineOptions(run.config).eval);
  const out: Prediction[] = [];
  for (const image of images) {
    out.push(await classifyItem(run, pipeline, { index: 0, label: 0, path: image, source: image }, image));
  }
  return out;
}

/** One item (a file, or pixels) through the run's evaluation pipeline and inference model. */
async function classifyItem(
  run: LoadedRun,
  pipeline: ImagePipeline,
  item: DatasetItem,
  image: string,
): Promise<Prediction> {
  const { crops, size } = pipeline;
  const buffer = new Float32Array(pipeline.floatsPerItem);
  await pipeline.process(item, new Random(0), { out: buffer });
  const distribution = tf.tidy(() => {
    const x = tf.tensor4d(buffer, [crops, size, size, 3]);
    const mode = { training: false };
    const target = run.model.branch("target", run.model.stem(x, mode), mode);
    const { a2 } = run.plugins.attention.apply({ scores1: target.scores, scores2: target.scores });
    const logits = tf.mean(tf.mul(target.logits, a2.expandDims(1)), 0);
    return tf.softmax(logits);
  });
  const probs = await distribution.data();
  distribution.dispose();
  const probabilities = Object.fromEntries(run.classNames.map((n, j) => [n, probs[j]]));
  let best = 0;
  for (let j = 1; j < probs.length; j++) if (probs[j] > probs[best]) best = j;
  return { image, prediction: run.classNames[best], probabilities };
}

/** Options of {@linkcode predictRun}. */
export interface PredictRunOptions {
  /**
   * Which checkpoint: `best` (falls back to `last` when the run has no best yet) or `last`.
   * @default {"best"}
   */
  checkpoint?: "best" | "last";
  /** The backend to predict on. @default {the run's `backend`} */
  backend?: BackendName;
}

/** What {@linkcode predictRun} returns. */
export interface PredictRunResult {
  /** One prediction per image, in order. */
  predictions: Prediction[];
  /** The run's class names in label order. */
  classNames: readonly string[];
  /** The checkpoint file used. */
  checkpointPath: string;
}

/**
 * Loads a run folder's model (see `loadRun`), predicts the emotion distribution of image files with
 * it and frees the model.
 *
 * @example
 * ```ts ignore
 * import { formatPredictions, predictRun } from "./predict.ts";
 * const { predictions, classNames } = await predictRun("runs/x", ["face.jpg"], { checkpoint: "last" });
 * console.log(formatPredictions(predictions, classNames));
 * ```
 */
export async function predictRun(
  runDir: string,
  images: readonly string[],
  options: PredictRunOptions = {},
): Promise<PredictRunResult> {
  const run = await loadRun(runDir, options.checkpoint ?? "best", { backend: options.backend ?? "run" });
  try {
    const predictions = await predictImages(run, images);
    return { predictions, classNames: run.classNames, checkpointPath: run.checkpointPath };
  } finally {
    run.model.dispose();
  }
}

/**
 * Formats predictions as a table: one row per image, one column per class (in percent).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPredictions } from "./predict.ts";
 * const table = formatPredictions(
 *   [{ image: "a.jpg", prediction: "Happiness", probabilities: { Happiness: 0.75, Neutral: 0.25 } }],
 *   ["Happiness", "Neutral"],
 * );
 * assert.equal(table, "image  prediction  Happiness  Neutral\na.jpg  Happiness       75.0%    25.0%");
 * ```
 */
export function formatPredictions(predictions: Prediction[], classNames: readonly string[]): string {
  const head = ["image", "prediction", ...classNames];
  const rows = predictions.map((p) => [
    p.image,
    p.prediction,
    ...classNames.map((n) => `${(100 * p.probabilities[n]).toFixed(1)}%`),
  ]);
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all.map((r) => r.map((v, c) => (c < 2 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  "))
    .join(
      "\n",
    );
}

/**
 * How {@linkcode predictPhotos} treats an image: `detect` finds, aligns and classifies every face;
 * `crop` classifies the whole image as an aligned face (as {@linkcode predictImages}); `auto` takes a
 * square image (sides within 5%) of at most {@linkcode AUTO_CROP_MAX_SIDE} pixels as an aligned crop and
 * detects faces in anything else.
 */
export type FaceMode = "auto" | "detect" | "crop";

/** The largest side of an image that `auto` takes as an already aligned crop. */
export const AUTO_CROP_MAX_SIDE = 256;

/** One face's prediction by {@linkcode predictPhotos}. */
export interface FacePrediction extends Prediction {
  /** The face in the photo; absent when the whole image was classified as a crop. */
  face?: {
    /** Its rank among the photo's faces (0 = best detection score). */
    index: number;
    /** Its box in the photo's pixels. */
    box: FaceBox;
    /** The detection score. */
    score: number;
  };
}

/** One image's outcome in {@linkcode predictPhotos}. */
export interface PhotoResult {
  /** The image file. */
  image: string;
  /** How it was treated. */
  mode: "crop" | "detect";
  /** Its predictions: one per face found (none when no face was found), or one for a crop. */
  predictions: FacePrediction[];
}

/** Options of {@linkcode predictPhotos}. */
export interface PredictPhotosOptions {
  /** How to treat each image. @default {"auto"} */
  mode?: FaceMode;
  /**
   * Side of the aligned faces, before the run's own resize; match the training data's alignment.
   * @default {100}
   */
  alignSize?: number;
  /** Where the five points go; match the training data's alignment. @default {DEFAULT_TEMPLATE} */
  template?: FaceTemplate;
  /** Detections below this confidence are ignored. @default {0.5} */
  minConfidence?: number;
  /** A loaded face analyzer to use (kept); by default one is loaded from the packaged models and freed. */
  analyzer?: FaceAnalyzer;
}

/**
 * Whether `auto` treats an image of this size as an aligned crop.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { looksLikeCrop } from "./predict.ts";
 * assert.deepEqual([looksLikeCrop(100, 100), looksLikeCrop(250, 240), looksLikeCrop(640, 480)], [true, true, false]);
 * ```
 */
export function looksLikeCrop(width: number, height: number): boolean {
  return Math.max(width, height) <= AUTO_CROP_MAX_SIDE &&
    Math.abs(width - height) <= 0.05 * Math.max(width, height);
}

/**
 * Predicts the faces of photos with a loaded run: each face is detected, landmarked and aligned (see
 * `datasets/faces/`), then classified as {@linkcode predictImages} classifies a file. Already aligned
 * crops are classified whole (`mode`). Returns each image's outcome and, with it, the decoded photos
 * (upright) for drawing.
 *
 * @example
 * ```ts ignore
 * import { loadRun } from "./run.ts";
 * import { predictPhotos } from "./predict.ts";
 * const run = await loadRun("runs/x");
 * const [group] = await predictPhotos(run, ["group.jpg"]);
 * for (const p of group.predictions) console.log(p.face?.box, p.prediction);
 * run.model.dispose();
 * ```
 */
export async function predictPhotos(
  run: LoadedRun,
  images: readonly string[],
  options: PredictPhotosOptions = {},
): Promise<(PhotoResult & { photo?: RgbImage })[]> {
  const mode = options.mode ?? "auto";
  const alignSize = options.alignSize ?? 100;
  const pipeline = new ImagePipeline(pipelineOptions(run.config).eval);
  let analyzer = options.analyzer;
  const owned = analyzer === undefined;
  const out: (PhotoResult & { photo?: RgbImage })[] = [];
  try {
    for (const image of images) {
      let crop = mode === "crop";
      if (mode === "auto") {
        await checkImageFile(image); // a FIFO or a device would block the decoder
        const meta = await sharp(image).metadata().catch((e) => {
          throw new Error(`${image}: cannot read the image: ${(e as Error).message}`, { cause: e });
        });
        const upright = (meta.orientation ?? 1) >= 5;
        const [w, h] = upright ? [meta.height ?? 0, meta.width ?? 0] : [meta.width ?? 0, meta.height ?? 0];
        crop = looksLikeCrop(w, h);
      }
      if (crop) {
        const p = await classifyItem(
          run,
          pipeline,
          { index: 0, label: 0, path: image, source: image },
          image,
        );
        out.push({ image, mode: "crop", predictions: [p] });
        continue;
      }
      analyzer ??= await FaceAnalyzer.load();
      const photo = await decodePhoto(image);
      const faces = await analyzer.detect(photo, { minConfidence: options.minConfidence });
      const predictions: FacePrediction[] = [];
      for (let index = 0; index < faces.length; index++) {
        const face = faces[index];
        const aligned = await analyzer.align(photo, face, { size: alignSize, template: options.template });
        const item: DatasetItem = {
          index: 0,
          label: 0,
          image: { ...aligned.image, channels: 3 },
          source: `${image} face ${index + 1}`,
        };
        const p = await classifyItem(run, pipeline, item, image);
        predictions.push({ ...p, face: { index, box: face.box, score: face.score } });
      }
      out.push({ image, mode: "detect", predictions, photo });
    }
  } finally {
    if (owned) analyzer?.dispose();
  }
  return out;
}

/** Options of {@linkcode predictPhotosRun}: those of a run and of the photos. */
export interface PredictPhotosRunOptions extends PredictRunOptions, Omit<PredictPhotosOptions, "analyzer"> {
  /**
   * Write each photo with its faces' boxes and top emotions drawn on it: a `.png` file for one photo,
   * or a folder that gets `<name>.annotated.png` per photo.
   */
  annotate?: string;
}

/** What {@linkcode predictPhotosRun} returns. */
export interface PredictPhotosRunResult {
  /** Each image's outcome, in order. */
  photos: PhotoResult[];
  /** The run's class names in label order. */
  classNames: readonly string[];
  /** The checkpoint file used. */
  checkpointPath: string;
  /** The annotated pictures written. */
  annotated: string[];
}

/** The label lines of a face: the top emotion in bold, then the next two. */
function faceLabel(p: FacePrediction, k: number): string[] {
  const top = Object.entries(p.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 3);
  const pct = ([n, v]: [string, number]) => `${n} ${(100 * v).toFixed(0)}%`;
  return [`#${k + 1} ${pct(top[0])}`, top.slice(1).map(pct).join(", ")].filter((l) => l !== "");
}

/**
 * Loads a run folder's model, predicts the faces of photos (see {@linkcode predictPhotos}), optionally
 * draws them, and frees the model.
 *
 * @example
 * ```ts ignore
 * import { formatPhotoPredictions, predictPhotosRun } from "./predict.ts";
 * const result = await predictPhotosRun("runs/x", ["group.jpg"], { annotate: "group.annotated.png" });
 * console.log(formatPhotoPredictions(result.photos, result.classNames));
 * ```
 */
export async function predictPhotosRun(
  runDir: string,
  images: readonly string[],
  options: PredictPhotosRunOptions = {},
): Promise<PredictPhotosRunResult> {
  const run = await loadRun(runDir, options.checkpoint ?? "best", { backend: options.backend ?? "run" });
  let results: (PhotoResult & { photo?: RgbImage })[];
  try {
    results = await predictPhotos(run, images, options);
  } finally {
    run.model.dispose();
  }
  const annotated: string[] = [];
  if (options.annotate !== undefined) {
    const single = images.length === 1 && extname(options.annotate).toLowerCase() === ".png";
    if (!single) await Deno.mkdir(options.annotate, { recursive: true });
    for (const r of results) {
      const photo = r.photo ?? await decodePhoto(r.image);
      const annotations = r.predictions.map((p, k) => ({
        box: p.face?.box ?? { x: 0, y: 0, width: photo.width, height: photo.height },
        lines: faceLabel(p, k),
      }));
      const target = single
        ? options.annotate
        : join(options.annotate, `${basename(r.image, extname(r.image))}.annotated.png`);
      await writeFileAtomic(target, await annotatePhoto(photo, annotations));
      annotated.push(target);
    }
  }
  const photos = results.map(({ image, mode, predictions }) => ({ image, mode, predictions }));
  return { photos, classNames: run.classNames, checkpointPath: run.checkpointPath, annotated };
}

/**
 * Formats photo predictions as a table: one row per face (its number and box) or crop, one column per
 * class (in percent); a photo without a face gets a row saying so. Without any detected face it is the
 * table of {@linkcode formatPredictions}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPhotoPredictions } from "./predict.ts";
 * const table = formatPhotoPredictions([{
 *   image: "g.jpg",
 *   mode: "detect",
 *   predictions: [{
 *     image: "g.jpg",
 *     prediction: "Happiness",
 *     probabilities: { Happiness: 0.75, Neutral: 0.25 },
 *     face: { index: 0, box: { x: 10, y: 20, width: 30, height: 40 }, score: 0.99 },
 *   }],
 * }, { image: "empty.jpg", mode: "detect", predictions: [] }], ["Happiness", "Neutral"]);
 * assert.equal(table.split("\n")[1], "g.jpg      1     10,20 30x40  Happiness          75.0%    25.0%");
 * assert.match(table.split("\n")[2], /^empty\.jpg  -\s+no face found/);
 * ```
 */
export function formatPhotoPredictions(
  photos: readonly PhotoResult[],
  classNames: readonly string[],
): string {
  const all = photos.flatMap((p) => p.predictions);
  if (photos.every((p) => p.mode === "crop")) return formatPredictions(all, classNames);
  const head = ["image", "face", "box", "prediction", ...classNames];
  const rows: string[][] = [];
  for (const photo of photos) {
    if (photo.predictions.length === 0) {
      rows.push([photo.image, "-", "", "no face found", ...classNames.map(() => "")]);
    }
    for (const p of photo.predictions) {
      const b = p.face?.box;
      rows.push([
        p.image,
        p.face ? String(p.face.index + 1) : "crop",
        b ? `${Math.round(b.x)},${Math.round(b.y)} ${Math.round(b.width)}x${Math.round(b.height)}` : "",
        p.prediction,
        ...classNames.map((n) => `${(100 * p.probabilities[n]).toFixed(1)}%`),
      ]);
    }
  }
  const table = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...table.map((r) => r[c].length)));
  return table.map((r) =>
    r.map((v, c) => (c < 4 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ").trimEnd()
  )
    .join("\n");
}
