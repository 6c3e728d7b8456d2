/**
 * sharp (libvips), loaded on first use. Loading its native library takes about 0.1 s, which a process
 * that decodes no image (a config check, a CLI's `--help`, most doc examples) need not pay; every image
 * decode, encode and resize of the library gets sharp from here.
 *
 * @module
 */
import type { default as SharpConstructor } from "sharp";

let sharpModule: Promise<typeof SharpConstructor> | undefined;

/** The sharp function, imported once per process on the first call. */
export function loadSharp(): Promise<typeof SharpConstructor> {
  return sharpModule ??= import("sharp").then((module) => module.default);
}
