/**
 * A training run from a resolved configuration: the datasets and their pipelines, the model, the
 * plugins, the trainer, and the run folder that holds everything needed to understand, compare and
 * continue the run:
 *
 * - `config.yaml`: the resolved configuration;
 * - `metrics.jsonl`: one line per epoch (every loss term, alpha1/alpha2, learning rate, train and test
 *   accuracy, per-class accuracy, attention statistics per class, the class distributions);
 * - `last.safetensors` and `best.safetensors`: checkpoints, written atomically;
 * - `partial.safetensors`: the mid-epoch checkpoint (`output.checkpointSteps`/`checkpointMinutes`),
 *   removed once the epoch's `last` is written;
 * - `summary.json` and `summary.txt`: best and last accuracy, wall time, the epoch table; `summary.json`'s
 *   `protocols` puts the evaluation protocols side by side (the best epoch, flagged as chosen on the test
 *   set; the last epoch; the mean of the last `trainer.meanOfLast` evaluated epochs), each with its mean
 *   class accuracy and the best and last with their confusion matrices;
 * - `label-noise.json`: the flipped training indices, when label noise is on.
 * - `label-noise-report.json`: written by `deno task ablate`: how the run treats those flipped labels.
 * - `report.html` and `report/`: the report with plots, written at the end of every run (see `report.ts`).
 *
 * @module
 */
import { join, resolve } from "node:path";
import { type BackendInfo, type BackendName, initBackend } from "../engine/backend.ts";
import { removeTemporaryFiles, writeFileAtomic } from "../engine/files.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { backboneSpec } from "../backbones/resnet.ts";
import { calibrateFaceResNet29BatchNorm, type CalibrationReport } from "../backbones/face_resnet29.ts";
import { type Tensor4D, tf } from "../engine/tf.ts";
import { buildPlugins, pluginName, type PluginSet } from "../strategies/registry.ts";
import {
  type EpochMetrics,
  type RunSummary,
  Trainer,
  type TrainerHooks,
  type TrainerState,
} from "../training/trainer.ts";
import { evaluationProtocols } from "../training/metrics.ts";
import { configToYaml, loadConfigFile, loadedPlugins, type RunConfig } from "./config.ts";
import {
  applyLabelNoise,
  classBalancedSampler,
  DataLoader,
  type Dataset,
  datasetEvalSplit,
  ImagePipeline,
  openDataset,
  type PipelineOptions,
  shuffleSampler,
  withLabels,
} from "../datasets/mod.ts";
import { ensureSynthetic } from "../datasets/synthetic.ts";
import {
  formatLoadReport,
  initFromPretrained,
  loadCheckpoint,
  loadModelStateDict,
  saveCheckpoint,
  saveCheckpointWithoutMoments,
} from "../training/checkpoint.ts";
import { progressHooks, summaryTable } from "./progress.ts";
import { explainNonFiniteLoss, skippedImagesHooks, skippedSummary } from "./_run_checks.ts";
import { NonFiniteLossError } from "../training/step.ts";
import { reportAfterRun } from "./report.ts";

/** The files of a run folder. */
export const RUN_FILES = {
  config: "config.yaml",
  metrics: "metrics.jsonl",
  last: "last.safetensors",
  best: "best.safetensors",
  summary: "summary.json",
  table: "summary.txt",
  noise: "label-noise.json",
  noiseReport: "label-noise-report.json",
  partial: "partial.safetensors",
} as const;

/**
 * A test hook: with `ADA_DF_KILL_AT=<point>` in the environment (read only where the permission is
 * granted), the process kills itself (SIGKILL) at that point of the run folder's updates, so that a
 * test can check that every kill point leaves a folder that resumes to the uninterrupted run. The
 * points: `start:config`; per epoch E, `epoch-E:batch-B` (after a mid-epoch checkpoint at batch B),
 * `epoch-E:best`, `epoch-E:last`, `epoch-E:metrics` (after each of those writes, in that order); and
 * `run-end:last`, `run-end:summary`.
 */
const KILL_AT: string | undefined = (() => {
  try {
    const granted =
      Deno.permissions.querySync({ name: "env", variable: "ADA_DF_KILL_AT" }).state === "granted";
    return granted ? Deno.env.get("ADA_DF_KILL_AT") : undefined;
  } catch {
    return undefined;
  }
})();

function killPoint(point: string): void {
  if (KILL_AT !== undefined && KILL_AT === point) Deno.kill(Deno.pid, "SIGKILL");
}

