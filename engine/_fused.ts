/**
 * Fused elementwise kernels over the wasm backend's heap: BatchNorm in training mode (batch statistics,
 * normalisation and affine in one kernel, its gradient in another) and Adam's update of one parameter
 * (both moments, bias correction and the step in one pass). Each replaces a chain of TensorFlow.js ops,
 * each a full pass over memory with an allocation of its own, by two passes (BatchNorm) or one (Adam).
 *
 * The loops are WebAssembly SIMD (`_fused.wat`, built into `_fused_wasm.ts`), instantiated on the wasm
 * backend's own memory so that they read and write its tensors in place; tensors whose channel count is
 * not a multiple of 4, or a runtime without WebAssembly SIMD, take plain loops over the same heap. The
 * kernels are registered for the `wasm` backend (and so copied by the `native` backend, which runs on a
 * wasm heap of its own); {@linkcode batchNormTraining} and {@linkcode adamUpdate} use them when the
 * current backend has them and TensorFlow.js's composite ops otherwise (cpu, webgpu, tensorflow).
 *
 * Numerics: BatchNorm's sums are accumulated in double precision and its elementwise parts computed in
 * float32, so it agrees with the composite ops to float32 rounding; Adam runs the composite ops' float32
 * operations in their order, so its results are the same floats.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type Tensor, type Tensor1D, type Tensor4D, tf, type Variable } from "./tf.ts";
import { FUSED_WASM_BASE64 } from "./_fused_wasm.ts";

type TensorInfo = tf.TensorInfo;

/** The parts of the wasm backend these kernels use. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: unknown): boolean;
  /** Tensor storage; `get` moves a tensor's data onto this backend when it lives elsewhere. */
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } };
  /** The Emscripten module; `asm.memory` is the WebAssembly memory the heap lives in. */
  wasm?: { asm?: { memory?: unknown } };
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

/** The exports of `_fused.wat`; pointers are byte offsets into the heap. */
interface SimdKernels {
  bn_stats(x: number, rows: number, c: number, s1: number, s2: number): void;
  bn_normalize(x: number, y: number, rows: number, c: number, mean: number, a: number, b: number): void;
  bn_grad_sums(dy: number, x: number, rows: number, c: number, s1: number, s2: number): void;
  bn_grad_dx(
    dy: number,
    x: number,
    dx: number,
    rows: number,
    c: number,
    mean: number,
    ka: number,
    kb: number,
    kc: number,
  ): void;
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    p1: number,
    m1: number,
    v1: number,
    n: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    sqrtC2: number,
    eps: number,
    stepSize: number,
    weightDecay: number,
  ): void;
}

/** BatchNorm forward in training mode: inputs x, scale, offset; outputs y, mean, variance, invStd. */
export const BATCH_NORM_TRAINING = "AdaDfBatchNormTraining";
/** BatchNorm's gradient in training mode: inputs dy, x, mean, invStd, scale; outputs dx, dScale, dOffset. */
export const BATCH_NORM_TRAINING_GRAD = "AdaDfBatchNormTrainingGrad";
/** Adam's update of one parameter: inputs param, grad, m, v; outputs the new param, m and v. */
export const ADAM_UPDATE = "AdaDfAdamUpdate";

let simdModule: WebAssembly.Module | null | undefined;
const simdInstances = new WeakMap<WebAssembly.Memory, SimdKernels>();

let simdEnabled = true;

/**
 * Turns the SIMD loops on or off (off: the plain loops, which otherwise serve channel counts that are
 * not a multiple of 4 and runtimes without WebAssembly SIMD); returns the previous setting. For tests and
 * measurements: both give the same results to float32 rounding.
 *
 * @example Run the plain loops for a while
 * ```ts
 * import assert from "node:assert/strict";
 * import { useFusedSimd } from "./_fused.ts";
 * const before = useFusedSimd(false);
 * assert.equal(useFusedSimd(before), false);
 * ```
 */
export function useFusedSimd(enabled: boolean): boolean {
  const previous = simdEnabled;
  simdEnabled = enabled;
  return previous;
}

