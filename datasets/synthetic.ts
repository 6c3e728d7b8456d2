/**
 * A synthetic facial expression dataset with ground-truth label distributions.
 *
 * Every sample is a procedurally drawn face (rendered from SVG by sharp) whose expression is the blend
 * of the 7 emotions' facial actions (after FACS action units), weighted by the sample's ground-truth
 * distribution over the emotions: clear samples have one dominant emotion, mixed ones two or three with
 * realistic confusions (fear-surprise, disgust-anger, sadness-neutral, ...). The single label of each
 * sample is chosen the way crowdsourced datasets choose it: simulated annotators each draw an emotion
 * from the ground truth and the majority wins. Identity, skin tone, pose, scale, light, background,
 * occlusion, blur and noise vary from face to face.
 *
 * The dataset is written in RAF-DB's basic layout, so the RAF-DB loader reads it unchanged:
 *
 * ```
 * <dir>/EmoLabel/list_patition_label.txt   train_00001.jpg 5 / test_0001.jpg 1 (labels 1..7)
 * <dir>/Image/aligned/train_00001_aligned.jpg
 * <dir>/distributions.csv                  file,Surprise,Fear,Disgust,Happiness,Sadness,Anger,Neutral
 * <dir>/synthetic.json                     generator, version, seed, count, size, split sizes
 * ```
 *
 * Classes follow RAF-DB's order: Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral.
 * Generation is deterministic: the same options give byte-identical files.
 *
 * @example Generate a small set
 * ```ts ignore
 * import { generateSynthetic } from "./synthetic.ts";
 * const summary = await generateSynthetic("/tmp/synthetic", { count: 100, seed: 1, size: 64 });
 * console.log(summary.train, summary.test, summary.labelAgreement);
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import sharp, { type OverlayOptions } from "sharp";
import { Random } from "../engine/random.ts";
import { writeFileAtomic } from "../engine/files.ts";
import { type FaceFormat, faceSvg as buildFaceSvg, renderFaceImage } from "./_faces.ts";
import {
  argmax,
  EMOTIONS,
  type FaceParams,
  majorityVote,
  type SampledDistribution,
  sampleDistribution as sampleDistributionImpl,
  type SampleDistributionOptions,
  type SampleFaceOptions,
  sampleFaceParams as sampleFaceParamsImpl,
} from "./_faces_sampling.ts";

export type {
  ActionUnits,
  ClutterShape,
  DistributionKind,
  FaceIdentity,
  FaceParams,
  FaceScene,
  Occlusion,
  SampledDistribution,
  SampleDistributionOptions,
  SampleFaceOptions,
} from "./_faces_sampling.ts";
export type { FaceFormat } from "./_faces.ts";

/**
 * The synthetic set's class names, in RAF-DB's order: label `k` in the label file (1..7) is
 * `SYNTHETIC_CLASS_NAMES[k - 1]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SYNTHETIC_CLASS_NAMES } from "./synthetic.ts";
 * assert.equal(SYNTHETIC_CLASS_NAMES[3], "Happiness");
 * ```
 */
export const SYNTHETIC_CLASS_NAMES: readonly string[] = [...EMOTIONS];

/** The generator's name in `synthetic.json`. */
export const SYNTHETIC_GENERATOR = "ada-df-synthetic";

/** The generator's version: it changes whenever the same options would give different images. */
export const SYNTHETIC_VERSION = 1;

