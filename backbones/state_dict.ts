/**
 * Loading named tensors (from {@linkcode readStateDict} or a safetensors file) into a model's
 * parameters by name, with a report of what was loaded, what is missing, what was unexpected and
 * which shapes did not match. PyTorch's BatchNorm step counters (`*.num_batches_tracked`) are accepted
 * and skipped where the model has no parameter of that name, so a model's own `state_dict()` loads
 * strictly.
 *
 * The model side is a minimal interface, {@linkcode ParameterTarget}: a shape and an `assign`
 * method per parameter name, so any model representation can adapt to it.
 *
 * @example Load weights into two parameters and read the report
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatLoadReport, loadIntoParameters, type ParameterTarget } from "./state_dict.ts";
 * const values = new Map<string, Float32Array>();
 * const param = (name: string, shape: number[]): [string, ParameterTarget] => [
 *   name,
 *   { shape, assign: (data) => values.set(name, data.slice()) },
 * ];
 * const params = new Map([param("fc.weight", [2, 2]), param("fc.bias", [2])]);
 * const weights = new Map([["fc.weight", { dtype: "float32" as const, shape: [2, 2], data: new Float32Array(4) }]]);
 * const report = loadIntoParameters(params, weights);
 * assert.deepEqual(report.loaded, ["fc.weight"]);
 * assert.deepEqual(report.missing, ["fc.bias"]);
 * assert.match(formatLoadReport(report), /^Loaded 1 of 2 model parameters/);
 * ```
 *
 * @module
 */
import { bfloat16ToFloat32, float16ToFloat32, type NamedTensor } from "../formats/_dtype.ts";

/**
 * One parameter of a model as {@linkcode loadIntoParameters} sees it.
 *
 * `assign` receives the new values in row-major order as a `Float32Array` of `shape`'s element
 * count. Treat the array as read-only: the same array may be handed to several parameters when a
 * name map sends one tensor to several names (copy it, e.g. into a tensor, if it is kept).
 */
export interface ParameterTarget {
  /** The parameter's shape, compared exactly with the file tensor's shape. */
  readonly shape: readonly number[];
  /** Replaces the parameter's values. */
  assign(data: Float32Array): void;
}

/** A parameter whose shape differs from the file tensor that maps to it. */
export interface ShapeMismatch {
  /** The model parameter's name. */
  name: string;
  /** The file tensor's name (the same as `name` unless a name map renamed it). */
  source: string;
  /** The model parameter's shape. */
  expected: number[];
  /** The file tensor's shape. */
  got: number[];
}

/** What {@linkcode loadIntoParameters} did, by name. */
export interface LoadReport {
  /** Model parameters that received values, in model order. */
  loaded: string[];
  /** Model parameters that no file tensor maps to, in model order. */
  missing: string[];
  /** File tensors that map to no model parameter, in file order. */
  unexpected: string[];
  /** Parameters left untouched because the shapes differ. */
  mismatched: ShapeMismatch[];
  /**
   * File tensors deliberately left out: those the name map drops (mapped to `null`) and PyTorch's
   * BatchNorm step counters (`*.num_batches_tracked`) that no model parameter takes.
   */
  skipped: string[];
  /** How many tensors the file had. */
  fileTensors: number;
}

/**
 * Renames file tensors to model parameter names: a record (names it lacks keep their name) or a
 * function (`undefined` keeps the name). A string array loads one tensor into several parameters
 * (e.g. both branches of a dual-branch model); `null` drops the tensor.
 */
export type NameMap =
  | Record<string, string | string[] | null>
  | ((name: string) => string | string[] | null | undefined);

