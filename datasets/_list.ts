/**
 * Shared building blocks of the loaders: an array-backed dataset, file reading with clear errors,
 * image file listing.
 *
 * @module
 */
import { join } from "node:path";
import { FileReadError, readFileBounded, readTextFileBounded } from "../formats/read.ts";
import { type Dataset, DatasetError, type DatasetItem, type RawImage } from "./types.ts";

/** File extensions the pipeline can decode (sharp/libvips). */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".jpg",
  ".jpeg",
  ".png",
  ".webp",
  ".tif",
  ".tiff",
  ".gif",
];

/** Whether a file name has an image extension (case-insensitive). */
export function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return !lower.startsWith(".") && IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** The columns of an array-backed dataset. */
export interface ListDatasetInit {
  name: string;
  root: string;
  split: string;
  classNames: readonly string[];
  labels: Int32Array;
  paths?: string[];
  images?: RawImage[];
  sources?: string[];
  distributions?: Float32Array[];
}

/** A dataset held in parallel arrays. */
export class ListDataset implements Dataset {
  readonly name: string;
  readonly root: string;
  readonly split: string;
  readonly classNames: readonly string[];
  readonly labels: Int32Array;
  readonly distributions?: readonly Float32Array[];
  #paths?: string[];
  #images?: RawImage[];
  #sources?: string[];

  constructor(init: ListDatasetInit) {
    this.name = init.name;
    this.root = init.root;
    this.split = init.split;
    this.classNames = Object.freeze([...init.classNames]);
    this.labels = init.labels;
    this.distributions = init.distributions;
    this.#paths = init.paths;
    this.#images = init.images;
    this.#sources = init.sources;
    if (this.labels.length === 0) {
      throw new DatasetError(`split "${init.split}" of ${init.name} is empty`, { file: init.root });
    }
  }

  get size(): number {
    return this.labels.length;
  }

  item(i: number): DatasetItem {
    if (!Number.isInteger(i) || i < 0 || i >= this.labels.length) {
      throw new RangeError(`${this.name}: item index ${i} out of range 0..${this.labels.length - 1}`);
    }
    const path = this.#paths?.[i];
    const image = this.#images?.[i];
    const source = this.#sources?.[i] ?? path ?? `${this.root}[${i}]`;
    const item: DatasetItem = { index: i, label: this.labels[i], source };
    if (path !== undefined) item.path = path;
    if (image !== undefined) item.image = image;
    return item;
  }
}

/**
 * The largest label or list file the loaders read (500 MiB: FER2013's CSV is about 290 MB, and a
 * JavaScript string holds at most about 512 Mi characters).
 */
export const MAX_TEXT_FILE_BYTES: number = 500 * 2 ** 20;

/** A failed read of `file` as the {@linkcode DatasetError} that names it and says why. */
function readError(error: unknown, file: string, what: string): DatasetError {
  if (error instanceof FileReadError) {
    if (error.notFound) return new DatasetError(`${what} not found`, { file, cause: error });
    return new DatasetError(error.reason, { file, cause: error });
  }
  return new DatasetError(`cannot read ${what}: ${(error as Error).message}`, { file, cause: error });
}

/**
 * Reads a text file (a regular file of at most `maxBytes`, default {@linkcode MAX_TEXT_FILE_BYTES}),
 * failing with a {@linkcode DatasetError} that names it: missing, a folder, a FIFO, a device, too
 * large, or unreadable.
 */
export async function readText(file: string, what: string, maxBytes = MAX_TEXT_FILE_BYTES): Promise<string> {
  try {
    return await readTextFileBounded(file, { maxBytes, what });
  } catch (error) {
    throw readError(error, file, what);
  }
}

/** Reads a whole binary file (at most `maxBytes`), failing with a {@linkcode DatasetError} that names it. */
export async function readBytes(file: string, what: string, maxBytes: number): Promise<Uint8Array> {
  try {
    return await readFileBounded(file, { maxBytes, what });
  } catch (error) {
    throw readError(error, file, what);
  }
}

