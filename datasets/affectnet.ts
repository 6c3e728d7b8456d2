/**
 * AffectNet, as its users store it:
 *
 * ```
 * <root>/affectnet.csv                       cache: phase,img_path,label (extra columns ignored)
 * <root>/train_set/annotations/<id>_exp.npy  one label each (a numpy string or integer)
 * <root>/train_set/images/<id>.jpg
 * <root>/val_set/annotations/<id>_exp.npy
 * <root>/val_set/images/<id>.jpg
 * ```
 *
 * Labels 0..7 = Neutral, Happiness, Sadness, Surprise, Fear, Disgust, Anger, Contempt. The 7-class
 * setting drops Contempt; labels 8 and above (None, Uncertain, No-face) are always excluded. When
 * `affectnet.csv` is missing it is built from the annotations and written (atomically) for next time,
 * in the same columns the reference PyTorch code reads and writes.
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import { csvField, csvRecords, findColumn } from "./_csv.ts";
import { writeFileAtomic } from "../engine/files.ts";
import { compareCodePoints, exists, ListDataset, readBytes, readText } from "./_list.ts";
import { readNpyScalar } from "./_npy.ts";
import { AFFECTNET7_CLASSES, AFFECTNET8_CLASSES } from "./classes.ts";
import { type Dataset, DatasetError } from "./types.ts";

/** Options of {@linkcode affectNet}. */
export interface AffectNetOptions {
  /**
   * `"train"` or `"val"` (`"test"` is accepted as the same split: AffectNet's test set is not
   * public, so papers report on the validation set).
   * @default "train"
   */
  split?: "train" | "val" | "test";
  /**
   * 7 (without Contempt) or 8 classes.
   * @default 7
   */
  classes?: 7 | 8;
  /**
   * Read `affectnet.csv` when present, and write it after building the list from the annotations.
   * `false` always reads the annotations and writes nothing.
   * @default true
   */
  cache?: boolean;
}

/**
 * The cache file name, relative to the root: where a copy keeps its image list (for example
 * `/data/AffectNet/affectnet.csv`); delete it to rebuild the list from the annotations.
 */
export const AFFECTNET_CACHE_FILE = "affectnet.csv";

interface Row {
  phase: string;
  path: string;
  label: number;
  /** The cache line it came from. */
  line?: number;
}

/** The largest annotation file read (one label each: a few hundred bytes). */
const MAX_NPY_BYTES = 2 ** 20;

/**
 * Resolves an `img_path` of the cache: paths that contain a `train_set/` or `val_set/` folder are
 * taken relative to `root` from there (so a cache written elsewhere still works), other relative
 * paths are relative to `root`, absolute paths are kept.
 *
 * @example A cache written on another machine
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveAffectNetPath } from "./affectnet.ts";
 * const path = resolveAffectNetPath("/data/AffectNet", "./datasets/AffectNet/train_set/images/7.jpg");
 * assert.equal(path, "/data/AffectNet/train_set/images/7.jpg");
 * ```
 */
export function resolveAffectNetPath(root: string, imgPath: string): string {
  const normal = imgPath.replaceAll("\\", "/");
  const at = Math.max(normal.lastIndexOf("train_set/"), normal.lastIndexOf("val_set/"));
  if (at === 0 || (at > 0 && normal[at - 1] === "/")) return join(root, normal.slice(at));
  return isAbsolute(imgPath) ? imgPath : join(root, normal);
}

function parseLabel(value: number | string, file: string, line?: number): number {
  const text = String(value).trim();
  if (!/^-?\d+(\.0*)?$/.test(text)) {
    throw new DatasetError(`label ${JSON.stringify(String(value))} is not an integer`, { file, line });
  }
  const label = Number.parseInt(text, 10);
  if (label < 0) throw new DatasetError(`label ${label} is negative`, { file, line });
  return label;
}

async function readCache(file: string): Promise<Row[]> {
  const text = await readText(file, "AffectNet cache");
  const records = csvRecords(text, file);
  const header = records.next();
  if (header.done) throw new DatasetError("empty AffectNet cache", { file });
  const phaseColumn = findColumn(header.value, "phase", file, true);
  const pathColumn = findColumn(header.value, "img_path", file, true);
  const labelColumn = findColumn(header.value, "label", file, true);
  const width = header.value.fields.length;
  const rows: Row[] = [];
  for (const { fields, line } of records) {
    if (fields.length !== width) {
      throw new DatasetError(`expected ${width} fields, found ${fields.length}`, { file, line });
    }
    const phase = fields[phaseColumn].trim();
    if (!["train", "val", "test"].includes(phase)) {
      throw new DatasetError(`unknown phase ${JSON.stringify(phase)} (train, val)`, { file, line });
    }
    const path = fields[pathColumn].trim();
    if (path === "") throw new DatasetError("empty img_path", { file, line });
    rows.push({ phase, path, label: parseLabel(fields[labelColumn], file, line), line });
  }
  return rows;
}

