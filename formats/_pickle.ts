/**
 * A restricted unpickler for PyTorch state_dicts. It interprets the opcodes that `torch.save` emits
 * (pickle protocols 2 to 5, binary forms only) and builds plain JavaScript values; the only globals
 * it accepts are the containers, tensor rebuild functions, storage classes and dtypes a state_dict
 * needs. Any other global is refused with an error naming it: nothing in a file is ever executed.
 *
 * Python values become: dict and OrderedDict -> `Map`, list and tuple -> `Array`, str -> `string`,
 * bytes -> `Uint8Array`, int -> `number` (`bigint` beyond 2^53), float -> `number`, bool, None ->
 * `null`, tensors -> {@linkcode TensorRef} (materialised later by the caller).
 *
 * @module
 */
import type { DType } from "./_dtype.ts";

/** A storage class such as `torch.FloatStorage`, as named in a persistent id. */
export class StorageType {
  /** Creates the marker for a storage class holding `dtype` elements. */
  constructor(readonly name: string, readonly dtype: DType) {}
}

/** A dtype object such as `torch.float32`. */
export class TorchDtype {
  /** Creates the marker for the dtype named `name` (`float32`, `int64`, ...). */
  constructor(readonly name: string) {}
}

/** A tensor as `_rebuild_tensor_v2` describes it: a view (offset, size, stride) into a storage. */
export class TensorRef {
  /** Creates a view of `storage` (whatever the persistent-id resolver returned). */
  constructor(
    readonly storage: unknown,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

/** Options of {@linkcode unpickle}. */
export interface UnpickleOptions {
  /** Names the pickle in errors (a file path and entry). */
  source: string;
  /** Resolves a persistent id (BINPERSID); absent, persistent ids are an error. */
  persistentLoad?: (pid: unknown) => unknown;
}

type Handler = (args: unknown[], fail: (message: string) => never) => unknown;

/** An allowed global: a callable (REDUCE/NEWOBJ applies `call`) or a plain value. */
class Global {
  constructor(readonly qualifiedName: string, readonly call?: Handler, readonly value?: unknown) {}
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: "float32",
  DoubleStorage: "float64",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

const TORCH_DTYPES = [
  "float32",
  "float",
  "float64",
  "double",
  "float16",
  "half",
  "bfloat16",
  "int64",
  "long",
  "int32",
  "int",
  "int16",
  "short",
  "int8",
  "uint8",
  "bool",
];

/**
 * A short JSON-like rendering of an unpickled value for error messages. It stops after 80 characters,
 * so its cost is bounded whatever the value: shared or cyclic structure (a list holding the same list
 * twice, 40 levels deep) is never expanded.
 */
function show(value: unknown): string {
  const limit = 80;
  let text = "";
  const visit = (v: unknown, depth: number): void => {
    if (text.length > limit) return;
    if (Array.isArray(v)) {
      if (depth > 8) {
        text += "[...]";
        return;
      }
      text += "[";
      for (let i = 0; i < v.length && text.length <= limit; i++) {
        if (i > 0) text += ",";
        visit(v[i], depth + 1);
      }
      text += "]";
    } else if (typeof v === "string") {
      text += JSON.stringify(v.length > limit ? v.slice(0, limit) : v);
    } else if (v instanceof Map) {
      text += `{dict of ${v.size}}`;
    } else if (v === null || v === undefined || typeof v !== "object") {
      text += String(v);
    } else {
      text += `<${(v as object).constructor?.name ?? "object"}>`;
    }
  };
  visit(value, 0);
  return text.length > limit ? `${text.slice(0, limit - 3)}...` : text;
}

function isIntList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isSafeInteger(v));
}

function rebuildTensor(args: unknown[], fail: (message: string) => never): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) {
    fail(`tensor storage offset ${show(offset)} is invalid`);
  }
  if (!isIntList(size) || size.some((d) => d < 0)) fail(`tensor size ${show(size)} is invalid`);
  if (!isIntList(stride) || stride.length !== size.length) {
    fail(`tensor stride ${show(stride)} does not match size ${show(size)}`);
  }
  return new TensorRef(storage, offset as number, size, stride);
}

