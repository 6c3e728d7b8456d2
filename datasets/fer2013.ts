/**
 * FER2013 as the Kaggle CSV: columns `emotion` (0..6 = Angry, Disgust, Fear, Happy, Sad, Surprise,
 * Neutral), `pixels` (2304 space-separated grey values, 48x48) and `Usage` (Training, PublicTest,
 * PrivateTest). Images are decoded from the pixel strings into memory; items carry raw pixels
 * instead of a path.
 *
 * @module
 */
import { csvRecords, findColumn } from "./_csv.ts";
import { ListDataset, readText } from "./_list.ts";
import { FER2013_CLASSES } from "./classes.ts";
import { type Dataset, DatasetError, type RawImage } from "./types.ts";

/** Options of {@linkcode fer2013Csv}. */
export interface Fer2013Options {
  /**
   * `"train"` (Usage Training), `"val"` (PublicTest), `"test"` (PrivateTest), a literal Usage value,
   * or `"all"` (every row; the only choice for a CSV without a Usage column).
   * @default "train"
   */
  split?: string;
}

const USAGE: Record<string, string> = { train: "Training", val: "PublicTest", test: "PrivateTest" };
const SIDE = 48;

function parsePixels(text: string, out: Uint8Array, offset: number, file: string, line: number): void {
  let count = 0;
  let value = -1;
  const n = text.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 32;
    if (c >= 48 && c <= 57) {
      value = value < 0 ? c - 48 : value * 10 + (c - 48);
      if (value > 255) throw new DatasetError(`pixel value above 255 in pixels`, { file, line });
    } else if (c === 32 || c === 9 || c === 13) {
      if (value >= 0) {
        if (count === SIDE * SIDE) {
          throw new DatasetError(`pixels has more than ${SIDE * SIDE} values`, { file, line });
        }
        out[offset + count++] = value;
        value = -1;
      }
    } else {
      throw new DatasetError(`unexpected character ${JSON.stringify(text[i])} in pixels`, { file, line });
    }
  }
  if (count !== SIDE * SIDE) {
    throw new DatasetError(`pixels has ${count} values, expected ${SIDE * SIDE} (48x48)`, { file, line });
  }
}

/**
 * Loads one split of the FER2013 CSV.
 *
 * @example Load the public test split
 * ```ts ignore
 * import { fer2013Csv } from "./fer2013.ts";
 * const val = await fer2013Csv("/data/fer2013.csv", { split: "val" });
 * console.log(val.size, val.item(0).image?.width); // ..., 48
 * ```
 *
 * @example A CSV of two rows
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { fer2013Csv } from "./fer2013.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const path = join(dir, "fer2013.csv");
 * const pixels = (v: number) => Array(48 * 48).fill(v).join(" ");
 * const rows = [`3,${pixels(200)},Training`, `6,${pixels(90)},PublicTest`];
 * await Deno.writeTextFile(path, ["emotion,pixels,Usage", ...rows, ""].join("\n"));
 * const train = await fer2013Csv(path, { split: "train" });
 * assert.equal(train.size, 1);
 * assert.equal(train.classNames[train.labels[0]], "Happy");
 * const { image } = train.item(0);
 * assert.equal(image?.width, 48);
 * assert.equal(image?.data[0], 200);
 * assert.equal((await fer2013Csv(path, { split: "val" })).classNames[0], "Angry");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function fer2013Csv(path: string, options: Fer2013Options = {}): Promise<Dataset> {
  const split = options.split ?? "train";
  const usage = split === "all" ? undefined : USAGE[split] ?? split;
  const text = await readText(path, "FER2013 CSV");
  const records = csvRecords(text, path);
  const header = records.next();
  if (header.done) throw new DatasetError("empty FER2013 CSV", { file: path });
  const emotionColumn = findColumn(header.value, "emotion", path, true);
  const pixelsColumn = findColumn(header.value, "pixels", path, true);
  const usageColumn = findColumn(header.value, "Usage", path, false);
  if (usage !== undefined && usageColumn === undefined) {
    throw new DatasetError(`no Usage column, so split "${split}" cannot be selected (use "all")`, {
      file: path,
      line: header.value.line,
    });
  }
  const width = header.value.fields.length;
  const selected: { label: number; pixels: string; line: number }[] = [];
  for (const { fields, line } of records) {
    if (fields.length !== width) {
      throw new DatasetError(`expected ${width} fields, found ${fields.length}`, { file: path, line });
    }
    const emotion = fields[emotionColumn].trim();
    if (!/^\d+$/.test(emotion) || Number(emotion) > 6) {
      throw new DatasetError(`emotion ${JSON.stringify(emotion)} out of range 0..6`, { file: path, line });
    }
    if (usage !== undefined && fields[usageColumn!].trim() !== usage) continue;
    selected.push({ label: Number(emotion), pixels: fields[pixelsColumn], line });
  }
  if (selected.length === 0) {
    throw new DatasetError(`split "${split}" is empty${usage ? ` (no row with Usage ${usage})` : ""}`, {
      file: path,
    });
  }
  const bytes = new Uint8Array(selected.length * SIDE * SIDE);
  const images: RawImage[] = [];
  const sources: string[] = [];
  selected.forEach((row, i) => {
    parsePixels(row.pixels, bytes, i * SIDE * SIDE, path, row.line);
    images.push({
      data: bytes.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE),
      width: SIDE,
      height: SIDE,
      channels: 1,
    });
    sources.push(`${path}:${row.line}`);
  });
  return new ListDataset({
    name: "fer2013",
    root: path,
    split,
    classNames: FER2013_CLASSES,
    labels: Int32Array.from(selected, (row) => row.label),
    images,
    sources,
  });
}
