/**
 * Reads the single value of a NumPy `.npy` file (AffectNet's `<id>_exp.npy` annotations hold one
 * label, stored as a string such as `'3'` (dtype `<U1`) or as an integer).
 *
 * @module
 */
import { DatasetError } from "./types.ts";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/**
 * Parses a `.npy` file that holds exactly one element (a 0-d array or any shape of size 1) and
 * returns it. Supported dtypes: unicode strings (`U`), byte strings (`S`), signed and unsigned
 * integers of 1-8 bytes, floats of 4 or 8 bytes, booleans; either byte order. Anything else (object
 * arrays, which are pickled) fails with a {@linkcode DatasetError} naming `file`.
 */
export function readNpyScalar(bytes: Uint8Array, file: string): number | string {
  const fail = (message: string): never => {
    throw new DatasetError(`not a readable .npy file: ${message}`, { file });
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail("missing the \\x93NUMPY magic");
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail("truncated header");
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported format version ${major}`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) fail("truncated header");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, dataStart),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined || fortran === undefined) {
    fail(`malformed header ${JSON.stringify(header.trim())}`);
  }
  const dims = shapeText!.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  if (dims.some((d) => !Number.isInteger(d)) || count !== 1) {
    fail(`expected a single value, found shape (${shapeText})`);
  }
  const match = /^([<>|=])([a-zA-Z])(\d*)$/.exec(descr!);
  if (!match) return fail(`unsupported dtype '${descr}'`);
  const [, order, kind, sizeText] = match;
  if (kind === "O") fail("object arrays (pickled Python objects) are not supported");
  if (sizeText === "") fail(`unsupported dtype '${descr}'`);
  const size = Number(sizeText);
  const little = order !== ">";
  const need = kind === "U" ? 4 * size : size;
  if (dataStart + need > bytes.length) fail(`truncated data (dtype '${descr}')`);
  const at = dataStart;
  switch (kind) {
    case "U": {
      let text = "";
      for (let i = 0; i < size; i++) {
        const code = view.getUint32(at + 4 * i, little);
        if (code === 0) break;
        text += String.fromCodePoint(code);
      }
      return text;
    }
    case "S":
    case "a": {
      let end = at;
      while (end < at + size && bytes[end] !== 0) end++;
      return new TextDecoder("latin1").decode(bytes.subarray(at, end));
    }
    case "b":
      if (size === 1) return bytes[at] !== 0 ? 1 : 0;
      break;
    case "i":
      if (size === 1) return view.getInt8(at);
      if (size === 2) return view.getInt16(at, little);
      if (size === 4) return view.getInt32(at, little);
      if (size === 8) return Number(view.getBigInt64(at, little));
      break;
    case "u":
      if (size === 1) return view.getUint8(at);
      if (size === 2) return view.getUint16(at, little);
      if (size === 4) return view.getUint32(at, little);
      if (size === 8) return Number(view.getBigUint64(at, little));
      break;
    case "f":
      if (size === 4) return view.getFloat32(at, little);
      if (size === 8) return view.getFloat64(at, little);
      break;
  }
  return fail(`unsupported dtype '${descr}'`);
}
