/**
 * The per-image pipeline: decode and resize with sharp, then the training augmentations on raw RGB
 * (RandAugment, horizontal flip), ImageNet normalisation into a float NHWC buffer, and random erasing
 * on the normalised values. Optionally TenCrop (resize the shorter side to `round(size * 256 / 224)`,
 * then ten `size` x `size` crops), with the augmentations applied to every crop, as the reference
 * does for SFEW.
 *
 * The order follows the reference code: Resize, RandAugment, RandomHorizontalFlip, ToTensor,
 * Normalize, RandomErasing.
 *
 * @module
 */
import type { Random } from "../engine/random.ts";
import { decodeImage, type ResizeKernel } from "./image.ts";
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

/**
 * Options of {@linkcode ImagePipeline}.
 *
 * @example Augment a raw 16x16 image into a float buffer
 * ```ts
 * import { Random } from "../engine/random.ts";
 * import { ImagePipeline, type PipelineOptions } from "./pipeline.ts";
 * const options: PipelineOptions = {
 *   size: 8,
 *   randAugment: "rand-m5-n3-mstd0.5",
 *   hflip: 0.5,
 *   erasing: { p: 0.5, scale: [0.02, 0.25] },
 * };
 * const pipeline = new ImagePipeline(options);
 * const image = { data: new Uint8Array(16 * 16 * 3).fill(120), width: 16, height: 16, channels: 3 as const };
 * const out = new Float32Array(pipeline.floatsPerItem);
 * await pipeline.process({ index: 0, label: 0, image, source: "inline" }, new Random(1), { out });
 * console.assert(out.length === 8 * 8 * 3);
 * ```
 */
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
 * Where {@linkcode ImagePipeline.process} writes an item's floats.
 *
 * @example Write two items into one batch buffer
 * ```ts
 * import { Random } from "../engine/random.ts";
 * import { ImagePipeline, type PipelineTarget } from "./pipeline.ts";
 * const pipeline = new ImagePipeline({ size: 4 });
 * const batch = new Float32Array(2 * pipeline.floatsPerItem);
 * for (const index of [0, 1]) {
 *   const data = new Uint8Array(4 * 4 * 3).fill(255 * index);
 *   const image = { data, width: 4, height: 4, channels: 3 as const };
 *   const target: PipelineTarget = { out: batch, offset: index * pipeline.floatsPerItem };
 *   await pipeline.process({ index, label: 0, image, source: `#${index}` }, new Random(index), target);
 * }
 * console.assert(batch[0] < 0 && batch[pipeline.floatsPerItem] > 0);
 * ```
 */
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

  /** Decodes and resizes an item (sharp, off the main thread). */
  decode(item: DatasetItem | Uint8Array): Promise<RgbImage> {
    const size = this.size;
    const resize = this.options.tenCrop
      ? { shorter: Math.round((size * 256) / 224) }
      : { width: size, height: size };
    return decodeImage(item, { resize, kernel: this.options.kernel });
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

/**
 * The datasets whose reference training recipe {@linkcode referencePipelineOptions} knows.
 *
 * @example The evaluation pipeline of each recipe
 * ```ts
 * import { ImagePipeline, type ReferenceRecipe, referencePipelineOptions } from "./pipeline.ts";
 * const recipes: ReferenceRecipe[] = ["rafdb", "affectnet", "sfew"];
 * for (const recipe of recipes) {
 *   const pipeline = new ImagePipeline(referencePipelineOptions(recipe, { size: 112 }).eval);
 *   console.log(recipe, pipeline.crops); // SFEW evaluates on ten crops
 * }
 * ```
 */
export type ReferenceRecipe = "rafdb" | "affectnet" | "sfew";

/**
 * Train and evaluation pipeline options of one recipe.
 *
 * @example Turn off erasing in the training pipeline of a recipe
 * ```ts
 * import { type RecipePipelines, referencePipelineOptions } from "./pipeline.ts";
 * const reference: RecipePipelines = referencePipelineOptions("affectnet", { size: 112 });
 * const pipelines: RecipePipelines = { ...reference, train: { ...reference.train, erasing: null } };
 * console.assert(pipelines.train.randAugment === "rand-m5-n3-mstd0.5" && pipelines.eval.hflip === 0);
 * ```
 */
export interface RecipePipelines {
  /** Training: RandAugment, flip, erasing (and TenCrop for SFEW). */
  train: PipelineOptions;
  /** Evaluation: resize and normalise (TenCrop for SFEW). */
  eval: PipelineOptions;
}

/**
 * The reference code's transforms: RAF-DB and AffectNet train with `rand-m5-n3-mstd0.5`, flip 0.5
 * and erasing (p 0.5, scale 0.02-0.25) on one resized crop; SFEW trains with `rand-m3-n5-mstd0.5`
 * on each of ten crops and evaluates on ten crops. RandAugment uses `translate_const` 117 and fill
 * (124, 116, 104).
 *
 * @example The RAF-DB pipelines at 112 pixels
 * ```ts
 * import { ImagePipeline, referencePipelineOptions } from "./pipeline.ts";
 * const { train, eval: test } = referencePipelineOptions("rafdb", { size: 112 });
 * const pipeline = new ImagePipeline(train);
 * console.assert(pipeline.crops === 1 && test.randAugment === null);
 * ```
 */
export function referencePipelineOptions(
  recipe: ReferenceRecipe,
  options: { size?: number } = {},
): RecipePipelines {
  const size = options.size ?? 224;
  const randAugmentHparams: Partial<RandAugmentHparams> = { translateConst: 117, imgMean: [124, 116, 104] };
  const erasing: RandomErasingOptions = { p: 0.5, scale: [0.02, 0.25], ratio: [0.3, 3.3], value: 0 };
  const sfew = recipe === "sfew";
  return {
    train: {
      size,
      randAugment: sfew ? "rand-m3-n5-mstd0.5" : "rand-m5-n3-mstd0.5",
      randAugmentHparams,
      hflip: 0.5,
      erasing,
      tenCrop: sfew,
    },
    eval: { size, randAugment: null, hflip: 0, erasing: null, tenCrop: sfew },
  };
}
