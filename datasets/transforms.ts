/**
 * Pixel operations on raw RGB images (8 bits per channel, interleaved, row-major), with Pillow's
 * semantics, which timm's RandAugment and torchvision's transforms use: point operations (invert,
 * solarize, posterize, auto-contrast, equalize), enhancements (color, contrast, brightness,
 * sharpness), affine warps (rotate, shear, translate) sampled at pixel centres with nearest,
 * bilinear or bicubic interpolation and a fill colour, flips and crops (TenCrop), and the float
 * steps that follow (ImageNet normalisation, random erasing).
 *
 * Every operation returns a new image and leaves its input untouched, except the `*InPlace` ones.
 *
 * @module
 */
import { IMAGENET_NORMALIZATION, type Rgb } from "../backbones/normalization.ts";
import type { Random } from "../engine/random.ts";

/** An 8-bit RGB image: `data.length === width * height * 3`. */
export interface RgbImage {
  /** Interleaved RGB bytes, row-major. */
  data: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Resampling filter of the affine operations. */
export type Interpolation = "nearest" | "bilinear" | "bicubic";

export type { Rgb };

/** Options of the affine operations. */
export interface AffineOptions {
  /**
   * Colour of the pixels that come from outside the source image.
   * @default [128, 128, 128]
   */
  fill?: Rgb;
  /**
   * Resampling filter.
   * @default "bilinear"
   */
  interpolation?: Interpolation;
}

/**
 * ImageNet channel means (RGB, on 0..1 values).
 *
 * @example The normalised value of a mid-grey red channel
 * ```ts
 * import assert from "node:assert/strict";
 * import { IMAGENET_MEAN, IMAGENET_STD } from "./transforms.ts";
 * const v = (128 / 255 - IMAGENET_MEAN[0]) / IMAGENET_STD[0];
 * assert.equal(v.toFixed(3), "0.074");
 * ```
 */
export const IMAGENET_MEAN: Rgb = IMAGENET_NORMALIZATION.mean;
/**
 * ImageNet channel standard deviations (RGB, on 0..1 values).
 *
 * @example Undo the normalisation of a pixel
 * ```ts
 * import assert from "node:assert/strict";
 * import { IMAGENET_MEAN, IMAGENET_STD, normalizeInto, rgbImage } from "./transforms.ts";
 * const out = new Float32Array(3);
 * normalizeInto(rgbImage(new Uint8Array([10, 20, 30]), 1, 1), out);
 * const bytes = [0, 1, 2].map((c) => Math.round((out[c] * IMAGENET_STD[c] + IMAGENET_MEAN[c]) * 255));
 * assert.equal(bytes.join(), "10,20,30");
 * ```
 */
export const IMAGENET_STD: Rgb = IMAGENET_NORMALIZATION.std;

/**
 * Makes an image from bytes, checking the length.
 *
 * @example A 1x1 red image
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbImage } from "./transforms.ts";
 * const red = rgbImage(new Uint8Array([255, 0, 0]), 1, 1);
 * assert.equal(red.width, 1);
 * ```
 */
export function rgbImage(data: Uint8Array, width: number, height: number): RgbImage {
  if (data.length !== width * height * 3) {
    throw new RangeError(
      `RGB image ${width}x${height} needs ${width * height * 3} bytes, got ${data.length}`,
    );
  }
  return { data, width, height };
}

function applyLut(image: RgbImage, lut: Uint8Array): RgbImage {
  const src = image.data;
  const out = new Uint8Array(src.length);
  if (lut.length === 256) {
    for (let i = 0; i < src.length; i++) out[i] = lut[src[i]];
  } else {
    for (let i = 0; i < src.length; i += 3) {
      out[i] = lut[src[i]];
      out[i + 1] = lut[256 + src[i + 1]];
      out[i + 2] = lut[512 + src[i + 2]];
    }
  }
  return { data: out, width: image.width, height: image.height };
}

function histograms(image: RgbImage): Uint32Array {
  const h = new Uint32Array(768);
  const src = image.data;
  for (let i = 0; i < src.length; i += 3) {
    h[src[i]]++;
    h[256 + src[i + 1]]++;
    h[512 + src[i + 2]]++;
  }
  return h;
}

/**
 * `255 - v` on every channel (Pillow `ImageOps.invert`).
 *
 * @example Inverting twice gives the image back
 * ```ts
 * import assert from "node:assert/strict";
 * import { invert, rgbImage } from "./transforms.ts";
 * const image = rgbImage(new Uint8Array([0, 100, 255]), 1, 1);
 * assert.equal(invert(invert(image)).data[1], 100);
 * ```
 */
export function invert(image: RgbImage): RgbImage {
  return applyLut(image, Uint8Array.from({ length: 256 }, (_, i) => 255 - i));
}

/**
 * Inverts the values at or above `threshold` (Pillow `ImageOps.solarize`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbImage, solarize } from "./transforms.ts";
 * const out = solarize(rgbImage(new Uint8Array([127, 128, 200]), 1, 1), 128);
 * assert.equal(out.data[0], 127);
 * assert.equal(out.data[1], 127);
 * assert.equal(out.data[2], 55);
 * ```
 */
export function solarize(image: RgbImage, threshold: number): RgbImage {
  return applyLut(image, Uint8Array.from({ length: 256 }, (_, i) => (i < threshold ? i : 255 - i)));
}

/**
 * Adds `add` to the values below `options.threshold` (default 128), saturating at 255 (timm's
 * `solarize_add`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbImage, solarizeAdd } from "./transforms.ts";
 * const out = solarizeAdd(rgbImage(new Uint8Array([10, 127, 128]), 1, 1), 50);
 * assert.equal(out.data[0], 60);
 * assert.equal(out.data[1], 177);
 * assert.equal(out.data[2], 128);
 * ```
 */
export function solarizeAdd(image: RgbImage, add: number, options: { threshold?: number } = {}): RgbImage {
  const threshold = options.threshold ?? 128;
  return applyLut(
    image,
    Uint8Array.from({ length: 256 }, (_, i) => (i < threshold ? Math.min(255, i + add) : i)),
  );
}

/**
 * Keeps the `bits` most significant bits of each channel (Pillow `ImageOps.posterize`); 8 or more
 * bits leaves the image unchanged, 0 makes it black.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { posterize, rgbImage } from "./transforms.ts";
 * assert.equal(posterize(rgbImage(new Uint8Array([255, 100, 7]), 1, 1), 2).data[1], 64);
 * ```
 */
export function posterize(image: RgbImage, bits: number): RgbImage {
  if (bits >= 8) return { ...image, data: image.data.slice() };
  const mask = ~((1 << (8 - Math.max(0, bits))) - 1) & 255;
  return applyLut(image, Uint8Array.from({ length: 256 }, (_, i) => i & mask));
}

/**
 * Stretches each channel so its darkest value becomes 0 and its brightest 255 (Pillow
 * `ImageOps.autocontrast` with no cutoff); a constant channel is left as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { autoContrast, rgbImage } from "./transforms.ts";
 * const out = autoContrast(rgbImage(new Uint8Array([50, 0, 0, 150, 0, 0]), 2, 1));
 * assert.equal(out.data[0], 0);
 * assert.equal(out.data[3], 255);
 * ```
 */
export function autoContrast(image: RgbImage): RgbImage {
  const h = histograms(image);
  const lut = new Uint8Array(768);
  for (let band = 0; band < 3; band++) {
    const base = band * 256;
    let lo = 0;
    while (lo < 256 && h[base + lo] === 0) lo++;
    let hi = 255;
    while (hi >= 0 && h[base + hi] === 0) hi--;
    if (hi <= lo) {
      for (let i = 0; i < 256; i++) lut[base + i] = i;
      continue;
    }
    const scale = 255 / (hi - lo);
    const offset = -lo * scale;
    for (let i = 0; i < 256; i++) {
      const v = Math.trunc(i * scale + offset);
      lut[base + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return applyLut(image, lut);
}

/**
 * Equalises each channel's histogram (Pillow 9.4 `ImageOps.equalize`: the lookup step is (pixels - count of the
 * last non-empty bin) // 255).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { equalize, rgbImage } from "./transforms.ts";
 * // 256 dark pixels, then 256 bright ones
 * const data = new Uint8Array(512 * 3).fill(10, 0, 768).fill(20, 768);
 * const out = equalize(rgbImage(data, 512, 1));
 * assert.equal(out.data[0], 0);
 * assert.equal(out.data[768], 255);
 * ```
 */
export function equalize(image: RgbImage): RgbImage {
  const h = histograms(image);
  const lut = new Uint8Array(768);
  for (let band = 0; band < 3; band++) {
    const base = band * 256;
    let total = 0;
    let last = 0;
    let nonZero = 0;
    for (let i = 0; i < 256; i++) {
      if (h[base + i]) {
        total += h[base + i];
        last = h[base + i];
        nonZero++;
      }
    }
    const step = nonZero <= 1 ? 0 : Math.floor((total - last) / 255);
    if (step === 0) {
      for (let i = 0; i < 256; i++) lut[base + i] = i;
      continue;
    }
    let n = Math.floor(step / 2);
    for (let i = 0; i < 256; i++) {
      lut[base + i] = Math.min(255, Math.floor(n / step));
      n += h[base + i];
    }
  }
  return applyLut(image, lut);
}

/** Pillow's `Image.blend(degenerate, image, factor)`, which every `ImageEnhance` class applies. */
function blend(degenerate: Uint8Array, image: RgbImage, factor: number): RgbImage {
  const alpha = Math.fround(factor);
  const src = image.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const a = degenerate[i];
    const v = Math.fround(a + Math.fround(alpha * (src[i] - a)));
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
  }
  return { data: out, width: image.width, height: image.height };
}

function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
}

/**
 * Blends with the grey version of the image: 0 = grey, 1 = unchanged, 2 = twice as saturated
 * (Pillow `ImageEnhance.Color`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { color, rgbImage } from "./transforms.ts";
 * const grey = color(rgbImage(new Uint8Array([200, 100, 0]), 1, 1), 0);
 * assert.equal(grey.data[0], grey.data[1]);
 * assert.equal(grey.data[1], grey.data[2]);
 * ```
 */
export function color(image: RgbImage, factor: number): RgbImage {
  const src = image.data;
  const degenerate = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const l = luma(src[i], src[i + 1], src[i + 2]);
    degenerate[i] = degenerate[i + 1] = degenerate[i + 2] = l;
  }
  return blend(degenerate, image, factor);
}

/**
 * Blends with a flat image of the mean grey level: 0 = flat, 1 = unchanged (Pillow
 * `ImageEnhance.Contrast`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contrast, rgbImage } from "./transforms.ts";
 * const flat = contrast(rgbImage(new Uint8Array([0, 0, 0, 200, 200, 200]), 2, 1), 0);
 * assert.equal(flat.data[0], 100);
 * assert.equal(flat.data[3], 100);
 * ```
 */
export function contrast(image: RgbImage, factor: number): RgbImage {
  const src = image.data;
  let sum = 0;
  for (let i = 0; i < src.length; i += 3) sum += luma(src[i], src[i + 1], src[i + 2]);
  const mean = Math.trunc(sum / (src.length / 3) + 0.5);
  return blend(new Uint8Array(src.length).fill(mean), image, factor);
}

/**
 * Scales towards black: 0 = black, 1 = unchanged (Pillow `ImageEnhance.Brightness`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { brightness, rgbImage } from "./transforms.ts";
 * assert.equal(brightness(rgbImage(new Uint8Array([100, 200, 50]), 1, 1), 0.5).data[0], 50);
 * ```
 */
export function brightness(image: RgbImage, factor: number): RgbImage {
  return blend(new Uint8Array(image.data.length), image, factor);
}

/**
 * Blends with Pillow's SMOOTH-filtered image (3x3 kernel 1 1 1 / 1 5 1 / 1 1 1, border pixels
 * kept): 0 = smoothed, 1 = unchanged, 2 = sharpened (Pillow `ImageEnhance.Sharpness`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbImage, sharpness } from "./transforms.ts";
 * const image = rgbImage(new Uint8Array(27).fill(9), 3, 3);
 * assert.equal(sharpness(image, 2).data[12], 9);
 * ```
 */
export function sharpness(image: RgbImage, factor: number): RgbImage {
  const { width: w, height: h, data: src } = image;
  const smooth = src.slice();
  const k = 1 / 13;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      for (let c = 0; c < 3; c++) {
        const at = (y * w + x) * 3 + c;
        const up = at - w * 3;
        const down = at + w * 3;
        const sum = src[up - 3] + src[up] + src[up + 3] + src[at - 3] + 5 * src[at] + src[at + 3] +
          src[down - 3] +
          src[down] + src[down + 3];
        const v = sum * k + 0.5;
        smooth[at] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
      }
    }
  }
  return blend(smooth, image, factor);
}

