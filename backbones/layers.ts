/**
 * Layers as pure functions over a named parameter map, with PyTorch's semantics: explicit symmetric
 * padding, BatchNorm with momentum 0.1 and eps 1e-5 (batch statistics in training, running statistics
 * in evaluation), and torchvision's initialisation.
 *
 * Tensors are NHWC; convolution kernels are stored as [kh, kw, in, out] and linear weights as [in, out]
 * (TensorFlow.js's layouts) under PyTorch's state_dict names; `io/` converts layouts at the boundary.
 *
 * @module
 */
import { type Tensor2D, type Tensor4D, tf, type Variable } from "../engine/tf.ts";
import type { Random } from "../engine/random.ts";
import { batchNormTraining } from "../engine/_fused.ts";

/**
 * BatchNorm's running-average momentum, as in PyTorch.
 *
 * @example Move a running mean by hand, as BatchNorm does in training
 * ```ts
 * import assert from "node:assert/strict";
 * import { BN_MOMENTUM } from "./layers.ts";
 * const running = 0;
 * const batchMean = 2;
 * const next = running * (1 - BN_MOMENTUM) + batchMean * BN_MOMENTUM;
 * assert.ok(Math.abs(next - 0.2) < 1e-12);
 * ```
 */
export const BN_MOMENTUM = 0.1;
/**
 * BatchNorm's epsilon, as in PyTorch.
 *
 * @example Normalise a value with running statistics
 * ```ts
 * import assert from "node:assert/strict";
 * import { BN_EPSILON } from "./layers.ts";
 * const [x, mean, variance] = [3, 1, 4];
 * const y = (x - mean) / Math.sqrt(variance + BN_EPSILON);
 * assert.ok(Math.abs(y - 1) < 1e-5);
 * ```
 */
export const BN_EPSILON = 1e-5;

/**
 * The tensors of a model by state_dict name: `params` are learnable, `buffers` are BatchNorm running
 * statistics (updated in training, never by the optimiser).
 */
export interface ParameterStore {
  /** Learnable parameters by name (`layer2.0.conv1.weight`). */
  params: Map<string, Variable>;
  /** Running statistics by name (`layer2.0.bn1.running_mean`). */
  buffers: Map<string, Variable>;
}

/** How a forward pass runs. */
export interface ForwardMode {
  /** Batch statistics (and running-average updates) when true; running statistics when false. */
  training: boolean;
  /**
   * In training, whether BatchNorm running statistics are updated.
   * @default {true}
   */
  updateStatistics?: boolean;
}

/**
 * Looks a parameter up, with a clear error when it is missing.
 *
 * @example Look a weight up by its state_dict name
 * ```ts
 * import assert from "node:assert/strict";
 * import { Initializer, param, type ParameterStore } from "./layers.ts";
 * import { Random } from "../engine/random.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * new Initializer(store, new Random(0)).linear("fc", 4, 2);
 * assert.equal(param(store, "fc.weight").shape.join("x"), "4x2");
 * ```
 */
export function param(store: ParameterStore, name: string): Variable {
  const v = store.params.get(name) ?? store.buffers.get(name);
  if (!v) throw new Error(`Missing parameter '${name}'.`);
  return v;
}

/**
 * A convolution without bias, PyTorch-style symmetric padding.
 *
 * @example A 3x3 convolution with stride 1 and padding 1 keeps the spatial size
 * ```ts
 * import assert from "node:assert/strict";
 * import { conv2d, Initializer, type ParameterStore } from "./layers.ts";
 * import { Random } from "../engine/random.ts";
 * import { tf } from "../engine/tf.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * new Initializer(store, new Random(0)).conv("conv1", 3, 3, 3, 8);
 * const y = conv2d(store, "conv1", tf.zeros([1, 16, 16, 3]), 1, 1);
 * assert.equal(y.shape.join("x"), "1x16x16x8");
 * ```
 */
export function conv2d(
  store: ParameterStore,
  name: string,
  x: Tensor4D,
  stride: number,
  padding: number,
): Tensor4D {
  const w = param(store, `${name}.weight`) as unknown as Tensor4D;
  const pad = padding === 0 ? "valid" : [[0, 0], [padding, padding], [padding, padding], [0, 0]] as [
    [number, number],
    [number, number],
    [number, number],
    [number, number],
  ];
  return tf.conv2d(x, w, stride, pad);
}

/**
 * BatchNorm over the channel axis with PyTorch's semantics. In training it normalises with the batch's
 * biased variance and, unless disabled, moves the running mean and the unbiased running variance by
 * {@linkcode BN_MOMENTUM}.
 *
 * @example Normalise with the batch's statistics in training
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchNorm, Initializer, type ParameterStore } from "./layers.ts";
 * import { Random } from "../engine/random.ts";
 * import { tf } from "../engine/tf.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * new Initializer(store, new Random(0)).batchNorm("bn1", 1);
 * const x = tf.tensor4d([1, 3], [2, 1, 1, 1]);
 * const y = batchNorm(store, "bn1", x, { training: true });
 * // (x - mean) / sqrt(var + eps) with the batch's mean 2 and biased variance 1: about [-1, 1]
 * const [a, b] = y.dataSync();
 * assert.ok(Math.abs(a + 1) < 1e-4 && Math.abs(b - 1) < 1e-4);
 * assert.ok(Math.abs(store.buffers.get("bn1.running_mean")!.dataSync()[0] - 0.2) < 1e-6);
 * ```
 */
