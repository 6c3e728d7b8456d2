/**
 * A training run from a resolved configuration: the datasets and their pipelines, the model, the
 * plugins, the trainer, and the run folder that holds everything needed to understand, compare and
 * continue the run:
 *
 * - `config.yaml`: the resolved configuration;
 * - `metrics.jsonl`: one line per epoch (every loss term, alpha1/alpha2, learning rate, train and test
 *   accuracy, per-class accuracy, attention statistics per class, the class distributions);
 * - `last.safetensors` and `best.safetensors`: checkpoints, written atomically;
 * - `summary.json` and `summary.txt`: best and last accuracy, wall time, the epoch table;
 * - `label-noise.json`: the flipped training indices, when label noise is on.
 * - `label-noise-report.json`: written by `deno task ablate`: how the run treats those flipped labels.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { type BackendInfo, initBackend } from "../engine/backend.ts";
import { writeFileAtomic } from "../engine/files.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { buildPlugins, pluginName } from "../strategies/registry.ts";
import { type EpochMetrics, type RunSummary, Trainer, type TrainerHooks } from "../training/trainer.ts";
import { configToYaml, loadConfigFile, type RunConfig } from "./config.ts";
import {
  applyLabelNoise,
  classBalancedSampler,
  DataLoader,
  type Dataset,
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
} from "../training/checkpoint.ts";
import { progressHooks, summaryTable } from "./progress.ts";

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
} as const;

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

/** Opens the configured dataset's splits (generating the synthetic set on first use). */
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
  const evalSplit = d.dataset === "affectnet7" || d.dataset === "affectnet8" || d.dataset === "sfew"
    ? "val"
    : "test";
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

function pipelines(config: RunConfig): { train: PipelineOptions; eval: PipelineOptions } {
  const d = config.data;
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
    },
    eval: { size: d.size, tenCrop: d.testCrops === 10 },
  };
}

/** Data loaders of a run. */
export interface RunLoaders {
  /** Training batches. */
  train: DataLoader;
  /** The extra mining pass's batches (training images and augmentations). */
  mining: DataLoader;
  /** Test batches. */
  test: DataLoader;
}

/** The loaders for a run's datasets. */
export function makeLoaders(config: RunConfig, data: RunData): RunLoaders {
  const p = pipelines(config);
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
      dropLast: false,
      seed: config.seed + 1,
    }),
    test: new DataLoader(data.test, {
      ...common,
      batchSize: t.batchSize,
      pipeline: new ImagePipeline(p.eval),
    }),
  };
}

/** Options of {@linkcode trainRun}. */
export interface TrainRunOptions {
  /** The run folder (created); default `<output.dir>/<output.name or a generated name>`. */
  runDir?: string;
  /** Continue the run in `runDir` from its `last` checkpoint. */
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

/** A default run folder name: `<dataset>-<distribution>-<UTC timestamp>`. */
export function defaultRunName(config: RunConfig): string {
  const method = pluginName(config.method.distribution);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  return `${config.data.dataset}-${method}-${stamp}`;
}

/** Hooks that keep the run folder up to date after every epoch. */
export function runFolderHooks(
  runDir: string,
  config: RunConfig,
  classNames: readonly string[],
  backend: BackendInfo,
): TrainerHooks {
  const checkpointEvery = config.output.checkpointEvery;
  const lines = (history: EpochMetrics[]) =>
    history.map((m) => JSON.stringify({ ...m, classNames }, (_k, v) => (Number.isNaN(v) ? null : v))).join(
      "\n",
    ) +
    "\n";
  return {
    async onEpochEnd(trainer, m) {
      await writeFileAtomic(join(runDir, RUN_FILES.metrics), lines(trainer.history));
      const isLast = m.epoch === trainer.options.epochs;
      if (m.epoch % checkpointEvery === 0 || isLast) {
        await saveCheckpoint(join(runDir, RUN_FILES.last), {
          model: trainer.model,
          classNames,
          trainer: await trainer.getState(),
          config,
        });
      }
      if (trainer.bestEpoch === m.epoch) {
        // The best checkpoint keeps the mined class distributions but not the optimiser moments.
        const state = await trainer.getState();
        state.optimizer = { ...state.optimizer, expAvg: new Map(), expAvgSq: new Map() };
        await saveCheckpoint(join(runDir, RUN_FILES.best), {
          model: trainer.model,
          classNames,
          trainer: state,
          config,
        });
      }
    },
    async onRunEnd(trainer, summary) {
      await saveCheckpoint(join(runDir, RUN_FILES.last), {
        model: trainer.model,
        classNames,
        trainer: await trainer.getState(),
        config,
      });
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
      };
      await writeFileAtomic(
        join(runDir, RUN_FILES.summary),
        JSON.stringify(doc, (_k, v) => (Number.isNaN(v) ? null : v), 2) + "\n",
      );
      await writeFileAtomic(join(runDir, RUN_FILES.table), summaryTable(summary, classNames) + "\n");
    },
  };
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
  let checkpoint: Awaited<ReturnType<typeof loadCheckpoint>> | undefined;
  if (options.resume) {
    checkpoint = await loadCheckpoint(join(runDir, RUN_FILES.last));
  } else {
    await Deno.mkdir(runDir, { recursive: true });
    for (const f of [RUN_FILES.last, RUN_FILES.metrics]) {
      const exists = await Deno.stat(join(runDir, f)).then(() => true, () => false);
      if (exists) {
        throw new Error(
          `${runDir} already holds a run (${f}); resume it with --resume or choose another name.`,
        );
      }
    }
    await writeFileAtomic(join(runDir, RUN_FILES.config), configToYaml(config));
  }

