/**
 * Picks and initialises the TensorFlow.js backend: one place for the whole library.
 *
 * - `wasm`: XNNPACK through WebAssembly with SIMD; the default on CPU. Trains, thanks to the kernels
 *   of `wasm_kernels.ts`.
 * - `webgpu`: Deno's built-in WebGPU; a real GPU when the machine has one (otherwise a software adapter).
 * - `tensorflow`: libtensorflow through `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`, used only
 *   when the user has installed one of them into `node_modules` at the version of the library's
 *   `@tensorflow/tfjs` (their install script downloads libtensorflow; never a required dependency), or
 *   through the module named by `$ADA_DF_TFJS_NODE` / {@linkcode InitBackendOptions.tensorflowModule}.
 * - `native`: the wasm backend with its training-hot kernels (convolutions and their gradients, matrix
 *   products, large elementwise ops and reductions) in oneDNN through FFI, on every core; needs oneDNN 2.x
 *   (`apt-get install libdnnl2`, optional). See `native/mod.ts`.
 * - `cpu`: pure JavaScript; slow, the reference for correctness.
 * - `auto`: the fastest available one, with the reason.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import { tf } from "./tf.ts";
import { registerWasmTrainingKernels } from "./wasm_kernels.ts";
import { initNative, probeNative } from "./native/mod.ts";

/** A backend name, or `auto` to choose. */
export type BackendName = "auto" | "wasm" | "webgpu" | "tensorflow" | "native" | "cpu";

/** Every {@linkcode BackendName}, `auto` first: the values a config's `backend` field accepts. */
export const BACKEND_NAMES: readonly BackendName[] = Object.freeze([
  "auto",
  "wasm",
  "webgpu",
  "tensorflow",
  "native",
  "cpu",
]);

/** The outcome of {@linkcode initBackend}. */
export interface BackendInfo {
  /** The backend now active (`wasm`, `webgpu`, `tensorflow`, `native` or `cpu`). */
  name: Exclude<BackendName, "auto">;
  /** Why it was chosen (for `auto`) or what it runs on. */
  reason: string;
  /** CPU threads the kernels run on (`native`: oneDNN's; `wasm` and `cpu`: 1); absent for GPU backends. */
  threads?: number;
}

/** Options of {@linkcode initBackend}. */
export interface InitBackendOptions {
  /**
   * With `auto`, whether a software WebGPU adapter (no real GPU) may be chosen over wasm.
   * @default {false}
   */
  allowSoftwareGpu?: boolean;
  /**
   * Threads of the `native` backend (oneDNN's OpenMP threads); default all cores (or `OMP_NUM_THREADS`).
   * The `wasm` and `cpu` backends run on one thread.
   */
  threads?: number;
  /**
   * The module whose import registers the `tensorflow` backend, as `@tensorflow/tfjs-node` does: an
   * import specifier (`npm:@tensorflow/tfjs-node-gpu@4.22.0`) or a file path (relative to the working
   * directory). It must register on the library's TensorFlow.js, that is, import the same
   * `@tensorflow/tfjs` version. Without it, `$ADA_DF_TFJS_NODE`; without that, `@tensorflow/tfjs-node-gpu`
   * or `@tensorflow/tfjs-node` when a `node_modules` folder at or above the working directory holds it
   * (`auto` imports nothing when none does).
   */
  tensorflowModule?: string;
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

/** A WebGPU adapter as {@linkcode findGpuAdapter} describes it. */
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
 * import assert from "node:assert/strict";
 * import { findGpuAdapter } from "./backend.ts";
 * const adapter = await findGpuAdapter(); // null on a machine without WebGPU
 * if (adapter !== null) assert.equal(typeof adapter.software, "boolean");
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

/** The environment variable that names the module providing the `tensorflow` backend. */
const TENSORFLOW_MODULE_ENV = "ADA_DF_TFJS_NODE";

/** The npm packages that provide the `tensorflow` backend, the GPU build first. */
const TFJS_NODE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];

/** Where the `tensorflow` backend comes from, found without importing anything. */
interface TensorflowSource {
  /** What to import. */
  specifier: string;
  /** How messages name it. */
  label: string;
  /** Whether the user named it (option or environment variable) rather than it being found installed. */
  named: boolean;
  /** Why it cannot be used, when that is known before importing it. */
  problem?: string;
}

