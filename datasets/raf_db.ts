/**
 * RAF-DB basic, as its users store it:
 *
 * ```
 * <root>/EmoLabel/list_patition_label.txt   lines "train_00001.jpg 5", "test_0001.jpg 1"
 * <root>/Image/aligned/train_00001_aligned.jpg
 * <root>/distributions.csv                  optional: file,<7 class names> then one row per image
 * ```
 *
 * Labels 1..7 in the file (Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral) are stored
 * minus 1. A `distributions.csv` beside the label file (the synthetic set writes one) gives each
 * image's ground-truth label distribution.
 *
 * @module
 */
import { basename, join } from "node:path";
import { csvRecords } from "./_csv.ts";
import { exists, ListDataset, readText } from "./_list.ts";
import { canonicalName, RAF_DB_CLASSES } from "./classes.ts";
import { type Dataset, DatasetError } from "./types.ts";

/** Options of {@linkcode rafDb}. */
export interface RafDbOptions {
  /**
   * `"train"` (names starting with `train`) or `"test"` (names starting with `test`; `"val"` is
   * accepted as the same split, RAF-DB has no other).
   * @default "train"
   */
  split?: "train" | "test" | "val";
  /**
   * The name the dataset reports.
   * @default "rafdb"
   */
  name?: string;
}

/**
 * The label file, relative to the root (for example `/data/raf-basic/EmoLabel/list_patition_label.txt`).
 */
export const RAF_DB_LABEL_FILE = "EmoLabel/list_patition_label.txt";

/**
 * The optional ground-truth distributions file, relative to the root.
 *
 * @example Ground-truth distributions beside the labels
 * ```ts
 * import assert from "node:assert/strict";
 * import { DISTRIBUTIONS_FILE, rafDb, RAF_DB_LABEL_FILE } from "./raf_db.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/EmoLabel`);
 * await Deno.writeTextFile(`${root}/${RAF_DB_LABEL_FILE}`, "train_00001.jpg 4\n");
 * await Deno.writeTextFile(
 *   `${root}/${DISTRIBUTIONS_FILE}`,
 *   "file,Surprise,Fear,Disgust,Happiness,Sadness,Anger,Neutral\ntrain_00001.jpg,0.1,0,0,0.8,0,0,0.1\n",
 * );
 * const train = await rafDb(root);
 * assert.ok(Math.abs(train.distributions![0][3] - 0.8) < 1e-6);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export const DISTRIBUTIONS_FILE = "distributions.csv";

function stemOf(name: string): string {
  const base = basename(name);
  const dot = base.indexOf(".");
  const stem = dot < 0 ? base : base.slice(0, dot);
  return stem.endsWith("_aligned") ? stem.slice(0, -"_aligned".length) : stem;
}

/**
 * Loads one split of RAF-DB basic (or of a dataset written in its layout).
 *
 * @example Load the training split
 * ```ts ignore
 * import { rafDb } from "./raf_db.ts";
 * const train = await rafDb("/data/raf-basic", { split: "train" });
 * console.log(train.size, train.classNames[train.labels[0]]);
 * ```
 *
 * @example The splits of a label file
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { RAF_DB_LABEL_FILE, rafDb } from "./raf_db.ts";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(join(root, "EmoLabel"));
 * const lines = ["train_00001.jpg 4", "train_00002.jpg 7", "test_0001.jpg 1"];
 * await Deno.writeTextFile(join(root, RAF_DB_LABEL_FILE), lines.join("\n") + "\n");
 * const train = await rafDb(root, { split: "train" });
 * assert.equal(train.size, 2);
 * assert.deepEqual(train.labels.map((l) => l), Int32Array.from([3, 6])); // labels 1..7 stored minus 1
 * assert.equal(train.classNames[train.labels[0]], "Happiness");
 * assert.equal(train.item(0).path, join(root, "Image", "aligned", "train_00001_aligned.jpg"));
 * assert.equal((await rafDb(root, { split: "test" })).size, 1);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function rafDb(root: string, options: RafDbOptions = {}): Promise<Dataset> {
  const split = options.split ?? "train";
  if (!["train", "test", "val"].includes(split)) {
    throw new DatasetError(`unknown RAF-DB split "${split}" (train, test)`, { file: root });
  }
  const prefix = split === "train" ? "train" : "test";
  const labelFile = join(root, RAF_DB_LABEL_FILE);
  const text = await readText(labelFile, "RAF-DB label file");
  const names: string[] = [];
  const labels: number[] = [];
  const lineOf = new Map<string, number>();
  let line = 0;
  for (const raw of text.split("\n")) {
    line++;
    const row = raw.trim();
    if (row === "") continue;
    const fields = row.split(/\s+/);
    if (fields.length !== 2) {
      throw new DatasetError(`expected "<file> <label>", found ${JSON.stringify(row)}`, {
        file: labelFile,
        line,
      });
    }
    const [name, labelText] = fields;
    const label = Number(labelText);
    if (!/^\d+$/.test(labelText) || label < 1 || label > 7) {
      throw new DatasetError(`label ${JSON.stringify(labelText)} out of range 1..7`, {
        file: labelFile,
        line,
      });
    }
    if (!name.startsWith("train") && !name.startsWith("test")) {
      throw new DatasetError(`file name ${JSON.stringify(name)} starts with neither train nor test`, {
        file: labelFile,
        line,
      });
    }
    // Both splits are checked: an image listed twice would be trained on twice, or in both splits.
    const stem = stemOf(name);
    const before = lineOf.get(stem);
    if (before !== undefined) {
      throw new DatasetError(
        `${JSON.stringify(name)} is the image of line ${before} again (${labelFile}:${before}): ` +
          `an image may be listed once`,
        { file: labelFile, line },
      );
    }
    lineOf.set(stem, line);
    if (!name.startsWith(prefix)) continue;
    names.push(name);
    labels.push(label - 1);
  }
  if (names.length === 0) {
    throw new DatasetError(`split "${split}" is empty (no file name starts with "${prefix}")`, {
      file: labelFile,
    });
  }
  const paths = names.map((name) => join(root, "Image", "aligned", `${stemOf(name)}_aligned.jpg`));
  const distributionsFile = join(root, DISTRIBUTIONS_FILE);
  const distributions = await exists(distributionsFile)
    ? await readDistributions(distributionsFile, { names, classNames: RAF_DB_CLASSES })
    : undefined;
  return new ListDataset({
    name: options.name ?? "rafdb",
    root,
    split: prefix,
    classNames: RAF_DB_CLASSES,
    labels: Int32Array.from(labels),
    paths,
    distributions,
  });
}

/** Which rows and columns {@linkcode readDistributions} returns. */
export interface ReadDistributionsOptions {
  /** The image file names, one row each, in this order. */
  names: readonly string[];
  /** The class order of the returned rows. */
  classNames: readonly string[];
}

