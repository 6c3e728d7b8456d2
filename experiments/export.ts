/**
 * Export of the inference network for TensorFlow.js (browsers, Node, Deno): the stem, the target
 * branch, its classifier `fc` and its attention head; the auxiliary branch is dropped, as in the paper.
 *
 * The network is rebuilt from standard, serialisable `tf.layers` (no Lambda or custom layer), so
 * `tf.loadLayersModel` reads it anywhere TensorFlow.js runs:
 *
 * - PyTorch's explicit symmetric padding: `ZeroPadding2D` followed by a `valid` `Conv2D` without bias;
 * - the 3x3, stride 2, padding 1 max pool: `ZeroPadding2D` followed by a `valid` `MaxPooling2D`;
 * - BatchNorm: `BatchNormalization` with epsilon 1e-5 and the running statistics (evaluation mode);
 * - residual `Add`, `Activation("relu")`, `GlobalAveragePooling2D`, `Dense` for `fc` and `attention`;
 * - the attention scaling z = a2 * logits: a2 = `Dense(1, sigmoid)`, repeated over the classes by a
 *   fixed, non-trainable `Dense(C)` with an all-ones kernel and no bias, then `Multiply`;
 * - `Activation("softmax")`: the model's output is the probability vector [N, C].
 *
 * On `face-resnet29` the stem and branch are dlib's ResNet-29 in the same standard layers: `valid`
 * convolutions for its stride-2 convs and its `valid` 3x3 max pool, `ZeroPadding2D` + `valid` for its
 * 3x3 convs, and a down block's shortcut as `AveragePooling2D` (2x2, stride 2) whose missing channels
 * are appended by a fixed, non-trainable 1x1 `Conv2D` (an identity kernel widened with zeros), the conv
 * path zero-padded at the bottom and right (`ZeroPadding2D`) to the shortcut's size where it is smaller.
 *
 * The export folder holds:
 *
 * - `model.json` (the TensorFlow.js Layers topology and weights manifest) and `weights.bin`;
 * - `preprocess.json` (a {@linkcode PreprocessSpec}: input size, the backbone's normalisation mean and
 *   std, class order);
 * - `tf.min.js`, the TensorFlow.js browser bundle of the npm package this library uses, so a page can
 *   load everything from one folder without a CDN (leave it out with `runtime: false`).
 *
 * Every file is written to a temporary file and renamed.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type LayersModel, type Tensor, tf } from "../engine/tf.ts";
import { writeFileAtomic } from "../engine/files.ts";
import type { AdaDfModel } from "../backbones/adadf.ts";
import { BN_EPSILON, type ParameterStore } from "../backbones/layers.ts";
import { type BackboneName, featureSize, type ResNetSpec } from "../backbones/resnet.ts";
import { FACE_RESNET29_BLOCKS, faceResNet29Shapes } from "../backbones/face_resnet29.ts";
import type { Rgb } from "../datasets/transforms.ts";
import { type LoadedRun, loadRun, RUN_FILES } from "./run.ts";

/**
 * The names of the files in an export folder.
 *
 * @example The files of an export folder
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { EXPORT_FILES } from "./export.ts";
 * const folder = "exported";
 * assert.deepEqual(
 *   Object.values(EXPORT_FILES).map((file) => join(folder, file)),
 *   ["exported/model.json", "exported/weights.bin", "exported/preprocess.json", "exported/tf.min.js"],
 * );
 * ```
 */
export const EXPORT_FILES = {
  model: "model.json",
  weights: "weights.bin",
  preprocess: "preprocess.json",
  runtime: "tf.min.js",
} as const;

/**
 * The value of `format` in `preprocess.json`.
 *
 * @example Check that a `preprocess.json` belongs to an export
 * ```ts
 * import assert from "node:assert/strict";
 * import { PREPROCESS_FORMAT } from "./export.ts";
 * const text = '{"format": "ada-df-inference", "version": 1}';
 * assert.equal(JSON.parse(text).format, PREPROCESS_FORMAT);
 * ```
 */
