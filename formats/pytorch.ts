/**
 * Reading the named tensors of PyTorch checkpoints (`.pth`, `.pt`) and safetensors files without
 * PyTorch and without running any code from the file.
 *
 * The format is recognised from the content: a zip archive (`PK\x03\x04`) is PyTorch's format since
 * 1.6 (`<archive>/data.pkl` plus raw storages in `<archive>/data/<key>`), read with a restricted
 * unpickler that accepts only what a state_dict needs and refuses every other Python global with an
 * error naming it. The legacy pre-1.6 format gets an error with the one-line command that converts
 * it. Anything else that has a `.safetensors` extension or a safetensors header is read as
 * safetensors.
 *
 * What is returned:
 * - The tensors of a flat dict of tensors, or, when the top-level dict holds a nested dict under
 *   `state_dict`, `model_state_dict`, `model` or `net` (searched in that order, repeatedly), the
 *   tensors of that nested dict; other entries (epoch, optimizer state, ...) are ignored.
 * - Names lose a leading `module.` (added by DataParallel); `stripPrefixes` changes that.
 * - Float16, bfloat16 and float64 become float32; int64 (e.g. `num_batches_tracked`) becomes int32,
 *   with an error naming the tensor if a value does not fit. `keepDtypes: true` keeps every dtype.
 * - Views are materialised: storage offsets and strides are honoured, so a transposed tensor comes
 *   back in row-major order and tensors sharing one storage each get their own copy.
 *
 * @example Read a torchvision checkpoint
 * ```ts ignore
 * import { readStateDict } from "./pytorch.ts";
 * const weights = await readStateDict("resnet18_msceleb.pth");
 * console.log(weights.get("layer1.0.conv1.weight")?.shape); // [64, 64, 3, 3]
 * ```
 *
 * @module
 */
import { extname } from "node:path";
import {
  describe,
  DTYPE_INFO,
  type NamedTensor,
  numelOf,
  type StateDict,
  type TensorData,
  viewAs,
  widen,
} from "./_dtype.ts";
import { StorageType, TensorRef, unpickle } from "./_pickle.ts";
import { decodeSafetensors } from "./safetensors.ts";
import { ZipReader } from "./_zip.ts";
import { readFileBounded } from "./read.ts";

/** Options for {@linkcode readStateDict} and {@linkcode decodeStateDict}. */
export interface ReadStateDictOptions {
  /**
   * The top-level key whose nested dict holds the tensors (for example `"state_dict"` or `"ema"`).
   * Unset, a nested `state_dict`, `model_state_dict`, `model` or `net` dict is used when present,
   * otherwise the top-level dict itself.
   *
   * @default {undefined}
   */
  select?: string;
  /**
   * Prefixes removed from the start of every name that has them (repeatedly, so `module.module.x`
   * becomes `x`). Pass `[]` to keep names as stored.
   *
   * @default {["module."]}
   */
  stripPrefixes?: string[];
  /**
   * Keep every tensor in its stored dtype (float16/bfloat16 as `Uint16Array` bits, float64 as
   * `Float64Array`, int64 as `BigInt64Array`) instead of widening to float32 and int32.
   *
   * @default {false}
   */
  keepDtypes?: boolean;
  /**
   * The most bytes the file may hold and its tensors may claim (the file itself, and the sum of the
   * storages it inflates), so that a hostile file is refused before it is read or inflated.
   *
   * @default {2147483648} (2 GiB)
   */
  maxBytes?: number;
}

/** Options for {@linkcode decodeStateDict}: those of {@linkcode readStateDict} plus the source. */
export interface DecodeStateDictOptions extends ReadStateDictOptions {
  /**
   * A file name for error messages; its extension also lets a `.safetensors` file be recognised.
   *
   * @default {"checkpoint"}
   */
  source?: string;
}

const NESTED_KEYS = ["state_dict", "model_state_dict", "model", "net"];
const DEFAULT_MAX_BYTES = 2 ** 31;
/** The most dimensions a tensor may have (PyTorch's own limit). */
const MAX_RANK = 64;
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/**
 * Reads the named tensors of a `.safetensors`, `.pth` or `.pt` file (see the module documentation
 * for what is selected, renamed and converted). Errors name `path`.
 *
 * @example Load a checkpoint's state_dict, keeping DataParallel names
 * ```ts ignore
 * import { readStateDict } from "./pytorch.ts";
 * const weights = await readStateDict("checkpoint.pth", { stripPrefixes: [] });
 * for (const [name, t] of weights) console.log(name, t.dtype, t.shape);
 * ```
 */