/** Options of {@linkcode generateSynthetic} and {@linkcode ensureSynthetic}. */
export interface SyntheticOptions {
  /** Number of images, train and test together (an integer >= 2). */
  count: number;
  /** Seed of everything random. @default {0} */
  seed?: number;
  /** Image side in pixels (16..1024). @default {112} */
  size?: number;
  /** Fraction of the images in the test split (0 <= f < 1). @default {0.2} */
  testFraction?: number;
  /** Simulated annotators voting for each label. @default {10} */
  annotators?: number;
  /**
   * Nuisance variation, 0 (plain, frontal, unoccluded faces on clean backgrounds) to 1 (pose, light,
   * clutter, occlusion, blur and noise as designed). @default {1}
   */
  nuisance?: number;
  /** Images rendered at the same time (does not change the output). @default {4} */
  concurrency?: number;
  /** Overwrite a folder that holds other files or a different dataset. @default {false} */
  force?: boolean;
  /** Called after each image with the number done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** What {@linkcode generateSynthetic} did. */
export interface SyntheticSummary {
  /** The dataset folder. */
  dir: string;
  /** Number of training images. */
  train: number;
  /** Number of test images. */
  test: number;
  /** Image side in pixels. */
  size: number;
  /** Wall-clock seconds spent. */
  seconds: number;
  /** Images written per second. */
  imagesPerSecond: number;
  /** Fraction of samples whose voted label equals the argmax of their ground truth. */
  labelAgreement: number;
  /** Number of images per label (index 0 = Surprise), train and test together. */
  labelCounts: number[];
}

/** The content of `synthetic.json`. */
export interface SyntheticMetadata {
  /** Always {@linkcode SYNTHETIC_GENERATOR}. */
  generator: string;
  /** {@linkcode SYNTHETIC_VERSION} of the generator that wrote the folder. */
  version: number;
  /** Seed. */
  seed: number;
  /** Total number of images. */
  count: number;
  /** Image side in pixels. */
  size: number;
  /** Fraction requested for the test split. */
  testFraction: number;
  /** Simulated annotators per label. */
  annotators: number;
  /** Nuisance variation, 0..1. */
  nuisance: number;
  /** Number of training images. */
  train: number;
  /** Number of test images. */
  test: number;
  /** Class names, in label order. */
  classes: string[];
  /** Fraction of samples whose voted label equals the argmax of their ground truth. */
  labelAgreement: number;
  /** Images per label (index 0 = Surprise) in each split. */
  labelCounts: { train: number[]; test: number[] };
}

/** What {@linkcode ensureSynthetic} found or made. */
export interface EnsureSyntheticResult {
  /** The dataset folder. */
  dir: string;
  /** Whether it was generated now (false: an existing complete copy was reused). */
  generated: boolean;
  /** The folder's `synthetic.json`. */
  metadata: SyntheticMetadata;
  /** The generation summary, when it was generated now. */
  summary?: SyntheticSummary;
}

/** Options of {@linkcode renderFace}. */
export interface RenderFaceOptions {
  /** Output format; `raw` gives `size * size * 3` RGB bytes. @default {"jpeg"} */
  format?: FaceFormat;
}

const LABEL_FILE = join("EmoLabel", "list_patition_label.txt");
const IMAGE_DIR = join("Image", "aligned");
const DISTRIBUTIONS_FILE = "distributions.csv";
const METADATA_FILE = "synthetic.json";
const PARTIAL_MARKER = ".synthetic-partial";
const IMAGE_NAME = /^(train|test)_\d+_aligned\.jpg$/;

/** One drawn sample. */
interface Sample {
  name: string;
  label: number;
  probabilities: number[];
  params: FaceParams;
}

interface ResolvedOptions {
  count: number;
  seed: number;
  size: number;
  testFraction: number;
  annotators: number;
  nuisance: number;
  concurrency: number;
  force: boolean;
}

function resolveOptions(options: SyntheticOptions, where: string): ResolvedOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${where}: options must be an object with at least "count"`);
  }
  const {
    count,
    seed = 0,
    size = 112,
    testFraction = 0.2,
    annotators = 10,
    nuisance = 1,
    concurrency = 4,
    force = false,
  } = options;
  const integer = (name: string, value: unknown, min: number, max: number) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${where}: option "${name}" must be an integer in [${min}, ${max}], got ${value}`);
    }
  };
  integer("count", count, 2, 10_000_000);
  integer("seed", seed, 0, 4294967295);
  integer("size", size, 16, 1024);
  integer("annotators", annotators, 1, 1000);
  integer("concurrency", concurrency, 1, 256);
  if (typeof nuisance !== "number" || !(nuisance >= 0 && nuisance <= 1)) {
    throw new RangeError(`${where}: option "nuisance" must be a number in [0, 1], got ${nuisance}`);
  }
  if (typeof testFraction !== "number" || !(testFraction >= 0 && testFraction < 1)) {
    throw new RangeError(`${where}: option "testFraction" must be a number in [0, 1), got ${testFraction}`);
  }
  const test = Math.round(count * testFraction);
  if (count - test < 1) {
    throw new RangeError(
      `${where}: count ${count} with testFraction ${testFraction} leaves no training image`,
    );
  }
  return { count, seed, size, testFraction, annotators, nuisance, concurrency, force: force === true };
}

