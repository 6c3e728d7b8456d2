/**
 * Atomic file writes: the one place where the library replaces a file on disk, and the clean-up of
 * the temporary files that a killed process leaves behind.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

/** A temporary file of {@linkcode writeFileAtomic}: `.<name>.<8 hex digits>.tmp`. */
const TEMPORARY = /^\..+\.[0-9a-f]{8}\.tmp$/;

/** Options of {@linkcode writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /**
   * Flush the file to the disk before it replaces `path`, and the folder after (so that a power cut
   * leaves the old file or the new one, never an empty one). Bulk writers of files that can be made
   * again (a generated dataset's images) may turn it off: it costs a disk flush per file.
   * @default {true}
   */
  sync?: boolean;
}

/**
 * Writes `data` to `path` atomically: the bytes go to a temporary file beside `path`, which is flushed
 * to the disk and then renamed over it (and the folder flushed, where the platform allows), so a reader
 * (or a run killed half-way) never sees half a file and an existing file is either the old one or the
 * new one. On failure (a full disk, say) the temporary file is removed and the error names `path`.
 *
 * @example Replace a file
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFileAtomic } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a.txt`, "old");
 * await writeFileAtomic(`${dir}/a.txt`, new TextEncoder().encode("new"));
 * assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "new");
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.txt"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @example A failed write names the file and leaves nothing behind
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFileAtomic } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/taken`); // a folder cannot be replaced by a file
 * await assert.rejects(writeFileAtomic(`${dir}/taken`, "x"), /cannot write .*taken/);
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["taken"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const sync = options.sync ?? true;
  const folder = dirname(path);
  const tmp = join(folder, `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
      if (sync) await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (sync) await syncFolder(folder);
}

/** Flushes a folder's entries (the rename) to the disk; platforms that cannot open a folder skip it. */
async function syncFolder(folder: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(folder, { read: true });
    await handle.sync();
  } catch {
    // Windows cannot open a folder as a file; the rename is as durable as the platform makes it.
  } finally {
    handle?.close();
  }
}

/**
 * Removes the temporary files that {@linkcode writeFileAtomic} leaves in `dir` when its process is
 * killed mid-write (`.<name>.<8 hex digits>.tmp`), and returns their names. Other files are kept; a
 * missing folder has none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { removeTemporaryFiles } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/.last.safetensors.0a1b2c3d.tmp`, "half a checkpoint");
 * await Deno.writeTextFile(`${dir}/notes.tmp`, "kept: not one of ours");
 * assert.deepEqual(await removeTemporaryFiles(dir), [".last.safetensors.0a1b2c3d.tmp"]);
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["notes.tmp"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function removeTemporaryFiles(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return removed;
    throw new Error(`cannot list ${dir}: ${(error as Error).message}`, { cause: error });
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isFile || !TEMPORARY.test(entry.name)) continue;
    try {
      await Deno.remove(join(dir, entry.name));
      removed.push(entry.name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new Error(`cannot remove ${join(dir, entry.name)}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
  }
  return removed;
}
