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

/**
 * Options of {@linkcode imageFolder}.
 *
 * @example The `test` split of a folder tree, classes in a given order
 * ```ts
 * import { imageFolder, type ImageFolderOptions } from "./image_folder.ts";
 * const root = await Deno.makeTempDir();
 * for (const name of ["test/Neutral/1.jpg", "test/Happiness/2.jpg"]) {
 *   await Deno.mkdir(`${root}/${name.slice(0, name.lastIndexOf("/"))}`, { recursive: true });
 *   await Deno.writeFile(`${root}/${name}`, new Uint8Array()); // listing does not decode
 * }
 * const options: ImageFolderOptions = {
 *   split: "test",
 *   classNames: ["Neutral", "Happiness"],
 *   name: "my-faces",
 * };
 * const test = await imageFolder(root, options);
 * console.assert(test.name === "my-faces" && test.labels.join() === "1,0");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
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
