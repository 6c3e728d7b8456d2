/**
 * The training loop of the paper's recipe: frozen stem, Adam with an exponentially decaying learning
 * rate stepped once per epoch, class-distribution mining after each epoch, evaluation of the target
 * branch on the test split (logits averaged over crops), best and last accuracy, and lifecycle hooks
 * through which logging, checkpointing and progress display attach.
 *
 * The trainer knows its plugins only through their interfaces ({@linkcode PluginSet}).
 *
 * @module
 */
import { tf } from "../engine/tf.ts";
import type { AdaDfModel } from "../backbones/adadf.ts";
import type { PluginSet } from "../strategies/registry.ts";
import type { ClassDistributionMinerState } from "../strategies/miner.ts";
import { computeObjective, singleBranchObjective } from "../strategies/objective.ts";
import { Adam, type AdamState, exponentialLr } from "./optim.ts";
import { disposeOutputs, NonFiniteLossError, stepBatch, trainStep } from "./step.ts";
import { summarize, type Summary } from "./metrics.ts";
import { type BatchSource, evaluateModel, type EvaluationResult, forEachEvalBatch } from "./evaluate.ts";

export type { BatchSource, EvaluationResult };

/** Progress after one training batch. */
export interface BatchMetrics {
  /** Epoch, from 1. */
  epoch: number;
  /** Batch within the epoch, from 1. */
  batch: number;
  /** Batches in this epoch. */
  batches: number;
  /** Loss terms of this batch. */
  loss: { total: number; ce: number; kl: number; rr: number };
  /** Running means of the loss terms over the epoch so far. */
  meanLoss: { total: number; ce: number; kl: number; rr: number };
  /** Running training accuracy of the target branch over the epoch so far. */
  accuracy: number;
  /** Images per second over the epoch so far. */
  imagesPerSecond: number;
  /** Seconds since the epoch began. */
  seconds: number;
}

/** Everything measured in an epoch (one line of `metrics.jsonl`). */
export interface EpochMetrics {
  /** Epoch, from 1. */
  epoch: number;
  /** Learning rate used in this epoch. */
  lr: number;
  /** The KL weight alpha_1 of this epoch. */
  alpha1: number;
  /** The cross-entropy weight alpha_2 of this epoch. */
  alpha2: number;
  /** Mean loss terms over the epoch's batches. */
  loss: { total: number; ce: number; kl: number; rr: number };
  /**
   * Training accuracy: of the target branch in the training steps (augmented images, training mode), or,
   * with `trainAccuracy: "mining"`, of the auxiliary branch in the mining pass.
   */
  trainAccuracy: number;
  /** Test accuracy of the target branch, when evaluated this epoch. */
  testAccuracy?: number;
  /** Test mean class accuracy. */
  testMeanClassAccuracy?: number;
  /** Test accuracy per class. */
  testPerClassAccuracy?: number[];
  /** Test confusion matrix, `[true class][predicted class]` counts. */
  testConfusion?: number[][];
  /** Averaged attention weight w statistics per class (training samples of this epoch). */
  attentionPerClass: Summary[];
  /** Fusion weight w' statistics per class. */
  fusionWeightPerClass: Summary[];
  /** The class distributions c' mined at the end of this epoch ([C][C]). */
  classDistributions: number[][];
  /** Training images seen. */
  images: number;
  /** Seconds of the whole epoch (training, mining, evaluation). */
  seconds: number;
  /** Training images per second. */
  imagesPerSecond: number;
  /**
   * Images left out as unreadable with `data.skipCorrupt` (a run's hooks fill it in; absent otherwise):
   * the distinct images skipped so far per split, and those skipped for the first time in this epoch.
   */
  skipped?: SkippedImages;
}

/** The images a run skipped as unreadable (`data.skipCorrupt`), as an epoch's metrics record them. */
export interface SkippedImages {
  /** Distinct training images skipped so far. */
  train: number;
  /** Distinct test images skipped so far. */
  test: number;
  /** The images first skipped in this epoch: split, file (or `file:line`) and why. */
  new: { split: "train" | "test"; source: string; message: string }[];
}

