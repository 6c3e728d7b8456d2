/**
 * SFEW 2.0, as its users store it: `<root>/Train/<Class>/*.png` and `<root>/Val/<Class>/*.png`,
 * classes Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise (alphabetical indices, as
 * torchvision's `ImageFolder` assigns them). A folder that is not one of these classes is an error.
 *
 * @module
 */
import { join } from "node:path";
import { ListDataset, readClassFolders } from "./_list.ts";
import { SFEW_CLASSES } from "./classes.ts";
import { type Dataset, DatasetError } from "./types.ts";

/**
 * Options of {@linkcode sfew}.
 *
 * @example The validation split of a tiny SFEW tree
 * ```ts
 * import { sfew, type SfewOptions } from "./sfew.ts";
 * const root = await Deno.makeTempDir();
 * for (const name of ["Val/Happy/1.png", "Val/Sad/2.png", "Train/Angry/3.png"]) {
 *   await Deno.mkdir(`${root}/${name.slice(0, name.lastIndexOf("/"))}`, { recursive: true });
 *   await Deno.writeFile(`${root}/${name}`, new Uint8Array()); // listing does not decode
 * }
 * const options: SfewOptions = { split: "val" };
 * const val = await sfew(root, options);
 * console.assert(val.size === 2 && val.classNames[val.labels[0]] === "Happy");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface SfewOptions {
  /**
   * `"train"` (`Train/`) or `"val"` (`Val/`; `"test"` is accepted as the same split: SFEW's test
   * labels are not public, so papers report on the validation set).
   * @default "train"
   */
  split?: "train" | "val" | "test";
}

/**
 * Loads one split of SFEW.
 *
 * @example Load the validation split
 * ```ts ignore
 * import { sfew } from "./sfew.ts";
 * const val = await sfew("/data/SFEW", { split: "val" });
 * console.log(val.size, val.classNames);
 * ```
 */
export async function sfew(root: string, options: SfewOptions = {}): Promise<Dataset> {
  const split = options.split ?? "train";
  if (!["train", "val", "test"].includes(split)) {
    throw new DatasetError(`unknown SFEW split "${split}" (train, val)`, { file: root });
  }
  const folder = split === "train" ? "Train" : "Val";
  const dir = join(root, folder);
  const { paths, labels } = await readClassFolders(dir, SFEW_CLASSES, `SFEW split folder ${folder}`);
  return new ListDataset({
    name: "sfew",
    root,
    split: split === "train" ? "train" : "val",
    classNames: SFEW_CLASSES,
    labels,
    paths,
  });
}
