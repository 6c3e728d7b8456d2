/**
 * TensorFlow.js kernels that run in oneDNN over the wasm heap: the tensors of a wasm backend instance live
 * in its WebAssembly memory, and oneDNN reads and writes them in place by pointer (no copies).
 *
 * Order inside every kernel: resolve the inputs (which may move data onto the heap), allocate the outputs
 * (which may grow the heap), and only then take pointers; nothing touches the heap while oneDNN runs.
 * A configuration oneDNN rejects, or one these kernels do not cover, runs the wasm backend's own kernel.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type ConvGeometry, convGeometry } from "../_conv.ts";
import { ALG, ARG, BNORM, type Dnnl, type MemoryDesc, Primitive, PROP, TAG } from "./dnnl.ts";

type TensorInfo = tf.TensorInfo;
type Attrs = Record<string, unknown>;

/** The parts of TensorFlow.js's wasm backend that the native kernels use. */
interface WasmHeapBackend {
  /** The Emscripten module; `HEAPU8` views the whole (current) WebAssembly memory. */
  wasm: { HEAPU8: Uint8Array };
  /** Tensor storage; `get` moves a tensor's data onto this backend when it lives elsewhere. */
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } };
  /** Allocates an output tensor on the heap. */
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  /** Releases a tensor's data. */
  disposeData(dataId: unknown): boolean;
  /** Adds a reference to a tensor's data. */
  incRef(dataId: unknown): void;
}

/** Arguments TensorFlow.js passes to a kernel function. */
export interface KernelArgs {
  /** Input tensors by name (`x`, `filter`, `a`, `b`, ...). */
  inputs: Record<string, unknown>;
  /** The backend instance the kernel runs on. */
  backend: unknown;
  /** The op's attributes. */
  attrs?: Record<string, unknown>;
}

/** A kernel function, as TensorFlow.js's kernel registry calls it. */
export type KernelFunction = (args: KernelArgs) => unknown;

type Fallback = (args: KernelArgs) => TensorInfo | TensorInfo[];
type Inputs = Record<string, TensorInfo | undefined>;

let heapBuffer: ArrayBufferLike | null = null;
let heapBase = 0n;

/** The native addresses of `infos` on the backend's heap; call after every allocation of the kernel. */
function addresses(backend: WasmHeapBackend, infos: TensorInfo[]): Deno.PointerValue[] {
  const heap = backend.wasm.HEAPU8;
  if (heap.buffer !== heapBuffer) {
    heapBuffer = heap.buffer;
    heapBase = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(heap as Uint8Array<ArrayBuffer>)));
  }
  return infos.map((t) =>
    Deno.UnsafePointer.create(heapBase + BigInt(backend.dataIdMap.get(t.dataId).memoryOffset))
  );
}

