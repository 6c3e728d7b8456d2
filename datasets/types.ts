/**
 * The shapes every dataset loader returns: a {@linkcode Dataset} of {@linkcode DatasetItem}s, with its
 * class names in the dataset's own order, and the error type loaders throw on bad input.
 *
 * @module
 */

/**
 * Raw pixels carried by an item instead of a file path (FER2013 stores its images in a CSV).
 * Interleaved, row-major, 8 bits per channel.
 */
export interface RawImage {
  /** Pixel bytes, `width * height * channels` long. */
  data: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (grey), 3 (RGB) or 4 (RGBA). */
  channels: 1 | 3 | 4;
}

/** One sample of a dataset: where its image comes from, and its label. */
export interface DatasetItem {
  /** Position of the item in its dataset, `0 <= index < size`. */
  index: number;
  /** Class index in the dataset's own {@linkcode Dataset.classNames} order. */
  label: number;
  /** The image file, for datasets stored as files. */
  path?: string;
  /** The decoded pixels, for datasets that store images inline (FER2013). */
  image?: RawImage;
  /** Where the item comes from, for error messages: the path, or `file:line`. */
  source: string;
}

/**
 * A labelled image dataset: a split of one of the supported layouts, or a view of one (relabelled,
 * subset, mapped to the canonical class order).
 *
 * @example A dataset of your own: images listed in memory
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Dataset } from "./types.ts";
 *
 * const files = [["/data/mine/a.png", 1], ["/data/mine/b.png", 0]] as const;
 * const labels = Int32Array.from(files, ([, label]) => label);
 * const mine: Dataset = {
 *   name: "mine",
 *   root: "/data/mine",
 *   classNames: ["Neutral", "Happiness"],
 *   split: "train",
 *   size: files.length,
 *   labels,
 *   item: (i) => ({ index: i, label: labels[i], path: files[i][0], source: files[i][0] }),
 * };
 * for (let i = 0; i < mine.size; i++) assert.equal(mine.item(i).label, mine.labels[i]);
 * assert.equal(mine.classNames[mine.item(0).label], "Happiness");
 * ```
 */
export interface Dataset {
  /** A short name, e.g. `"rafdb"`. */
  readonly name: string;
  /** Where the dataset was read from (folder or file). */
  readonly root: string;
  /** Class names, index = label. */
  readonly classNames: readonly string[];
  /** The split this dataset holds, e.g. `"train"`. */
  readonly split: string;
  /** Number of items. */
  readonly size: number;
  /** All labels, `labels[i] === item(i).label`. */
  readonly labels: Int32Array;
  /** Ground-truth label distributions per item (length `classNames.length` each), when known. */
  readonly distributions?: readonly Float32Array[];
  /** The item at position `i` (`0 <= i < size`). */
  item(i: number): DatasetItem;
}

/** Where in a file a problem was found. */
export interface DatasetErrorOptions {
  /** The file (or folder) at fault. */
  file?: string;
  /** The 1-based line in that file. */
  line?: number;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * A problem with a dataset on disk (missing file, malformed row, label out of range, corrupt
 * image...). The message names the file and, where there is one, the line.
 *
 * @example Report where a dataset is broken
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatasetError } from "./types.ts";
 * const error = new DatasetError("label 9 out of range 1..7", { file: "list.txt", line: 3 });
 * assert.equal(error.message, "list.txt:3: label 9 out of range 1..7");
 * ```
 */
export class DatasetError extends Error {
  /** The file (or folder) at fault. */
  readonly file?: string;
  /** The 1-based line in that file. */
  readonly line?: number;

  /** Creates the error; the message is prefixed with `file:line: `. */
  constructor(message: string, options: DatasetErrorOptions = {}) {
    const where = options.file === undefined
      ? ""
      : options.line === undefined
      ? `${options.file}: `
      : `${options.file}:${options.line}: `;
    super(where + message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DatasetError";
    this.file = options.file;
    this.line = options.line;
  }
}
