/**
 * Training kernels for TensorFlow.js's wasm backend.
 *
 * The stock wasm backend can run a convolution forward (through XNNPACK) but cannot train one: it has no
 * `Conv2DBackpropFilter`, and its `Conv2DBackpropInput` is a naive loop. Both gradients are expressed
 * here as XNNPACK forward convolutions or matrix products, with the cheap index shuffles (zero insertion,
 * kernel flips) done in place on the wasm heap:
 *
 * - filter gradient: a convolution of the padded input, with batch and channels swapped, by the output
 *   gradient used as a (dilated, for strides > 1) kernel; 1x1 kernels are a single matrix product.
 * - input gradient: a stride-1 convolution of the (zero-inserted, for strides > 1) output gradient by the
 *   spatially flipped kernel with its channel axes swapped; 1x1 kernels are a matrix product.
 *
 * The elementwise work of a training step, BatchNorm in training mode and Adam's update, runs in the
 * fused kernels of `_fused.ts` (one or two passes over the heap instead of a chain of ops), registered
 * with these.
 *
 * @module
 */
import { tf } from "./tf.ts";
import { type ConvGeometry, convGeometry } from "./_conv.ts";
import { registerFusedKernels } from "./_fused.ts";

type TensorInfo = tf.TensorInfo;
type Attrs = Record<string, unknown>;

/** The parts of the wasm backend these kernels use. */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: unknown): boolean;
}

function runKernel(
  name: string,
  backend: WasmBackend,
  inputs: Record<string, TensorInfo>,
  attrs: Attrs = {},
) {
  const kernel = tf.getKernel(name, "wasm");
  if (kernel == null) throw new Error(`The wasm backend has no '${name}' kernel.`);
  return kernel.kernelFunc({
    inputs,
    backend: backend as unknown as tf.KernelBackend,
    attrs: attrs as tf.NamedAttrMap,
  }) as TensorInfo;
}

function reshaped(x: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

/** Disposes intermediates, keeping any that share data with `keep`. */
function release(backend: WasmBackend, keep: TensorInfo, ...infos: TensorInfo[]) {
  const seen = new Set<unknown>([keep.dataId]);
  for (const info of infos) {
    if (seen.has(info.dataId)) continue;
    seen.add(info.dataId);
    backend.disposeData(info.dataId);
  }
}

function geometry(
  xShape: number[],
  filterShape: number[],
  strides: unknown,
  pad: unknown,
  dimRoundingMode: unknown,
  dataFormat: unknown,
): ConvGeometry {
  if (dataFormat != null && dataFormat !== "NHWC") {
    throw new Error(`The wasm training kernels support only NHWC data, got '${dataFormat}'.`);
  }
  return convGeometry(xShape, filterShape, strides, 1, pad, dimRoundingMode);
}

/**
 * Spreads `dy` [n, h, w, c] onto a zero grid [n, outH, outW, c] at rows `offY + y * sh` and columns
 * `offX + x * sw`; positions that fall outside the grid are dropped.
 */
function scatterStrided(
  backend: WasmBackend,
  dy: TensorInfo,
  outH: number,
  outW: number,
  sh: number,
  sw: number,
  offY: number,
  offX: number,
): TensorInfo {
  const [n, h, w, c] = dy.shape;
  const out = backend.makeOutput([n, outH, outW, c], "float32");
  const src = backend.typedArrayFromHeap(dy);
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      const oy = offY + y * sh;
      if (oy < 0 || oy >= outH) continue;
      for (let x = 0; x < w; x++) {
        const ox = offX + x * sw;
        if (ox < 0 || ox >= outW) continue;
        const s = ((b * h + y) * w + x) * c;
        dst.set(src.subarray(s, s + c), ((b * outH + oy) * outW + ox) * c);
      }
    }
  }
  return out;
}