/** Makes sure every input lives on this backend's heap before any output is allocated. */
function resolve(backend: WasmHeapBackend, infos: TensorInfo[]): void {
  for (const t of infos) backend.dataIdMap.get(t.dataId);
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The shared state of the kernels: the library and, per configuration key, a primitive or a refusal. */
class KernelContext {
  readonly dnnl: Dnnl;
  readonly #refused = new Set<string>();
  readonly fallbacks = new Map<string, Fallback>();

  constructor(dnnl: Dnnl) {
    this.dnnl = dnnl;
  }

  /** The cached primitive for `key`, or null when oneDNN refused the configuration. */
  primitive(key: string, make: () => Primitive): Primitive | null {
    if (this.#refused.has(key)) return null;
    try {
      return this.dnnl.cached(key, make);
    } catch {
      this.#refused.add(key);
      return null;
    }
  }

  fallback(name: string, args: KernelArgs): TensorInfo | TensorInfo[] {
    const f = this.fallbacks.get(name);
    if (!f) throw new Error(`No wasm kernel '${name}' to fall back to.`);
    return f(args);
  }
}

/** A convolution's geometry with its paddings as oneDNN takes them (begin and end, [h, w]). */
interface Conv extends ConvGeometry {
  padL: [number, number];
  padR: [number, number];
}

function nativeConvGeometry(
  xShape: number[],
  filterShape: number[],
  attrs: Attrs,
): Conv | null {
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs;
  if (dataFormat != null && dataFormat !== "NHWC") return null;
  const g = convGeometry(xShape, filterShape, strides, dilations, pad, dimRoundingMode);
  if (g.top < 0 || g.bottom < 0 || g.left < 0 || g.right < 0) return null;
  return { ...g, padL: [g.top, g.left], padR: [g.bottom, g.right] };
}

function convKey(g: Conv): string {
  return [
    g.n,
    g.inH,
    g.inW,
    g.inC,
    g.outH,
    g.outW,
    g.outC,
    g.kh,
    g.kw,
    g.sh,
    g.sw,
    g.dh,
    g.dw,
    ...g.padL,
    ...g.padR,
  ]
    .join(",");
}

/**
 * Memory descriptors of a convolution: source, weights, destination, in TensorFlow.js's layouts or, with
 * `any`, leaving oneDNN to choose (its blocked layouts run several times faster on wide SIMD).
 */
function convMds(
  dnnl: Dnnl,
  g: Conv,
  any = false,
): { src: MemoryDesc; weights: MemoryDesc; dst: MemoryDesc } {
  return {
    src: dnnl.md([g.n, g.inC, g.inH, g.inW], any ? TAG.any : TAG.nhwc),
    weights: dnnl.md([g.outC, g.inC, g.kh, g.kw], any ? TAG.any : TAG.hwio),
    dst: dnnl.md([g.n, g.outC, g.outH, g.outW], any ? TAG.any : TAG.nhwc),
  };
}

/** The forward convolution descriptor (with an optional bias of `outC`). */
function convForwardDesc(
  dnnl: Dnnl,
  g: Conv,
  prop: number,
  bias: MemoryDesc | null,
): Uint8Array<ArrayBuffer> {
  const { src, weights, dst } = convMds(dnnl, g, true);
  const desc = dnnl.opDesc();
  const status = dnnl.lib.dnnl_dilated_convolution_forward_desc_init(
    desc,
    prop,
    ALG.convolutionDirect,
    src,
    weights,
    bias,
    dst,
    dnnl.dims([g.sh, g.sw]),
    dnnl.dims([g.dh - 1, g.dw - 1]),
    dnnl.dims(g.padL),
    dnnl.dims(g.padR),
  );
  if (status !== 0) throw new Error(`convolution_forward_desc_init failed: ${status}`);
  return desc;
}

/** Post-ops for a TensorFlow.js fused activation, or null when oneDNN has no exact equivalent here. */
function activationPostOps(activation: unknown, leakyreluAlpha: unknown): [number, number, number][] | null {
  switch (activation ?? "linear") {
    case "linear":
      return [];
    case "relu":
      return [[ALG.eltwiseRelu, 0, 0]];
    case "relu6":
      return [[ALG.eltwiseClip, 0, 6]];
    case "leakyrelu":
      return [[ALG.eltwiseRelu, Number(leakyreluAlpha ?? 0.2), 0]];
    case "elu":
      return [[ALG.eltwiseElu, 1, 0]];
    case "sigmoid":
      return [[ALG.eltwiseLogistic, 0, 0]];
    default:
      return null;
  }
}

function conv2D(ctx: KernelContext, args: KernelArgs, fused: boolean): TensorInfo | TensorInfo[] {
  const name = fused ? "FusedConv2D" : "Conv2D";
  const backend = args.backend as WasmHeapBackend;
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const attrs = args.attrs ?? {};
  const g = nativeConvGeometry(x!.shape, filter!.shape, attrs);
  const postOps = fused ? activationPostOps(attrs.activation, attrs.leakyreluAlpha) : [];
  const hasBias = fused && bias != null;
  if (
    g == null || postOps == null || preluActivationWeights != null ||
    (hasBias && (bias!.shape.length !== 1 || bias!.shape[0] !== g.outC))
  ) {
    return ctx.fallback(name, args);
  }
  const dnnl = ctx.dnnl;
  const key = `${name}:${convKey(g)}:${hasBias}:${JSON.stringify(postOps)}`;
  const prim = ctx.primitive(key, () => {
    const biasMd = hasBias ? dnnl.md([g.outC], TAG.a) : null;
    const desc = convForwardDesc(dnnl, g, PROP.forwardInference, biasMd);
    const pd = dnnl.primitiveDesc(desc, { postOps });
    const { src, weights, dst } = convMds(dnnl, g);
    return new Primitive(dnnl, pd, [
      { id: ARG.src, md: src },
      { id: ARG.weights, md: weights },
      ...(biasMd ? [{ id: ARG.bias, md: biasMd }] : []),
      { id: ARG.dst, md: dst, output: true },
    ]);
  });
  if (!prim) return ctx.fallback(name, args);
  const ins = hasBias ? [x!, filter!, bias!] : [x!, filter!];
  resolve(backend, ins);
  const out = backend.makeOutput([g.n, g.outH, g.outW, g.outC], "float32");
  prim.execute(addresses(backend, [...ins, out]));
  return out;
}

function conv2DBackpropInput(ctx: KernelContext, args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs ?? {};
  const g = nativeConvGeometry(attrs.inputShape as number[], filter.shape, attrs);
  if (g == null) return ctx.fallback("Conv2DBackpropInput", args);
  const dnnl = ctx.dnnl;
  const prim = ctx.primitive(`Conv2DBackpropInput:${convKey(g)}`, () => {
    const hint = dnnl.primitiveDesc(convForwardDesc(dnnl, g, PROP.forwardTraining, null));
    try {
      const any = convMds(dnnl, g, true);
      const desc = dnnl.opDesc();
      const status = dnnl.lib.dnnl_dilated_convolution_backward_data_desc_init(
        desc,
        ALG.convolutionDirect,
        any.src,
        any.weights,
        any.dst,
        dnnl.dims([g.sh, g.sw]),
        dnnl.dims([g.dh - 1, g.dw - 1]),
        dnnl.dims(g.padL),
        dnnl.dims(g.padR),
      );
      if (status !== 0) throw new Error(`convolution_backward_data_desc_init failed: ${status}`);
      const pd = dnnl.primitiveDesc(desc, { hint });
      const { src, weights, dst } = convMds(dnnl, g);
      return new Primitive(dnnl, pd, [
        { id: ARG.diffDst, md: dst },
        { id: ARG.weights, md: weights },
        { id: ARG.diffSrc, md: src, output: true },
      ]);
    } finally {
      dnnl.destroyDesc(hint);
    }
  });
  if (!prim) return ctx.fallback("Conv2DBackpropInput", args);
  resolve(backend, [dy, filter]);
  const out = backend.makeOutput([g.n, g.inH, g.inW, g.inC], "float32");
  prim.execute(addresses(backend, [dy, filter, out]));
  return out;
}

function conv2DBackpropFilter(ctx: KernelContext, args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs ?? {};
  const filterShape = attrs.filterShape as number[];
  const g = nativeConvGeometry(x.shape, filterShape, attrs);
  if (g == null) return ctx.fallback("Conv2DBackpropFilter", args);
  const dnnl = ctx.dnnl;
  const prim = ctx.primitive(`Conv2DBackpropFilter:${convKey(g)}`, () => {
    const hint = dnnl.primitiveDesc(convForwardDesc(dnnl, g, PROP.forwardTraining, null));
    try {
      const any = convMds(dnnl, g, true);
      const desc = dnnl.opDesc();
      const status = dnnl.lib.dnnl_dilated_convolution_backward_weights_desc_init(
        desc,
        ALG.convolutionDirect,
        any.src,
        any.weights,
        null,
        any.dst,
        dnnl.dims([g.sh, g.sw]),
        dnnl.dims([g.dh - 1, g.dw - 1]),
        dnnl.dims(g.padL),
        dnnl.dims(g.padR),
      );
      if (status !== 0) throw new Error(`convolution_backward_weights_desc_init failed: ${status}`);
      const pd = dnnl.primitiveDesc(desc, { hint });
      const { src, weights, dst } = convMds(dnnl, g);
      return new Primitive(dnnl, pd, [
        { id: ARG.src, md: src },
        { id: ARG.diffDst, md: dst },
        { id: ARG.diffWeights, md: weights, output: true },
      ]);
    } finally {
      dnnl.destroyDesc(hint);
    }
  });
  if (!prim) return ctx.fallback("Conv2DBackpropFilter", args);
  resolve(backend, [x, dy]);
  const out = backend.makeOutput(filterShape, "float32");
  prim.execute(addresses(backend, [x, dy, out]));
  return out;
}

/** Batched matrix product `op(a) op(b) (+ bias) (then activation)`, batch dims broadcast when one is 1. */
function matMul(ctx: KernelContext, args: KernelArgs, fused: boolean): TensorInfo | TensorInfo[] {
  const name = fused ? "_FusedMatMul" : "BatchMatMul";
  const backend = args.backend as WasmHeapBackend;
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const attrs = args.attrs ?? {};
  const tA = Boolean(attrs.transposeA);
  const tB = Boolean(attrs.transposeB);
  const postOps = fused ? activationPostOps(attrs.activation, attrs.leakyreluAlpha) : [];
  if (
    postOps == null || preluActivationWeights != null || a!.dtype !== "float32" || b!.dtype !== "float32" ||
    a!.shape.length < 2 || b!.shape.length < 2
  ) {
    return ctx.fallback(name, args);
  }
  const ra = a!.shape.length;
  const rb = b!.shape.length;
  const m = tA ? a!.shape[ra - 1] : a!.shape[ra - 2];
  const k = tA ? a!.shape[ra - 2] : a!.shape[ra - 1];
  const kb = tB ? b!.shape[rb - 1] : b!.shape[rb - 2];
  const n = tB ? b!.shape[rb - 2] : b!.shape[rb - 1];
  const outerA = a!.shape.slice(0, -2);
  const outerB = b!.shape.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = size(outer);
  const hasBias = fused && bias != null;
  if (
    k !== kb || batch !== Math.max(batchA, batchB) || (batchA !== batch && batchA !== 1) ||
    (batchB !== batch && batchB !== 1) ||
    (hasBias && (size(bias!.shape) !== n || bias!.shape.at(-1) !== n)) ||
    m * n * batch === 0 || k === 0
  ) {
    return ctx.fallback(name, args);
  }
  const dnnl = ctx.dnnl;
  const key = `${name}:${batchA},${batchB},${m},${k},${n},${tA},${tB},${hasBias}:${JSON.stringify(postOps)}`;
  const prim = ctx.primitive(key, () => {
    const src = tA
      ? dnnl.mdStrides([batchA, m, k], [m * k, 1, m])
      : dnnl.mdStrides([batchA, m, k], [m * k, k, 1]);
    const weights = tB
      ? dnnl.mdStrides([batchB, k, n], [k * n, 1, k])
      : dnnl.mdStrides([batchB, k, n], [k * n, n, 1]);
    const biasMd = hasBias ? dnnl.md([1, 1, n], TAG.abc) : null;
    const dst = dnnl.md([batch, m, n], TAG.abc);
    const desc = dnnl.opDesc();
    const status = dnnl.lib.dnnl_matmul_desc_init(desc, src, weights, biasMd, dst);
    if (status !== 0) throw new Error(`matmul_desc_init failed: ${status}`);
    const pd = dnnl.primitiveDesc(desc, { postOps });
    return new Primitive(dnnl, pd, [
      { id: ARG.src, md: src },
      { id: ARG.weights, md: weights },
      ...(biasMd ? [{ id: ARG.bias, md: biasMd }] : []),
      { id: ARG.dst, md: dst, output: true },
    ]);
  });
  if (!prim) return ctx.fallback(name, args);
  const ins = hasBias ? [a!, b!, bias!] : [a!, b!];
  resolve(backend, ins);
  const out = backend.makeOutput([...outer, m, n], "float32");
  prim.execute(addresses(backend, [...ins, out]));
  return out;
}

/**
 * Below this many elements an elementwise kernel stays in wasm: the call into oneDNN (and its parallel
 * region) costs more than the work.
 */
const ELEMENTWISE_MIN = 16384;

/** Merges neighbouring axes that share a flag; returns the merged sizes and flags. */
function collapse(sizes: number[], flags: boolean[]): { sizes: number[]; flags: boolean[] } {
  const outSizes: number[] = [];
  const outFlags: boolean[] = [];
  sizes.forEach((n, i) => {
    if (n === 1) return;
    if (outFlags.length && outFlags[outFlags.length - 1] === flags[i]) outSizes[outSizes.length - 1] *= n;
    else {
      outSizes.push(n);
      outFlags.push(flags[i]);
    }
  });
  if (!outSizes.length) return { sizes: [1], flags: [false] };
  return { sizes: outSizes, flags: outFlags };
}

const COMMUTATIVE = new Set(["Add", "Multiply"]);
const BINARY_ALG: Record<string, number> = {
  Add: ALG.binaryAdd,
  Sub: ALG.binarySub,
  Multiply: ALG.binaryMul,
  RealDiv: ALG.binaryDiv,
};

/**
 * An elementwise binary op, `a` of the output's shape and `b` equal to it or broadcast along some axes
 * (for Add and Multiply the operands may be swapped).
 */
function binary(ctx: KernelContext, name: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  let { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  if (a.dtype !== "float32" || b.dtype !== "float32") return ctx.fallback(name, args);
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const total = size(outShape);
  if (total < ELEMENTWISE_MIN) return ctx.fallback(name, args);
  if (size(a.shape) !== total) {
    if (!COMMUTATIVE.has(name) || size(b.shape) !== total) return ctx.fallback(name, args);
    [a, b] = [b, a];
  }
  // b's axes, right-aligned against the output: full (true) or broadcast (false).
  const offset = outShape.length - b.shape.length;
  const flags = outShape.map((n, i) => i >= offset && b.shape[i - offset] === n);
  const merged = collapse(outShape, flags);
  const dnnl = ctx.dnnl;
  const key = `${name}:${merged.sizes}:${merged.flags}`;
  const prim = ctx.primitive(key, () => {
    const src0 = dnnl.md(merged.sizes, plainTag(merged.sizes.length));
    const src1 = dnnl.md(merged.sizes.map((n, i) => merged.flags[i] ? n : 1), plainTag(merged.sizes.length));
    const desc = dnnl.opDesc();
    const status = dnnl.lib.dnnl_binary_desc_init(desc, BINARY_ALG[name], src0, src1, src0);
    if (status !== 0) throw new Error(`binary_desc_init failed: ${status}`);
    return new Primitive(dnnl, dnnl.primitiveDesc(desc), [
      { id: ARG.src, md: src0 },
      { id: ARG.src1, md: src1 },
      { id: ARG.dst, md: src0, output: true },
    ]);
  });
  if (!prim) return ctx.fallback(name, args);
  resolve(backend, [a, b]);
  const out = backend.makeOutput(outShape, "float32");
  prim.execute(addresses(backend, [a, b, out]));
  return out;
}

/** The plain (row-major) format tag of a rank. */
function plainTag(rank: number): number {
  const tags = [TAG.a, TAG.ab, TAG.abc, TAG.abcd];
  const tag = tags[rank - 1];
  if (tag == null) throw new Error(`rank ${rank} is not supported`);
  return tag;
}

/** Vectors of `n` copies of `value` (ones for sums, 1/n for means), kept for the reductions' products. */
const constantVectors = new Map<string, { data: Float32Array<ArrayBuffer>; pointer: Deno.PointerValue }>();

function constantVector(n: number, value: number): Deno.PointerValue {
  const key = `${n}:${value}`;
  let v = constantVectors.get(key);
  if (!v) {
    const data = new Float32Array(n).fill(value);
    v = { data, pointer: Deno.UnsafePointer.of(data) };
    constantVectors.set(key, v);
  }
  return v.pointer;
}

/**
 * Sum or Mean over any set of axes. Neighbouring axes are merged; the common shapes (reduce the leading,
 * the trailing or the middle group) are a matrix product by a constant vector, which oneDNN runs at memory
 * speed; other groupings use its reduction primitive.
 */
function reduction(ctx: KernelContext, name: "Sum" | "Mean", args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = (args.attrs ?? {}) as { axis: number | number[]; keepDims: boolean };
  if (x.dtype !== "float32" || size(x.shape) < ELEMENTWISE_MIN) return ctx.fallback(name, args);
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const reduced = x.shape.map((_, i) => axes.includes(i));
  const merged = collapse(x.shape, reduced);
  if (merged.sizes.length > 4 || !merged.flags.some((f) => f)) return ctx.fallback(name, args);
  const outShape = keepDims
    ? x.shape.map((n, i) => reduced[i] ? 1 : n)
    : x.shape.filter((_, i) => !reduced[i]);
  const dnnl = ctx.dnnl;
  const pattern = merged.flags.map((f) => f ? "R" : "K").join("");
  // As [batch, rows, cols] products: which operand is x and how long the constant vector is.
  let product: { batch: number; m: number; k: number; n: number; xIsSrc: boolean } | null = null;
  const sz = merged.sizes;
  if (pattern === "R") product = { batch: 1, m: 1, k: sz[0], n: 1, xIsSrc: true };
  else if (pattern === "RK") product = { batch: 1, m: 1, k: sz[0], n: sz[1], xIsSrc: false };
  else if (pattern === "KR") product = { batch: 1, m: sz[0], k: sz[1], n: 1, xIsSrc: true };
  else if (pattern === "KRK") product = { batch: sz[0], m: 1, k: sz[1], n: sz[2], xIsSrc: false };
  const key = `${name}:${sz}:${pattern}`;
  const prim = ctx.primitive(key, () => {
    if (product) {
      const { batch, m, k, n, xIsSrc } = product;
      const src = dnnl.mdStrides([xIsSrc ? batch : 1, m, k], [m * k, k, 1]);
      const weights = dnnl.mdStrides([xIsSrc ? 1 : batch, k, n], [k * n, n, 1]);
      const dst = dnnl.md([batch, m, n], TAG.abc);
      const desc = dnnl.opDesc();
      const status = dnnl.lib.dnnl_matmul_desc_init(desc, src, weights, null, dst);
      if (status !== 0) throw new Error(`matmul_desc_init failed: ${status}`);
      return new Primitive(dnnl, dnnl.primitiveDesc(desc), [
        { id: ARG.src, md: src },
        { id: ARG.weights, md: weights },
        { id: ARG.dst, md: dst, output: true },
      ]);
    }
    const tag = plainTag(sz.length);
    const src = dnnl.md(sz, tag);
    const dst = dnnl.md(sz.map((n, i) => merged.flags[i] ? 1 : n), tag);
    const desc = dnnl.opDesc();
    const alg = name === "Sum" ? ALG.reductionSum : ALG.reductionMean;
    const status = dnnl.lib.dnnl_reduction_desc_init(desc, alg, src, dst, 0, 0);
    if (status !== 0) throw new Error(`reduction_desc_init failed: ${status}`);
    return new Primitive(dnnl, dnnl.primitiveDesc(desc), [
      { id: ARG.src, md: src },
      { id: ARG.dst, md: dst, output: true },
    ]);
  });
  if (!prim) return ctx.fallback(name, args);
  resolve(backend, [x]);
  const out = backend.makeOutput(outShape, "float32");
  const [xp, outp] = addresses(backend, [x, out]);
  if (product) {
    const ones = constantVector(product.k, name === "Sum" ? 1 : 1 / product.k);
    prim.execute(product.xIsSrc ? [xp, ones, outp] : [ones, xp, outp]);
  } else {
    prim.execute([xp, outp]);
  }
  return out;
}

const UNARY_ALG: Record<string, [number, number, number]> = {
  Relu: [ALG.eltwiseRelu, 0, 0],
  Square: [ALG.eltwiseSquare, 0, 0],
  Sqrt: [ALG.eltwiseSqrt, 0, 0],
};

/** An elementwise unary op (Relu, Square, Sqrt). */
function unary(ctx: KernelContext, name: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const total = size(x.shape);
  if (x.dtype !== "float32" || total < ELEMENTWISE_MIN) return ctx.fallback(name, args);
  const dnnl = ctx.dnnl;
  const prim = ctx.primitive(`${name}:${total}`, () => {
    const md = dnnl.md([total], TAG.a);
    const [alg, alpha, beta] = UNARY_ALG[name];
    const desc = dnnl.opDesc();
    const status = dnnl.lib.dnnl_eltwise_forward_desc_init(desc, PROP.forwardInference, alg, md, alpha, beta);
    if (status !== 0) throw new Error(`eltwise_forward_desc_init failed: ${status}`);
    return new Primitive(dnnl, dnnl.primitiveDesc(desc), [
      { id: ARG.src, md },
      { id: ARG.dst, md, output: true },
    ]);
  });
  if (!prim) return ctx.fallback(name, args);
  resolve(backend, [x]);
  const out = backend.makeOutput(x.shape, "float32");
  prim.execute(addresses(backend, [x, out]));
  return out;
}

/** Inference BatchNorm (running statistics), per channel of an NHWC tensor. */
function fusedBatchNorm(ctx: KernelContext, args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { x, mean, variance, scale, offset } = args.inputs as Inputs;
  const epsilon = Number((args.attrs ?? {}).varianceEpsilon ?? 0.001);
  const c = x!.shape.at(-1)!;
  const perChannel = (t: TensorInfo | undefined) => t != null && t.shape.length === 1 && t.shape[0] === c;
  if (
    x!.shape.length !== 4 || x!.dtype !== "float32" || size(x!.shape) < ELEMENTWISE_MIN ||
    ![mean, variance, scale, offset].every(perChannel)
  ) {
    return ctx.fallback("FusedBatchNorm", args);
  }
  const [n, h, w] = x!.shape;
  const dnnl = ctx.dnnl;
  const prim = ctx.primitive(`FusedBatchNorm:${x!.shape}:${epsilon}`, () => {
    const data = dnnl.md([n, c, h, w], TAG.nhwc);
    const channel = dnnl.md([c], TAG.a);
    const desc = dnnl.opDesc();
    const flags = BNORM.useGlobalStats | BNORM.useScale | BNORM.useShift;
    const status = dnnl.lib.dnnl_batch_normalization_forward_desc_init(
      desc,
      PROP.forwardInference,
      data,
      epsilon,
      flags,
    );
    if (status !== 0) throw new Error(`batch_normalization_forward_desc_init failed: ${status}`);
    return new Primitive(dnnl, dnnl.primitiveDesc(desc), [
      { id: ARG.src, md: data },
      { id: ARG.mean, md: channel },
      { id: ARG.variance, md: channel },
      { id: ARG.scale, md: channel },
      { id: ARG.shift, md: channel },
      { id: ARG.dst, md: data, output: true },
    ]);
  });
  if (!prim) return ctx.fallback("FusedBatchNorm", args);
  const ins = [x!, mean!, variance!, scale!, offset!];
  resolve(backend, ins);
  const out = backend.makeOutput(x!.shape, "float32");
  prim.execute(addresses(backend, [...ins, out]));
  return out;
}

/**
 * Identity without a copy: the output shares the input's data, as the cpu backend's does (TensorFlow.js
 * tensors are immutable; assigning a variable swaps its data). The wasm backend copies, and TensorFlow.js
 * clones every tensor it saves for the backward pass, so this saves a copy of most activations.
 */
function identity(ctx: KernelContext, args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === "string") return ctx.fallback("Identity", args);
  resolve(backend, [x]);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Cast to the dtype a tensor already has: shares the data, like {@linkcode identity}. */
function cast(ctx: KernelContext, args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === "string" || (args.attrs ?? {}).dtype !== x.dtype) return ctx.fallback("Cast", args);
  resolve(backend, [x]);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** The kernels run in oneDNN, by TensorFlow.js kernel name. */
export const NATIVE_KERNEL_NAMES = [
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "BatchMatMul",
  "_FusedMatMul",
  "Add",
  "Sub",
  "Multiply",
  "RealDiv",
  "Sum",
  "Mean",
  "Relu",
  "Square",
  "Sqrt",
  "FusedBatchNorm",
  "Identity",
  "Cast",
] as const;

/**
 * The native kernel functions over `dnnl`, each falling back to `fallbacks[name]` (the wasm backend's own
 * kernel) for configurations it does not cover.
 *
 * @example Build the kernels over a loaded oneDNN
 * ```ts ignore
 * import { loadDnnl } from "./dnnl.ts";
 * import { nativeKernels } from "./kernels.ts";
 * const probe = loadDnnl();
 * if (probe.ok) console.log(Object.keys(nativeKernels(probe.dnnl, new Map())));
 * ```
 */
export function nativeKernels(
  dnnl: Dnnl,
  fallbacks: Map<string, KernelFunction>,
): Record<(typeof NATIVE_KERNEL_NAMES)[number], KernelFunction> {
  const ctx = new KernelContext(dnnl);
  for (const [k, f] of fallbacks) ctx.fallbacks.set(k, f as unknown as Fallback);
  const wrap = (f: (args: KernelArgs) => TensorInfo | TensorInfo[]): KernelFunction => f;
  return {
    Conv2D: wrap((args) => conv2D(ctx, args, false)),
    FusedConv2D: wrap((args) => conv2D(ctx, args, true)),
    Conv2DBackpropInput: wrap((args) => conv2DBackpropInput(ctx, args)),
    Conv2DBackpropFilter: wrap((args) => conv2DBackpropFilter(ctx, args)),
    BatchMatMul: wrap((args) => matMul(ctx, args, false)),
    _FusedMatMul: wrap((args) => matMul(ctx, args, true)),
    Add: wrap((args) => binary(ctx, "Add", args)),
    Sub: wrap((args) => binary(ctx, "Sub", args)),
    Multiply: wrap((args) => binary(ctx, "Multiply", args)),
    RealDiv: wrap((args) => binary(ctx, "RealDiv", args)),
    Sum: wrap((args) => reduction(ctx, "Sum", args)),
    Mean: wrap((args) => reduction(ctx, "Mean", args)),
    Relu: wrap((args) => unary(ctx, "Relu", args)),
    Square: wrap((args) => unary(ctx, "Square", args)),
    Sqrt: wrap((args) => unary(ctx, "Sqrt", args)),
    FusedBatchNorm: wrap((args) => fusedBatchNorm(ctx, args)),
    Identity: wrap((args) => identity(ctx, args)),
    Cast: wrap((args) => cast(ctx, args)),
  };
}
