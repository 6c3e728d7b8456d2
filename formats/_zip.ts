/**
 * A minimal zip reader for PyTorch checkpoints: it reads the central directory (zip64 included),
 * returns stored entries as views and inflates deflated ones with `node:zlib`, checking sizes and
 * CRC-32 checksums. Inflation is bounded before it starts: never past an entry's declared size, never
 * past what the caller will accept, and never for a declared size that deflate could not produce from
 * the stored bytes (a zip bomb). Every error names the file.
 *
 * @module
 */
import { inflateRawSync } from "node:zlib";

/** One file of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  /** The path inside the archive. */
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  /** The CRC-32 of the uncompressed bytes. */
  crc32: number;
  /** The size of the stored (possibly compressed) bytes. */
  compressedSize: number;
  /** The size of the uncompressed bytes. */
  size: number;
  /** Where the entry's local header starts. */
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Deflate's largest expansion: 258 bytes from a 2-bit code, about 1032:1. */
const MAX_DEFLATE_RATIO = 1032;

let crcTables: Int32Array | undefined;

/** The CRC-32 (IEEE) of some bytes, eight bytes per step ("slicing by 8"). */
export function crc32(bytes: Uint8Array): number {
  if (!crcTables) {
    crcTables = new Int32Array(256 * 8);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTables[n] = c;
    }
    for (let n = 0; n < 256; n++) {
      for (let t = 1; t < 8; t++) {
        const previous = crcTables[(t - 1) * 256 + n];
        crcTables[t * 256 + n] = crcTables[previous & 0xff] ^ (previous >>> 8);
      }
    }
  }
  const T = crcTables;
  const n = bytes.length;
  const end = n - (n % 8);
  let crc = -1;
  let i = 0;
  for (; i < end; i += 8) {
    const a = crc ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    crc = T[1792 + (a & 0xff)] ^ T[1536 + ((a >>> 8) & 0xff)] ^ T[1280 + ((a >>> 16) & 0xff)] ^
      T[1024 + (a >>> 24)] ^ T[768 + bytes[i + 4]] ^ T[512 + bytes[i + 5]] ^ T[256 + bytes[i + 6]] ^
      T[bytes[i + 7]];
  }
  for (; i < n; i++) crc = T[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** The entries of a zip archive held in memory. */
export class ZipReader {
  /** The entries by name, in central-directory order. */
  readonly entries: Map<string, ZipEntry> = new Map();
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #source: string;

  /** Parses the central directory of `bytes`; `source` names the file in errors. */
  constructor(bytes: Uint8Array, source: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#source = source;
    this.#readDirectory();
  }

  #fail(message: string): never {
    throw new Error(`${this.#source}: ${message}`);
  }

  #u16(at: number): number {
    return this.#view.getUint16(at, true);
  }

  #u32(at: number): number {
    return this.#view.getUint32(at, true);
  }

  #u64(at: number): number {
    const value = this.#view.getBigUint64(at, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.#fail("zip64 field too large");
    return Number(value);
  }

  #readDirectory(): void {
    const length = this.#bytes.length;
    let eocd = -1;
    for (let at = length - 22; at >= Math.max(0, length - 22 - 0xffff); at--) {
      if (this.#u32(at) === EOCD) {
        eocd = at;
        break;
      }
    }
    if (eocd < 0) {
      this.#fail(
        "the zip archive has no end-of-central-directory record: the file is truncated or not a zip archive",
      );
    }
    let count = this.#u16(eocd + 10);
    let directorySize = this.#u32(eocd + 12);
    let directoryOffset = this.#u32(eocd + 16);
    if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
      const locator = eocd - 20;
      if (locator < 0 || this.#u32(locator) !== ZIP64_LOCATOR) this.#fail("zip64 locator missing");
      const record = this.#u64(locator + 8);
      if (record + 56 > length || this.#u32(record) !== ZIP64_EOCD) this.#fail("zip64 end record missing");
      count = this.#u64(record + 32);
      directorySize = this.#u64(record + 40);
      directoryOffset = this.#u64(record + 48);
    }
    if (directoryOffset + directorySize > length) {
      this.#fail("the zip central directory lies beyond the end of the file: truncated");
    }
    let at = directoryOffset;
    const decoder = new TextDecoder();
    for (let i = 0; i < count; i++) {
      if (at + 46 > length || this.#u32(at) !== CENTRAL) {
        this.#fail(`zip central directory entry ${i} is corrupt`);
      }
      const flags = this.#u16(at + 8);
      const method = this.#u16(at + 10);
      const crc = this.#u32(at + 16);
      let compressedSize = this.#u32(at + 20);
      let size = this.#u32(at + 24);
      const nameLength = this.#u16(at + 28);
      const extraLength = this.#u16(at + 30);
      const commentLength = this.#u16(at + 32);
      let localHeaderOffset = this.#u32(at + 42);
      const end = at + 46 + nameLength + extraLength + commentLength;
      if (end > length) this.#fail(`zip central directory entry ${i} is truncated`);
      const name = decoder.decode(this.#bytes.subarray(at + 46, at + 46 + nameLength));
      if (flags & 1) this.#fail(`zip entry '${name}' is encrypted`);
      // A zip64 extra field carries the 64-bit values of the fields set to 0xffffffff, in this order.
      let extra = at + 46 + nameLength;
      const extraEnd = extra + extraLength;
      while (extra + 4 <= extraEnd) {
        const id = this.#u16(extra);
        const dataLength = this.#u16(extra + 2);
        if (id === 0x0001) {
          let p = extra + 4;
          const stop = Math.min(extra + 4 + dataLength, length);
          if (size === 0xffffffff && p + 8 <= stop) {
            size = this.#u64(p);
            p += 8;
          }
          if (compressedSize === 0xffffffff && p + 8 <= stop) {
            compressedSize = this.#u64(p);
            p += 8;
          }
          if (localHeaderOffset === 0xffffffff && p + 8 <= stop) localHeaderOffset = this.#u64(p);
        }
        extra += 4 + dataLength;
      }
      this.entries.set(name, { name, method, crc32: crc, compressedSize, size, localHeaderOffset });
      at = end;
    }
  }

  /**
   * The uncompressed bytes of an entry (a view into the archive when the entry is stored); an entry
   * that declares more than `maxBytes` is refused before anything is inflated.
   */
  read(name: string, maxBytes: number = Number.MAX_SAFE_INTEGER): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) this.#fail(`the zip archive has no entry '${name}'`);
    if (entry.size > maxBytes) {
      this.#fail(`zip entry '${name}' declares ${entry.size} bytes, more than the ${maxBytes} expected`);
    }
    if (entry.method === 8 && entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
      this.#fail(
        `zip entry '${name}' declares ${entry.size} bytes from ${entry.compressedSize} compressed ones, ` +
          `more than deflate can produce: corrupt, or a zip bomb`,
      );
    }
    const at = entry.localHeaderOffset;
    if (at + 30 > this.#bytes.length || this.#u32(at) !== LOCAL) {
      this.#fail(`zip entry '${name}' has no local header at byte ${at}: truncated or corrupt`);
    }
    // The local header's own name and extra lengths count (PyTorch pads data with the extra field).
    const start = at + 30 + this.#u16(at + 26) + this.#u16(at + 28);
    const end = start + entry.compressedSize;
    if (end > this.#bytes.length) {
      this.#fail(
        `zip entry '${name}' runs past the end of the file (${end} > ${this.#bytes.length}): truncated`,
      );
    }
    const raw = this.#bytes.subarray(start, end);
    let data: Uint8Array;
    if (entry.method === 0) {
      data = raw;
    } else if (entry.method === 8) {
      try {
        // One byte of room past the declared size tells a stream that inflates to more.
        const out = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size + 1) });
        // A buffer of its own is used as it is; a slice of a shared pool is copied out.
        data = out.byteOffset === 0 && out.buffer.byteLength === out.byteLength
          ? new Uint8Array(out.buffer)
          : new Uint8Array(out);
      } catch (error) {
        if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
          return this.#fail(`zip entry '${name}' inflates to more than its declared ${entry.size} bytes`);
        }
        return this.#fail(`zip entry '${name}' cannot be inflated: ${(error as Error).message}`);
      }
    } else {
      return this.#fail(
        `zip entry '${name}' uses compression method ${entry.method}; only stored and deflate`,
      );
    }
    if (data.length !== entry.size) {
      this.#fail(`zip entry '${name}' has ${data.length} bytes, its directory says ${entry.size}`);
    }
    if (crc32(data) !== entry.crc32) this.#fail(`zip entry '${name}' fails its CRC-32 check: corrupt`);
    return data;
  }
}
