/**
 * Any folder of images sorted by class: `<root>/<split>/<class>/<image>`.
 *
 * Without explicit class names the classes are the sorted folder names of the split (so every split
 * must have the same folders); with them, the label order is theirs and a folder that is not one of
 * them is an error.
 *
 * @module
 */
import { join } from "node:path";
import { ListDataset, readClassFolders } from "./_list.ts";
import type { Dataset } from "./types.ts";

/** Options of {@linkcode imageFolder}. */
export interface ImageFolderOptions {
  /**
   * The split folder under the root.
   * @default "train"
   */
  split?: string;
  /**
   * The classes in label order; default: the split's sorted folder names.
   * @default undefined
   */
  classNames?: readonly string[];
  /**
   * The name the dataset reports.
   * @default "folder"
   */
  name?: string;
}

/**
 * Loads `<root>/<split>/<class>/*` (JPEG, PNG, WebP, TIFF, GIF files; others are ignored).
 *
 * @example Load a folder with a fixed class order
 * ```ts ignore
 * import { imageFolder } from "./image_folder.ts";
 * const train = await imageFolder("/data/my-faces", {
 *   split: "train",
 *   classNames: ["Neutral", "Happiness", "Sadness", "Surprise", "Fear", "Disgust", "Anger"],
 * });
 * ```
 *
 * @example A folder of three images in two classes
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import sharp from "sharp";
 * import { imageFolder } from "./image_folder.ts";
 *
 * const root = await Deno.makeTempDir();
 * const grey = { width: 8, height: 8, channels: 3 as const, background: "#808080" };
 * const png = await sharp({ create: grey }).png().toBuffer();
 * for (const [cls, file] of [["Happiness", "a.png"], ["Happiness", "b.png"], ["Neutral", "c.png"]]) {
 *   await Deno.mkdir(join(root, "train", cls), { recursive: true });
 *   await Deno.writeFile(join(root, "train", cls, file), png);
 * }
 * await Deno.writeTextFile(join(root, "train", "Neutral", "notes.txt"), "not an image");
 * const train = await imageFolder(root);
 * assert.deepEqual(train.classNames, ["Happiness", "Neutral"]); // sorted folder names
 * assert.equal(train.size, 3);
 * assert.deepEqual([...train.labels].sort(), [0, 0, 1]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function imageFolder(root: string, options: ImageFolderOptions = {}): Promise<Dataset> {
  const split = options.split ?? "train";
  const dir = join(root, split);
  const { classNames, paths, labels } = await readClassFolders(
    dir,
    options.classNames,
    `split folder ${split}`,
  );
  return new ListDataset({ name: options.name ?? "folder", root, split, classNames, labels, paths });
}