function cubic(v1: number, v2: number, v3: number, v4: number, d: number): number {
  // Pillow's affine bicubic (cubic convolution with a = -1).
  const p2 = v3 - v1;
  const p3 = 2 * (v1 - v2) + v3 - v4;
  const p4 = -v1 + v2 - v3 + v4;
  return v2 + d * (p2 + d * (p3 + d * p4));
}

/**
 * Pillow's `Image.transform(size, AFFINE, (a, b, c, d, e, f))`: output pixel (x, y) takes the input
 * at (a x + b y + c, d x + e y + f), coordinates measured at pixel centres; pixels that map outside
 * the input get `fill`.
 *
 * @example Shift right by one pixel
 * ```ts
 * import assert from "node:assert/strict";
 * import { affine, rgbImage } from "./transforms.ts";
 * const image = rgbImage(new Uint8Array([10, 10, 10, 20, 20, 20]), 2, 1);
 * const out = affine(image, [1, 0, -1, 0, 1, 0], { fill: [0, 0, 0] });
 * assert.equal(out.data[0], 0);
 * assert.equal(out.data[3], 10);
 * ```
 */
export function affine(
  image: RgbImage,
  matrix: readonly [number, number, number, number, number, number],
  options: AffineOptions = {},
): RgbImage {
  const { width: w, height: h, data: src } = image;
  const [a, b, c, d, e, f] = matrix;
  const fill = options.fill ?? [128, 128, 128];
  const mode = options.interpolation ?? "bilinear";
  if (mode === "nearest") return nearestAffine(image, matrix, fill);
  const out = new Uint8Array(src.length);
  const row = w * 3;
  let o = 0;
  for (let y = 0; y < h; y++) {
    const yc = y + 0.5;
    for (let x = 0; x < w; x++, o += 3) {
      const xc = x + 0.5;
      const xin = a * xc + b * yc + c;
      const yin = d * xc + e * yc + f;
      if (!(xin >= 0 && xin < w && yin >= 0 && yin < h)) {
        out[o] = fill[0];
        out[o + 1] = fill[1];
        out[o + 2] = fill[2];
        continue;
      }
      const xs = xin - 0.5;
      const ys = yin - 0.5;
      const x0 = Math.floor(xs);
      const y0 = Math.floor(ys);
      const dx = xs - x0;
      const dy = ys - y0;
      if (mode === "bilinear") {
        const xa = (x0 < 0 ? 0 : x0) * 3;
        const xb = (x0 + 1 >= w ? w - 1 : x0 + 1) * 3;
        const ya = (y0 < 0 ? 0 : y0) * row;
        const yb = (y0 + 1 >= h ? h - 1 : y0 + 1) * row;
        for (let ch = 0; ch < 3; ch++) {
          const top = src[ya + xa + ch] + (src[ya + xb + ch] - src[ya + xa + ch]) * dx;
          const bottom = src[yb + xa + ch] + (src[yb + xb + ch] - src[yb + xa + ch]) * dx;
          const v = top + (bottom - top) * dy;
          out[o + ch] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
        }
      } else {
        const xi = [x0 - 1, x0, x0 + 1, x0 + 2].map((v) => (v < 0 ? 0 : v >= w ? w - 1 : v) * 3);
        const yi = [y0 - 1, y0, y0 + 1, y0 + 2].map((v) => (v < 0 ? 0 : v >= h ? h - 1 : v) * row);
        for (let ch = 0; ch < 3; ch++) {
          const r = yi.map((yy) =>
            cubic(src[yy + xi[0] + ch], src[yy + xi[1] + ch], src[yy + xi[2] + ch], src[yy + xi[3] + ch], dx)
          );
          const v = cubic(r[0], r[1], r[2], r[3], dy);
          out[o + ch] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
        }
      }
    }
  }
  return { data: out, width: w, height: h };
}

