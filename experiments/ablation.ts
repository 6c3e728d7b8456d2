/**
 * Ablations: every variant of a base configuration trained with every seed, the results aggregated per
 * variant (mean and sample std over seeds) and written as `results.md` and `results.csv` beside the run
 * folders, with `report.html`, their charts (see `report.ts`). Where variants train with label noise,
 * `results.md` also tells how the runs treat their flipped training labels. {@linkcode ablate} does all
 * of it; `deno task ablate FILE.yaml` is it on the command line.
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
 * Several processes can share an ablation: start `deno task ablate FILE.yaml` (or {@linkcode ablate}) again
 * in another terminal (or on another machine that sees the same output folder) and each one takes the
 * runs no other process holds. A process holds a run through a lock file in `OUTPUT/.locks/` that it touches every 15 s and
 * deletes when it ends or is interrupted (Ctrl-C, SIGTERM); the lock of a process that died otherwise
 * (killed, crashed) is taken over once it has gone 2 minutes without a touch, and the run resumes from
 * its last checkpoint. On one machine this pays off as long as cores are idle: a wasm run uses about one core.
 *
 * On a cluster, the scheduler shares the runs instead: {@linkcode ablationPlan} numbers them (1 to N, in
 * variant and seed order), {@linkcode runAblationEntry} trains exactly one (a job array's task; a finished
 * run is read back, a half-done one resumed), and `ablate(ablation, { collect: true })` tables whatever
 * runs have finished, naming the missing ones. `experiments/slurm.ts` writes and submits the Slurm job
 * array that does it (`deno task ablate FILE.yaml --slurm`).
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import YAML from "yaml";
import { ConfigError, resolveConfig, type RunConfig } from "./config.ts";
import {
  ablationFileSchema,
  locateInDocument,
  type Path,
  pathText,
  position,
  type Problem,
  recursiveAliasProblem,
  schemaProblems,
  unknownKeys,
} from "./_config_schema.ts";
import { type LabelNoiseReport, summarize } from "../training/metrics.ts";
import { pluginName } from "../strategies/registry.ts";
import { RUN_FILES, trainRun } from "./run.ts";
import { writeFileAtomic } from "../engine/files.ts";
import { measureLabelNoise, type RunLabelNoise } from "./eval.ts";
import { reportAfterAblation } from "./report.ts";

/** One variant of an ablation. */
export interface AblationVariant {
  /** Its name in the table. */
  name: string;
  /** Its config overrides (dotted path -> value). */
  set: Record<string, unknown>;
}

/** A parsed ablation file. */
export interface Ablation {
  /** Title of the table. */
  name: string;
  /** Preset name or config file path (resolved). */
  base: string;
  /** Whether `base` is a file (else a preset). */
  baseIsFile: boolean;
  /** Overrides for every run. */
  set: Record<string, unknown>;
  /** Seeds. */
  seeds: number[];
  /** Output folder (resolved). */
  output: string;
  /** Variants in table order. */
  variants: AblationVariant[];
}

/**
 * Parses and checks an ablation file's text: every problem at once, each as `file:line:column: path:
 * message`, in one {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAblation } from "./ablation.ts";
 * const ablation = parseAblation("variants:\n  - { name: label, set: { method.distribution: label } }\n", "a.yaml");
 * assert.deepEqual([ablation.base, ablation.seeds, ablation.variants[0].set], [
 *   "synthetic",
 *   [0],
 *   { "method.distribution": "label" },
 * ]);
 * assert.throws(() => parseAblation("seeds: [1, 1]\nvariants: [{ name: x }]\n", "b.yaml"), /b\.yaml:1:1: seeds: expected each seed once/);
 * ```
 */
export function parseAblation(text: string, file: string): Ablation {
  const counter = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) =>
        `${file}:${position(counter, error.pos[0])}: YAML syntax error: ${error.message}`
      ),
    );
  }
  const where = (path: Path) => {
    const offset = locateInDocument(doc, path);
    return {
      text: offset === undefined ? file : `${file}:${position(counter, offset)}`,
      offset: offset ?? 0,
    };
  };
  const recursive = recursiveAliasProblem(doc, file, counter);
  if (recursive !== undefined) throw new ConfigError(recursive);
  const value: unknown = doc.toJS() ?? {};
  const schema = ablationFileSchema();
  const problems: Problem[] = [];
  unknownKeys(schema, value, [], problems);
  const checked = schemaProblems(schema, value);
  problems.push(...checked.problems);
  if (problems.length > 0 || checked.output === undefined) {
    const lines = problems.map((problem) => {
      const place = where(problem.path);
      const body = problem.keyProblem || problem.path.length === 0
        ? problem.message
        : `${pathText(problem.path)}: ${problem.message}`;
      return { offset: place.offset, line: `${place.text}: ${body}` };
    });
    lines.sort((a, b) => a.offset - b.offset);
    throw new ConfigError(lines.map((line) => line.line));
  }
  const d = checked.output;
  const folders = new Map<string, string>();
  for (const variant of d.variants) {
    const other = folders.get(slug(variant.name));
    if (other !== undefined) {
      const at = where(["variants", d.variants.indexOf(variant), "name"]).text;
      throw new ConfigError(
        `${at}: variants[${d.variants.indexOf(variant)}].name: '${variant.name}' and '${other}' ` +
          `would share the run folders '${slug(variant.name)}-seed*': rename one`,
      );
    }
    folders.set(slug(variant.name), variant.name);
  }
  const baseIsFile = /[\\/]|\.ya?ml$/.test(d.base);
  const output = d.output ?? join("runs", `ablation-${slug(d.name ?? "ablation")}`);
  return {
    name: d.name ?? file,
    base: baseIsFile ? resolve(dirname(file), d.base) : d.base,
    baseIsFile,
    set: d.set ?? {},
    seeds: d.seeds,
    output: resolve(output),
    variants: d.variants.map((variant) => ({ name: variant.name, set: variant.set ?? {} })),
  };
}

