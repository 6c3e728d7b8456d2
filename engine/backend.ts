/**
 * Picks and initialises the TensorFlow.js backend: one place for the whole library.
 *
 * - `wasm`: XNNPACK through WebAssembly with SIMD; the default on CPU. Trains, thanks to the kernels
 *   of `wasm_kernels.ts`.
 * - `webgpu`: Deno's built-in WebGPU; a real GPU when the machine has one (otherwise a software adapter).
 * - `tensorflow`: `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`, used only when the user has
 *   installed one of them (they download libtensorflow at install time; never a required dependency).
 * - `cpu`: pure JavaScript; slow, the reference for correctness.
 * - `auto`: the fastest available one, with the reason.
 *
 * @module
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import { tf } from "./tf.ts";
import { registerWasmTrainingKernels } from "./wasm_kernels.ts";

/**
 * A backend name, or `auto` to choose.
 *
 * @example Use the pure-JavaScript reference backend
 * ```ts
 * import { type BackendName, initBackend } from "./backend.ts";
 * const name: BackendName = "cpu";
 * const info = await initBackend(name);
 * console.assert(info.name === "cpu");
 * ```
 */
export type BackendName = "auto" | "wasm" | "webgpu" | "tensorflow" | "cpu";

/**
 * The outcome of {@linkcode initBackend}.
 *
 * @example Log which backend runs and why
 * ```ts
 * import { type BackendInfo, initBackend } from "./backend.ts";
 * const info: BackendInfo = await initBackend("cpu");
 * console.log(`backend ${info.name}: ${info.reason}`); // backend cpu: pure JavaScript reference kernels
 * ```
 */
export interface BackendInfo {
  /** The backend now active (`wasm`, `webgpu`, `tensorflow` or `cpu`). */
  name: Exclude<BackendName, "auto">;
  /** Why it was chosen (for `auto`) or what it runs on. */
  reason: string;
}

/**
 * Options of {@linkcode initBackend}.
 *
 * @example Let `auto` choose a software GPU adapter too
 * ```ts
 * import { initBackend, type InitBackendOptions } from "./backend.ts";
 * const options: InitBackendOptions = { allowSoftwareGpu: true };
 * const { name, reason } = await initBackend("auto", options);
 * console.log(name, reason);
 * ```
 */
export interface InitBackendOptions {
  /**
   * With `auto`, whether a software WebGPU adapter (no real GPU) may be chosen over wasm.
   * @default {false}
   */
  allowSoftwareGpu?: boolean;
}

const WASM_PACKAGE = "@tensorflow/tfjs-backend-wasm";

async function initWasm(): Promise<string> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  if (tf.findBackendFactory("wasm") == null) {
    throw new Error("The wasm backend did not register itself.");
  }
  // The .wasm binaries sit beside the package's entry point.
  const entry = import.meta.resolve(WASM_PACKAGE);
  if (entry.startsWith("file:")) {
    wasm.setWasmPaths(new URL(".", entry).pathname);
  }
  registerWasmTrainingKernels();
  if (!(await tf.setBackend("wasm"))) {
    throw new Error(`The wasm backend failed to initialise; is ${WASM_PACKAGE} installed and readable?`);
  }
  return "XNNPACK via WebAssembly SIMD, one thread";
}

interface GpuLike {
  requestAdapter(): Promise<{ info?: { description?: string; vendor?: string; device?: string } } | null>;
}

/**
 * Graphics drivers print an error when `XDG_RUNTIME_DIR` is unset (headless machines, containers);
 * they only check that it is set, so point it at the temporary directory.
 */
function ensureRuntimeDir() {
  try {
    if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", tmpdir());
  } catch {
    // Without env permission the drivers only print a warning.
  }
}

/**
 * A WebGPU adapter as {@linkcode findGpuAdapter} describes it.
 *
 * @example Prefer a real GPU
 * ```ts
 * import { findGpuAdapter, type GpuAdapterInfo } from "./backend.ts";
 * const adapter: GpuAdapterInfo | null = await findGpuAdapter();
 * console.log(adapter && !adapter.software ? "GPU" : "CPU");
 * ```
 */
