/**
 * `face-resnet29`: dlib's face-recognition ResNet-29 (trained by dlib's author for metric learning on
 * about 3 million faces of 7,485 people; 99.38% on LFW), with the pretrained weights that ship in the
 * npm package `@vladmandic/face-api@1.7.15` (`model/face_recognition_model.bin` and its TensorFlow.js
 * weights manifest, uint8 affine-quantised). Nothing is downloaded: the files are those of the installed
 * package, found through its module resolution, and the `.bin` is checked against
 * {@linkcode FACE_RESNET29_SHA256}.
 *
 * The network (input 150x150 RGB natively; 100, 112, 224 and other sizes work, see
 * {@linkcode faceResNet29Shapes}), every conv followed by a BatchNorm:
 *
 * - stem: `conv32_down` (7x7, stride 2, no padding, 32 channels, ReLU), max pool 3x3 stride 2 (no
 *   padding), then the 32-channel stage `conv32_1..3`;
 * - branch: the 64-channel stage (`conv64_down`, `conv64_1..3`), the 128-channel stage (`conv128_down`,
 *   `conv128_1..2`), the 256-channel stage (`conv256_down`, `conv256_1..2`, `conv256_down_out`) and a
 *   global average pool: 256 features;
 * - a block is conv 3x3 + BatchNorm + ReLU, conv 3x3 + BatchNorm, plus the shortcut, then ReLU. A
 *   `_down` block's first conv has stride 2 and no padding; its shortcut is a 2x2 stride-2 average pool
 *   with the missing channels zero-filled (no projection), and where the conv path comes out one row or
 *   column short of the pooled shortcut it is zero-padded at the bottom and right (as dlib and face-api
 *   compute it);
 * - the descriptor head `descriptor`: a 256 -> 128 linear map without bias (the face descriptor; two
 *   photos of one person are closer than 0.6 in Euclidean distance by dlib's rule).
 *
 * dlib folds its BatchNorm into a per-channel affine after a biased conv: `y = (conv(x) + b) * s + t`.
 * Here that becomes a trainable BatchNorm after a bias-free conv, with weight `s`, bias `b * s + t`,
 * running mean 0 and running variance `1 - eps`, which gives dlib's output exactly in evaluation mode.
 * Those statistics are not the real ones, so in training mode (batch statistics) the network would
 * compute something else; {@linkcode calibrateFaceResNet29BatchNorm} measures them on a few images and
 * re-parameterises each BatchNorm to them without changing its evaluation-mode output (a training run
 * does this on its first training images before the first epoch).
 *
 * Its preprocessing is dlib's: `(value - [122.782, 117.001, 104.298]) / 255` on 0..255 values, i.e.
 * {@linkcode FACE_RESNET29_NORMALIZATION} (means `m / 255`, standard deviations 1) on values in [0, 1].
 *
 * Parameter names (state_dict style): `conv32_down.conv.weight`, `conv32_down.bn.{weight, bias,
 * running_mean, running_var}`, `conv64_down.conv1.weight`, `conv64_down.bn1.weight`, ...,
 * `conv256_down_out.bn2.running_var`, `descriptor.weight`. Kernels are [kh, kw, in, out], the
 * descriptor [256, 128] (TensorFlow.js's layouts, as in `layers.ts`).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { type Tensor2D, type Tensor4D, tf, type Variable } from "../engine/tf.ts";
import {
  batchNorm,
  BN_EPSILON,
  conv2d,
  type ForwardMode,
  globalAvgPool,
  param,
  type ParameterStore,
} from "./layers.ts";
import type { Normalization } from "./normalization.ts";
// A static import keeps the package in the module graph (installed and locked with the library).
import manifestJson from "@vladmandic/face-api/model/face_recognition_model-weights_manifest.json" with {
  type: "json",
};

/** The npm package (as pinned in `deno.json`) whose files hold the weights. */
export const FACE_RESNET29_PACKAGE = "@vladmandic/face-api@1.7.15";

