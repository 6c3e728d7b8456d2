/**
 * Decoding and resizing with sharp (libvips, off the main thread): JPEG, PNG, WebP, TIFF or GIF
 * files, or raw pixels, grey or RGBA or 16-bit, to 8-bit RGB.
 *
 * @module
 */
import sharp, { type Sharp } from "sharp";
import { checkRegularFile, FileReadError } from "../formats/read.ts";
import type { RgbImage } from "./transforms.ts";
import { DatasetError, type DatasetItem, type RawImage } from "./types.ts";

/** How to resize while decoding. */
export type ResizeSpec =
  /** Exactly `width` x `height`, ignoring the aspect ratio (torchvision `Resize((h, w))`). */
  | { width: number; height: number }
  /** The shorter side to `shorter`, keeping the aspect ratio (torchvision `Resize(n)`). */
  | { shorter: number };

/** sharp's resampling kernels. */
export type ResizeKernel = "nearest" | "linear" | "cubic" | "mitchell" | "lanczos2" | "lanczos3";

/** Options of {@linkcode decodeImage}. */
export interface DecodeOptions {
  /**
   * Resize while decoding; default: keep the size.
   * @default undefined
   */
  resize?: ResizeSpec;
  /**
   * Resampling kernel ("linear" matches torchvision's default bilinear, antialiased resize).
   * @default "linear"
   */
  kernel?: ResizeKernel;
}

/** The largest image file decoded (256 MiB); sharp's pixel limit stops image bombs below it. */
export const MAX_IMAGE_FILE_BYTES: number = 256 * 2 ** 20;

/**
 * Checks that `path` can be handed to the decoder: a regular file (a FIFO would block a decoder
 * thread forever, a device would never end) of at most {@linkcode MAX_IMAGE_FILE_BYTES}; anything else
 * is a {@linkcode DatasetError} naming it.
 *
 * @example A folder is not an image
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkImageFile } from "./image.ts";
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(checkImageFile(dir), /expected a regular file, found a directory/);
 * await assert.rejects(checkImageFile(`${dir}/none.png`), /none\.png: cannot decode image: no such file/);
 * await Deno.remove(dir);
 * ```
 */
export async function checkImageFile(path: string): Promise<void> {
  try {
    await checkRegularFile(path, { maxBytes: MAX_IMAGE_FILE_BYTES, what: "image" });
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error;
    throw new DatasetError(error.notFound ? "cannot decode image: no such file" : error.reason, {
      file: path,
      cause: error,
    });
  }
}

/**
 * Decodes an image file, encoded image bytes, raw pixels, or a dataset item to 8-bit RGB, resized as asked. A file that
 * cannot be read, is not a regular file (see {@linkcode checkImageFile}), is not an image, or is truncated fails
 * with a {@linkcode DatasetError} naming it.
 *
 * @example Decode a file at 112x112
 * ```ts ignore
 * import { decodeImage } from "./image.ts";
 * const image = await decodeImage("face.jpg", { resize: { width: 112, height: 112 } });
 * console.log(image.width, image.data.length); // 112, 37632
 * ```
 *
 * @example Decode raw grey pixels to RGB, resized
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeImage } from "./image.ts";
 *
 * const grey = { data: new Uint8Array(48 * 48).fill(100), width: 48, height: 48, channels: 1 as const };
 * const image = await decodeImage(grey, { resize: { width: 16, height: 16 } });
 * assert.equal(image.width, 16);
 * assert.equal(image.data.length, 16 * 16 * 3);
 * assert.deepEqual([...image.data.subarray(0, 3)], [100, 100, 100]);
 * await assert.rejects(decodeImage(new Uint8Array([1, 2, 3])), /encoded image \(3 bytes\)/);
 * ```
 */
export async function decodeImage(
  input: string | Uint8Array | RawImage | DatasetItem,
  options: DecodeOptions = {},
): Promise<RgbImage> {
  let source: string;
  let pipeline: Sharp;
  if (typeof input === "string") {
    source = input;
    await checkImageFile(input);
    pipeline = sharp(input, { failOn: "error" });
  } else if (input instanceof Uint8Array) {
    source = `encoded image (${input.length} bytes)`;
    pipeline = sharp(input, { failOn: "error" });
  } else if ("data" in input) {
    source = "raw image";
    pipeline = rawPipeline(input);
  } else if (input.image) {
    source = input.source;
    pipeline = rawPipeline(input.image);
  } else if (input.path !== undefined) {
    source = input.path;
    await checkImageFile(input.path);
    pipeline = sharp(input.path, { failOn: "error" });
  } else {
    throw new DatasetError("item has neither a path nor pixels", { file: input.source });
  }
  const resize = options.resize;
  const kernel = options.kernel ?? "linear";
  if (resize && "shorter" in resize) {
    pipeline = pipeline.resize(resize.shorter, resize.shorter, { fit: "outside", kernel });
  } else if (resize) {
    pipeline = pipeline.resize(resize.width, resize.height, { fit: "fill", kernel });
  }
  try {
    const { data, info } = await pipeline.removeAlpha().toColourspace("srgb").raw().toBuffer({
      resolveWithObject: true,
    });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
    };
  } catch (error) {
    throw new DatasetError(`cannot decode image: ${(error as Error).message}`, {
      file: source,
      cause: error,
    });
  }
}

function rawPipeline(image: RawImage): Sharp {
  const { data, width, height, channels } = image;
  if (data.length !== width * height * channels) {
    throw new RangeError(`raw image ${width}x${height}x${channels} needs ${width * height * channels} bytes`);
  }
  return sharp(data, { raw: { width, height, channels } });
}