/** The outcome of {@linkcode Trainer.fit}. */
export interface RunSummary {
  /** Epochs completed. */
  epochs: number;
  /** Best test accuracy and its epoch (NaN / 0 without a test set). */
  bestAccuracy: number;
  /** Epoch of the best test accuracy. */
  bestEpoch: number;
  /** Test accuracy after the last epoch. */
  lastAccuracy: number;
  /** Every epoch's metrics. */
  history: EpochMetrics[];
  /** Wall time of this call in seconds. */
  seconds: number;
}

/**
 * Lifecycle hooks: every method is optional and may be async; the trainer awaits each in turn.
 * Modelled on PyTorch Lightning's and Keras's callbacks.
 *
 * @example Stop early once the training accuracy is high enough
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { buildPlugins } from "../strategies/registry.ts";
 * import { Trainer, type TrainerHooks } from "./trainer.ts";
 * const batch = {
 *   images: new Float32Array(4 * 16 * 16 * 3),
 *   shape: [4, 16, 16, 3] as [number, number, number, 3],
 *   labels: Int32Array.from([0, 1, 0, 1]),
 *   indices: Int32Array.from([0, 1, 2, 3]),
 *   crops: 1,
 * };
 * let runs = 0;
 * const earlyStop: TrainerHooks = {
 *   onRunStart: () => {
 *     runs++;
 *   },
 *   onEpochEnd: (trainer, metrics) => {
 *     if (metrics.trainAccuracy >= 0.5) trainer.stop();
 *   },
 * };
 * const trainer = new Trainer({
 *   model: new AdaDfModel("tiny", { numClasses: 2 }),
 *   plugins: buildPlugins(),
 *   train: { length: 1, async *batches() { yield batch; } },
 *   epochs: 3,
 *   hooks: [earlyStop],
 * });
 * const summary = await trainer.fit();
 * assert.equal(runs, 1);
 * assert.equal(summary.epochs, 1);
 * ```
 */
export interface TrainerHooks {
  /** Before the first epoch of this call. */
  onRunStart?(trainer: Trainer): void | Promise<void>;
  /** Before an epoch's training pass. */
  onEpochStart?(trainer: Trainer, epoch: number): void | Promise<void>;
  /** Before a training batch. */
  onBatchStart?(trainer: Trainer, epoch: number, batch: number): void | Promise<void>;
  /** After a training batch. */
  onBatchEnd?(trainer: Trainer, metrics: BatchMetrics): void | Promise<void>;
  /** After an epoch (mining and evaluation done); checkpoints attach here. */
  onEpochEnd?(trainer: Trainer, metrics: EpochMetrics): void | Promise<void>;
  /** After the last epoch. */
  onRunEnd?(trainer: Trainer, summary: RunSummary): void | Promise<void>;
}

/** Options of {@linkcode Trainer}. */
export interface TrainerOptions {
  /** The dual-branch model. */
  model: AdaDfModel;
  /** The strategy plugins. */
  plugins: PluginSet;
  /** Training batches (augmented, shuffled, drop-last). */
  train: BatchSource;
  /** Test batches (no augmentation; several crops per image allowed). */
  test?: BatchSource;
  /**
   * Batches of the extra mining pass of miners that ask for one (the reference uses the training
   * loader: augmentations on, model in evaluation mode).
   * @default {train}
   */
  mining?: BatchSource;
  /** Epochs to train in total. */
  epochs: number;
  /**
   * Initial learning rate.
   * @default {0.001}
   */
  lr?: number;
  /**
   * ExponentialLR's gamma, stepped after every epoch.
   * @default {0.9}
   */
  lrGamma?: number;
  /**
   * How the frozen stem runs in training: `train` (batch statistics, as the reference) or `eval`.
   * @default {"train"}
   */
  stemMode?: "train" | "eval";
  /**
   * Cap on training batches per epoch (quick runs); null for all.
   * @default {null}
   */
  maxBatchesPerEpoch?: number | null;
  /**
   * Evaluate every this many epochs (and always after the last).
   * @default {1}
   */
  evalEvery?: number;
  /**
   * Where {@linkcode EpochMetrics.trainAccuracy} comes from: `step`, the target branch's predictions in
   * the training steps (training mode, an image's crops averaged); `mining`, the auxiliary branch's in
   * the mining pass (evaluation mode, after the epoch's updates, every crop a sample), as the reference
   * logs it. Without a mining pass (an online miner, the single-branch model) `mining` gives `step`'s.
   * @default {"step"}
   */
  trainAccuracy?: "step" | "mining";
  /** Lifecycle hooks, called in order. */
  hooks?: TrainerHooks[];
}