/** How to install the `tensorflow` backend; the last part of its error messages. */
function tensorflowInstallHelp(): string {
  const version = tf.version_core;
  return `The tensorflow backend needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node at version ${version} ` +
    `(that of the library's @tensorflow/tfjs, so that both share one TensorFlow.js), installed into ` +
    `node_modules with its install script, which downloads libtensorflow: set "nodeModulesDir": "auto" in ` +
    `deno.json, then run \`deno add npm:@tensorflow/tfjs-node@${version}\` and ` +
    `\`deno install --allow-scripts=npm:@tensorflow/tfjs-node\` (see the README), or name a module that ` +
    `registers it in $${TENSORFLOW_MODULE_ENV}. Use --backend wasm otherwise.`;
}

/** Whether a permission is already granted, so that probing never prompts. */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/** An import specifier for a module the user named: paths become file URLs, specifiers stay. */
function moduleSpecifier(named: string): string {
  // A scheme of two letters or more (npm:, jsr:, file:, https:); one letter is a Windows drive.
  if (/^[a-z][a-z0-9+.-]+:/i.test(named)) return named;
  if (named.startsWith(".") || isAbsolute(named) || /^[a-z]:[\\/]/i.test(named)) {
    return pathToFileURL(resolve(named)).href;
  }
  return named;
}

/**
 * Where the `tensorflow` backend would come from, or null when nothing names or installs it. Reads one
 * environment variable and looks for `node_modules/<package>/package.json` in the working directory and
 * its parents; imports nothing, so `auto` costs a few file lookups when the backend is absent.
 */
