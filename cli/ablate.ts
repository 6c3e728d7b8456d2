/**
 * `deno task ablate FILE.yaml`: runs every variant of an ablation with every seed, one run after
 * another (a run that stopped is resumed, a finished one is read back), then writes `results.md` and
 * `results.csv` (mean +- std per variant) and prints the paper-style table. Where variants train with
 * label noise, `results.md` also tells how the runs treat their flipped training labels (see
 * `deno task eval --label-noise`).
 *
 * The ablation file:
 *
 * ```yaml
 * name: Table 2 on the synthetic set
 * base: synthetic              # a preset name, or a config file relative to this file
 * set: { trainer.epochs: 3 }   # overrides for every run (any config field)
 * seeds: [0, 1, 2]
 * output: runs/ablation-synthetic
 * variants:
 *   - { name: baseline, set: { method.distribution: onehot } }
 *   - { name: Ada-DF, set: { method.distribution: fused } }
 * ```
 *
 * Several processes can share an ablation: start `deno task ablate FILE.yaml` again in another terminal
 * (or on another machine that sees the same output folder) and each one takes the runs no other process
 * holds. A process holds a run through a lock file in `OUTPUT/.locks/` that it touches every 15 s and
 * deletes when it ends or is interrupted (Ctrl-C, SIGTERM); the lock of a process that died otherwise
 * (killed, crashed) is taken over once it has gone 2 minutes without a touch, and the run resumes from
 * its last checkpoint. On one machine this pays off as long as cores are idle: a wasm run uses about one core.
 *
 * @module
 */
import { parseCommand, runMain } from "./_main.ts";
import { ablate, ABLATION_FILES, parseAblation } from "../experiments/ablation.ts";
import { loadPlugins } from "../experiments/config.ts";
import { formatDuration } from "../experiments/progress.ts";

const USAGE = `usage: deno task ablate FILE.yaml [options]

  --data-path DIR   the dataset's location, for bases that need one
  --set PATH=VALUE  an extra override for every run (repeatable)
  --plugin FILE     import a module that registers plugins or dataset types first (repeatable)
  --quiet           no per-batch progress
  --poll-seconds S  how often to look again at runs other processes hold (default 30)

Start it again in another terminal to share the runs between processes.
  -h, --help        this help`;

/** Parses arguments and runs; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommand({
    args,
    options: {
      "data-path": { type: "string" },
      set: { type: "string", multiple: true, default: [] },
      plugin: { type: "string", multiple: true, default: [] },
      quiet: { type: "boolean", default: false },
      "poll-seconds": { type: "string", default: "30" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
  }, USAGE);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    console.error(`expected one ablation file\n\n${USAGE}`);
    return 2;
  }
  const pollSeconds = Number(values["poll-seconds"]);
  if (values["poll-seconds"].trim() === "" || !(pollSeconds > 0 && pollSeconds <= 3600)) {
    console.error(`--poll-seconds must be a number in (0, 3600], got '${values["poll-seconds"]}'`);
    return 2;
  }
  const file = positionals[0];
  await loadPlugins(values.plugin ?? []);
  const ablation = parseAblation(await Deno.readTextFile(file), file);
  const report = await ablate(ablation, {
    dataPath: values["data-path"],
    overrides: values.set,
    progress: values.quiet ? "epochs" : true,
    pollSeconds,
  });
  console.log(`\n${report.markdown}`);
  console.log(`results: ${report.files.markdown}, ${ABLATION_FILES.csv}`);
  console.log(`wall time ${formatDuration(report.seconds)}`);
  return 0;
}

if (import.meta.main) await runMain(main);
