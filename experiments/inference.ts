/**
 * Inference with an exported model (see `exportInferenceModel` and `exportRun`) in Deno: load the
 * folder, then predict the emotion distribution of image files or encoded image bytes with the same
 * decoding, resize and normalisation as the trainer's evaluation.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { type LayersModel, type Tensor2D, tf } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import { ImagePipeline } from "../datasets/pipeline.ts";
import { EXPORT_FILES, PREPROCESS_FORMAT, type PreprocessSpec } from "./export.ts";

/** An exported model loaded for inference. */
export interface ExportedModel {
  /** The folder it was loaded from (absolute). */
  dir: string;
  /** The TensorFlow.js network: [N, size, size, 3] normalised images to [N, C] probabilities. */
  model: LayersModel;
  /** The contents of `preprocess.json`. */
  preprocess: PreprocessSpec;
  /** Frees the network's weights. */
  dispose(): void;
}

/** An image for {@linkcode predict}: a file path, or the bytes of an encoded image (JPEG, PNG, WebP...). */
export type ImageInput = string | Uint8Array;

/** One image's prediction by {@linkcode predict}. */
export interface InferencePrediction {
  /** Probability per class name, in the export's class order. */
  probabilities: Record<string, number>;
  /** The most probable class. */
  prediction: string;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${path} is missing.`, { cause: e });
    throw new Error(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message}).`, { cause: e });
  }
}

function isRgb(v: unknown): v is [number, number, number] {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number" && Number.isFinite(x));
}

/** Checks the fields of `preprocess.json` that inference relies on; errors name the file and field. */
function checkPreprocess(value: unknown, path: string): PreprocessSpec {
  const bad = (field: string, expected: string): never => {
    throw new Error(`${path}: field ${field} must be ${expected}.`);
  };
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad("(root)", "an object");
  const v = value as Record<string, unknown>;
  if (v.format !== PREPROCESS_FORMAT) bad("format", `"${PREPROCESS_FORMAT}"`);
  if (v.version !== 1) bad("version", "1 (a newer export needs a newer library)");
  if (!Number.isInteger(v.inputSize) || (v.inputSize as number) < 1) bad("inputSize", "a positive integer");
  if (!isRgb(v.mean)) bad("mean", "three numbers");
  if (!isRgb(v.std) || (v.std as number[]).some((x) => x <= 0)) bad("std", "three positive numbers");
  if (
    !Array.isArray(v.classNames) || v.classNames.length === 0 ||
    v.classNames.some((n) => typeof n !== "string")
  ) {
    bad("classNames", "a non-empty list of strings");
  }
  if (v.channelOrder !== "RGB") bad("channelOrder", `"RGB"`);
  if (v.layout !== "NHWC") bad("layout", `"NHWC"`);
  if (v.crops !== 1 && v.crops !== 10) bad("crops", "1 or 10");
  if (v.output !== "probabilities") bad("output", `"probabilities"`);
  return v as unknown as PreprocessSpec;
}

/**
 * Loads an export folder (`model.json`, `weights.bin`, `preprocess.json`) from disk. Errors name the
 * folder or the file at fault.
 *
 * @example
 * ```ts ignore
 * import { loadExportedModel, predict } from "./inference.ts";
 * const loaded = await loadExportedModel("exported");
 * const [result] = await predict(loaded, ["face.jpg"]);
 * console.log(result.prediction, result.probabilities);
 * loaded.dispose();
 * ```
 */
export async function loadExportedModel(dir: string): Promise<ExportedModel> {
  const root = resolve(dir);
  const info = await Deno.stat(root).catch(() => null);
  if (!info?.isDirectory) throw new Error(`${root} is not a folder holding an exported model.`);
  const modelPath = join(root, EXPORT_FILES.model);
  if (!(await Deno.stat(modelPath).then((s) => s.isFile, () => false))) {
    throw new Error(`${root} holds no exported model: ${EXPORT_FILES.model} is missing.`);
  }
  const preprocessPath = join(root, EXPORT_FILES.preprocess);
  const preprocess = checkPreprocess(await readJson(preprocessPath), preprocessPath);
  const modelJson = await readJson(modelPath) as tf.io.ModelJSON;
  if (!modelJson || typeof modelJson !== "object" || !modelJson.modelTopology) {
    throw new Error(`${modelPath}: no modelTopology (not a TensorFlow.js Layers model).`);
  }
  if (!Array.isArray(modelJson.weightsManifest)) {
    throw new Error(`${modelPath}: no weightsManifest.`);
  }
  const handler: tf.io.IOHandler = {
    load: () =>
      tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const file = join(root, p);
            let bytes: Uint8Array;
            try {
              bytes = await Deno.readFile(file);
            } catch (e) {
              throw new Error(`cannot read the weights file ${file}: ${(e as Error).message}`, { cause: e });
            }
            buffers.push(bytes.slice().buffer);
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      }),
  };
  let model: LayersModel;
  try {
    model = await tf.loadLayersModel(handler);
  } catch (e) {
    throw new Error(`${modelPath}: cannot load the model: ${(e as Error).message}`, { cause: e });
  }
  const inShape = model.inputs[0].shape;
  const outShape = model.outputs[0].shape;
  const size = preprocess.inputSize;
  if (inShape[1] !== size || inShape[2] !== size || inShape[3] !== 3) {
    model.dispose();
    throw new Error(
      `${preprocessPath}: inputSize ${size} does not match the model's input [${inShape.join(", ")}].`,
    );
  }
  if (outShape[1] !== preprocess.classNames.length) {
    model.dispose();
    throw new Error(
      `${preprocessPath}: ${preprocess.classNames.length} class names for a model with ${
        outShape[1]
      } outputs.`,
    );
  }
  return { dir: root, model, preprocess, dispose: () => model.dispose() };
}