/** The trainer's resumable state (besides the model's tensors). */
export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  /** Best test accuracy so far. */
  bestAccuracy: number;
  /** Its epoch. */
  bestEpoch: number;
  /** Metrics of the completed epochs. */
  history: EpochMetrics[];
  /** The class-distribution miner's state. */
  miner: ClassDistributionMinerState;
  /** Adam's moments and step. */
  optimizer: AdamState;
  /**
   * The epoch in progress, when the state was taken inside one (a mid-epoch checkpoint): training
   * continues at its next batch, and the epoch ends with the metrics an uninterrupted one would have.
   */
  partial?: PartialEpochState;
}

/**
 * Where an epoch's training pass stands, and its running sums: what a mid-epoch checkpoint needs to
 * finish the epoch as an uninterrupted run would (the model, the optimiser and the miner's
 * accumulation are saved beside it; the batch order and augmentations depend only on the seed, the
 * epoch and the batch position).
 */
export interface PartialEpochState {
  /** The epoch in progress, from 1 (the completed epochs plus one). */
  epoch: number;
  /** Training batches done in it. */
  batches: number;
  /** The training source's next batch position (the batches done, unless a source skipped some). */
  position: number;
  /** Training images seen in it. */
  seen: number;
  /** Of those, predicted right by the target branch. */
  correct: number;
  /** Sums of the loss terms, each batch's mean times its images. */
  sums: { total: number; ce: number; kl: number; rr: number };
  /** Averaged attention weight w of each image seen, in order. */
  attention: number[];
  /** Fusion weight w' of each image seen. */
  fusion: number[];
  /** Label of each image seen. */
  labels: number[];
  /** Seconds spent in the epoch so far. */
  seconds: number;
}

/**
 * The extra mining pass reads the mining source as this epoch index plus the epoch, so that its
 * random augmentations differ from the training pass's (as the reference's fresh pass over its loader).
 */
const MINING_PASS_EPOCH_OFFSET = 1_000_000;

interface Terms {
  total: number;
  ce: number;
  kl: number;
  rr: number;
}

/**
 * Trains the Ada-DF model (or any configuration of its plugins).
 *
 * @example Train the tiny backbone for one epoch on generated batches
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { buildPlugins } from "../strategies/registry.ts";
 * import { Trainer } from "./trainer.ts";
 *
 * const batch = {
 *   images: new Float32Array(4 * 16 * 16 * 3),
 *   shape: [4, 16, 16, 3] as [number, number, number, 3],
 *   labels: Int32Array.from([0, 1, 0, 1]),
 *   indices: Int32Array.from([0, 1, 2, 3]),
 *   crops: 1,
 * };
 * const source = { length: 1, async *batches() { yield batch; } };
 * const trainer = new Trainer({
 *   model: new AdaDfModel("tiny", { numClasses: 2 }),
 *   plugins: buildPlugins({}),
 *   train: source,
 *   test: source,
 *   epochs: 1,
 * });
 * const summary = await trainer.fit();
 * assert.equal(summary.epochs, 1);
 * assert.equal(summary.history.length, 1);
 * // identical images get one prediction: half of the four labels
 * assert.equal(summary.lastAccuracy, 0.5);
 * ```
 */
