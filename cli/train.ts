/**
 * `deno task train`: trains Ada-DF (or any plugin configuration) and writes a run folder.
 *
 * ```sh
 * deno task train                                   # the built-in synthetic set, default preset
 * deno task train --preset rafdb --data-path ~/data/RAF-DB/basic
 * deno task train --config my.yaml --set trainer.epochs=3 --set method.distribution=label
 * deno task train --resume runs/synthetic-fused-20261128-101500
 * ```
 *
 * @module
 */
import { BACKEND_NAMES } from "../engine/backend.ts";
import { loadPlugins, resolveConfig } from "../experiments/config.ts";
import { resumeRun, trainRun } from "../experiments/run.ts";
import { formatDuration } from "../experiments/progress.ts";
import { parseCommand, positiveIntOption, runMain } from "./_main.ts";

const USAGE = `usage: deno task train [options]

  --preset NAME        a preset from configs/ (default: synthetic)
  --config FILE        a YAML config file instead of a preset
  --data-path DIR      where the dataset is (sets data.path)
  --set PATH=VALUE     override any config field, e.g. --set trainer.epochs=3 (repeatable)
  --backend NAME       ${BACKEND_NAMES.join(" | ")} (sets backend)
  --threads N          CPU threads of the native backend (default: all cores)
  --weights FILE       initialise the backbone from a .pth/.pt/.safetensors (sets model.weights); every
                       stem and branch tensor must be in it, else the run stops
  --partial-weights    load only what of --weights matches, reporting the rest (sets model.partialWeights)
  --out DIR            parent folder of run folders (sets output.dir)
  --name NAME          the run folder's name (sets output.name)
  --plugin FILE        import a module that registers plugins or dataset types first (repeatable)
  --resume RUN_DIR     continue a run from its last (or mid-epoch) checkpoint; one stopped before its
                       first checkpoint starts again
  --quiet              epoch lines only, no per-batch progress
  --no-report          write no report page (report.html) at the end
  -h, --help           this help`;

/** Parses arguments and runs; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommand({
    args,
    options: {
      preset: { type: "string" },
      config: { type: "string" },
      "data-path": { type: "string" },
      set: { type: "string", multiple: true, default: [] },
      backend: { type: "string" },
      threads: { type: "string" },
      weights: { type: "string" },
      "partial-weights": { type: "boolean", default: false },
      out: { type: "string" },
      name: { type: "string" },
      plugin: { type: "string", multiple: true, default: [] },
      resume: { type: "string" },
      quiet: { type: "boolean", default: false },
      "no-report": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  }, USAGE);
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  if (values.preset && values.config) {
    console.error("use either --preset or --config, not both");
    return 2;
  }
  const threads = positiveIntOption("threads", values.threads ?? undefined);
  if (threads === null) return 2;
  const overrides = [...(values.set ?? [])];
  if (values.backend) overrides.push(`backend=${values.backend}`);
  if (values.weights) overrides.push(`model.weights=${JSON.stringify(values.weights)}`);
  if (values["partial-weights"]) overrides.push("model.partialWeights=true");
  if (values.out) overrides.push(`output.dir=${JSON.stringify(values.out)}`);
  if (values.name) overrides.push(`output.name=${JSON.stringify(values.name)}`);

  const runOptions = { progress: values.quiet ? "epochs" as const : true, report: !values["no-report"] };
  const started = performance.now();
  await loadPlugins(values.plugin ?? []);
  if (values.resume) {
    if (values.preset || values.config || values["data-path"] || overrides.length) {
      console.error(
        "--resume continues a run with its own config.yaml; other options are not allowed with it",
      );
      return 2;
    }
    await resumeRun(values.resume, { ...runOptions, threads });
  } else {
    const config = await resolveConfig({
      preset: values.preset,
      file: values.config,
      dataPath: values["data-path"],
      overrides,
    });
    await trainRun(config, { ...runOptions, threads });
  }
  console.log(`total wall time ${formatDuration((performance.now() - started) / 1000)}`);
  return 0;
}

if (import.meta.main) await runMain(main);
