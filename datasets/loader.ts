/**
 * Batches for training and evaluation, prepared ahead: a {@linkcode DataLoader} keeps `prefetch`
 * batches in flight while the consumer works on the current one. sharp decodes and resizes on its
 * own threads; the pure-JS augmentations run on the main thread as each decode completes.
 *
 * Every sample's augmentation draws from its own generator, seeded from the loader's seed, the
 * epoch and the sample's position in the epoch, so batches are the same whatever order the decodes
 * finish in, and an epoch can be replayed on its own (resume).
 *
 * @module
 */
import { Random } from "../engine/random.ts";
import { deriveSeed } from "../engine/random.ts";
import { ImagePipeline, type PipelineOptions } from "./pipeline.ts";
import { type Sampler, sequentialSampler } from "./samplers.ts";
import { type Dataset, DatasetError } from "./types.ts";

/** One batch: plain typed arrays, NHWC, ready to become tensors. */
export interface Batch {
  /** Normalised pixels, `shape` row-major. */
  images: Float32Array;
  /** `[B * crops, size, size, 3]`; the crops of an image are consecutive. */
  shape: [number, number, number, 3];
  /** Labels, one per image (length B; repeat `crops` times to match `images`). */
  labels: Int32Array;
  /** Dataset indices, one per image (length B). */
  indices: Int32Array;
  /** Crops per image (1, or 10 with TenCrop): average the logits over each run of `crops`. */
  crops: number;
  /** Ground-truth label distributions `[B, C]`, when the dataset has them. */
  distributions?: Float32Array;
  /** The batch's position in its epoch (0-based; an epoch can be resumed from any position). */
  position?: number;
}

/** A sample left out because its image could not be decoded (`skipCorrupt`). */
export interface SkippedItem {
  /** Dataset index. */
  index: number;
  /** The file (or `file:line`). */
  source: string;
  /** Why it failed. */
  message: string;
}

/** Options of {@linkcode DataLoader}. */
export interface DataLoaderOptions {
  /**
   * Images per batch.
   * @default 32
   */
  batchSize?: number;
  /**
   * The per-image pipeline, or its options.
   * @default new ImagePipeline()
   */
  pipeline?: ImagePipeline | PipelineOptions;
  /**
   * The epoch order.
   * @default sequentialSampler(dataset.size)
   */
  sampler?: Sampler;
  /**
   * Drop the last, incomplete batch.
   * @default false
   */
  dropLast?: boolean;
  /**
   * Batches prepared ahead of the one being consumed (0: prepare each on demand).
   * @default 2
   */
  prefetch?: number;
  /**
   * Seed of the augmentations.
   * @default 0
   */
  seed?: number;
  /**
   * Skip images that fail to decode (and record them in {@linkcode DataLoader.skipped}) instead of
   * failing; a batch then holds fewer images. An epoch in which every image is skipped is an error
   * naming the dataset.
   * @default false
   */
  skipCorrupt?: boolean;
}

/**
 * Repeats each label `crops` times, to match a TenCrop batch's images.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { repeatLabels } from "./loader.ts";
 * assert.equal(repeatLabels(Int32Array.from([3, 5]), 2).join(), "3,3,5,5");
 * ```
 */
export function repeatLabels(labels: Int32Array, crops: number): Int32Array {
  const out = new Int32Array(labels.length * crops);
  for (let i = 0; i < labels.length; i++) out.fill(labels[i], i * crops, (i + 1) * crops);
  return out;
}

/**
 * Iterates over a dataset in batches of normalised images.
 *
 * @example Train-time batches of RAF-DB, reshuffled each epoch
 * ```ts ignore
 * import { DataLoader, rafDb, shuffleSampler } from "./mod.ts";
 * const train = await rafDb("/data/raf-basic", { split: "train" });
 * const loader = new DataLoader(train, {
 *   batchSize: 64,
 *   pipeline: {
 *     size: 112,
 *     randAugment: "rand-m5-n3-mstd0.5",
 *     hflip: 0.5,
 *     erasing: { p: 0.5, scale: [0.02, 0.25] },
 *   },
 *   sampler: shuffleSampler(train.size, { seed: 1 }),
 *   dropLast: true,
 *   seed: 1,
 * });
 * for (let epoch = 0; epoch < 2; epoch++) {
 *   for await (const batch of loader.batches(epoch)) {
 *     console.log(batch.shape, batch.labels.length);
 *   }
 * }
 * ```
 *
 * @example Batches of a dataset held in memory
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Dataset } from "./types.ts";
 * import { DataLoader } from "./loader.ts";
 *
 * // a 4x4 mid-grey image in memory (datasets read files; FER2013 carries pixels like this)
 * const image = { data: new Uint8Array(4 * 4 * 3).fill(128), width: 4, height: 4, channels: 3 as const };
 * const labels = Int32Array.from([0, 1, 0, 1, 1]);
 * const dataset: Dataset = {
 *   name: "memory", root: "memory", split: "train", classNames: ["Neutral", "Happiness"], size: 5, labels,
 *   item: (i) => ({ index: i, label: labels[i], image, source: `memory #${i}` }),
 * };
 * const loader = new DataLoader(dataset, { batchSize: 2, pipeline: { size: 8 } });
 * assert.equal(loader.length, 3); // the last batch holds one image
 * const shapes = [];
 * for await (const batch of loader.batches(0)) shapes.push(batch.shape);
 * assert.deepEqual(shapes, [[2, 8, 8, 3], [2, 8, 8, 3], [1, 8, 8, 3]]);
 * // the rest of the epoch from batch position 1 (a run resumed inside an epoch)
 * const rest = [];
 * for await (const batch of loader.batches(0, 1)) rest.push([batch.position, ...batch.indices]);
 * assert.deepEqual(rest, [[1, 2, 3], [2, 4]]);
 * ```
 */
