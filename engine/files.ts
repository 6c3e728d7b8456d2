/**
 * Whole-file reading into one preallocated buffer (faster than growing a buffer for large
 * checkpoints).
 *
 * @module
 */

/** Reads a whole file into a new `Uint8Array` sized from its `stat`. */
export async function readWholeFile(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const { size } = await file.stat();
  let buffer = new Uint8Array(size);
  let filled = 0;
  while (true) {
    if (filled === buffer.length) {
      // The file grew since stat (or stat reported 0): keep reading into a larger buffer.
      const larger = new Uint8Array(Math.max(buffer.length * 2, 65536));
      larger.set(buffer);
      buffer = larger;
    }
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled === buffer.length ? buffer : buffer.subarray(0, filled);
}
