/**
 * Small image files for dataset and loader tests, written with sharp.
 *
 * @module
 */
import sharp from "sharp";
import { dirname } from "node:path";

/** Writes a `width` x `height` image of one colour (format from the extension: jpg, png, webp). */
export async function writeImage(
  path: string,
  options: { width?: number; height?: number; rgb?: [number, number, number]; channels?: 1 | 3 | 4 } = {},
): Promise<void> {
  const { width = 8, height = 8, rgb = [200, 100, 50], channels = 3 } = options;
  await Deno.mkdir(dirname(path), { recursive: true });
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < channels; c++) data[i * channels + c] = c < 3 ? rgb[c] : 255;
  }
  let image = sharp(data, { raw: { width, height, channels } });
  if (path.endsWith(".png")) image = image.png();
  else if (path.endsWith(".webp")) image = image.webp({ lossless: true });
  else image = image.jpeg({ quality: 95 });
  await Deno.writeFile(path, await image.toBuffer());
}

/** Writes a text file, creating its folder. */
export async function writeText(path: string, text: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, text);
}
