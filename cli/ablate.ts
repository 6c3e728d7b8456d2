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
 * On a cluster, the scheduler shares the runs: `--plan` numbers them, `--run INDEX` trains one, `--collect`
 * tables whatever has finished, and `--slurm [--submit]` writes (and submits) a Slurm job array doing
 * exactly that, with a collect job after it (see `experiments/slurm.ts`).
 *
 * @module
 */
import { resolve } from "node:path";
import { parseCommand, runMain } from "./_main.ts";
import { readTextFileBounded } from "../formats/read.ts";
import {
  ablate,
  ABLATION_FILES,
  type AblationRunStatus,
  ablationStatus,
  parseAblation,
  runAblationEntry,
} from "../experiments/ablation.ts";
import { loadPlugins } from "../experiments/config.ts";
import { formatDuration } from "../experiments/progress.ts";
import { type SlurmOptions, submitSlurm, writeSlurmScripts } from "../experiments/slurm.ts";

const USAGE = `usage: deno task ablate FILE.yaml [options] [-- SBATCH OPTIONS]

Without a mode, trains every run no other process holds (start it again in another terminal to share
the runs between processes), then writes results.md and results.csv.

Modes (one at most):
  --plan            list the runs: number, state, variant, seed, folder (--json: as JSON)
  --run N           train (or resume, or read back) run N of the plan only, and measure its label noise
  --collect         write results.md and results.csv from the runs that have finished; name the missing
  --slurm           write a Slurm job array (one task per run) and a collect job into OUTPUT/slurm/
    --submit          and submit both with sbatch (the collect job after the array: afterany)
    --partition P, --account A, --qos Q     of both jobs
    --time T, --cpus-per-task N, --mem M    of each run (Slurm's terms: --time 04:00:00, --mem 8G)
    --max-parallel N  at most N runs at once (the array's %N)
    --collect-time T  the collect job's time limit
    --json            the scripts, the logs folder and the job ids as JSON
    -- OPTIONS        everything after -- goes unchanged into both scripts as #SBATCH lines
                      (e.g. -- --gres=gpu:1 --constraint=avx2)

Options:
  --data-path DIR   the dataset's location, for bases that need one
  --set PATH=VALUE  an extra override for every run (repeatable)
  --plugin FILE     import a module that registers plugins or dataset types first (repeatable)
  --output DIR      the output folder instead of the file's \`output\`
  --quiet           no per-batch progress
  --no-report       write no report pages (report.html), for runs or for the ablation
  --poll-seconds S  how often to look again at runs other processes hold (default 30)
  -h, --help        this help`;

const SLURM_ONLY = [
  "submit",
  "partition",
  "account",
  "qos",
  "time",
  "cpus-per-task",
  "mem",
  "max-parallel",
  "collect-time",
] as const;

function positiveInteger(option: string, value: string | undefined): number | undefined | string {
  if (value === undefined) return undefined;
  return /^[1-9]\d*$/.test(value.trim()) && Number.isSafeInteger(Number(value))
    ? Number(value)
    : `--${option} must be a whole number > 0, got '${value}'`;
}

function statusTable(status: AblationRunStatus[]): string {
  const rows = [
    ["run", "state", "epochs", "variant", "seed", "folder"],
    ...status.map((s) => [
      String(s.index),
      s.state + (s.holder ? ` (${s.holder})` : ""),
      `${s.epochs.done}/${s.epochs.planned}`,
      s.variant,
      String(s.seed),
      s.runDir,
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) =>
    row.map((cell, c) => c === 0 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])).join("  ").trimEnd()
  ).join("\n");
}

function missingLine(missing: AblationRunStatus[], total: number): string {
  const what = missing.map((m) =>
    `${m.index} (${m.variant}, seed ${m.seed}: ${m.state}, ${m.epochs.done}/${m.epochs.planned} epochs)`
  );
  return `missing ${missing.length} of ${total} runs: ${what.join(", ")}`;
}