export async function readStateDict(path: string, options: ReadStateDictOptions = {}): Promise<StateDict> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const bytes = await readFileBounded(path, { maxBytes, what: "weights file" });
  return decode(bytes, { ...options, source: path }, true);
}

function legacyError(source: string): Error {
  const quoted = /^[^'"\\\n]+$/.test(source);
  const from = quoted ? source : "old.pth";
  const to = quoted ? source.replace(/(\.[^./]*)?$/, (ext) => `.converted${ext || ".pth"}`) : "new.pth";
  return new Error(
    `${source}: this checkpoint uses PyTorch's legacy serialization (before PyTorch 1.6), which is not ` +
      `supported. Convert it once with PyTorch:\n  python -c "import torch; torch.save(torch.load('${from}', ` +
      `map_location='cpu'), '${to}', _use_new_zipfile_serialization=True)"`,
  );
}

function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n <= BigInt(bytes.length - 8) && bytes[8] === 0x7b; // '{'
}

/**
 * Decodes the named tensors of checkpoint bytes held in memory: the synchronous core of
 * {@linkcode readStateDict}, usable where there is no file system.
 *
 * @example Decode a safetensors buffer
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeStateDict } from "./pytorch.ts";
 * import { encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ "module.fc.bias": { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) } });
 * const weights = decodeStateDict(bytes, { source: "weights.safetensors" });
 * assert.ok(weights.has("fc.bias"));
 * ```
 */
export function decodeStateDict(bytes: Uint8Array, options: DecodeStateDictOptions = {}): StateDict {
  return decode(bytes, options, false);
}

/** Decodes; with `owned`, tensors may be views into `bytes` (which nothing else holds). */
function decode(bytes: Uint8Array, options: DecodeStateDictOptions, owned: boolean): StateDict {
  const source = options.source ?? "checkpoint";
  let tensors: StateDict;
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    tensors = readTorchZip(bytes, source, options, owned);
  } else if (
    bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5 && LEGACY_MAGIC.every((b, i) => bytes[2 + i] === b)
  ) {
    throw legacyError(source);
  } else if (bytes.length > 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === "ustar") {
    throw legacyError(source);
  } else if (extname(source).toLowerCase() === ".safetensors" || looksLikeSafetensors(bytes)) {
    tensors = decodeSafetensors(bytes, { source, keepDtypes: options.keepDtypes }).tensors;
  } else if (bytes[0] === 0x80) {
    throw new Error(
      `${source}: a bare pickle stream, not a file written by torch.save; save the state_dict with ` +
        `torch.save (or as safetensors) instead`,
    );
  } else {
    const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new Error(
      `${source}: neither a PyTorch checkpoint (zip) nor a safetensors file (first bytes: ${head || "none"})`,
    );
  }
  return stripPrefixes(tensors, options.stripPrefixes ?? ["module."], source);
}

function stripPrefixes(tensors: StateDict, prefixes: string[], source: string): StateDict {
  if (prefixes.length === 0) return tensors;
  const out: StateDict = new Map();
  const origin = new Map<string, string>();
  for (const [stored, tensor] of tensors) {
    let name = stored;
    for (let changed = true; changed;) {
      changed = false;
      for (const prefix of prefixes) {
        if (prefix && name.startsWith(prefix)) {
          name = name.slice(prefix.length);
          changed = true;
        }
      }
    }
    if (out.has(name)) {
      throw new Error(
        `${source}: '${origin.get(name)}' and '${stored}' both become '${name}' once the prefixes ` +
          `${JSON.stringify(prefixes)} are removed; pass stripPrefixes: [] to keep the stored names`,
      );
    }
    out.set(name, tensor);
    origin.set(name, stored);
  }
  return out;
}

interface StorageRef {
  key: string;
  dtype: NamedTensor["dtype"];
  numel: number;
}