/**
 * Nearest-neighbour affine resampling as Pillow 9.4 computes it (`Geometry.c`): a pure scale or
 * translation steps in floating point from the first pixel centre; any other matrix whose corners fit
 * steps in 16.16 fixed point (so coordinates that fall exactly on a pixel edge round the way Pillow's
 * do); larger images step in floating point along each row.
 */
function nearestAffine(
  image: RgbImage,
  [a, b, c, d, e, f]: readonly [number, number, number, number, number, number],
  fill: readonly [number, number, number],
): RgbImage {
  const { width: w, height: h, data: src } = image;
  const out = new Uint8Array(src.length);
  for (let o = 0; o < out.length; o += 3) out.set(fill, o);
  const coord = (v: number) => (v < 0 ? -1 : Math.trunc(v));
  const put = (x: number, y: number, xin: number, yin: number) => {
    if (xin < 0 || xin >= w || yin < 0 || yin >= h) return;
    const from = (yin * w + xin) * 3;
    const to = (y * w + x) * 3;
    out[to] = src[from];
    out[to + 1] = src[from + 1];
    out[to + 2] = src[from + 2];
  };
  if (b === 0 && d === 0) {
    const xs: number[] = [];
    for (let x = 0, xo = c + a * 0.5; x < w; x++, xo += a) xs.push(coord(xo));
    for (let y = 0, yo = f + e * 0.5; y < h; y++, yo += e) {
      const yin = coord(yo);
      for (let x = 0; x < w; x++) put(x, y, xs[x], yin);
    }
    return { data: out, width: w, height: h };
  }
  const fits = (x: number, y: number) =>
    Math.abs(x * a + y * b + c) < 32768 && Math.abs(x * d + y * e + f) < 32768;
  if (fits(0, 0) && fits(w, h) && fits(0, h) && fits(w, 0)) {
    const fix = (v: number) => Math.floor(v * 65536 + 0.5);
    const a0 = fix(a), a1 = fix(b), a3 = fix(d), a4 = fix(e);
    let a2 = fix(c + a * 0.5 + b * 0.5);
    let a5 = fix(f + d * 0.5 + e * 0.5);
    for (let y = 0; y < h; y++, a2 += a1, a5 += a4) {
      for (let x = 0, xx = a2, yy = a5; x < w; x++, xx += a0, yy += a3) put(x, y, xx >> 16, yy >> 16);
    }
    return { data: out, width: w, height: h };
  }
  let xo = c + b * 0.5 + a * 0.5;
  let yo = f + e * 0.5 + d * 0.5;
  for (let y = 0; y < h; y++, xo += b, yo += e) {
    for (let x = 0, xx = xo, yy = yo; x < w; x++, xx += a, yy += d) put(x, y, coord(xx), coord(yy));
  }
  return { data: out, width: w, height: h };
}

