/**
 * Reading and writing the safetensors format: an 8-byte little-endian header length, a JSON header
 * (`{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`)
 * padded with spaces to a multiple of 8 bytes, then the tensors' little-endian bytes, back to back.
 *
 * The writer lays files out as the reference implementation does (tensors sorted by descending
 * alignment then name, so every tensor is aligned to its element size); the reader validates the
 * header and the offsets as the reference does, and names the file in every error.
 *
 * Reading widens by default: F16, BF16 and F64 become float32 and I64 becomes int32 (an error when a
 * value does not fit); pass `keepDtypes: true` to get every dtype as stored.
 *
 * @example Write then read a checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSafetensors, readSafetensors } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * const tensors = new Map([["fc.weight", { dtype: "float32" as const, shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]]);
 * await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors, { metadata: { epoch: "3" } }));
 * const { tensors: back, metadata } = await readSafetensors(`${dir}/model.safetensors`);
 * assert.equal(back.get("fc.weight")!.data[3], 4);
 * assert.equal(metadata.epoch, "3");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
import {
  bytesOf,
  describe,
  DTYPE_INFO,
  type NamedTensor,
  numelOf,
  type StateDict,
  type TensorData,
  toStored,
  viewAs,
  widen,
} from "./_dtype.ts";
import type { DType } from "./_dtype.ts";
import { readFileBounded } from "./read.ts";

/** The most dimensions a tensor may have. */
const MAX_RANK = 64;