/**
 * SHA-256 of `model/face_recognition_model.bin` in {@linkcode FACE_RESNET29_PACKAGE}.
 *
 * @example Check a copy of the weights file
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { FACE_RESNET29_SHA256, faceResNet29WeightsPath } from "./face_resnet29.ts";
 * const bytes = Deno.readFileSync(faceResNet29WeightsPath());
 * assert.equal(createHash("sha256").update(bytes).digest("hex"), FACE_RESNET29_SHA256);
 * ```
 */
export const FACE_RESNET29_SHA256 = "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589";

/** dlib's channel means on 0..255 values (RGB). */
const DLIB_MEAN_RGB = [122.782, 117.001, 104.298] as const;

/**
 * dlib's preprocessing as a normalisation on values in [0, 1]: means `[122.782, 117.001, 104.298] / 255`,
 * standard deviations 1 (`(v / 255 - m / 255) / 1 = (v - m) / 255`).
 *
 * @example dlib's value of a white pixel's red channel
 * ```ts
 * import assert from "node:assert/strict";
 * import { FACE_RESNET29_NORMALIZATION } from "./face_resnet29.ts";
 * const { mean, std } = FACE_RESNET29_NORMALIZATION;
 * assert.ok(Math.abs((1 - mean[0]) / std[0] - (255 - 122.782) / 255) < 1e-12);
 * ```
 */
export const FACE_RESNET29_NORMALIZATION: Normalization = {
  mean: [DLIB_MEAN_RGB[0] / 255, DLIB_MEAN_RGB[1] / 255, DLIB_MEAN_RGB[2] / 255],
  std: [1, 1, 1],
};

/** The shape of the face-recognition ResNet-29 (there is one). */
export interface FaceResNetSpec {
  /** Backbone name. */
  readonly name: "face-resnet29";
  /** Backbone family. */
  readonly family: "face-resnet";
  /** The input normalisation the network was trained with. */
  readonly normalization: Normalization;
  /** Features of the pooled branch output. */
  readonly features: number;
  /** Size of the face descriptor. */
  readonly descriptorSize: number;
  /** The input size it was trained at. */
  readonly nativeSize: number;
}

/**
 * The spec of `face-resnet29`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FACE_RESNET29_SPEC } from "./face_resnet29.ts";
 * assert.equal(FACE_RESNET29_SPEC.features, 256);
 * assert.equal(FACE_RESNET29_SPEC.nativeSize, 150);
 * ```
 */
export const FACE_RESNET29_SPEC: FaceResNetSpec = {
  name: "face-resnet29",
  family: "face-resnet",
  normalization: FACE_RESNET29_NORMALIZATION,
  features: 256,
  descriptorSize: 128,
  nativeSize: 150,
};

/** A residual block of the network: its name and whether it halves the size (a `_down` block). */
export interface FaceResNet29Block {
  /** Module name (`conv64_down`). */
  readonly name: string;
  /** Whether it is a down block (stride 2, pooled shortcut). */
  readonly down: boolean;
}

type BlockDef = FaceResNet29Block;

const block = (name: string): BlockDef => ({ name, down: name.includes("_down") });

/** The stem's residual blocks (after `conv32_down` and the max pool). */
const STEM_BLOCKS: readonly BlockDef[] = ["conv32_1", "conv32_2", "conv32_3"].map(block);

/** A branch's residual blocks. */
const BRANCH_BLOCKS: readonly BlockDef[] = [
  "conv64_down",
  "conv64_1",
  "conv64_2",
  "conv64_3",
  "conv128_down",
  "conv128_1",
  "conv128_2",
  "conv256_down",
  "conv256_1",
  "conv256_2",
  "conv256_down_out",
].map(block);

/** The stem's first conv (and its BatchNorm under `.bn`). */
const STEM_CONV = "conv32_down";

/**
 * The residual blocks of the stem (after `conv32_down` and the max pool) and of a branch, in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FACE_RESNET29_BLOCKS } from "./face_resnet29.ts";
 * assert.equal(FACE_RESNET29_BLOCKS.stem.length, 3);
 * assert.equal(FACE_RESNET29_BLOCKS.branch.filter((b) => b.down).length, 4);
 * ```
 */