export class DataLoader {
  /** The dataset it reads. */
  readonly dataset: Dataset;
  /** The per-image pipeline. */
  readonly pipeline: ImagePipeline;
  /** The epoch order. */
  readonly sampler: Sampler;
  /** Images per batch. */
  readonly batchSize: number;
  /** Whether the incomplete last batch is dropped. */
  readonly dropLast: boolean;
  /** Batches prepared ahead. */
  readonly prefetch: number;
  /** Seed of the augmentations. */
  readonly seed: number;
  /** Whether undecodable images are skipped. */
  readonly skipCorrupt: boolean;
  /** The distinct images skipped so far (with `skipCorrupt`), in the order they were first skipped. */
  readonly skipped: SkippedItem[] = [];
  #skippedIndices = new Set<number>();

  /** Creates a loader over `dataset`. */
  constructor(dataset: Dataset, options: DataLoaderOptions = {}) {
    this.dataset = dataset;
    this.pipeline = options.pipeline instanceof ImagePipeline
      ? options.pipeline
      : new ImagePipeline(options.pipeline ?? {});
    this.sampler = options.sampler ?? sequentialSampler(dataset.size);
    this.batchSize = options.batchSize ?? 32;
    this.dropLast = options.dropLast ?? false;
    this.prefetch = options.prefetch ?? 2;
    this.seed = options.seed ?? 0;
    this.skipCorrupt = options.skipCorrupt ?? false;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${this.batchSize}`);
    }
    if (!Number.isInteger(this.prefetch) || this.prefetch < 0) {
      throw new RangeError(`prefetch must be a non-negative integer, got ${this.prefetch}`);
    }
  }

  /** Number of batches in an epoch. */
  get length(): number {
    const n = this.sampler.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /**
   * The batches of one epoch, prepared `prefetch` ahead, from batch position `from` on (the rest of an
   * epoch, as an uninterrupted pass would have yielded it: orders and augmentations depend only on the
   * seed, the epoch and the position).
   */
  async *batches(epoch = 0, from = 0): AsyncGenerator<Batch> {
    const order = this.sampler.order(epoch);
    for (const i of order) {
      if (i < 0 || i >= this.dataset.size) throw new RangeError(`sampler index ${i} out of range`);
    }
    const count = this.length;
    if (!Number.isInteger(from) || from < 0 || from > count) {
      throw new RangeError(`from must be a batch position in [0, ${count}], got ${from}`);
    }
    const pending: Promise<Batch>[] = [];
    let next = from;
    const schedule = () => {
      const start = next * this.batchSize;
      const positions = order.subarray(start, Math.min(start + this.batchSize, order.length));
      const promise = this.#build(positions, epoch, start);
      promise.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
      pending.push(promise);
      next++;
    };
    while (next < count && pending.length < Math.max(1, this.prefetch)) schedule();
    let yielded = 0;
    while (pending.length > 0) {
      const batch = await pending.shift()!;
      while (next < count && pending.length < this.prefetch) schedule();
      if (batch.indices.length > 0) {
        yielded++;
        yield batch;
      }
      if (pending.length === 0 && next < count) schedule();
    }
    if (yielded === 0 && from === 0 && count > 0) {
      const { name, split, root } = this.dataset;
      throw new DatasetError(
        `split "${split}" of ${name} is empty: every one of its ${order.length} images failed to decode ` +
          `and was skipped (skipCorrupt), e.g. ${this.skipped[0]?.message ?? "?"}`,
        { file: root },
      );
    }
  }

  async #build(indices: Int32Array, epoch: number, start: number): Promise<Batch> {
    const pipeline = this.pipeline;
    const per = pipeline.floatsPerItem;
    const images = new Float32Array(indices.length * per);
    const ok = await Promise.all(Array.from(indices, async (index, k) => {
      const item = this.dataset.item(index);
      try {
        const decoded = await pipeline.decode(item);
        const random = new Random(deriveSeed(this.seed, 3, epoch, start + k));
        pipeline.finish(decoded, random, { out: images, offset: k * per });
        return true;
      } catch (error) {
        const wrapped = error instanceof DatasetError
          ? error
          : new DatasetError(`cannot process image: ${(error as Error).message}`, {
            file: item.source,
            cause: error,
          });
        if (!this.skipCorrupt) throw wrapped;
        if (!this.#skippedIndices.has(index)) {
          this.#skippedIndices.add(index);
          this.skipped.push({ index, source: item.source, message: wrapped.message });
        }
        return false;
      }
    }));
    let kept = indices;
    let pixels = images;
    if (ok.includes(false)) {
      const keep = ok.flatMap((good, k) => (good ? [k] : []));
      kept = Int32Array.from(keep, (k) => indices[k]);
      pixels = new Float32Array(keep.length * per);
      keep.forEach((k, j) => pixels.set(images.subarray(k * per, (k + 1) * per), j * per));
    }
    const size = pipeline.size;
    const batch: Batch = {
      images: pixels,
      shape: [kept.length * pipeline.crops, size, size, 3],
      labels: Int32Array.from(kept, (i) => this.dataset.labels[i]),
      indices: Int32Array.from(kept),
      crops: pipeline.crops,
      position: start / this.batchSize,
    };
    const distributions = this.dataset.distributions;
    if (distributions && distributions.length === this.dataset.size) {
      const classes = this.dataset.classNames.length;
      batch.distributions = new Float32Array(kept.length * classes);
      kept.forEach((i, j) => batch.distributions!.set(distributions[i], j * classes));
    }
    return batch;
  }
}