/** Keeps rows 0..h-1 and columns 0..w-1 of `x` [n, H, W, c], sampled every `sh`/`sw` from `offY`/`offX`. */
function gatherStrided(
  backend: WasmBackend,
  x: TensorInfo,
  h: number,
  w: number,
  sh: number,
  sw: number,
  offY: number,
  offX: number,
): TensorInfo {
  const [n, H, W, c] = x.shape;
  const out = backend.makeOutput([n, h, w, c], "float32");
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      const iy = offY + y * sh;
      if (iy < 0 || iy >= H) continue;
      for (let xx = 0; xx < w; xx++) {
        const ix = offX + xx * sw;
        if (ix < 0 || ix >= W) continue;
        const s = ((b * H + iy) * W + ix) * c;
        dst.set(src.subarray(s, s + c), ((b * h + y) * w + xx) * c);
      }
    }
  }
  return out;
}

/** The filter gradient of a 2-D convolution, through XNNPACK. */
function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: Attrs }) {
  const backend = args.backend as WasmBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dimRoundingMode, dataFormat, filterShape } = args.attrs as Attrs;
  const g = geometry(x.shape, filterShape as number[], strides, pad, dimRoundingMode, dataFormat);
  const rows = g.n * g.outH * g.outW;

  if (g.kh === 1 && g.kw === 1) {
    // dW[ci, co] = sum over samples and positions of x[.., ci] * dy[.., co].
    const xs = g.sh === 1 && g.sw === 1 && g.top === 0 && g.left === 0 && g.inH === g.outH && g.inW === g.outW
      ? x
      : gatherStrided(backend, x, g.outH, g.outW, g.sh, g.sw, -g.top, -g.left);
    // An explicit transpose and a plain product: the wasm BatchMatMul with transposeA is ~10x slower.
    const xt = runKernel("Transpose", backend, { x: reshaped(xs, [rows, g.inC]) }, { perm: [1, 0] });
    if (xs !== x) release(backend, xt, xs);
    const prod = runKernel("BatchMatMul", backend, {
      a: reshaped(xt, [1, g.inC, rows]),
      b: reshaped(dy, [1, rows, g.outC]),
    }, { transposeA: false, transposeB: false });
    release(backend, prod, xt);
    return reshaped(prod, [1, 1, g.inC, g.outC]);
  }

  // Pad x, then treat its channels as the batch and its batch as the channels.
  const padded = runKernel("PadV2", backend, { x }, {
    paddings: [[0, 0], [g.top, g.bottom], [g.left, g.right], [0, 0]],
    constantValue: 0,
  });
  const xt = runKernel("Transpose", backend, { x: padded }, { perm: [3, 1, 2, 0] });
  release(backend, xt, padded);
  const dyt = runKernel("Transpose", backend, { x: dy }, { perm: [1, 2, 0, 3] });
  const conv = runKernel("Conv2D", backend, { x: xt, filter: dyt }, {
    strides: [1, 1],
    pad: "valid",
    dilations: [g.sh, g.sw],
    dataFormat: "NHWC",
  });
  release(backend, conv, xt, dyt);
  // conv: [inC, >= kh, >= kw, outC]
  let cropped = conv;
  if (conv.shape[1] !== g.kh || conv.shape[2] !== g.kw) {
    cropped = runKernel("Slice", backend, { x: conv }, {
      begin: [0, 0, 0, 0],
      size: [g.inC, g.kh, g.kw, g.outC],
    });
    release(backend, cropped, conv);
  }
  const dw = runKernel("Transpose", backend, { x: cropped }, { perm: [1, 2, 0, 3] });
  release(backend, dw, cropped);
  return dw;
}