export interface GpuAdapterInfo {
  /** Vendor, device and description, as the driver reports them. */
  description: string;
  /** Whether it is a software rasteriser (llvmpipe, SwiftShader, lavapipe) rather than a GPU. */
  software: boolean;
}

/**
 * The WebGPU adapter Deno would use, or null when there is none (no `navigator.gpu`, or no adapter).
 *
 * @example
 * ```ts
 * import { findGpuAdapter } from "./backend.ts";
 * const adapter = await findGpuAdapter();
 * console.log(adapter ? `${adapter.description}${adapter.software ? " (software)" : ""}` : "no WebGPU");
 * ```
 */
export async function findGpuAdapter(): Promise<GpuAdapterInfo | null> {
  const gpu = (globalThis.navigator as unknown as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return null;
  ensureRuntimeDir();
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info ?? {};
  const description = [info.vendor, info.device, info.description].filter((s) => s).join(" ") || "unknown";
  const software = /llvmpipe|swiftshader|software|lavapipe/i.test(description);
  return { description, software };
}

async function initWebGpu(): Promise<string> {
  const adapter = await findGpuAdapter();
  if (!adapter) {
    throw new Error(
      "The webgpu backend needs a WebGPU adapter: `navigator.gpu` is missing or found no adapter. " +
        "Run under Deno 2 on a machine with a GPU driver (Vulkan, Metal or D3D12), or use --backend wasm.",
    );
  }
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) throw new Error("The webgpu backend failed to initialise.");
  return `WebGPU adapter: ${adapter.description}${adapter.software ? " (software)" : ""}`;
}

async function initTensorflow(): Promise<string> {
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    // Only a copy the user installed into ./node_modules is used: nothing is downloaded here.
    let entry: string;
    try {
      entry = createRequire(join(Deno.cwd(), "index.js")).resolve(pkg);
    } catch {
      continue;
    }
    await import(pathToFileURL(entry).href);
    if (await tf.setBackend("tensorflow")) return `libtensorflow through ${pkg}`;
  }
  throw new Error(
    "The tensorflow backend needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, which download " +
      "libtensorflow when installed (`npm install @tensorflow/tfjs-node`, with internet access). " +
      "Use --backend wasm otherwise.",
  );
}

async function initCpu(): Promise<string> {
  if (!(await tf.setBackend("cpu"))) throw new Error("The cpu backend failed to initialise.");
  return "pure JavaScript reference kernels";
}

/**
 * Initialises a backend and makes it TensorFlow.js's current one.
 *
 * @example Pick the fastest available backend
 * ```ts ignore
 * import { initBackend } from "./backend.ts";
 * const { name, reason } = await initBackend("auto");
 * console.log(`backend ${name}: ${reason}`);
 * ```
 */
export async function initBackend(
  name: BackendName = "auto",
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  switch (name) {
    case "wasm":
      return { name, reason: await initWasm() };
    case "webgpu":
      return { name, reason: await initWebGpu() };
    case "tensorflow":
      return { name, reason: await initTensorflow() };
    case "cpu":
      return { name, reason: await initCpu() };
    case "auto":
      return await initAuto(options);
    default:
      throw new Error(`Unknown backend '${name}': use auto, wasm, webgpu, tensorflow or cpu.`);
  }
}

async function initAuto(options: InitBackendOptions): Promise<BackendInfo> {
  try {
    const reason = await initTensorflow();
    return { name: "tensorflow", reason: `auto: native TensorFlow is installed (${reason})` };
  } catch { /* not installed */ }
  const adapter = await findGpuAdapter().catch(() => null);
  if (adapter && (!adapter.software || options.allowSoftwareGpu)) {
    try {
      const reason = await initWebGpu();
      return { name: "webgpu", reason: `auto: a GPU is available (${reason})` };
    } catch { /* fall through to wasm */ }
  }
  const why = adapter ? `the only WebGPU adapter is software (${adapter.description})` : "no WebGPU adapter";
  const reason = await initWasm();
  return { name: "wasm", reason: `auto: ${why}; wasm is the fastest CPU backend (${reason})` };
}