function locateTensorflow(options: InitBackendOptions): TensorflowSource | null {
  let named = options.tensorflowModule;
  if (named === undefined && granted({ name: "env", variable: TENSORFLOW_MODULE_ENV })) {
    named = Deno.env.get(TENSORFLOW_MODULE_ENV) || undefined;
  }
  if (named !== undefined) {
    if (named.trim() === "") {
      return { specifier: named, label: "''", named: true, problem: "The tensorflow module name is empty." };
    }
    return { specifier: moduleSpecifier(named), label: named, named: true };
  }
  let dir: string;
  try {
    dir = Deno.cwd();
  } catch {
    return null;
  }
  for (;;) {
    const modules = join(dir, "node_modules");
    const readable = granted({ name: "read", path: modules }) && existsSync(modules);
    for (const pkg of readable ? TFJS_NODE_PACKAGES : []) {
      const manifest = join(modules, pkg, "package.json");
      let text: string;
      try {
        text = Deno.readTextFileSync(manifest);
      } catch {
        continue;
      }
      return installedSource(pkg, manifest, text);
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The source for a package found in `node_modules`, with the problems visible before importing it. */
function installedSource(pkg: string, manifest: string, text: string): TensorflowSource {
  let version: unknown;
  try {
    version = JSON.parse(text).version;
  } catch {
    version = undefined;
  }
  const label = `${pkg}@${version}`;
  if (version !== tf.version_core) {
    const problem =
      `${manifest} is version ${JSON.stringify(version)}, but the library's @tensorflow/tfjs is ` +
      `${tf.version_core}; another version would register on a second copy of TensorFlow.js.`;
    return { specifier: `npm:${pkg}@${version}`, label, named: false, problem };
  }
  const specifier = `npm:${pkg}@${version}`;
  let url: string;
  try {
    url = import.meta.resolve(specifier);
  } catch {
    url = specifier;
  }
  if (!url.includes("/node_modules/")) {
    // With "nodeModulesDir": "none" Deno loads npm packages from its global cache, where install scripts
    // never run (no libtensorflow there), and never reads node_modules.
    const problem = `${manifest} is installed, but Deno resolves ${specifier} to ${url}, outside ` +
      `node_modules, so the copy whose install script ran is not used; set "nodeModulesDir" to "auto" ` +
      `(or "manual") in deno.json.`;
    return { specifier, label, named: false, problem };
  }
  return { specifier, label, named: false };
}

/** The first line of an error's message. */
function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

/** Removes what a failed `tensorflow` module registered: its backend must not stay selectable. */
function forgetTensorflow() {
  if (tf.findBackendFactory("tensorflow") != null) tf.removeBackend("tensorflow");
  for (const kernel of tf.getKernelsForBackend("tensorflow")) {
    tf.unregisterKernel(kernel.kernelName, "tensorflow");
  }
}

/** Imports the source, checks that it registered on the library's TensorFlow.js, and switches to it. */
async function loadTensorflow(source: TensorflowSource): Promise<string> {
  const help = tensorflowInstallHelp();
  if (source.problem) throw new Error(`${source.problem}\n${help}`);
  let module: Record<string, unknown>;
  try {
    module = await import(source.specifier);
  } catch (error) {
    forgetTensorflow(); // tfjs-node registers its kernels before it loads libtensorflow
    throw new Error(`The tensorflow backend could not import ${source.label}: ${firstLine(error)}\n${help}`);
  }
  const core = (module.version as Record<string, unknown> | undefined)?.["tfjs-core"];
  let problem: string | undefined;
  if (typeof core === "string" && core !== tf.version_core) {
    problem = `${source.label} is built on tfjs-core ${core}, but the library uses ${tf.version_core}.`;
  } else if (typeof module.registerBackend === "function" && module.registerBackend !== tf.registerBackend) {
    problem = `${source.label} loaded its own copy of TensorFlow.js, not the library's (with ` +
      `"nodeModulesDir": "none" a package in node_modules is not resolved by Deno).`;
  } else if (tf.findBackendFactory("tensorflow") == null) {
    problem = `${source.label} was imported but registered no backend named 'tensorflow' on the library's ` +
      `TensorFlow.js.`;
  }
  if (problem) {
    forgetTensorflow();
    throw new Error(`${problem}\n${help}`);
  }
  if (!(await tf.setBackend("tensorflow"))) {
    throw new Error(`The tensorflow backend of ${source.label} failed to initialise.\n${help}`);
  }
  return source.named ? `the tensorflow backend of ${source.label}` : `libtensorflow through ${source.label}`;
}

async function initTensorflow(options: InitBackendOptions): Promise<string> {
  const source = locateTensorflow(options);
  if (!source) throw new Error(tensorflowInstallHelp());
  return await loadTensorflow(source);
}

async function initCpu(): Promise<string> {
  // The cpu backend greets Node-like hosts with advice to install tfjs-node on its first write; the
  // library picks its backends itself, so the greeting is turned off where it chooses cpu.
  const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
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
 *
 * @example The reference backend, named
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "./tf.ts";
 * import { initBackend } from "./backend.ts";
 * const info = await initBackend("cpu");
 * assert.equal(info.name, "cpu");
 * assert.equal(tf.getBackend(), "cpu");
 * ```
 */
export async function initBackend(
  name: BackendName = "auto",
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  switch (name) {
    case "wasm":
      return { name, reason: await initWasm(), threads: 1 };
    case "native": {
      const { reason, threads } = await initNative({ threads: options.threads });
      return { name, reason, threads };
    }
    case "webgpu":
      return { name, reason: await initWebGpu() };
    case "tensorflow":
      return { name, reason: await initTensorflow(options) };
    case "cpu":
      return { name, reason: await initCpu(), threads: 1 };
    case "auto":
      return await initAuto(options);
    default:
      throw new Error(`Unknown backend '${name}': use auto, wasm, webgpu, tensorflow, native or cpu.`);
  }
}

async function initAuto(options: InitBackendOptions): Promise<BackendInfo> {
  // Only a tensorflow backend that is named or installed is tried: absent, it costs no import.
  let unusable = "";
  const tensorflow = locateTensorflow(options);
  if (tensorflow) {
    try {
      const reason = await loadTensorflow(tensorflow);
      return { name: "tensorflow", reason: `auto: native TensorFlow is installed (${reason})` };
    } catch (error) {
      // What the user named must work; a broken installation is reported in the reason.
      if (tensorflow.named) throw error;
      unusable = `${tensorflow.label} is installed but unusable (${firstLine(error)}); `;
    }
  }
  const adapter = await findGpuAdapter().catch(() => null);
  if (adapter && (!adapter.software || options.allowSoftwareGpu)) {
    try {
      const reason = await initWebGpu();
      return { name: "webgpu", reason: `auto: ${unusable}a GPU is available (${reason})` };
    } catch { /* fall through to wasm */ }
  }
  const why = adapter ? `the only WebGPU adapter is software (${adapter.description})` : "no WebGPU adapter";
  const native = probeNative();
  let nativeProblem = native.ok ? "" : native.reason;
  if (native.ok) {
    try {
      const { reason, threads } = await initNative({ threads: options.threads });
      return {
        name: "native",
        reason: `auto: ${unusable}${why}; ${native.description} is installed (${reason})`,
        threads,
      };
    } catch (error) {
      // A thread count the user gave that cannot be honoured is their error, not a reason to fall back.
      if (options.threads != null && /threads/.test(firstLine(error))) throw error;
      nativeProblem = `${native.description} is installed but failed (${firstLine(error)})`;
    }
  }
  const reason = await initWasm();
  return {
    name: "wasm",
    reason: `auto: ${unusable}${why}; wasm (${reason}). For the native backend, several times faster on ` +
      `every core: ${nativeProblem}`,
    threads: 1,
  };
}