/** The input gradient of a 2-D convolution, through XNNPACK. */
function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: Attrs }) {
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dimRoundingMode, dataFormat, inputShape } = args.attrs as Attrs;
  const g = geometry(inputShape as number[], filter.shape, strides, pad, dimRoundingMode, dataFormat);

  if (g.kh === 1 && g.kw === 1) {
    const rows = g.n * g.outH * g.outW;
    const wt = runKernel("Transpose", backend, { x: reshaped(filter, [g.inC, g.outC]) }, { perm: [1, 0] });
    const prod = runKernel("BatchMatMul", backend, {
      a: reshaped(dy, [1, rows, g.outC]),
      b: reshaped(wt, [1, g.outC, g.inC]),
    }, { transposeA: false, transposeB: false });
    release(backend, prod, wt);
    const dense = reshaped(prod, [g.n, g.outH, g.outW, g.inC]);
    if (g.sh === 1 && g.sw === 1 && g.top === 0 && g.left === 0 && g.inH === g.outH && g.inW === g.outW) {
      return dense;
    }
    const dx = scatterStrided(backend, dense, g.inH, g.inW, g.sh, g.sw, -g.top, -g.left);
    release(backend, dx, prod);
    return dx;
  }

  if (g.sh === 1 && g.sw === 1) {
    return subPixelInputGradient(backend, dy, filter, g, 0, 0, null);
  }
  // Strides > 1: each residue class of input rows/columns (mod the stride) receives only the kernel taps
  // of that residue, so the gradient is s_h * s_w stride-1 convolutions by sub-kernels, scattered back
  // (no multiplications by inserted zeros).
  const dx = backend.makeOutput([g.n, g.inH, g.inW, g.inC], "float32");
  backend.typedArrayFromHeap(dx).fill(0);
  for (let cy = 0; cy < g.sh; cy++) {
    for (let cx = 0; cx < g.sw; cx++) subPixelInputGradient(backend, dy, filter, g, cy, cx, dx);
  }
  return dx;
}

/** First t >= 0 in the residue class: ceil(a / b) for integers, b > 0. */
function ceilDiv(a: number, b: number): number {
  return -Math.floor(-a / b);
}

/**
 * The input gradient at rows i = t * sh + cy - top and columns j = u * sw + cx - left, where only the kernel
 * taps ky = cy + m * sh, kx = cx + n * sw contribute: a stride-1 convolution of dy by the flipped sub-kernel.
 * With stride 1 (cy = cx = 0) that is the whole gradient, returned; otherwise it is scattered into `into`.
 */
function subPixelInputGradient(
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
  cy: number,
  cx: number,
  into: TensorInfo | null,
): TensorInfo {
  const my = Math.ceil((g.kh - cy) / g.sh);
  const mx = Math.ceil((g.kw - cx) / g.sw);
  // Output positions t of this residue class that land inside the input.
  const t0 = Math.max(0, ceilDiv(g.top - cy, g.sh));
  const u0 = Math.max(0, ceilDiv(g.left - cx, g.sw));
  const nt = Math.floor((g.inH - 1 + g.top - cy) / g.sh) - t0 + 1;
  const nu = Math.floor((g.inW - 1 + g.left - cx) / g.sw) - u0 + 1;
  if (my <= 0 || mx <= 0 || nt <= 0 || nu <= 0) {
    if (into) return into;
    throw new Error("Conv2DBackpropInput: empty kernel.");
  }
  const kernel = subKernel(backend, filter, cy, cx, g.sh, g.sw, my, mx);
  // out[t] = sum_m dy[t - m] w[cy + m sh]: a correlation by the flipped sub-kernel over dy padded by
  // (my - 1 - t0) rows above (cropped instead when negative).
  const padTop = my - 1 - t0;
  const padLeft = mx - 1 - u0;
  const padBottom = nt + my - 1 - padTop - g.outH;
  const padRight = nu + mx - 1 - padLeft - g.outW;
  const cropTop = Math.max(0, -padTop);
  const cropLeft = Math.max(0, -padLeft);
  const cropBottom = Math.max(0, -padBottom);
  const cropRight = Math.max(0, -padRight);
  let source = dy;
  if (cropTop || cropLeft || cropBottom || cropRight) {
    source = runKernel("Slice", backend, { x: dy }, {
      begin: [0, cropTop, cropLeft, 0],
      size: [g.n, g.outH - cropTop - cropBottom, g.outW - cropLeft - cropRight, g.outC],
    });
  }
  const part = runKernel("Conv2D", backend, { x: source, filter: kernel }, {
    strides: [1, 1],
    pad: [[0, 0], [Math.max(0, padTop), Math.max(0, padBottom)], [
      Math.max(0, padLeft),
      Math.max(0, padRight),
    ], [
      0,
      0,
    ]],
    dilations: [1, 1],
    dataFormat: "NHWC",
  });
  release(backend, part, kernel, ...(source !== dy ? [source] : []));
  if (!into) return part;
  scatterInto(backend, part, into, g.sh, g.sw, t0 * g.sh + cy - g.top, u0 * g.sw + cx - g.left);
  backend.disposeData(part.dataId);
  return into;
}

