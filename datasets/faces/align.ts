/**
 * Five-point similarity alignment of images: the least-squares similarity from a face's five points onto
 * a canonical template (see `geometry.ts`, which documents the template and the coordinates), and the
 * warp with sharp's `affine` into a square of any size.
 *
 * @module
 */
import sharp, { type Sharp } from "sharp";
import type { Rgb, RgbImage } from "../transforms.ts";
import {
  alignmentTransform,
  applySimilarity,
  type FaceTemplate,
  type FivePoints,
  invertSimilarity,
  type Point,
  type Similarity,
} from "./geometry.ts";

export * from "./geometry.ts";

/** Options of {@linkcode alignFace}. */
export interface AlignOptions {
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
   * Colour of the output pixels that come from outside the photo.
   * @default {[0, 0, 0]}
   */
  background?: Rgb;
}

/** What {@linkcode alignFace} returns. */
export interface AlignedFace {
  /** The aligned face, `size` x `size` RGB. */
  image: RgbImage;
  /** The similarity from photo pixels to aligned pixels. */
  transform: Similarity;
  /** Root mean square distance, in output pixels, between the mapped five points and the template. */
  residual: number;
}

function raw(image: RgbImage) {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

async function toRgb(s: Sharp): Promise<RgbImage> {
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`sharp produced ${info.channels} channels, expected 3`);
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
  };
}

/**
 * Warps `image` with a similarity (photo pixels to output pixels) into a `size` x `size` RGB image, with
 * sharp: the region of the photo that the output sees is cut out (padded with `background` where it
 * leaves the photo), shrunk first with sharp's resize when the similarity scales down by more than 2
 * (so that the bilinear warp does not alias), then warped by `affine` with bilinear interpolation.
 */
export async function warpSimilarity(
  image: RgbImage,
  transform: Similarity,
  size: number,
  background: Rgb = [0, 0, 0],
): Promise<RgbImage> {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`output size must be a positive integer, got ${size}`);
  }
  const inv = invertSimilarity(transform);
  // The photo region (index coordinates) the output window comes from, with a margin for the kernel.
  const window: Point[] = [[0, 0], [size, 0], [0, size], [size, size]];
  const corners = window.map((p) => applySimilarity(inv, p));
  const margin = 3 + 2 / Math.hypot(transform.a, transform.b);
  const x0 = Math.floor(Math.min(...corners.map((p) => p[0])) - margin);
  const y0 = Math.floor(Math.min(...corners.map((p) => p[1])) - margin);
  const x1 = Math.ceil(Math.max(...corners.map((p) => p[0])) + margin);
  const y1 = Math.ceil(Math.max(...corners.map((p) => p[1])) + margin);
  const bg = { r: background[0], g: background[1], b: background[2], alpha: 1 };
  // 1. Cut out [x0, x1) x [y0, y1), padding what lies outside the photo.
  const cx0 = Math.max(0, x0), cy0 = Math.max(0, y0);
  const cx1 = Math.min(image.width, x1), cy1 = Math.min(image.height, y1);
  let region: RgbImage;
  if (cx1 <= cx0 || cy1 <= cy0) {
    const data = new Uint8Array((x1 - x0) * (y1 - y0) * 3);
    for (let i = 0; i < data.length; i += 3) data.set(background, i);
    region = { data, width: x1 - x0, height: y1 - y0 };
  } else {
    region = await toRgb(
      raw(image).extract({ left: cx0, top: cy0, width: cx1 - cx0, height: cy1 - cy0 }).extend({
        left: cx0 - x0,
        top: cy0 - y0,
        right: x1 - cx1,
        bottom: y1 - cy1,
        background: bg,
      }),
    );
  }
  // Output continuous X = A x + t with x in photo pixels; x = region x + (x0, y0).
  let a11 = transform.a, a12 = -transform.b, a21 = transform.b, a22 = transform.a;
  const t1 = transform.tx + a11 * x0 + a12 * y0;
  const t2 = transform.ty + a21 * x0 + a22 * y0;
  // 2. Shrink first when the warp scales down a lot: region x = shrunk x / f (continuous, per axis).
  const scale = Math.hypot(transform.a, transform.b);
  if (scale < 0.5) {
    const w = Math.max(1, Math.round(region.width * scale * 1.5));
    const h = Math.max(1, Math.round(region.height * scale * 1.5));
    const fx = w / region.width, fy = h / region.height;
    region = await toRgb(raw(region).resize(w, h, { fit: "fill", kernel: "lanczos3" }));
    [a11, a21, a12, a22] = [a11 / fx, a21 / fx, a12 / fy, a22 / fy];
  }
  // 3. sharp's affine works on pixel indices (centres at integers): X_i = A x_i + d with
  // d = A (0.5, 0.5) + t - 0.5. It draws on the bounding box of the transformed corners of the input,
  // rounded (its offsets move the content, not the canvas); the window [0, size) is then at K.
  const d1 = a11 * 0.5 + a12 * 0.5 + t1 - 0.5;
  const d2 = a21 * 0.5 + a22 * 0.5 + t2 - 0.5;
  const W = region.width, H = region.height;
  const cornersX = [0, a11 * W, a12 * H, a11 * W + a12 * H];
  const cornersY = [0, a21 * W, a22 * H, a21 * W + a22 * H];
  // libvips rounds half away from zero (VIPS_ROUND_INT).
  const roundInt = (v: number) => Math.sign(v) * Math.round(Math.abs(v));
  const left = roundInt(Math.min(...cornersX)), top = roundInt(Math.min(...cornersY));
  const kx = -Math.round(d1 + left), ky = -Math.round(d2 + top);
  const warped = await toRgb(
    raw(region).affine([a11, a12, a21, a22], {
      odx: d1 + left + kx,
      ody: d2 + top + ky,
      interpolator: sharp.interpolators.bilinear,
      background: bg,
    }),
  );
  if (kx < 0 || ky < 0 || kx + size > warped.width || ky + size > warped.height) {
    throw new Error(
      `alignment warp: the ${size}x${size} window at (${kx}, ${ky}) is outside the ${warped.width}x${warped.height} canvas`,
    );
  }
  return await toRgb(raw(warped).extract({ left: kx, top: ky, width: size, height: size }));
}

/**
 * Aligns one face: the least-squares similarity from its five points onto the template, and the warped
 * `size` x `size` crop.
 *
 * @example Align a face whose five points are known
 * ```ts ignore
 * import { alignFace } from "./align.ts";
 * import { decodeImage } from "../image.ts";
 * const photo = await decodeImage("photo.jpg");
 * const five = [[420, 310], [505, 308], [462, 360], [428, 400], [497, 398]] as const;
 * const { image, residual } = await alignFace(photo, five, { size: 100 });
 * console.log(image.width, residual);
 * ```
 */
export async function alignFace(
  image: RgbImage,
  points: FivePoints,
  options: AlignOptions = {},
): Promise<AlignedFace> {
  const size = options.size ?? 100;
  const { transform, residual } = alignmentTransform(points, { size, template: options.template });
  const out = await warpSimilarity(image, transform, size, options.background);
  return { image: out, transform, residual };
}