/** The SIMD kernels instantiated on the backend's memory, or null (no SIMD, or not a wasm heap). */
function simdKernels(backend: WasmHeapBackend): SimdKernels | null {
  if (!simdEnabled) return null;
  const memory = backend.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  if (simdModule === undefined) {
    try {
      simdModule = new WebAssembly.Module(Buffer.from(FUSED_WASM_BASE64, "base64"));
    } catch {
      simdModule = null; // A runtime without WebAssembly SIMD: the plain loops.
    }
  }
  if (simdModule === null) return null;
  let kernels = simdInstances.get(memory);
  if (!kernels) {
    const instance = new WebAssembly.Instance(simdModule, { env: { memory } });
    kernels = instance.exports as unknown as SimdKernels;
    simdInstances.set(memory, kernels);
  }
  return kernels;
}

/** Makes sure every input lives on this backend's heap (which may allocate) before outputs are made. */
function resolve(backend: WasmHeapBackend, infos: TensorInfo[]): void {
  for (const t of infos) backend.dataIdMap.get(t.dataId);
}

function pointer(backend: WasmHeapBackend, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** A float64 view of `count` doubles at byte `offset` of the heap that `scratch` lives in. */
function doubles(backend: WasmHeapBackend, scratch: TensorInfo, offset: number, count: number): Float64Array {
  const floats = backend.typedArrayFromHeap(scratch);
  return new Float64Array(floats.buffer, floats.byteOffset + offset, count);
}

/**
 * The scratch of both BatchNorm kernels: two zeroed sums of `c` doubles (floats 0 to 4c), then
 * `factors` per-channel floats from float 4c; with the SIMD kernels where `c` is a multiple of 4. Made
 * after the kernel's outputs (an allocation may move the heap, and the views with it).
 */
function channelSums(backend: WasmHeapBackend, c: number, factors: number) {
  const scratch = backend.makeOutput([(4 + factors) * c], "float32");
  const s1 = doubles(backend, scratch, 0, c);
  const s2 = doubles(backend, scratch, 8 * c, c);
  s1.fill(0);
  s2.fill(0);
  return { scratch, s1, s2, simd: c % 4 === 0 ? simdKernels(backend) : null };
}

function channelsOf(x: TensorInfo): { rows: number; channels: number } {
  const channels = x.shape[x.shape.length - 1];
  const rows = tf.util.sizeFromShape(x.shape) / channels;
  return { rows, channels };
}

function requireFloat(kernel: string, infos: Record<string, TensorInfo>) {
  for (const [name, t] of Object.entries(infos)) {
    if (t.dtype !== "float32") throw new Error(`${kernel}: '${name}' must be float32, got ${t.dtype}.`);
  }
}

function requireChannels(kernel: string, channels: number, infos: Record<string, TensorInfo>) {
  for (const [name, t] of Object.entries(infos)) {
    if (t.shape.length !== 1 || t.shape[0] !== channels) {
      throw new Error(`${kernel}: '${name}' must have shape [${channels}], got [${t.shape}].`);
    }
  }
}

/**
 * Batch statistics over every axis but the last (sums of x and x^2 in double precision, one pass), then
 * y = (x - mean) a + beta with a = gamma / sqrt(var + eps) (a second pass).
 */
function batchNormTrainingKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { x, scale, offset } = args.inputs as Record<string, TensorInfo>;
  const epsilon = Number(args.attrs?.epsilon ?? 1e-5);
  requireFloat(BATCH_NORM_TRAINING, { x, scale, offset });
  const { rows, channels: c } = channelsOf(x);
  requireChannels(BATCH_NORM_TRAINING, c, { scale, offset });
  if (rows === 0) throw new Error(`${BATCH_NORM_TRAINING}: empty input [${x.shape}].`);
  resolve(backend, [x, scale, offset]);
  // Every output before any view or pointer: an allocation may grow (and so move) the heap.
  const y = backend.makeOutput(x.shape, "float32");
  const meanOut = backend.makeOutput([c], "float32");
  const varOut = backend.makeOutput([c], "float32");
  const invStdOut = backend.makeOutput([c], "float32");
  // Scratch: two sums of c doubles, then the per-channel factor a.
  const { scratch, s1, s2, simd } = channelSums(backend, c, 1);
  const xs = backend.typedArrayFromHeap(x);
  if (simd) {
    const base = pointer(backend, scratch);
    simd.bn_stats(pointer(backend, x), rows, c, base, base + 8 * c);
  } else {
    for (let i = 0, r = 0; r < rows; r++) {
      for (let j = 0; j < c; j++, i++) {
        const v = xs[i];
        s1[j] += v;
        s2[j] += v * v;
      }
    }
  }
  const gamma = backend.typedArrayFromHeap(scale);
  const means = backend.typedArrayFromHeap(meanOut);
  const variances = backend.typedArrayFromHeap(varOut);
  const invStds = backend.typedArrayFromHeap(invStdOut);
  const a = backend.typedArrayFromHeap(scratch).subarray(4 * c, 5 * c);
  for (let j = 0; j < c; j++) {
    const mean = s1[j] / rows;
    means[j] = mean;
    variances[j] = Math.max(0, s2[j] / rows - mean * mean);
    // As the composite ops: rsqrt of the float32 variance plus epsilon.
    invStds[j] = 1 / Math.sqrt(Math.fround(variances[j] + epsilon));
    a[j] = invStds[j] * gamma[j];
  }
  if (simd) {
    simd.bn_normalize(
      pointer(backend, x),
      pointer(backend, y),
      rows,
      c,
      pointer(backend, meanOut),
      pointer(backend, scratch) + 16 * c,
      pointer(backend, offset),
    );
  } else {
    const ys = backend.typedArrayFromHeap(y);
    const beta = backend.typedArrayFromHeap(offset);
    for (let i = 0, r = 0; r < rows; r++) {
      for (let j = 0; j < c; j++, i++) ys[i] = Math.fround(Math.fround(xs[i] - means[j]) * a[j]) + beta[j];
    }
  }
  backend.disposeData(scratch.dataId);
  return [y, meanOut, varOut, invStdOut];
}