export const PREPROCESS_FORMAT = "ada-df-inference";

/** The attention plugins the exported network can express. */
export type ExportAttention = "sigmoid" | "none";

/**
 * How to turn an image into the exported model's input, and how to read its output
 * (`preprocess.json`).
 *
 * With one crop: resize the image to `inputSize` x `inputSize` (bilinear, aspect ratio ignored), take
 * RGB values in [0, 1] (value / 255), subtract `mean` and divide by `std` per channel, and feed
 * [1, inputSize, inputSize, 3] (NHWC). With ten crops (TenCrop): resize the shorter side to
 * `resizeShorter`, take the four corner and the centre `inputSize` crops of the image and of its
 * horizontal mirror, run the ten crops as one batch, and combine their probabilities by a per-class
 * geometric mean, renormalised (this equals the softmax of the crop-averaged logits, as the trainer
 * evaluates).
 */
export interface PreprocessSpec {
  /** Always {@linkcode PREPROCESS_FORMAT}. */
  format: typeof PREPROCESS_FORMAT;
  /** Layout version of this file. */
  version: 1;
  /** Side of the square input in pixels. */
  inputSize: number;
  /** Per-channel means, applied to values in [0, 1]. */
  mean: [number, number, number];
  /** Per-channel standard deviations, applied to values in [0, 1]. */
  std: [number, number, number];
  /** Class names in output order. */
  classNames: string[];
  /** Channel order of the input. */
  channelOrder: "RGB";
  /** Tensor layout of the input. */
  layout: "NHWC";
  /** The pixel values' range before normalisation. */
  valueRange: [0, 1];
  /** The resampling filter of the resize. */
  resize: "bilinear";
  /** Crops per image: 1 (resize to the input size) or 10 (TenCrop). */
  crops: 1 | 10;
  /** With ten crops: the shorter side the image is resized to before cropping. */
  resizeShorter?: number;
  /** With ten crops: how the crops' probabilities are combined. */
  cropCombine?: "geometric-mean";
  /** What the model outputs: a probability vector per input. */
  output: "probabilities";
  /** The attention of the exported network. */
  attention: ExportAttention;
  /** The backbone of the exported network. */
  backbone: BackboneName;
}

/** Options of {@linkcode buildInferenceModel}. */
export interface BuildInferenceModelOptions {
  /** Side of the square input in pixels. */
  size: number;
  /**
   * The attention plugin the model was trained with: `sigmoid` scales the logits by
   * a2 = sigmoid(attention(h)); `none` leaves them unscaled.
   * @default {"sigmoid"}
   */
  attention?: ExportAttention;
}

/** Options of {@linkcode exportInferenceModel}. */
export interface ExportInferenceModelOptions extends BuildInferenceModelOptions {
  /** The folder to write (created if missing; the export's files in it are replaced). */
  outDir: string;
  /** Class names in label order (one per output). */
  classNames: readonly string[];
  /**
   * Normalisation means on values in [0, 1].
   * @default {model.spec.normalization.mean} (the backbone's: ImageNet's for the ResNets)
   */
  mean?: Rgb;
  /**
   * Normalisation standard deviations on values in [0, 1].
   * @default {model.spec.normalization.std} (the backbone's: ImageNet's for the ResNets)
   */
  std?: Rgb;
  /**
   * Crops per image at inference (10: TenCrop, as the run's `data.testCrops`).
   * @default {1}
   */
  crops?: 1 | 10;
  /**
   * Copy the TensorFlow.js browser bundle (`tf.min.js`) into the folder.
   * @default {true}
   */
  runtime?: boolean;
}

/** What an export wrote. */
export interface ExportResult {
  /** The export folder (absolute). */
  outDir: string;
  /** The files written, absolute paths. */
  files: string[];
  /** The contents of `preprocess.json`. */
  preprocess: PreprocessSpec;
  /** Bytes of `weights.bin`. */
  weightBytes: number;
}