function splitSizes(o: ResolvedOptions): { train: number; test: number } {
  const test = Math.round(o.count * o.testFraction);
  return { train: o.count - test, test };
}

/** Draws every sample from the seed, in order (so rendering order cannot change the result). */
function drawSamples(o: ResolvedOptions): Sample[] {
  const { train, test } = splitSizes(o);
  const trainWidth = Math.max(5, String(train).length);
  const testWidth = Math.max(4, String(test).length);
  const master = new Random(o.seed);
  const samples: Sample[] = [];
  for (let i = 0; i < o.count; i++) {
    const random = master.fork();
    const distribution = sampleDistributionImpl(random);
    const label = majorityVote(random, distribution.probabilities, o.annotators);
    const params = sampleFaceParamsImpl(random, distribution.probabilities, { nuisance: o.nuisance });
    const name = i < train
      ? `train_${String(i + 1).padStart(trainWidth, "0")}`
      : `test_${String(i - train + 1).padStart(testWidth, "0")}`;
    samples.push({ name, label, probabilities: distribution.probabilities, params });
  }
  return samples;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Reads a folder's `synthetic.json`; `null` when the folder has none (or it is not this generator's).
 *
 * @example
 * ```ts ignore
 * import { readSyntheticMetadata } from "./synthetic.ts";
 * const meta = await readSyntheticMetadata(".cache/ada-df/synthetic-2000-0-112");
 * console.log(meta?.train);
 * ```
 */
export async function readSyntheticMetadata(dir: string): Promise<SyntheticMetadata | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, METADATA_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  try {
    const meta = JSON.parse(text);
    if (meta && typeof meta === "object" && meta.generator === SYNTHETIC_GENERATOR) return meta;
    return null;
  } catch {
    return null;
  }
}

function sameDataset(meta: SyntheticMetadata, o: ResolvedOptions): boolean {
  return meta.generator === SYNTHETIC_GENERATOR && meta.version === SYNTHETIC_VERSION &&
    meta.seed === o.seed && meta.count === o.count && meta.size === o.size &&
    meta.testFraction === o.testFraction && meta.annotators === o.annotators &&
    (meta.nuisance ?? 1) === o.nuisance;
}

function describe(meta: SyntheticMetadata): string {
  return `version ${meta.version}, seed ${meta.seed}, count ${meta.count}, size ${meta.size}, ` +
    `testFraction ${meta.testFraction}, annotators ${meta.annotators}, nuisance ${meta.nuisance}`;
}

/** Decides whether `dir` may be written; returns whether it already existed with content. */
async function checkTarget(dir: string, o: ResolvedOptions): Promise<boolean> {
  let entries: string[];
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) {
      throw new Error(`Cannot generate the synthetic dataset into ${dir}: it is not a folder`);
    }
    entries = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  if (entries.length === 0) return false;
  if (o.force) return true;
  const meta = entries.includes(METADATA_FILE) ? await readSyntheticMetadata(dir) : null;
  if (meta) {
    if (sameDataset(meta, o)) return true;
    throw new Error(
      `Refusing to generate into ${dir}: it already holds a different synthetic dataset (${
        describe(meta)
      }); ` +
        `choose another folder or pass --force (option force) to overwrite it`,
    );
  }
  if (entries.includes(PARTIAL_MARKER) && !entries.includes(METADATA_FILE)) return true; // our own, unfinished
  const shown = entries.sort().slice(0, 3).join(", ") + (entries.length > 3 ? ", ..." : "");
  throw new Error(
    `Refusing to generate into ${dir}: the folder is not empty (${shown}) and holds no synthetic dataset; ` +
      `choose another folder or pass --force (option force) to overwrite it`,
  );
}

async function mapBounded<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = [];
  for (let w = 0; w < Math.min(concurrency, items.length); w++) workers.push(worker());
  await Promise.all(workers);
}