/**
 * With x^ = (x - mean) invStd over n rows: dOffset = sum(dy), dScale = sum(dy x^) (sums of dy and dy x in
 * double precision, one pass), then dx = gamma invStd / n (n dy - dOffset - x^ dScale), as
 * dx = ka dy + kb (x - mean) + kc per channel (a second pass).
 */
function batchNormTrainingGradKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { dy, x, mean, invStd, scale } = args.inputs as Record<string, TensorInfo>;
  requireFloat(BATCH_NORM_TRAINING_GRAD, { dy, x, mean, invStd, scale });
  if (dy.shape.join() !== x.shape.join()) {
    throw new Error(`${BATCH_NORM_TRAINING_GRAD}: dy [${dy.shape}] and x [${x.shape}] differ.`);
  }
  const { rows, channels: c } = channelsOf(x);
  requireChannels(BATCH_NORM_TRAINING_GRAD, c, { mean, invStd, scale });
  resolve(backend, [dy, x, mean, invStd, scale]);
  const dxOut = backend.makeOutput(x.shape, "float32");
  const dScaleOut = backend.makeOutput([c], "float32");
  const dOffsetOut = backend.makeOutput([c], "float32");
  // Scratch: two sums of c doubles, then the factors ka, kb, kc.
  const { scratch, s1, s2, simd } = channelSums(backend, c, 3);
  const dys = backend.typedArrayFromHeap(dy);
  const xs = backend.typedArrayFromHeap(x);
  if (simd) {
    const base = pointer(backend, scratch);
    simd.bn_grad_sums(pointer(backend, dy), pointer(backend, x), rows, c, base, base + 8 * c);
  } else {
    for (let i = 0, r = 0; r < rows; r++) {
      for (let j = 0; j < c; j++, i++) {
        const g = dys[i];
        s1[j] += g;
        s2[j] += g * xs[i];
      }
    }
  }
  const means = backend.typedArrayFromHeap(mean);
  const invStds = backend.typedArrayFromHeap(invStd);
  const gamma = backend.typedArrayFromHeap(scale);
  const dScale = backend.typedArrayFromHeap(dScaleOut);
  const dOffset = backend.typedArrayFromHeap(dOffsetOut);
  const factors = backend.typedArrayFromHeap(scratch);
  const ka = factors.subarray(4 * c, 5 * c);
  const kb = factors.subarray(5 * c, 6 * c);
  const kc = factors.subarray(6 * c, 7 * c);
  for (let j = 0; j < c; j++) {
    const s = invStds[j];
    const dBeta = s1[j];
    // sum(dy (x - mean)) = sum(dy x) - mean sum(dy)
    const dGamma = (s2[j] - means[j] * s1[j]) * s;
    dOffset[j] = dBeta;
    dScale[j] = dGamma;
    // dx = g s (dy - dBeta / n - (x - mean) s dGamma / n)
    const gs = gamma[j] * s;
    ka[j] = gs;
    kb[j] = -gs * s * dGamma / rows;
    kc[j] = -gs * dBeta / rows;
  }
  if (simd) {
    const base = pointer(backend, scratch);
    simd.bn_grad_dx(
      pointer(backend, dy),
      pointer(backend, x),
      pointer(backend, dxOut),
      rows,
      c,
      pointer(backend, mean),
      base + 16 * c,
      base + 20 * c,
      base + 24 * c,
    );
  } else {
    const dxs = backend.typedArrayFromHeap(dxOut);
    for (let i = 0, r = 0; r < rows; r++) {
      for (let j = 0; j < c; j++, i++) {
        dxs[i] =
          Math.fround(Math.fround(ka[j] * dys[i]) + Math.fround(kb[j] * Math.fround(xs[i] - means[j]))) +
          kc[j];
      }
    }
  }
  backend.disposeData(scratch.dataId);
  return [dxOut, dScaleOut, dOffsetOut];
}

