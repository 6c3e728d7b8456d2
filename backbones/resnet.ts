/**
 * ResNet18 (basic blocks), ResNet50 (bottlenecks, torchvision v1.5: stride on the 3x3), and two
 * ResNet10-shaped nets (one basic block per stage) for quick CPU runs: `small` (widths 32..256) and
 * `tiny` (widths 8..64, for tests); all with torchvision's parameter names. Each splits into a stem
 * (`conv1, bn1, relu, maxpool, layer1`) and a branch (`layer2, layer3, layer4`, global average pool).
 *
 * This module also holds the registry of every backbone ({@linkcode BACKBONES}, {@linkcode backboneSpec}):
 * the ResNets and the pretrained face-recognition ResNet-29 of `face_resnet29.ts`. A backbone's spec
 * carries the input normalisation it expects (ImageNet's for the ResNets).
 *
 * @module
 */
import { type Tensor2D, type Tensor4D, tf } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import {
  batchNorm,
  conv2d,
  type ForwardMode,
  globalAvgPool,
  Initializer,
  linear,
  type ParameterStore,
} from "./layers.ts";
import { FACE_RESNET29_SPEC, type FaceResNetSpec } from "./face_resnet29.ts";
import { IMAGENET_NORMALIZATION, type Normalization } from "./normalization.ts";

/** The names of the built-in ResNets (torchvision's shape, random initialisation). */
export type ResNetName = "resnet18" | "resnet50" | "small" | "tiny";

/** The names of the built-in backbones: the ResNets and the pretrained `face-resnet29`. */
export type BackboneName = ResNetName | FaceResNetSpec["name"];

/** The shape of a ResNet. */
export interface ResNetSpec {
  /** Backbone name. */
  name: ResNetName;
  /** Backbone family. */
  family: "resnet";
  /** The input normalisation (ImageNet's). */
  normalization: Normalization;
  /** Residual block type. */
  block: "basic" | "bottleneck";
  /** Blocks per stage (layer1..layer4). */
  layers: [number, number, number, number];
  /** Base width per stage (before the bottleneck expansion). */
  widths: [number, number, number, number];
  /** Output channels of conv1. */
  stemWidth: number;
}

/** The spec of any backbone: a ResNet or the face-recognition ResNet-29. */
export type BackboneSpec = ResNetSpec | FaceResNetSpec;

const RESNETS: Record<ResNetName, ResNetSpec> = {
  resnet18: {
    name: "resnet18",
    family: "resnet",
    normalization: IMAGENET_NORMALIZATION,
    block: "basic",
    layers: [2, 2, 2, 2],
    widths: [64, 128, 256, 512],
    stemWidth: 64,
  },
  resnet50: {
    name: "resnet50",
    family: "resnet",
    normalization: IMAGENET_NORMALIZATION,
    block: "bottleneck",
    layers: [3, 4, 6, 3],
    widths: [64, 128, 256, 512],
    stemWidth: 64,
  },
  small: {
    name: "small",
    family: "resnet",
    normalization: IMAGENET_NORMALIZATION,
    block: "basic",
    layers: [1, 1, 1, 1],
    widths: [32, 64, 128, 256],
    stemWidth: 32,
  },
  tiny: {
    name: "tiny",
    family: "resnet",
    normalization: IMAGENET_NORMALIZATION,
    block: "basic",
    layers: [1, 1, 1, 1],
    widths: [8, 16, 32, 64],
    stemWidth: 8,
  },
};

/** Every backbone by name. */
const SPECS: Record<BackboneName, BackboneSpec> = { ...RESNETS, "face-resnet29": FACE_RESNET29_SPEC };

/**
 * The built-in backbone names (the registry that the configuration's `model.backbone` accepts).
 *
 * @example Check a backbone name given on the command line
 * ```ts
 * import assert from "node:assert/strict";
 * import { BACKBONES } from "./resnet.ts";
 * const requested = "tiny";
 * assert.ok(BACKBONES.includes(requested));
 * ```
 */
export const BACKBONES: readonly BackboneName[] = Object.keys(SPECS) as BackboneName[];

