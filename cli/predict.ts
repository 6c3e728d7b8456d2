/**
 * `deno task predict RUN_DIR IMAGE...`: each image's distribution over the emotions, from a trained
 * run's target branch (the inference model), as a table or JSON. Photos have their faces detected and
 * aligned first (one row per face, with its box); already aligned crops are classified whole.
 *
 * ```sh
 * deno task predict runs/synthetic-fused-20261128-101500 face1.jpg face2.png
 * deno task predict runs/x face.jpg --json
 * deno task predict runs/x group.jpg --annotate group.annotated.png
 * ```
 *
 * @module
 */
import { backendOption, checkpointOption, parseCommand, runMain } from "./_main.ts";
import { BACKEND_NAMES } from "../engine/backend.ts";
import { formatPhotoPredictions, predictPhotosRun } from "../experiments/predict.ts";
import { readAlignmentSpec } from "../experiments/align.ts";

const USAGE = `usage: deno task predict RUN_DIR IMAGE... [options]

  --checkpoint best|last   which checkpoint (default: best)
  --backend NAME           ${BACKEND_NAMES.join(" | ")} (default: the run's)
  --json                   print JSON: [{ "image", "prediction", "probabilities": { class: p },
                           "face": { "index", "box": { "x", "y", "width", "height" }, "score" } }]
  --detect                 detect and align the faces of every image (default: only of images that
                           are not square crops of at most 256 px)
  --crop                   classify every image whole, as an aligned face crop
  --align-size N           side of the aligned faces (default: 100, or the --template alignment.json's)
  --template FILE          five-point template JSON, or an aligned folder's alignment.json
                           (default: the five-point 112 template, as deno task align)
  --min-score P            ignore detections below P (default: 0.5)
  --annotate OUT           draw the boxes and top emotions: OUT.png for one image, else a folder
  -h, --help               this help`;

/** Parses arguments and runs; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommand({
    args,
    options: {
      checkpoint: { type: "string", default: "best" },
      backend: { type: "string" },
      json: { type: "boolean", default: false },
      detect: { type: "boolean", default: false },
      crop: { type: "boolean", default: false },
      "align-size": { type: "string" },
      template: { type: "string" },
      "min-score": { type: "string", default: "0.5" },
      annotate: { type: "string" },
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
  const backend = backendOption(values.backend);
  if (checkpoint === null || backend === null) return 2;
  if (values.detect && values.crop) {
    console.error("--detect and --crop exclude each other");
    return 2;
  }
  const minConfidence = Number(values["min-score"]);
  if (!(minConfidence > 0 && minConfidence < 1)) {
    console.error(`--min-score must be a number between 0 and 1, got '${values["min-score"]}'`);
    return 2;
  }
  let alignSize = values["align-size"] === undefined ? undefined : Number(values["align-size"]);
  if (alignSize !== undefined && !(Number.isInteger(alignSize) && alignSize >= 8)) {
    console.error(`--align-size must be an integer of at least 8, got '${values["align-size"]}'`);
    return 2;
  }
  const spec = values.template === undefined ? undefined : await readAlignmentSpec(values.template);
  alignSize ??= spec?.size;
  const [runDir, ...images] = positionals;
  const { photos, classNames, annotated } = await predictPhotosRun(runDir, images, {
    checkpoint,
    backend,
    mode: values.detect ? "detect" : values.crop ? "crop" : "auto",
    alignSize,
    template: spec?.template,
    minConfidence,
    annotate: values.annotate,
  });
  if (values.json) {
    console.log(JSON.stringify(photos.flatMap((p) => p.predictions), null, 2));
    for (const p of photos) if (p.predictions.length === 0) console.error(`${p.image}: no face found`);
  } else {
    console.log(formatPhotoPredictions(photos, classNames));
  }
  for (const file of annotated) console.error(`annotated: ${file}`);
  return 0;
}

if (import.meta.main) await runMain(main);