/**
 * Generates the synthetic dataset into `outDir` in RAF-DB's layout, plus `distributions.csv` and
 * `synthetic.json` (written last: a folder without it is incomplete).
 *
 * A folder that holds other files, or a synthetic dataset with different options, is refused unless
 * `force` is set. Regenerating the same options into the same folder, or finishing an interrupted
 * generation, is allowed. Every file is written to a temporary name and then renamed.
 *
 * @example Generate 1,000 faces of 112x112 pixels
 * ```ts ignore
 * import { generateSynthetic } from "./synthetic.ts";
 * const s = await generateSynthetic("data/synthetic", { count: 1000, seed: 42 });
 * console.log(`${s.train} train, ${s.test} test, ${s.imagesPerSecond.toFixed(0)} images/s`);
 * ```
 *
 * @example Small images, more annotators, a larger test split
 * ```ts ignore
 * import { generateSynthetic } from "./synthetic.ts";
 * await generateSynthetic("data/synth64", { count: 500, size: 64, annotators: 40, testFraction: 0.3 });
 * ```
 */
export async function generateSynthetic(
  outDir: string,
  options: SyntheticOptions,
): Promise<SyntheticSummary> {
  const o = resolveOptions(options, "generateSynthetic");
  const start = performance.now();
  const existed = await checkTarget(outDir, o);

  await Deno.mkdir(join(outDir, IMAGE_DIR), { recursive: true });
  await Deno.mkdir(join(outDir, "EmoLabel"), { recursive: true });
  // Mark the folder unfinished before anything else changes in it.
  await writeFileAtomic(join(outDir, PARTIAL_MARKER), "synthetic dataset being written\n");
  await Deno.remove(join(outDir, METADATA_FILE)).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });

  const samples = drawSamples(o);
  const { train, test } = splitSizes(o);
  let done = 0;
  await mapBounded(samples, o.concurrency, async (sample) => {
    const bytes = await renderFaceImage(sample.params, o.size, "jpeg");
    // No flush per image: the partial marker (flushed) makes a set cut short regenerate.
    await writeFileAtomic(join(outDir, IMAGE_DIR, `${sample.name}_aligned.jpg`), bytes, { sync: false });
    done++;
    options.onProgress?.(done, samples.length);
  });

  if (existed) {
    // Images of an earlier, larger generation would otherwise linger next to the new ones.
    const keep = new Set(samples.map((s) => `${s.name}_aligned.jpg`));
    for await (const entry of Deno.readDir(join(outDir, IMAGE_DIR))) {
      if (entry.isFile && IMAGE_NAME.test(entry.name) && !keep.has(entry.name)) {
        await Deno.remove(join(outDir, IMAGE_DIR, entry.name));
      }
    }
  }

  const csv = [`file,${SYNTHETIC_CLASS_NAMES.join(",")}`];
  const labels: string[] = [];
  const labelCounts = { train: new Array(7).fill(0), test: new Array(7).fill(0) };
  let agree = 0;
  for (const s of samples) {
    csv.push(`${s.name}.jpg,${roundedRow(s.probabilities).join(",")}`);
    labels.push(`${s.name}.jpg ${s.label + 1}`);
    labelCounts[s.name.startsWith("train") ? "train" : "test"][s.label]++;
    if (s.label === argmax(s.probabilities)) agree++;
  }
  await writeFileAtomic(join(outDir, DISTRIBUTIONS_FILE), csv.join("\n") + "\n");
  await writeFileAtomic(join(outDir, LABEL_FILE), labels.join("\n") + "\n");
  const labelAgreement = agree / samples.length;
  const meta: SyntheticMetadata = {
    generator: SYNTHETIC_GENERATOR,
    version: SYNTHETIC_VERSION,
    seed: o.seed,
    count: o.count,
    size: o.size,
    testFraction: o.testFraction,
    annotators: o.annotators,
    nuisance: o.nuisance,
    train,
    test,
    classes: [...SYNTHETIC_CLASS_NAMES],
    labelAgreement,
    labelCounts,
  };
  await writeFileAtomic(join(outDir, METADATA_FILE), JSON.stringify(meta, null, 2) + "\n");
  await Deno.remove(join(outDir, PARTIAL_MARKER)).catch(() => {});

  const seconds = (performance.now() - start) / 1000;
  return {
    dir: outDir,
    train,
    test,
    size: o.size,
    seconds,
    imagesPerSecond: samples.length / seconds,
    labelAgreement,
    labelCounts: labelCounts.train.map((v, k) => v + labelCounts.test[k]),
  };
}