async function readAnnotations(root: string): Promise<Row[]> {
  const rows: Row[] = [];
  let found = false;
  for (const [folder, phase] of [["train_set", "train"], ["val_set", "val"]] as const) {
    const annotations = join(root, folder, "annotations");
    if (!await exists(annotations)) continue;
    found = true;
    const ids: string[] = [];
    try {
      for await (const entry of Deno.readDir(annotations)) {
        if (entry.isFile && entry.name.endsWith("_exp.npy")) {
          ids.push(entry.name.slice(0, -"_exp.npy".length));
        }
      }
    } catch (error) {
      throw new DatasetError(`cannot list the annotations: ${(error as Error).message}`, {
        file: annotations,
        cause: error,
      });
    }
    ids.sort((a, b) => {
      const na = Number(a), nb = Number(b);
      return Number.isInteger(na) && Number.isInteger(nb) && na !== nb ? na - nb : compareCodePoints(a, b);
    });
    const chunk = 256;
    for (let start = 0; start < ids.length; start += chunk) {
      const labels = await Promise.all(
        ids.slice(start, start + chunk).map(async (id) => {
          const file = join(annotations, `${id}_exp.npy`);
          return parseLabel(readNpyScalar(await readBytes(file, "annotation", MAX_NPY_BYTES), file), file);
        }),
      );
      labels.forEach((label, k) => {
        rows.push({ phase, path: join(root, folder, "images", `${ids[start + k]}.jpg`), label });
      });
    }
  }
  if (!found) {
    throw new DatasetError(
      `neither ${AFFECTNET_CACHE_FILE} nor train_set/annotations nor val_set/annotations found`,
      { file: root },
    );
  }
  return rows;
}

/**
 * Loads one split of AffectNet (7 or 8 classes).
 *
 * @example Load the 7-class training split
 * ```ts ignore
 * import { affectNet } from "./affectnet.ts";
 * const train = await affectNet("/data/AffectNet", { split: "train", classes: 7 });
 * console.log(train.size);
 * ```
 *
 * @example From the cache file: the 7-class setting drops Contempt
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { AFFECTNET_CACHE_FILE, affectNet } from "./affectnet.ts";
 *
 * const root = await Deno.makeTempDir();
 * const rows = ["phase,img_path,label", "train,train_set/images/1.jpg,1", "train,train_set/images/2.jpg,7"];
 * rows.push("val,val_set/images/3.jpg,0");
 * await Deno.writeTextFile(join(root, AFFECTNET_CACHE_FILE), rows.join("\n"));
 * const train7 = await affectNet(root, { split: "train", classes: 7 });
 * assert.equal(train7.size, 1);
 * assert.equal(train7.classNames[train7.labels[0]], "Happiness");
 * assert.equal(train7.item(0).path, join(root, "train_set", "images", "1.jpg"));
 * assert.equal((await affectNet(root, { split: "train", classes: 8 })).size, 2);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function affectNet(root: string, options: AffectNetOptions = {}): Promise<Dataset> {
  const split = options.split ?? "train";
  const classes = options.classes ?? 7;
  if (!["train", "val", "test"].includes(split)) {
    throw new DatasetError(`unknown AffectNet split "${split}" (train, val)`, { file: root });
  }
  if (classes !== 7 && classes !== 8) throw new RangeError(`AffectNet has 7 or 8 classes, not ${classes}`);
  const cacheFile = join(root, AFFECTNET_CACHE_FILE);
  const useCache = options.cache ?? true;
  let rows: Row[];
  if (useCache && await exists(cacheFile)) {
    rows = await readCache(cacheFile);
  } else {
    rows = await readAnnotations(root);
    if (useCache) {
      const lines = ["phase,img_path,label", ...rows.map((r) => `${r.phase},${csvField(r.path)},${r.label}`)];
      await writeFileAtomic(cacheFile, lines.join("\n") + "\n");
    }
  }
  const phase = split === "train" ? "train" : "val";
  const kept = rows.filter((r) =>
    (r.phase === phase || (phase === "val" && r.phase === "test")) && r.label < classes
  );
  if (kept.length === 0) {
    throw new DatasetError(`split "${phase}" is empty`, { file: useCache ? cacheFile : root });
  }
  const paths = kept.map((r) => resolveAffectNetPath(root, r.path));
  // An image listed twice would be trained on twice, with two labels perhaps: every row of the cache
  // is checked, whatever its split.
  const lines = new Map<string, number>();
  for (const row of rows) {
    if (row.line === undefined) continue;
    const path = resolveAffectNetPath(root, row.path);
    const before = lines.get(path);
    if (before !== undefined) {
      throw new DatasetError(
        `${JSON.stringify(row.path)} is the image of line ${before} again (${cacheFile}:${before}): ` +
          `an image may be listed once`,
        { file: cacheFile, line: row.line },
      );
    }
    lines.set(path, row.line);
  }
  return new ListDataset({
    name: `affectnet${classes}`,
    root,
    split: phase,
    classNames: classes === 7 ? AFFECTNET7_CLASSES : AFFECTNET8_CLASSES,
    labels: Int32Array.from(kept, (r) => r.label),
    paths,
  });
}