export class Trainer {
  /** The model being trained. */
  readonly model: AdaDfModel;
  /** Its plugins. */
  readonly plugins: PluginSet;
  /** The optimiser. */
  readonly optimizer: Adam;
  /** The options given. */
  readonly options: Readonly<TrainerOptions>;
  /** Epochs completed. */
  epoch = 0;
  /** Best test accuracy so far. */
  bestAccuracy: number = NaN;
  /** Epoch of the best test accuracy. */
  bestEpoch = 0;
  /** Metrics of completed epochs. */
  history: EpochMetrics[] = [];
  #stopRequested = false;
  /** The running state of the epoch in progress (between its first and last training batch). */
  #running?: PartialEpochState;
  /** A mid-epoch state to continue from (set by `setState`, used by the next epoch). */
  #resumeAt?: PartialEpochState;

  /** Creates a trainer; nothing runs until {@linkcode Trainer.fit}. */
  constructor(options: TrainerOptions) {
    if (!Number.isInteger(options.epochs) || options.epochs < 1) {
      throw new RangeError(`epochs must be a positive integer, got ${options.epochs}`);
    }
    this.options = options;
    this.model = options.model;
    this.plugins = options.plugins;
    this.optimizer = new Adam({ lr: options.lr ?? 1e-3 });
  }

  /** Number of classes. */
  get numClasses(): number {
    return this.model.numClasses;
  }

  /** Asks the loop to stop after the current epoch (early stopping, interruption). */
  stop(): void {
    this.#stopRequested = true;
  }