/**
 * Adam's update as `torch.optim.Adam`, in one pass of float32 operations in the composite ops' order:
 * g' = g + p wd, m' = m b1 + g' (1 - b1), v' = v b2 + g'^2 (1 - b2), p' = p - m' / (sqrt(v') / sqrtC2 + eps) stepSize.
 */
function adamUpdateKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { param, grad, m, v } = args.inputs as Record<string, TensorInfo>;
  requireFloat(ADAM_UPDATE, { param, grad, m, v });
  const n = tf.util.sizeFromShape(param.shape);
  for (const [name, t] of Object.entries({ grad, m, v })) {
    if (tf.util.sizeFromShape(t.shape) !== n) {
      throw new Error(
        `${ADAM_UPDATE}: '${name}' [${t.shape}] does not match the parameter [${param.shape}].`,
      );
    }
  }
  const attrs = args.attrs ?? {};
  // The scalars as float32, as the composite ops' scalar tensors hold them.
  const f = Math.fround;
  const beta1 = f(Number(attrs.beta1));
  const oneMinusBeta1 = f(1 - Number(attrs.beta1));
  const beta2 = f(Number(attrs.beta2));
  const oneMinusBeta2 = f(1 - Number(attrs.beta2));
  const eps = f(Number(attrs.eps));
  const stepSize = f(Number(attrs.stepSize));
  const sqrtC2 = f(Number(attrs.sqrtC2));
  const weightDecay = f(Number(attrs.weightDecay ?? 0));
  resolve(backend, [param, grad, m, v]);
  const pOut = backend.makeOutput(param.shape, "float32");
  const mOut = backend.makeOutput(param.shape, "float32");
  const vOut = backend.makeOutput(param.shape, "float32");
  const simd = simdKernels(backend);
  if (simd) {
    const at = (t: TensorInfo) => pointer(backend, t);
    simd.adam(
      at(param),
      at(grad),
      at(m),
      at(v),
      at(pOut),
      at(mOut),
      at(vOut),
      n,
      beta1,
      oneMinusBeta1,
      beta2,
      oneMinusBeta2,
      sqrtC2,
      eps,
      stepSize,
      weightDecay,
    );
    return [pOut, mOut, vOut];
  }
  const ps = backend.typedArrayFromHeap(param);
  const gs = backend.typedArrayFromHeap(grad);
  const ms = backend.typedArrayFromHeap(m);
  const vs = backend.typedArrayFromHeap(v);
  const p1 = backend.typedArrayFromHeap(pOut);
  const m1 = backend.typedArrayFromHeap(mOut);
  const v1 = backend.typedArrayFromHeap(vOut);
  for (let i = 0; i < n; i++) {
    const p = ps[i];
    const g = weightDecay ? f(gs[i] + f(p * weightDecay)) : gs[i];
    const mi = f(f(ms[i] * beta1) + f(g * oneMinusBeta1));
    const vi = f(f(vs[i] * beta2) + f(f(g * g) * oneMinusBeta2));
    m1[i] = mi;
    v1[i] = vi;
    p1[i] = p - f(f(mi / f(f(f(Math.sqrt(vi)) / sqrtC2) + eps)) * stepSize);
  }
  return [pOut, mOut, vOut];
}

/** The fused kernels by TensorFlow.js kernel name. */
export const FUSED_KERNELS: ReadonlyMap<string, tf.KernelFunc> = new Map([
  [BATCH_NORM_TRAINING, batchNormTrainingKernel as unknown as tf.KernelFunc],
  [BATCH_NORM_TRAINING_GRAD, batchNormTrainingGradKernel as unknown as tf.KernelFunc],
  [ADAM_UPDATE, adamUpdateKernel as unknown as tf.KernelFunc],
]);

