/**
 * The `native` backend: TensorFlow.js's wasm backend (a separate instance, with its own heap) whose
 * training-hot kernels run in oneDNN (`libdnnl.so.2`) through Deno FFI, on all cores (OpenMP).
 * Every other kernel is the wasm backend's own (XNNPACK, WebAssembly SIMD).
 *
 * oneDNN is optional: {@linkcode probeNative} says whether it can be used and, when not, how to get it.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { registerWasmTrainingKernels } from "../wasm_kernels.ts";
import { INSTALL_HINT, loadDnnl } from "./dnnl.ts";
import { type KernelFunction, NATIVE_KERNEL_NAMES, nativeKernels } from "./kernels.ts";

const WASM_PACKAGE = "@tensorflow/tfjs-backend-wasm";
/** The TensorFlow.js backend name. */
export const NATIVE_BACKEND = "native";

/**
 * Whether the native backend can run here: oneDNN loads and is a supported 2.x.
 *
 * @example Explain why native is not available
 * ```ts ignore
 * import { probeNative } from "./mod.ts";
 * const probe = probeNative();
 * console.log(probe.ok ? probe.description : probe.reason);
 * ```
 */
export function probeNative(): { ok: true; description: string } | { ok: false; reason: string } {
  const probe = loadDnnl();
  if (!probe.ok) return probe;
  const v = probe.dnnl.version;
  return { ok: true, description: `oneDNN ${v.major}.${v.minor}.${v.patch} (${v.runtime})` };
}

/** Options of {@linkcode initNative}. */
export interface NativeOptions {
  /** oneDNN's thread count; default: all cores (OpenMP's default, or `OMP_NUM_THREADS`). */
  threads?: number;
}

/** What {@linkcode initNative} set up. */
export interface NativeInfo {
  /** A sentence for logs: library, version, threads, kernels. */
  reason: string;
  /** The thread count oneDNN runs with. */
  threads: number;
}

async function ensureWasmFactory(): Promise<void> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  if (tf.findBackendFactory("wasm") == null) throw new Error("The wasm backend did not register itself.");
  const entry = import.meta.resolve(WASM_PACKAGE);
  if (entry.startsWith("file:")) {
    try {
      wasm.setWasmPaths(new URL(".", entry).pathname);
    } catch {
      // Already initialised with its paths set.
    }
  }
}

let registered = false;

/** Registers the `native` backend: every wasm kernel, with the oneDNN ones in place of the hot kernels. */
function registerNativeBackend(): void {
  if (registered) return;
  const probe = loadDnnl();
  if (!probe.ok) throw new Error(probe.reason);
  registerWasmTrainingKernels();
  const wasmFactory = tf.findBackendFactory("wasm");
  if (wasmFactory == null) throw new Error("The wasm backend is not registered.");
  tf.registerBackend(NATIVE_BACKEND, async () => await wasmFactory(), 0);
  const wasmKernels = new Map(tf.getKernelsForBackend("wasm").map((k) => [k.kernelName, k]));
  const fallbacks = new Map([...wasmKernels].map(([name, k]) => [name, k.kernelFunc as KernelFunction]));
  const kernels = nativeKernels(probe.dnnl, fallbacks);
  const native = new Set<string>(NATIVE_KERNEL_NAMES);
  for (const config of wasmKernels.values()) {
    // The wasm kernel's setup (binding its WebAssembly functions to the instance) still runs, so that it
    // can serve as the fallback of the native kernel.
    const kernelFunc = native.has(config.kernelName)
      ? kernels[config.kernelName as (typeof NATIVE_KERNEL_NAMES)[number]] as tf.KernelFunc
      : config.kernelFunc;
    tf.registerKernel({ ...config, backendName: NATIVE_BACKEND, kernelFunc });
  }
  for (const kernelName of NATIVE_KERNEL_NAMES) {
    if (tf.getKernel(kernelName, NATIVE_BACKEND) == null) {
      const kernelFunc = kernels[kernelName] as tf.KernelFunc;
      tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc });
    }
  }
  registered = true;
}

/**
 * Loads oneDNN, registers the `native` backend and makes it TensorFlow.js's current one. Throws, with
 * the reason and how to install oneDNN, when the library is missing or unsupported.
 *
 * @example Train on every core
 * ```ts ignore
 * import { initNative } from "./mod.ts";
 * const { reason, threads } = await initNative({ threads: 2 });
 * console.log(reason, threads);
 * ```
 */
export async function initNative(options: NativeOptions = {}): Promise<NativeInfo> {
  const probe = loadDnnl();
  if (!probe.ok) throw new Error(`The native backend needs oneDNN: ${probe.reason}`);
  await ensureWasmFactory();
  registerNativeBackend();
  if (options.threads != null) probe.dnnl.setThreads(options.threads);
  if (!(await tf.setBackend(NATIVE_BACKEND))) throw new Error("The native backend failed to initialise.");
  const v = probe.dnnl.version;
  const threads = probe.dnnl.threads;
  return {
    threads,
    reason:
      `oneDNN ${v.major}.${v.minor}.${v.patch} through FFI (${v.runtime}, ${threads} thread${
        threads === 1 ? "" : "s"
      }) for convolutions and their gradients, matrix products, large elementwise ops, reductions and ` +
      `inference BatchNorm; other kernels XNNPACK via WebAssembly SIMD`,
  };
}

/**
 * Sets oneDNN's thread count (the native backend must be loadable).
 *
 * @example
 * ```ts ignore
 * import { setNativeThreads } from "./mod.ts";
 * setNativeThreads(1);
 * ```
 */
export function setNativeThreads(threads: number): void {
  const probe = loadDnnl();
  if (!probe.ok) throw new Error(probe.reason);
  probe.dnnl.setThreads(threads);
}

/**
 * The implementation oneDNN chose per cached primitive (key: kernel and shape), for diagnostics.
 *
 * @example
 * ```ts ignore
 * import { nativeImplementations } from "./mod.ts";
 * for (const [key, impl] of nativeImplementations()) console.log(key, impl);
 * ```
 */
export function nativeImplementations(): Map<string, string> {
  const probe = loadDnnl();
  return probe.ok ? probe.dnnl.implementations() : new Map();
}

export { INSTALL_HINT };
