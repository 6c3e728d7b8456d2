/**
 * oneDNN (`libdnnl.so.2`, the 2.x C API) through Deno FFI: loading, version and thread checks, memory
 * descriptors and cached primitives that run over caller-owned memory.
 *
 * oneDNN is an optional dependency (Debian/Ubuntu: `apt-get install libdnnl2`). Nothing here is loaded
 * until {@linkcode loadDnnl} is called, and a missing library or an unsupported version is reported as a
 * reason, never thrown at import time.
 *
 * Layouts: oneDNN's logical dimensions are NCHW for data and OIHW for weights; the tags `nhwc` and `hwio`
 * describe TensorFlow.js's own NHWC and [kh, kw, in, out] layouts, so tensors are used in place.
 *
 * @module
 */

/** oneDNN's data type `f32`. */
export const F32 = 3;
/** Memory format tags of oneDNN 2.x. */
export const TAG = { any: 1, a: 2, ab: 3, abc: 4, abcd: 5, nhwc: 20, hwio: 30 } as const;
/** Propagation kinds of oneDNN 2.x. */
export const PROP = {
  forwardTraining: 64,
  forwardInference: 96,
  backward: 128,
  backwardData: 160,
  backwardWeights: 192,
} as const;
/** Algorithm kinds of oneDNN 2.x used by the kernels. */
export const ALG = {
  convolutionDirect: 1,
  eltwiseRelu: 31,
  eltwiseLogistic: 0xaf,
  eltwiseElu: 0x3f,
  eltwiseClip: 0xff,
  eltwiseSquare: 0x4f,
  eltwiseSqrt: 0x6f,
  binaryAdd: 0x1fff0,
  binaryMul: 0x1fff1,
  binarySub: 0x1fff5,
  binaryDiv: 0x1fff4,
  reductionSum: 0x2fff4,
  reductionMean: 0x2fff6,
} as const;
/** Execution argument ids (`DNNL_ARG_*`). */
export const ARG = {
  src: 1,
  src1: 2,
  dst: 17,
  weights: 33,
  bias: 41,
  mean: 49,
  variance: 50,
  scale: 51,
  shift: 52,
  workspace: 64,
  diffSrc: 129,
  diffDst: 145,
  diffWeights: 161,
  diffBias: 169,
  diffScale: 255,
  diffShift: 256,
} as const;
/** Batch normalisation flags of oneDNN 2.x. */
export const BNORM = { useGlobalStats: 1, useScale: 8, useShift: 16 } as const;

const LIBRARY = "libdnnl.so.2";
const OPENMP = "libgomp.so.1";
/** Bytes reserved per memory descriptor (696 in 2.6; room to spare for other 2.x releases). */
const MD_BYTES = 1024;
/** Bytes reserved per operation descriptor (the largest, convolution, is 5,976 in 2.6). */
const OP_BYTES = 8192;
const MAX_DIMS = 12;
/** The oldest oneDNN release whose C API these bindings were checked against. */
const MIN_MINOR = 3;

