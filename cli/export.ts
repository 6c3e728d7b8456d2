/**
 * `deno task export RUN_DIR --out DIR`: writes a trained run's inference model (stem, target branch,
 * classifier, attention; the auxiliary branch is dropped) as a TensorFlow.js Layers model that browsers
 * load with `tf.loadLayersModel`:
 *
 * - `model.json` and `weights.bin`: the network, whose output is the probability vector;
 * - `preprocess.json`: input size, mean, std, class order, crops;
 * - `tf.min.js`: the TensorFlow.js browser bundle (left out with `--no-runtime`).
 *
 * ```sh
 * deno task export runs/synthetic-fused-20261128-101500 --out examples/web/model
 * deno task export runs/x --out exported --checkpoint last
 * ```
 *
 * @module
 */
import { initBackend } from "../engine/backend.ts";
import { exportRun, formatExportRun } from "../experiments/export.ts";
import { checkpointOption, parseCommand, runMain } from "./_main.ts";

const USAGE = `usage: deno task export RUN_DIR --out DIR [options]

  --out DIR                the export folder (created; the export's files in it are replaced)
  --checkpoint best|last   which checkpoint (default: best)
  --no-runtime             do not copy the TensorFlow.js browser bundle tf.min.js
  -h, --help               this help`;

/** Where {@linkcode main} writes. */
export interface ExportMainOptions {
  /**
   * Receives the report lines.
   * @default {console.log}
   */
  log?: (line: string) => void;
  /**
   * Receives usage errors.
   * @default {console.error}
   */
  error?: (line: string) => void;
}

/**
 * Parses arguments and runs; returns the exit code (0 done, 2 usage error); other failures throw.
 *
 * @example
 * ```ts ignore
 * import { main } from "./export.ts";
 * Deno.exit(await main(["runs/x", "--out", "exported"]));
 * ```
 */
export async function main(args: string[], options: ExportMainOptions = {}): Promise<number> {
  const log = options.log ?? console.log;
  const error = options.error ?? console.error;
  const parsed = parseCommand(
    {
      args,
      options: {
        out: { type: "string" },
        checkpoint: { type: "string", default: "best" },
        "no-runtime": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: true,
    },
    USAGE,
    { log, error },
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || !values.out) {
    error(`expected one run folder and --out DIR\n\n${USAGE}`);
    return 2;
  }
  const checkpoint = checkpointOption(values.checkpoint, error);
  if (checkpoint === null) return 2;
  // Exporting copies weights into a Layers model: the cpu reference backend is enough.
  await initBackend("cpu");
  const result = await exportRun(positionals[0], values.out, {
    checkpoint,
    runtime: !values["no-runtime"],
  });
  log(await formatExportRun(result));
  return 0;
}

if (import.meta.main) await runMain(main);