/** Rounds a distribution to 6 decimals so that the written row still sums to 1 exactly (to 1e-6). */
function roundedRow(p: readonly number[]): string[] {
  const micro = p.map((v) => Math.round(v * 1e6));
  const diff = 1_000_000 - micro.reduce((s, v) => s + v, 0);
  micro[argmax(p)] += diff;
  return micro.map((v) => (v / 1e6).toFixed(6));
}

/**
 * The default cache folder of generated datasets: `$ADA_DF_CACHE` when set, otherwise
 * `.cache/ada-df` under the current directory.
 *
 * @param env Where `ADA_DF_CACHE` is read (the process environment by default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultCacheDir } from "./synthetic.ts";
 *
 * assert.equal(defaultCacheDir(new Map([["ADA_DF_CACHE", "/data/cache"]])), "/data/cache");
 * assert.ok(defaultCacheDir(new Map()).endsWith(".cache/ada-df"));
 * ```
 */
export function defaultCacheDir(env: { get(name: string): string | undefined } = Deno.env): string {
  let fromEnv: string | undefined;
  try {
    fromEnv = env.get("ADA_DF_CACHE");
  } catch {
    fromEnv = undefined; // no --allow-env: use the default
  }
  return fromEnv && fromEnv.length > 0 ? fromEnv : join(Deno.cwd(), ".cache", "ada-df");
}

/**
 * The folder name that {@linkcode ensureSynthetic} uses for the options:
 * `synthetic-<count>-<seed>-<size>`, plus `-t<testFraction>`, `-a<annotators>` and `-n<nuisance>` when
 * not the defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { syntheticCacheName } from "./synthetic.ts";
 * assert.equal(syntheticCacheName({ count: 2000, seed: 1 }), "synthetic-2000-1-112");
 * ```
 */
export function syntheticCacheName(options: SyntheticOptions): string {
  const o = resolveOptions(options, "syntheticCacheName");
  let name = `synthetic-${o.count}-${o.seed}-${o.size}`;
  if (o.testFraction !== 0.2) name += `-t${o.testFraction}`;
  if (o.annotators !== 10) name += `-a${o.annotators}`;
  if (o.nuisance !== 1) name += `-n${o.nuisance}`;
  return name;
}

/**
 * Returns a complete synthetic dataset for the options, generating it on first use into
 * `<cacheDir>/synthetic-<count>-<seed>-<size>` and reusing it afterwards when its `synthetic.json`
 * matches the options. A folder left incomplete by an interrupted run (no `synthetic.json`), or
 * written by another generator version, is regenerated.
 *
 * @param cacheDir The cache folder; `undefined` uses {@linkcode defaultCacheDir} (`$ADA_DF_CACHE`, else
 * `.cache/ada-df` under the current directory).
 *
 * @example A small set, generated once and reused afterwards
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureSynthetic } from "./synthetic.ts";
 *
 * const cache = await Deno.makeTempDir();
 * const first = await ensureSynthetic(cache, { count: 10, seed: 0, size: 16 });
 * assert.ok(first.generated);
 * assert.equal(first.summary!.train + first.summary!.test, 10);
 * const again = await ensureSynthetic(cache, { count: 10, seed: 0, size: 16 });
 * assert.ok(!again.generated);
 * assert.equal(again.dir, first.dir);
 * await Deno.remove(cache, { recursive: true });
 * ```
 */
export async function ensureSynthetic(
  cacheDir: string | undefined,
  options: SyntheticOptions,
): Promise<EnsureSyntheticResult> {
  const o = resolveOptions(options, "ensureSynthetic");
  const dir = join(cacheDir ?? defaultCacheDir(), syntheticCacheName(options));
  const meta = await readSyntheticMetadata(dir);
  if (
    meta && sameDataset(meta, o) && await exists(join(dir, LABEL_FILE)) &&
    await exists(join(dir, DISTRIBUTIONS_FILE)) && !await exists(join(dir, PARTIAL_MARKER))
  ) {
    return { dir, generated: false, metadata: meta };
  }
  const summary = await generateSynthetic(dir, { ...options, force: true });
  const written = await readSyntheticMetadata(dir);
  if (!written) throw new Error(`ensureSynthetic: ${join(dir, METADATA_FILE)} missing after generation`);
  return { dir, generated: true, metadata: written, summary };
}