/**
 * The taps ky = cy + m * sh (m < my), kx = cx + n * sw (n < mx) of `filter` [kh, kw, inC, outC], spatially
 * flipped and with channel axes swapped: [my, mx, outC, inC].
 */
function subKernel(
  backend: WasmBackend,
  filter: TensorInfo,
  cy: number,
  cx: number,
  sh: number,
  sw: number,
  my: number,
  mx: number,
): TensorInfo {
  const [, kw, ci, co] = filter.shape;
  const out = backend.makeOutput([my, mx, co, ci], "float32");
  const src = backend.typedArrayFromHeap(filter);
  const dst = backend.typedArrayFromHeap(out);
  for (let m = 0; m < my; m++) {
    for (let n = 0; n < mx; n++) {
      const s0 = ((cy + m * sh) * kw + (cx + n * sw)) * ci * co;
      const d0 = ((my - 1 - m) * mx + (mx - 1 - n)) * co * ci;
      for (let i = 0; i < ci; i++) {
        const s = s0 + i * co;
        for (let o = 0; o < co; o++) dst[d0 + o * ci + i] = src[s + o];
      }
    }
  }
  return out;
}

/** Writes `part` [n, h, w, c] into `into` [n, H, W, c] at rows offY + y * sh and columns offX + x * sw. */
function scatterInto(
  backend: WasmBackend,
  part: TensorInfo,
  into: TensorInfo,
  sh: number,
  sw: number,
  offY: number,
  offX: number,
) {
  const [n, h, w, c] = part.shape;
  const [, H, W] = into.shape;
  const src = backend.typedArrayFromHeap(part);
  const dst = backend.typedArrayFromHeap(into);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      const oy = offY + y * sh;
      if (oy < 0 || oy >= H) continue;
      for (let x = 0; x < w; x++) {
        const ox = offX + x * sw;
        if (ox < 0 || ox >= W) continue;
        dst.set(
          src.subarray(((b * h + y) * w + x) * c, ((b * h + y) * w + x + 1) * c),
          ((b * H + oy) * W + ox) * c,
        );
      }
    }
  }
}

/** The stock wasm Identity kernel (it copies), for the string tensors the sharing one leaves to it. */
let stockIdentity: tf.KernelFunc | null = null;

/**
 * Identity without a copy: the output shares the input's data (TensorFlow.js tensors are immutable, and
 * assigning a variable swaps its data rather than writing into it). The stock kernel copies, and
 * TensorFlow.js clones every tensor it saves for the backward pass, so this saves a copy of most
 * activations per training step.
 */
function identity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: Attrs }) {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === "string") {
    if (!stockIdentity) throw new Error("The wasm backend has no 'Identity' kernel.");
    return stockIdentity(args as unknown as Parameters<tf.KernelFunc>[0]);
  }
  (args.backend as { incRef(dataId: unknown): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

let registered = false;

/**
 * Registers the training kernels with TensorFlow.js's kernel registry for the wasm backend (once;
 * later calls do nothing): both convolution gradients, an Identity that shares its input's data instead
 * of copying it, and the fused BatchNorm (training mode, forward
 * and gradient) and Adam kernels of `_fused.ts`. Call it after importing the wasm backend and before
 * training on it.
 *
 * @example Train convolutions on wasm
 * ```ts ignore
 * import { registerWasmTrainingKernels } from "./wasm_kernels.ts";
 * registerWasmTrainingKernels();
 * ```
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  stockIdentity = tf.getKernel("Identity", "wasm")?.kernelFunc ?? null;
  for (
    const [kernelName, kernelFunc] of [
      ["Conv2DBackpropFilter", conv2DBackpropFilter],
      ["Conv2DBackpropInput", conv2DBackpropInput],
      ["Identity", identity],
    ] as const
  ) {
    if (tf.getKernel(kernelName, "wasm") != null) tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: kernelFunc as tf.KernelFunc });
  }
  registerFusedKernels("wasm");
  registered = true;
}