/**
 * A folder-friendly form of a name (the run folders of an ablation are `<slug of the variant>-seed<seed>`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slug } from "./ablation.ts";
 * assert.equal(slug("Ada-DF (no attention)"), "ada-df-no-attention");
 * ```
 */
export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "variant";
}

function toOverrides(set: Record<string, unknown>): string[] {
  return Object.entries(set).map(([path, value]) => `${path}=${JSON.stringify(value)}`);
}

/**
 * The resolved config of one run of an ablation: the base, the ablation's `set`, the extra overrides,
 * the variant's `set` and the seed, in that order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pluginName } from "../strategies/registry.ts";
 * import { ablationRunConfig, parseAblation } from "./ablation.ts";
 *
 * const ablation = parseAblation(
 *   [
 *     "set: { trainer.epochs: 2 }",
 *     "seeds: [0, 1]",
 *     "variants:",
 *     "  - { name: label, set: { method.distribution: label } }",
 *   ].join("\n"),
 *   "a.yaml",
 * );
 * const config = await ablationRunConfig(ablation, ablation.variants[0], 1);
 * assert.equal(config.seed, 1);
 * assert.equal(config.trainer.epochs, 2);
 * assert.equal(pluginName(config.method.distribution), "label");
 * ```
 */
export async function ablationRunConfig(
  ablation: Ablation,
  variant: AblationVariant,
  seed: number,
  extra: { dataPath?: string; overrides?: string[] } = {},
): Promise<RunConfig> {
  return await resolveConfig({
    ...(ablation.baseIsFile ? { file: ablation.base } : { preset: ablation.base }),
    dataPath: extra.dataPath,
    overrides: [
      ...toOverrides(ablation.set),
      ...(extra.overrides ?? []),
      ...toOverrides(variant.set),
      `seed=${seed}`,
    ],
  });
}

/** One finished run of an ablation. */
export interface AblationRun {
  /** Variant name. */
  variant: string;
  /** Seed. */
  seed: number;
  /** Run folder. */
  runDir: string;
  /** The run's resolved configuration. */
  config: RunConfig;
  /** Best test accuracy. */
  bestAccuracy: number;
  /** Test accuracy after the last epoch. */
  lastAccuracy: number;
  /** Mean class accuracy after the last epoch. */
  lastMeanClassAccuracy: number;
  /** Mean test accuracy of the last k evaluated epochs (`summary.json`'s `protocols.meanOfLast`). */
  meanOfLastAccuracy?: number;
  /** That k: min(`trainer.meanOfLast`, epochs evaluated). */
  meanOfLastK?: number;
  /** The last epoch's test confusion matrix, `[true][predicted]`. */
  lastConfusion?: number[][];
  /** Class names in label order. */
  classNames?: string[];
}

/** A run of an ablation: which variant and seed, where, and how it is configured. */
interface AblationJob {
  variant: AblationVariant;
  seed: number;
  runDir: string;
  config: RunConfig;
}

