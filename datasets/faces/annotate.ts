/**
 * Drawing face boxes and labels on a photo: an SVG overlay composited by sharp.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";
import type { RgbImage } from "../transforms.ts";
import type { FaceBox } from "./detector.ts";

/** One box to draw. */
export interface Annotation {
  /** The box, in the photo's pixels. */
  box: FaceBox;
  /** Text lines drawn above the box (the first in bold). */
  lines: readonly string[];
}

const COLOURS = ["#00e676", "#ffea00", "#00b0ff", "#ff4081", "#ff9100", "#d500f9", "#76ff03", "#f44336"];

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The SVG overlay (same size as the photo) with each box and its labels. */
export function annotationSvg(width: number, height: number, annotations: readonly Annotation[]): string {
  const unit = Math.max(2, Math.round(Math.min(width, height) / 300));
  const font = 7 * unit;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`];
  annotations.forEach(({ box, lines }, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const f = (v: number) => v.toFixed(1);
    parts.push(
      `<rect x="${f(box.x)}" y="${f(box.y)}" width="${f(box.width)}" height="${f(box.height)}" fill="none" ` +
        `stroke="${colour}" stroke-width="${unit}"/>`,
    );
    const lineHeight = font * 1.25;
    const textHeight = lines.length * lineHeight + unit;
    // Above the box when there is room, else inside its top.
    const top = box.y - textHeight >= 0 ? box.y - textHeight : box.y;
    const textWidth = Math.max(...lines.map((l) => l.length), 1) * font * 0.6 + 2 * unit;
    // Kept inside the photo on the right.
    const left = Math.max(0, Math.min(box.x, width - textWidth));
    parts.push(
      `<rect x="${f(left)}" y="${f(top)}" width="${f(textWidth)}" height="${f(textHeight)}" fill="#000000" ` +
        `fill-opacity="0.6"/>`,
    );
    lines.forEach((line, k) => {
      parts.push(
        `<text x="${f(left + unit)}" y="${
          f(top + (k + 1) * lineHeight - font * 0.25)
        }" font-family="sans-serif" ` +
          `font-size="${font}" fill="${colour}"${k === 0 ? ' font-weight="bold"' : ""}>${
            escapeXml(line)
          }</text>`,
      );
    });
  });
  parts.push("</svg>");
  return parts.join("");
}

/**
 * The photo with the boxes and labels drawn on it, encoded as PNG.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { annotatePhoto } from "./annotate.ts";
 * const photo = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };
 * const png = await annotatePhoto(photo, [{ box: { x: 10, y: 20, width: 20, height: 20 }, lines: ["Happiness 90%"] }]);
 * assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71]); // "PNG"
 * ```
 */
export async function annotatePhoto(
  photo: RgbImage,
  annotations: readonly Annotation[],
): Promise<Uint8Array> {
  const svg = Buffer.from(annotationSvg(photo.width, photo.height, annotations));
  const png = await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } })
    .composite([{ input: svg, left: 0, top: 0 }])
    .png()
    .toBuffer();
  return new Uint8Array(png);
}
