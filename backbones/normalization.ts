/**
 * The input normalisation a backbone was trained with: per-channel means and standard deviations on RGB
 * values in [0, 1], applied as `(value / 255 - mean) / std`. It is a property of the backbone's spec; the
 * image pipeline of a run, the export's `preprocess.json` and inference read it from there.
 *
 * @module
 */

/** Three per-channel numbers in RGB order: a colour (0..255 each) or a per-channel statistic. */
export type Rgb = readonly [number, number, number];

/** A per-channel normalisation on RGB values in [0, 1]: `(value / 255 - mean) / std`. */
export interface Normalization {
  /** Channel means on values in [0, 1]. */
  readonly mean: Rgb;
  /** Channel standard deviations on values in [0, 1]. */
  readonly std: Rgb;
}

/**
 * ImageNet's normalisation (torchvision's), that of the ResNets.
 *
 * @example The normalised value of a white red channel
 * ```ts
 * import assert from "node:assert/strict";
 * import { IMAGENET_NORMALIZATION } from "./normalization.ts";
 * const { mean, std } = IMAGENET_NORMALIZATION;
 * assert.ok(Math.abs((255 / 255 - mean[0]) / std[0] - 2.2489) < 1e-4);
 * ```
 */
export const IMAGENET_NORMALIZATION: Normalization = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};
