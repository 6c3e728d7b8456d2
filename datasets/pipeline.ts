/**
 * The per-image pipeline: decode and resize with sharp, then the training augmentations on raw RGB
 * (RandAugment, horizontal flip), ImageNet normalisation into a float NHWC buffer, and random erasing
 * on the normalised values. Optionally TenCrop (resize the shorter side to `round(size * 256 / 224)`,
 * the longer one in proportion, truncated as torchvision's `Resize(256)` does, then ten `size` x `size`
 * crops), with the augmentations applied to every crop, as the reference does for SFEW.
 *
 * The order follows the reference code: Resize, RandAugment, RandomHorizontalFlip, ToTensor,
 * Normalize, RandomErasing.
 *
 * @module
 */
import sharp from "sharp";
import type { Random } from "../engine/random.ts";
import { checkImageFile, decodeImage, type ResizeKernel, type ResizeSpec } from "./image.ts";
import { RandAugment, type RandAugmentHparams } from "./randaugment.ts";
import {
  hflip,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizeInto,
  randomErasingInPlace,
  type RandomErasingOptions,
  type Rgb,
  type RgbImage,
  tenCrop,
} from "./transforms.ts";
import type { DatasetItem } from "./types.ts";

/** Options of {@linkcode ImagePipeline}. */
export interface PipelineOptions {
  /**
   * Output side in pixels (images are `size` x `size`).
   * @default 224
   */
  size?: number;
  /**
   * A timm RandAugment string such as `"rand-m5-n3-mstd0.5"`, or null for none.
   * @default null
   */
  randAugment?: string | null;
  /**
   * timm hyper-parameters of RandAugment (`translateConst`, `imgMean`, `interpolation`...).
   * @default {}
   */
  randAugmentHparams?: Partial<RandAugmentHparams>;
  /**
   * Probability of a horizontal flip.
   * @default 0
   */
  hflip?: number;
  /**
   * Random erasing (applied after normalisation), or null for none.
   * @default null
   */
  erasing?: RandomErasingOptions | null;
  /**
   * Ten crops per image instead of one.
   * @default false
   */
  tenCrop?: boolean;
  /**
   * Normalisation means.
   * @default IMAGENET_MEAN
   */
  mean?: Rgb;
  /**
   * Normalisation standard deviations.
   * @default IMAGENET_STD
   */
  std?: Rgb;
  /**
   * sharp's resize kernel.
   * @default "linear"
   */
  kernel?: ResizeKernel;
}

/**
 * torchvision's `Resize(n)` on a `width` x `height` image: the shorter side becomes `n`, the longer
 * `int(n * long / short)` (truncated, where a resize that rounds gives one pixel more for 300x257).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resizeShorterSize } from "./pipeline.ts";
 * assert.deepEqual(resizeShorterSize(300, 257, 256), { width: 298, height: 256 });
 * assert.deepEqual(resizeShorterSize(81, 100, 256), { width: 256, height: 316 });
 * ```
 */
export function resizeShorterSize(
  width: number,
  height: number,
  shorter: number,
): { width: number; height: number } {
  if (!(width > 0 && height > 0 && shorter > 0)) {
    throw new RangeError(`resizeShorterSize: sizes must be positive, got ${width}x${height} to ${shorter}`);
  }
  const long = Math.trunc((shorter * Math.max(width, height)) / Math.min(width, height));
  return width <= height ? { width: shorter, height: long } : { width: long, height: shorter };
}

/** The stored width and height of an item's image, or undefined when they cannot be read (yet). */
async function sourceSize(
  item: DatasetItem | Uint8Array,
): Promise<{ width: number; height: number } | undefined> {
  if (!(item instanceof Uint8Array) && item.image) {
    return { width: item.image.width, height: item.image.height };
  }
  try {
    if (!(item instanceof Uint8Array)) {
      if (item.path === undefined) return undefined;
      await checkImageFile(item.path);
    }
    const { width, height } = await sharp(item instanceof Uint8Array ? item : item.path).metadata();
    return width && height ? { width, height } : undefined;
  } catch {
    return undefined; // decoding reports the problem, with the file's name
  }
}

/** Where {@linkcode ImagePipeline.process} writes an item's floats. */
export interface PipelineTarget {
  /** The buffer (e.g. a whole batch). */
  out: Float32Array;
  /**
   * Where the item starts, in floats.
   * @default 0
   */
  offset?: number;
}

