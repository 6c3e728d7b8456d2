/**
 * Opens a dataset by type name, so that a config file can select one, and a registry that lets
 * other dataset kinds (such as the synthetic set) join the same factory.
 *
 * @module
 */
import { affectNet } from "./affectnet.ts";
import { fer2013Csv } from "./fer2013.ts";
import { imageFolder } from "./image_folder.ts";
import { rafDb } from "./raf_db.ts";
import { sfew } from "./sfew.ts";
import { type Dataset, DatasetError } from "./types.ts";

/**
 * What {@linkcode openDataset} needs.
 *
 * @example Open a class-per-folder tree with a fixed class order
 * ```ts
 * import { openDataset, type OpenDatasetOptions } from "./open.ts";
 * const root = await Deno.makeTempDir();
 * for (const name of ["Happy/a.png", "Sad/b.png", "Sad/c.png"]) {
 *   await Deno.mkdir(`${root}/train/${name.split("/")[0]}`, { recursive: true });
 *   await Deno.writeFile(`${root}/train/${name}`, new Uint8Array()); // listing does not decode
 * }
 * const options: OpenDatasetOptions = {
 *   type: "folder",
 *   path: root,
 *   split: "train",
 *   classNames: ["Sad", "Happy"],
 * };
 * const dataset = await openDataset(options);
 * console.assert(dataset.size === 3 && dataset.labels.join() === "1,0,0");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface OpenDatasetOptions {
  /** A registered type: `rafdb`, `affectnet7`, `affectnet8`, `sfew`, `folder`, `fer2013`, ... */
  type: string;
  /** The dataset's root folder (or, for `fer2013`, its CSV file). */
  path: string;
  /**
   * The split to open (`train`, `val`, `test`, or a folder name for `folder`).
   * @default "train"
   */
  split?: string;
  /**
   * Class names in label order, for `folder`.
   * @default undefined
   */
  classNames?: readonly string[];
}

/**
 * A function that opens one registered dataset type.
 *
 * @example An opener for datasets kept in memory
 * ```ts
 * import { type DatasetOpener, openDataset, registerDatasetType } from "./open.ts";
 * const memory: DatasetOpener = ({ path, split = "train" }) => {
 *   const labels = Int32Array.from([0, 1]);
 *   return Promise.resolve({
 *     name: "memory",
 *     root: path,
 *     split,
 *     classNames: ["Neutral", "Happiness"],
 *     size: labels.length,
 *     labels,
 *     item: (i: number) => ({ index: i, label: labels[i], path: `${path}/${i}.png`, source: `${i}.png` }),
 *   });
 * };
 * registerDatasetType("memory", memory);
 * const dataset = await openDataset({ type: "memory", path: "faces" });
 * console.assert(dataset.size === 2 && dataset.item(1).path === "faces/1.png");
 * ```
 */
export type DatasetOpener = (options: OpenDatasetOptions) => Promise<Dataset>;

const OPENERS = new Map<string, DatasetOpener>();

/**
 * Registers a dataset type for {@linkcode openDataset} (an existing name is replaced).
 *
 * @example Register a dataset stored in RAF-DB's layout under another name
 * ```ts
 * import { openDataset, rafDb, registerDatasetType } from "./mod.ts";
 * registerDatasetType("myfaces", ({ path, split }) =>
 *   rafDb(path, { split: split as "train" | "test", name: "myfaces" }));
 * ```
 */
export function registerDatasetType(type: string, opener: DatasetOpener): void {
  OPENERS.set(type, opener);
}

/**
 * The registered dataset type names.
 *
 * @example
 * ```ts
 * import { datasetTypes } from "./open.ts";
 * console.assert(datasetTypes().includes("rafdb"));
 * ```
 */
export function datasetTypes(): string[] {
  return [...OPENERS.keys()];
}

function rafSplit(split: string, path: string): "train" | "test" | "val" {
  if (split === "train" || split === "test" || split === "val") return split;
  throw new DatasetError(`unknown split "${split}" (train, test)`, { file: path });
}

function valSplit(split: string, path: string): "train" | "val" | "test" {
  if (split === "train" || split === "val" || split === "test") return split;
  throw new DatasetError(`unknown split "${split}" (train, val)`, { file: path });
}

registerDatasetType("rafdb", ({ path, split = "train" }) => rafDb(path, { split: rafSplit(split, path) }));
registerDatasetType(
  "affectnet7",
  ({ path, split = "train" }) => affectNet(path, { split: valSplit(split, path), classes: 7 }),
);
registerDatasetType(
  "affectnet8",
  ({ path, split = "train" }) => affectNet(path, { split: valSplit(split, path), classes: 8 }),
);
registerDatasetType("sfew", ({ path, split = "train" }) => sfew(path, { split: valSplit(split, path) }));
registerDatasetType(
  "folder",
  ({ path, split = "train", classNames }) => imageFolder(path, { split, classNames }),
);
registerDatasetType("fer2013", ({ path, split = "train" }) => fer2013Csv(path, { split }));

/**
 * Opens a dataset by type name.
 *
 * @example Open the RAF-DB test split from a config
 * ```ts ignore
 * import { openDataset } from "./open.ts";
 * const test = await openDataset({ type: "rafdb", path: "/data/raf-basic", split: "test" });
 * ```
 */
export async function openDataset(options: OpenDatasetOptions): Promise<Dataset> {
  const opener = OPENERS.get(options.type);
  if (!opener) {
    throw new DatasetError(`unknown dataset type "${options.type}" (known: ${datasetTypes().join(", ")})`);
  }
  return await opener(options);
}