function readTorchZip(
  bytes: Uint8Array,
  source: string,
  options: ReadStateDictOptions,
  owned: boolean,
): StateDict {
  const zip = new ZipReader(bytes, source);
  const names = [...zip.entries.keys()];
  const pickles = names.filter((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
  if (pickles.length === 0) {
    throw new Error(`${source}: a zip archive without data.pkl: not a PyTorch checkpoint`);
  }
  const pkl = pickles.reduce((a, b) => (a.split("/").length <= b.split("/").length ? a : b));
  const prefix = pkl.slice(0, -"data.pkl".length);
  if (zip.entries.has(`${prefix}constants.pkl`) || names.some((n) => n.startsWith(`${prefix}code/`))) {
    throw new Error(
      `${source}: a TorchScript archive (torch.jit.save), not a checkpoint; save model.state_dict() ` +
        `with torch.save instead`,
    );
  }
  let bigEndian = false;
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim();
    if (order !== "little" && order !== "big") throw new Error(`${source}: unknown byteorder '${order}'`);
    bigEndian = order === "big";
  }

  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length !== 5) {
      throw new Error(`${source}: unsupported persistent id ${describe(pid)} in ${pkl}`);
    }
    const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, number];
    if (
      !(type instanceof StorageType) || typeof key !== "string" || !Number.isSafeInteger(numel) || numel < 0
    ) {
      throw new Error(`${source}: malformed storage reference in ${pkl}`);
    }
    const id = `${key}:${type.dtype}`;
    let ref = storages.get(id);
    if (!ref) storages.set(id, ref = { key, dtype: type.dtype, numel });
    return ref;
  };
  const root = unpickle(zip.read(pkl), { source: `${source} (${pkl})`, persistentLoad });

  const data = new Map<string, TensorData>();
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  let budget = maxBytes;
  const storageData = (ref: StorageRef, name: string): TensorData => {
    const id = `${ref.key}:${ref.dtype}`;
    let array = data.get(id);
    if (!array) {
      const entry = `${prefix}data/${ref.key}`;
      if (!zip.entries.has(entry)) {
        throw new Error(
          `${source}: tensor '${name}' refers to storage '${ref.key}', which the archive lacks (${entry})`,
        );
      }
      const size = DTYPE_INFO[ref.dtype].bytes;
      const need = ref.numel * size;
      if (need > budget) {
        throw new Error(
          `${source}: its storages claim more than the ${maxBytes} bytes ` +
            `accepted (storage ${entry}: ${need} bytes); raise maxBytes if the file is trusted`,
        );
      }
      budget -= need;
      const raw = zip.read(entry, need);
      if (raw.length < need) {
        throw new Error(
          `${source}: storage ${entry} holds ${raw.length} bytes, but ${ref.numel} ${ref.dtype} elements need ` +
            `${need}`,
        );
      }
      array = viewAs(raw, ref.dtype, ref.numel, bigEndian);
      data.set(id, array);
    }
    return array;
  };

  const selected = selectTensors(root, options.select, source);
  const uses = new Map<unknown, number>();
  for (const [, ref] of selected) uses.set(ref.storage, (uses.get(ref.storage) ?? 0) + 1);
  const out: StateDict = new Map();
  for (const [name, ref] of selected) {
    if (!(ref.storage instanceof Object) || !("key" in ref.storage)) {
      throw new Error(`${source}: tensor '${name}' has no storage`);
    }
    const storage = ref.storage as StorageRef;
    checkView(ref, storage.numel, `${source}: tensor '${name}'`);
    // Zero or overlapping strides (expand()) make more elements than the storage holds: the copy
    // counts against the same limit as the storages.
    const numel = numelOf(ref.size);
    if (numel > storage.numel) {
      const bytes = numel * DTYPE_INFO[storage.dtype].bytes;
      if (bytes > budget) {
        throw new Error(
          `${source}: tensor '${name}' expands a storage of ${storage.numel} elements to ${numel} (strides ` +
            `${JSON.stringify(ref.stride)}), more than the ${maxBytes} bytes accepted`,
        );
      }
      budget -= bytes;
    }
    // A tensor that alone covers a whole storage of a file read here can keep a view of its bytes.
    const mayView = owned && uses.get(storage) === 1;
    const native: NamedTensor = {
      dtype: storage.dtype,
      shape: ref.size,
      data: materialise(ref, storageData(storage, name), `${source}: tensor '${name}'`, mayView),
    };
    out.set(name, options.keepDtypes ? native : widen(native, `${source}: tensor '${name}'`));
  }
  return out;
}

