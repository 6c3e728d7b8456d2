/**
 * Ablations on a Slurm cluster: a job array with one task per run of the ablation
 * (`deno task ablate FILE --run $SLURM_ARRAY_TASK_ID`) and a collect job that runs once the whole array has
 * ended, whatever became of its tasks (`--dependency=afterany:ARRAY`: `deno task ablate FILE --collect`
 * writes `results.md` and `results.csv` from the runs that finished and names the missing ones).
 * {@linkcode writeSlurmScripts} writes both sbatch scripts into `OUTPUT/slurm/`, {@linkcode submitSlurm}
 * submits them with `sbatch`; `deno task ablate FILE --slurm [--submit]` is both on the command line.
 *
 * The scripts run the project's own `deno task ablate` (same permissions as on the command line) with
 * absolute paths: the project folder, the ablation file, the output folder and the Deno executable
 * that wrote them, so the cluster's nodes must see those paths (a shared file system, as usual). Each
 * task's log goes to `OUTPUT/slurm/logs/`. A task that Slurm stops (time limit, preemption) leaves its
 * run's last checkpoint behind; submitting the scripts again trains only what is missing and resumes
 * the half-done runs.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Ablation, ablationPlan, slug } from "./ablation.ts";
import { writeFileAtomic } from "../engine/files.ts";

/** The resources and Slurm options of the jobs. */
export interface SlurmOptions {
  /** `--partition` of both jobs. */
  partition?: string;
  /** `--account` of both jobs. */
  account?: string;
  /** `--qos` of both jobs. */
  qos?: string;
  /** `--time` of each run: its time limit in Slurm's terms (`MM`, `HH:MM:SS`, `D-HH`, ...). */
  time?: string;
  /** `--cpus-per-task` of each run (and the native backend's thread count, `OMP_NUM_THREADS`). */
  cpusPerTask?: number;
  /** `--mem` of each run (`8G`, `16000M`, ...). */
  mem?: string;
  /** At most this many runs at once (the array's `%N` throttle). */
  maxParallel?: number;
  /** `--time` of the collect job. @default {the partition's default} */
  collectTime?: string;
  /**
   * Further sbatch options in Slurm's own terms (`--gres=gpu:1`, `--constraint=avx2`, `--mail-type=END`),
   * written unchanged as `#SBATCH` lines into both scripts, after the ones above (so they win).
   */
  sbatch?: string[];
}

/** What the jobs pass on to `deno task ablate`, besides the ablation file. */
export interface SlurmRunOptions {
  /** `--data-path` (made absolute). */
  dataPath?: string;
  /** `--set` overrides for every run. */
  overrides?: string[];
  /** `--plugin` modules (made absolute where they are paths). */
  plugins?: string[];
  /** Write the report pages (`false`: `--no-report`). @default {true} */
  report?: boolean;
  /** The Deno executable the jobs run. @default {Deno.execPath()} */
  deno?: string;
  /** The project folder (the one with deno.json). @default {this module's project} */
  project?: string;
}

/** The two sbatch scripts. */
export interface SlurmScripts {
  /** The job array: one task per run. */
  runs: string;
  /** The collect job (submitted with `--dependency=afterany:<array job id>`). */
  collect: string;
}

/** Where {@linkcode writeSlurmScripts} puts things, in the ablation's output folder. */
export const SLURM_FILES = {
  /** The scripts' folder. */
  dir: "slurm",
  /** The job array's script. */
  runs: "runs.sbatch",
  /** The collect job's script. */
  collect: "collect.sbatch",
  /** The jobs' logs: `run-<task>-<array job>.out` and `collect-<job>.out`. */
  logs: "logs",
} as const;

/** sbatch options the scripts set themselves and a user's options may not replace. */
const RESERVED = /^(--array|-a|--dependency|-d)(=|$)/;