function round15(v: number): number {
  return Math.round(v * 1e15) / 1e15;
}

/**
 * Rotates counter-clockwise by `degrees` about the image centre, keeping the size (Pillow
 * `Image.rotate`; 0 and 180 degrees, and 90/270 on square images, are exact pixel moves).
 *
 * @example Rotating by 0 degrees is the identity
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbImage, rotate } from "./transforms.ts";
 * const image = rgbImage(new Uint8Array([1, 2, 3, 4, 5, 6]), 2, 1);
 * assert.equal(rotate(image, 0).data.join(), image.data.join());
 * ```
 */
export function rotate(image: RgbImage, degrees: number, options: AffineOptions = {}): RgbImage {
  const angle = ((degrees % 360) + 360) % 360;
  const { width: w, height: h, data: src } = image;
  if (angle === 0) return { data: src.slice(), width: w, height: h };
  if (angle === 180 || ((angle === 90 || angle === 270) && w === h)) {
    const out = new Uint8Array(src.length);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const [sx, sy] = angle === 180
          ? [w - 1 - x, h - 1 - y]
          : angle === 90
          ? [w - 1 - y, x]
          : [y, h - 1 - x];
        const to = (y * w + x) * 3;
        const from = (sy * w + sx) * 3;
        out[to] = src[from];
        out[to + 1] = src[from + 1];
        out[to + 2] = src[from + 2];
      }
    }
    return { data: out, width: w, height: h };
  }
  const cx = w / 2;
  const cy = h / 2;
  const theta = -angle * Math.PI / 180;
  const a = round15(Math.cos(theta));
  const b = round15(Math.sin(theta));
  const d = round15(-Math.sin(theta));
  const e = round15(Math.cos(theta));
  const c = a * -cx + b * -cy + cx;
  const f = d * -cx + e * -cy + cy;
  return affine(image, [a, b, c, d, e, f], options);
}