export const FACE_RESNET29_BLOCKS: {
  readonly stem: readonly FaceResNet29Block[];
  readonly branch: readonly FaceResNet29Block[];
} = { stem: STEM_BLOCKS, branch: BRANCH_BLOCKS };
/** The descriptor head's weight. */
const DESCRIPTOR = "descriptor.weight";

/**
 * The module names of the stem (`conv32_down` and `conv32_1..3`) and of a branch (`conv64_down` ..
 * `conv256_down_out`): every parameter of the network starts with one of them (or is `descriptor.weight`).
 *
 * @example Tell stem parameters from branch parameters
 * ```ts
 * import assert from "node:assert/strict";
 * import { FACE_RESNET29_MODULES } from "./face_resnet29.ts";
 * assert.ok(FACE_RESNET29_MODULES.stem.includes("conv32_3"));
 * assert.equal(FACE_RESNET29_MODULES.branch.at(-1), "conv256_down_out");
 * ```
 */
export const FACE_RESNET29_MODULES: { readonly stem: readonly string[]; readonly branch: readonly string[] } =
  {
    stem: [STEM_CONV, ...STEM_BLOCKS.map((b) => b.name)],
    branch: BRANCH_BLOCKS.map((b) => b.name),
  };

/** One tensor of the pretrained weights: TensorFlow.js layout, float32. */
export interface FaceResNet29Tensor {
  /** Shape. */
  shape: number[];
  /** Values, row-major. */
  data: Float32Array;
}

/** The pretrained weights by parameter or buffer name (see the module's naming). */
export type FaceResNet29Weights = ReadonlyMap<string, FaceResNet29Tensor>;

/**
 * The path of `model/face_recognition_model.bin` in the installed {@linkcode FACE_RESNET29_PACKAGE},
 * found through the module resolution of `deno.json`'s import of `@vladmandic/face-api`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { faceResNet29WeightsPath } from "./face_resnet29.ts";
 * assert.ok(faceResNet29WeightsPath().endsWith("model/face_recognition_model.bin"));
 * ```
 */
export function faceResNet29WeightsPath(): string {
  const url = import.meta.resolve("@vladmandic/face-api/model/face_recognition_model.bin");
  if (!url.startsWith("file:")) {
    throw new Error(
      `face-resnet29: ${FACE_RESNET29_PACKAGE} does not resolve to files on disk (${url}); ` +
        `install it (it is an import of deno.json) or pass the weights file's path.`,
    );
  }
  return fileURLToPath(url);
}

type ManifestEntry = tf.io.WeightsManifestEntry;

function manifestEntries(): ManifestEntry[] {
  const groups = manifestJson as unknown as tf.io.WeightsManifestConfig;
  if (!Array.isArray(groups) || groups.length !== 1 || !Array.isArray(groups[0]?.weights)) {
    throw new Error(`face-resnet29: ${FACE_RESNET29_PACKAGE}'s weights manifest has an unexpected layout.`);
  }
  return groups[0].weights;
}

function readWeightsFile(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new Error(`face-resnet29: cannot read the weights file ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const digest = createHash("sha256").update(bytes).digest("hex");
  if (digest !== FACE_RESNET29_SHA256) {
    throw new Error(
      `face-resnet29: ${path} has SHA-256 ${digest}, expected ${FACE_RESNET29_SHA256} ` +
        `(the file of ${FACE_RESNET29_PACKAGE}); the weights are not dlib's, refusing to use them.`,
    );
  }
  return bytes;
}

/** The affine `(x + b) * s + t` as BatchNorm parameters that reproduce it in evaluation mode. */
function unfoldBatchNorm(
  out: Map<string, FaceResNet29Tensor>,
  name: string,
  bias: Float32Array,
  scale: Float32Array,
  shift: Float32Array,
): void {
  const n = bias.length;
  const beta = new Float32Array(n);
  for (let c = 0; c < n; c++) beta[c] = bias[c] * scale[c] + shift[c];
  out.set(`${name}.weight`, { shape: [n], data: Float32Array.from(scale) });
  out.set(`${name}.bias`, { shape: [n], data: beta });
  out.set(`${name}.running_mean`, { shape: [n], data: new Float32Array(n) });
  out.set(`${name}.running_var`, { shape: [n], data: new Float32Array(n).fill(1 - BN_EPSILON) });
}

