/**
 * Aligning a folder of photos, or a dataset in a supported layout, into aligned face crops that the
 * loaders read: every face is detected, its 68 landmarks found, and the five-point similarity maps it
 * onto the template at the chosen size (see `datasets/faces/`). `deno task align` is this module on the
 * command line.
 *
 * Layouts:
 *
 * - `mirror` (any folder: raw photos, class folders `<split>/<class>/*`, SFEW, AffectNet...): every image
 *   is written to the same relative path under the destination (JPEG, PNG and WebP keep their format,
 *   others become PNG); every other file (label lists, CSV files) is copied as it is.
 * - `rafdb` (a folder with `EmoLabel/list_patition_label.txt` and `Image/original/`): the originals become
 *   `Image/aligned/<name>_aligned.jpg`, RAF-DB's aligned layout that the `rafdb` loader reads; the label
 *   files are copied, the source's own `Image/aligned/` is left out.
 *
 * The destination gets `alignment.json` (template, size, detector: what photos must be aligned with at
 * prediction time) and `align-log.jsonl`, one line per image: `aligned` (how many faces were found,
 * which one was kept and why), `none` (no face) or `error` (the file could not be read). A second run
 * skips the images the log marks done (aligned with the output present, or no face) and retries errors,
 * so an interrupted run resumes.
 *
 * @module
 */
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import sharp from "sharp";
import { writeFileAtomic } from "../engine/files.ts";
import { type BackendName, initBackend } from "../engine/backend.ts";
import { RAF_DB_LABEL_FILE } from "../datasets/raf_db.ts";
import { IMAGE_EXTENSIONS } from "../datasets/_list.ts";
import {
  checkTemplate,
  decodePhoto,
  DEFAULT_TEMPLATE,
  FACE_MODEL_PACKAGE,
  FaceAnalyzer,
  type FacePick,
  type FaceTemplate,
  pickFace,
} from "../datasets/faces/mod.ts";
import { formatDuration } from "./progress.ts";

/** The file of the destination that records how it was aligned. */
export const ALIGNMENT_FILE = "alignment.json";
/** The per-image log of the destination. */
export const ALIGN_LOG_FILE = "align-log.jsonl";

/** How the destination is laid out (see the module documentation). */
export type AlignLayout = "mirror" | "rafdb";

/** One line of `align-log.jsonl`. */
export interface AlignLogEntry {
  /** The image, relative to the source folder (with `/`). */
  source: string;
  /** `aligned`, `none` (no face found) or `error` (not readable as an image). */
  status: "aligned" | "none" | "error";
  /** Faces found. */
  faces?: number;
  /** Which face was kept (0-based, best detection score first). */
  kept?: number;
  /** Why that one. */
  reason?: string;
  /** Its box in the photo's pixels. */
  box?: { x: number; y: number; width: number; height: number };
  /** Its detection score. */
  score?: number;
  /** Root mean square distance of the five points from the template after alignment, output pixels. */
  residual?: number;
  /** The aligned file, relative to the destination (with `/`). */
  output?: string;
  /** What went wrong, for `error`. */
  error?: string;
}

/** Options of {@linkcode alignFolder}. */
export interface AlignFolderOptions {
  /**
   * Output side in pixels.
   * @default {100}
   */
  size?: number;
  /**
   * Where the five points go.
   * @default {DEFAULT_TEMPLATE}
   */
  template?: FaceTemplate;
  /**
   * The layout; `auto` picks `rafdb` for a RAF-DB folder and `mirror` otherwise.
   * @default {"auto"}
   */
  layout?: AlignLayout | "auto";
  /**
   * Which face to keep when there are several.
   * @default {"largest"}
   */
  pick?: FacePick;
  /**
   * Detections below this confidence are ignored.
   * @default {0.5}
   */
  minConfidence?: number;
  /**
   * The TensorFlow.js backend.
   * @default {"auto"}
   */
  backend?: BackendName;
  /** A folder with face-api's model files, instead of the installed package's. */
  modelDir?: string;
  /**
   * Redraw a progress bar (a terminal) or print plain lines.
   * @default {Deno.stdout.isTerminal()}
   */
  live?: boolean;
  /** Where the per-image lines and the progress go. @default {console.log} */
  log?: (line: string) => void;
}

/** What {@linkcode alignFolder} returns. */
export interface AlignFolderResult {
  /** The layout used. */
  layout: AlignLayout;
  /** Images in the source. */
  images: number;
  /** Images aligned by this call. */
  aligned: number;
  /** Images without a face (this call). */
  none: number;
  /** Images that could not be read (this call), with their errors. */
  errors: { source: string; error: string }[];
  /** Images skipped because an earlier run did them. */
  skipped: number;
  /** Other files copied. */
  copied: number;
}

interface Job {
  source: string;
  rel: string;
  output: string;
}

async function walk(root: string, skip: (rel: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string) => {
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = join(dir, e.name);
      const rel = relative(root, path).split(sep).join("/");
      if (skip(rel)) continue;
      if (e.isDirectory) await visit(path);
      else if (e.isFile) out.push(rel);
    }
  };
  await visit(root);
  return out;
}