  const backend = await initBackend(config.backend);
  log(`backend: ${backend.name} (${backend.reason})`);
  const data = await openRunData(config, log);
  log(
    `data: ${config.data.dataset} at ${data.root}: ${data.train.size} train, ${data.test.size} test images, ` +
      `classes ${data.classNames.join(", ")}`,
  );
  if (data.flipped.length) {
    log(`label noise: ${data.flipped.length} of ${data.train.size} training labels flipped`);
    if (!options.resume) {
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
  });
  if (config.model.weights && !checkpoint) {
    const report = await initFromPretrained(model, config.model.weights);
    log(`weights from ${config.model.weights}:\n${formatLoadReport(report)}`);
  }
  const plugins = buildPlugins(config.method);
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
    hooks: [
      ...((options.progress ?? true) === false ? [] : [
        progressHooks({ write: log, classNames: data.classNames, batches: options.progress !== "epochs" }),
      ]),
      runFolderHooks(runDir, config, data.classNames, backend),
      ...(options.hooks ?? []),
    ],
  });
  if (checkpoint) {
    loadModelStateDict(model, checkpoint.model, { strict: true });
    if (!checkpoint.trainer) {
      throw new Error(`${join(runDir, RUN_FILES.last)}: the checkpoint has no trainer state.`);
    }
    trainer.setState(checkpoint.trainer);
    log(`resuming ${runDir} after epoch ${trainer.epoch} of ${config.trainer.epochs}`);
  }
  log(`run folder: ${runDir}`);
  try {
    const summary = await trainer.fit();
    return { runDir, summary, backend, classNames: data.classNames };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** Reads a run folder's configuration. */
export async function readRunConfig(runDir: string): Promise<RunConfig> {
  return await loadConfigFile(join(runDir, RUN_FILES.config));
}

/** A trained model loaded from a run folder. */
export interface LoadedRun {
  /** The run's resolved configuration. */
  config: RunConfig;
  /** The model with the checkpoint's weights. */
  model: AdaDfModel;
  /** The plugins of the configuration, the miner holding the checkpoint's class distributions. */
  plugins: ReturnType<typeof buildPlugins>;
  /** Class names in label order. */
  classNames: readonly string[];
  /** The checkpoint file read. */
  checkpointPath: string;
  /** The epoch the checkpoint was taken after. */
  epoch: number;
}

/**
 * Loads a run folder's model from its `best` (default) or `last` checkpoint.
 *
 * @example
 * ```ts ignore
 * const run = await loadRun("runs/synthetic-fused-20261128-101500");
 * ```
 */
export async function loadRun(runDir: string, which: "best" | "last" = "best"): Promise<LoadedRun> {
  const config = await readRunConfig(runDir);
  let checkpointPath = join(runDir, which === "best" ? RUN_FILES.best : RUN_FILES.last);
  if (which === "best" && !(await Deno.stat(checkpointPath).then(() => true, () => false))) {
    checkpointPath = join(runDir, RUN_FILES.last);
  }
  const checkpoint = await loadCheckpoint(checkpointPath);
  const { meta } = checkpoint;
  const model = new AdaDfModel(meta.backbone as AdaDfModel["spec"]["name"], { numClasses: meta.numClasses });
  loadModelStateDict(model, checkpoint.model, { strict: true });
  const plugins = buildPlugins(config.method);
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