type SymbolicTensor = tf.SymbolicTensor;

/** Builds the layers of the inference network, copying the weights as each layer is created. */
class NetworkBuilder {
  #store: ParameterStore;
  #prefix: string;

  constructor(store: ParameterStore, prefix: string) {
    this.#store = store;
    this.#prefix = prefix;
  }

  #tensor(name: string): Tensor {
    const v = this.#store.params.get(name) ?? this.#store.buffers.get(name);
    if (!v) throw new Error(`exportInferenceModel: the model has no parameter '${name}'.`);
    return v;
  }

  /** A PyTorch Conv2d without bias: explicit zero padding, then a valid convolution. */
  conv(name: string, x: SymbolicTensor, stride: number, padding: number): SymbolicTensor {
    const kernel = this.#tensor(`${this.#prefix}${name}.weight`);
    const [kh, kw, , filters] = kernel.shape;
    if (padding > 0) {
      x = tf.layers.zeroPadding2d({ padding, name: `${this.#prefix}${name}.pad` }).apply(x) as SymbolicTensor;
    }
    const layer = tf.layers.conv2d({
      filters,
      kernelSize: [kh, kw],
      strides: stride,
      padding: "valid",
      useBias: false,
      name: `${this.#prefix}${name}`,
    });
    const y = layer.apply(x) as SymbolicTensor;
    layer.setWeights([kernel]);
    return y;
  }

  /** BatchNorm in evaluation mode: the running statistics, epsilon 1e-5. */
  batchNorm(name: string, x: SymbolicTensor): SymbolicTensor {
    const full = `${this.#prefix}${name}`;
    const layer = tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, name: full });
    const y = layer.apply(x) as SymbolicTensor;
    layer.setWeights([
      this.#tensor(`${full}.weight`),
      this.#tensor(`${full}.bias`),
      this.#tensor(`${full}.running_mean`),
      this.#tensor(`${full}.running_var`),
    ]);
    return y;
  }

  relu(name: string, x: SymbolicTensor): SymbolicTensor {
    return tf.layers.activation({ activation: "relu", name: `${this.#prefix}${name}` }).apply(
      x,
    ) as SymbolicTensor;
  }

  /** A PyTorch Linear (weight stored [in, out]) as a Dense layer. */
  dense(name: string, x: SymbolicTensor, activation?: "sigmoid"): SymbolicTensor {
    const full = `${this.#prefix}${name}`;
    const kernel = this.#tensor(`${full}.weight`);
    const layer = tf.layers.dense({ units: kernel.shape[1] as number, activation, name: full });
    const y = layer.apply(x) as SymbolicTensor;
    layer.setWeights([kernel, this.#tensor(`${full}.bias`)]);
    return y;
  }

  /** A residual block, as `backbones/resnet.ts` computes it in evaluation mode. */
  block(spec: ResNetSpec, name: string, x: SymbolicTensor, stride: number): SymbolicTensor {
    let y: SymbolicTensor;
    if (spec.block === "basic") {
      y = this.relu(`${name}.relu1`, this.batchNorm(`${name}.bn1`, this.conv(`${name}.conv1`, x, stride, 1)));
      y = this.batchNorm(`${name}.bn2`, this.conv(`${name}.conv2`, y, 1, 1));
    } else {
      y = this.relu(`${name}.relu1`, this.batchNorm(`${name}.bn1`, this.conv(`${name}.conv1`, x, 1, 0)));
      y = this.relu(`${name}.relu2`, this.batchNorm(`${name}.bn2`, this.conv(`${name}.conv2`, y, stride, 1)));
      y = this.batchNorm(`${name}.bn3`, this.conv(`${name}.conv3`, y, 1, 0));
    }
    const downsample = this.#store.params.has(`${this.#prefix}${name}.downsample.0.weight`);
    const shortcut = downsample
      ? this.batchNorm(`${name}.downsample.1`, this.conv(`${name}.downsample.0`, x, stride, 0))
      : x;
    const sum = tf.layers.add({ name: `${this.#prefix}${name}.add` }).apply([y, shortcut]) as SymbolicTensor;
    return this.relu(`${name}.relu`, sum);
  }

  /**
   * A residual block of `face-resnet29`, as `backbones/face_resnet29.ts` computes it in evaluation mode:
   * conv-BN-ReLU, conv-BN, plus the shortcut (for a down block: a 2x2 average pool, its missing channels
   * appended as zeros by a fixed 1x1 conv), the conv path zero-padded at the bottom and right to the
   * shortcut's size; ReLU.
   */
  faceBlock(name: string, x: SymbolicTensor, down: boolean): SymbolicTensor {
    const full = `${this.#prefix}${name}`;
    const [, height, width, inChannels] = x.shape as number[];
    const outChannels = this.#tensor(`${full}.conv1.weight`).shape[3] as number;
    let shortcut = x;
    if (down) {
      shortcut = tf.layers.averagePooling2d({
        poolSize: 2,
        strides: 2,
        padding: "valid",
        name: `${full}.pool`,
      })
        .apply(x) as SymbolicTensor;
    }
    if (outChannels > inChannels) {
      const widen = tf.layers.conv2d({
        filters: outChannels,
        kernelSize: 1,
        padding: "valid",
        useBias: false,
        trainable: false,
        name: `${full}.pad_channels`,
      });
      shortcut = widen.apply(shortcut) as SymbolicTensor;
      const kernel = tf.tidy(() =>
        tf.pad(tf.eye(inChannels), [[0, 0], [0, outChannels - inChannels]]).reshape([
          1,
          1,
          inChannels,
          outChannels,
        ])
      );
      widen.setWeights([kernel]);
      kernel.dispose();
    }
    // A down block on a map smaller than its kernel has an empty conv path: the shortcut alone.
    if (down && (height < 3 || width < 3)) return this.relu(`${name}.relu`, shortcut);
    let y = this.relu(
      `${name}.relu1`,
      this.batchNorm(`${name}.bn1`, this.conv(`${name}.conv1`, x, down ? 2 : 1, down ? 0 : 1)),
    );
    y = this.batchNorm(`${name}.bn2`, this.conv(`${name}.conv2`, y, 1, 1));
    const dh = (shortcut.shape[1] as number) - (y.shape[1] as number);
    const dw = (shortcut.shape[2] as number) - (y.shape[2] as number);
    if (dh > 0 || dw > 0) {
      y = tf.layers.zeroPadding2d({ padding: [[0, dh], [0, dw]], name: `${full}.pad` }).apply(
        y,
      ) as SymbolicTensor;
    }
    const sum = tf.layers.add({ name: `${full}.add` }).apply([y, shortcut]) as SymbolicTensor;
    return this.relu(`${name}.relu`, sum);
  }

  /** The stages `first..last` (0-based: layer1 is stage 0). */
  stages(spec: ResNetSpec, x: SymbolicTensor, first: number, last: number): SymbolicTensor {
    for (let s = first; s <= last; s++) {
      for (let b = 0; b < spec.layers[s]; b++) {
        x = this.block(spec, `layer${s + 1}.${b}`, x, b === 0 && s > 0 ? 2 : 1);
      }
    }
    return x;
  }
}

/**
 * Builds the inference network of an Ada-DF model as a TensorFlow.js Layers model with the model's
 * current weights: stem (evaluation mode), target branch, `fc` logits scaled by the attention a2,
 * softmax. Input [N, size, size, 3] normalised images (NHWC); output [N, C] probabilities. The caller
 * disposes the returned model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { tf } from "../engine/tf.ts";
 * import { buildInferenceModel } from "./export.ts";
 *
 * const model = new AdaDfModel("tiny", { numClasses: 7 });
 * const net = buildInferenceModel(model, { size: 32 });
 * const p = net.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor;
 * assert.deepEqual(p.shape, [1, 7]);
 * assert.ok(Math.abs(p.sum().arraySync() as number - 1) < 1e-5); // probabilities
 * net.dispose();
 * model.dispose();
 * ```
 */
export function buildInferenceModel(model: AdaDfModel, options: BuildInferenceModelOptions): LayersModel {
  const { size } = options;
  const attention = options.attention ?? "sigmoid";
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`exportInferenceModel: size must be a positive integer, got ${size}.`);
  }
  if (attention !== "sigmoid" && attention !== "none") {
    throw new Error(
      `exportInferenceModel: attention must be "sigmoid" or "none", got ${JSON.stringify(attention)}.`,
    );
  }
  const spec = model.spec;
  const stem = new NetworkBuilder(model, "");
  const target = new NetworkBuilder(model, "target.");
  const input = tf.input({ shape: [size, size, 3], name: "image" });
  let x: SymbolicTensor;
  if (spec.family === "resnet") {
    x = stem.relu("relu", stem.batchNorm("bn1", stem.conv("conv1", input, 2, 3)));
    // Max pool 3x3, stride 2, padding 1. PyTorch pads with -inf; padding with zeros is exact here
    // because the input follows a ReLU (every value >= 0, so a zero never exceeds the window's maximum).
    x = tf.layers.zeroPadding2d({ padding: 1, name: "maxpool.pad" }).apply(x) as SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "valid", name: "maxpool" })
      .apply(x) as SymbolicTensor;
    x = stem.stages(spec, x, 0, 0);
    x = target.stages(spec, x, 1, 3);
  } else {
    faceResNet29Shapes(size); // refuses a size too small for the network, with the reason
    x = stem.relu(
      "conv32_down.relu",
      stem.batchNorm("conv32_down.bn", stem.conv("conv32_down.conv", input, 2, 0)),
    );
    x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "valid", name: "maxpool" })
      .apply(x) as SymbolicTensor;
    for (const b of FACE_RESNET29_BLOCKS.stem) x = stem.faceBlock(b.name, x, b.down);
    for (const b of FACE_RESNET29_BLOCKS.branch) x = target.faceBlock(b.name, x, b.down);
  }
  const h = tf.layers.globalAveragePooling2d({ name: "target.avgpool" }).apply(x) as SymbolicTensor;
  if (h.shape[1] !== featureSize(spec)) {
    throw new Error(`exportInferenceModel: expected ${featureSize(spec)} features, built ${h.shape[1]}.`);
  }
  let z = target.dense("fc", h);
  if (attention === "sigmoid") {
    const a2 = target.dense("attention", h, "sigmoid");
    const repeat = tf.layers.dense({
      units: model.numClasses,
      useBias: false,
      trainable: false,
      kernelInitializer: "ones",
      name: "target.attention.repeat",
    });
    const repeated = repeat.apply(a2) as SymbolicTensor;
    const ones = tf.ones([1, model.numClasses]);
    repeat.setWeights([ones]);
    ones.dispose();
    z = tf.layers.multiply({ name: "target.attention.scale" }).apply([z, repeated]) as SymbolicTensor;
  }
  const probabilities = tf.layers.activation({ activation: "softmax", name: "probabilities" })
    .apply(z) as SymbolicTensor;
  return tf.model({ inputs: input, outputs: probabilities, name: `ada-df-${spec.name}` });
}