/**
 * Reads a `distributions.csv` (`file,<class names>` header, then `file,p1,...,pC` rows) and returns
 * the rows of `options.names` (matched by file stem, so `train_00001.jpg`, `train_00001_aligned.jpg` and
 * `train_00001` all match), with the columns reordered to `options.classNames` and each row normalised to
 * sum 1.
 *
 * @example Read the distributions of two images
 * ```ts ignore
 * import { RAF_DB_CLASSES, readDistributions } from "./mod.ts";
 * const rows = await readDistributions("/data/synth/distributions.csv", {
 *   names: ["train_00001.jpg", "train_00002.jpg"],
 *   classNames: RAF_DB_CLASSES,
 * });
 * console.log(rows[0]); // Float32Array of 7 probabilities
 * ```
 *
 * @example Rows by file stem, columns in another class order
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { readDistributions } from "./raf_db.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const file = join(dir, "distributions.csv");
 * const csv = ["file,Happiness,Sadness", "train_00001.jpg,0.75,0.25", "train_00002.jpg,0.5,0.5"];
 * await Deno.writeTextFile(file, csv.join("\n") + "\n");
 * const rows = await readDistributions(file, {
 *   names: ["train_00002_aligned.jpg", "train_00001"],
 *   classNames: ["Sadness", "Happiness"],
 * });
 * assert.deepEqual(rows.map((row) => [...row]), [[0.5, 0.5], [0.25, 0.75]]);
 * await Deno.writeTextFile(file, "file,Happiness,Sadness\ntrain_00001.jpg,3,1\n");
 * await assert.rejects(
 *   readDistributions(file, { names: ["train_00001"], classNames: ["Happiness", "Sadness"] }),
 *   /distributions\.csv:2: probabilities sum to 4, not 1/,
 * );
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readDistributions(
  file: string,
  options: ReadDistributionsOptions,
): Promise<Float32Array[]> {
  const { names, classNames } = options;
  const text = await readText(file, "distributions file");
  const records = csvRecords(text, file);
  const header = records.next();
  if (header.done) throw new DatasetError("empty distributions file", { file });
  const columns = header.value.fields.slice(1).map((name) => canonicalName(name) ?? name.trim());
  const order = classNames.map((name) => columns.indexOf(canonicalName(name) ?? name));
  if (columns.length !== classNames.length || order.some((i) => i < 0)) {
    throw new DatasetError(
      `header must be file,<${classNames.join(",")}> in any order, found ${header.value.fields.join(",")}`,
      { file, line: header.value.line },
    );
  }
  const rows = new Map<string, Float32Array>();
  const lineOf = new Map<string, number>();
  for (const { fields, line } of records) {
    if (fields.length !== classNames.length + 1) {
      throw new DatasetError(`expected ${classNames.length + 1} fields, found ${fields.length}`, {
        file,
        line,
      });
    }
    const values = fields.slice(1).map((v) => Number(v.trim()));
    if (values.some((v, i) => fields[i + 1].trim() === "" || !Number.isFinite(v) || v < 0)) {
      throw new DatasetError(`probabilities must be finite and non-negative: ${fields.join(",")}`, {
        file,
        line,
      });
    }
    const sum = values.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-3) {
      throw new DatasetError(`probabilities sum to ${sum}, not 1`, { file, line });
    }
    const stem = stemOf(fields[0].trim());
    const before = lineOf.get(stem);
    if (before !== undefined) {
      throw new DatasetError(
        `${JSON.stringify(fields[0].trim())} is the image of line ${before} again (${file}:${before}): ` +
          `an image may have one distribution`,
        { file, line },
      );
    }
    lineOf.set(stem, line);
    rows.set(stem, Float32Array.from(order, (column) => values[column] / sum));
  }
  return names.map((name) => {
    const row = rows.get(stemOf(name));
    if (!row) throw new DatasetError(`no distribution for ${name}`, { file });
    return row;
  });
}