/** The C functions of oneDNN 2.x that the bindings call, as Deno FFI declarations. */
export const DNNL_SYMBOLS = {
  dnnl_version: { parameters: [], result: "pointer" },
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_memory_desc_init_by_tag: { parameters: ["buffer", "i32", "buffer", "i32", "i32"], result: "i32" },
  dnnl_memory_desc_init_by_strides: {
    parameters: ["buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_memory_desc_get_size: { parameters: ["pointer"], result: "usize" },
  dnnl_memory_create: { parameters: ["buffer", "pointer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_dilated_convolution_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_dilated_convolution_backward_data_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_dilated_convolution_backward_weights_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_matmul_desc_init: { parameters: ["buffer", "buffer", "buffer", "buffer", "buffer"], result: "i32" },
  dnnl_eltwise_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_eltwise_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_binary_desc_init: { parameters: ["buffer", "i32", "buffer", "buffer", "buffer"], result: "i32" },
  dnnl_reduction_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_batch_normalization_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_batch_normalization_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_primitive_attr_create: { parameters: ["buffer"], result: "i32" },
  dnnl_primitive_attr_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_attr_set_post_ops: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_post_ops_create: { parameters: ["buffer"], result: "i32" },
  dnnl_post_ops_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_post_ops_append_eltwise: { parameters: ["pointer", "f32", "i32", "f32", "f32"], result: "i32" },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_desc_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_desc_query: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  dnnl_primitive_desc_query_md: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  dnnl_memory_desc_equal: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "pointer", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_primitive_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
} as const;

const OMP_SYMBOLS = {
  omp_set_num_threads: { parameters: ["i32"], result: "void" },
  omp_get_max_threads: { parameters: [], result: "i32" },
} as const;

/** The FFI symbols of `libdnnl.so.2` that the bindings use. */
export type DnnlSymbols = Deno.DynamicLibrary<typeof DNNL_SYMBOLS>["symbols"];
type OmpLib = Deno.DynamicLibrary<typeof OMP_SYMBOLS>["symbols"];

const STATUS = [
  "success",
  "out_of_memory",
  "invalid_arguments",
  "unimplemented",
  "iterator_ends",
  "runtime_error",
  "not_required",
];

/** Query ids of `dnnl_primitive_desc_query` used here. */
const QUERY_IMPL_INFO_STR = 8;
const QUERY_EXEC_ARG_MD = 255;

function check(status: number, what: string): void {
  if (status !== 0) throw new Error(`oneDNN ${what} failed: ${STATUS[status] ?? `status ${status}`}`);
}

function handleOut(): BigUint64Array {
  return new BigUint64Array(1);
}

function pointerOf(out: BigUint64Array): Deno.PointerObject {
  const p = Deno.UnsafePointer.create(out[0]);
  if (p == null) throw new Error("oneDNN returned a null handle.");
  return p;
}

/** oneDNN's version as `dnnl_version()` reports it. */
export interface DnnlVersion {
  /** Major version (2 for the supported API). */
  major: number;
  /** Minor version. */
  minor: number;
  /** Patch version. */
  patch: number;
  /** CPU threading runtime: `omp`, `tbb`, `seq`, `threadpool` or a number. */
  runtime: string;
}

/** A memory descriptor: opaque bytes initialised by oneDNN. */
export type MemoryDesc = Uint8Array<ArrayBuffer>;

/** One execution argument of a {@linkcode Primitive}: its id and the layout the caller's data has. */
export interface PrimitiveArg {
  /** `DNNL_ARG_*` id. */
  id: number;
  /** The caller's layout. */
  md: MemoryDesc;
  /** Whether the primitive writes this argument. */
  output?: boolean;
}

/** The handle value that makes `dnnl_memory_create` leave the buffer unset until bound. */
const NO_HANDLE = null;

function execArgs(pairs: [number, Deno.PointerObject][]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(16 * pairs.length);
  const view = new DataView(bytes.buffer);
  pairs.forEach(([id, m], i) => {
    view.setInt32(16 * i, id, true);
    view.setBigUint64(16 * i + 8, BigInt(Deno.UnsafePointer.value(m)), true);
  });
  return bytes;
}

/**
 * A oneDNN primitive with its memory objects, created once per shape and reused: each call binds the
 * caller's data pointers and executes. Where the primitive runs faster in a layout of its own (blocked
 * channels), the argument is reordered from/to the caller's layout through a shared scratch buffer.
 */
export class Primitive {
  #dnnl: Dnnl;
  #pd: Deno.PointerObject;
  #primitive: Deno.PointerObject;
  #userMemories: Deno.PointerObject[] = [];
  #args: Uint8Array<ArrayBuffer>;
  #internal: { memory: Deno.PointerObject; slot: number; bytes: number }[] = [];
  #before: { primitive: Deno.PointerObject; args: Uint8Array<ArrayBuffer> }[] = [];
  #after: { primitive: Deno.PointerObject; args: Uint8Array<ArrayBuffer> }[] = [];
  #owned: Deno.PointerObject[] = [];
  /** The caller's descriptors, kept alive for as long as oneDNN may read them by pointer. */
  #keep: MemoryDesc[];
  /** oneDNN's name for the implementation it chose (`jit:avx2`, `gemm:jit`, `ref`, ...). */
  readonly impl: string;

  /**
   * Wraps a primitive descriptor (which it takes over) and the arguments it binds, in the order
   * {@linkcode execute} receives their pointers.
   */
  constructor(dnnl: Dnnl, pd: Deno.PointerObject, args: PrimitiveArg[]) {
    this.#dnnl = dnnl;
    this.#pd = pd;
    this.#keep = args.map((a) => a.md);
    const lib = dnnl.lib;
    this.impl = dnnl.implInfo(pd);
    const out = handleOut();
    try {
      check(lib.dnnl_primitive_create(out, pd), "primitive_create");
    } catch (e) {
      lib.dnnl_primitive_desc_destroy(pd);
      throw e;
    }
    this.#primitive = pointerOf(out);
    const mainArgs: [number, Deno.PointerObject][] = [];
    args.forEach(({ id, md, output }, i) => {
      const user = Deno.UnsafePointer.of(md)!;
      const wanted = lib.dnnl_primitive_desc_query_md(pd, QUERY_EXEC_ARG_MD, id);
      const userMemory = this.#memory(user);
      this.#userMemories.push(userMemory);
      if (wanted == null || lib.dnnl_memory_desc_equal(user, wanted) !== 0) {
        mainArgs.push([id, userMemory]);
        return;
      }
      // The primitive's own layout: reorder through scratch slot i.
      const internal = this.#memory(wanted);
      this.#internal.push({
        memory: internal,
        slot: i,
        bytes: Number(lib.dnnl_memory_desc_get_size(wanted)),
      });
      mainArgs.push([id, internal]);
      const [from, to] = output ? [wanted, user] : [user, wanted];
      const [fromMem, toMem] = output ? [internal, userMemory] : [userMemory, internal];
      const r = handleOut();
      check(
        lib.dnnl_reorder_primitive_desc_create(r, from, dnnl.engine, to, dnnl.engine, null),
        "reorder_primitive_desc_create",
      );
      const rpd = pointerOf(r);
      const rp = handleOut();
      try {
        check(lib.dnnl_primitive_create(rp, rpd), "primitive_create(reorder)");
      } finally {
        lib.dnnl_primitive_desc_destroy(rpd);
      }
      const reorder = { primitive: pointerOf(rp), args: execArgs([[ARG.src, fromMem], [ARG.dst, toMem]]) };
      this.#owned.push(reorder.primitive);
      (output ? this.#after : this.#before).push(reorder);
    });
    this.#args = execArgs(mainArgs);
  }

  #memory(md: Deno.PointerObject): Deno.PointerObject {
    const m = handleOut();
    check(this.#dnnl.lib.dnnl_memory_create(m, md, this.#dnnl.engine, NO_HANDLE), "memory_create");
    return pointerOf(m);
  }

  /** Whether some argument is reordered to or from a layout of the primitive's own. */
  get reorders(): boolean {
    return this.#internal.length > 0;
  }

  /** Binds one data pointer per argument (in the constructor's order) and runs the primitive. */
  execute(pointers: Deno.PointerValue[]): void {
    const dnnl = this.#dnnl;
    const lib = dnnl.lib;
    for (let i = 0; i < pointers.length; i++) {
      check(lib.dnnl_memory_set_data_handle(this.#userMemories[i], pointers[i]), "memory_set_data_handle");
    }
    for (const { memory, slot, bytes } of this.#internal) {
      check(lib.dnnl_memory_set_data_handle(memory, dnnl.scratch(slot, bytes)), "memory_set_data_handle");
    }
    for (const r of this.#before) {
      check(lib.dnnl_primitive_execute(r.primitive, dnnl.stream, 2, r.args), "reorder");
    }
    check(
      lib.dnnl_primitive_execute(this.#primitive, dnnl.stream, this.#args.length / 16, this.#args),
      "primitive_execute",
    );
    for (const r of this.#after) {
      check(lib.dnnl_primitive_execute(r.primitive, dnnl.stream, 2, r.args), "reorder");
    }
  }

  /** Releases the primitive, its reorders and its memory objects. */
  destroy(): void {
    const lib = this.#dnnl.lib;
    for (const m of this.#userMemories) lib.dnnl_memory_destroy(m);
    for (const { memory } of this.#internal) lib.dnnl_memory_destroy(memory);
    for (const p of this.#owned) lib.dnnl_primitive_destroy(p);
    lib.dnnl_primitive_destroy(this.#primitive);
    lib.dnnl_primitive_desc_destroy(this.#pd);
    this.#userMemories = [];
    this.#internal = [];
    this.#owned = [];
    this.#keep = [];
  }
}

/** A loaded oneDNN: engine, stream, descriptor helpers and a primitive cache. */
export class Dnnl {
  /** The raw FFI symbols. */
  readonly lib: DnnlSymbols;
  /** The CPU engine. */
  readonly engine: Deno.PointerObject;
  /** The in-order stream the kernels run on. */
  readonly stream: Deno.PointerObject;
  /** The version loaded. */
  readonly version: DnnlVersion;
  #omp: OmpLib | null;
  #cache = new Map<string, Primitive>();
  #scratch: { bytes: Uint8Array<ArrayBuffer>; pointer: Deno.PointerValue }[] = [];

  /** Creates the engine and stream over loaded symbols (use {@linkcode loadDnnl}). */
  constructor(lib: DnnlSymbols, version: DnnlVersion, omp: OmpLib | null) {
    this.lib = lib;
    this.version = version;
    this.#omp = omp;
    const e = handleOut();
    check(lib.dnnl_engine_create(e, 1, 0n), "engine_create");
    this.engine = pointerOf(e);
    const s = handleOut();
    check(lib.dnnl_stream_create(s, this.engine, 1), "stream_create");
    this.stream = pointerOf(s);
  }

  /** The number of threads oneDNN's parallel regions use. */
  get threads(): number {
    return this.#omp ? this.#omp.omp_get_max_threads() : 1;
  }

  /** Sets the number of threads (OpenMP runtime only; other runtimes keep their own setting). */
  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new Error(`threads must be a positive integer, got ${n}`);
    if (!this.#omp) {
      if (n !== 1 && this.version.runtime === "seq") {
        throw new Error("This oneDNN build is sequential; it runs on one thread.");
      }
      return;
    }
    this.#omp.omp_set_num_threads(n);
  }

  /**
   * A 64-byte aligned scratch buffer of at least `bytes` for slot `slot` (one slot per argument position;
   * primitives run one at a time, so they share the slots). Growing a slot moves it.
   */
  scratch(slot: number, bytes: number): Deno.PointerValue {
    const s = this.#scratch[slot];
    if (s && s.bytes.byteLength >= bytes + 64) return s.pointer;
    const buffer = new Uint8Array(Math.max(bytes, (s?.bytes.byteLength ?? 0) * 1.5 | 0) + 64);
    const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
    const pointer = Deno.UnsafePointer.create(base + ((64n - (base % 64n)) % 64n));
    this.#scratch[slot] = { bytes: buffer, pointer };
    return pointer;
  }

  /** A memory descriptor for `dims` (oneDNN's logical order) in the layout `tag`. */
  md(dims: number[], tag: number): MemoryDesc {
    const md = new Uint8Array(MD_BYTES);
    check(
      this.lib.dnnl_memory_desc_init_by_tag(md, dims.length, this.dims(dims), F32, tag),
      `memory_desc_init_by_tag(${dims})`,
    );
    return md;
  }

  /** A memory descriptor for `dims` with explicit element strides. */
  mdStrides(dims: number[], strides: number[]): MemoryDesc {
    const md = new Uint8Array(MD_BYTES);
    check(
      this.lib.dnnl_memory_desc_init_by_strides(md, dims.length, this.dims(dims), F32, this.dims(strides)),
      `memory_desc_init_by_strides(${dims})`,
    );
    return md;
  }

  /** A `dnnl_dims_t` (int64[12]) holding `values`. */
  dims(values: number[]): BigInt64Array<ArrayBuffer> {
    if (values.length > MAX_DIMS) throw new Error(`oneDNN supports at most ${MAX_DIMS} dimensions.`);
    const d = new BigInt64Array(MAX_DIMS);
    values.forEach((v, i) => d[i] = BigInt(v));
    return d;
  }

  /** A zeroed operation descriptor to be initialised by one of the `*_desc_init` functions. */
  opDesc(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(OP_BYTES);
  }

  /**
   * Creates a primitive descriptor for an initialised operation descriptor, with optional eltwise
   * post-ops (`[alg, alpha, beta]` each) and an optional forward hint (for backward primitives).
   */
  primitiveDesc(
    opDesc: Uint8Array<ArrayBuffer>,
    options: { postOps?: [number, number, number][]; hint?: Deno.PointerObject } = {},
  ): Deno.PointerObject {
    const lib = this.lib;
    let attr: Deno.PointerObject | null = null;
    let ops: Deno.PointerObject | null = null;
    try {
      if (options.postOps?.length) {
        const a = handleOut();
        check(lib.dnnl_primitive_attr_create(a), "primitive_attr_create");
        attr = pointerOf(a);
        const p = handleOut();
        check(lib.dnnl_post_ops_create(p), "post_ops_create");
        ops = pointerOf(p);
        for (const [alg, alpha, beta] of options.postOps) {
          check(lib.dnnl_post_ops_append_eltwise(ops, 1, alg, alpha, beta), "post_ops_append_eltwise");
        }
        check(lib.dnnl_primitive_attr_set_post_ops(attr, ops), "primitive_attr_set_post_ops");
      }
      const out = handleOut();
      check(
        lib.dnnl_primitive_desc_create(out, opDesc, attr, this.engine, options.hint ?? null),
        "primitive_desc_create",
      );
      return pointerOf(out);
    } finally {
      if (ops) lib.dnnl_post_ops_destroy(ops);
      if (attr) lib.dnnl_primitive_attr_destroy(attr);
    }
  }

  /** The implementation name of a primitive descriptor. */
  implInfo(pd: Deno.PointerObject): string {
    const out = handleOut();
    if (this.lib.dnnl_primitive_desc_query(pd, QUERY_IMPL_INFO_STR, 0, out) !== 0) return "unknown";
    const p = Deno.UnsafePointer.create(out[0]);
    return p ? Deno.UnsafePointerView.getCString(p) : "unknown";
  }

  /** Releases a primitive descriptor that was only needed as a hint. */
  destroyDesc(pd: Deno.PointerObject): void {
    this.lib.dnnl_primitive_desc_destroy(pd);
  }

  /** The cached primitive for `key`, created by `make` on first use. */
  cached(key: string, make: () => Primitive): Primitive {
    let p = this.#cache.get(key);
    if (!p) {
      p = make();
      this.#cache.set(key, p);
    }
    return p;
  }

  /** The cached primitives by key with the implementation oneDNN chose for each (for diagnostics). */
  implementations(): Map<string, string> {
    return new Map([...this.#cache].map(([k, p]) => [k, p.impl]));
  }

  /** Destroys every cached primitive. */
  clearCache(): void {
    for (const p of this.#cache.values()) p.destroy();
    this.#cache.clear();
  }
}

/** The outcome of {@linkcode loadDnnl}: the library, or why it cannot be used. */
export type DnnlProbe = { ok: true; dnnl: Dnnl } | { ok: false; reason: string };

let probe: DnnlProbe | null = null;

/** How to get oneDNN, for messages. */
export const INSTALL_HINT = "install oneDNN 2.x (Debian/Ubuntu: `apt-get install libdnnl2`)";

function runtimeName(code: number): string {
  return ({ 1: "seq", 2: "omp", 4: "tbb", 8: "threadpool" } as Record<number, string>)[code] ?? String(code);
}

/**
 * OpenMP's threads spin between parallel regions by default. Between two oneDNN calls the main thread runs
 * TensorFlow.js (and wasm kernels) on its own, so spinning workers only take cores away, and on a machine
 * with other work they make every region wait for a descheduled thread (a training step at 2 threads on a
 * busy 2-core machine measured 21 s spinning, 4 s sleeping). Unless the user chose a policy, threads sleep
 * when idle. Must run before OpenMP loads (it reads the variable once).
 */
function preferPassiveWaiting(): void {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "OMP_WAIT_POLICY" }).state !== "granted") return;
    if (Deno.env.get("OMP_WAIT_POLICY") == null) Deno.env.set("OMP_WAIT_POLICY", "passive");
  } catch {
    // Without env permission OpenMP keeps its default.
  }
}

/**
 * Why a oneDNN version cannot be used, or null when it can (2.x from 2.3 on: the C API with operation
 * descriptors; 3.x replaced it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unsupportedVersion } from "./dnnl.ts";
 * assert.equal(unsupportedVersion({ major: 2, minor: 6, patch: 3, runtime: "omp" }), null);
 * assert.ok(unsupportedVersion({ major: 3, minor: 0, patch: 0, runtime: "omp" })!.includes("3.0.0"));
 * ```
 */
export function unsupportedVersion(version: DnnlVersion): string | null {
  if (version.major === 2 && version.minor >= MIN_MINOR) return null;
  const text = `${version.major}.${version.minor}.${version.patch}`;
  return `oneDNN ${text} is not supported (the native kernels use the C API of oneDNN 2.${MIN_MINOR} to 2.x); ` +
    INSTALL_HINT;
}

/**
 * Opens a oneDNN library and checks its version, without remembering the result; a library that is
 * missing, lacks the symbols or has an unsupported version gives a reason, never an exception.
 *
 * @example
 * ```ts ignore
 * import { openDnnl } from "./dnnl.ts";
 * const probe = openDnnl("libdnnl.so.2");
 * console.log(probe.ok ? "oneDNN ready" : probe.reason);
 * ```
 */
export function openDnnl(path: string): DnnlProbe {
  // Asking first keeps an interactive terminal from prompting for the permission.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return { ok: false, reason: "FFI is not allowed (run with --allow-ffi)" };
  }
  preferPassiveWaiting();
  let library: Deno.DynamicLibrary<typeof DNNL_SYMBOLS>;
  try {
    library = Deno.dlopen(path, DNNL_SYMBOLS);
  } catch (e) {
    const why = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
      ? "FFI is not allowed (run with --allow-ffi)"
      : `${path} did not load (${(e as Error).message.split("\n")[0]})`;
    return { ok: false, reason: `${why}; ${INSTALL_HINT}` };
  }
  const vp = library.symbols.dnnl_version();
  if (vp == null) {
    library.close();
    return { ok: false, reason: `${path} reports no version; ${INSTALL_HINT}` };
  }
  const view = new Deno.UnsafePointerView(vp);
  const version: DnnlVersion = {
    major: view.getInt32(0),
    minor: view.getInt32(4),
    patch: view.getInt32(8),
    runtime: runtimeName(view.getUint32(24)),
  };
  const unsupported = unsupportedVersion(version);
  if (unsupported) {
    library.close();
    return { ok: false, reason: unsupported };
  }
  let omp: OmpLib | null = null;
  if (version.runtime === "omp") {
    try {
      omp = Deno.dlopen(OPENMP, OMP_SYMBOLS).symbols;
    } catch {
      omp = null;
    }
  }
  try {
    return { ok: true, dnnl: new Dnnl(library.symbols, version, omp) };
  } catch (e) {
    library.close();
    return {
      ok: false,
      reason: `oneDNN ${version.major}.${version.minor}.${version.patch} failed to start: ${
        (e as Error).message
      }`,
    };
  }
}

/** The library to load: `$ADA_DF_DNNL` (a path or name) when set, otherwise `libdnnl.so.2`. */
function libraryName(): string {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "ADA_DF_DNNL" }).state === "granted") {
      return Deno.env.get("ADA_DF_DNNL") || LIBRARY;
    }
  } catch {
    // Without env permission: the default name.
  }
  return LIBRARY;
}

/**
 * Loads oneDNN once (with {@linkcode openDnnl}; `$ADA_DF_DNNL` names another build than `libdnnl.so.2`)
 * and remembers the result, library or reason. Needs `--allow-ffi`.
 *
 * @example Report whether oneDNN can be used
 * ```ts ignore
 * import { loadDnnl } from "./dnnl.ts";
 * const probe = loadDnnl();
 * console.log(probe.ok ? `oneDNN ${probe.dnnl.version.major}.${probe.dnnl.version.minor}` : probe.reason);
 * ```
 */
export function loadDnnl(): DnnlProbe {
  probe ??= openDnnl(libraryName());
  return probe;
}