  async #hook<K extends keyof TrainerHooks>(name: K, ...args: unknown[]): Promise<void> {
    for (const hooks of this.options.hooks ?? []) {
      const fn = hooks[name] as ((...a: unknown[]) => void | Promise<void>) | undefined;
      if (fn) await fn.call(hooks, this, ...args);
    }
  }

  /** Trains from the epoch after the last completed one to `epochs`. */
  async fit(): Promise<RunSummary> {
    const started = performance.now();
    this.#stopRequested = false;
    await this.#hook("onRunStart");
    while (this.epoch < this.options.epochs && !this.#stopRequested) {
      const metrics = await this.#epoch(this.epoch + 1);
      this.history.push(metrics);
      this.epoch = metrics.epoch;
      if (metrics.testAccuracy !== undefined && !(metrics.testAccuracy <= this.bestAccuracy)) {
        this.bestAccuracy = metrics.testAccuracy;
        this.bestEpoch = metrics.epoch;
      }
      await this.#hook("onEpochEnd", metrics);
    }
    const summary = this.summary((performance.now() - started) / 1000);
    await this.#hook("onRunEnd", summary);
    return summary;
  }

  /** The summary of the epochs completed so far. */
  summary(seconds = 0): RunSummary {
    const last = [...this.history].reverse().find((m) => m.testAccuracy !== undefined);
    return {
      epochs: this.epoch,
      bestAccuracy: this.bestAccuracy,
      bestEpoch: this.bestEpoch,
      lastAccuracy: last?.testAccuracy ?? NaN,
      history: this.history,
      seconds,
    };
  }

  async #epoch(epoch: number): Promise<EpochMetrics> {
    // Continuing inside this epoch (a mid-epoch checkpoint): its running sums, and the next batch.
    const resumed = this.#resumeAt?.epoch === epoch ? this.#resumeAt : undefined;
    this.#resumeAt = undefined;
    const started = performance.now() - (resumed?.seconds ?? 0) * 1000;
    const { plugins, model } = this;
    const C = this.numClasses;
    this.optimizer.lr = exponentialLr(this.options.lr ?? 1e-3, this.options.lrGamma ?? 0.9, epoch - 1);
    // The single-branch baseline trains with cross-entropy alone: no schedule, no mining.
    const single = model.branchNames.length === 1;
    const { alpha1, alpha2 } = single ? { alpha1: 0, alpha2: 1 } : plugins.schedule.weights(epoch);
    await this.#hook("onEpochStart", epoch);

    const classDistributions = plugins.miner.distributions(C);
    const online = !plugins.miner.extraPass;
    // A resumed online miner has its accumulation of the epoch's first batches already.
    if (online && !resumed && !single) plugins.miner.begin(C);
    const stemMode = { training: (this.options.stemMode ?? "train") === "train" };
    const cap = this.options.maxBatchesPerEpoch ?? Infinity;
    const batches = Math.min(this.options.train.length, cap);
    const running: PartialEpochState = resumed ? structuredClone(resumed) : {
      epoch,
      batches: 0,
      position: 0,
      seen: 0,
      correct: 0,
      sums: { total: 0, ce: 0, kl: 0, rr: 0 },
      attention: [],
      fusion: [],
      labels: [],
      seconds: 0,
    };
    const sums: Terms = running.sums;
    const { attention, fusion, labels: attentionLabels } = running;
    let { seen, correct, batches: batchIndex } = running;
    this.#running = running;
    for await (const batch of this.options.train.batches(epoch - 1, running.position)) {
      if (batchIndex >= batches) break;
      // A source that ignores `from` but says where its batches stand: skip to the resumed position.
      if (batch.position !== undefined && batch.position < running.position) continue;
      batchIndex++;
      await this.#hook("onBatchStart", epoch, batchIndex);
      // Several crops per image are rows of their own, each with its image's label (TenCrop training).
      const { images, labels, rowLabels, batchSize, crops } = stepBatch(batch);
      const out = trainStep(
        model,
        this.optimizer,
        images,
        (o) =>
          single
            ? singleBranchObjective({ logits: o.targetLogits, labels })
            : computeObjective(plugins, { ...o, labels, classDistributions }, { epoch, batchSize }),
        { stemMode },
      );
      // Asynchronous reads: GPU backends (webgpu) cannot read synchronously.
      // An image's prediction: the argmax of its crops' mean logits (as at test time).
      const read = tf.tidy(() => {
        const logits = out.scaledTargetLogits;
        const perImage = crops === 1 ? logits : logits.reshape([batchSize, crops, -1]).mean(1);
        return [tf.stack([out.total, out.ce, out.kl, out.rr]), perImage.argMax(1)];
      });
      const [terms, predictions, w, wPrime] = await Promise.all(
        [...read, out.attention, out.weights].map((t) => t.data()),
      );
      if (online && !single) await plugins.miner.observeAsync(out.auxProbs, labels);
      disposeOutputs(out);
      tf.dispose([images, labels, ...read]);
      if (!terms.every(Number.isFinite)) {
        throw new NonFiniteLossError({
          epoch,
          batch: batchIndex,
          batches,
          terms: { total: terms[0], ce: terms[1], kl: terms[2], rr: terms[3] },
          lr: this.optimizer.lr,
          alpha1,
          alpha2,
        });
      }
      const n = batchSize;
      sums.total += terms[0] * n;
      sums.ce += terms[1] * n;
      sums.kl += terms[2] * n;
      sums.rr += terms[3] * n;
      seen += n;
      for (let i = 0; i < n; i++) if (predictions[i] === batch.labels[i]) correct++;
      for (let i = 0; i < rowLabels.length; i++) {
        attention.push(w[i]);
        fusion.push(wPrime[i]);
        attentionLabels.push(rowLabels[i]);
      }
      const seconds = (performance.now() - started) / 1000;
      Object.assign(running, {
        batches: batchIndex,
        position: (batch.position ?? running.position) + 1,
        seen,
        correct,
        seconds,
      });
      await this.#hook(
        "onBatchEnd",
        {
          epoch,
          batch: batchIndex,
          batches,
          loss: { total: terms[0], ce: terms[1], kl: terms[2], rr: terms[3] },
          meanLoss: { total: sums.total / seen, ce: sums.ce / seen, kl: sums.kl / seen, rr: sums.rr / seen },
          accuracy: correct / seen,
          imagesPerSecond: seen / seconds,
          seconds,
        } satisfies BatchMetrics,
      );
    }
    this.#running = undefined;
    if (seen === 0) throw new Error(`Epoch ${epoch}: the training set yielded no batch.`);
    const trainSeconds = (performance.now() - started) / 1000;
    classDistributions.dispose();

    // The reference's logged training accuracy: the auxiliary branch in the mining pass, per crop.
    const mining = { rows: 0, correct: 0 };
    if (!online && !single) {
      plugins.miner.begin(C);
      const source = this.options.mining ?? this.options.train;
      await forEachEvalBatch(model, plugins.attention, source, {
        epoch: MINING_PASS_EPOCH_OFFSET + epoch - 1,
        withAux: true,
        maxBatches: cap,
        perCrop: true,
      }, async (o, labels) => {
        await plugins.miner.observeAsync(o.auxProbs!, labels);
        if (this.options.trainAccuracy !== "mining") return;
        const predicted = o.auxProbs!.argMax(1);
        const [p, y] = await Promise.all([predicted.data(), labels.data()]);
        predicted.dispose();
        mining.rows += y.length;
        for (let i = 0; i < y.length; i++) if (p[i] === y[i]) mining.correct++;
      });
    }
    const mined = single ? plugins.miner.distributions(C) : plugins.miner.end();
    const minedRows = await mined.array() as number[][];
    mined.dispose();

    const evalEvery = this.options.evalEvery ?? 1;
    let test: EvaluationResult | undefined;
    if (this.options.test && (epoch % evalEvery === 0 || epoch === this.options.epochs)) {
      test = await this.evaluate(this.options.test);
    }
    const perClass = (values: number[]) =>
      Array.from({ length: C }, (_, j) => summarize(values.filter((_, i) => attentionLabels[i] === j)));
    return {
      epoch,
      lr: this.optimizer.lr,
      alpha1,
      alpha2,
      loss: { total: sums.total / seen, ce: sums.ce / seen, kl: sums.kl / seen, rr: sums.rr / seen },
      trainAccuracy: mining.rows > 0 ? mining.correct / mining.rows : correct / seen,
      ...(test
        ? {
          testAccuracy: test.accuracy,
          testMeanClassAccuracy: test.meanClassAccuracy,
          testPerClassAccuracy: test.perClassAccuracy,
          testConfusion: test.confusion,
        }
        : {}),
      attentionPerClass: perClass(attention),
      fusionWeightPerClass: perClass(fusion),
      classDistributions: minedRows,
      images: seen,
      seconds: (performance.now() - started) / 1000,
      imagesPerSecond: seen / trainSeconds,
    };
  }

  /**
   * Evaluates the target branch (the inference model) on a batch source: see
   * {@linkcode evaluateModel}.
   */
  evaluate(source: BatchSource): Promise<EvaluationResult> {
    return evaluateModel(this.model, this.plugins.attention, source);
  }

  /**
   * The resumable state (the model's tensors are saved separately). Taken inside an epoch's training
   * pass (from an `onBatchStart`/`onBatchEnd` hook), it has the epoch's position and running sums
   * (`partial`), so that a mid-epoch checkpoint continues exactly.
   */
  async getState(): Promise<TrainerState> {
    const running = this.#running;
    return {
      epoch: this.epoch,
      bestAccuracy: this.bestAccuracy,
      bestEpoch: this.bestEpoch,
      history: [...this.history],
      miner: this.plugins.miner.getState(),
      optimizer: await this.optimizer.getState(),
      ...(running ? { partial: structuredClone(running) } : {}),
    };
  }

  /**
   * Restores a state from {@linkcode Trainer.getState}: training continues after its epoch or, with a
   * `partial` epoch, at that epoch's next batch (the training source must honour `batches(epoch,
   * from)`).
   */
  setState(state: TrainerState): void {
    if (state.partial && state.partial.epoch !== state.epoch + 1) {
      throw new RangeError(
        `setState: the partial epoch must be epoch ${state.epoch + 1}, got ${state.partial.epoch}`,
      );
    }
    this.epoch = state.epoch;
    this.bestAccuracy = state.bestAccuracy;
    this.bestEpoch = state.bestEpoch;
    this.history = [...state.history];
    this.plugins.miner.setState(state.miner);
    this.optimizer.setState(state.optimizer);
    this.#resumeAt = state.partial ? structuredClone(state.partial) : undefined;
  }

  /** Frees the optimiser's tensors (the model belongs to the caller). */
  dispose(): void {
    this.optimizer.dispose();
  }
}
