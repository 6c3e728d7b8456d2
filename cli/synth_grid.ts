/**
 * Draws a grid of synthetic faces: one row of clear samples per emotion, then rows of mixtures with
 * their two largest ground-truth probabilities written under each face.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys cli/synth_grid.ts \
 *   --out docs/synthetic-grid.png --seed 7
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { parseArgs } from "node:util";
import sharp, { type OverlayOptions } from "sharp";
import { writeFileAtomic } from "../engine/files.ts";
import { Random } from "../engine/random.ts";
import {
  renderFace,
  sampleDistribution,
  sampleFaceParams,
  SYNTHETIC_CLASS_NAMES,
} from "../datasets/synthetic.ts";
import { runMain } from "./_main.ts";

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
 * Renders the grid as PNG bytes.
 *
 * @example Write a grid
 * ```ts ignore
 * import { drawSyntheticGrid } from "./synth_grid.ts";
 * await Deno.writeFile("grid.png", await drawSyntheticGrid({ seed: 1 }));
 * ```
 */
export async function drawSyntheticGrid(options: SyntheticGridOptions = {}): Promise<Uint8Array> {
  const { seed = 0, size = 112, perRow = 8, mixtureRows = 2, nuisance = 1 } = options;
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

const USAGE = `Usage: cli/synth_grid.ts --out FILE.png [--seed S] [--size PX] [--per-row N] [--mixture-rows N]
                         [--nuisance 0..1]`;

function parseNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${value}"`);
  return n;
}

async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        out: { type: "string" },
        seed: { type: "string" },
        size: { type: "string" },
        "per-row": { type: "string" },
        "mixture-rows": { type: "string" },
        nuisance: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.out) throw new Error("--out is required");
    const png = await drawSyntheticGrid({
      seed: parseNumber("seed", values.seed, 0),
      size: parseNumber("size", values.size, 112),
      perRow: parseNumber("per-row", values["per-row"], 8),
      mixtureRows: parseNumber("mixture-rows", values["mixture-rows"], 2),
      nuisance: parseNumber("nuisance", values.nuisance, 1),
    });
    await writeFileAtomic(values.out, png);
    console.log(`wrote ${values.out}`);
    return 0;
  } catch (error) {
    console.error(`synth_grid: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
}

if (import.meta.main) await runMain(main);
