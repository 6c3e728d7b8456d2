/**
 * Whole-file reads for files that may come from anyone: the path must name a regular file (a FIFO
 * would block forever, `/dev/zero` would never end) no larger than a cap, and every error names it.
 *
 * @module
 */

/** Options of {@linkcode readFileBounded}, {@linkcode readTextFileBounded} and {@linkcode checkRegularFile}. */
export interface ReadFileBoundedOptions {
  /** The largest file accepted, in bytes. */
  maxBytes: number;
  /** What the file is, for the size error ("weights file", "config"). @default {"file"} */
  what?: string;
}

/**
 * A file that cannot be read whole: missing, not a regular file, larger than the cap, or failing while
 * it is read. `message` names the path; `reason` is the same without it, for errors that put the path
 * in front themselves.
 *
 * @example Tell a missing file from others
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileReadError, readFileBounded } from "./read.ts";
 * const error = await readFileBounded("/no/such/file", { maxBytes: 16 }).catch((e) => e);
 * assert.ok(error instanceof FileReadError && error.notFound);
 * assert.equal(error.path, "/no/such/file");
 * assert.match(error.message, /^cannot read \/no\/such\/file: /);
 * ```
 */
export class FileReadError extends Error {
  /** The file. */
  readonly path: string;
  /** What is wrong, without the path ("expected a regular file, found a FIFO (named pipe)"). */
  readonly reason: string;
  /** The file does not exist. */
  readonly notFound: boolean;

  /** Creates the error; `message` is `reason` with the path put in. */
  constructor(
    path: string,
    reason: string,
    message: string,
    options: ErrorOptions & { notFound?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "FileReadError";
    this.path = path;
    this.reason = reason;
    this.notFound = options.notFound ?? false;
  }
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

function osError(path: string, what: string, error: unknown): FileReadError {
  const message = error instanceof Error ? error.message : String(error);
  return new FileReadError(path, `cannot read the ${what}: ${message}`, `cannot read ${path}: ${message}`, {
    cause: error,
    notFound: error instanceof Deno.errors.NotFound,
  });
}

function tooLarge(path: string, what: string, maxBytes: number): FileReadError {
  const reason = `the ${what} is larger than the ${sizeText(maxBytes)} accepted (${maxBytes} bytes)`;
  return new FileReadError(path, reason, `${path}: ${reason}`);
}

/**
 * Checks, without opening it, that `path` names a regular file of at most `maxBytes` bytes (symbolic
 * links followed), and returns its size; anything else is a {@linkcode FileReadError} naming `path`.
 * For readers that open the file themselves (an image decoder given a path), so that a FIFO, a
 * device or a folder never reaches them.
 *
 * @example Accept a file, refuse a FIFO-like path and a large file
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkRegularFile } from "./read.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.png`, "12345678");
 * assert.equal(await checkRegularFile(`${dir}/a.png`, { maxBytes: 16 }), 8);
 * await assert.rejects(checkRegularFile(`${dir}/a.png`, { maxBytes: 4, what: "image" }), /the image is larger/);
 * await assert.rejects(checkRegularFile("/dev/null", { maxBytes: 4 }), /\/dev\/null: expected a regular file, found a character device/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function checkRegularFile(path: string, options: ReadFileBoundedOptions): Promise<number> {
  const { maxBytes, what = "file" } = options;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw osError(path, what, error);
  }
  if (!info.isFile) {
    const reason = `expected a regular file, found ${kind(info)}`;
    throw new FileReadError(path, reason, `${path}: ${reason}`);
  }
  if (info.size > maxBytes) throw tooLarge(path, what, maxBytes);
  return info.size;
}

/**
 * Reads a whole regular file of at most `maxBytes` bytes; anything else (a missing file, a directory,
 * a FIFO, a device, a larger file, or one that grows past the cap while it is read) is a
 * {@linkcode FileReadError} that names `path`.
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
  const size = await checkRegularFile(path, options);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw osError(path, what, error);
  }
  try {
    // One byte of room past the stat size tells a file that grew since.
    const buffer = new Uint8Array(Math.min(size, maxBytes) + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled > maxBytes) throw tooLarge(path, what, maxBytes);
    if (filled === buffer.length) {
      const reason = `the ${what} grew while it was read`;
      throw new FileReadError(path, reason, `${path}: ${reason}`);
    }
    return buffer.subarray(0, filled);
  } catch (error) {
    if (error instanceof FileReadError) throw error;
    throw osError(path, what, error);
  } finally {
    file.close();
  }
}

/**
 * {@linkcode readFileBounded}, decoded as UTF-8 as `Deno.readTextFile` does (a leading byte-order
 * mark is dropped; invalid bytes become U+FFFD).
 *
 * @example Read a config, refuse `/dev/zero`
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTextFileBounded } from "./read.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.yaml`, "seed: 1\n");
 * assert.equal(await readTextFileBounded(`${dir}/a.yaml`, { maxBytes: 1024, what: "config" }), "seed: 1\n");
 * await assert.rejects(readTextFileBounded("/dev/zero", { maxBytes: 1024 }), /\/dev\/zero: expected a regular file/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readTextFileBounded(path: string, options: ReadFileBoundedOptions): Promise<string> {
  const bytes = await readFileBounded(path, options);
  return new TextDecoder().decode(bytes);
}