async function isFile(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}

async function isDir(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isDirectory, () => false);
}

/** The layout `auto` picks for a source folder. */
export async function detectLayout(src: string): Promise<AlignLayout> {
  return (await isFile(join(src, RAF_DB_LABEL_FILE))) && (await isDir(join(src, "Image", "original")))
    ? "rafdb"
    : "mirror";
}

function isImage(rel: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(rel).toLowerCase());
}

function outputFor(rel: string, layout: AlignLayout): string {
  if (layout === "rafdb") {
    const name = rel.slice("Image/original/".length);
    const stem = name.slice(0, name.length - extname(name).length);
    return `Image/aligned/${stem}_aligned.jpg`;
  }
  const ext = extname(rel).toLowerCase();
  return [".jpg", ".jpeg", ".png", ".webp"].includes(ext)
    ? rel
    : `${rel.slice(0, rel.length - ext.length)}.png`;
}

async function encode(image: { data: Uint8Array; width: number; height: number }, path: string) {
  const s = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  const ext = extname(path).toLowerCase();
  const out = ext === ".png"
    ? s.png()
    : ext === ".webp"
    ? s.webp({ quality: 95 })
    : s.jpeg({ quality: 95, chromaSubsampling: "4:4:4" });
  return new Uint8Array(await out.toBuffer());
}

/** Reads `align-log.jsonl`: the last entry per image (a line cut short by an interruption is ignored). */
export async function readAlignLog(dst: string): Promise<Map<string, AlignLogEntry>> {
  const entries = new Map<string, AlignLogEntry>();
  let text: string;
  try {
    text = await Deno.readTextFile(join(dst, ALIGN_LOG_FILE));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return entries;
    throw e;
  }
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as AlignLogEntry;
      if (typeof entry.source === "string") entries.set(entry.source, entry);
    } catch {
      // an interrupted write: that image is done again
    }
  }
  return entries;
}

function describe(e: AlignLogEntry): string {
  if (e.status === "error") return `${e.source}: error: ${e.error}`;
  if (e.status === "none") return `${e.source}: no face found`;
  const kept = e.faces === 1 ? "1 face" : `${e.faces} faces, kept #${(e.kept ?? 0) + 1}: ${e.reason}`;
  return `${e.source}: ${kept} -> ${e.output} (score ${e.score?.toFixed(2)}, residual ${
    e.residual?.toFixed(1)
  } px)`;
}

function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

/**
 * Aligns every image of `src` into `dst` (see the module documentation), resuming what an earlier run
 * left. A file that cannot be read is logged by name and the others go on.
 *
 * @example
 * ```ts ignore
 * import { alignFolder } from "./align.ts";
 * const result = await alignFolder("/data/raf-basic", "/data/raf-aligned-100", { size: 100 });
 * console.log(result.aligned, result.none, result.errors);
 * ```
 */