/** JSON of a value from a file, cut to 80 characters for an error message. */
function brief(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export type { DType, NamedTensor, StateDict, TensorData } from "./_dtype.ts";

/** The safetensors dtype code of each {@linkcode DType}. */
const CODE_OF: Record<DType, string> = {
  float64: "F64",
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
  int32: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

const DTYPE_OF: Record<string, DType> = Object.fromEntries(
  Object.entries(CODE_OF).map(([dtype, code]) => [code, dtype as DType]),
);

/** The reference writer's dtype order (ascending alignment); files list tensors in descending order. */
const ALIGNMENT_RANK: Record<DType, number> = {
  bool: 0,
  uint8: 1,
  int8: 2,
  int16: 5,
  float16: 7,
  bfloat16: 8,
  int32: 9,
  float32: 11,
  float64: 12,
  int64: 13,
};

/** The largest header accepted, as in the reference implementation. */
const MAX_HEADER_BYTES = 100_000_000;

/** Options for {@linkcode encodeSafetensors}. */
export interface EncodeSafetensorsOptions {
  /**
   * Free-form string metadata stored in the header's `__metadata__` map, in insertion order.
   *
   * @default {undefined}
   */
  metadata?: Record<string, string>;
}

/** Options for {@linkcode decodeSafetensors} and {@linkcode readSafetensors}. */
export interface DecodeSafetensorsOptions {
  /**
   * What the bytes came from (usually a path), named in every error message.
   *
   * @default {"safetensors data"}
   */
  source?: string;
  /**
   * Return every tensor in its stored dtype (float16/bfloat16 as `Uint16Array` bits, float64 as
   * `Float64Array`, int64 as `BigInt64Array`) instead of widening to float32 and int32.
   *
   * @default {false}
   */
  keepDtypes?: boolean;
  /**
   * The largest file {@linkcode readSafetensors} reads (a larger one, a directory, a FIFO or a
   * device is refused before it is read).
   *
   * @default {2147483648} (2 GiB)
   */
  maxBytes?: number;
}

/** What {@linkcode decodeSafetensors} and {@linkcode readSafetensors} return. */
export interface SafetensorsContents {
  /**
   * The tensors, in the order of their data in the file. No two share memory; from
   * {@linkcode decodeSafetensors} each holds a copy, from {@linkcode readSafetensors} they may be
   * views into the one buffer the file was read into (so do not transfer or detach `data.buffer`).
   */
  tensors: StateDict;
  /** The header's `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
}

function entriesOf(tensors: StateDict | Record<string, NamedTensor>): [string, NamedTensor][] {
  return tensors instanceof Map ? [...tensors] : Object.entries(tensors);
}

/**
 * Serialises named tensors to safetensors bytes, laid out as the reference writer lays them out.
 *
 * `data` may be the stored typed array of the tensor's dtype (see {@linkcode DType}) or any numeric
 * typed array, which is converted: floats are rounded to float16/bfloat16 to nearest even (a
 * `Uint16Array` is taken as raw float16/bfloat16 bits), integer dtypes need integer values in range,
 * and bool stores nonzero as 1.
 *
 * @example Encode two tensors with metadata
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(
 *   new Map([
 *     ["w", { dtype: "float16" as const, shape: [3], data: new Float32Array([0.5, 1, 2]) }],
 *     ["step", { dtype: "int64" as const, shape: [], data: new Int32Array([7]) }],
 *   ]),
 *   { metadata: { format: "pt" } },
 * );
 * const { tensors } = decodeSafetensors(bytes);
 * assert.equal(tensors.get("w")!.dtype, "float32");
 * assert.equal(tensors.get("step")!.data[0], 7);
 * ```
 */
export function encodeSafetensors(
  tensors: StateDict | Record<string, NamedTensor>,
  options: EncodeSafetensorsOptions = {},
): Uint8Array {
  const items = entriesOf(tensors).map(([name, tensor]) => {
    const what = `tensor '${name}'`;
    if (name === "__metadata__") throw new Error(`'__metadata__' is reserved and cannot name a tensor`);
    const { dtype, shape, data } = tensor;
    if (!(dtype in CODE_OF)) throw new Error(`${what}: unknown dtype '${dtype}'`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(
        `${what}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`,
      );
    }
    if (!ArrayBuffer.isView(data)) {
      throw new TypeError(`${what}: data must be a typed array, got ${describe(data)}`);
    }
    const numel = numelOf(shape);
    if (data.length !== numel) {
      throw new Error(`${what}: shape [${shape}] has ${numel} elements but data has ${data.length}`);
    }
    const stored = toStored(dtype, data as TensorData, what);
    return { name, dtype, shape, bytes: bytesOf(stored, DTYPE_INFO[dtype].bytes) };
  });
  items.sort((a, b) =>
    ALIGNMENT_RANK[b.dtype] - ALIGNMENT_RANK[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );

  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) {
    for (const [key, value] of Object.entries(options.metadata)) {
      if (typeof value !== "string") {
        throw new TypeError(`metadata '${key}' must be a string, got ${describe(value)}`);
      }
    }
    header.__metadata__ = options.metadata;
  }
  let offset = 0;
  for (const item of items) {
    const end = offset + item.bytes.length;
    header[item.name] = { dtype: CODE_OF[item.dtype], shape: item.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const item of items) {
    out.set(item.bytes, at);
    at += item.bytes.length;
  }
  return out;
}

interface HeaderEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses safetensors bytes. The header and offsets are validated (every error names `source`):
 * truncated data, a header length beyond the data, a header that is not UTF-8 JSON, an unknown
 * dtype, offsets out of range, overlapping or leaving gaps, or a byte span that does not match
 * shape x dtype size.
 *
 * @example Decode bytes read elsewhere
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ b: { dtype: "float64", shape: [2], data: new Float64Array([0.5, 2]) } });
 * const { tensors } = decodeSafetensors(bytes, { source: "in-memory" });
 * assert.ok(tensors.get("b")!.data instanceof Float32Array);
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  options: DecodeSafetensorsOptions = {},
): SafetensorsContents {
  return decode(bytes, options, false);
}

/** Decodes; with `owned`, tensors may be views into `bytes` (which nothing else holds). */
function decode(bytes: Uint8Array, options: DecodeSafetensorsOptions, owned: boolean): SafetensorsContents {
  const source = options.source ?? "safetensors data";
  const fail = (message: string): never => {
    throw new Error(`${source}: ${message}`);
  };
  if (bytes.length < 8) {
    fail(`truncated: ${bytes.length} bytes, but a safetensors file starts with an 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(bytes.length - 8)) {
    fail(
      `header length ${declared} goes beyond the end of the file (${bytes.length} bytes): ` +
        `truncated, or not a safetensors file`,
    );
  }
  const headerLength = Number(declared);
  if (headerLength > MAX_HEADER_BYTES) {
    fail(`header of ${headerLength} bytes is larger than the 100 MB limit`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    return fail("the header is not valid UTF-8: not a safetensors file");
  }
  if (!text.startsWith("{")) fail(`the header does not start with '{': not a safetensors file`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    return fail(`the header is not valid JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail("the header is not a JSON object");
  }

  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info)) {
        fail("__metadata__ must be a map of strings");
      }
      for (const [key, value] of Object.entries(info as Record<string, unknown>)) {
        if (typeof value !== "string") {
          fail(`__metadata__ '${key}' must be a string, got ${brief(value)}`);
        }
        metadata[key] = value as string;
      }
      continue;
    }
    entries.push(parseEntry(name, info, fail));
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: HeaderEntry | undefined;
  for (const entry of entries) {
    const { name, begin, end } = entry;
    if (end > dataLength) {
      fail(
        `tensor '${name}': data_offsets [${begin}, ${end}] go beyond the data section ` +
          `(${dataLength} bytes): truncated file or bad offsets`,
      );
    }
    if (begin < expected) fail(`tensors '${previous!.name}' and '${name}' overlap (data_offsets)`);
    if (begin > expected) {
      fail(
        `tensor '${name}' starts at byte ${begin} of the data, leaving bytes ${expected}..${begin} unused`,
      );
    }
    expected = end;
    previous = entry;
  }
  if (expected !== dataLength) {
    fail(`the tensors cover ${expected} bytes of data but the data section holds ${dataLength}`);
  }

  const tensors: StateDict = new Map();
  for (const { name, dtype, shape, begin } of entries) {
    const numel = numelOf(shape);
    const view = viewAs(bytes.subarray(dataStart + begin), dtype, numel);
    const stored = owned ? view : view.slice() as TensorData;
    const tensor: NamedTensor = { dtype, shape, data: stored };
    tensors.set(name, options.keepDtypes ? tensor : widen(tensor, `${source}: tensor '${name}'`));
  }
  return { tensors, metadata };
}

