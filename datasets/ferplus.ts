/**
 * FERPlus: FER2013's images with ten annotators' votes each (Microsoft's `fer2013new.csv`, labels under
 * the MIT licence), so every image has a real human label distribution as its ground truth. The user
 * brings FER2013's pixels (`fer2013.csv`); the two files list the same images in the same order.
 *
 * `fer2013new.csv` has the columns `Usage, Image name, neutral, happiness, surprise, sadness, anger,
 * disgust, fear, contempt, unknown, NF`. An image is kept when its row names an image, its seven emotions
 * got at least one vote, and none of contempt, unknown or NF got more votes than every emotion; its
 * distribution is its votes over the seven emotions, normalised, and its label the most voted emotion
 * (the first in class order on a tie).
 *
 * @module
 */
import { join } from "node:path";
import { csvRecords, findColumn } from "./_csv.ts";
import { ListDataset, readText } from "./_list.ts";
import { fer2013Csv } from "./fer2013.ts";
import { type Dataset, DatasetError, type RawImage } from "./types.ts";

/** FERPlus's seven emotions, in the order of its vote columns (Contempt left out). */
export const FERPLUS_CLASSES: readonly string[] = Object.freeze([
  "Neutral",
  "Happiness",
  "Surprise",
  "Sadness",
  "Anger",
  "Disgust",
  "Fear",
]);

const VOTE_COLUMNS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear"];
const REJECT_COLUMNS = ["contempt", "unknown", "NF"];
const USAGE: Record<string, string> = { train: "Training", val: "PublicTest", test: "PrivateTest" };

/** Options of {@linkcode ferPlus}. */
export interface FerPlusOptions {
  /**
   * `"train"` (Usage Training), `"val"` (PublicTest), `"test"` (PrivateTest), a literal Usage value, or
   * `"all"`.
   * @default "train"
   */
  split?: string;
  /** The FER2013 CSV. @default {"<root>/fer2013.csv"} */
  pixels?: string;
  /** FERPlus's vote file. @default {"<root>/fer2013new.csv"} */
  votes?: string;
}

/**
 * Loads one split of FERPlus from a folder holding `fer2013.csv` and `fer2013new.csv` (or the files
 * named in `options`), with each image's vote distribution as `distributions`.
 *
 * @example Two images, one of them without a face
 * ```ts
 * import assert from "node:assert/strict";
 * import { ferPlus } from "./ferplus.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const pixels = (v: number) => Array(48 * 48).fill(v).join(" ");
 * await Deno.writeTextFile(
 *   `${dir}/fer2013.csv`,
 *   ["emotion,pixels,Usage", `3,${pixels(200)},Training`, `0,${pixels(90)},Training`, ""].join("\n"),
 * );
 * await Deno.writeTextFile(
 *   `${dir}/fer2013new.csv`,
 *   [
 *     "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF",
 *     "Training,fer0000000.png,2,6,2,0,0,0,0,0,0,0",
 *     "Training,fer0000001.png,0,0,0,0,0,0,0,0,0,10",
 *     "",
 *   ].join("\n"),
 * );
 * const train = await ferPlus(dir);
 * assert.equal(train.size, 1);
 * assert.equal(train.classNames[train.labels[0]], "Happiness");
 * assert.deepEqual([...train.distributions![0]].map((p) => p.toFixed(1)), ["0.2", "0.6", "0.2", "0.0", "0.0", "0.0", "0.0"]);
 * assert.equal(train.item(0).image?.data[0], 200);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function ferPlus(root: string, options: FerPlusOptions = {}): Promise<Dataset> {
  const split = options.split ?? "train";
  const usage = split === "all" ? undefined : USAGE[split] ?? split;
  const pixelsFile = options.pixels ?? join(root, "fer2013.csv");
  const votesFile = options.votes ?? join(root, "fer2013new.csv");
  const images = await fer2013Csv(pixelsFile, { split: "all" });
  const records = csvRecords(await readText(votesFile, "FERPlus vote file"), votesFile);
  const header = records.next();
  if (header.done) throw new DatasetError("empty FERPlus vote file", { file: votesFile });
  const usageColumn = findColumn(header.value, "Usage", votesFile, true);
  const nameColumn = findColumn(header.value, "Image name", votesFile, true);
  const voteColumns = VOTE_COLUMNS.map((c) => findColumn(header.value, c, votesFile, true));
  const rejectColumns = REJECT_COLUMNS.map((c) => findColumn(header.value, c, votesFile, true));
  const kept: { row: number; label: number; distribution: Float32Array }[] = [];
  const lineOf = new Map<string, number>();
  let row = 0;
  for (const { fields, line } of records) {
    if (row >= images.size) {
      throw new DatasetError(`more rows than ${pixelsFile} has images (${images.size})`, {
        file: votesFile,
        line,
      });
    }
    const count = (column: number) => {
      const text = (fields[column] ?? "").trim();
      if (!/^\d+$/.test(text)) {
        throw new DatasetError(`vote count ${JSON.stringify(text)} in column ${column + 1} is not a count`, {
          file: votesFile,
          line,
        });
      }
      return Number(text);
    };
    const votes = voteColumns.map(count);
    const rejects = rejectColumns.map(count);
    const best = Math.max(...votes);
    const index = row++;
    const name = (fields[nameColumn] ?? "").trim();
    const before = name === "" ? undefined : lineOf.get(name);
    if (before !== undefined) {
      throw new DatasetError(
        `image name ${JSON.stringify(name)} is that of line ${before} again (${votesFile}:${before}): ` +
          `an image may be listed once`,
        { file: votesFile, line },
      );
    }
    if (name !== "") lineOf.set(name, line);
    if (usage !== undefined && fields[usageColumn].trim() !== usage) continue;
    if (fields[nameColumn].trim() === "" || best === 0 || Math.max(...rejects) > best) continue;
    const total = votes.reduce((a, b) => a + b, 0);
    kept.push({
      row: index,
      label: votes.indexOf(best),
      distribution: Float32Array.from(votes, (v) => v / total),
    });
  }
  if (row !== images.size) {
    throw new DatasetError(`${row} rows, but ${pixelsFile} has ${images.size} images: not the same images`, {
      file: votesFile,
    });
  }
  if (kept.length === 0) {
    throw new DatasetError(`split "${split}" has no image with emotion votes`, { file: votesFile });
  }
  const raw: RawImage[] = kept.map(({ row }) => images.item(row).image!);
  return new ListDataset({
    name: "ferplus",
    root,
    split,
    classNames: FERPLUS_CLASSES,
    labels: Int32Array.from(kept, (k) => k.label),
    images: raw,
    sources: kept.map(({ row }) => images.item(row).source),
    distributions: kept.map((k) => k.distribution),
  });
}