/** A word quoted for the shell (single quotes). */
function sh(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The project folder this module belongs to, or an error where it was not loaded from a local file. */
function thisProject(): string {
  const url = new URL("../", import.meta.url);
  if (url.protocol !== "file:") {
    throw new Error(
      `the Slurm scripts run the project from a folder the nodes can see; this module was loaded from ${url.href}: ` +
        "pass `project`",
    );
  }
  return fileURLToPath(url).replace(/\/$/, "");
}

function directive(option: string, value: string | number | undefined, what: string): string[] {
  if (value === undefined) return [];
  const text = String(value);
  if (text === "" || /\s/.test(text)) {
    throw new Error(`${what}: expected a value without spaces, got '${text}'`);
  }
  return [`#SBATCH ${option}=${text}`];
}

function passThrough(args: readonly string[]): string[] {
  return args.map((arg) => {
    if (!arg.startsWith("-")) {
      throw new Error(`sbatch option: expected an option such as --qos=high, got '${arg}'`);
    }
    if (/[\r\n]/.test(arg)) throw new Error(`sbatch option: expected one line, got ${JSON.stringify(arg)}`);
    if (RESERVED.test(arg)) {
      throw new Error(
        `sbatch option '${arg}': the scripts set --array and --dependency themselves (use --max-parallel for a throttle)`,
      );
    }
    return `#SBATCH ${arg}`;
  });
}

/**
 * The sbatch scripts of an ablation: the job array (one task per run of {@linkcode ablationPlan}, task
 * id = run number) and the collect job. `file` is the ablation file, as the jobs will read it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAblation } from "./ablation.ts";
 * import { slurmScripts } from "./slurm.ts";
 *
 * const ablation = parseAblation(
 *   "name: tiny\nseeds: [0, 1]\noutput: /scratch/tiny\nvariants: [{ name: a }, { name: b }]\n",
 *   "/home/me/tiny.yaml",
 * );
 * const scripts = slurmScripts(ablation, "/home/me/tiny.yaml", {
 *   partition: "cpu",
 *   time: "02:00:00",
 *   maxParallel: 2,
 *   sbatch: ["--qos=high"],
 * }, { deno: "/opt/deno", project: "/home/me/ada-df" });
 * assert.match(scripts.runs, /^#SBATCH --array=1-4%2$/m);
 * assert.match(scripts.runs, /^#SBATCH --output=\/scratch\/tiny\/slurm\/logs\/run-%a-%A\.out$/m);
 * assert.match(scripts.runs, /^#SBATCH --partition=cpu\n#SBATCH --time=02:00:00\n#SBATCH --qos=high$/m);
 * assert.match(
 *   scripts.runs,
 *   /^exec \/opt\/deno task ablate \/home\/me\/tiny\.yaml --output \/scratch\/tiny --run "\$SLURM_ARRAY_TASK_ID" --quiet$/m,
 * );
 * assert.match(scripts.collect, /^exec \/opt\/deno task ablate \/home\/me\/tiny\.yaml --output \/scratch\/tiny --collect$/m);
 * assert.doesNotMatch(scripts.collect, /--time/);
 * assert.throws(() => slurmScripts(ablation, "/home/me/tiny.yaml", { sbatch: ["--array=1-2"] }), /--array/);
 * ```
 */
export function slurmScripts(
  ablation: Ablation,
  file: string,
  options: SlurmOptions = {},
  run: SlurmRunOptions = {},
): SlurmScripts {
  const runs = ablationPlan(ablation).length;
  const project = run.project ?? thisProject();
  const deno = run.deno ?? Deno.execPath();
  const logs = join(ablation.output, SLURM_FILES.dir, SLURM_FILES.logs);
  const name = `ablate-${slug(ablation.name).slice(0, 40).replace(/-$/, "")}`;
  if (
    options.cpusPerTask !== undefined &&
    !(Number.isSafeInteger(options.cpusPerTask) && options.cpusPerTask > 0)
  ) {
    throw new Error(`--cpus-per-task: expected a whole number > 0, got ${options.cpusPerTask}`);
  }
  if (
    options.maxParallel !== undefined &&
    !(Number.isSafeInteger(options.maxParallel) && options.maxParallel > 0)
  ) {
    throw new Error(`--max-parallel: expected a whole number > 0, got ${options.maxParallel}`);
  }
  const shared = [
    ...directive("--partition", options.partition, "--partition"),
    ...directive("--account", options.account, "--account"),
    ...directive("--qos", options.qos, "--qos"),
  ];
  const extra = passThrough(options.sbatch ?? []);
  const forwarded = [
    ...(run.dataPath === undefined ? [] : ["--data-path", resolve(run.dataPath)]),
    ...(run.overrides ?? []).flatMap((override) => ["--set", override]),
    ...(run.plugins ?? []).flatMap((plugin) => [
      "--plugin",
      /^[a-z][a-z0-9+.-]*:/i.test(plugin) ? plugin : resolve(plugin),
    ]),
    ...(run.report === false ? ["--no-report"] : []),
  ];
  const words = (args: string[]) => args.map(sh).join(" ");
  const task = (mode: string, args: string[]) =>
    `exec ${words([deno, "task", "ablate", resolve(file), "--output", ablation.output])} ${mode}` +
    (args.length > 0 ? ` ${words(args)}` : "");
  const header = (what: string) => [
    "#!/bin/bash",
    `# ${what}`,
    `# Ablation ${sh(resolve(file))}: ${runs} runs (\`deno task ablate FILE --plan\` lists them).`,
    "# Written by `deno task ablate FILE --slurm`; submit both scripts with `--submit`, or by hand:",
    `#   jobid=$(sbatch --parsable ${sh(join(ablation.output, SLURM_FILES.dir, SLURM_FILES.runs))})`,
    `#   sbatch --dependency=afterany:$jobid ${
      sh(join(ablation.output, SLURM_FILES.dir, SLURM_FILES.collect))
    }`,
  ];
  const body = (command: string) => [
    "set -euo pipefail",
    "# The native backend's threads: the CPUs Slurm gave the task.",
    'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
    `cd ${sh(project)}`,
    command,
  ];
  const runsScript = [
    ...header("The job array: one task per run of the ablation, task id = run number."),
    `#SBATCH --job-name=${name}`,
    `#SBATCH --array=1-${runs}${options.maxParallel ? `%${options.maxParallel}` : ""}`,
    `#SBATCH --output=${join(logs, "run-%a-%A.out")}`,
    ...shared,
    ...directive("--time", options.time, "--time"),
    ...directive("--cpus-per-task", options.cpusPerTask, "--cpus-per-task"),
    ...directive("--mem", options.mem, "--mem"),
    ...extra,
    ...body(task('--run "$SLURM_ARRAY_TASK_ID"', ["--quiet", ...forwarded])),
  ];
  const collectScript = [
    ...header("The collect job: results.md and results.csv once the job array has ended."),
    `#SBATCH --job-name=${name}-collect`,
    `#SBATCH --output=${join(logs, "collect-%j.out")}`,
    ...shared,
    ...directive("--time", options.collectTime, "--collect-time"),
    ...extra,
    ...body(task("--collect", forwarded)),
  ];
  if (/\s/.test(logs)) {
    throw new Error(`${logs}: Slurm's --output takes no spaces; choose another output folder`);
  }
  return { runs: runsScript.join("\n") + "\n", collect: collectScript.join("\n") + "\n" };
}

/** The scripts {@linkcode writeSlurmScripts} wrote. */
export interface SlurmScriptFiles {
  /** The job array's script. */
  runs: string;
  /** The collect job's script. */
  collect: string;
  /** The folder of the jobs' logs. */
  logs: string;
  /** The number of runs (array tasks). */
  count: number;
}

/**
 * Writes the sbatch scripts of an ablation ({@linkcode slurmScripts}) into `OUTPUT/slurm/` and makes the
 * logs folder (Slurm does not make it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAblation } from "./ablation.ts";
 * import { writeSlurmScripts } from "./slurm.ts";
 *
 * const output = await Deno.makeTempDir();
 * const ablation = parseAblation(`output: ${output}\nvariants: [{ name: a }, { name: b }]\n`, "/home/me/a.yaml");
 * const files = await writeSlurmScripts(ablation, "/home/me/a.yaml", { time: "10" });
 * assert.equal(files.count, 2);
 * assert.match(await Deno.readTextFile(files.runs), /^#SBATCH --array=1-2$/m);
 * assert.match(await Deno.readTextFile(files.collect), / --collect$/m);
 * assert.ok((await Deno.stat(files.logs)).isDirectory);
 * await Deno.remove(output, { recursive: true });
 * ```
 */
export async function writeSlurmScripts(
  ablation: Ablation,
  file: string,
  options: SlurmOptions = {},
  run: SlurmRunOptions = {},
): Promise<SlurmScriptFiles> {
  const scripts = slurmScripts(ablation, file, options, run);
  const dir = join(ablation.output, SLURM_FILES.dir);
  const logs = join(dir, SLURM_FILES.logs);
  await Deno.mkdir(logs, { recursive: true });
  const files = { runs: join(dir, SLURM_FILES.runs), collect: join(dir, SLURM_FILES.collect) };
  await writeFileAtomic(files.runs, scripts.runs);
  await writeFileAtomic(files.collect, scripts.collect);
  return { ...files, logs, count: ablationPlan(ablation).length };
}

/** The job ids {@linkcode submitSlurm} got. */
export interface SlurmJobs {
  /** The job array's id (its tasks are `<id>_<run>`). */
  runs: string;
  /** The collect job's id. */
  collect: string;
}

async function sbatch(command: string, args: string[]): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, {
      args: ["--parsable", ...args],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `${command} not found: submitting needs Slurm's sbatch on PATH (the scripts are written)`,
      );
    }
    throw error;
  }
  const decoder = new TextDecoder();
  const stdout = decoder.decode(output.stdout).trim();
  const stderr = decoder.decode(output.stderr).trim();
  // --parsable prints `<job id>` or `<job id>;<cluster>`.
  const id = stdout.split("\n").at(-1)?.split(";")[0] ?? "";
  if (!output.success || !/^\d+$/.test(id)) {
    throw new Error(`${command} ${args.join(" ")} failed (exit code ${output.code}): ${stderr || stdout}`);
  }
  return id;
}