/** Options for {@linkcode loadIntoParameters}. */
export interface LoadOptions {
  /**
   * Throw, before assigning anything, when a parameter is missing (unless `optional` allows it), a file
   * tensor is unexpected or a shape differs; the error lists them (names and shapes, grouped and
   * capped) and names `source`.
   *
   * @default {false}
   */
  strict?: boolean;
  /**
   * Model parameters that may stay missing under `strict`, e.g. new classifier heads that a backbone
   * checkpoint cannot have. They are still listed as missing in the report.
   *
   * @default {undefined} (every parameter is required)
   */
  optional?: (name: string) => boolean;
  /**
   * Where the tensors came from (a file name), put in front of the strict error.
   *
   * @default {undefined}
   */
  source?: string;
  /**
   * Renames file tensors to model names (see {@linkcode NameMap}).
   *
   * @default {undefined}
   */
  map?: NameMap;
  /**
   * Converts each file tensor before its shape is compared and its values assigned, e.g.
   * {@linkcode torchToTfLayout} for a model that keeps TensorFlow.js layouts. Receives the file
   * tensor's name. Reported shape mismatches show the converted shape.
   *
   * @default {undefined}
   */
  transform?: (tensor: NamedTensor, name: string) => NamedTensor;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function toFloat32(tensor: NamedTensor): Float32Array {
  const { dtype, data } = tensor;
  if (data instanceof Float32Array) return data;
  if (dtype === "float16") return float16ToFloat32(data as Uint16Array);
  if (dtype === "bfloat16") return bfloat16ToFloat32(data as Uint16Array);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  return out;
}

function targetsOf(map: NameMap | undefined, name: string): string[] | null {
  let mapped: string | string[] | null | undefined;
  if (typeof map === "function") mapped = map(name);
  else if (map && Object.hasOwn(map, name)) mapped = map[name];
  if (mapped === undefined) return [name];
  if (mapped === null) return null;
  return typeof mapped === "string" ? [mapped] : mapped;
}

/**
 * Assigns named tensors to the model parameters of the same (or mapped) names and reports the
 * outcome. Tensors of any dtype are converted to float32. A parameter whose shape differs is left
 * untouched and reported; with `strict`, any missing, unexpected or mismatched name throws before
 * anything is assigned. Two file tensors mapped to one parameter always throw.
 *
 * @example Initialise both branches from one backbone checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadIntoParameters, type ParameterTarget } from "./state_dict.ts";
 * const assigned: string[] = [];
 * const params = new Map<string, ParameterTarget>(
 *   ["a.layer4.0.conv1.weight", "b.layer4.0.conv1.weight"].map((n) => [n, { shape: [1], assign: () => assigned.push(n) }]),
 * );
 * const weights = new Map([["layer4.0.conv1.weight", { dtype: "float32" as const, shape: [1], data: new Float32Array(1) }]]);
 * const report = loadIntoParameters(params, weights, {
 *   strict: true,
 *   map: (name) => [`a.${name}`, `b.${name}`],
 * });
 * assert.equal(report.loaded.length, 2);
 * assert.equal(assigned.length, 2);
 * ```
 */
export function loadIntoParameters(
  params: ReadonlyMap<string, ParameterTarget>,
  stateDict: ReadonlyMap<string, NamedTensor> | Record<string, NamedTensor>,
  options: LoadOptions = {},
): LoadReport {
  const entries = stateDict instanceof Map ? [...stateDict] : Object.entries(stateDict);
  const plan: { target: string; tensor: NamedTensor }[] = [];
  const sourceOf = new Map<string, string>();
  const unexpected: string[] = [];
  const skipped: string[] = [];
  const mismatched: ShapeMismatch[] = [];
  for (const [name, stored] of entries) {
    const targets = targetsOf(options.map, name);
    if (targets === null) {
      skipped.push(name);
      continue;
    }
    const tensor = options.transform && targets.some((t) => params.has(t))
      ? options.transform(stored, name)
      : stored;
    let matched = false;
    for (const target of targets) {
      const param = params.get(target);
      if (!param) continue;
      matched = true;
      const previous = sourceOf.get(target);
      if (previous !== undefined) {
        throw new Error(`both '${previous}' and '${name}' map to the parameter '${target}'`);
      }
      sourceOf.set(target, name);
      if (sameShape(param.shape, tensor.shape)) {
        plan.push({ target, tensor });
      } else {
        mismatched.push({ name: target, source: name, expected: [...param.shape], got: [...tensor.shape] });
      }
    }
    if (!matched) {
      // PyTorch's BatchNorm step counters have no counterpart here (momentum is fixed, as by default).
      if (name === "num_batches_tracked" || name.endsWith(".num_batches_tracked")) skipped.push(name);
      else unexpected.push(name);
    }
  }
  const missing = [...params.keys()].filter((name) => !sourceOf.has(name));
  const report: LoadReport = {
    loaded: [],
    missing,
    unexpected,
    mismatched,
    skipped,
    fileTensors: entries.length,
  };
  const required = options.optional ? missing.filter((name) => !options.optional!(name)) : missing;
  if (options.strict && (required.length || unexpected.length || mismatched.length)) {
    const where = options.source === undefined ? "" : `${options.source}: `;
    const allowed = missing.length - required.length;
    throw new Error(
      `${where}the weights do not match the model; nothing was loaded` +
        (allowed ? ` (${allowed} missing parameters are new heads the file need not have)` : "") +
        `.\n${formatLoadReport(report)}`,
    );
  }
  const converted = new Map<NamedTensor, Float32Array>();
  const planned = new Set(plan.map((p) => p.target));
  for (const { target, tensor } of plan) {
    let data = converted.get(tensor);
    if (!data) converted.set(tensor, data = toFloat32(tensor));
    params.get(target)!.assign(data);
  }
  report.loaded = [...params.keys()].filter((name) => planned.has(name));
  return report;
}

/**
 * Groups dotted names compactly: names that share a parent module are joined as
 * `parent.{a, b}`, and parents with the same set of leaves as `{p1, p2}.leaf`.
 */
function groupNames(names: string[]): string[] {
  const leavesOf = new Map<string, string[]>();
  for (const name of names) {
    const dot = name.lastIndexOf(".");
    const parent = dot < 0 ? "" : name.slice(0, dot);
    const leaf = name.slice(dot + 1);
    const leaves = leavesOf.get(parent);
    if (leaves) leaves.push(leaf);
    else leavesOf.set(parent, [leaf]);
  }
  const groups = new Map<string, { parents: string[]; leaves: string[] }>();
  for (const [parent, leaves] of leavesOf) {
    const key = `${parent === "" ? "root" : "child"}:${leaves.join(",")}`;
    const group = groups.get(key);
    if (group) group.parents.push(parent);
    else groups.set(key, { parents: [parent], leaves });
  }
  const braces = (items: string[]): string => (items.length === 1 ? items[0] : `{${items.join(", ")}}`);
  return [...groups.values()].map(({ parents, leaves }) => {
    const count = parents.length * leaves.length;
    const text = parents[0] === "" ? leaves.join(", ") : `${braces(parents)}.${braces(leaves)}`;
    return count > 1 && parents[0] !== "" ? `${text} (${count})` : text;
  });
}

/** Indents a line by two spaces, breaking it after commas into lines of about `width` characters. */
function wrap(line: string, width: number): string[] {
  const out: string[] = [];
  let current = " ";
  for (const part of line.split(/(?<=, )/)) {
    if (current.length + part.length > width && current.trim()) {
      out.push(current.trimEnd());
      current = "   ";
    }
    current += part;
  }
  out.push(current);
  return out.map((l) => ` ${l}`);
}

/** The most lines a section of {@linkcode formatLoadReport} prints. */
const MAX_SECTION_LINES = 20;

/**
 * Formats a {@linkcode LoadReport} for people: a summary line with the counts, then the missing,
 * unexpected, mismatched and skipped names, grouped by module (`layer1.0.bn1.{weight, bias}`,
 * `{bn1, layer1.0.bn1}.num_batches_tracked`), each section capped at 20 lines.
 *
 * @example Print what a checkpoint import did
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatLoadReport } from "./state_dict.ts";
 * const text = formatLoadReport({
 *   loaded: ["conv1.weight"],
 *   missing: ["fc.weight", "fc.bias"],
 *   unexpected: ["bn1.num_batches_tracked"],
 *   mismatched: [],
 *   skipped: [],
 *   fileTensors: 2,
 * });
 * assert.ok(text.includes("fc.{weight, bias}"));
 * ```
 */
export function formatLoadReport(report: LoadReport): string {
  const { loaded, missing, unexpected, mismatched, skipped } = report;
  const total = loaded.length + missing.length + new Set(mismatched.map((m) => m.name)).size;
  const lines = [
    `Loaded ${loaded.length} of ${total} model parameters from ${report.fileTensors} file ` +
    `tensor${report.fileTensors === 1 ? "" : "s"} ` +
    `(${missing.length} missing, ${unexpected.length} unexpected, ${mismatched.length} shape ` +
    `mismatch${mismatched.length === 1 ? "" : "es"}` +
    `${skipped.length ? `, ${skipped.length} skipped` : ""}).`,
  ];
  const section = (title: string, names: string[]) => {
    if (names.length === 0) return;
    lines.push(`${title} (${names.length}):`);
    const wrapped = groupNames(names).flatMap((line) => wrap(line, 100));
    lines.push(...wrapped.slice(0, MAX_SECTION_LINES));
    if (wrapped.length > MAX_SECTION_LINES) {
      lines.push(`  ... ${wrapped.length - MAX_SECTION_LINES} more lines`);
    }
  };
  section("Missing: model parameters the file does not have", missing);
  section("Unexpected: file tensors the model does not have", unexpected);
  if (mismatched.length) {
    lines.push(`Shape mismatches, left unchanged (${mismatched.length}):`);
    for (const m of mismatched.slice(0, MAX_SECTION_LINES)) {
      const from = m.source === m.name ? "" : ` (from '${m.source}')`;
      lines.push(`  ${m.name}: model [${m.expected.join(", ")}], file [${m.got.join(", ")}]${from}`);
    }
    if (mismatched.length > MAX_SECTION_LINES) {
      lines.push(`  ... ${mismatched.length - MAX_SECTION_LINES} more`);
    }
  }
  section("Skipped by the name map", skipped);
  return lines.join("\n");
}

/**
 * Reorders a tensor's axes (like PyTorch's `permute` followed by `contiguous`): dimension `i` of the
 * result is dimension `axes[i]` of `tensor`. The data is copied into row-major order.
 *
 * @example Transpose a 2x3 matrix
 * ```ts
 * import assert from "node:assert/strict";
 * import { permuteTensor } from "./state_dict.ts";
 * const t = permuteTensor({ dtype: "float32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, [1, 0]);
 * assert.equal(t.shape.join(), "3,2");
 * assert.equal([...t.data].join(), "1,4,2,5,3,6");
 * ```
 */
export function permuteTensor(tensor: NamedTensor, axes: readonly number[]): NamedTensor {
  const { shape, data } = tensor;
  const rank = shape.length;
  if (axes.length !== rank || [...axes].sort((a, b) => a - b).some((a, i) => a !== i)) {
    throw new Error(
      `permuteTensor: axes [${axes}] are not a permutation of the ${rank} dimensions of [${shape}]`,
    );
  }
  const strides = new Array<number>(rank);
  for (let d = rank - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  const outShape = axes.map((a) => shape[a]);
  const outStrides = axes.map((a) => strides[a]);
  const out = new (data.constructor as { new (n: number): typeof data })(data.length);
  const src = data as unknown as { [i: number]: number | bigint };
  const dst = out as unknown as { [i: number]: number | bigint };
  const index = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < data.length; i++) {
    dst[i] = src[at];
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      at += outStrides[d];
      if (index[d] < outShape[d]) break;
      at -= outStrides[d] * outShape[d];
      index[d] = 0;
    }
  }
  return { dtype: tensor.dtype, shape: outShape, data: out };
}

