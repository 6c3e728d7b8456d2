/**
 * Element types shared by the safetensors and PyTorch readers: sizes, typed-array views over raw
 * little-endian bytes, half-precision conversions and the default widening to float32/int32.
 *
 * @module
 */

/**
 * The element types a {@linkcode NamedTensor} can hold, named as in PyTorch.
 *
 * | dtype | typed array in `data` |
 * | --- | --- |
 * | `float32` | `Float32Array` |
 * | `float64` | `Float64Array` |
 * | `float16`, `bfloat16` | `Uint16Array` of raw bit patterns |
 * | `int64` | `BigInt64Array` |
 * | `int32` | `Int32Array` |
 * | `int16` | `Int16Array` |
 * | `int8` | `Int8Array` |
 * | `uint8` | `Uint8Array` |
 * | `bool` | `Uint8Array` of 0 and 1 |
 */
export type DType =
  | "float64"
  | "float32"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** The typed arrays that hold a tensor's elements (see {@linkcode DType} for which goes with which). */
export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** A tensor as plain data: its element type, its shape (row-major, C order) and its elements. */
export interface NamedTensor {
  /** The element type; it decides which typed array `data` is (see {@linkcode DType}). */
  dtype: DType;
  /** The size of each dimension; `[]` for a scalar. */
  shape: number[];
  /** The elements in row-major order; its length is the product of `shape`. */
  data: TensorData;
}

/**
 * Named tensors in insertion order, keyed by PyTorch state_dict names such as
 * `layer2.0.conv1.weight`.
 */
export type StateDict = Map<string, NamedTensor>;

type ArrayCtor = {
  new (length: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
};

/** Bytes per element and the typed array that holds the stored form of each dtype. */
export const DTYPE_INFO: Record<DType, { bytes: number; array: ArrayCtor }> = {
  float64: { bytes: 8, array: Float64Array },
  float32: { bytes: 4, array: Float32Array },
  float16: { bytes: 2, array: Uint16Array },
  bfloat16: { bytes: 2, array: Uint16Array },
  int64: { bytes: 8, array: BigInt64Array },
  int32: { bytes: 4, array: Int32Array },
  int16: { bytes: 2, array: Int16Array },
  int8: { bytes: 1, array: Int8Array },
  uint8: { bytes: 1, array: Uint8Array },
  bool: { bytes: 1, array: Uint8Array },
};

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The number of elements of a shape (1 for a scalar). */
export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * A typed array of `count` elements of `dtype` over `bytes` (little-endian unless `bigEndian`). It
 * is a view into `bytes` where alignment and byte order allow, otherwise an aligned copy.
 */
export function viewAs(bytes: Uint8Array, dtype: DType, count: number, bigEndian = false): TensorData {
  const { bytes: size, array } = DTYPE_INFO[dtype];
  const byteLength = count * size;
  if (byteLength > bytes.length) throw new RangeError(`need ${byteLength} bytes, have ${bytes.length}`);
  const swap = size > 1 && bigEndian === HOST_LITTLE_ENDIAN;
  if (!swap && bytes.byteOffset % size === 0) return new array(bytes.buffer, bytes.byteOffset, count);
  const copy = bytes.slice(0, byteLength);
  if (swap) {
    for (let i = 0; i < byteLength; i += size) {
      for (let a = i, b = i + size - 1; a < b; a++, b--) {
        const t = copy[a];
        copy[a] = copy[b];
        copy[b] = t;
      }
    }
  }
  return new array(copy.buffer, 0, count);
}

/** The little-endian bytes of a typed array (a view where the host is little-endian). */
export function bytesOf(data: TensorData, size: number): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE_ENDIAN || size === 1) return view;
  const copy = view.slice();
  for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  return copy;
}

let halfTable: Float32Array | undefined;

/** Float16 bit patterns to float32 values (exact: every float16 is a float32). */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >>> 10) & 0x1f;
      const mant = h & 0x3ff;
      halfTable[h] = exp === 0
        ? sign * mant * 2 ** -24
        : exp === 31
        ? (mant ? NaN : sign * Infinity)
        : sign * (1 + mant / 1024) * 2 ** (exp - 15);
    }
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfTable[bits[i]];
  return out;
}

