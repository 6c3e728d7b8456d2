/**
 * Test helper: PyTorch checkpoints written by hand (zip archives and pickle opcodes), as an attacker or
 * a corrupt file would write them.
 *
 * @module
 */
import { deflateRawSync } from "node:zlib";
import { crc32 } from "../formats/_zip.ts";

/** A zip archive, entries stored (or deflated), optionally with zip64 records and fields. */
export function makeZip(
  entries: [string, Uint8Array | string][],
  deflate = false,
  zip64 = false,
): Uint8Array {
  const encoder = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const [name, content] of entries) {
    const data = typeof content === "string" ? encoder.encode(content) : content;
    const stored = deflate ? new Uint8Array(deflateRawSync(data)) : data;
    const nameBytes = encoder.encode(name);
    const local = new Uint8Array(30 + nameBytes.length + stored.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, deflate ? 8 : 0, true);
    lv.setUint32(14, crc32(data), true);
    lv.setUint32(18, stored.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    local.set(stored, 30 + nameBytes.length);
    const central = new Uint8Array(46 + nameBytes.length + (zip64 ? 28 : 0));
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, 45, true);
    cv.setUint16(10, deflate ? 8 : 0, true);
    cv.setUint32(16, crc32(data), true);
    cv.setUint32(20, zip64 ? 0xffffffff : stored.length, true);
    cv.setUint32(24, zip64 ? 0xffffffff : data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, zip64 ? 0xffffffff : offset, true);
    central.set(nameBytes, 46);
    if (zip64) {
      // The zip64 extra field: size, compressed size, local header offset.
      const at = 46 + nameBytes.length;
      cv.setUint16(30, 28, true);
      cv.setUint16(at, 0x0001, true);
      cv.setUint16(at + 2, 24, true);
      cv.setBigUint64(at + 4, BigInt(data.length), true);
      cv.setBigUint64(at + 12, BigInt(stored.length), true);
      cv.setBigUint64(at + 20, BigInt(offset), true);
    }
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const directorySize = centrals.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(zip64 ? 56 + 20 + 22 : 22);
  const ev = new DataView(end.buffer);
  let eocd = 0;
  if (zip64) {
    ev.setUint32(0, 0x06064b50, true);
    ev.setBigUint64(4, 44n, true);
    ev.setBigUint64(24, BigInt(entries.length), true);
    ev.setBigUint64(32, BigInt(entries.length), true);
    ev.setBigUint64(40, BigInt(directorySize), true);
    ev.setBigUint64(48, BigInt(offset), true);
    ev.setUint32(56, 0x07064b50, true);
    ev.setBigUint64(64, BigInt(offset + directorySize), true);
    ev.setUint32(72, 1, true);
    eocd = 76;
  }
  ev.setUint32(eocd, 0x06054b50, true);
  ev.setUint16(eocd + 8, zip64 ? 0xffff : entries.length, true);
  ev.setUint16(eocd + 10, zip64 ? 0xffff : entries.length, true);
  ev.setUint32(eocd + 12, zip64 ? 0xffffffff : directorySize, true);
  ev.setUint32(eocd + 16, zip64 ? 0xffffffff : offset, true);
  const out = new Uint8Array(offset + directorySize + end.length);
  let at = 0;
  for (const part of [...locals, ...centrals, end]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Pickle opcodes written by hand, as an attacker (or a corrupt file) would. */
export const P = {
  str: (s: string): number[] => {
    const bytes = new TextEncoder().encode(s);
    return [0x58, ...new Uint8Array(new Uint32Array([bytes.length]).buffer), ...bytes];
  },
  global: (
    module: string,
    name: string,
  ): number[] => [0x63, ...new TextEncoder().encode(`${module}\n${name}\n`)],
  int: (n: number): number[] => [0x4a, ...new Uint8Array(new Int32Array([n]).buffer)],
  tuple: (...items: number[][]): number[] => [0x28, ...items.flat(), 0x74],
  /** `_rebuild_tensor_v2(storage(key, numel), offset, size, stride, False, OrderedDict())`. */
  tensor: (
    key: string,
    storage: string,
    numel: number,
    offset: number,
    size: number[],
    stride: number[],
  ): number[] => [
    ...P.global("torch._utils", "_rebuild_tensor_v2"),
    ...P.tuple(
      [
        ...P.tuple(P.str("storage"), P.global("torch", storage), P.str(key), P.str("cpu"), P.int(numel)),
        0x51,
      ],
      P.int(offset),
      P.tuple(...size.map(P.int)),
      P.tuple(...stride.map(P.int)),
      [0x89],
      [...P.global("collections", "OrderedDict"), 0x29, 0x52],
    ),
    0x52,
  ],
  /** `{name: value, ...}` as a whole pickle. */
  dict: (items: [string, number[]][]): Uint8Array =>
    new Uint8Array([0x80, 0x02, 0x7d, 0x28, ...items.flatMap(([k, v]) => [...P.str(k), ...v]), 0x75, 0x2e]),
};

export function torchZip(pickle: Uint8Array, storages: Record<string, ArrayBufferView> = {}): Uint8Array {
  return makeZip([
    ["archive/data.pkl", pickle],
    ...Object.entries(storages).map(([key, view]): [string, Uint8Array] => [
      `archive/data/${key}`,
      new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
    ]),
    ["archive/version", "3\n"],
  ]);
}