/** The job's results from its `summary.json`, or null while it has not run all its epochs. */
async function readFinished(job: AblationJob): Promise<AblationRun | null> {
  try {
    const s = JSON.parse(await Deno.readTextFile(join(job.runDir, RUN_FILES.summary)));
    if (s.epochs !== job.config.trainer.epochs) return null;
    return {
      variant: job.variant.name,
      seed: job.seed,
      runDir: job.runDir,
      config: job.config,
      bestAccuracy: s.bestAccuracy ?? NaN,
      lastAccuracy: s.lastAccuracy ?? NaN,
      lastMeanClassAccuracy: s.lastMeanClassAccuracy ?? NaN,
      meanOfLastAccuracy: s.protocols?.meanOfLast?.accuracy ?? NaN,
      ...(s.protocols?.meanOfLast ? { meanOfLastK: s.protocols.meanOfLast.k } : {}),
      ...(s.protocols?.last?.confusion ? { lastConfusion: s.protocols.last.confusion } : {}),
      ...(Array.isArray(s.classNames) ? { classNames: s.classNames } : {}),
    };
  } catch {
    return null;
  }
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** One run of an ablation as planned: its number, variant, seed and folder. */
export interface AblationPlanEntry {
  /** Its number, 1 to N in variant and seed order: `deno task ablate FILE --run INDEX`, a Slurm array task. */
  index: number;
  /** Its folder's name, `<slug of the variant>-seed<seed>`. */
  name: string;
  /** Variant name. */
  variant: string;
  /** Seed. */
  seed: number;
  /** Run folder. */
  runDir: string;
}

/**
 * The runs of an ablation, numbered 1 to N: every variant with every seed, in variant and seed order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ablationPlan, parseAblation } from "./ablation.ts";
 * const ablation = parseAblation(
 *   "seeds: [0, 1]\noutput: /tmp/a\nvariants: [{ name: Ada-DF }, { name: baseline }]\n",
 *   "a.yaml",
 * );
 * const plan = ablationPlan(ablation);
 * assert.deepEqual(plan.map((run) => [run.index, run.name]), [
 *   [1, "ada-df-seed0"],
 *   [2, "ada-df-seed1"],
 *   [3, "baseline-seed0"],
 *   [4, "baseline-seed1"],
 * ]);
 * assert.equal(plan[3].runDir, "/tmp/a/baseline-seed1");
 * ```
 */
export function ablationPlan(ablation: Ablation): AblationPlanEntry[] {
  return ablation.variants.flatMap((variant, v) =>
    ablation.seeds.map((seed, s) => {
      const name = `${slug(variant.name)}-seed${seed}`;
      return {
        index: v * ablation.seeds.length + s + 1,
        name,
        variant: variant.name,
        seed,
        runDir: join(ablation.output, name),
      };
    })
  );
}

/** A planned run with its variant and resolved configuration. */
interface PlannedJob extends AblationJob {
  entry: AblationPlanEntry;
  name: string;
  where: string;
}

/** The planned runs with their configs (all of them, or those numbered in `indexes`). */
async function planJobs(
  ablation: Ablation,
  extra: { dataPath?: string; overrides?: string[] },
  indexes?: readonly number[],
): Promise<PlannedJob[]> {
  const plan = ablationPlan(ablation);
  const chosen = indexes ? plan.filter((entry) => indexes.includes(entry.index)) : plan;
  return await Promise.all(chosen.map(async (entry) => {
    const variant = ablation.variants.find((v) => v.name === entry.variant)!;
    return {
      entry,
      variant,
      seed: entry.seed,
      name: entry.name,
      runDir: entry.runDir,
      config: await ablationRunConfig(ablation, variant, entry.seed, extra),
      where: `[${entry.index}/${plan.length}] ${entry.variant}, seed ${entry.seed}`,
    };
  }));
}

/**
 * Where a planned run stands: `finished` (all its epochs), `running` (a process holds its lock and
 * touched it within the stale time), `partial` (stopped after some epochs: resumed when run again) or
 * `missing` (not started).
 */
export type AblationRunState = "finished" | "running" | "partial" | "missing";

/** A planned run and where it stands. */
export interface AblationRunStatus extends AblationPlanEntry {
  /** Where it stands. */
  state: AblationRunState;
  /** Epochs done (saved in its folder) and planned. */
  epochs: { done: number; planned: number };
  /** While `running`: the process holding it (`pid P on HOST since TIME`). */
  holder?: string;
}

/** The epochs a run folder's `metrics.jsonl` records. */
async function epochsDone(runDir: string): Promise<number> {
  const text = await Deno.readTextFile(join(runDir, RUN_FILES.metrics)).catch(() => "");
  return text.split("\n").filter((line) => line.trim() !== "").length;
}

async function jobStatus(ablation: Ablation, job: PlannedJob, staleMs: number): Promise<AblationRunStatus> {
  const planned = job.config.trainer.epochs;
  const done = await epochsDone(job.runDir);
  const status = (state: AblationRunState, holder?: string): AblationRunStatus => ({
    ...job.entry,
    state,
    epochs: { done: state === "finished" ? planned : Math.min(done, planned), planned },
    ...(holder === undefined ? {} : { holder }),
  });
  if (await readFinished(job)) return status("finished");
  const lock = join(ablation.output, ABLATION_FILES.locks, `${job.name}.lock`);
  const info = await Deno.stat(lock).catch(() => null);
  if (info && Date.now() - (info.mtime?.getTime() ?? 0) < staleMs) {
    const holder = (await Deno.readTextFile(lock).catch(() => "")).replace(/ \([0-9a-f-]+\)/, "").trim();
    return status("running", holder || undefined);
  }
  const started = await exists(join(job.runDir, RUN_FILES.last)) ||
    await exists(join(job.runDir, RUN_FILES.partial));
  return status(started ? "partial" : "missing");
}

/**
 * Where every planned run of an ablation stands, in plan order (see {@linkcode AblationRunState}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ablationStatus, parseAblation } from "./ablation.ts";
 * const output = await Deno.makeTempDir();
 * const ablation = parseAblation(`output: ${output}\nvariants: [{ name: a }, { name: b }]\n`, "a.yaml");
 * const status = await ablationStatus(ablation);
 * assert.deepEqual(status.map((run) => [run.index, run.state, run.epochs.done]), [[1, "missing", 0], [2, "missing", 0]]);
 * await Deno.remove(output, { recursive: true });
 * ```
 */
export async function ablationStatus(
  ablation: Ablation,
  options: { dataPath?: string; overrides?: string[]; staleSeconds?: number } = {},
): Promise<AblationRunStatus[]> {
  const staleMs = (options.staleSeconds ?? 120) * 1000;
  const jobs = await planJobs(ablation, options);
  return await Promise.all(jobs.map((job) => jobStatus(ablation, job, staleMs)));
}

/** A run held by this process; `release` deletes its lock. */
interface RunLock {
  release(): Promise<void>;
}

/**
 * Lock files this process holds or is taking, with the text it writes into them, released when it is
 * interrupted (Ctrl-C, SIGTERM).
 */
const heldLocks = new Map<string, string>();
let signalsHooked = false;

function releaseOnSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  const onSignal = () => {
    for (const [path, stamp] of heldLocks) {
      try {
        // A lock still being taken may be another process's: remove only the one this process wrote.
        if (Deno.readTextFileSync(path) === stamp) Deno.removeSync(path);
      } catch {
        // already gone
      }
    }
    Deno.exit(130);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, onSignal);
    } catch {
      // not supported on this platform (SIGTERM on Windows)
    }
  }
}

/**
 * Takes the lock file `path` if no other process holds it: created exclusively, touched every
 * `heartbeatMs` while held, and taken over when its owner stopped touching it for `staleMs`. Returns null
 * when another process holds it.
 */