/**
 * The elements of a strided view in row-major order: a new array of the storage's type, or the
 * storage itself when `mayView` and the tensor covers it exactly.
 */
/**
 * Checks a strided view against its storage before anything is read or allocated: a sane rank, a
 * safe element count, non-negative strides, and its last element inside the storage.
 */
function checkView(ref: TensorRef, storageNumel: number, what: string): void {
  const { offset, size, stride } = ref;
  if (size.length > MAX_RANK) throw new Error(`${what}: ${size.length} dimensions, more than ${MAX_RANK}`);
  const numel = numelOf(size);
  if (!Number.isSafeInteger(numel)) throw new Error(`${what}: its shape has too many elements`);
  if (numel === 0) return;
  let last = offset;
  for (let d = 0; d < size.length; d++) {
    if (stride[d] < 0) throw new Error(`${what}: negative stride ${stride[d]}`);
    last += (size[d] - 1) * stride[d];
  }
  if (!Number.isSafeInteger(last) || last >= storageNumel) {
    throw new Error(`${what}: reads element ${last} of a storage of ${storageNumel} elements`);
  }
}

function materialise(ref: TensorRef, storage: TensorData, what: string, mayView: boolean): TensorData {
  const { offset, size, stride } = ref;
  const numel = numelOf(size);
  const ctor = storage.constructor as { new (length: number): TensorData };
  if (numel === 0) return new ctor(0);
  checkView(ref, storage.length, what);
  let contiguous = true;
  for (let d = size.length - 1, expected = 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) contiguous = false;
    expected *= size[d];
  }
  if (contiguous) {
    return mayView && offset === 0 && numel === storage.length
      ? storage
      : storage.slice(offset, offset + numel);
  }
  const out = new ctor(numel) as { [i: number]: number | bigint };
  const src = storage as unknown as { [i: number]: number | bigint };
  const rank = size.length;
  const index = new Array<number>(rank).fill(0);
  let at = offset;
  for (let i = 0; i < numel; i++) {
    out[i] = src[at];
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      at += stride[d];
      if (index[d] < size[d]) break;
      at -= stride[d] * size[d];
      index[d] = 0;
    }
  }
  return out as unknown as TensorData;
}

function pyType(value: unknown): string {
  if (value === null) return "None";
  if (value instanceof Map) return "dict";
  if (value instanceof TensorRef) return "tensor";
  if (Array.isArray(value)) return "list";
  if (typeof value === "string") return "str";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  return typeof value;
}

function selectTensors(root: unknown, select: string | undefined, source: string): [string, TensorRef][] {
  if (root instanceof TensorRef) {
    throw new Error(`${source}: the file holds a single tensor, not a dict of named tensors`);
  }
  if (!(root instanceof Map)) {
    throw new Error(
      `${source}: the file holds a ${pyType(root)}, not a dict of named tensors (a state_dict)`,
    );
  }
  const keys = (map: Map<unknown, unknown>): string =>
    [...map].slice(0, 20).map(([k, v]) => `${String(k)} (${pyType(v)})`).join(", ") +
    (map.size > 20 ? `, ... (${map.size} entries)` : "");
  let current: Map<unknown, unknown> = root;
  const path: string[] = [];
  if (select !== undefined) {
    const chosen = root.get(select);
    if (!(chosen instanceof Map)) {
      throw new Error(
        `${source}: no dict under the key '${select}'; the top-level entries are: ${keys(root)}`,
      );
    }
    current = chosen;
    path.push(select);
  } else {
    for (let depth = 0; depth < 4; depth++) {
      const key = NESTED_KEYS.find((k) => current.get(k) instanceof Map);
      if (key === undefined) break;
      current = current.get(key) as Map<unknown, unknown>;
      path.push(key);
    }
  }
  const found: [string, TensorRef][] = [];
  for (const [key, value] of current) {
    if (value instanceof TensorRef) found.push([String(key), value]);
  }
  if (found.length === 0) {
    const where = path.length ? `under '${path.join(".")}'` : "at the top level";
    throw new Error(
      `${source}: no tensors ${where}; its entries are: ${keys(current)}. Pass select: '<key>' to choose ` +
        `the dict that holds the weights`,
    );
  }
  return found;
}
