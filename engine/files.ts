/**
 * Atomic file writes: the one place where the library replaces a file on disk.
 *
 * @module
 */
import { basename, dirname } from "node:path";

/**
 * Writes `data` to `path` atomically: the bytes go to a temporary file beside `path`, which is then
 * renamed over it, so a reader (or a run killed half-way) never sees half a file and an existing file
 * is either the old one or the new one. On failure the temporary file is removed and the error names
 * `path`.
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
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${dirname(path)}/.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}
