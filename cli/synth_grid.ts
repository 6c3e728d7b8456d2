/**
 * Draws a grid of synthetic faces (see `drawSyntheticGrid` in `datasets/synthetic.ts`): one row of
 * clear samples per emotion, then rows of mixtures with their two largest ground-truth probabilities
 * written under each face.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys cli/synth_grid.ts \
 *   --out docs/synthetic-grid.png --seed 7
 * ```
 *
 * @module
 */
import { writeFileAtomic } from "../engine/files.ts";
import { drawSyntheticGrid } from "../datasets/synthetic.ts";
import { parseCommand, runMain } from "./_main.ts";

const USAGE = `usage: cli/synth_grid.ts --out FILE.png [options]

  --out FILE.png        the image to write (required)
  --seed S              seed of the faces (default 0)
  --size PX             size of one face in pixels (default 112)
  --per-row N           faces per row (default 8)
  --mixture-rows N      rows of mixtures under the clear rows (default 2)
  --nuisance X          nuisance variation, 0 (plain faces) to 1 (default 1)
  -h, --help            this help`;

/** Parses arguments and draws; returns the exit code (0 done, 2 usage error); other failures throw. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommand({
    args,
    options: {
      out: { type: "string" },
      seed: { type: "string", default: "0" },
      size: { type: "string", default: "112" },
      "per-row": { type: "string", default: "8" },
      "mixture-rows": { type: "string", default: "2" },
      nuisance: { type: "string", default: "1" },
      help: { type: "boolean", short: "h", default: false },
    },
  }, USAGE);
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  if (!values.out) {
    console.error(`--out is required\n\n${USAGE}`);
    return 2;
  }
  const numbers: Record<string, number> = {};
  for (const name of ["seed", "size", "per-row", "mixture-rows", "nuisance"] as const) {
    const n = Number(values[name]);
    if (values[name].trim() === "" || !Number.isFinite(n)) {
      console.error(`--${name} must be a number, got "${values[name]}"\n\n${USAGE}`);
      return 2;
    }
    numbers[name] = n;
  }
  const png = await drawSyntheticGrid({
    seed: numbers.seed,
    size: numbers.size,
    perRow: numbers["per-row"],
    mixtureRows: numbers["mixture-rows"],
    nuisance: numbers.nuisance,
  });
  await writeFileAtomic(values.out, png);
  console.log(`wrote ${values.out}`);
  return 0;
}

if (import.meta.main) await runMain(main);