/**
 * The spec of a built-in backbone, with the input normalisation it expects.
 *
 * @example The normalisation of each backbone
 * ```ts
 * import assert from "node:assert/strict";
 * import { backboneSpec } from "./resnet.ts";
 * assert.deepEqual(backboneSpec("resnet18").normalization.std, [0.229, 0.224, 0.225]);
 * assert.deepEqual(backboneSpec("face-resnet29").normalization.std, [1, 1, 1]);
 * ```
 */
export function backboneSpec(name: BackboneName): BackboneSpec {
  const spec = Object.hasOwn(SPECS, name) ? SPECS[name] : undefined;
  if (!spec) throw new Error(`Unknown backbone '${name}': expected one of ${BACKBONES.join(", ")}.`);
  return spec;
}

/**
 * The spec of a built-in ResNet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resnetSpec } from "./resnet.ts";
 * assert.equal(resnetSpec("resnet50").block, "bottleneck");
 * ```
 */
export function resnetSpec(name: BackboneName): ResNetSpec {
  const spec = backboneSpec(name);
  if (spec.family !== "resnet") {
    throw new Error(
      `Backbone '${name}' is not a ResNet: expected one of ${Object.keys(RESNETS).join(", ")}.`,
    );
  }
  return spec;
}

/** Channels leaving a stage. */
function stageOut(spec: ResNetSpec, stage: number): number {
  return spec.widths[stage] * (spec.block === "bottleneck" ? 4 : 1);
}

/**
 * The number of features of a branch's pooled output (512 for ResNet18, 2048 for ResNet50, 256 for
 * `face-resnet29`).
 *
 * @example The features each backbone's branch produces
 * ```ts
 * import assert from "node:assert/strict";
 * import { backboneSpec, featureSize, resnetSpec } from "./resnet.ts";
 * assert.equal(featureSize(resnetSpec("resnet18")), 512);
 * assert.equal(featureSize(resnetSpec("resnet50")), 2048);
 * assert.equal(featureSize(backboneSpec("face-resnet29")), 256);
 * ```
 */
export function featureSize(spec: BackboneSpec): number {
  return spec.family === "resnet" ? stageOut(spec, 3) : spec.features;
}

function initStage(init: Initializer, spec: ResNetSpec, stage: number, prefix: string) {
  const inC = stage === 0 ? spec.stemWidth : stageOut(spec, stage - 1);
  const width = spec.widths[stage];
  const outC = stageOut(spec, stage);
  for (let b = 0; b < spec.layers[stage]; b++) {
    const name = `${prefix}layer${stage + 1}.${b}`;
    const cin = b === 0 ? inC : outC;
    if (spec.block === "basic") {
      init.conv(`${name}.conv1`, 3, 3, cin, width);
      init.batchNorm(`${name}.bn1`, width);
      init.conv(`${name}.conv2`, 3, 3, width, width);
      init.batchNorm(`${name}.bn2`, width);
    } else {
      init.conv(`${name}.conv1`, 1, 1, cin, width);
      init.batchNorm(`${name}.bn1`, width);
      init.conv(`${name}.conv2`, 3, 3, width, width);
      init.batchNorm(`${name}.bn2`, width);
      init.conv(`${name}.conv3`, 1, 1, width, outC);
      init.batchNorm(`${name}.bn3`, outC);
    }
    const stride = b === 0 && stage > 0 ? 2 : 1;
    if (b === 0 && (stride !== 1 || cin !== outC)) {
      init.conv(`${name}.downsample.0`, 1, 1, cin, outC);
      init.batchNorm(`${name}.downsample.1`, outC);
    }
  }
}

/**
 * Adds the stem's parameters (`conv1`, `bn1`, `layer1`) to a store.
 *
 * @example Initialise only the stem of a ResNet18
 * ```ts
 * import assert from "node:assert/strict";
 * import { initStem, resnetSpec } from "./resnet.ts";
 * import { Initializer, type ParameterStore } from "./layers.ts";
 * import { Random } from "../engine/random.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * initStem(new Initializer(store, new Random(0), false), resnetSpec("tiny"));
 * assert.ok(store.params.has("conv1.weight"));
 * assert.ok(store.params.has("layer1.0.conv2.weight"));
 * assert.ok(!store.params.has("layer2.0.conv1.weight"));
 * ```
 */