/**
 * Shears horizontally: output (x, y) takes input (x + factor y, y) (timm's `shear_x`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbImage, shearX } from "./transforms.ts";
 * const image = rgbImage(new Uint8Array(2 * 2 * 3).fill(50), 2, 2);
 * assert.ok(shearX(image, 0).data.every((v) => v === 50));
 * ```
 */
export function shearX(image: RgbImage, factor: number, options: AffineOptions = {}): RgbImage {
  return affine(image, [1, factor, 0, 0, 1, 0], options);
}

/**
 * Shears vertically: output (x, y) takes input (x, factor x + y) (timm's `shear_y`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbImage, shearY } from "./transforms.ts";
 * const image = rgbImage(new Uint8Array(2 * 2 * 3).fill(50), 2, 2);
 * assert.ok(shearY(image, 0).data.every((v) => v === 50));
 * ```
 */
export function shearY(image: RgbImage, factor: number, options: AffineOptions = {}): RgbImage {
  return affine(image, [1, 0, 0, factor, 1, 0], options);
}

/**
 * Translates by `pixels` horizontally: output x takes input x + pixels, so a positive value moves
 * the content left (timm's `translate_x_abs`; `translate_x_rel` passes `pct * width`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbImage, translateX } from "./transforms.ts";
 * const image = rgbImage(new Uint8Array([10, 10, 10, 20, 20, 20]), 2, 1);
 * assert.equal(translateX(image, 1, { fill: [0, 0, 0] }).data[0], 20);
 * ```
 */