/** Makes sure `dir` is a folder (creating it), with an error naming it otherwise. */
async function ensureFolder(dir: string): Promise<void> {
  const info = await Deno.stat(dir).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`cannot use ${dir} as the export folder: ${(e as Error).message}`, { cause: e });
  });
  if (info && !info.isDirectory) {
    throw new Error(`cannot export into ${dir}: it exists and is not a folder.`);
  }
  if (!info) {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new Error(`cannot create the export folder ${dir}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/**
 * The TensorFlow.js browser bundle (`dist/tf.min.js`) of the `@tensorflow/tfjs` npm package that this
 * library runs on, found next to the package's entry point.
 *
 * @example
 * ```ts ignore
 * import { tfjsBundlePath } from "./export.ts";
 * console.log(tfjsBundlePath()); // .../@tensorflow/tfjs/4.22.0/dist/tf.min.js
 * ```
 */
export function tfjsBundlePath(): string {
  const entry = import.meta.resolve("@tensorflow/tfjs");
  if (!entry.startsWith("file:")) {
    throw new Error(
      `cannot locate the TensorFlow.js package on disk (it resolves to ${entry}); export with runtime: false ` +
        `and take tf.min.js from the @tensorflow/tfjs npm package's dist/ folder.`,
    );
  }
  // The entry point is in dist/ (dist/tf.node.js or dist/index.js).
  return join(dirname(fileURLToPath(entry)), EXPORT_FILES.runtime);
}