/**
 * Submits the scripts {@linkcode writeSlurmScripts} wrote: the job array, then the collect job with
 * `--dependency=afterany:<array job id>`. `command` is the sbatch to run.
 *
 * @example
 * ```ts ignore
 * import { parseAblation } from "./ablation.ts";
 * import { submitSlurm, writeSlurmScripts } from "./slurm.ts";
 * const file = "configs/ablation-synthetic.yaml";
 * const ablation = parseAblation(await Deno.readTextFile(file), file);
 * const jobs = await submitSlurm(await writeSlurmScripts(ablation, file, { partition: "cpu", time: "01:00:00" }));
 * console.log(`array ${jobs.runs}, collect ${jobs.collect}`);
 * ```
 */
export async function submitSlurm(
  files: Pick<SlurmScriptFiles, "runs" | "collect">,
  command = "sbatch",
): Promise<SlurmJobs> {
  const runs = await sbatch(command, [files.runs]);
  let collect: string;
  try {
    collect = await sbatch(command, [`--dependency=afterany:${runs}`, files.collect]);
  } catch (error) {
    throw new Error(
      `submitted the runs as job array ${runs}, but not the collect job: ${(error as Error).message}; ` +
        `submit it by hand: sbatch --dependency=afterany:${runs} ${files.collect}`,
    );
  }
  return { runs, collect };
}
