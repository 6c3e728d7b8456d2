/**
 * Test helper: the library's layers (the folders of the README's design section, bottom up) and its
 * TypeScript files, for the tests that read the whole library (the layering rule, the doc examples).
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The project's root folder, with a trailing slash. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** The layers from the bottom up; a module may import from its own layer or any layer before it. */
export const LAYERS = [
  "formats",
  "engine",
  "backbones",
  "strategies",
  "datasets",
  "training",
  "experiments",
  "cli",
] as const;

/** A layer's name. */
export type Layer = typeof LAYERS[number];

/** The absolute paths of the `.ts` files under `layers` (all of them by default), in a stable order. */
export async function libraryFiles(layers: readonly Layer[] = LAYERS): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    const entries = await Array.fromAsync(Deno.readDir(dir));
    for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  for (const layer of layers) await walk(`${ROOT}${layer}`);
  return files;
}
