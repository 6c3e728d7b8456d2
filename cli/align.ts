/**
 * `deno task align SRC DST [--size N]`: detects, landmarks and aligns the face of every image of a
 * folder of photos or of a dataset (RAF-DB's layout becomes its `aligned` layout; class folders stay
 * class folders), with a progress bar and a per-image log (`DST/align-log.jsonl`); a second run resumes.
 *
 * ```sh
 * deno task align ~/photos/by-class ~/photos/aligned --size 100
 * deno task align /data/raf-basic /data/raf-basic-aligned-112 --size 112
 * ```
 *
 * @module
 */
import { parseCommand, runMain } from "./_main.ts";
import type { BackendName } from "../engine/backend.ts";
import { ALIGN_LOG_FILE, alignFolder, type AlignLayout, readAlignmentSpec } from "../experiments/align.ts";

const USAGE = `usage: deno task align SRC DST [options]

  --size N                 output side in pixels (default: 100)
  --template FILE          template JSON {"name", "points": [[x, y] x 5]} in 0..1, or an alignment.json
                           (default: the five-point 112 template, see datasets/faces/align.ts)
  --layout auto|mirror|rafdb
                           mirror: same relative paths (class folders stay class folders);
                           rafdb: Image/original/* -> Image/aligned/*_aligned.jpg (default: auto)
  --pick largest|best      which face of several to keep (default: largest)
  --min-score P            ignore detections below P (default: 0.5)
  --backend NAME           auto | wasm | webgpu | tensorflow | cpu (default: auto)
  -h, --help               this help`;

/** Parses arguments and runs; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommand({
    args,
    options: {
      size: { type: "string", default: "100" },
      template: { type: "string" },
      layout: { type: "string", default: "auto" },
      pick: { type: "string", default: "largest" },
      "min-score": { type: "string", default: "0.5" },
      backend: { type: "string", default: "auto" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
  }, USAGE);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 2) {
    console.error(`expected a source and a destination folder\n\n${USAGE}`);
    return 2;
  }
  const size = Number(values.size);
  if (!Number.isInteger(size) || size < 8) {
    console.error(`--size must be an integer of at least 8, got '${values.size}'`);
    return 2;
  }
  const minConfidence = Number(values["min-score"]);
  if (!(minConfidence > 0 && minConfidence < 1)) {
    console.error(`--min-score must be a number between 0 and 1, got '${values["min-score"]}'`);
    return 2;
  }
  if (!["auto", "mirror", "rafdb"].includes(values.layout)) {
    console.error(`--layout must be auto, mirror or rafdb, got '${values.layout}'`);
    return 2;
  }
  if (values.pick !== "largest" && values.pick !== "best") {
    console.error(`--pick must be largest or best, got '${values.pick}'`);
    return 2;
  }
  const [src, dst] = positionals;
  const result = await alignFolder(src, dst, {
    size,
    template: values.template === undefined ? undefined : (await readAlignmentSpec(values.template)).template,
    layout: values.layout as AlignLayout | "auto",
    pick: values.pick,
    minConfidence,
    backend: values.backend as BackendName,
  });
  console.log(
    `${result.images} images (${result.layout} layout): ${result.aligned} aligned, ${result.none} without a face, ` +
      `${result.errors.length} unreadable, ${result.skipped} already done; ${result.copied} other files copied`,
  );
  for (const e of result.errors) console.log(`  unreadable: ${e.source}`);
  console.log(`log: ${dst}/${ALIGN_LOG_FILE}`);
  return 0;
}

if (import.meta.main) await runMain(main);
