/**
 * `deno task eval RUN_DIR`: accuracy, mean class accuracy and the confusion matrix of a trained run on
 * its test split or on another dataset, beside the run's evaluation protocols from its `metrics.jsonl`
 * (the best epoch, flagged as chosen on the test set; the last epoch; the mean of the last
 * `trainer.meanOfLast` epochs); with ground-truth distributions (the synthetic set), also the
 * mean KL divergence from the ground truth to the prediction and to the label, class and fused
 * distributions. With `--label-noise`, on a run trained with `data.labelNoise`, also how it treats its
 * flipped training labels: the attention weights of flipped against clean samples (and their ROC AUC),
 * how many flipped samples the target branch recovers or memorises, and the mass the label and fused
 * distributions put on the true and the flipped label.
 *
 * ```sh
 * deno task eval runs/synthetic-fused-20261128-101500
 * deno task eval runs/x --dataset sfew --data-path ~/data/SFEW --split val --json
 * deno task eval runs/noise-synthetic/ada-df-20-noise-seed0 --label-noise
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
import { evaluateRun, formatEvalReport } from "../experiments/eval.ts";

const USAGE = `usage: deno task eval RUN_DIR [options]

Prints the checkpoint's accuracy, mean class accuracy, per-class accuracy and confusion matrix, and the
run's test accuracy by protocol: best epoch (chosen on the test set), last epoch, mean of the last k.

  --checkpoint best|last   which checkpoint (default: best)
  --dataset TYPE           evaluate on another dataset: rafdb, affectnet7, affectnet8, sfew, folder, fer2013,
                           ferplus (FER2013 with ten annotators' votes: KL to human distributions)
  --data-path PATH         its location
  --split NAME             its split (default: test, val for AffectNet/SFEW)
  --backend NAME           ${BACKEND_NAMES.join(" | ")} (default: the run's)
  --batch N                batch size (default: the run's)
  --label-noise            for a run trained with data.labelNoise: also measure, on its training split,
                           how the attention, the prediction and the fused distributions treat the
                           flipped labels
  --json                   print JSON
  -h, --help               this help`;

/** Parses arguments and runs; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommand({
    args,
    options: {
      checkpoint: { type: "string", default: "best" },
      dataset: { type: "string" },
      "data-path": { type: "string" },
      split: { type: "string" },
      backend: { type: "string" },
      batch: { type: "string" },
      "label-noise": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
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
  const batch = positiveIntOption("batch", values.batch);
  const backend = backendOption(values.backend);
  if (batch === null || backend === null) return 2;
  const report = await evaluateRun(runDir, {
    checkpoint,
    dataset: values.dataset,
    dataPath: values["data-path"],
    split: values.split,
    backend,
    batchSize: batch,
    labelNoise: values["label-noise"],
  });
  console.log(
    values.json ? JSON.stringify(report, (_k, v) => (Number.isNaN(v) ? null : v)) : formatEvalReport(report),
  );
  return 0;
}

if (import.meta.main) await runMain(main);