/** Parses arguments and runs; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const dash = args.indexOf("--");
  const sbatchArgs = dash < 0 ? [] : args.slice(dash + 1);
  const parsed = parseCommand({
    args: dash < 0 ? args : args.slice(0, dash),
    options: {
      "data-path": { type: "string" },
      set: { type: "string", multiple: true, default: [] },
      plugin: { type: "string", multiple: true, default: [] },
      output: { type: "string" },
      quiet: { type: "boolean", default: false },
      "no-report": { type: "boolean", default: false },
      "poll-seconds": { type: "string", default: "30" },
      plan: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      run: { type: "string" },
      collect: { type: "boolean", default: false },
      slurm: { type: "boolean", default: false },
      submit: { type: "boolean", default: false },
      partition: { type: "string" },
      account: { type: "string" },
      qos: { type: "string" },
      time: { type: "string" },
      "cpus-per-task": { type: "string" },
      mem: { type: "string" },
      "max-parallel": { type: "string" },
      "collect-time": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
  }, USAGE);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const usageError = (message: string) => {
    console.error(message);
    return 2;
  };
  if (positionals.length !== 1) return usageError(`expected one ablation file\n\n${USAGE}`);
  const pollSeconds = Number(values["poll-seconds"]);
  if (values["poll-seconds"].trim() === "" || !(pollSeconds > 0 && pollSeconds <= 3600)) {
    return usageError(`--poll-seconds must be a number in (0, 3600], got '${values["poll-seconds"]}'`);
  }
  const modes = (["plan", "run", "collect", "slurm"] as const).filter((m) =>
    values[m] !== undefined && values[m] !== false
  );
  if (modes.length > 1) return usageError(`--${modes.join(", --")}: choose one`);
  const mode = modes[0] ?? "all";
  if (mode !== "slurm") {
    const stray = SLURM_ONLY.filter((o) => values[o] !== undefined && values[o] !== false);
    if (stray.length > 0) return usageError(`--${stray[0]} goes with --slurm`);
    if (sbatchArgs.length > 0) return usageError(`sbatch options after -- go with --slurm`);
  }
  if (values.json && mode !== "plan" && mode !== "slurm") {
    return usageError("--json goes with --plan or --slurm");
  }
  const runIndex = values.run === undefined ? undefined : positiveInteger("run", values.run);
  const cpus = positiveInteger("cpus-per-task", values["cpus-per-task"]);
  const maxParallel = positiveInteger("max-parallel", values["max-parallel"]);
  for (const checked of [runIndex, cpus, maxParallel]) {
    if (typeof checked === "string") return usageError(checked);
  }

  const file = positionals[0];
  await loadPlugins(values.plugin ?? []);
  // Bounded: a FIFO would block, /dev/zero never end.
  const text = await readTextFileBounded(file, { maxBytes: 2 ** 20, what: "ablation file" });
  const ablation = parseAblation(text, file);
  if (values.output !== undefined) ablation.output = resolve(values.output);
  const extra = { dataPath: values["data-path"], overrides: values.set, report: !values["no-report"] };
  const total = ablation.variants.length * ablation.seeds.length;

  if (mode === "plan") {
    const status = await ablationStatus(ablation, extra);
    if (values.json) {
      console.log(JSON.stringify(status, null, 2));
    } else {
      const finished = status.filter((s) => s.state === "finished").length;
      console.log(
        `${ablation.name}: ${total} runs (${ablation.variants.length} variants x ${ablation.seeds.length} seeds), ` +
          `${finished} finished, in ${ablation.output}\n`,
      );
      console.log(statusTable(status));
    }
    return 0;
  }

  if (mode === "run") {
    const index = runIndex as number;
    if (index > total) {
      return usageError(`--run must be a run number from 1 to ${total} (--plan lists them), got ${index}`);
    }
    const { entry, run, action } = await runAblationEntry(ablation, index, {
      ...extra,
      progress: values.quiet ? "epochs" : true,
      pollSeconds,
    });
    const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
    console.log(
      `run ${entry.index} of ${total} (${entry.variant}, seed ${entry.seed}): ${action}; best accuracy ` +
        `${pct(run.bestAccuracy)}, last ${pct(run.lastAccuracy)} (${run.runDir})`,
    );
    return 0;
  }

  if (mode === "slurm") {
    const options: SlurmOptions = {
      partition: values.partition,
      account: values.account,
      qos: values.qos,
      time: values.time,
      cpusPerTask: cpus as number | undefined,
      mem: values.mem,
      maxParallel: maxParallel as number | undefined,
      collectTime: values["collect-time"],
      sbatch: sbatchArgs,
    };
    const files = await writeSlurmScripts(ablation, file, options, { ...extra, plugins: values.plugin });
    const jobs = values.submit ? await submitSlurm(files) : undefined;
    if (values.json) {
      console.log(JSON.stringify({ ...files, ...(jobs ? { jobs } : {}) }, null, 2));
      return 0;
    }
    console.log(`wrote ${files.runs}: a job array of ${files.count} runs (--plan lists them)`);
    console.log(`wrote ${files.collect}: results.md and results.csv once the array has ended`);
    console.log(`logs: ${files.logs}`);
    if (jobs) {
      console.log(`submitted job array ${jobs.runs} (runs 1-${files.count}) and collect job ${jobs.collect}`);
      console.log(`follow them with: squeue -j ${jobs.runs},${jobs.collect}`);
    } else {
      console.log(`submit them with --submit, or by hand:`);
      console.log(`  jobid=$(sbatch --parsable ${files.runs})`);
      console.log(`  sbatch --dependency=afterany:$jobid ${files.collect}`);
    }
    return 0;
  }

  const report = await ablate(ablation, {
    ...extra,
    progress: values.quiet ? "epochs" : true,
    pollSeconds,
    collect: mode === "collect",
  });
  console.log(`\n${report.markdown}`);
  console.log(`results: ${report.files.markdown}, ${ABLATION_FILES.csv}`);
  if (report.missing.length > 0) console.log(missingLine(report.missing, total));
  console.log(`wall time ${formatDuration(report.seconds)}`);
  return 0;
}

if (import.meta.main) await runMain(main);