/**
 * Turns dataset items into normalised float crops.
 *
 * @example Process one item into a buffer
 * ```ts ignore
 * import { Random } from "../engine/random.ts";
 * import { ImagePipeline } from "./pipeline.ts";
 * const pipeline = new ImagePipeline({ size: 112, randAugment: "rand-m5-n3-mstd0.5", hflip: 0.5 });
 * const out = new Float32Array(pipeline.floatsPerItem);
 * const item = { index: 0, label: 0, path: "face.jpg", source: "face.jpg" };
 * await pipeline.process(item, new Random(1), { out });
 * ```
 *
 * @example Resize and normalise an image in memory
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../engine/random.ts";
 * import { IMAGENET_MEAN, IMAGENET_STD } from "./transforms.ts";
 * import { ImagePipeline } from "./pipeline.ts";
 *
 * // a 4x4 mid-grey image in memory (datasets read files; FER2013 carries pixels like this)
 * const image = { data: new Uint8Array(4 * 4 * 3).fill(128), width: 4, height: 4, channels: 3 as const };
 * const pipeline = new ImagePipeline({ size: 8 });
 * assert.equal(pipeline.floatsPerItem, 8 * 8 * 3);
 * const out = new Float32Array(pipeline.floatsPerItem);
 * await pipeline.process({ index: 0, label: 0, image, source: "memory" }, new Random(1), { out });
 * // every pixel of the red channel: (128 / 255 - mean) / std
 * const red = (128 / 255 - IMAGENET_MEAN[0]) / IMAGENET_STD[0];
 * assert.ok(Math.abs(out[0] - red) < 1e-3 && Math.abs(out[out.length - 3] - red) < 1e-3);
 * ```
 */
export class ImagePipeline {
  /** Output side in pixels. */
  readonly size: number;
  /** Crops per item: 1, or 10 with TenCrop. */
  readonly crops: number;
  /** The options it was built with (defaults filled in). */
  readonly options: Readonly<Required<Omit<PipelineOptions, "randAugment" | "erasing">>> & {
    randAugment: string | null;
    erasing: RandomErasingOptions | null;
  };
  #randAugment?: RandAugment;

  /** Builds the pipeline (parses the RandAugment string). */
  constructor(options: PipelineOptions = {}) {
    const size = options.size ?? 224;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pipeline size must be a positive integer`);
    this.options = {
      size,
      randAugment: options.randAugment ?? null,
      randAugmentHparams: options.randAugmentHparams ?? {},
      hflip: options.hflip ?? 0,
      erasing: options.erasing ?? null,
      tenCrop: options.tenCrop ?? false,
      mean: options.mean ?? IMAGENET_MEAN,
      std: options.std ?? IMAGENET_STD,
      kernel: options.kernel ?? "linear",
    };
    this.size = size;
    this.crops = this.options.tenCrop ? 10 : 1;
    if (this.options.randAugment) {
      this.#randAugment = new RandAugment(this.options.randAugment, this.options.randAugmentHparams);
    }
  }

  /** Floats one item occupies in a batch: `crops * size * size * 3`. */
  get floatsPerItem(): number {
    return this.crops * this.size * this.size * 3;
  }

  /**
   * Decodes and resizes an item (sharp, off the main thread): to `size` x `size`, or for TenCrop the
   * shorter side to `round(size * 256 / 224)` and the longer one as torchvision computes it
   * ({@linkcode resizeShorterSize}).
   */
  async decode(item: DatasetItem | Uint8Array): Promise<RgbImage> {
    const size = this.size;
    let resize: ResizeSpec = { width: size, height: size };
    if (this.options.tenCrop) {
      const shorter = Math.round((size * 256) / 224);
      const source = await sourceSize(item);
      resize = source ? resizeShorterSize(source.width, source.height, shorter) : { shorter };
    }
    return await decodeImage(item, { resize, kernel: this.options.kernel });
  }

  /** The augmented 8-bit crops of a decoded image (RandAugment and flip per crop). */
  augment(image: RgbImage, random: Random): RgbImage[] {
    const crops = this.options.tenCrop ? tenCrop(image, this.size) : [image];
    return crops.map((crop) => {
      let out = crop;
      if (this.#randAugment) out = this.#randAugment.apply(out, random);
      if (this.options.hflip > 0 && random.next() < this.options.hflip) out = hflip(out);
      return out;
    });
  }

  /**
   * Runs the whole pipeline on one item and writes its crops, normalised, into `target.out` at
   * `target.offset` (`floatsPerItem` floats, crop after crop, each HWC).
   */
  async process(item: DatasetItem, random: Random, target: PipelineTarget): Promise<void> {
    const decoded = await this.decode(item);
    this.finish(decoded, random, target);
  }

  /** The main-thread part of {@linkcode ImagePipeline.process}: augment, normalise, erase. */
  finish(decoded: RgbImage, random: Random, target: PipelineTarget): void {
    const { out, offset = 0 } = target;
    const crops = this.augment(decoded, random);
    const floats = this.size * this.size * 3;
    crops.forEach((crop, k) => {
      const at = offset + k * floats;
      normalizeInto(crop, out, { offset: at, mean: this.options.mean, std: this.options.std });
      if (this.options.erasing) {
        randomErasingInPlace(
          { data: out, width: this.size, height: this.size, offset: at },
          random,
          this.options.erasing,
        );
      }
    });
  }
}