export function translateX(image: RgbImage, pixels: number, options: AffineOptions = {}): RgbImage {
  return affine(image, [1, 0, pixels, 0, 1, 0], options);
}

/**
 * Translates by `pixels` vertically: output y takes input y + pixels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbImage, translateY } from "./transforms.ts";
 * const image = rgbImage(new Uint8Array([10, 10, 10, 20, 20, 20]), 1, 2);
 * assert.equal(translateY(image, 1, { fill: [0, 0, 0] }).data[0], 20);
 * ```
 */
export function translateY(image: RgbImage, pixels: number, options: AffineOptions = {}): RgbImage {
  return affine(image, [1, 0, 0, 0, 1, pixels], options);
}

/**
 * Mirrors left-right.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hflip, rgbImage } from "./transforms.ts";
 * assert.equal(hflip(rgbImage(new Uint8Array([1, 1, 1, 2, 2, 2]), 2, 1)).data[0], 2);
 * ```
 */
export function hflip(image: RgbImage): RgbImage {
  const { width: w, height: h, data: src } = image;
  const out = new Uint8Array(src.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const to = (y * w + x) * 3;
      const from = (y * w + (w - 1 - x)) * 3;
      out[to] = src[from];
      out[to + 1] = src[from + 1];
      out[to + 2] = src[from + 2];
    }
  }
  return { data: out, width: w, height: h };
}

