/**
 * Opens a dataset by type name, so that a config file can select one, and a registry that lets
 * other dataset kinds (such as the synthetic set) join the same factory.
 *
 * @module
 */
import { affectNet } from "./affectnet.ts";
import { fer2013Csv } from "./fer2013.ts";
import { ferPlus } from "./ferplus.ts";
import { imageFolder } from "./image_folder.ts";
import { rafDb } from "./raf_db.ts";
import { sfew } from "./sfew.ts";
import { type Dataset, DatasetError } from "./types.ts";

/** What {@linkcode openDataset} needs. */
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

/** A function that opens one registered dataset type. */
export type DatasetOpener = (options: OpenDatasetOptions) => Promise<Dataset>;

const OPENERS = new Map<string, { opener: DatasetOpener; evalSplit: string }>();

/** Options of {@linkcode registerDatasetType}. */
export interface RegisterDatasetTypeOptions {
  /**
   * The split a training run evaluates on (AffectNet and SFEW have no test split: `val`).
   *
   * @default {"test"}
   */
  evalSplit?: string;
}

/**
 * Registers a dataset type for {@linkcode openDataset} (an existing name is replaced). A config selects
 * it as `data.dataset`; a plugin module (a config's `plugins`, `--plugin FILE`) may register one before
 * its config is validated.
 *
 * @example Register a dataset stored in RAF-DB's layout under another name
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetTypes, rafDb, registerDatasetType } from "./mod.ts";
 * registerDatasetType("myfaces", ({ path, split }) =>
 *   rafDb(path, { split: split as "train" | "test", name: "myfaces" }));
 * assert.ok(datasetTypes().includes("myfaces"));
 * ```
 */
export function registerDatasetType(
  type: string,
  opener: DatasetOpener,
  options: RegisterDatasetTypeOptions = {},
): void {
  if (typeof type !== "string" || type.length === 0) {
    throw new DatasetError(
      `registerDatasetType: the type must be a non-empty string, got ${JSON.stringify(type)}`,
    );
  }
  if (typeof opener !== "function") {
    throw new DatasetError(`registerDatasetType: the opener of "${type}" must be a function`);
  }
  const { evalSplit = "test" } = options;
  OPENERS.set(type, { opener, evalSplit });
}

/**
 * The split a training run of a registered dataset type evaluates on (`test`, or `val` for AffectNet
 * and SFEW); undefined for a type that is not registered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEvalSplit } from "./open.ts";
 * assert.equal(datasetEvalSplit("rafdb"), "test");
 * assert.equal(datasetEvalSplit("sfew"), "val");
 * ```
 */
export function datasetEvalSplit(type: string): string | undefined {
  return OPENERS.get(type)?.evalSplit;
}

/**
 * The registered dataset type names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetTypes } from "./open.ts";
 * assert.ok(datasetTypes().includes("rafdb"));
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
  { evalSplit: "val" },
);
registerDatasetType(
  "affectnet8",
  ({ path, split = "train" }) => affectNet(path, { split: valSplit(split, path), classes: 8 }),
  { evalSplit: "val" },
);
registerDatasetType(
  "sfew",
  ({ path, split = "train" }) => sfew(path, { split: valSplit(split, path) }),
  { evalSplit: "val" },
);
registerDatasetType(
  "folder",
  ({ path, split = "train", classNames }) => imageFolder(path, { split, classNames }),
);
registerDatasetType("fer2013", ({ path, split = "train" }) => fer2013Csv(path, { split }));
registerDatasetType("ferplus", ({ path, split = "train" }) => ferPlus(path, { split }));

/**
 * Opens a dataset by type name.
 *
 * @example Open the RAF-DB test split from a config
 * ```ts ignore
 * import { openDataset } from "./open.ts";
 * const test = await openDataset({ type: "rafdb", path: "/data/raf-basic", split: "test" });
 * ```
 *
 * @example An unknown type is refused with the known ones
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDataset } from "./open.ts";
 * await assert.rejects(
 *   openDataset({ type: "rafbd", path: "/data/raf-basic" }),
 *   /unknown dataset type "rafbd" \(known: .*rafdb/,
 * );
 * await assert.rejects(
 *   openDataset({ type: "rafdb", path: "/no/such/raf-basic" }),
 *   /\/no\/such\/raf-basic: the rafdb dataset's path does not exist/,
 * );
 * ```
 */
export async function openDataset(options: OpenDatasetOptions): Promise<Dataset> {
  const opener = OPENERS.get(options.type)?.opener;
  if (!opener) {
    throw new DatasetError(`unknown dataset type "${options.type}" (known: ${datasetTypes().join(", ")})`);
  }
  if (typeof options.path === "string" && options.path !== "") {
    const problem = await Deno.stat(options.path).then(
      () => undefined,
      (error) =>
        error instanceof Deno.errors.NotFound
          ? `the ${options.type} dataset's path does not exist (data.path, --data-path)`
          : `cannot read the ${options.type} dataset's path: ${(error as Error).message}`,
    );
    if (problem !== undefined) throw new DatasetError(problem, { file: options.path });
  }
  return await opener(options);
}