/**
 * Registers the fused kernels for a backend whose tensors live on a wasm heap (`wasm`; the `native`
 * backend copies the wasm backend's kernels). Registering again replaces them.
 *
 * @example Register the kernels for the wasm backend
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "./tf.ts";
 * import { ADAM_UPDATE, registerFusedKernels } from "./_fused.ts";
 * registerFusedKernels("wasm");
 * assert.ok(tf.getKernel(ADAM_UPDATE, "wasm") != null);
 * ```
 */
export function registerFusedKernels(backendName: string): void {
  for (const [kernelName, kernelFunc] of FUSED_KERNELS) {
    if (tf.getKernel(kernelName, backendName) != null) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc });
  }
}

/**
 * Whether the current backend has the fused kernel `name` (wasm and native do once their training kernels
 * are registered; cpu and webgpu do not).
 *
 * @example The cpu backend keeps the composite ops
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "./tf.ts";
 * import { ADAM_UPDATE, hasFusedKernel } from "./_fused.ts";
 * await tf.setBackend("cpu");
 * assert.equal(hasFusedKernel(ADAM_UPDATE), false);
 * ```
 */
export function hasFusedKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) != null;
}

/** What {@linkcode batchNormTraining} returns. */
export interface BatchNormTrainingResult {
  /** The normalised, scaled and shifted input. */
  y: Tensor4D;
  /** The batch mean per channel (kept: the caller disposes it). */
  mean: Tensor1D;
  /** The batch's biased variance per channel (kept: the caller disposes it). */
  variance: Tensor1D;
}

/**
 * BatchNorm over the channel axis of an NHWC tensor with the batch's statistics, differentiable in `x`,
 * `gamma` and `beta`: with x^ = (x - mean) / sqrt(var + eps), y = gamma x^ + beta; the gradient is
 * dbeta = sum(dy), dgamma = sum(dy x^), dx = gamma s / n (n dy - dbeta - x^ dgamma), s = 1 / sqrt(var + eps).
 * Runs the fused kernels where the current backend has them, TensorFlow.js's ops otherwise.
 *
 * @example Normalise a batch of two
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "./tf.ts";
 * import { batchNormTraining } from "./_fused.ts";
 * const x = tf.tensor4d([1, 3], [2, 1, 1, 1]);
 * const { y, mean, variance } = batchNormTraining(x, tf.ones([1]), tf.zeros([1]), 1e-5);
 * const [a, b] = y.dataSync();
 * assert.ok(Math.abs(a + 1) < 1e-4 && Math.abs(b - 1) < 1e-4);
 * assert.equal(mean.dataSync()[0], 2);
 * assert.equal(variance.dataSync()[0], 1);
 * ```
 */
export function batchNormTraining(
  x: Tensor4D,
  gamma: Tensor,
  beta: Tensor,
  epsilon: number,
): BatchNormTrainingResult {
  return hasFusedKernel(BATCH_NORM_TRAINING) && hasFusedKernel(BATCH_NORM_TRAINING_GRAD) &&
      x.dtype === "float32"
    ? fusedBatchNormTraining(x, gamma, beta, epsilon)
    : compositeBatchNormTraining(x, gamma, beta, epsilon);
}

function fusedBatchNormTraining(
  x: Tensor4D,
  gamma: Tensor,
  beta: Tensor,
  epsilon: number,
): BatchNormTrainingResult {
  let mean!: Tensor1D;
  let variance!: Tensor1D;
  const engine = tf.engine();
  const op = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
    const [xs, g, b, save] = args as [Tensor, Tensor, Tensor, tf.GradSaveFunc];
    const [y, m, v, invStd] = engine.runKernel(BATCH_NORM_TRAINING, { x: xs, scale: g, offset: b }, {
      epsilon,
    }) as Tensor[];
    mean = tf.keep(m as Tensor1D);
    variance = tf.keep(v as Tensor1D);
    save([xs, m, invStd, g]);
    return {
      value: y,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sm, ss, sg] = saved;
        return engine.runKernel(BATCH_NORM_TRAINING_GRAD, {
          dy,
          x: sx,
          mean: sm,
          invStd: ss,
          scale: sg,
        }) as Tensor[];
      },
    };
  });
  const y = op(x, gamma, beta) as Tensor4D;
  return { y, mean, variance };
}

