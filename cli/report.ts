/**
 * `deno task report RUN_DIR`: writes a run folder's report with plots, `report.html` (one self-contained
 * page) and `report/` (a PNG and the Vega-Lite specification of every chart, `report.json`): learning
 * curves, the confusion matrix, the attention weights (clean against flipped labels with label noise), the
 * class distributions over epochs, an embedding of the test features and, on the synthetic set, the
 * distributions of clear and ambiguous faces. Every run writes it at the end; this writes it again (for
 * another checkpoint, or for a run trained before reports existed).
 *
 * ```sh
 * deno task report runs/synthetic-fused-20261128-101500
 * deno task report runs/x --checkpoint last --max-test 500
 * ```
 *
 * @module
 */
import {
  backendOption,
  checkpointOption,
  parseCommand,
  positiveIntOption,
  runFolderArgument,
  runMain,
} from "./_main.ts";
import { BACKEND_NAMES } from "../engine/backend.ts";
import { writeRunReport } from "../experiments/report.ts";

const USAGE = `usage: deno task report RUN_DIR [options]

  --checkpoint best|last   the checkpoint of the model figures (default: best)
  --backend NAME           ${BACKEND_NAMES.join(" | ")} (default: the run's)
  --max-test N             test images evaluated, evenly spaced (default 2000)
  --max-embedding N        test images in the embedding (default 400)
  --max-noise N            training images measured for clean vs flipped labels (default 2000)
  -h, --help               this help`;

/** Parses arguments and runs; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommand({
    args,
    options: {
      checkpoint: { type: "string", default: "best" },
      backend: { type: "string" },
      "max-test": { type: "string" },
      "max-embedding": { type: "string" },
      "max-noise": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
  }, USAGE);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const runDir = runFolderArgument(positionals, USAGE);
  if (runDir === null) return 2;
  const checkpoint = checkpointOption(values.checkpoint);
  if (checkpoint === null) return 2;
  const backend = backendOption(values.backend);
  const maxTestImages = positiveIntOption("max-test", values["max-test"]);
  const maxEmbeddingImages = positiveIntOption("max-embedding", values["max-embedding"]);
  const maxNoiseImages = positiveIntOption("max-noise", values["max-noise"]);
  if ([backend, maxTestImages, maxEmbeddingImages, maxNoiseImages].includes(null)) return 2;
  const report = await writeRunReport(runDir, {
    checkpoint,
    backend: backend ?? undefined,
    maxTestImages: maxTestImages ?? undefined,
    maxEmbeddingImages: maxEmbeddingImages ?? undefined,
    maxNoiseImages: maxNoiseImages ?? undefined,
    log: (line) => console.log(line),
  });
  const f = report.figures;
  console.log(
    `${f.run}, ${f.checkpoint} (epoch ${f.epoch}): test accuracy ${(100 * f.accuracy).toFixed(2)}% on ` +
      `${f.testImages.evaluated} images`,
  );
  console.log(`report: ${report.html}`);
  console.log(`charts: ${Object.values(report.png).join(", ")}`);
  console.log(`wall time ${report.seconds.toFixed(1)} s`);
  return 0;
}

if (import.meta.main) await runMain(main);
