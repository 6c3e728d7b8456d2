/**
 * `deno task predict RUN_DIR IMAGE...`: each image's distribution over the emotions, from a trained
 * run's target branch (the inference model), as a table or JSON.
 *
 * ```sh
 * deno task predict runs/synthetic-fused-20261128-101500 face1.jpg face2.png
 * deno task predict runs/x face.jpg --json
 * ```
 *
 * @module
 */
import { checkpointOption, parseCommand, runMain } from "./_main.ts";
import { type BackendName, initBackend } from "../engine/backend.ts";
import { loadRun } from "../experiments/run.ts";
import { formatPredictions, predictImages } from "../experiments/predict.ts";

const USAGE = `usage: deno task predict RUN_DIR IMAGE... [options]

  --checkpoint best|last   which checkpoint (default: best)
  --backend NAME           auto | wasm | webgpu | tensorflow | cpu (default: the run's)
  --json                   print JSON: [{ "image", "prediction", "probabilities": { class: p } }]
  -h, --help               this help`;

/** Parses arguments and runs; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommand({
    args,
    options: {
      checkpoint: { type: "string", default: "best" },
      backend: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
  }, USAGE);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length < 2) {
    console.error(`expected a run folder and at least one image\n\n${USAGE}`);
    return 2;
  }
  const checkpoint = checkpointOption(values.checkpoint);
  if (checkpoint === null) return 2;
  const [runDir, ...images] = positionals;
  const run = await loadRun(runDir, checkpoint);
  try {
    await initBackend((values.backend as BackendName | undefined) ?? run.config.backend);
    const predictions = await predictImages(run, images);
    console.log(
      values.json ? JSON.stringify(predictions, null, 2) : formatPredictions(predictions, run.classNames),
    );
  } finally {
    run.model.dispose();
  }
  return 0;
}

if (import.meta.main) await runMain(main);