let cached: FaceResNet29Weights | undefined;

/**
 * Reads, checks (SHA-256) and decodes the pretrained weights, dlib's folded BatchNorm turned into
 * BatchNorm parameters and buffers (see the module's documentation). The packaged file is read once and
 * kept; a `path` reads that file instead (it must be the same bytes). Errors name the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadFaceResNet29Weights } from "./face_resnet29.ts";
 * const weights = loadFaceResNet29Weights();
 * assert.deepEqual(weights.get("conv32_down.conv.weight")?.shape, [7, 7, 3, 32]);
 * assert.deepEqual(weights.get("descriptor.weight")?.shape, [256, 128]);
 * ```
 */
export function loadFaceResNet29Weights(path?: string): FaceResNet29Weights {
  if (path === undefined && cached) return cached;
  const file = path ?? faceResNet29WeightsPath();
  const bytes = readWeightsFile(file);
  const entries = manifestEntries();
  let tensors: tf.NamedTensorMap;
  try {
    tensors = tf.io.decodeWeights(bytes.slice().buffer, entries);
  } catch (e) {
    throw new Error(`face-resnet29: cannot decode ${file}: ${(e as Error).message}`, { cause: e });
  }
  const decoded = new Map<string, FaceResNet29Tensor>();
  for (const [name, t] of Object.entries(tensors)) {
    decoded.set(name, { shape: t.shape, data: Float32Array.from(t.dataSync() as Float32Array) });
    t.dispose();
  }
  const take = (name: string, rank: number): FaceResNet29Tensor => {
    const t = decoded.get(name);
    if (!t || t.shape.length !== rank) {
      throw new Error(
        `face-resnet29: ${file} has no tensor '${name}' of rank ${rank} (its manifest is not dlib's).`,
      );
    }
    return t;
  };
  const out = new Map<string, FaceResNet29Tensor>();
  const layer = (src: string, conv: string, bn: string) => {
    out.set(`${conv}.weight`, take(`${src}/conv/filters`, 4));
    unfoldBatchNorm(
      out,
      bn,
      take(`${src}/conv/bias`, 1).data,
      take(`${src}/scale/weights`, 1).data,
      take(`${src}/scale/biases`, 1).data,
    );
  };
  layer(STEM_CONV, `${STEM_CONV}.conv`, `${STEM_CONV}.bn`);
  for (const b of [...STEM_BLOCKS, ...BRANCH_BLOCKS]) {
    layer(`${b.name}/conv1`, `${b.name}.conv1`, `${b.name}.bn1`);
    layer(`${b.name}/conv2`, `${b.name}.conv2`, `${b.name}.bn2`);
  }
  out.set(DESCRIPTOR, take("fc", 2));
  if (path === undefined) cached = out;
  return out;
}

/** Spatial sizes through the network for one input size. */
export interface FaceResNet29Shapes {
  /** After `conv32_down`. */
  stemConv: number;
  /** After the max pool (the 32-channel stage keeps it). */
  stem: number;
  /** After the 64-, 128- and 256-channel stages (the last is the map that is pooled). */
  stages: [number, number, number];
}

/**
 * The feature-map sizes of the network for a square input of `size` pixels; a size too small to reach
 * the last stage is refused. 150 (native) ends on 2x2, 112 on 1x1, 100 on 1x1 (with the last block's
 * conv path empty: its output is the shortcut alone, as in dlib), 224 on 3x3.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { faceResNet29Shapes } from "./face_resnet29.ts";
 * assert.deepEqual(faceResNet29Shapes(150).stages, [17, 8, 2]);
 * assert.deepEqual(faceResNet29Shapes(112).stages, [13, 6, 1]);
 * assert.throws(() => faceResNet29Shapes(40), /too small/);
 * ```
 */