export function initStem(init: Initializer, spec: ResNetSpec, prefix = ""): void {
  init.conv(`${prefix}conv1`, 7, 7, 3, spec.stemWidth);
  init.batchNorm(`${prefix}bn1`, spec.stemWidth);
  initStage(init, spec, 0, prefix);
}

/**
 * Adds a branch's parameters (`layer2`..`layer4`) to a store.
 *
 * @example Initialise a prefixed branch next to a stem
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBranch, initStem, resnetSpec } from "./resnet.ts";
 * import { Initializer, type ParameterStore } from "./layers.ts";
 * import { Random } from "../engine/random.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * const init = new Initializer(store, new Random(0));
 * initStem(init, resnetSpec("tiny"));
 * initBranch(init, resnetSpec("tiny"), "aux.");
 * assert.ok(store.params.has("aux.layer4.0.conv2.weight"));
 * ```
 */
export function initBranch(init: Initializer, spec: ResNetSpec, prefix = ""): void {
  for (let s = 1; s < 4; s++) initStage(init, spec, s, prefix);
}

function block(
  store: ParameterStore,
  spec: ResNetSpec,
  name: string,
  x: Tensor4D,
  stride: number,
  mode: ForwardMode,
): Tensor4D {
  let y: Tensor4D;
  if (spec.block === "basic") {
    y = tf.relu(batchNorm(store, `${name}.bn1`, conv2d(store, `${name}.conv1`, x, stride, 1), mode));
    y = batchNorm(store, `${name}.bn2`, conv2d(store, `${name}.conv2`, y, 1, 1), mode);
  } else {
    y = tf.relu(batchNorm(store, `${name}.bn1`, conv2d(store, `${name}.conv1`, x, 1, 0), mode));
    y = tf.relu(batchNorm(store, `${name}.bn2`, conv2d(store, `${name}.conv2`, y, stride, 1), mode));
    y = batchNorm(store, `${name}.bn3`, conv2d(store, `${name}.conv3`, y, 1, 0), mode);
  }
  const shortcut = store.params.has(`${name}.downsample.0.weight`)
    ? batchNorm(store, `${name}.downsample.1`, conv2d(store, `${name}.downsample.0`, x, stride, 0), mode)
    : x;
  return tf.relu(tf.add(y, shortcut));
}

function stage(
  store: ParameterStore,
  spec: ResNetSpec,
  index: number,
  x: Tensor4D,
  mode: ForwardMode,
  prefix: string,
): Tensor4D {
  for (let b = 0; b < spec.layers[index]; b++) {
    x = block(store, spec, `${prefix}layer${index + 1}.${b}`, x, b === 0 && index > 0 ? 2 : 1, mode);
  }
  return x;
}

/**
 * The stem: `conv1, bn1, relu, maxpool, layer1`. Input NHWC images, normalised.
 *
 * @example Stem features of a 32x32 image (downsampled 4x)
 * ```ts
 * import assert from "node:assert/strict";
 * import { initStem, resnetSpec, stemForward } from "./resnet.ts";
 * import { Initializer, type ParameterStore } from "./layers.ts";
 * import { Random } from "../engine/random.ts";
 * import { tf } from "../engine/tf.ts";
 * const spec = resnetSpec("tiny");
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * initStem(new Initializer(store, new Random(0)), spec);
 * const features = stemForward(store, spec, tf.zeros([1, 32, 32, 3]), { training: false });
 * assert.equal(features.shape.join("x"), "1x8x8x8");
 * ```
 */
export function stemForward(
  store: ParameterStore,
  spec: ResNetSpec,
  x: Tensor4D,
  mode: ForwardMode,
  prefix = "",
): Tensor4D {
  let y = tf.relu(batchNorm(store, `${prefix}bn1`, conv2d(store, `${prefix}conv1`, x, 2, 3), mode));
  y = tf.maxPool(y, 3, 2, 1);
  return stage(store, spec, 0, y, mode, prefix);
}