/** Bfloat16 bit patterns to float32 values (exact: bfloat16 is the top half of a float32). */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return out;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** One number to float16 bits, rounding to nearest even; overflow gives infinity, NaN stays NaN. */
export function toFloat16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal float16 (or zero): the value is m * 2^-24 with m = (1.mant) * 2^(e - 14 + 23).
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    let r = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) r++; // a carry into the exponent is correct
  return sign | r;
}

/** One number to bfloat16 bits, rounding to nearest even as PyTorch does; NaN stays NaN. */
export function toBfloat16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Converts tensor data of any dtype to the stored typed array of `dtype`, for writing. Floats are
 * rounded to the target (float16/bfloat16 to nearest even); a `Uint16Array` given for float16 or
 * bfloat16 is taken as raw bits. Integer targets need integer values in range; bool stores nonzero
 * as 1. `what` names the tensor in errors.
 */
export function toStored(dtype: DType, data: TensorData | ArrayLike<number>, what: string): TensorData {
  const n = data.length;
  const isBig = data instanceof BigInt64Array;
  const num = (i: number): number => Number((data as ArrayLike<number | bigint>)[i]);
  switch (dtype) {
    case "float32":
      return data instanceof Float32Array ? data : Float32Array.from({ length: n }, (_, i) => num(i));
    case "float64":
      return data instanceof Float64Array ? data : Float64Array.from({ length: n }, (_, i) => num(i));
    case "float16":
    case "bfloat16": {
      if (data instanceof Uint16Array) return data;
      const out = new Uint16Array(n);
      const f = dtype === "float16" ? toFloat16Bits : toBfloat16Bits;
      for (let i = 0; i < n; i++) out[i] = f(num(i));
      return out;
    }
    case "int64": {
      if (isBig) return data;
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = num(i);
        if (!Number.isSafeInteger(v)) {
          throw new RangeError(`${what}: element ${i} (${v}) is not an int64 value`);
        }
        out[i] = BigInt(v);
      }
      return out;
    }
    case "bool": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = num(i) ? 1 : 0;
      return out;
    }
    default: {
      const { array } = DTYPE_INFO[dtype];
      if (data instanceof array) return data;
      const out = new array(n) as Int32Array | Int16Array | Int8Array | Uint8Array;
      const min = dtype === "uint8" ? 0 : -(2 ** (8 * DTYPE_INFO[dtype].bytes - 1));
      const max = dtype === "uint8" ? 255 : 2 ** (8 * DTYPE_INFO[dtype].bytes - 1) - 1;
      for (let i = 0; i < n; i++) {
        const v = num(i);
        if (!Number.isInteger(v) || v < min || v > max) {
          throw new RangeError(`${what}: element ${i} (${v}) is not an ${dtype} value`);
        }
        out[i] = v;
      }
      return out;
    }
  }
}

/**
 * The default widening applied when reading: float16, bfloat16 and float64 become float32 and int64
 * becomes int32 (an error names `what` when a value does not fit). Other dtypes are returned as is.
 */
export function widen(tensor: NamedTensor, what: string): NamedTensor {
  const { dtype, shape, data } = tensor;
  switch (dtype) {
    case "float16":
      return { dtype: "float32", shape, data: float16ToFloat32(data as Uint16Array) };
    case "bfloat16":
      return { dtype: "float32", shape, data: bfloat16ToFloat32(data as Uint16Array) };
    case "float64":
      return { dtype: "float32", shape, data: Float32Array.from(data as Float64Array) };
    case "int64": {
      const src = data as BigInt64Array;
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        if (v > 2147483647n || v < -2147483648n) {
          throw new RangeError(
            `${what}: int64 element ${i} (${v}) does not fit in int32; read with keepDtypes: true to get a BigInt64Array`,
          );
        }
        out[i] = Number(v);
      }
      return { dtype: "int32", shape, data: out };
    }
    default:
      return tensor;
  }
}

/** A short description of a value's type, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "object";
}