function parseEntry(name: string, info: unknown, fail: (message: string) => never): HeaderEntry {
  const what = `tensor '${name}'`;
  if (info === null || typeof info !== "object" || Array.isArray(info)) {
    fail(`${what}: entry is not an object`);
  }
  const { dtype: code, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof code !== "string") fail(`${what}: missing dtype`);
  const dtype = DTYPE_OF[code as string];
  if (dtype === undefined) {
    fail(`${what}: unknown or unsupported dtype '${code}' (supported: ${Object.values(CODE_OF).join(", ")})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`${what}: shape must be an array of non-negative integers, got ${brief(shape)}`);
  }
  if (shape.length > MAX_RANK) fail(`${what}: ${shape.length} dimensions, more than ${MAX_RANK}`);
  if (!Number.isSafeInteger(numelOf(shape))) fail(`${what}: its shape has too many elements`);
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
  ) {
    fail(`${what}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${brief(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  const size = numelOf(shape as number[]) * DTYPE_INFO[dtype].bytes;
  if (end - begin !== size) {
    fail(
      `${what}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, ` +
        `but shape [${shape}] of ${code} needs ${size}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/**
 * Reads a safetensors file (see {@linkcode decodeSafetensors} for the validation and the dtype
 * widening); errors name `path` unless `options.source` says otherwise.
 *
 * @example Read weights and metadata
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSafetensors, readSafetensors } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/w.safetensors`, encodeSafetensors({ w: { dtype: "int32", shape: [1], data: new Int32Array([5]) } }));
 * const { tensors } = await readSafetensors(`${dir}/w.safetensors`);
 * assert.equal(tensors.get("w")!.data[0], 5);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readSafetensors(
  path: string,
  options: DecodeSafetensorsOptions = {},
): Promise<SafetensorsContents> {
  const bytes = await readFileBounded(path, {
    maxBytes: options.maxBytes ?? 2 ** 31,
    what: "safetensors file",
  });
  return decode(bytes, { source: path, ...options }, true);
}