export function faceResNet29Shapes(size: number): FaceResNet29Shapes {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`face-resnet29: the input size must be a positive integer, got ${size}.`);
  }
  const tooSmall = () =>
    new RangeError(
      `face-resnet29: an input of ${size} px is too small (the last stage's map would be empty).`,
    );
  if (size < 7) throw tooSmall();
  const stemConv = Math.floor((size - 7) / 2) + 1;
  if (stemConv < 3) throw tooSmall();
  let h = Math.floor((stemConv - 3) / 2) + 1;
  const stem = h;
  // The size after each block, by stage (the channel count in the block's name).
  const byStage = new Map<string, number>();
  for (const b of BRANCH_BLOCKS) {
    if (b.down) h = Math.floor(h / 2);
    if (h < 1) throw tooSmall();
    byStage.set(b.name.slice(4, b.name.indexOf("_")), h);
  }
  const stages = ["64", "128", "256"].map((c) => byStage.get(c)!);
  return { stemConv, stem, stages: stages as [number, number, number] };
}

/**
 * One residual block (as dlib): conv3x3-BN-ReLU, conv3x3-BN, plus the shortcut, ReLU. A down block's
 * first conv has stride 2 and no padding; its shortcut is a 2x2 average pool with zero channels appended,
 * and its conv path is zero-padded at the bottom/right to the shortcut's size (or left out when the input
 * is smaller than the kernel).
 */
/** Sees the input of every BatchNorm of a forward pass (for calibration). */
type Observer = (name: string, x: Tensor4D) => void;

function norm(store: ParameterStore, name: string, x: Tensor4D, mode: ForwardMode, observe?: Observer) {
  observe?.(name, x);
  return batchNorm(store, name, x, mode);
}

function residual(
  store: ParameterStore,
  name: string,
  x: Tensor4D,
  down: boolean,
  mode: ForwardMode,
  observe?: Observer,
): Tensor4D {
  const outChannels = param(store, `${name}.conv1.weight`).shape[3] as number;
  let shortcut = down ? tf.avgPool(x, 2, 2, "valid") : x;
  const missing = outChannels - shortcut.shape[3];
  if (missing > 0) shortcut = tf.pad(shortcut, [[0, 0], [0, 0], [0, 0], [0, missing]]);
  if (down && (x.shape[1] < 3 || x.shape[2] < 3)) return tf.relu(shortcut);
  let y = tf.relu(
    norm(store, `${name}.bn1`, conv2d(store, `${name}.conv1`, x, down ? 2 : 1, down ? 0 : 1), mode, observe),
  );
  y = norm(store, `${name}.bn2`, conv2d(store, `${name}.conv2`, y, 1, 1), mode, observe);
  const dh = shortcut.shape[1] - y.shape[1];
  const dw = shortcut.shape[2] - y.shape[2];
  if (dh > 0 || dw > 0) y = tf.pad(y, [[0, 0], [0, dh], [0, dw], [0, 0]]);
  return tf.relu(tf.add(y, shortcut));
}

/**
 * The stem: `conv32_down` (+ BatchNorm, ReLU), max pool 3x3 stride 2, `conv32_1..3`. Input NHWC images
 * normalised with {@linkcode FACE_RESNET29_NORMALIZATION}; parameters under `prefix`.
 *
 * @example Stem features of a 112 px face
 * ```ts
 * import assert from "node:assert/strict";
 * import { addFaceResNet29Parameters, faceResNet29StemForward } from "./face_resnet29.ts";
 * import type { ParameterStore } from "./layers.ts";
 * import { tf } from "../engine/tf.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * addFaceResNet29Parameters(store, { part: "stem" });
 * const features = faceResNet29StemForward(store, tf.zeros([1, 112, 112, 3]), { training: false });
 * assert.deepEqual(features.shape, [1, 26, 26, 32]);
 * ```
 */
export function faceResNet29StemForward(
  store: ParameterStore,
  x: Tensor4D,
  mode: ForwardMode,
  prefix = "",
): Tensor4D {
  return stemForward(store, x, mode, prefix);
}

