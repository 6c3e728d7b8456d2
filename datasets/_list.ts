/**
 * Shared building blocks of the loaders: an array-backed dataset, file reading with clear errors,
 * image file listing.
 *
 * @module
 */
import { join } from "node:path";
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

/** Reads a text file, failing with a {@linkcode DatasetError} that names it. */
export async function readText(file: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DatasetError(`${what} not found`, { file, cause: error });
    }
    throw new DatasetError(`cannot read ${what}: ${(error as Error).message}`, { file, cause: error });
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
    throw new DatasetError(`cannot read ${what}: ${(error as Error).message}`, { file: dir, cause: error });
  }
  return names.sort(compareCodePoints);
}

/**
 * Image files under `dir`, subfolders included, in torchvision's `ImageFolder` order: folders sorted
 * by path, files sorted by name within each (full paths).
 */
export async function listImages(dir: string): Promise<string[]> {
  const groups: [string, string[]][] = [];
  const walk = async (folder: string) => {
    const files: string[] = [];
    const subfolders: string[] = [];
    for await (const entry of Deno.readDir(folder)) {
      if (entry.name.startsWith(".")) continue;
      let isDirectory = entry.isDirectory;
      if (entry.isSymlink) isDirectory = (await Deno.stat(join(folder, entry.name))).isDirectory;
      if (isDirectory) subfolders.push(join(folder, entry.name));
      else if (isImageFile(entry.name)) files.push(entry.name);
    }
    groups.push([folder, files.sort(compareCodePoints)]);
    for (const sub of subfolders) await walk(sub);
  };
  await walk(dir);
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
  for (const folder of folders) {
    const label = classNames.indexOf(folder);
    for (const path of await listImages(join(dir, folder))) {
      paths.push(path);
      labels.push(label);
    }
  }
  if (paths.length === 0) throw new DatasetError(`${what} has no images`, { file: dir });
  return { classNames, paths, labels: Int32Array.from(labels) };
}
