/**
 * The shapes every dataset loader returns: a {@linkcode Dataset} of {@linkcode DatasetItem}s, with its
 * class names in the dataset's own order, and the error type loaders throw on bad input.
 *
 * @module
 */

/**
 * Raw pixels carried by an item instead of a file path (FER2013 stores its images in a CSV).
 * Interleaved, row-major, 8 bits per channel.
 *
 * @example A 2x2 grey image, decoded to RGB
 * ```ts
 * import type { RawImage } from "./types.ts";
 * import { decodeImage } from "./image.ts";
 * const grey: RawImage = { data: new Uint8Array([0, 64, 128, 255]), width: 2, height: 2, channels: 1 };
 * const rgb = await decodeImage(grey);
 * console.assert(rgb.data.length === 2 * 2 * 3 && rgb.data[3] === 64);
 * ```
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

/**
 * One sample of a dataset: where its image comes from, and its label.
 *
 * @example Items of a dataset stored as files, and of one stored inline
 * ```ts
 * import type { DatasetItem } from "./types.ts";
 * const fromFile: DatasetItem = {
 *   index: 0,
 *   label: 3,
 *   path: "Image/aligned/train_00001_aligned.jpg",
 *   source: "train_00001",
 * };
 * const inline: DatasetItem = {
 *   index: 1,
 *   label: 6,
 *   image: { data: new Uint8Array(48 * 48), width: 48, height: 48, channels: 1 },
 *   source: "fer2013.csv:3",
 * };
 * console.assert(fromFile.path !== undefined && inline.image !== undefined);
 * ```
 */
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
 * @example Walk over a dataset
 * ```ts ignore
 * import { rafDb } from "./mod.ts";
 * const train = await rafDb("/data/raf-basic", { split: "train" });
 * for (let i = 0; i < train.size; i++) {
 *   const { path, label } = train.item(i);
 *   console.log(path, train.classNames[label]);
 * }
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

/**
 * Where in a file a problem was found.
 *
 * @example Point at a line of a label file
 * ```ts
 * import { DatasetError, type DatasetErrorOptions } from "./types.ts";
 * const where: DatasetErrorOptions = { file: "EmoLabel/list_patition_label.txt", line: 12 };
 * const error = new DatasetError("label 8 out of range 1..7", where);
 * console.assert(error.message === "EmoLabel/list_patition_label.txt:12: label 8 out of range 1..7");
 * ```
 */
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
 * import { DatasetError } from "./types.ts";
 * const error = new DatasetError("label 9 out of range 1..7", { file: "list.txt", line: 3 });
 * console.assert(error.message === "list.txt:3: label 9 out of range 1..7");
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
