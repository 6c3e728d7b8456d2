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

/** Options of {@linkcode sfew}. */
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
 *
 * @example A copy with one image per class
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import sharp from "sharp";
 * import { SFEW_CLASSES } from "./classes.ts";
 * import { sfew } from "./sfew.ts";
 *
 * const root = await Deno.makeTempDir();
 * const grey = { width: 8, height: 8, channels: 3 as const, background: "#808080" };
 * const png = await sharp({ create: grey }).png().toBuffer();
 * for (const cls of SFEW_CLASSES) {
 *   await Deno.mkdir(join(root, "Val", cls), { recursive: true });
 *   await Deno.writeFile(join(root, "Val", cls, "1.png"), png);
 * }
 * const val = await sfew(root, { split: "val" });
 * assert.equal(val.size, SFEW_CLASSES.length);
 * assert.deepEqual(val.classNames, SFEW_CLASSES);
 * await assert.rejects(sfew(root, { split: "train" }), /Train/); // no Train folder
 * await Deno.remove(root, { recursive: true });
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