/** Whether a path exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Sorted names of the subfolders of `dir`; a clear error if `dir` is missing. */
export async function listFolders(dir: string, what: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && !entry.name.startsWith(".")) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new DatasetError(`${what} not found`, { file: dir });
    if (error instanceof Deno.errors.NotADirectory) {
      throw new DatasetError(`${what} is not a folder`, { file: dir, cause: error });
    }
    throw new DatasetError(`cannot read ${what}: ${(error as Error).message}`, { file: dir, cause: error });
  }
  return names.sort(compareCodePoints);
}

/** The files found so far by {@linkcode listImages}, by real path (links resolved): the path each was found at. */
export type SeenFiles = Map<string, string>;

async function realPathOf(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    throw new DatasetError(`cannot resolve the link: ${(error as Error).message}`, {
      file: path,
      cause: error,
    });
  }
}

/**
 * Image files under `dir`, subfolders included, in torchvision's `ImageFolder` order: folders sorted
 * by path, files sorted by name within each (full paths). The same file reached twice (through a
 * symbolic link to a file or a folder, here or in an earlier call given the same `seen`) is an error
 * naming both paths, and so is a link that leads back into a folder being listed.
 */
export async function listImages(dir: string, seen: SeenFiles = new Map()): Promise<string[]> {
  const groups: [string, string[]][] = [];
  const walk = async (folder: string, real: string, ancestors: readonly string[]) => {
    const files: string[] = [];
    const subfolders: [string, string][] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = (await Array.fromAsync(Deno.readDir(folder))).sort((a, b) =>
        compareCodePoints(a.name, b.name)
      );
    } catch (error) {
      throw new DatasetError(`cannot list the folder: ${(error as Error).message}`, {
        file: folder,
        cause: error,
      });
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(folder, entry.name);
      let isDirectory = entry.isDirectory;
      let target = join(real, entry.name);
      if (entry.isSymlink) {
        // A dangling link stays a file: decoding it fails with its path.
        const info = await Deno.stat(path).catch(() => undefined);
        isDirectory = info?.isDirectory ?? false;
        target = info === undefined ? path : await realPathOf(path);
      }
      if (isDirectory) {
        const loop = [...ancestors, real].find((a) => a === target || a.startsWith(`${target}/`));
        if (entry.isSymlink && loop !== undefined) {
          throw new DatasetError(`the link leads back to ${target}, a folder being listed (a link loop)`, {
            file: path,
          });
        }
        subfolders.push([path, target]);
      } else if (isImageFile(entry.name)) {
        const before = seen.get(target);
        if (before !== undefined) {
          const both = target === path || target === before ? "" : ` (both are ${target})`;
          throw new DatasetError(`the same image as ${before}${both}: an image may be listed once`, {
            file: path,
          });
        }
        seen.set(target, path);
        files.push(entry.name);
      }
    }
    groups.push([folder, files.sort(compareCodePoints)]);
    for (const [sub, subReal] of subfolders) await walk(sub, subReal, [...ancestors, real]);
  };
  await walk(dir, await realPathOf(dir), []);
  groups.sort((a, b) => compareCodePoints(a[0], b[0]));
  return groups.flatMap(([folder, files]) => files.map((name) => join(folder, name)));
}

/** Orders strings by code point, as Python's `sorted` does (locale-independent). */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Reads a class-per-folder split: `dir/<class>/<image>`. With `fixed` class names a folder that is
 * not one of them is an error; without, the classes are the sorted folder names.
 */
export async function readClassFolders(
  dir: string,
  fixed: readonly string[] | undefined,
  what: string,
): Promise<{ classNames: string[]; paths: string[]; labels: Int32Array }> {
  const folders = await listFolders(dir, what);
  const classNames = fixed ? [...fixed] : folders;
  if (fixed) {
    for (const folder of folders) {
      if (!fixed.includes(folder)) {
        throw new DatasetError(
          `unknown class folder "${folder}" (expected one of ${fixed.join(", ")})`,
          { file: join(dir, folder) },
        );
      }
    }
  }
  const paths: string[] = [];
  const labels: number[] = [];
  const seen: SeenFiles = new Map();
  for (const folder of folders) {
    const label = classNames.indexOf(folder);
    for (const path of await listImages(join(dir, folder), seen)) {
      paths.push(path);
      labels.push(label);
    }
  }
  if (paths.length === 0) throw new DatasetError(`${what} has no images`, { file: dir });
  return { classNames, paths, labels: Int32Array.from(labels) };
}