function stemForward(
  store: ParameterStore,
  x: Tensor4D,
  mode: ForwardMode,
  prefix: string,
  observe?: Observer,
): Tensor4D {
  let y = conv2d(store, `${prefix}${STEM_CONV}.conv`, x, 2, 0);
  y = tf.relu(norm(store, `${prefix}${STEM_CONV}.bn`, y, mode, observe));
  y = tf.maxPool(y, 3, 2, "valid");
  for (const b of STEM_BLOCKS) y = residual(store, `${prefix}${b.name}`, y, b.down, mode, observe);
  return y;
}

/**
 * A branch: the 64-, 128- and 256-channel stages and global average pooling, to features [N, 256].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addFaceResNet29Parameters, faceResNet29BranchForward } from "./face_resnet29.ts";
 * import type { ParameterStore } from "./layers.ts";
 * import { tf } from "../engine/tf.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * addFaceResNet29Parameters(store, { part: "branch", prefix: "aux." });
 * const h = faceResNet29BranchForward(store, tf.zeros([2, 26, 26, 32]), { training: false }, "aux.");
 * assert.deepEqual(h.shape, [2, 256]);
 * ```
 */
export function faceResNet29BranchForward(
  store: ParameterStore,
  x: Tensor4D,
  mode: ForwardMode,
  prefix = "",
): Tensor2D {
  return branchForward(store, x, mode, prefix);
}

function branchForward(
  store: ParameterStore,
  x: Tensor4D,
  mode: ForwardMode,
  prefix: string,
  observe?: Observer,
): Tensor2D {
  for (const b of BRANCH_BLOCKS) x = residual(store, `${prefix}${b.name}`, x, b.down, mode, observe);
  return globalAvgPool(x);
}

/** Options of {@linkcode calibrateFaceResNet29BatchNorm}. */
export interface CalibrateOptions {
  /**
   * The prefix of the stem's parameters.
   * @default {""}
   */
  stemPrefix?: string;
  /**
   * The prefixes of the branches to recalibrate (`["aux.", "target."]` in the Ada-DF model). The first
   * one's statistics are measured and applied to every branch (all start as copies).
   * @default {[""]}
   */
  branchPrefixes?: readonly string[];
}

/** What {@linkcode calibrateFaceResNet29BatchNorm} measured. */
export interface CalibrationReport {
  /** Images seen. */
  images: number;
  /** BatchNorm layers recalibrated (per network: stem and the first branch). */
  layers: number;
}

/**
 * Sets every BatchNorm's running statistics to the statistics of its input on `batches` (normalised
 * images), rescaling its weight and shifting its bias so that the network computes exactly the same
 * function in evaluation mode: with the layer's current `(gamma, beta, m, v)` and the measured channel
 * mean `mu` and variance `var`, `gamma' = gamma sqrt(var + eps) / sqrt(v + eps)` and
 * `beta' = beta + gamma (mu - m) / sqrt(v + eps)`, running mean `mu`, running variance `var`.
 *
 * dlib's folded BatchNorm carries no statistics (the unfolding starts from running mean 0 and variance
 * `1 - eps`), so in training mode, where BatchNorm normalises with the batch's statistics, the network
 * would compute something else (activations about ten times too large). After calibration a batch like
 * the calibration data gives dlib's output in training mode too, as a pretrained PyTorch ResNet does.
 *
 * @example Calibrate a stem and a branch on a batch: evaluation-mode descriptors do not change
 * ```ts
 * import assert from "node:assert/strict";
 * import { calibrateFaceResNet29BatchNorm, createFaceResNet29, faceDescriptors } from "./face_resnet29.ts";
 * import { tf } from "../engine/tf.ts";
 * const net = createFaceResNet29();
 * const x = tf.randomUniform([2, 100, 100, 3], -0.5, 0.5, "float32", 1) as tf.Tensor4D;
 * const before = faceDescriptors(net, x).arraySync();
 * const report = calibrateFaceResNet29BatchNorm(net, [x]);
 * assert.equal(report.images, 2);
 * const after = faceDescriptors(net, x).arraySync();
 * assert.ok(before.flat().every((v, i) => Math.abs(v - after.flat()[i]) < 1e-4));
 * net.dispose();
 * ```
 */