/**
 * A branch: `layer2, layer3, layer4` and global average pooling, to features [N, F].
 *
 * @example Pooled branch features from stem features
 * ```ts
 * import assert from "node:assert/strict";
 * import { branchForward, featureSize, initBranch, initStem, resnetSpec, stemForward } from "./resnet.ts";
 * import { Initializer, type ParameterStore } from "./layers.ts";
 * import { Random } from "../engine/random.ts";
 * import { tf } from "../engine/tf.ts";
 * const spec = resnetSpec("tiny");
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * const init = new Initializer(store, new Random(0));
 * initStem(init, spec);
 * initBranch(init, spec);
 * const mode = { training: false };
 * const h = branchForward(store, spec, stemForward(store, spec, tf.zeros([2, 32, 32, 3]), mode), mode);
 * assert.equal(h.shape[1], featureSize(spec));
 * ```
 */
export function branchForward(
  store: ParameterStore,
  spec: ResNetSpec,
  x: Tensor4D,
  mode: ForwardMode,
  prefix = "",
): Tensor2D {
  for (let s = 1; s < 4; s++) x = stage(store, spec, s, x, mode, prefix);
  return globalAvgPool(x);
}

/** Options of {@linkcode createResNet}. */
export interface CreateResNetOptions {
  /**
   * Number of output classes of `fc`.
   * @default {7}
   */
  numClasses?: number;
  /**
   * Seed of the initialisation.
   * @default {0}
   */
  seed?: number;
  /**
   * Whether the seeded random initialisation runs; `false`: zeros where it would draw (the weights
   * are loaded next).
   * @default {true}
   */
  initialize?: boolean;
}

/** A plain single-branch ResNet classifier with torchvision's names. */
export interface ResNet extends ParameterStore {
  /** Its shape. */
  spec: ResNetSpec;
  /** Number of output classes. */
  numClasses: number;
}

/**
 * A whole ResNet classifier (stem, branch, `fc`), initialised as torchvision does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createResNet, resnetForward } from "./resnet.ts";
 * import { tf } from "../engine/tf.ts";
 * const net = createResNet("tiny", { numClasses: 7 });
 * const logits = resnetForward(net, tf.zeros([1, 32, 32, 3]), { training: false });
 * assert.equal(logits.shape[1], 7);
 * ```
 */
export function createResNet(name: BackboneName, options: CreateResNetOptions = {}): ResNet {
  const spec = resnetSpec(name);
  const numClasses = options.numClasses ?? 7;
  const store: ParameterStore = { params: new Map(), buffers: new Map() };
  const init = new Initializer(store, options.initialize === false ? null : new Random(options.seed ?? 0));
  initStem(init, spec);
  initBranch(init, spec);
  init.linear("fc", featureSize(spec), numClasses);
  return { ...store, spec, numClasses };
}

/**
 * Logits of a plain ResNet.
 *
 * @example Class probabilities of a batch
 * ```ts
 * import assert from "node:assert/strict";
 * import { createResNet, resnetForward } from "./resnet.ts";
 * import { tf } from "../engine/tf.ts";
 * const net = createResNet("tiny", { numClasses: 7 });
 * const probs = tf.softmax(resnetForward(net, tf.zeros([2, 32, 32, 3]), { training: false }));
 * assert.equal(probs.shape.join("x"), "2x7");
 * ```
 */
export function resnetForward(net: ResNet, x: Tensor4D, mode: ForwardMode): Tensor2D {
  return tf.tidy(() => {
    const h = branchForward(net, net.spec, stemForward(net, net.spec, x, mode), mode);
    return linear(net, "fc", h);
  });
}

/**
 * The number of learnable parameters of a store (buffers are not counted, as in PyTorch).
 *
 * @example Count the learnable parameters of a model
 * ```ts
 * import assert from "node:assert/strict";
 * import { countParameters, createResNet } from "./resnet.ts";
 * import { Initializer, type ParameterStore } from "./layers.ts";
 * import { Random } from "../engine/random.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * new Initializer(store, new Random(0)).linear("fc", 4, 2);
 * assert.equal(countParameters(store), 4 * 2 + 2);
 * assert.ok(countParameters(createResNet("tiny")) > 0);
 * ```
 */
export function countParameters(store: ParameterStore): number {
  let total = 0;
  for (const v of store.params.values()) total += v.size;
  return total;
}