function buildGlobals(): Map<string, Global> {
  const globals = new Map<string, Global>();
  const callable = (name: string, call: Handler) => globals.set(name, new Global(name, call));
  callable("collections.OrderedDict", (args, fail) => {
    const map = new Map<unknown, unknown>();
    if (args.length === 0) return map;
    if (args.length === 1 && Array.isArray(args[0])) {
      for (const pair of args[0]) {
        if (!Array.isArray(pair) || pair.length !== 2) fail("OrderedDict() takes (key, value) pairs");
        map.set(pair[0], pair[1]);
      }
      return map;
    }
    return fail("OrderedDict() with these arguments is not supported");
  });
  callable("torch._utils._rebuild_tensor", (args, fail) => {
    if (args.length !== 4) fail(`_rebuild_tensor takes 4 arguments, got ${args.length}`);
    return rebuildTensor(args, fail);
  });
  callable("torch._utils._rebuild_tensor_v2", (args, fail) => {
    if (args.length < 6 || args.length > 7) {
      fail(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
    }
    return rebuildTensor(args, fail);
  });
  callable("torch._utils._rebuild_parameter", (args, fail) => {
    if (args.length !== 3 || !(args[0] instanceof TensorRef)) {
      fail("_rebuild_parameter needs (tensor, bool, hooks)");
    }
    return args[0];
  });
  callable("torch._utils._rebuild_parameter_with_state", (args, fail) => {
    if (args.length !== 4 || !(args[0] instanceof TensorRef)) {
      fail("_rebuild_parameter_with_state needs (tensor, bool, hooks, state)");
    }
    return args[0];
  });
  callable("torch.Size", (args, fail) => {
    if (args.length !== 1 || !isIntList(args[0])) fail("torch.Size() needs a tuple of ints");
    return args[0];
  });
  // Python 3 bytes pickled with protocol 2 arrive as _codecs.encode(text, "latin1").
  callable("_codecs.encode", (args, fail) => {
    const [text, encoding] = args;
    if (typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) {
      fail("_codecs.encode is only accepted as encode(str, 'latin1')");
    }
    return Uint8Array.from(text as string, (c) => c.charCodeAt(0));
  });
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) {
    globals.set(`torch.${name}`, new Global(`torch.${name}`, undefined, new StorageType(name, dtype)));
  }
  for (const name of TORCH_DTYPES) {
    globals.set(`torch.${name}`, new Global(`torch.${name}`, undefined, new TorchDtype(name)));
  }
  return globals;
}

const ALLOWED = buildGlobals();