/**
 * Predicts the emotion distribution of images with an exported model: each image is decoded with sharp,
 * resized and normalised as `preprocess.json` says (the trainer's evaluation pipeline), run through the
 * network, and, with ten crops, the crops' probabilities are combined by a renormalised geometric mean
 * (equal to the softmax of the crop-averaged logits).
 *
 * @example
 * ```ts ignore
 * import { loadExportedModel, predict } from "./inference.ts";
 * const loaded = await loadExportedModel("exported");
 * const bytes = await Deno.readFile("face.png");
 * const results = await predict(loaded, ["face.jpg", bytes]);
 * console.log(results.map((r) => r.prediction));
 * loaded.dispose();
 * ```
 *
 * @example Export a model, load it back and predict an image
 * ```ts
 * import assert from "node:assert/strict";
 * import sharp from "sharp";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { exportInferenceModel } from "./export.ts";
 * import { loadExportedModel, predict } from "./inference.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const classNames = ["Neutral", "Happiness"];
 * const model = new AdaDfModel("tiny", { numClasses: 2 });
 * await exportInferenceModel(model, { outDir: dir, size: 32, classNames, runtime: false });
 * model.dispose();
 *
 * const loaded = await loadExportedModel(dir);
 * assert.deepEqual(loaded.preprocess.classNames, classNames);
 * const grey = { width: 48, height: 48, channels: 3 as const, background: "#808080" };
 * const png = await sharp({ create: grey }).png().toBuffer();
 * const [result] = await predict(loaded, [new Uint8Array(png)]);
 * assert.ok(classNames.includes(result.prediction));
 * const total = Object.values(result.probabilities).reduce((a, b) => a + b);
 * assert.ok(Math.abs(total - 1) < 1e-4);
 * loaded.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function predict(
  loaded: ExportedModel,
  images: readonly ImageInput[],
): Promise<InferencePrediction[]> {
  const { inputSize, mean, std, classNames, crops } = loaded.preprocess;
  const pipeline = new ImagePipeline({ size: inputSize, tenCrop: crops === 10, mean, std });
  const out: InferencePrediction[] = [];
  for (let i = 0; i < images.length; i++) {
    const image = images[i];
    const buffer = new Float32Array(pipeline.floatsPerItem);
    if (typeof image === "string") {
      await pipeline.process({ index: i, label: 0, path: image, source: image }, new Random(0), {
        out: buffer,
      });
    } else if (image instanceof Uint8Array) {
      let decoded;
      try {
        decoded = await pipeline.decode(image);
      } catch (e) {
        throw new Error(`predict: image ${i}: ${(e as Error).message}`, { cause: e });
      }
      pipeline.finish(decoded, new Random(0), { out: buffer });
    } else {
      throw new TypeError(`predict: image ${i} must be a file path or a Uint8Array of encoded image bytes.`);
    }
    const distribution = tf.tidy(() => {
      const x = tf.tensor4d(buffer, [pipeline.crops, inputSize, inputSize, 3]);
      const p = loaded.model.predict(x) as Tensor2D;
      if (pipeline.crops === 1) return p;
      // softmax(mean_k log p_k) = softmax(mean_k z_k): the per-crop log-normalisers cancel.
      return tf.softmax(tf.mean(tf.log(tf.maximum(p, 1e-30)), 0));
    });
    const probs = await distribution.data();
    distribution.dispose();
    let best = 0;
    for (let j = 1; j < probs.length; j++) if (probs[j] > probs[best]) best = j;
    out.push({
      probabilities: Object.fromEntries(classNames.map((n, j) => [n, probs[j]])),
      prediction: classNames[best],
    });
  }
  return out;
}
