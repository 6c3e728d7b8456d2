/**
 * Whole-file reads for files that may come from anyone: the path must name a regular file (a FIFO
 * would block forever, `/dev/zero` would never end) no larger than a cap, and every error names it.
 *
 * @module
 */

/** Options of {@linkcode readFileBounded}. */
export interface ReadFileBoundedOptions {
  /** The largest file accepted, in bytes. */
  maxBytes: number;
  /** What the file is, for the size error ("weights file", "config"). @default {"file"} */
  what?: string;
}

function kind(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

function sizeText(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * Reads a whole regular file of at most `maxBytes` bytes; anything else (a missing file, a directory,
 * a FIFO, a device, a larger file, or one that grows past the cap while it is read) is an error that
 * names `path`.
 *
 * @example Read a small file, refuse a directory
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileBounded } from "./read.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello");
 * assert.equal((await readFileBounded(`${dir}/a.txt`, { maxBytes: 16 })).length, 5);
 * await assert.rejects(() => readFileBounded(`${dir}/a.txt`, { maxBytes: 4 }), /a\.txt: the file is larger/);
 * await assert.rejects(() => readFileBounded(dir, { maxBytes: 16 }), /a directory/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readFileBounded(path: string, options: ReadFileBoundedOptions): Promise<Uint8Array> {
  const { maxBytes, what = "file" } = options;
  const tooLarge = () =>
    new Error(`${path}: the ${what} is larger than the ${sizeText(maxBytes)} accepted (${maxBytes} bytes)`);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (!info.isFile) throw new Error(`${path}: expected a regular file, found ${kind(info)}`);
  if (info.size > maxBytes) throw tooLarge();
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    // One byte of room past the stat size tells a file that grew since.
    const buffer = new Uint8Array(Math.min(info.size, maxBytes) + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled > maxBytes) throw tooLarge();
    if (filled === buffer.length) throw new Error(`${path}: the ${what} grew while it was read`);
    return buffer.subarray(0, filled);
  } catch (error) {
    if ((error as Error).message.startsWith(path)) throw error;
    throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    file.close();
  }
}