export function calibrateFaceResNet29BatchNorm(
  store: ParameterStore,
  batches: Iterable<Tensor4D>,
  options: CalibrateOptions = {},
): CalibrationReport {
  const stemPrefix = options.stemPrefix ?? "";
  const branchPrefixes = options.branchPrefixes ?? [""];
  const sums = new Map<string, { n: number; sum: Float64Array; sq: Float64Array }>();
  const observe: Observer = (name, x) => {
    const [s, q] = tf.tidy(() => [tf.sum(x, [0, 1, 2]), tf.sum(tf.square(x), [0, 1, 2])]);
    const sum = s.dataSync();
    const sq = q.dataSync();
    s.dispose();
    q.dispose();
    let acc = sums.get(name);
    if (!acc) {
      sums.set(name, acc = { n: 0, sum: new Float64Array(sum.length), sq: new Float64Array(sum.length) });
    }
    acc.n += x.shape[0] * x.shape[1] * x.shape[2];
    for (let c = 0; c < sum.length; c++) {
      acc.sum[c] += sum[c];
      acc.sq[c] += sq[c];
    }
  };
  const mode = { training: false };
  let images = 0;
  for (const x of batches) {
    images += x.shape[0];
    tf.tidy(() => {
      const features = stemForward(store, x, mode, stemPrefix, observe);
      branchForward(store, features, mode, branchPrefixes[0] ?? "", observe);
    });
  }
  if (images === 0) throw new Error("calibrateFaceResNet29BatchNorm: no images to calibrate on.");
  const apply = (measured: string, target: string) => {
    const acc = sums.get(measured)!;
    const gamma = param(store, `${target}.weight`);
    const beta = param(store, `${target}.bias`);
    const mean = param(store, `${target}.running_mean`);
    const variance = param(store, `${target}.running_var`);
    const [g, b, m, v] = [gamma, beta, mean, variance].map((t) => t.dataSync() as Float32Array);
    const n = g.length;
    const [g2, b2, m2, v2] = [0, 1, 2, 3].map(() => new Float32Array(n));
    for (let c = 0; c < n; c++) {
      const mu = acc.sum[c] / acc.n;
      const vr = Math.max(acc.sq[c] / acc.n - mu * mu, 0);
      const invOld = 1 / Math.sqrt(v[c] + BN_EPSILON);
      g2[c] = g[c] * Math.sqrt(vr + BN_EPSILON) * invOld;
      b2[c] = b[c] + g[c] * (mu - m[c]) * invOld;
      m2[c] = mu;
      v2[c] = vr;
    }
    tf.tidy(() => {
      gamma.assign(tf.tensor1d(g2));
      beta.assign(tf.tensor1d(b2));
      mean.assign(tf.tensor1d(m2));
      variance.assign(tf.tensor1d(v2));
    });
  };
  let layers = 0;
  for (const name of sums.keys()) {
    if (
      name.startsWith(stemPrefix) &&
      FACE_RESNET29_MODULES.stem.includes(moduleOf(name.slice(stemPrefix.length)))
    ) {
      apply(name, name);
    } else {
      const local = name.slice((branchPrefixes[0] ?? "").length);
      for (const prefix of branchPrefixes) apply(name, `${prefix}${local}`);
    }
    layers++;
  }
  return { images, layers };
}

function moduleOf(name: string): string {
  return name.slice(0, name.indexOf("."));
}

/** Options of {@linkcode addFaceResNet29Parameters}. */
export interface AddFaceResNet29Options {
  /** Which part: the stem, one branch, the descriptor head, or all of them. */
  part: "stem" | "branch" | "descriptor" | "all";
  /**
   * Prepended to every name (`aux.` for a branch of the Ada-DF model).
   * @default {""}
   */
  prefix?: string;
  /**
   * Whether the parameters (not the BatchNorm buffers) are trainable.
   * @default {true}
   */
  trainable?: boolean;
  /**
   * The weights to copy.
   * @default {loadFaceResNet29Weights()}
   */
  weights?: FaceResNet29Weights;
}