/**
 * The composite form: `moments`, then normalisation and affine as separate ops, with a hand-written
 * gradient (far fewer kernels than differentiating `moments`, which tiles and divides per element).
 */
function compositeBatchNormTraining(
  x: Tensor4D,
  gamma: Tensor,
  beta: Tensor,
  epsilon: number,
): BatchNormTrainingResult {
  let mean!: Tensor1D;
  let variance!: Tensor1D;
  const op = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
    const [xs, g, b, save] = args as [Tensor, Tensor, Tensor, tf.GradSaveFunc];
    const m = tf.moments(xs, [0, 1, 2]);
    mean = tf.keep(m.mean as Tensor1D);
    variance = tf.keep(m.variance as Tensor1D);
    const invStd = tf.rsqrt(tf.add(m.variance, epsilon));
    const xhat = tf.mul(tf.sub(xs, m.mean), invStd);
    save([xhat, invStd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xh, s, gam] = saved;
        const count = xh.size / xh.shape[xh.rank - 1];
        const dBeta = tf.sum(dy, [0, 1, 2]);
        const dGamma = tf.sum(tf.mul(dy, xh), [0, 1, 2]);
        const scale = tf.mul(tf.mul(gam, s), 1 / count);
        const dx = tf.mul(tf.sub(tf.sub(tf.mul(dy, count), dBeta), tf.mul(xh, dGamma)), scale);
        return [dx, dGamma, dBeta];
      },
    };
  });
  const y = op(x, gamma, beta) as Tensor4D;
  return { y, mean, variance };
}

/** Adam's coefficients for one step, as {@linkcode adamUpdate} takes them. */
export interface AdamCoefficients {
  /** First-moment decay. */
  beta1: number;
  /** Second-moment decay. */
  beta2: number;
  /** Denominator epsilon. */
  eps: number;
  /** lr / (1 - beta1^t). */
  stepSize: number;
  /** sqrt(1 - beta2^t). */
  sqrtC2: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
}

/**
 * One Adam update of `p` and its moments `m`, `v` (assigned in place), as `torch.optim.Adam`:
 * g' = g + wd p, m = b1 m + (1 - b1) g', v = b2 v + (1 - b2) g'^2, p -= stepSize m / (sqrt(v) / sqrtC2 + eps).
 * One fused kernel where the current backend has it, TensorFlow.js's ops otherwise.
 *
 * @example The first step moves a parameter by the learning rate
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "./tf.ts";
 * import { adamUpdate } from "./_fused.ts";
 * const p = tf.variable(tf.tensor1d([1, 2]));
 * const m = tf.variable(tf.zeros([2]), false);
 * const v = tf.variable(tf.zeros([2]), false);
 * const coefficients = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
 * const step = 1;
 * adamUpdate(p, tf.tensor1d([1, -1]), m, v, {
 *   ...coefficients,
 *   stepSize: 0.1 / (1 - 0.9 ** step),
 *   sqrtC2: Math.sqrt(1 - 0.999 ** step),
 * });
 * const [a, b] = p.dataSync();
 * assert.ok(Math.abs(a - 0.9) < 1e-5 && Math.abs(b - 2.1) < 1e-5);
 * ```
 */
export function adamUpdate(p: Variable, grad: Tensor, m: Variable, v: Variable, k: AdamCoefficients): void {
  tf.tidy(() => {
    if (
      hasFusedKernel(ADAM_UPDATE) && p.dtype === "float32" && grad.dtype === "float32" &&
      grad.size === p.size
    ) {
      const [p1, m1, v1] = tf.engine().runKernel(ADAM_UPDATE, { param: p, grad, m, v }, {
        ...k,
      } as unknown as tf.NamedAttrMap) as Tensor[];
      p.assign(p1.reshape(p.shape));
      m.assign(m1.reshape(m.shape));
      v.assign(v1.reshape(v.shape));
      return;
    }
    const g = k.weightDecay ? tf.add(grad, tf.mul(p, k.weightDecay)) : grad;
    const m1 = tf.add(tf.mul(m, k.beta1), tf.mul(g, 1 - k.beta1));
    const v1 = tf.add(tf.mul(v, k.beta2), tf.mul(tf.square(g), 1 - k.beta2));
    const denom = tf.add(tf.div(tf.sqrt(v1), k.sqrtC2), k.eps);
    p.assign(tf.sub(p, tf.mul(tf.div(m1, denom), k.stepSize)));
    m.assign(m1);
    v.assign(v1);
  });
}