export function batchNorm(
  store: ParameterStore,
  name: string,
  x: Tensor4D,
  mode: ForwardMode,
): Tensor4D {
  const gamma = param(store, `${name}.weight`);
  const beta = param(store, `${name}.bias`);
  const runningMean = param(store, `${name}.running_mean`);
  const runningVar = param(store, `${name}.running_var`);
  if (!mode.training) {
    return tf.batchNorm(x, runningMean, runningVar, beta, gamma, BN_EPSILON) as Tensor4D;
  }
  // Fused kernels where the backend has them (wasm, native), TensorFlow.js's ops otherwise.
  const { y, mean, variance } = batchNormTraining(x, gamma, beta, BN_EPSILON);
  if (mode.updateStatistics ?? true) {
    const n = x.shape[0] * x.shape[1] * x.shape[2];
    const unbiased = n > 1 ? n / (n - 1) : 1;
    tf.tidy(() => {
      runningMean.assign(
        tf.add(tf.mul(runningMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)),
      );
      runningVar.assign(
        tf.add(tf.mul(runningVar, 1 - BN_MOMENTUM), tf.mul(variance, BN_MOMENTUM * unbiased)),
      );
    });
  }
  mean.dispose();
  variance.dispose();
  return y;
}

/**
 * A fully connected layer `x W + b`, weight stored as [in, out].
 *
 * @example A fully connected layer on a batch of features
 * ```ts
 * import assert from "node:assert/strict";
 * import { Initializer, linear, type ParameterStore } from "./layers.ts";
 * import { Random } from "../engine/random.ts";
 * import { tf } from "../engine/tf.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * new Initializer(store, new Random(0)).linear("fc", 64, 7);
 * const logits = linear(store, "fc", tf.zeros([2, 64]));
 * assert.equal(logits.shape.join("x"), "2x7");
 * ```
 */
export function linear(store: ParameterStore, name: string, x: Tensor2D): Tensor2D {
  const w = param(store, `${name}.weight`) as unknown as Tensor2D;
  const b = param(store, `${name}.bias`);
  return tf.add(tf.matMul(x, w), b);
}

/**
 * Global average pooling NHWC -> [N, C].
 *
 * @example Average each channel over the image
 * ```ts
 * import assert from "node:assert/strict";
 * import { globalAvgPool } from "./layers.ts";
 * import { tf } from "../engine/tf.ts";
 * // One 2x2 image, two channels: 1, 2, 3, 4 and 10, 20, 30, 40.
 * const x = tf.tensor4d([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]);
 * assert.deepEqual(globalAvgPool(x).arraySync(), [[2.5, 25]]);
 * ```
 */
export function globalAvgPool(x: Tensor4D): Tensor2D {
  return tf.mean(x, [1, 2]) as Tensor2D;
}

/**
 * Adds torchvision-initialised parameters to a store (deterministic for a given generator). Without a
 * generator (`null`) it draws nothing: conv and linear weights are zeros, BatchNorm as always. That
 * gives a store of the right names and shapes at no cost, for weights that are loaded next.
 *
 * @example Initialise a conv layer and its BatchNorm, reproducibly
 * ```ts
 * import assert from "node:assert/strict";
 * import { Initializer, type ParameterStore } from "./layers.ts";
 * import { Random } from "../engine/random.ts";
 * const store: ParameterStore = { params: new Map(), buffers: new Map() };
 * const init = new Initializer(store, new Random(42));
 * init.conv("conv1", 7, 7, 3, 8);
 * init.batchNorm("bn1", 8);
 * assert.equal(store.params.get("conv1.weight")!.shape.join("x"), "7x7x3x8");
 * assert.equal(store.buffers.size, 2); // running_mean, running_var
 * ```
 */
export class Initializer {
  #rng: Random | null;
  #store: ParameterStore;
  #trainable: boolean;

  /** Creates an initialiser that adds to `store`, drawing from `rng` (`null`: zeros). */
  constructor(store: ParameterStore, rng: Random | null, trainable = true) {
    this.#store = store;
    this.#rng = rng;
    this.#trainable = trainable;
  }

  #add(name: string, shape: number[], values: Float32Array, buffer = false) {
    const target = buffer ? this.#store.buffers : this.#store.params;
    if (target.has(name)) throw new Error(`Duplicate parameter '${name}'.`);
    const initial = tf.tensor(values, shape);
    target.set(name, tf.variable(initial, !buffer && this.#trainable));
    initial.dispose();
  }

  /** Kaiming-normal conv kernel (fan_out, ReLU gain), as torchvision's ResNet. */
  conv(name: string, kh: number, kw: number, cin: number, cout: number): void {
    const std = Math.sqrt(2 / (cout * kh * kw));
    const values = new Float32Array(kh * kw * cin * cout);
    const rng = this.#rng;
    if (rng) { for (let i = 0; i < values.length; i++) values[i] = rng.normal(0, std); }
    this.#add(`${name}.weight`, [kh, kw, cin, cout], values);
  }

  /** BatchNorm: weight 1, bias 0, running mean 0, running variance 1. */
  batchNorm(name: string, channels: number): void {
    this.#add(`${name}.weight`, [channels], new Float32Array(channels).fill(1));
    this.#add(`${name}.bias`, [channels], new Float32Array(channels));
    this.#add(`${name}.running_mean`, [channels], new Float32Array(channels), true);
    this.#add(`${name}.running_var`, [channels], new Float32Array(channels).fill(1), true);
  }

  /** PyTorch's default Linear initialisation: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. */
  linear(name: string, inFeatures: number, outFeatures: number): void {
    const bound = 1 / Math.sqrt(inFeatures);
    const w = new Float32Array(inFeatures * outFeatures);
    const b = new Float32Array(outFeatures);
    const rng = this.#rng;
    if (rng) {
      for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-bound, bound);
      for (let i = 0; i < b.length; i++) b[i] = rng.uniform(-bound, bound);
    }
    this.#add(`${name}.weight`, [inFeatures, outFeatures], w);
    this.#add(`${name}.bias`, [outFeatures], b);
  }
}