const OPCODE_NAMES: Record<number, string> = {
  0x69: "INST",
  0x6f: "OBJ",
  0x92: "NEWOBJ_EX",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x50: "PERSID",
  0x49: "INT",
  0x4c: "LONG",
  0x46: "FLOAT",
  0x53: "STRING",
  0x56: "UNICODE",
  0x70: "PUT",
  0x67: "GET",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

function describeValue(value: unknown): string {
  if (value === null) return "None";
  if (value instanceof Map) return "dict";
  if (Array.isArray(value)) return "list/tuple";
  if (value instanceof Global) return `global ${value.qualifiedName}`;
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

/**
 * Interprets a pickle stream with the restricted set of opcodes and globals described in the
 * module documentation, returning the unpickled value.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const { source } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 = new TextDecoder("latin1");
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let pos = 0;
  let opStart = 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const fail = (message: string): never => {
    throw new Error(`${source}: ${message} (pickle byte ${opStart})`);
  };
  const need = (n: number): void => {
    if (pos + n > bytes.length) fail("the pickle is truncated");
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++];
  };
  const u16 = (): number => {
    need(2);
    pos += 2;
    return view.getUint16(pos - 2, true);
  };
  const u32 = (): number => {
    need(4);
    pos += 4;
    return view.getUint32(pos - 4, true);
  };
  const i32 = (): number => {
    need(4);
    pos += 4;
    return view.getInt32(pos - 4, true);
  };
  const u64 = (): number => {
    need(8);
    pos += 8;
    const value = view.getBigUint64(pos - 8, true);
    if (value > BigInt(bytes.length)) fail("a length field is larger than the pickle");
    return Number(value);
  };
  const take = (n: number): Uint8Array => {
    if (n < 0) fail("negative length");
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const text = (n: number): string => {
    try {
      return utf8.decode(take(n));
    } catch {
      return fail("a string is not valid UTF-8");
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail("the pickle is truncated (unterminated GLOBAL)");
    const value = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return value;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) {
      fail("stack underflow: the pickle is corrupt");
    }
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail("stack underflow: the pickle is corrupt");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) return fail("no MARK on the stack: the pickle is corrupt");
    return stack.splice(mark);
  };
  const long = (data: Uint8Array): number | bigint => {
    if (data.length === 0) return 0;
    let value = 0n;
    for (let i = data.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(data[i]);
    if (data[data.length - 1] & 0x80) value -= 1n << BigInt(8 * data.length);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  };
  const findGlobal = (module: string, name: string): unknown => {
    const qualified = `${module}.${name}`;
    const allowed = ALLOWED.get(qualified);
    if (!allowed) {
      fail(
        `refuses the global '${
          qualified.length > 100 ? `${qualified.slice(0, 97)}...` : qualified
        }': only the containers, tensors and storages of a state_dict ` +
          `are read, and loading never runs code from a file. If the file holds a whole pickled model or ` +
          `other Python objects, save model.state_dict() with torch.save instead`,
      );
    }
    return allowed!.call ? allowed : allowed!.value;
  };
  const apply = (callable: unknown, args: unknown): unknown => {
    if (!(callable instanceof Global) || !callable.call) {
      return fail(`cannot call ${describeValue(callable)}`);
    }
    if (!Array.isArray(args)) return fail(`arguments of ${callable.qualifiedName} are not a tuple`);
    return callable.call(args, (message) => fail(`${callable.qualifiedName}: ${message}`));
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) fail(`SETITEMS on ${describeValue(target)}, not a dict`);
    if (items.length % 2) fail("SETITEMS with an odd number of items");
    for (let i = 0; i < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target)) fail(`APPENDS on ${describeValue(target)}, not a list`);
    for (const item of items) (target as unknown[]).push(item);
  };
  const memoGet = (index: number): unknown => {
    if (!memo.has(index)) fail(`memo entry ${index} is undefined: the pickle is corrupt`);
    return memo.get(index);
  };

  while (true) {
    opStart = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const protocol = u8();
        if (protocol > 5) fail(`unsupported pickle protocol ${protocol}`);
        break;
      }
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail("the pickle ends with a malformed stack");
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x64: { // DICT
        const map = new Map();
        setItems(map, popMark());
        stack.push(map);
        break;
      }
      case 0x6c: // LIST
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1.decode(take(i32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(long(take(u8())));
        break;
      case 0x8b: { // LONG4
        const length = i32();
        if (length > 1024) fail(`an integer of ${length} bytes is too large for a state_dict`);
        stack.push(long(take(length)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: { // APPEND
        const value = pop();
        appendItems(top(), [value]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x63: { // GLOBAL
        const module = line();
        stack.push(findGlobal(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(findGlobal(module as string, name as string));
        break;
      }
      case 0x52: // REDUCE
      case 0x81: { // NEWOBJ
        const args = pop();
        const callable = pop();
        stack.push(apply(callable, args));
        break;
      }
      case 0x62: { // BUILD
        pop(); // the state
        const target = top();
        // An OrderedDict from state_dict() carries a `_metadata` attribute, which is not needed.
        if (!(target instanceof Map) && !(target instanceof TensorRef)) {
          fail(`BUILD (setting the state of an object) is not supported on ${describeValue(target)}`);
        }
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) {
          fail("the pickle refers to external data (persistent id) that is not available");
        }
        stack.push(options.persistentLoad!(pid));
        break;
      }
      default: {
        const name = OPCODE_NAMES[op];
        fail(
          `unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}` +
            (name ? ` (${name})` : ` ('${String.fromCharCode(op)}')`) +
            `: not a state_dict saved by torch.save, or a corrupt file`,
        );
      }
    }
  }
}