/**
 * Converts a tensor from PyTorch's layout to TensorFlow.js's, by rank: a 4-D convolution kernel
 * `[out, in, kh, kw]` becomes `[kh, kw, in, out]`, a 2-D linear weight `[out, in]` becomes
 * `[in, out]`, anything else is returned as is. Use it as `transform` of
 * {@linkcode loadIntoParameters} for a model that keeps TensorFlow.js layouts.
 *
 * @example A 1x1 convolution kernel with 2 output and 3 input channels
 * ```ts
 * import assert from "node:assert/strict";
 * import { torchToTfLayout } from "./state_dict.ts";
 * const t = torchToTfLayout({ dtype: "float32", shape: [2, 3, 1, 1], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
 * assert.equal(t.shape.join(), "1,1,3,2");
 * assert.equal([...t.data].join(), "1,4,2,5,3,6");
 * ```
 */
export function torchToTfLayout(tensor: NamedTensor): NamedTensor {
  const rank = tensor.shape.length;
  return rank === 4
    ? permuteTensor(tensor, [2, 3, 1, 0])
    : rank === 2
    ? permuteTensor(tensor, [1, 0])
    : tensor;
}

/**
 * Converts a tensor from TensorFlow.js's layout to PyTorch's, by rank (the inverse of
 * {@linkcode torchToTfLayout}): `[kh, kw, in, out]` becomes `[out, in, kh, kw]` and `[in, out]`
 * becomes `[out, in]`; anything else is returned as is.
 *
 * @example Back to PyTorch's layout
 * ```ts
 * import assert from "node:assert/strict";
 * import { tfToTorchLayout } from "./state_dict.ts";
 * const t = tfToTorchLayout({ dtype: "float32", shape: [3, 3, 16, 32], data: new Float32Array(3 * 3 * 16 * 32) });
 * assert.equal(t.shape.join(), "32,16,3,3");
 * ```
 */
export function tfToTorchLayout(tensor: NamedTensor): NamedTensor {
  const rank = tensor.shape.length;
  return rank === 4
    ? permuteTensor(tensor, [3, 2, 0, 1])
    : rank === 2
    ? permuteTensor(tensor, [1, 0])
    : tensor;
}