function partOf(name: string): "stem" | "branch" | "descriptor" {
  if (name === DESCRIPTOR) return "descriptor";
  const module = name.slice(0, name.indexOf("."));
  return FACE_RESNET29_MODULES.stem.includes(module) ? "stem" : "branch";
}

/**
 * Adds the pretrained weights of a part of the network to a store, as variables: conv kernels,
 * BatchNorm weight and bias (learnable) and running statistics (buffers).
 *
 * @example The descriptor network, frozen
 * ```ts
 * import assert from "node:assert/strict";
 * import { addFaceResNet29Parameters } from "./face_resnet29.ts";
 * import type { ParameterStore } from "./layers.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * addFaceResNet29Parameters(store, { part: "all", trainable: false });
 * assert.ok(store.params.has("conv256_down_out.bn2.weight"));
 * assert.ok(store.buffers.has("conv32_down.bn.running_var"));
 * assert.ok(![...store.params.values()].some((v) => v.trainable));
 * ```
 */
export function addFaceResNet29Parameters(store: ParameterStore, options: AddFaceResNet29Options): void {
  const weights = options.weights ?? loadFaceResNet29Weights();
  const prefix = options.prefix ?? "";
  const trainable = options.trainable ?? true;
  for (const [name, t] of weights) {
    if (options.part !== "all" && partOf(name) !== options.part) continue;
    const buffer = name.endsWith(".running_mean") || name.endsWith(".running_var");
    const target = buffer ? store.buffers : store.params;
    const full = `${prefix}${name}`;
    if (target.has(full)) throw new Error(`Duplicate parameter '${full}'.`);
    const initial = tf.tensor(t.data, t.shape);
    target.set(full, tf.variable(initial, !buffer && trainable));
    initial.dispose();
  }
}

/** The face-descriptor network: a parameter store with the whole pretrained ResNet-29. */
export interface FaceResNet29 extends ParameterStore {
  /** Its spec. */
  spec: FaceResNetSpec;
  /** Frees its variables. */
  dispose(): void;
}

/**
 * The whole pretrained network (stem, branch, descriptor head) for face descriptors.
 *
 * @example A descriptor per face
 * ```ts
 * import assert from "node:assert/strict";
 * import { createFaceResNet29, faceDescriptors } from "./face_resnet29.ts";
 * import { tf } from "../engine/tf.ts";
 * const net = createFaceResNet29();
 * const d = faceDescriptors(net, tf.zeros([1, 150, 150, 3]));
 * assert.deepEqual(d.shape, [1, 128]);
 * net.dispose();
 * ```
 */
export function createFaceResNet29(options: { trainable?: boolean } = {}): FaceResNet29 {
  const params = new Map<string, Variable>();
  const buffers = new Map<string, Variable>();
  const store = { params, buffers };
  addFaceResNet29Parameters(store, { part: "all", trainable: options.trainable ?? false });
  return {
    params,
    buffers,
    spec: FACE_RESNET29_SPEC,
    dispose() {
      for (const v of [...params.values(), ...buffers.values()]) v.dispose();
      params.clear();
      buffers.clear();
    },
  };
}

/**
 * The 128-d face descriptors of normalised face crops (NHWC, normalised with
 * {@linkcode FACE_RESNET29_NORMALIZATION}; 150x150 as dlib), in evaluation mode unless told otherwise.
 *
 * @example One descriptor per crop
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { createFaceResNet29, faceDescriptors } from "./face_resnet29.ts";
 *
 * const net = createFaceResNet29();
 * const d = faceDescriptors(net, tf.zeros([2, 64, 64, 3]));
 * assert.deepEqual(d.shape, [2, 128]);
 * net.dispose();
 * ```
 */
export function faceDescriptors(
  net: ParameterStore,
  x: Tensor4D,
  mode: ForwardMode = { training: false },
): Tensor2D {
  return tf.tidy(() => {
    const h = faceResNet29BranchForward(net, faceResNet29StemForward(net, x, mode), mode);
    return tf.matMul(h, param(net, DESCRIPTOR) as unknown as Tensor2D);
  });
}