/** `metrics.jsonl`'s text: one line per epoch. */
function metricsText(history: readonly EpochMetrics[], classNames: readonly string[]): string {
  return history.map((m) => JSON.stringify({ ...m, classNames }, (_k, v) => (Number.isNaN(v) ? null : v)))
    .join("\n") + "\n";
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function removeIfThere(path: string): Promise<boolean> {
  try {
    await Deno.remove(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new Error(`cannot remove ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** The train and test splits of a configured dataset. */
export interface RunData {
  /** Training split (labels possibly noised). */
  train: Dataset;
  /** Test split (validation for AffectNet and SFEW). */
  test: Dataset;
  /** Class names in label order. */
  classNames: readonly string[];
  /** Training indices whose label was flipped by `data.labelNoise`. */
  flipped: Int32Array;
  /** The training labels before `data.labelNoise` (those of `train` when there is no noise). */
  trueTrainLabels: Int32Array;
  /** Where the data came from. */
  root: string;
}

/**
 * Opens the configured dataset's splits (generating the synthetic set on first use).
 *
 * @example The splits of a small synthetic set
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveConfig } from "./config.ts";
 * import { openRunData } from "./run.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const config = await resolveConfig({
 *   preset: "synthetic",
 *   overrides: [
 *     "data.size=16",
 *     "data.synthetic.count=20",
 *     "data.synthetic.size=16",
 *     `data.synthetic.cacheDir=${JSON.stringify(dir)}`,
 *     "trainer.batchSize=8",
 *   ],
 * });
 * const data = await openRunData(config);
 * assert.equal(data.train.size + data.test.size, 20);
 * assert.deepEqual(data.test.classNames, data.classNames);
 * assert.equal(data.flipped.length, 0); // no data.labelNoise
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openRunData(
  config: RunConfig,
  log: (line: string) => void = () => {},
): Promise<RunData> {
  const d = config.data;
  let type: string = d.dataset;
  let root = d.path;
  if (d.dataset === "synthetic") {
    const s = d.synthetic;
    const started = performance.now();
    const result = await ensureSynthetic(s.cacheDir ?? undefined, {
      count: s.count,
      seed: s.seed,
      size: s.size,
      testFraction: s.testFraction,
    });
    if (result.generated) {
      log(
        `generated the synthetic set (${s.count} images) in ${result.dir} in ` +
          `${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    type = "rafdb";
    root = result.dir;
  }
  if (!root) throw new Error(`data.path: the ${d.dataset} dataset needs a path (--data-path DIR).`);
  const evalSplit = datasetEvalSplit(type) ?? "test";
  let train = await openDataset({ type, path: root, split: "train" });
  const test = await openDataset({ type, path: root, split: evalSplit });
  let flipped: Int32Array = new Int32Array(0);
  const trueTrainLabels = Int32Array.from(train.labels);
  if (d.labelNoise > 0) {
    const noise = applyLabelNoise(train.labels, {
      fraction: d.labelNoise,
      numClasses: train.classNames.length,
      seed: config.seed,
    });
    train = withLabels(train, noise.labels);
    flipped = noise.flipped;
  }
  return { train, test, classNames: train.classNames, flipped, trueTrainLabels, root };
}

/**
 * The image pipelines of a run: training (augmentations on) and evaluation (resize and normalise).
 *
 * @example The default recipe at 112 px
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG } from "./config.ts";
 * import { type RunPipelineOptions, pipelineOptions } from "./run.ts";
 * const { train, eval: test }: RunPipelineOptions = pipelineOptions(DEFAULT_CONFIG);
 * assert.equal(train.randAugment, "rand-m5-n3-mstd0.5");
 * assert.equal(test.randAugment, undefined);
 * ```
 */
export interface RunPipelineOptions {
  /** Training: RandAugment, horizontal flip and random erasing, as configured. */
  train: PipelineOptions;
  /** Evaluation (test, prediction): resize and normalise, on ten crops when `data.testCrops` is 10. */
  eval: PipelineOptions;
}

/**
 * The pipeline options of a configuration's `data` section: the one mapping from the config to the
 * image pipelines, used by training ({@linkcode makeLoaders}), evaluation and prediction, the tests
 * and the benchmarks.
 *
 * Training applies `data.randAugment` (a timm string), a horizontal flip with probability `data.hflip`
 * and `data.erasing` (its rectangles filled with 0, the mean after normalisation); RandAugment uses the
 * reference's fill (124, 116, 104) and its `translate_const` of 117 px at 224 px, scaled with the image
 * size (`round(size * 117 / 224)`, so a 112 px run translates by at most 59 px). Training uses TenCrop
 * when `data.trainCrops` is 10 (the shorter side resized to `round(size * 256 / 224)`, ten `size` px
 * crops, each augmented on its own: the reference's SFEW training), evaluation when `data.testCrops` is
 * 10. With a `model` section, both normalise
 * with the backbone's own normalisation (its spec's: ImageNet's for the ResNets, dlib's for
 * `face-resnet29`); without one, with the pipeline's default (ImageNet's).
 *
 * @example Ten test crops at 224 px
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG } from "./config.ts";
 * import { pipelineOptions } from "./run.ts";
 * const sfew = pipelineOptions({ data: { ...DEFAULT_CONFIG.data, size: 224, trainCrops: 10, testCrops: 10 } });
 * assert.equal(sfew.eval.tenCrop, true);
 * assert.equal(sfew.train.tenCrop, true);
 * assert.equal(sfew.train.randAugmentHparams?.translateConst, 117);
 * ```
 */
export function pipelineOptions(
  config: Pick<RunConfig, "data"> & { model?: Pick<RunConfig["model"], "backbone"> },
): RunPipelineOptions {
  const d = config.data;
  const normalization = config.model ? backboneSpec(config.model.backbone).normalization : undefined;
  const normalize = normalization ? { mean: normalization.mean, std: normalization.std } : {};
  const hparams = {
    translateConst: Math.round(d.size * 117 / 224),
    imgMean: [124, 116, 104] as [number, number, number],
  };
  return {
    train: {
      size: d.size,
      randAugment: d.randAugment,
      randAugmentHparams: hparams,
      hflip: d.hflip,
      erasing: d.erasing ? { ...d.erasing, value: 0 } : null,
      ...(d.trainCrops === 10 ? { tenCrop: true } : {}),
      ...normalize,
    },
    eval: { size: d.size, tenCrop: d.testCrops === 10, ...normalize },
  };
}

/** Data loaders of a run. */
export interface RunLoaders {
  /** Training batches. */
  train: DataLoader;
  /**
   * The extra mining pass's batches (training images, augmentations and crops; its last incomplete
   * batch dropped with `trainer.miningDropLast`).
   */
  mining: DataLoader;
  /** Test batches. */
  test: DataLoader;
}

/**
 * The loaders for a run's datasets.
 *
 * @example One training batch of a small synthetic set
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveConfig } from "./config.ts";
 * import { makeLoaders, openRunData } from "./run.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const config = await resolveConfig({
 *   preset: "synthetic",
 *   overrides: [
 *     "data.size=16",
 *     "data.synthetic.count=20",
 *     "data.synthetic.size=16",
 *     `data.synthetic.cacheDir=${JSON.stringify(dir)}`,
 *     "trainer.batchSize=8",
 *   ],
 * });
 * const loaders = makeLoaders(config, await openRunData(config));
 * for await (const batch of loaders.train.batches(0)) {
 *   assert.deepEqual(batch.shape, [8, 16, 16, 3]);
 *   break;
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function makeLoaders(config: RunConfig, data: RunData): RunLoaders {
  const p = pipelineOptions(config);
  const t = config.trainer;
  const trainPipeline = new ImagePipeline(p.train);
  const sampler = config.data.sampler === "balanced"
    ? classBalancedSampler(data.train.labels, { seed: config.seed })
    : shuffleSampler(data.train.size, { seed: config.seed });
  const common = { prefetch: config.data.prefetch, skipCorrupt: config.data.skipCorrupt };
  return {
    train: new DataLoader(data.train, {
      ...common,
      batchSize: t.batchSize,
      pipeline: trainPipeline,
      sampler,
      dropLast: t.dropLast,
      seed: config.seed,
    }),
    mining: new DataLoader(data.train, {
      ...common,
      batchSize: t.batchSize,
      pipeline: trainPipeline,
      sampler,
      dropLast: t.miningDropLast,
      seed: config.seed + 1,
    }),
    test: new DataLoader(data.test, {
      ...common,
      batchSize: t.batchSize,
      pipeline: new ImagePipeline(p.eval),
    }),
  };
}

/**
 * dlib's folded BatchNorm has no statistics: sets those of `face-resnet29` from the first training images
 * (up to 256, the evaluation pipeline, in dataset order), keeping its evaluation-mode function (see
 * `calibrateFaceResNet29BatchNorm`), so that it computes dlib's features in training mode too.
 */
async function calibrateOnTrainingImages(
  model: AdaDfModel,
  config: RunConfig,
  data: RunData,
): Promise<CalibrationReport> {
  const loader = new DataLoader(data.train, {
    batchSize: config.trainer.batchSize,
    pipeline: new ImagePipeline({ ...pipelineOptions(config).eval, tenCrop: false }),
  });
  const batches: Tensor4D[] = [];
  try {
    let images = 0;
    for await (const batch of loader.batches()) {
      batches.push(tf.tensor4d(batch.images, batch.shape));
      images += batch.shape[0];
      if (images >= 256) break;
    }
    return calibrateFaceResNet29BatchNorm(model, batches, {
      branchPrefixes: model.branchNames.map((b) => `${b}.`),
    });
  } finally {
    tf.dispose(batches);
  }
}

/** Options of {@linkcode trainRun}. */
export interface TrainRunOptions {
  /** The run folder (created); default `<output.dir>/<output.name or a generated name>`. */
  runDir?: string;
  /**
   * Continue the run in `runDir` from its `last` checkpoint, or from its mid-epoch one when that is
   * ahead (see {@linkcode resumeRun}).
   */
  resume?: boolean;
  /**
   * Progress display: `true` (a live line on a terminal, log lines otherwise), `"epochs"` (a line per
   * epoch and the summary), or `false` (nothing).
   * @default {true}
   */
  progress?: boolean | "epochs";
  /** Where log lines go. @default {console.log} */
  log?: (line: string) => void;
  /** Extra hooks. */
  hooks?: TrainerHooks[];
  /** CPU threads of the `native` backend (oneDNN), over the config's `threads`. Other backends ignore it. */
  threads?: number;
  /**
   * Write the run's report (`report.html` and `report/`, see `writeRunReport`) at the end; a failure to
   * write it is printed as a warning and does not fail the run.
   * @default {true}
   */
  report?: boolean;
}

/** What {@linkcode trainRun} returns. */
export interface TrainRunResult {
  /** The run folder. */
  runDir: string;
  /** The trainer's summary. */
  summary: RunSummary;
  /** The backend used. */
  backend: BackendInfo;
  /** Class names. */
  classNames: readonly string[];
}

/**
 * A default run folder name: `<dataset>-<distribution>-<UTC timestamp>` (`single-branch` in place of the
 * distribution for the single-branch baseline).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG } from "./config.ts";
 * import { defaultRunName } from "./run.ts";
 * assert.match(defaultRunName(DEFAULT_CONFIG), /^synthetic-fused-\d{8}-\d{6}$/);
 * ```
 */
export function defaultRunName(config: RunConfig): string {
  const method = config.model.branches === 1 ? "single-branch" : pluginName(config.method.distribution);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  return `${config.data.dataset}-${method}-${stamp}`;
}

/**
 * Hooks that keep the run folder up to date after every epoch: `metrics.jsonl`, the checkpoints and the
 * summary ({@linkcode trainRun} adds them to the trainer).
 *
 * @example Keep a run folder for a trainer of your own
 * ```ts ignore
 * import { initBackend } from "../engine/backend.ts";
 * import { resolveConfig } from "./config.ts";
 * import { runFolderHooks } from "./run.ts";
 *
 * const config = await resolveConfig({ preset: "synthetic" });
 * const backend = await initBackend(config.backend);
 * const hooks = runFolderHooks("runs/mine", config, classNames, backend);
 * const trainer = new Trainer({ model, plugins, train, test, epochs: 10, hooks: [hooks] });
 * ```
 */
export function runFolderHooks(
  runDir: string,
  config: RunConfig,
  classNames: readonly string[],
  backend: BackendInfo,
): TrainerHooks {
  const { checkpointEvery, checkpointSteps, checkpointMinutes } = config.output;
  let lastSaved = performance.now();
  /** Writes the run-folder checkpoint `file` of the trainer, with its state (`state` when given). */
  const save = async (file: string, trainer: Trainer, state?: TrainerState) =>
    await saveCheckpoint(join(runDir, file), {
      model: trainer.model,
      classNames,
      trainer: state ?? await trainer.getState(),
      config,
    });
  return {
    onRunStart() {
      lastSaved = performance.now();
    },
    async onBatchEnd(trainer, b) {
      // A mid-epoch checkpoint every checkpointSteps training steps, or checkpointMinutes after the last.
      const bySteps = checkpointSteps !== null && trainer.optimizer.step % checkpointSteps === 0;
      const byTime = checkpointMinutes !== null &&
        performance.now() - lastSaved >= checkpointMinutes * 60_000;
      if (!bySteps && !byTime) return;
      await save(RUN_FILES.partial, trainer);
      lastSaved = performance.now();
      killPoint(`epoch-${b.epoch}:batch-${b.batch}`);
    },
    async onEpochEnd(trainer, m) {
      // The order commits an epoch: best first (so that it is never behind the files that name it),
      // then last, then metrics.jsonl; a kill between two writes leaves files that a resume completes.
      if (trainer.bestEpoch === m.epoch) {
        // The best checkpoint keeps the mined class distributions but not the optimiser moments.
        const state = await trainer.getState();
        state.optimizer = { ...state.optimizer, expAvg: new Map(), expAvgSq: new Map() };
        await save(RUN_FILES.best, trainer, state);
        killPoint(`epoch-${m.epoch}:best`);
      }
      const isLast = m.epoch === trainer.options.epochs;
      const writeLast = m.epoch % checkpointEvery === 0 || isLast;
      if (writeLast) {
        await save(RUN_FILES.last, trainer);
        lastSaved = performance.now();
        killPoint(`epoch-${m.epoch}:last`);
      }
      await writeFileAtomic(join(runDir, RUN_FILES.metrics), metricsText(trainer.history, classNames));
      killPoint(`epoch-${m.epoch}:metrics`);
      // The epoch's mid-epoch checkpoint is behind `last` now (a resume would ignore it).
      if (writeLast) await removeIfThere(join(runDir, RUN_FILES.partial));
    },
    async onRunEnd(trainer, summary) {
      await save(RUN_FILES.last, trainer);
      killPoint("run-end:last");
      await removeIfThere(join(runDir, RUN_FILES.partial));
      const doc = {
        epochs: summary.epochs,
        bestAccuracy: summary.bestAccuracy,
        bestEpoch: summary.bestEpoch,
        lastAccuracy: summary.lastAccuracy,
        lastMeanClassAccuracy: summary.history.at(-1)?.testMeanClassAccuracy ?? null,
        lastPerClassAccuracy: summary.history.at(-1)?.testPerClassAccuracy ?? null,
        classNames,
        backend: backend.name,
        trainSeconds: summary.history.reduce((s, h) => s + h.seconds, 0),
        // Side by side: the best epoch (chosen on the test set), the last, the mean of the last k.
        protocols: evaluationProtocols(summary.history, config.trainer.meanOfLast),
        // The images data.skipCorrupt left out (only with it on).
        ...(config.data.skipCorrupt ? { skipped: skippedSummary(summary.history) ?? null } : {}),
      };
      await writeFileAtomic(
        join(runDir, RUN_FILES.summary),
        JSON.stringify(doc, (_k, v) => (Number.isNaN(v) ? null : v), 2) + "\n",
      );
      await writeFileAtomic(join(runDir, RUN_FILES.table), summaryTable(summary, classNames) + "\n");
      killPoint("run-end:summary");
    },
  };
}

/** Refuses to start a run in a folder that holds one, saying what to do instead. */
async function refuseExistingRun(runDir: string): Promise<void> {
  for (const f of [RUN_FILES.last, RUN_FILES.partial]) {
    if (await exists(join(runDir, f))) {
      throw new Error(
        `${runDir} already holds a run (${f}): continue it with --resume ${runDir}, or choose another ` +
          `name (--name) or parent folder (--out).`,
      );
    }
  }
  for (const f of [RUN_FILES.config, RUN_FILES.metrics]) {
    if (await exists(join(runDir, f))) {
      throw new Error(
        `${runDir} holds a run stopped before its first checkpoint (${f}, no ${RUN_FILES.last}): ` +
          `start it again with --resume ${runDir} (it restarts from epoch 1 with the folder's ` +
          `${RUN_FILES.config}), or delete the folder, or choose another name (--name).`,
      );
    }
  }
}

/** A checkpoint to resume from, and the file it was read from. */
type ResumeCheckpoint = Awaited<ReturnType<typeof loadCheckpoint>> & { path: string };

/**
 * The checkpoint a resume continues from: the mid-epoch one when it is ahead of `last` (a stale one is
 * removed), else `last`; none when the run was stopped before its first checkpoint.
 */
async function resumePoint(
  runDir: string,
  log: (line: string) => void,
): Promise<{ checkpoint?: ResumeCheckpoint; last?: ResumeCheckpoint }> {
  const read = async (f: string): Promise<ResumeCheckpoint | undefined> => {
    const path = join(runDir, f);
    return await exists(path) ? { ...await loadCheckpoint(path), path } : undefined;
  };
  const last = await read(RUN_FILES.last);
  const partial = await read(RUN_FILES.partial);
  const done = last?.trainer?.epoch ?? 0;
  if (partial) {
    const inProgress = partial.trainer?.partial?.epoch;
    if (inProgress !== undefined && inProgress > done) return { checkpoint: partial, last };
    await removeIfThere(partial.path);
    log(`removed ${partial.path}: ${last?.path ?? "the run"} is past it`);
  }
  return { checkpoint: last, last };
}

/**
 * Brings the files of a run folder up to the checkpoint a resume continues from: `metrics.jsonl` when
 * it has fewer epochs than the checkpoint's history, and `best.safetensors` when it is behind the best
 * epoch the checkpoint names (made again from `last` when that is the best epoch's checkpoint).
 */
async function repairRunFolder(
  runDir: string,
  state: TrainerState,
  last: ResumeCheckpoint | undefined,
  classNames: readonly string[],
  log: (line: string) => void,
): Promise<void> {
  const metricsPath = join(runDir, RUN_FILES.metrics);
  const text = await Deno.readTextFile(metricsPath).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return "";
    throw new Error(`cannot read ${metricsPath}: ${(error as Error).message}`, { cause: error });
  });
  const epochs = text.split("\n").filter((line) => line.trim() !== "").length;
  if (epochs < state.history.length) {
    await writeFileAtomic(metricsPath, metricsText(state.history, classNames));
    log(`repaired ${metricsPath}: ${epochs} epoch(s) written, the checkpoint has ${state.history.length}`);
  }
  if (state.bestEpoch === 0) return;
  const bestPath = join(runDir, RUN_FILES.best);
  const bestEpoch = await exists(bestPath) ? (await loadCheckpoint(bestPath)).trainer?.epoch ?? 0 : 0;
  if (bestEpoch >= state.bestEpoch) return;
  if (last?.trainer?.epoch === state.bestEpoch) {
    await saveCheckpointWithoutMoments(bestPath, last);
    log(
      `repaired ${bestPath}: it held epoch ${bestEpoch}, now the best epoch ${state.bestEpoch} (from ${last.path})`,
    );
  } else {
    log(
      `warning: ${bestPath} holds epoch ${bestEpoch}, not the best epoch ${state.bestEpoch}; no checkpoint of ` +
        `that epoch is left to make it again`,
    );
  }
}

/**
 * Trains from a resolved configuration into a run folder (or resumes one).
 *
 * @example
 * ```ts ignore
 * const config = await resolveConfig({ preset: "synthetic", overrides: ["trainer.epochs=1"] });
 * const { runDir, summary } = await trainRun(config);
 * ```
 */
export async function trainRun(config: RunConfig, options: TrainRunOptions = {}): Promise<TrainRunResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const runDir = resolve(
    options.runDir ?? join(config.output.dir, config.output.name ?? defaultRunName(config)),
  );
  let checkpoint: ResumeCheckpoint | undefined;
  let lastCheckpoint: ResumeCheckpoint | undefined;
  if (options.resume) {
    const temporary = await removeTemporaryFiles(runDir);
    if (temporary.length > 0) {
      log(`removed ${temporary.length} temporary file(s) a killed process left: ${temporary.join(", ")}`);
    }
    ({ checkpoint, last: lastCheckpoint } = await resumePoint(runDir, log));
    if (!checkpoint) {
      log(
        `${runDir}: the run was stopped before its first checkpoint; starting it again from epoch 1 ` +
          `with its ${RUN_FILES.config}`,
      );
      // Whatever the stopped first epoch wrote is made again.
      for (const f of [RUN_FILES.best, RUN_FILES.metrics, RUN_FILES.summary, RUN_FILES.table]) {
        await removeIfThere(join(runDir, f));
      }
    }
  } else {
    await Deno.mkdir(runDir, { recursive: true }).catch((error) => {
      throw new Error(`cannot create the run folder ${runDir}: ${(error as Error).message}`, {
        cause: error,
      });
    });
    await refuseExistingRun(runDir);
    const temporary = await removeTemporaryFiles(runDir);
    if (temporary.length > 0) {
      log(`removed ${temporary.length} stale temporary file(s): ${temporary.join(", ")}`);
    }
    // The plugin modules this process loaded: resuming or evaluating the run imports them again.
    await writeFileAtomic(join(runDir, RUN_FILES.config), configToYaml(config, { plugins: loadedPlugins() }));
    killPoint("start:config");
  }

  const backend = await initBackend(config.backend, {
    threads: options.threads ?? config.threads ?? undefined,
  });
  log(`backend: ${backend.name} (${backend.reason})`);
  const data = await openRunData(config, log);
  log(
    `data: ${config.data.dataset} at ${data.root}: ${data.train.size} train, ${data.test.size} test images, ` +
      `classes ${data.classNames.join(", ")}`,
  );
  if (data.flipped.length) {
    log(`label noise: ${data.flipped.length} of ${data.train.size} training labels flipped`);
    if (!checkpoint) {
      await writeFileAtomic(
        join(runDir, RUN_FILES.noise),
        JSON.stringify({ flipped: [...data.flipped] }) + "\n",
      );
    }
  }
  const loaders = makeLoaders(config, data);
  const model = new AdaDfModel(config.model.backbone, {
    numClasses: data.classNames.length,
    seed: config.seed,
    freezeStem: config.model.freezeStem,
    branches: config.model.branches,
    // A resumed run loads every tensor from its checkpoint.
    initialize: !checkpoint,
  });
  if (config.model.branches === 1) {
    log("model.branches 1: the single-branch baseline, trained with cross-entropy alone (method unused)");
  }
  if (config.model.weights && !checkpoint) {
    // Strict unless model.partialWeights: a file that misses a stem or branch tensor stops the run.
    const partial = config.model.partialWeights;
    const report = await initFromPretrained(model, config.model.weights, { strict: !partial });
    log(`weights from ${config.model.weights}:\n${formatLoadReport(report)}`);
    if (partial && report.loaded.length === 0) {
      log(
        `warning: model.partialWeights: nothing of ${config.model.weights} was loaded; training from random weights`,
      );
    }
  }
  if (model.spec.family === "face-resnet" && !checkpoint) {
    const report = await calibrateOnTrainingImages(model, config, data);
    log(
      `${model.spec.name}: BatchNorm statistics measured on ${report.images} training images ` +
        `(${report.layers} layers; the network's evaluation-mode output is unchanged)`,
    );
  }
  const plugins = runPlugins(config);
  const trainer = new Trainer({
    model,
    plugins,
    train: loaders.train,
    mining: loaders.mining,
    test: loaders.test,
    epochs: config.trainer.epochs,
    lr: config.trainer.lr,
    lrGamma: config.trainer.lrGamma,
    stemMode: config.trainer.stemMode,
    maxBatchesPerEpoch: config.trainer.maxBatchesPerEpoch,
    evalEvery: config.trainer.evalEvery,
    trainAccuracy: config.trainer.trainAccuracy,
    hooks: [
      // First, so that the epoch's record has the skipped images when the others write it.
      ...(config.data.skipCorrupt ? [skippedImagesHooks(loaders, log)] : []),
      ...((options.progress ?? true) === false ? [] : [
        progressHooks({ write: log, classNames: data.classNames, batches: options.progress !== "epochs" }),
      ]),
      runFolderHooks(runDir, config, data.classNames, backend),
      ...(options.hooks ?? []),
    ],
  });
  if (checkpoint) {
    const { path } = checkpoint;
    loadModelStateDict(model, checkpoint.model, { strict: true, source: path });
    if (!checkpoint.trainer) throw new Error(`${path}: the checkpoint has no trainer state.`);
    trainer.setState(checkpoint.trainer);
    const partial = checkpoint.trainer.partial;
    log(
      partial
        ? `resuming ${runDir} in epoch ${partial.epoch} of ${config.trainer.epochs}, after batch ` +
          `${partial.batches} (${RUN_FILES.partial})`
        : `resuming ${runDir} after epoch ${trainer.epoch} of ${config.trainer.epochs}`,
    );
    await repairRunFolder(runDir, checkpoint.trainer, lastCheckpoint, data.classNames, log);
    // Their tensors are in the model and the optimiser now: not kept for the whole run.
    checkpoint = lastCheckpoint = undefined;
  }
  log(`run folder: ${runDir}`);
  let summary: RunSummary;
  try {
    summary = await trainer.fit();
  } catch (error) {
    throw error instanceof NonFiniteLossError ? explainNonFiniteLoss(error, config) : error;
  } finally {
    trainer.dispose();
    model.dispose();
  }
  if (options.report ?? true) await reportAfterRun(runDir, { log });
  return { runDir, summary, backend, classNames: data.classNames };
}

/**
 * The plugins a run trains and evaluates with: those of `method`; the single-branch baseline
 * (`model.branches: 1`) has no attention head, so its attention is `none` (it is evaluated, predicted
 * and exported without one), and its trainer uses none of the others.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG } from "./config.ts";
 * import { runPlugins } from "./run.ts";
 * assert.equal(runPlugins(DEFAULT_CONFIG).attention.name, "sigmoid");
 * const single = { ...DEFAULT_CONFIG, model: { ...DEFAULT_CONFIG.model, branches: 1 as const } };
 * assert.equal(runPlugins(single).attention.name, "none");
 * ```
 */
export function runPlugins(config: Pick<RunConfig, "method" | "model">): PluginSet {
  return buildPlugins(config.model.branches === 1 ? { ...config.method, attention: "none" } : config.method);
}

/**
 * Reads a run folder's configuration (its `config.yaml`); a folder without one is refused with an error
 * naming the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { configToYaml, DEFAULT_CONFIG } from "./config.ts";
 * import { readRunConfig, RUN_FILES } from "./run.ts";
 *
 * const runDir = await Deno.makeTempDir();
 * await assert.rejects(readRunConfig(runDir), /is not a run folder/);
 * await Deno.writeTextFile(join(runDir, RUN_FILES.config), configToYaml(DEFAULT_CONFIG));
 * assert.deepEqual(await readRunConfig(runDir), DEFAULT_CONFIG);
 * await Deno.remove(runDir, { recursive: true });
 * ```
 */
export async function readRunConfig(runDir: string): Promise<RunConfig> {
  const path = join(runDir, RUN_FILES.config);
  if (!(await Deno.stat(path).then((s) => s.isFile, () => false))) {
    throw new Error(`${runDir} is not a run folder: ${path} is missing.`);
  }
  return await loadConfigFile(path);
}

/**
 * Continues a run folder from its `last` checkpoint (or its mid-epoch `partial` one, when that is
 * ahead) with its own `config.yaml`, until the configured number of epochs; a finished run trains no
 * further epoch, and a run stopped before its first checkpoint starts again from epoch 1. Temporary
 * files of writes cut short are removed, and a `metrics.jsonl` or `best.safetensors` behind the
 * checkpoint is made again.
 *
 * @example
 * ```ts ignore
 * import { resumeRun } from "./run.ts";
 * const { summary } = await resumeRun("runs/synthetic-fused-20261128-101500");
 * ```
 */
export async function resumeRun(
  runDir: string,
  options: Omit<TrainRunOptions, "runDir" | "resume"> = {},
): Promise<TrainRunResult> {
  return await trainRun(await readRunConfig(runDir), { ...options, runDir, resume: true });
}

/** A trained model loaded from a run folder. */
export interface LoadedRun {
  /** The run's resolved configuration. */
  config: RunConfig;
  /** The model with the checkpoint's weights. */
  model: AdaDfModel;
  /**
   * The plugins of the configuration ({@linkcode runPlugins}), the miner holding the checkpoint's class
   * distributions.
   */
  plugins: ReturnType<typeof buildPlugins>;
  /** Class names in label order. */
  classNames: readonly string[];
  /** The checkpoint file read. */
  checkpointPath: string;
  /** The epoch the checkpoint was taken after. */
  epoch: number;
}

/** Options of {@linkcode loadRun}. */
export interface LoadRunOptions {
  /**
   * A backend to start before the model's weights are created on the current one: a name, or `"run"` for
   * the run's own `backend`. Without it the model is built on whatever backend is current.
   */
  backend?: BackendName | "run";
}

/**
 * Loads a run folder's model from its `best` (default) or `last` checkpoint.
 *
 * @example
 * ```ts ignore
 * const run = await loadRun("runs/synthetic-fused-20261128-101500", "best", { backend: "run" });
 * ```
 */
export async function loadRun(
  runDir: string,
  which: "best" | "last" = "best",
  options: LoadRunOptions = {},
): Promise<LoadedRun> {
  if (which !== "best" && which !== "last") {
    throw new Error(`loadRun: checkpoint must be "best" or "last", got ${JSON.stringify(which)}.`);
  }
  const config = await readRunConfig(runDir);
  if (options.backend !== undefined) {
    await initBackend(options.backend === "run" ? config.backend : options.backend);
  }
  let checkpointPath = join(runDir, which === "best" ? RUN_FILES.best : RUN_FILES.last);
  if (which === "best" && !(await Deno.stat(checkpointPath).then(() => true, () => false))) {
    checkpointPath = join(runDir, RUN_FILES.last);
  }
  const checkpoint = await loadCheckpoint(checkpointPath);
  const { meta } = checkpoint;
  const model = new AdaDfModel(meta.backbone as AdaDfModel["spec"]["name"], {
    numClasses: meta.numClasses,
    branches: config.model.branches,
    initialize: false,
  });
  loadModelStateDict(model, checkpoint.model, { strict: true, source: checkpointPath });
  const plugins = runPlugins(config);
  if (checkpoint.trainer) plugins.miner.setState(checkpoint.trainer.miner);
  return {
    config,
    model,
    plugins,
    classNames: meta.classNames,
    checkpointPath,
    epoch: checkpoint.trainer?.epoch ?? 0,
  };
}