async function tryLock(path: string, staleMs: number, heartbeatMs: number): Promise<RunLock | null> {
  const isStale = async (file: string) => {
    const info = await Deno.stat(file).catch(() => null);
    if (info === null) return null;
    return Date.now() - (info.mtime?.getTime() ?? 0) >= staleMs;
  };
  // Hooked before the file exists, so that a signal arriving while it is being created still removes it.
  releaseOnSignals();
  for (let attempt = 0; attempt < 3; attempt++) {
    const stamp = `pid ${Deno.pid} on ${Deno.hostname()} since ${
      new Date().toISOString()
    } (${crypto.randomUUID()})\n`;
    heldLocks.set(path, stamp);
    try {
      await Deno.writeTextFile(path, stamp, { createNew: true });
    } catch (error) {
      heldLocks.delete(path);
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      const stale = await isStale(path);
      if (stale === null) continue; // released meanwhile
      if (!stale) return null;
      // Stale: move it aside (only one process can), check it is the stale one, then try again.
      const aside = `${path}.${crypto.randomUUID().slice(0, 8)}.stale`;
      if (!await Deno.rename(path, aside).then(() => true, () => false)) continue;
      if (!await isStale(aside)) {
        await Deno.rename(aside, path).catch(() => {}); // a live lock after all: put it back
        return null;
      }
      await Deno.remove(aside).catch(() => {});
      continue;
    }
    const timer = setInterval(() => {
      const now = new Date();
      Deno.utime(path, now, now).catch(() => {});
    }, heartbeatMs);
    return {
      async release() {
        clearInterval(timer);
        heldLocks.delete(path);
        await Deno.remove(path).catch(() => {});
      },
    };
  }
  return null;
}

/** Options of {@linkcode runAblation}. */
export interface RunAblationOptions {
  /** `--data-path`. */
  dataPath?: string;
  /** Extra overrides for every run. */
  overrides?: string[];
  /** Progress display, as `trainRun`'s `progress` option. @default {true} */
  progress?: boolean | "epochs";
  /** Where log lines go. @default {console.log} */
  log?: (line: string) => void;
  /** How often to look again at runs other processes hold, in seconds. @default {30} */
  pollSeconds?: number;
  /** After how long without a heartbeat another process's lock is taken over, in seconds. @default {120} */
  staleSeconds?: number;
  /** Write each run's report page and the ablation's (`report.ts`). @default {true} */
  report?: boolean;
}

/** How processes share the jobs of an ablation. */
interface SharingOptions {
  /** Where the lock files go. */
  lockDir: string;
  /** How often to look again at jobs other processes hold. */
  pollMs: number;
  /** After how long without a heartbeat a lock is taken over. */
  staleMs: number;
  /** Where log lines go. */
  log: (line: string) => void;
  /** What the other processes are doing, for the waiting line ("training"). */
  activity: string;
}

/**
 * Does `work` for every job that is not `done`, one job at a time, skipping jobs another process holds
 * (`<lockDir>/<name>.lock`) and coming back to them until every job is done. `done` is called with
 * `firstPass` false for jobs that another process finished.
 */