/** A rectangle of an image, in pixels. */
export interface CropBox {
  /** Column of the left edge. */
  left: number;
  /** Row of the top edge. */
  top: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/**
 * Cuts the `width` x `height` rectangle whose top-left corner is (`left`, `top`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crop, rgbImage } from "./transforms.ts";
 * const image = rgbImage(new Uint8Array([1, 1, 1, 2, 2, 2]), 2, 1);
 * assert.equal(crop(image, { left: 1, top: 0, width: 1, height: 1 }).data[0], 2);
 * ```
 */
export function crop(image: RgbImage, box: CropBox): RgbImage {
  const { left, top, width, height } = box;
  if (left < 0 || top < 0 || left + width > image.width || top + height > image.height) {
    throw new RangeError(
      `crop ${width}x${height} at (${left}, ${top}) outside a ${image.width}x${image.height} image`,
    );
  }
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 3;
    out.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { data: out, width, height };
}

/** Python's `round()` of a multiple of 0.5: a half goes to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The five crops of torchvision's `FiveCrop`, in its order: top-left, top-right, bottom-left,
 * bottom-right, centre (centre offsets rounded as `CenterCrop` rounds them, a half to even).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fiveCrop, rgbImage } from "./transforms.ts";
 * const crops = fiveCrop(rgbImage(new Uint8Array(4 * 4 * 3), 4, 4), 2);
 * assert.equal(crops.length, 5);
 * assert.equal(crops[0].width, 2);
 * // a 7x7 image: the 2x2 centre starts at row 2, column 2 (torchvision: round(2.5) = 2)
 * const grid = rgbImage(Uint8Array.from({ length: 49 * 3 }, (_, i) => Math.floor(i / 3)), 7, 7);
 * assert.equal(fiveCrop(grid, 2)[4].data[0], 2 * 7 + 2);
 * ```
 */
export function fiveCrop(image: RgbImage, size: number): RgbImage[] {
  const { width: w, height: h } = image;
  if (size > w || size > h) throw new RangeError(`crop size ${size} larger than the ${w}x${h} image`);
  // torchvision's centre: int(round((h - size) / 2.0)), Python's round (halves to even: 2.5 -> 2)
  const centreTop = roundHalfEven((h - size) / 2);
  const centreLeft = roundHalfEven((w - size) / 2);
  return [
    crop(image, { left: 0, top: 0, width: size, height: size }),
    crop(image, { left: w - size, top: 0, width: size, height: size }),
    crop(image, { left: 0, top: h - size, width: size, height: size }),
    crop(image, { left: w - size, top: h - size, width: size, height: size }),
    crop(image, { left: centreLeft, top: centreTop, width: size, height: size }),
  ];
}

/**
 * torchvision's `TenCrop`: the five crops of {@linkcode fiveCrop}, then the same five of the
 * mirrored image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rgbImage, tenCrop } from "./transforms.ts";
 * assert.equal(tenCrop(rgbImage(new Uint8Array(4 * 4 * 3), 4, 4), 2).length, 10);
 * ```
 */
export function tenCrop(image: RgbImage, size: number): RgbImage[] {
  return [...fiveCrop(image, size), ...fiveCrop(hflip(image), size)];
}

/** Options of {@linkcode normalizeInto}. */
export interface NormalizeOptions {
  /**
   * Where in `out` the image starts.
   * @default 0
   */
  offset?: number;
  /**
   * Channel means on 0..1 values.
   * @default IMAGENET_MEAN
   */
  mean?: Rgb;
  /**
   * Channel standard deviations on 0..1 values.
   * @default IMAGENET_STD
   */
  std?: Rgb;
}

/**
 * Writes `(v / 255 - mean) / std` per channel into `out` at `options.offset` (HWC order, as torchvision's
 * `ToTensor` + `Normalize` compute it, but channels last).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeInto, rgbImage } from "./transforms.ts";
 * const out = new Float32Array(3);
 * normalizeInto(rgbImage(new Uint8Array([255, 255, 255]), 1, 1), out);
 * assert.ok(Math.abs(out[0] - (1 - 0.485) / 0.229) < 1e-5);
 * ```
 */
export function normalizeInto(
  image: RgbImage,
  out: Float32Array,
  options: NormalizeOptions = {},
): void {
  const offset = options.offset ?? 0;
  const mean = options.mean ?? IMAGENET_MEAN;
  const std = options.std ?? IMAGENET_STD;
  const scale = [0, 1, 2].map((c) => 1 / (255 * std[c]));
  const shift = [0, 1, 2].map((c) => -mean[c] / std[c]);
  const src = image.data;
  for (let i = 0; i < src.length; i += 3) {
    out[offset + i] = src[i] * scale[0] + shift[0];
    out[offset + i + 1] = src[i + 1] * scale[1] + shift[1];
    out[offset + i + 2] = src[i + 2] * scale[2] + shift[2];
  }
}

/** A float HWC image (3 channels) inside a larger buffer, e.g. one image of a batch. */
export interface FloatImage {
  /** The buffer. */
  data: Float32Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Where the image starts in `data` (in floats); default 0. */
  offset?: number;
}

/** Options of {@linkcode randomErasingInPlace}. */
export interface RandomErasingOptions {
  /**
   * Probability of erasing a rectangle.
   * @default 0.5
   */
  p?: number;
  /**
   * Range of the erased area as a fraction of the image.
   * @default [0.02, 0.33]
   */
  scale?: readonly [number, number];
  /**
   * Range of the rectangle's aspect ratio (height / width), sampled log-uniformly.
   * @default [0.3, 3.3]
   */
  ratio?: readonly [number, number];
  /**
   * What to write: a number (in normalised units; 0 is the dataset mean) or `"random"` (a standard
   * normal value per pixel and channel).
   * @default 0
   */
  value?: number | "random";
}

/**
 * torchvision's `RandomErasing` on a normalised HWC float image: with probability `p`, up to 10
 * tries to draw a rectangle of area `scale` and aspect `ratio` that fits, then fills it. Returns the
 * erased rectangle, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../engine/random.ts";
 * import { randomErasingInPlace } from "./transforms.ts";
 * const pixels = new Float32Array(8 * 8 * 3).fill(1);
 * const box = randomErasingInPlace({ data: pixels, width: 8, height: 8 }, new Random(1), { p: 1, value: 0 });
 * assert.ok(box !== undefined);
 * assert.ok(pixels.includes(0));
 * ```
 */
export function randomErasingInPlace(
  image: FloatImage,
  random: Random,
  options: RandomErasingOptions = {},
): CropBox | undefined {
  const { data: pixels, width, height } = image;
  const offset = image.offset ?? 0;
  const p = options.p ?? 0.5;
  const [minScale, maxScale] = options.scale ?? [0.02, 0.33];
  const [minRatio, maxRatio] = options.ratio ?? [0.3, 3.3];
  const value = options.value ?? 0;
  if (random.next() >= p) return undefined;
  const area = width * height;
  const logLow = Math.log(minRatio);
  const logHigh = Math.log(maxRatio);
  for (let attempt = 0; attempt < 10; attempt++) {
    const eraseArea = area * random.uniform(minScale, maxScale);
    const aspect = Math.exp(random.uniform(logLow, logHigh));
    const h = Math.round(Math.sqrt(eraseArea * aspect));
    const w = Math.round(Math.sqrt(eraseArea / aspect));
    if (!(h < height && w < width)) continue;
    const top = random.int(height - h + 1);
    const left = random.int(width - w + 1);
    for (let y = top; y < top + h; y++) {
      const start = offset + (y * width + left) * 3;
      if (value === "random") {
        for (let i = 0; i < w * 3; i++) pixels[start + i] = random.normal();
      } else {
        pixels.fill(value, start, start + w * 3);
      }
    }
    return { left, top, width: w, height: h };
  }
  return undefined;
}
