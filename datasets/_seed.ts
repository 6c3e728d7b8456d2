/**
 * Derives independent seeds from one seed and a few integers (epoch, stream...), so that each
 * epoch's order and each sample's augmentation can be recomputed without replaying a generator.
 *
 * @module
 */

/** A 32-bit seed mixed from `seed` and `parts` (murmur3 finaliser after each part). */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const part of parts) {
    h = (h ^ Math.imul((part >>> 0) + 0x9e3779b9, 0x85ebca6b)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}