async function shareJobs<J extends { name: string }>(
  jobs: J[],
  sharing: SharingOptions,
  done: (job: J, firstPass: boolean) => Promise<boolean>,
  work: (job: J) => Promise<void>,
): Promise<void> {
  await Deno.mkdir(sharing.lockDir, { recursive: true });
  const heartbeatMs = Math.min(15_000, sharing.staleMs / 8);
  const finished = new Set<J>();
  let firstPass = true;
  let waitingFor = "";
  while (true) {
    const held: string[] = [];
    for (const job of jobs.filter((j) => !finished.has(j))) {
      if (!await done(job, firstPass)) {
        const lock = await tryLock(join(sharing.lockDir, `${job.name}.lock`), sharing.staleMs, heartbeatMs);
        if (!lock) {
          held.push(job.name);
          continue;
        }
        try {
          // Another process may have finished it between the check and the lock.
          if (!await done(job, firstPass)) await work(job);
        } finally {
          await lock.release();
        }
      }
      finished.add(job);
    }
    firstPass = false;
    if (held.length === 0) return;
    if (held.join() !== waitingFor) {
      waitingFor = held.join();
      sharing.log(
        `waiting for ${held.length} run(s) other processes are ${sharing.activity}: ${held.join(", ")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, sharing.pollMs));
  }
}

function sharingOptions(
  ablation: Ablation,
  options: { pollSeconds?: number; staleSeconds?: number },
  log: (line: string) => void,
  activity: string,
): SharingOptions {
  return {
    lockDir: join(ablation.output, ABLATION_FILES.locks),
    pollMs: (options.pollSeconds ?? 30) * 1000,
    staleMs: (options.staleSeconds ?? 120) * 1000,
    log,
    activity,
  };
}

/** What a call did with a run: trained it from the start, resumed it, or found it finished. */
export type AblationRunAction = "trained" | "resumed" | "done before" | "finished by another process";

/** Runs or reads back `jobs` (shared with other processes through the lock files), in their order. */
async function runJobs(
  ablation: Ablation,
  planned: PlannedJob[],
  options: RunAblationOptions,
  log: (line: string) => void,
): Promise<{ job: PlannedJob; result: AblationRun; action: AblationRunAction }[]> {
  const jobs = planned.map((job) => ({
    ...job,
    result: null as AblationRun | null,
    action: "done before" as AblationRunAction,
  }));
  await shareJobs(
    jobs,
    sharingOptions(ablation, options, log, "training"),
    async (job, firstPass) => {
      const result = await readFinished(job);
      if (!result) return false;
      if (!job.result) {
        job.action = firstPass ? "done before" : "finished by another process";
        log(`${job.where}: ${job.action} (${job.runDir})`);
      }
      job.result = result;
      return true;
    },
    async (job) => {
      // A run stopped before its first checkpoint resumes too (it restarts from epoch 1).
      const resume = await exists(join(job.runDir, RUN_FILES.last)) ||
        await exists(join(job.runDir, RUN_FILES.partial));
      if (!resume && await exists(job.runDir)) await Deno.remove(job.runDir, { recursive: true });
      log(`${job.where}: ${resume ? "resuming" : "training"} in ${job.runDir}`);
      await trainRun(job.config, {
        runDir: job.runDir,
        resume,
        progress: options.progress ?? true,
        log,
        report: options.report,
      });
      job.result = await readFinished(job);
      if (!job.result) throw new Error(`${job.runDir}: the run ended without a summary`);
      job.action = resume ? "resumed" : "trained";
    },
  );
  return jobs.map((job) => ({ job, result: job.result!, action: job.action }));
}

/**
 * Runs (or resumes) every run of an ablation that no other process holds, waits for the runs other
 * processes hold, and returns all results in variant and seed order.
 *
 * @example
 * ```ts ignore
 * import { parseAblation, runAblation } from "./ablation.ts";
 * const file = "configs/ablation-synthetic.yaml";
 * const runs = await runAblation(parseAblation(await Deno.readTextFile(file), file), { pollSeconds: 5 });
 * ```
 */
export async function runAblation(
  ablation: Ablation,
  options: RunAblationOptions = {},
): Promise<AblationRun[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const done = await runJobs(ablation, await planJobs(ablation, options), options, log);
  return done.map((d) => d.result);
}

/** What {@linkcode runAblationEntry} did. */
export interface AblationEntryResult {
  /** The run's place in the plan. */
  entry: AblationPlanEntry;
  /** Its results. */
  run: AblationRun;
  /** What this call did with it. */
  action: AblationRunAction;
  /** How it treats its flipped training labels, where its variant trains with label noise. */
  noise: AblationNoiseRun | null;
}

/**
 * Trains exactly one run of an ablation, numbered as in {@linkcode ablationPlan} (a Slurm array task's
 * `--run $SLURM_ARRAY_TASK_ID`), and measures its flipped labels where it trains with label noise. Run
 * again, it does nothing new: a finished run is read back, a half-done one resumes from its last
 * checkpoint, and a run another process holds (lock file) is waited for.
 *
 * @example
 * ```ts ignore
 * import { parseAblation, runAblationEntry } from "./ablation.ts";
 * const file = "configs/ablation-synthetic.yaml";
 * const { run, action } = await runAblationEntry(parseAblation(await Deno.readTextFile(file), file), 3);
 * console.log(action, run.bestAccuracy);
 * ```
 */
export async function runAblationEntry(
  ablation: Ablation,
  index: number,
  options: RunAblationOptions = {},
): Promise<AblationEntryResult> {
  const total = ablation.variants.length * ablation.seeds.length;
  if (!Number.isSafeInteger(index) || index < 1 || index > total) {
    throw new RangeError(`run ${index}: the ablation has runs 1 to ${total} (--plan lists them)`);
  }
  const log = options.log ?? ((line: string) => console.log(line));
  const [done] = await runJobs(ablation, await planJobs(ablation, options, [index]), options, log);
  const [noise] = await measureAblationNoise(ablation, [done.result], {
    log,
    pollSeconds: options.pollSeconds,
    staleSeconds: options.staleSeconds,
  });
  return { entry: done.job.entry, run: done.result, action: done.action, noise: noise ?? null };
}

/** Mean and standard deviation per variant. */
export interface VariantResult {
  /** Variant name. */
  variant: string;
  /** Runs (seeds). */
  runs: number;
  /** Best test accuracy: mean and std over seeds. */
  best: { mean: number; std: number };
  /** Last test accuracy. */
  last: { mean: number; std: number };
  /** Last mean class accuracy. */
  meanClass: { mean: number; std: number };
  /** Mean test accuracy of each run's last k epochs (NaN where the runs' summaries lack it). */
  meanOfLast?: { mean: number; std: number };
}

/** Mean and sample standard deviation (0 for a single value). */
function stat(xs: number[]): { mean: number; std: number } {
  const s = summarize(xs);
  if (xs.length < 2) return { mean: s.mean, std: xs.length === 1 ? 0 : NaN };
  const sampleStd = s.std * Math.sqrt(xs.length / (xs.length - 1));
  return { mean: s.mean, std: sampleStd };
}

/**
 * Aggregates runs per variant (in variant order). Std is the sample standard deviation.
 *
 * @example
 * ```ts ignore
 * import { aggregate, resultsMarkdown, runAblation } from "./ablation.ts";
 * const runs = await runAblation(ablation);
 * console.log(resultsMarkdown(ablation, aggregate(ablation, runs), runs));
 * ```
 */
export function aggregate(ablation: Ablation, runs: AblationRun[]): VariantResult[] {
  return ablation.variants.map((v) => {
    const mine = runs.filter((r) => r.variant === v.name);
    return {
      variant: v.name,
      runs: mine.length,
      best: stat(mine.map((r) => r.bestAccuracy)),
      last: stat(mine.map((r) => r.lastAccuracy)),
      meanClass: stat(mine.map((r) => r.lastMeanClassAccuracy)),
      meanOfLast: stat(mine.map((r) => r.meanOfLastAccuracy ?? NaN)),
    };
  });
}

const pm = (s: { mean: number; std: number }) =>
  Number.isNaN(s.mean) ? "-" : `${(100 * s.mean).toFixed(2)} ± ${(100 * s.std).toFixed(2)}`;

/**
 * The results as a Markdown table (accuracies in percent, mean ± std over seeds) plus per-run rows: three
 * evaluation protocols side by side (the best epoch, chosen on the test set as the reference does; the
 * last epoch; the mean of the last k epochs) and the last epoch's mean class accuracy; then each
 * variant's last-epoch confusion matrix summed over its seeds, where the summaries have one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG } from "./config.ts";
 * import { aggregate, parseAblation, resultsMarkdown } from "./ablation.ts";
 *
 * const ablation = parseAblation(
 *   [
 *     "set: { trainer.epochs: 2 }",
 *     "seeds: [0, 1]",
 *     "variants:",
 *     "  - { name: label, set: { method.distribution: label } }",
 *   ].join("\n"),
 *   "a.yaml",
 * );
 * const runs = [0, 1].map((seed) => ({
 *   variant: "label",
 *   seed,
 *   runDir: `runs/a/label-seed${seed}`,
 *   config: DEFAULT_CONFIG,
 *   bestAccuracy: 0.8 + seed / 100,
 *   lastAccuracy: 0.8,
 *   lastMeanClassAccuracy: 0.75,
 * }));
 * const table = resultsMarkdown(ablation, aggregate(ablation, runs), runs);
 * const row = '| label | method.distribution="label" | 2 | 80.50 ± 0.71 | 80.00 ± 0.00 | - | 75.00 ± 0.00 |';
 * assert.ok(table.includes(row), table);
 * ```
 */
export function resultsMarkdown(ablation: Ablation, results: VariantResult[], runs: AblationRun[]): string {
  const ks = [...new Set(runs.map((r) => r.meanOfLastK).filter((k) => k !== undefined))];
  const lastK = ks.length ? ks.join("/") : "k";
  const lines = [
    `# ${ablation.name}`,
    "",
    `Seeds: ${ablation.seeds.join(", ")}. Test accuracy in percent, mean ± sample std over seeds. The best ` +
    "epoch is chosen on the test set itself (as the reference does), an optimistic figure; the last epoch and " +
    `the mean of the last ${lastK} evaluated epochs are not.`,
    "",
    `| variant | what changes | runs | best epoch (chosen on test) | last epoch | mean of last ${lastK} | ` +
    "last mean class accuracy |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...results.map((r) => {
      const set = ablation.variants.find((v) => v.name === r.variant)!.set;
      const what = Object.entries(set).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ") || "-";
      const meanOfLast = r.meanOfLast ? pm(r.meanOfLast) : "-";
      return `| ${r.variant} | ${what} | ${r.runs} | ${pm(r.best)} | ${pm(r.last)} | ${meanOfLast} | ` +
        `${pm(r.meanClass)} |`;
    }),
    ...confusionSections(results, runs),
    "",
    "## Runs",
    "",
    "| variant | seed | best | last | last mean class | folder |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
    ...runs.map((r) =>
      `| ${r.variant} | ${r.seed} | ${(100 * r.bestAccuracy).toFixed(2)} | ${
        (100 * r.lastAccuracy).toFixed(2)
      } | ` +
      `${(100 * r.lastMeanClassAccuracy).toFixed(2)} | ${r.runDir} |`
    ),
  ];
  return lines.join("\n") + "\n";
}

/** Each variant's last-epoch confusion matrix summed over its runs, as Markdown (where every run has one). */
function confusionSections(results: VariantResult[], runs: AblationRun[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    const mine = runs.filter((run) => run.variant === r.variant);
    const first = mine[0];
    if (!first?.lastConfusion || !first.classNames || mine.some((run) => !run.lastConfusion)) continue;
    const C = first.lastConfusion.length;
    if (mine.some((run) => run.lastConfusion!.length !== C)) continue;
    const sum = first.lastConfusion.map((row, i) =>
      row.map((_, j) => mine.reduce((s, run) => s + (run.lastConfusion![i]?.[j] ?? 0), 0))
    );
    if (lines.length === 0) {
      lines.push(
        "",
        "## Confusion matrices",
        "",
        "Last epoch, summed over seeds; rows: true class, columns: predicted.",
      );
    }
    lines.push(
      "",
      `### ${r.variant}`,
      "",
      `| true \\ predicted | ${first.classNames.join(" | ")} |`,
      `| --- |${" ---: |".repeat(C)}`,
      ...sum.map((row, i) => `| ${first.classNames![i] ?? `#${i}`} | ${row.join(" | ")} |`),
    );
  }
  return lines;
}

/**
 * The per-variant results as CSV (fractions, not percent).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resultsCsv } from "./ablation.ts";
 * const csv = resultsCsv([{
 *   variant: "Ada-DF",
 *   runs: 2,
 *   best: { mean: 0.5, std: 0.1 },
 *   last: { mean: 0.4, std: 0 },
 *   meanClass: { mean: 0.3, std: 0 },
 * }]);
 * assert.equal(csv.split("\n")[1], "Ada-DF,2,0.5,0.1,0.4,0,0.3,0,NaN,NaN");
 * ```
 */
export function resultsCsv(results: VariantResult[]): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const rows = [
    "variant,runs,best_mean,best_std,last_mean,last_std,mean_class_mean,mean_class_std,mean_of_last_mean," +
    "mean_of_last_std",
  ];
  for (const r of results) {
    rows.push(
      [
        q(r.variant),
        r.runs,
        r.best.mean,
        r.best.std,
        r.last.mean,
        r.last.std,
        r.meanClass.mean,
        r.meanClass.std,
        r.meanOfLast?.mean ?? NaN,
        r.meanOfLast?.std ?? NaN,
      ]
        .join(","),
    );
  }
  return rows.join("\n") + "\n";
}

/** A run's label-noise measurement, as cached in its folder. */
export interface AblationNoiseRun {
  /** Variant name. */
  variant: string;
  /** Seed. */
  seed: number;
  /** Whether the variant trains the target branch on the fused distributions. */
  fused: boolean;
  /** The measurement at the run's last checkpoint. */
  report: LabelNoiseReport;
}

/**
 * Measures, for every run of a variant with `data.labelNoise`, how it treats its flipped training labels
 * (at its last checkpoint; cached in the run folder as `label-noise-report.json`). Single-branch runs
 * (`model.branches: 1`) are left out: they have no attention weights or label distributions.
 *
 * @example
 * ```ts ignore
 * import { labelNoiseMarkdown, measureAblationNoise, parseAblation, runAblation } from "./ablation.ts";
 * const file = "configs/noise-synthetic.yaml";
 * const ablation = parseAblation(await Deno.readTextFile(file), file);
 * const runs = await runAblation(ablation);
 * console.log(labelNoiseMarkdown(ablation, await measureAblationNoise(ablation, runs)));
 * ```
 */
export async function measureAblationNoise(
  ablation: Ablation,
  runs: AblationRun[],
  options: { log?: (line: string) => void; pollSeconds?: number; staleSeconds?: number } = {},
): Promise<AblationNoiseRun[]> {
  const log = options.log ?? (() => {});
  // A single-branch run has no attention weights or label distributions to measure.
  const measurable = runs.filter((run) => run.config.data.labelNoise > 0 && run.config.model.branches !== 1);
  const jobs = measurable.map((run) => ({
    run,
    name: `${basename(run.runDir)}.noise`,
    cache: join(run.runDir, RUN_FILES.noiseReport),
  }));
  const reports = new Map<string, RunLabelNoise>();
  await shareJobs(
    jobs,
    sharingOptions(ablation, options, log, "measuring"),
    async (job) => {
      try {
        const cached: RunLabelNoise = JSON.parse(await Deno.readTextFile(job.cache));
        if (cached.epoch !== job.run.config.trainer.epochs) return false;
        reports.set(job.name, cached);
        return true;
      } catch {
        return false;
      }
    },
    async (job) => {
      log(`measuring the flipped labels of ${job.run.runDir}`);
      const measured = await measureLabelNoise(job.run.runDir, { checkpoint: "last" });
      await writeFileAtomic(job.cache, JSON.stringify(measured, null, 2) + "\n");
      reports.set(job.name, measured);
    },
  );
  return jobs.map((job) => ({
    variant: job.run.variant,
    seed: job.run.seed,
    fused: pluginName(job.run.config.method.distribution) === "fused",
    report: reports.get(job.name)!.report,
  }));
}

/**
 * The label-noise measurements as a Markdown section (empty when there are none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { labelNoiseMarkdown, parseAblation } from "./ablation.ts";
 *
 * const ablation = parseAblation(
 *   [
 *     "set: { trainer.epochs: 2 }",
 *     "seeds: [0, 1]",
 *     "variants:",
 *     "  - { name: label, set: { method.distribution: label } }",
 *   ].join("\n"),
 *   "a.yaml",
 * );
 * assert.equal(labelNoiseMarkdown(ablation, []), "");
 * const report = {
 *   clean: 8, flipped: 2, attentionClean: 0.8, attentionFlipped: 0.6, attentionAuc: 0.75,
 *   cleanAccuracy: 0.875, flippedRecovered: 0.5, flippedMemorised: 0.5,
 *   labelTrueMass: 0.3, labelNoisyMass: 0.6, fusedTrueMass: 0.25, fusedNoisyMass: 0.55,
 * };
 * const section = labelNoiseMarkdown(ablation, [{ variant: "label", seed: 0, fused: false, report }]);
 * assert.ok(section.includes("| label | 1 | 0.750 ± 0.000 | 87.5 ± 0.0 | 50.0 ± 0.0 | 50.0 ± 0.0 |"));
 * ```
 */
export function labelNoiseMarkdown(ablation: Ablation, noise: AblationNoiseRun[]): string {
  if (noise.length === 0) return "";
  const f = (xs: number[], scale = 100, digits = 1) => {
    const s = stat(xs);
    return `${(scale * s.mean).toFixed(digits)} ± ${(scale * s.std).toFixed(digits)}`;
  };
  const rows = ablation.variants.flatMap((v) => {
    const mine = noise.filter((n) => n.variant === v.name).map((n) => n.report);
    if (mine.length === 0) return [];
    const fused = noise.find((n) => n.variant === v.name)!.fused;
    const cells = [
      v.name,
      String(mine.length),
      f(mine.map((r) => r.attentionAuc), 1, 3),
      f(mine.map((r) => r.cleanAccuracy)),
      f(mine.map((r) => r.flippedRecovered)),
      f(mine.map((r) => r.flippedMemorised)),
      f(mine.map((r) => r.labelTrueMass), 1, 3) + " / " + f(mine.map((r) => r.labelNoisyMass), 1, 3),
      fused
        ? f(mine.map((r) => r.fusedTrueMass), 1, 3) + " / " + f(mine.map((r) => r.fusedNoisyMass), 1, 3)
        : "-",
    ];
    return [`| ${cells.join(" | ")} |`];
  });
  return [
    "## How the runs treat their flipped training labels",
    "",
    "Training split at the last checkpoint, mean ± sample std over seeds. Attention AUC: how well w_i ranks",
    "clean samples above flipped ones (0.5: blind to the noise). Recovered / memorised: percent of the flipped",
    "samples the target branch predicts as their true / flipped label. l_i and f_i: mean probability the label",
    "and fused distributions give a flipped sample's true / flipped label (f_i only where it is the target).",
    "",
    "| variant | runs | attention AUC | clean samples correct | flipped recovered | flipped memorised | l_i true / flipped | f_i true / flipped |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
  ].join("\n") + "\n";
}

/** The files and folders an ablation writes into its output folder, beside the run folders. */
export const ABLATION_FILES = {
  /** The report: the per-variant table, the per-run table and the label-noise section. */
  markdown: "results.md",
  /** The per-variant results as CSV. */
  csv: "results.csv",
  /** The lock files of the processes sharing the ablation. */
  locks: ".locks",
} as const;

/** What {@linkcode ablate} found and wrote. */
export interface AblationReport {
  /** Every run, in variant and seed order. */
  runs: AblationRun[];
  /** Mean and std per variant, in variant order. */
  results: VariantResult[];
  /** The label-noise measurements of the variants with `data.labelNoise` (empty when none has it). */
  noise: AblationNoiseRun[];
  /** The text of `results.md`. */
  markdown: string;
  /** The text of `results.csv`. */
  csv: string;
  /** The files written. */
  files: { markdown: string; csv: string };
  /** Wall time of the whole ablation in this process, in seconds. */
  seconds: number;
  /** The planned runs that have not finished, left out of the tables (only ever some with `collect`). */
  missing: AblationRunStatus[];
}

/** Options of {@linkcode ablate}. */
export interface AblateOptions extends RunAblationOptions {
  /**
   * Train nothing: table the runs that have finished and name the missing ones in `results.md` (what a
   * Slurm collect job does after the job array). @default {false}
   */
  collect?: boolean;
}

/** The runs that have finished, and where the others stand, in plan order. */
async function finishedRuns(
  ablation: Ablation,
  options: AblateOptions,
): Promise<{ runs: AblationRun[]; missing: AblationRunStatus[] }> {
  const staleMs = (options.staleSeconds ?? 120) * 1000;
  const runs: AblationRun[] = [];
  const missing: AblationRunStatus[] = [];
  for (const job of await planJobs(ablation, options)) {
    const run = await readFinished(job);
    if (run) runs.push(run);
    else missing.push(await jobStatus(ablation, job, staleMs));
  }
  return { runs, missing };
}

/**
 * The runs an ablation lacks, as a Markdown section (empty when none is missing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { missingRunsMarkdown } from "./ablation.ts";
 * assert.equal(missingRunsMarkdown([], 4), "");
 * const section = missingRunsMarkdown([{
 *   index: 3,
 *   name: "b-seed0",
 *   variant: "b",
 *   seed: 0,
 *   runDir: "/runs/a/b-seed0",
 *   state: "partial",
 *   epochs: { done: 1, planned: 2 },
 * }], 4);
 * assert.match(section, /1 of 4 runs have not finished/);
 * assert.ok(section.includes("| 3 | b | 0 | partial | 1 / 2 | /runs/a/b-seed0 |"));
 * ```
 */
export function missingRunsMarkdown(missing: AblationRunStatus[], total: number): string {
  if (missing.length === 0) return "";
  return [
    "## Missing runs",
    "",
    `${missing.length} of ${total} runs have not finished; the tables above leave them out. ` +
    "`deno task ablate FILE --run INDEX` trains (or resumes) one.",
    "",
    "| run | variant | seed | state | epochs | folder |",
    "| ---: | --- | ---: | --- | ---: | --- |",
    ...missing.map((m) =>
      `| ${m.index} | ${m.variant} | ${m.seed} | ${m.state}${m.holder ? ` (${m.holder})` : ""} | ` +
      `${m.epochs.done} / ${m.epochs.planned} | ${m.runDir} |`
    ),
  ].join("\n") + "\n";
}

/**
 * Runs an ablation (see {@linkcode runAblation}: shared with other processes through lock files),
 * measures its noisy variants' flipped labels (see {@linkcode measureAblationNoise}), and writes
 * `results.md` and `results.csv` into its output folder. With `collect`, it trains nothing and tables
 * the runs that have finished, naming the missing ones.
 *
 * @example
 * ```ts ignore
 * import { ablate, parseAblation } from "./ablation.ts";
 * const file = "configs/ablation-synthetic.yaml";
 * const report = await ablate(parseAblation(await Deno.readTextFile(file), file), { progress: "epochs" });
 * console.log(report.markdown);
 * ```
 */
export async function ablate(ablation: Ablation, options: AblateOptions = {}): Promise<AblationReport> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const { runs, missing } = options.collect
    ? await finishedRuns(ablation, options)
    : { runs: await runAblation(ablation, { ...options, log }), missing: [] };
  const results = aggregate(ablation, runs);
  const noise = await measureAblationNoise(ablation, runs, {
    log,
    pollSeconds: options.pollSeconds,
    staleSeconds: options.staleSeconds,
  });
  const noiseSection = labelNoiseMarkdown(ablation, noise);
  const missingSection = missingRunsMarkdown(missing, runs.length + missing.length);
  const markdown = resultsMarkdown(ablation, results, runs) + (noiseSection ? `\n${noiseSection}` : "") +
    (missingSection ? `\n${missingSection}` : "");
  const csv = resultsCsv(results);
  const files = {
    markdown: join(ablation.output, ABLATION_FILES.markdown),
    csv: join(ablation.output, ABLATION_FILES.csv),
  };
  await writeFileAtomic(files.markdown, markdown);
  await writeFileAtomic(files.csv, csv);
  if (options.report ?? true) await reportAfterAblation(ablation.output, { ablation, runs, noise }, { log });
  const seconds = (performance.now() - started) / 1000;
  return { runs, results, noise, markdown, csv, files, seconds, missing };
}