function checkRgb(name: string, v: Rgb, positive: boolean): [number, number, number] {
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x) || (positive && x <= 0))) {
    throw new Error(
      `exportInferenceModel: ${name} must be three finite${positive ? " positive" : ""} numbers, ` +
        `got ${JSON.stringify(v)}.`,
    );
  }
  return [v[0], v[1], v[2]];
}

/**
 * Exports the inference network of a model (stem, target branch, `fc`, attention; the auxiliary branch
 * is dropped) as a TensorFlow.js Layers model: `model.json` + `weights.bin`, with `preprocess.json`
 * and the TensorFlow.js browser bundle `tf.min.js`. Load it with `loadExportedModel` (Deno) or
 * `tf.loadLayersModel("<folder>/model.json")` (browser).
 *
 * @example
 * ```ts ignore
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { exportInferenceModel } from "./export.ts";
 *
 * const model = new AdaDfModel("tiny", { numClasses: 7 });
 * const result = await exportInferenceModel(model, {
 *   outDir: "exported",
 *   size: 32,
 *   classNames: ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral"],
 * });
 * console.log(result.files);
 * ```
 */
export async function exportInferenceModel(
  model: AdaDfModel,
  options: ExportInferenceModelOptions,
): Promise<ExportResult> {
  const outDir = resolve(options.outDir);
  const classNames = [...options.classNames];
  if (classNames.length !== model.numClasses) {
    throw new Error(
      `exportInferenceModel: ${classNames.length} class names for a model with ${model.numClasses} classes.`,
    );
  }
  if (new Set(classNames).size !== classNames.length || classNames.some((n) => typeof n !== "string" || !n)) {
    throw new Error(`exportInferenceModel: class names must be distinct non-empty strings.`);
  }
  const crops = options.crops ?? 1;
  if (crops !== 1 && crops !== 10) {
    throw new Error(`exportInferenceModel: crops must be 1 or 10, got ${crops}.`);
  }
  const attention = options.attention ?? "sigmoid";
  const preprocess: PreprocessSpec = {
    format: PREPROCESS_FORMAT,
    version: 1,
    inputSize: options.size,
    mean: checkRgb("mean", options.mean ?? model.spec.normalization.mean, false),
    std: checkRgb("std", options.std ?? model.spec.normalization.std, true),
    classNames,
    channelOrder: "RGB",
    layout: "NHWC",
    valueRange: [0, 1],
    resize: "bilinear",
    crops,
    ...(crops === 10
      ? { resizeShorter: Math.round((options.size * 256) / 224), cropCombine: "geometric-mean" as const }
      : {}),
    output: "probabilities",
    attention,
    backbone: model.spec.name,
  };
  const runtimeSource = options.runtime ?? true ? tfjsBundlePath() : null;
  await ensureFolder(outDir);

  const net = buildInferenceModel(model, { size: options.size, attention });
  let artifacts: tf.io.ModelArtifacts | undefined;
  try {
    await net.save(tf.io.withSaveHandler((a) => {
      artifacts = a;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } });
    }));
  } finally {
    net.dispose();
  }
  if (!artifacts?.weightData || !artifacts.weightSpecs) {
    throw new Error("exportInferenceModel: TensorFlow.js produced no weights.");
  }
  const weights = new Uint8Array(tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer[]));
  const modelJson = {
    format: "layers-model",
    generatedBy: artifacts.generatedBy,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [EXPORT_FILES.weights], weights: artifacts.weightSpecs }],
  };
  const files = [EXPORT_FILES.weights, EXPORT_FILES.model, EXPORT_FILES.preprocess].map((f) =>
    join(outDir, f)
  );
  await writeFileAtomic(files[0], weights);
  await writeFileAtomic(files[1], JSON.stringify(modelJson));
  await writeFileAtomic(files[2], JSON.stringify(preprocess, null, 2) + "\n");
  if (runtimeSource) {
    let bundle: Uint8Array;
    try {
      bundle = await Deno.readFile(runtimeSource);
    } catch (e) {
      throw new Error(`cannot read the TensorFlow.js bundle ${runtimeSource}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const path = join(outDir, EXPORT_FILES.runtime);
    await writeFileAtomic(path, bundle);
    files.push(path);
  }
  return { outDir, files, preprocess, weightBytes: weights.byteLength };
}

/** Options of {@linkcode exportRun}. */
export interface ExportRunOptions {
  /**
   * Which checkpoint of the run: `best` (falls back to `last` when the run has no best yet) or `last`.
   * @default {"best"}
   */
  checkpoint?: "best" | "last";
  /**
   * Copy the TensorFlow.js browser bundle (`tf.min.js`) into the folder.
   * @default {true}
   */
  runtime?: boolean;
}

/** What {@linkcode exportRun} wrote, and from which checkpoint. */
export interface ExportRunResult extends ExportResult {
  /** The checkpoint file exported. */
  checkpointPath: string;
}

function attentionOf(run: LoadedRun, file: string): ExportAttention {
  const name = run.plugins.attention.name;
  if (name !== "sigmoid" && name !== "none") {
    throw new Error(
      `${file}: method.attention is "${name}"; the export expresses only the "sigmoid" and "none" attention.`,
    );
  }
  return name;
}

/**
 * Exports a training run's inference model (see {@linkcode exportInferenceModel}) from its run folder:
 * the `best` (default) or `last` checkpoint, with the run's input size, test crops, attention and class
 * names.
 *
 * @example
 * ```ts ignore
 * import { exportRun } from "./export.ts";
 * const { files } = await exportRun("runs/synthetic-fused-20261128-101500", "exported");
 * ```
 */
export async function exportRun(
  runDir: string,
  outDir: string,
  options: ExportRunOptions = {},
): Promise<ExportRunResult> {
  const run = await loadRun(runDir, options.checkpoint ?? "best");
  try {
    const result = await exportInferenceModel(run.model, {
      outDir,
      size: run.config.data.size,
      classNames: run.classNames,
      crops: run.config.data.testCrops,
      attention: attentionOf(run, join(runDir, RUN_FILES.config)),
      runtime: options.runtime,
    });
    return { ...result, checkpointPath: run.checkpointPath };
  } finally {
    run.model.dispose();
  }
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

/**
 * Describes an export as text: the checkpoint, the backbone and attention, the input and classes, and
 * each file written with its size.
 *
 * @example
 * ```ts ignore
 * import { exportRun, formatExportRun } from "./export.ts";
 * console.log(await formatExportRun(await exportRun("runs/x", "exported")));
 * ```
 */
export async function formatExportRun(result: ExportRunResult): Promise<string> {
  const p = result.preprocess;
  const lines = [
    `exported ${result.checkpointPath} (${p.backbone}, attention ${p.attention}) to ${result.outDir}`,
    `input ${p.inputSize}x${p.inputSize} RGB, ${p.crops} crop${p.crops === 1 ? "" : "s"}; ` +
    `classes ${p.classNames.join(", ")}`,
  ];
  for (const file of result.files) {
    const { size } = await Deno.stat(file);
    lines.push(`  ${file}  ${formatBytes(size)}`);
  }
  return lines.join("\n");
}