/**
 * Draws a ground-truth emotion distribution (over {@linkcode SYNTHETIC_CLASS_NAMES}): one clear emotion
 * or a mixture of two or three, as the dataset does.
 *
 * @example A clear Happiness sample
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../engine/random.ts";
 * import { sampleDistribution } from "./synthetic.ts";
 * const d = sampleDistribution(new Random(1), { kind: "clear", dominant: 3 });
 * assert.equal(d.probabilities.indexOf(Math.max(...d.probabilities)), 3);
 * ```
 */
export function sampleDistribution(random: Random, options?: SampleDistributionOptions): SampledDistribution {
  return sampleDistributionImpl(random, options);
}

/**
 * Draws the parameters of one face expressing a distribution over the emotions: the blend of their
 * facial actions weighted by the distribution, a random intensity, identity and scene.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../engine/random.ts";
 * import { sampleFaceParams } from "./synthetic.ts";
 * const params = sampleFaceParams(new Random(3), [0, 0, 0, 1, 0, 0, 0], { nuisance: 0 });
 * assert.ok(params.actions.lipCornerPull > 0.3);
 * ```
 */
export function sampleFaceParams(
  random: Random,
  probabilities: readonly number[],
  options?: SampleFaceOptions,
): FaceParams {
  if (probabilities.length !== SYNTHETIC_CLASS_NAMES.length) {
    throw new RangeError(
      `sampleFaceParams: expected ${SYNTHETIC_CLASS_NAMES.length} probabilities, got ${probabilities.length}`,
    );
  }
  return sampleFaceParamsImpl(random, probabilities, options);
}

/**
 * The SVG document of one face (100x100 view box, `size` pixels square), before blur, contrast,
 * noise and compression.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../engine/random.ts";
 * import { faceSvg, sampleFaceParams } from "./synthetic.ts";
 * const svg = faceSvg(sampleFaceParams(new Random(0), [1, 0, 0, 0, 0, 0, 0]), 112);
 * assert.ok(svg.startsWith("<svg"));
 * ```
 */
export function faceSvg(params: FaceParams, size = 112): string {
  return buildFaceSvg(params, size);
}

/**
 * Renders one face: JPEG bytes by default (as stored in the dataset), or PNG, or raw RGB.
 *
 * @example Render a surprised face to a PNG file
 * ```ts ignore
 * import { Random } from "../engine/random.ts";
 * import { renderFace, sampleFaceParams } from "./synthetic.ts";
 * const params = sampleFaceParams(new Random(5), [1, 0, 0, 0, 0, 0, 0], { nuisance: 0 });
 * await Deno.writeFile("surprise.png", await renderFace(params, 112, { format: "png" }));
 * ```
 */
export async function renderFace(
  params: FaceParams,
  size = 112,
  options: RenderFaceOptions = {},
): Promise<Uint8Array> {
  if (!Number.isInteger(size) || size < 8 || size > 4096) {
    throw new RangeError(`renderFace: size must be an integer in [8, 4096], got ${size}`);
  }
  const format = options.format ?? "jpeg";
  if (format !== "jpeg" && format !== "png" && format !== "raw") {
    throw new RangeError(`renderFace: format must be "jpeg", "png" or "raw", got "${format}"`);
  }
  return await renderFaceImage(params, size, format);
}