export async function alignFolder(
  src: string,
  dst: string,
  options: AlignFolderOptions = {},
): Promise<AlignFolderResult> {
  const size = options.size ?? 100;
  if (!Number.isInteger(size) || size < 8) {
    throw new RangeError(`--size must be an integer of at least 8, got ${size}`);
  }
  const template = options.template ?? DEFAULT_TEMPLATE;
  const pick = options.pick ?? "largest";
  const minConfidence = options.minConfidence ?? 0.5;
  const log = options.log ?? ((line: string) => console.log(line));
  const live = options.live ?? Deno.stdout.isTerminal();
  const root = resolve(src), out = resolve(dst);
  if (!(await isDir(root))) throw new Error(`${root} is not a folder`);
  if (out === root || out.startsWith(root + sep)) {
    throw new Error(`the destination ${out} must not be inside the source ${root}`);
  }
  const layout = options.layout === undefined || options.layout === "auto"
    ? await detectLayout(root)
    : options.layout;
  if (layout === "rafdb" && !(await isDir(join(root, "Image", "original")))) {
    throw new Error(`${root}: layout rafdb needs the folder Image/original`);
  }
  await Deno.mkdir(out, { recursive: true });

  // The alignment a destination holds must not change between runs.
  const alignment = {
    format: "ada-df-alignment",
    version: 1,
    size,
    template,
    layout,
    pick,
    minConfidence,
    detector: `${FACE_MODEL_PACKAGE} ssd_mobilenetv1 + face_landmark_68`,
  };
  const alignmentPath = join(out, ALIGNMENT_FILE);
  if (await isFile(alignmentPath)) {
    const before = JSON.parse(await Deno.readTextFile(alignmentPath));
    for (const key of ["size", "template", "layout"] as const) {
      if (JSON.stringify(before[key]) !== JSON.stringify(alignment[key])) {
        throw new Error(
          `${alignmentPath}: this folder was aligned with ${key} ${JSON.stringify(before[key])}, not ${
            JSON.stringify(alignment[key])
          }; align into another folder`,
        );
      }
    }
  } else {
    await writeFileAtomic(alignmentPath, JSON.stringify(alignment, null, 2) + "\n");
  }

  const files = await walk(root, (rel) => layout === "rafdb" && rel === "Image/aligned");
  const jobs: Job[] = [];
  let copied = 0;
  for (const rel of files) {
    const inImages = layout === "mirror" || rel.startsWith("Image/original/");
    if (isImage(rel) && inImages) {
      jobs.push({ source: join(root, rel), rel, output: outputFor(rel, layout) });
    } else if (!isImage(rel)) {
      const target = join(out, rel);
      if (await isFile(target)) continue;
      await Deno.mkdir(dirname(target), { recursive: true });
      await writeFileAtomic(target, await Deno.readFile(join(root, rel)));
      copied++;
    }
  }

  const done = await readAlignLog(out);
  const todo: Job[] = [];
  let skipped = 0;
  for (const job of jobs) {
    const e = done.get(job.rel);
    const finished = e?.status === "none" ||
      (e?.status === "aligned" && e.output !== undefined && await isFile(join(out, e.output)));
    if (finished) skipped++;
    else todo.push(job);
  }
  const result: AlignFolderResult = {
    layout,
    images: jobs.length,
    aligned: 0,
    none: 0,
    errors: [],
    skipped,
    copied,
  };
  if (skipped > 0) log(`${skipped} of ${jobs.length} images already done, ${todo.length} to go`);
  if (todo.length === 0) return result;

  await initBackend(options.backend ?? "auto");
  const analyzer = await FaceAnalyzer.load(options.modelDir);
  const encoder = new TextEncoder();
  const started = performance.now();
  const progress = (i: number) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = i / Math.max(seconds, 1e-9);
    return `align ${
      bar(i / todo.length)
    } ${i}/${todo.length}  ${result.aligned} aligned, ${result.none} none, ` +
      `${result.errors.length} errors  ${rate.toFixed(1)} img/s  ETA ${
        formatDuration((todo.length - i) / rate)
      }`;
  };
  const print = (line: string, i: number) => {
    if (live) {
      Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${line}\n${progress(i)}`));
    } else {
      log(line);
      if (i % 25 === 0 || i === todo.length) log(progress(i));
    }
  };
  try {
    for (let i = 0; i < todo.length; i++) {
      const job = todo[i];
      let entry: AlignLogEntry;
      try {
        const photo = await decodePhoto(job.source);
        const faces = await analyzer.detect(photo, { minConfidence });
        const chosen = pickFace(faces, pick);
        if (!chosen) {
          entry = { source: job.rel, status: "none", faces: 0 };
          result.none++;
        } else {
          const face = faces[chosen.index];
          const { image, residual } = await analyzer.align(photo, face, { size, template });
          const target = join(out, job.output);
          await Deno.mkdir(dirname(target), { recursive: true });
          await writeFileAtomic(target, await encode(image, target));
          const r = (v: number) => Math.round(v * 10) / 10;
          entry = {
            source: job.rel,
            status: "aligned",
            faces: faces.length,
            kept: chosen.index,
            reason: chosen.reason,
            box: { x: r(face.box.x), y: r(face.box.y), width: r(face.box.width), height: r(face.box.height) },
            score: Math.round(face.score * 1e4) / 1e4,
            residual: r(residual),
            output: job.output,
          };
          result.aligned++;
        }
      } catch (e) {
        const error = (e as Error).message;
        entry = { source: job.rel, status: "error", error };
        result.errors.push({ source: job.rel, error });
      }
      await Deno.writeTextFile(join(out, ALIGN_LOG_FILE), JSON.stringify(entry) + "\n", { append: true });
      print(describe(entry), i + 1);
    }
  } finally {
    analyzer.dispose();
    if (live) Deno.stdout.writeSync(encoder.encode("\n"));
  }
  return result;
}

/** A template, and the output size when the file records one (an `alignment.json`). */
export interface AlignmentSpec {
  /** Where the five points go. */
  template: FaceTemplate;
  /** The output side the folder was aligned at, from an `alignment.json`. */
  size?: number;
}

/**
 * A template from a JSON file: `{ "name": ..., "points": [[x, y] x 5] }` (fractions of the side), or the
 * `alignment.json` of an aligned folder (its template and size). Errors name the file and the field.
 */
export async function readAlignmentSpec(path: string): Promise<AlignmentSpec> {
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`${path}: cannot read the template: ${(e as Error).message}`, { cause: e });
  }
  const v = value as { format?: unknown; template?: unknown; size?: unknown } | null;
  if (v && v.format === "ada-df-alignment") {
    if (!Number.isInteger(v.size) || (v.size as number) < 8) {
      throw new Error(`${path}: field size must be an integer of at least 8`);
    }
    return { template: checkTemplate(v.template, `${path}: template`), size: v.size as number };
  }
  return { template: checkTemplate(value, path) };
}