/** Options of {@linkcode drawSyntheticGrid}. */
export interface SyntheticGridOptions {
  /** Seed of the faces. @default {0} */
  seed?: number;
  /** Size of one face in pixels. @default {112} */
  size?: number;
  /** Faces per row. @default {8} */
  perRow?: number;
  /** Rows of mixtures (pairs, then triples) under the clear rows. @default {2} */
  mixtureRows?: number;
  /** Nuisance variation, 0 (plain faces) to 1 (as in the dataset). @default {1} */
  nuisance?: number;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Draws a grid of synthetic faces as PNG bytes: one row of clear samples per emotion, then rows of
 * mixtures with their two largest ground-truth probabilities written under each face.
 *
 * @example A small grid: 7 clear rows and 2 mixture rows of 2 faces each
 * ```ts
 * import assert from "node:assert/strict";
 * import sharp from "sharp";
 * import { drawSyntheticGrid } from "./synthetic.ts";
 * const png = await drawSyntheticGrid({ seed: 1, size: 16, perRow: 2 });
 * const { width, height, format } = await sharp(png).metadata();
 * assert.equal(format, "png");
 * assert.equal(width, 118 + 2 * (16 + 4) + 4);
 * assert.equal(height, 7 * (16 + 4) + 2 * (16 + 30 + 4) + 4);
 * ```
 */
export async function drawSyntheticGrid(options: SyntheticGridOptions = {}): Promise<Uint8Array> {
  const { seed = 0, size = 112, perRow = 8, mixtureRows = 2, nuisance = 1 } = options;
  const integer = (name: string, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min) {
      throw new RangeError(`drawSyntheticGrid: ${name} must be an integer >= ${min}, got ${value}`);
    }
  };
  integer("size", size, 8);
  integer("perRow", perRow, 1);
  integer("mixtureRows", mixtureRows, 0);
  const random = new Random(seed);
  const labelWidth = 118;
  const gap = 4;
  const caption = 30;
  const rows: { title: string; faces: { png: Uint8Array; text?: string[] }[] }[] = [];
  const short = (k: number) => SYNTHETIC_CLASS_NAMES[k].slice(0, 4);
  for (let k = 0; k < SYNTHETIC_CLASS_NAMES.length; k++) {
    const faces = [];
    for (let i = 0; i < perRow; i++) {
      const r = random.fork();
      const d = sampleDistribution(r, { kind: "clear", dominant: k });
      faces.push({
        png: await renderFace(sampleFaceParams(r, d.probabilities, { nuisance }), size, { format: "png" }),
      });
    }
    rows.push({ title: SYNTHETIC_CLASS_NAMES[k], faces });
  }
  for (let m = 0; m < mixtureRows; m++) {
    const faces = [];
    for (let i = 0; i < perRow; i++) {
      const r = random.fork();
      const d = sampleDistribution(r, { kind: m % 2 === 0 ? "pair" : "triple" });
      const p = d.probabilities;
      const order = p.map((_, j) => j).sort((a, b) => p[b] - p[a]);
      faces.push({
        png: await renderFace(sampleFaceParams(r, p, { nuisance }), size, { format: "png" }),
        text: [
          `${short(order[0])} ${p[order[0]].toFixed(2)}`,
          `${short(order[1])} ${p[order[1]].toFixed(2)}`,
        ],
      });
    }
    rows.push({ title: m % 2 === 0 ? "Mixtures (2)" : "Mixtures (3)", faces });
  }
  const rowHeights = rows.map((r) => size + (r.faces.some((f) => f.text) ? caption : 0) + gap);
  const width = labelWidth + perRow * (size + gap) + gap;
  const height = rowHeights.reduce((s, h) => s + h, 0) + gap;
  const texts: string[] = [];
  const composites: OverlayOptions[] = [];
  let y = gap;
  rows.forEach((row, r) => {
    texts.push(
      `<text x="8" y="${y + size / 2 + 6}" font-family="DejaVu Sans, sans-serif" font-size="16" ` +
        `font-weight="bold" fill="#222">${escapeXml(row.title)}</text>`,
    );
    row.faces.forEach((face, i) => {
      const x = labelWidth + i * (size + gap);
      composites.push({ input: Buffer.from(face.png), left: x, top: y });
      face.text?.forEach((t, j) => {
        texts.push(
          `<text x="${x + size / 2}" y="${y + size + 13 + j * 13}" text-anchor="middle" ` +
            `font-family="DejaVu Sans, sans-serif" font-size="11" fill="#333">${escapeXml(t)}</text>`,
        );
      });
    });
    y += rowHeights[r];
  });
  const background = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="${width}" height="${height}" fill="#ffffff"/>${texts.join("")}</svg>`;
  const out = await sharp(Buffer.from(background)).composite(composites)
    .png({ palette: true, quality: 95, compressionLevel: 9, effort: 10 }).toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
