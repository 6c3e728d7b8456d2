/**
 * Evaluation of a trained run folder: accuracy, mean class accuracy and the confusion matrix on its
 * test split or on another dataset; with ground-truth distributions (the synthetic set), also the mean
 * KL divergence from the ground truth to the prediction and to the label, class and fused
 * distributions. On a run trained with `data.labelNoise`, also how it treats its flipped training
 * labels: the attention weights of flipped against clean samples (and their ROC AUC), how many flipped
 * samples the target branch recovers or memorises, and the mass the label and fused distributions put
 * on the true and the flipped label. Beside the checkpoint's own figures, the report puts the run's
 * evaluation protocols side by side, from its `metrics.jsonl`: the best epoch (chosen on the test set, as
 * the reference does), the last epoch and the mean of the last `trainer.meanOfLast` epochs. `deno task
 * eval` is this module on the command line.
 *
 * @module
 */
import { tf } from "../engine/tf.ts";
import type { BackendName } from "../engine/backend.ts";
import { fuseDistributions } from "../strategies/functional.ts";
import { evaluateModel, type EvaluationResult, forEachEvalBatch } from "../training/evaluate.ts";
import {
  type EvaluatedEpoch,
  type EvaluationProtocols,
  evaluationProtocols,
  type LabelNoiseReport,
  labelNoiseReport,
} from "../training/metrics.ts";
import {
  type Batch,
  DataLoader,
  type Dataset,
  ImagePipeline,
  labelMapping,
  openDataset,
} from "../datasets/mod.ts";
import { join } from "node:path";
import { type LoadedRun, loadRun, openRunData, pipelineOptions, RUN_FILES, type RunData } from "./run.ts";

/** Mean KL divergences from the ground-truth distributions. */
export interface DistributionDivergences {
  /** KL(gt || target branch prediction). */
  prediction: number;
  /** KL(gt || label distribution l_i, the auxiliary branch's softmax). */
  label: number;
  /** KL(gt || class distribution c'_{y_i}). */
  class: number;
  /** KL(gt || fused distribution f_i). */
  fused: number;
}

function kl(p: ArrayLike<number>, q: ArrayLike<number>, offset: number, c: number): number {
  let sum = 0;
  for (let j = 0; j < c; j++) {
    const pj = p[offset + j];
    if (pj > 0) sum += pj * Math.log(pj / Math.max(q[offset + j], 1e-8));
  }
  return sum;
}

/**
 * A view of `dataset` relabelled to `classNames` (by emotion name), dropping classes the model lacks; its
 * ground-truth distributions follow into the model's class order when the model knows every class.
 *
 * @example Evaluate a three-class model on a dataset with a fourth class
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Dataset } from "../datasets/types.ts";
 * import { relabel } from "./eval.ts";
 *
 * const labels = Int32Array.from([0, 1, 2, 3]);
 * const dataset: Dataset = {
 *   name: "faces",
 *   root: "/data/faces",
 *   split: "test",
 *   classNames: ["Happy", "Sad", "Angry", "Contempt"],
 *   size: 4,
 *   labels,
 *   item: (i) => ({ index: i, label: labels[i], path: `/data/faces/${i}.png`, source: `faces #${i}` }),
 * };
 * const view = relabel(dataset, ["Anger", "Happiness", "Sadness"]);
 * assert.equal(view.size, 3); // Contempt is dropped
 * assert.deepEqual([...view.labels], [1, 2, 0]);
 * assert.equal(view.item(2).path, "/data/faces/2.png");
 * ```
 */
export function relabel(dataset: Dataset, classNames: readonly string[]): Dataset {
  const same = dataset.classNames.length === classNames.length &&
    dataset.classNames.every((n, i) => n === classNames[i]);
  if (same) return dataset;
  const map = labelMapping(dataset.classNames, classNames);
  const keep: number[] = [];
  for (let i = 0; i < dataset.size; i++) if (map[dataset.labels[i]] >= 0) keep.push(i);
  if (keep.length === 0) {
    throw new Error(
      `${dataset.root}: none of its classes (${dataset.classNames.join(", ")}) is known to the model`,
    );
  }
  const labels = Int32Array.from(keep, (i) => map[dataset.labels[i]]);
  // Ground-truth distributions move into the model's class order when every class of the dataset is
  // one of the model's (otherwise part of their mass would have nowhere to go, and they are dropped).
  const distributions = dataset.distributions && map.every((m) => m >= 0)
    ? keep.map((i) => {
      const out = new Float32Array(classNames.length);
      dataset.distributions![i].forEach((p, c) => (out[map[c]] += p));
      return out;
    })
    : undefined;
  return {
    name: dataset.name,
    root: dataset.root,
    split: dataset.split,
    classNames,
    size: keep.length,
    labels,
    ...(distributions ? { distributions } : {}),
    item(i: number) {
      const item = dataset.item(keep[i]);
      return { ...item, index: i, label: labels[i] };
    },
  };
}

/** A batch's distributions as the run's trainer forms them (row-major [B, C], and [B] for `w`). */
interface BatchDistributions {
  /** The target branch's prediction. */
  pred: Float32Array;
  /** The label distributions l_i. */
  label: Float32Array;
  /** The class distributions c'_{y_i} of the given labels. */
  cls: Float32Array;
  /** The fused distributions f_i. */
  fused: Float32Array;
  /** The attention weights w_i. */
  w: Float32Array;
}

/** Runs the model over a loader and calls `visit` with each batch's distributions. */
async function forEachDistributionBatch(
  run: LoadedRun,
  loader: DataLoader,
  visit: (d: BatchDistributions, batch: Batch) => void,
): Promise<void> {
  const C = run.model.numClasses;
  const classRows = run.plugins.miner.distributions(C);
  try {
    await forEachEvalBatch(
      run.model,
      run.plugins.attention,
      loader,
      { withAux: true },
      async (o, labels, batch) => {
        const tensors = tf.tidy(() => {
          const weights = run.plugins.normalizer.normalize(o.attention!);
          const fused = fuseDistributions({
            labelDistributions: o.auxProbs!,
            classDistributions: classRows,
            labels,
            weights,
          });
          const cls = tf.matMul(tf.oneHot(labels, C).toFloat(), classRows);
          return [tf.softmax(o.logits), tf.clone(o.auxProbs!), cls, fused, tf.clone(o.attention!)];
        });
        const [pred, label, cls, fused, w] = (await Promise.all(tensors.map((t) =>
          t.data()
        ))) as Float32Array[];
        tf.dispose(tensors);
        visit({ pred, label, cls, fused, w }, batch);
      },
    );
  } finally {
    classRows.dispose();
  }
}

/** The divergences of the run's distributions from the ground truth, over a loader. */
async function divergences(run: LoadedRun, loader: DataLoader): Promise<DistributionDivergences | undefined> {
  const C = run.model.numClasses;
  if (run.model.branchNames.length === 1) return await predictionDivergence(run, loader);
  const sums = { prediction: 0, label: 0, class: 0, fused: 0 };
  let n = 0;
  let complete = true;
  await forEachDistributionBatch(run, loader, (d, batch) => {
    const gt = batch.distributions;
    if (!gt) {
      complete = false;
      return;
    }
    for (let i = 0; i < batch.labels.length; i++) {
      sums.prediction += kl(gt, d.pred, i * C, C);
      sums.label += kl(gt, d.label, i * C, C);
      sums.class += kl(gt, d.cls, i * C, C);
      sums.fused += kl(gt, d.fused, i * C, C);
      n++;
    }
  });
  if (!complete || n === 0) return undefined;
  return {
    prediction: sums.prediction / n,
    label: sums.label / n,
    class: sums.class / n,
    fused: sums.fused / n,
  };
}

/**
 * The single-branch baseline's divergence: only its prediction's (it has no label, class or fused
 * distributions: NaN).
 */
async function predictionDivergence(
  run: LoadedRun,
  loader: DataLoader,
): Promise<DistributionDivergences | undefined> {
  const C = run.model.numClasses;
  let sum = 0;
  let n = 0;
  let complete = true;
  await forEachEvalBatch(run.model, run.plugins.attention, loader, {}, async ({ logits }, _labels, batch) => {
    const gt = batch.distributions;
    if (!gt) {
      complete = false;
      return;
    }
    const probs = tf.softmax(logits);
    const pred = await probs.data();
    probs.dispose();
    for (let i = 0; i < batch.labels.length; i++, n++) sum += kl(gt, pred, i * C, C);
  });
  if (!complete || n === 0) return undefined;
  return { prediction: sum / n, label: NaN, class: NaN, fused: NaN };
}

/** Throws unless the run was trained with label noise (else it has no flipped labels to measure). */
function requireLabelNoise(run: LoadedRun, runDir: string): void {
  if (run.model.branchNames.length === 1) {
    throw new Error(
      `${runDir}: a single-branch run (model.branches 1) has no attention weights or label distributions to measure`,
    );
  }
  if (run.config.data.labelNoise === 0) {
    throw new Error(
      `${runDir}: the run was trained without label noise (data.labelNoise 0): there are no flipped labels to measure`,
    );
  }
}

/**
 * How the run treats its flipped training labels: one pass over the training split (no augmentation,
 * one crop) with the labels it was trained on.
 */
async function labelNoiseDiagnostics(
  run: LoadedRun,
  data: RunData,
  batchSize: number,
): Promise<LabelNoiseReport> {
  const C = run.model.numClasses;
  const n = data.train.size;
  const loader = new DataLoader(data.train, {
    batchSize,
    pipeline: new ImagePipeline({ ...pipelineOptions(run.config).eval, tenCrop: false }),
    prefetch: run.config.data.prefetch,
    skipCorrupt: run.config.data.skipCorrupt,
  });
  const attention = new Float32Array(n);
  const predictions = new Float32Array(n * C);
  const labelDistributions = new Float32Array(n * C);
  const fusedDistributions = new Float32Array(n * C);
  const seen = new Uint8Array(n);
  await forEachDistributionBatch(run, loader, (d, batch) => {
    batch.indices.forEach((index, i) => {
      attention[index] = d.w[i];
      predictions.set(d.pred.subarray(i * C, (i + 1) * C), index * C);
      labelDistributions.set(d.label.subarray(i * C, (i + 1) * C), index * C);
      fusedDistributions.set(d.fused.subarray(i * C, (i + 1) * C), index * C);
      seen[index] = 1;
    });
  });
  // Images skipped as unreadable (data.skipCorrupt) are left out.
  const kept = Array.from(seen.keys()).filter((i) => seen[i] === 1);
  const rows = (values: Float32Array) => {
    const out = new Float32Array(kept.length * C);
    kept.forEach((i, k) => out.set(values.subarray(i * C, (i + 1) * C), k * C));
    return out;
  };
  return labelNoiseReport({
    numClasses: C,
    trueLabels: kept.map((i) => data.trueTrainLabels[i]),
    trainingLabels: kept.map((i) => data.train.labels[i]),
    attention: kept.map((i) => attention[i]),
    predictions: rows(predictions),
    labelDistributions: rows(labelDistributions),
    fusedDistributions: rows(fusedDistributions),
  });
}

/** What `deno task eval` reports. */
export interface EvalReport {
  /** The run folder. */
  run: string;
  /** The checkpoint read. */
  checkpoint: string;
  /** Its epoch. */
  epoch: number;
  /** Dataset description. */
  dataset: string;
  /** Class names. */
  classNames: readonly string[];
  /** Accuracy and friends. */
  result: Omit<EvaluationResult, "probabilities" | "labels" | "indices" | "distributions">;
  /** KL divergences from the ground truth (datasets with ground-truth distributions). */
  divergences?: DistributionDivergences;
  /** With `labelNoise`: how the run treats its flipped training labels. */
  labelNoise?: LabelNoiseReport;
  /**
   * The run's test results during training under each protocol (best epoch chosen on the test set,
   * last epoch, mean of the last k), from its `metrics.jsonl`; absent when no epoch was evaluated.
   */
  protocols?: EvaluationProtocols;
}

/** Four decimals, or "-" for NaN (a single-branch run has no label, class or fused distributions). */
function fixed4(x: number): string {
  return Number.isNaN(x) ? "-" : x.toFixed(4);
}

function pct(x: number): string {
  return Number.isNaN(x) ? "-" : `${(100 * x).toFixed(2)}%`;
}

/**
 * Formats an evaluation report as text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classificationReport } from "../training/metrics.ts";
 * import { formatEvalReport } from "./eval.ts";
 *
 * const text = formatEvalReport({
 *   run: "runs/demo",
 *   checkpoint: "best",
 *   epoch: 3,
 *   dataset: "synthetic test split",
 *   classNames: ["Happiness", "Sadness"],
 *   result: classificationReport([0, 0, 1, 1], [0, 1, 1, 1], 2),
 * });
 * assert.match(text, /^run runs\/demo, checkpoint best \(epoch 3, chosen on the test set\)/);
 * assert.match(text, /accuracy 75\.00%/);
 * ```
 */
export function formatEvalReport(r: EvalReport): string {
  const lines: string[] = [
    `run ${r.run}, checkpoint ${r.checkpoint} (epoch ${r.epoch}${
      /(^|[/\\])best(\.safetensors)?$/.test(r.checkpoint) ? ", chosen on the test set" : ""
    })`,
    `dataset ${r.dataset}: ${r.result.count} images`,
    `accuracy ${pct(r.result.accuracy)}, mean class accuracy ${pct(r.result.meanClassAccuracy)}`,
    "",
    "per class:",
    ...r.classNames.map((n, j) => `  ${n.padEnd(12)} ${pct(r.result.perClassAccuracy[j]).padStart(8)}`),
    "",
    "confusion matrix (rows: true class, columns: predicted):",
  ];
  const short = r.classNames.map((n) => n.slice(0, 5));
  const w = Math.max(6, ...r.result.confusion.flat().map((v) => String(v).length + 1));
  lines.push(" ".repeat(13) + short.map((s) => s.padStart(w)).join(""));
  r.result.confusion.forEach((row, j) => {
    lines.push(
      `  ${r.classNames[j].slice(0, 10).padEnd(11)}${row.map((v) => String(v).padStart(w)).join("")}`,
    );
  });
  if (r.protocols) lines.push("", ...formatProtocols(r.protocols));
  if (r.divergences) {
    const d = r.divergences;
    lines.push(
      "",
      "mean KL divergence from the ground-truth distributions:",
      `  to the prediction (target branch)   ${d.prediction.toFixed(4)}`,
      `  to the label distributions l_i      ${fixed4(d.label)}`,
      `  to the class distributions c'_y     ${fixed4(d.class)}`,
      `  to the fused distributions f_i      ${fixed4(d.fused)}`,
    );
  }
  if (r.labelNoise) {
    const x = r.labelNoise;
    lines.push(
      "",
      `training split: ${x.flipped} flipped labels, ${x.clean} clean:`,
      `  attention w_i, clean ${x.attentionClean.toFixed(3)}, flipped ${x.attentionFlipped.toFixed(3)}, ` +
        `AUC ${x.attentionAuc.toFixed(3)} (0.5: blind to the noise)`,
      `  target prediction: clean samples ${pct(x.cleanAccuracy)} correct; flipped samples ` +
        `${pct(x.flippedRecovered)} recovered (true label), ${
          pct(x.flippedMemorised)
        } memorised (flipped label)`,
      `  on flipped samples, mass on the true / flipped label: label distributions l_i ` +
        `${x.labelTrueMass.toFixed(3)} / ${x.labelNoisyMass.toFixed(3)}, fused f_i ` +
        `${x.fusedTrueMass.toFixed(3)} / ${x.fusedNoisyMass.toFixed(3)}`,
    );
  }
  return lines.join("\n");
}

/**
 * The evaluation protocols as a table: the best epoch (flagged as chosen on the test set), the last epoch
 * and the mean of the last k, each with its accuracy and mean class accuracy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluationProtocols } from "../training/metrics.ts";
 * import { formatProtocols } from "./eval.ts";
 * const history = [0.5, 0.75, 0.625].map((a, i) => ({ epoch: i + 1, testAccuracy: a, testMeanClassAccuracy: a }));
 * const text = formatProtocols(evaluationProtocols(history, 2)!).join("\n");
 * assert.match(text, /best epoch \(chosen on the test set\) +2 +75\.00% +75\.00%/);
 * assert.match(text, /last epoch +3 +62\.50%/);
 * assert.match(text, /mean of the last 2 epochs +2-3 +68\.75%/);
 * ```
 */
export function formatProtocols(p: EvaluationProtocols): string[] {
  const k = p.meanOfLast.k;
  const epochs = p.meanOfLast.epochs;
  const rows: [string, string, number, number][] = [
    ["best epoch (chosen on the test set)", String(p.best.epoch), p.best.accuracy, p.best.meanClassAccuracy],
    ["last epoch", String(p.last.epoch), p.last.accuracy, p.last.meanClassAccuracy],
    [
      `mean of the last ${k} epoch${k === 1 ? "" : "s"}`,
      k === 1 ? String(epochs[0]) : `${epochs[0]}-${epochs[k - 1]}`,
      p.meanOfLast.accuracy,
      p.meanOfLast.meanClassAccuracy,
    ],
  ];
  return [
    "test split during training, by protocol:",
    `  ${"protocol".padEnd(36)} ${"epoch".padStart(7)} ${"accuracy".padStart(9)} ${
      "mean class".padStart(11)
    }`,
    ...rows.map(([name, epoch, acc, mca]) =>
      `  ${name.padEnd(36)} ${epoch.padStart(7)} ${pct(acc).padStart(9)} ${pct(mca).padStart(11)}`
    ),
  ];
}

/** The run's protocols from its `metrics.jsonl` (undefined when the file is missing or no epoch was evaluated). */
async function runProtocols(run: LoadedRun, runDir: string): Promise<EvaluationProtocols | undefined> {
  const path = join(runDir, RUN_FILES.metrics);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const history: EvaluatedEpoch[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let m: EvaluatedEpoch;
    try {
      m = JSON.parse(line);
    } catch (error) {
      throw new Error(
        `${path}:${i + 1}: not a JSON line (${error instanceof Error ? error.message : error})`,
      );
    }
    if (m === null || typeof m !== "object" || !Number.isInteger(m.epoch)) {
      throw new Error(`${path}:${i + 1}: expected an epoch's metrics with an integer "epoch"`);
    }
    // Written with NaN as null.
    history.push({ ...m, testAccuracy: m.testAccuracy ?? undefined });
  });
  return evaluationProtocols(history, run.config.trainer.meanOfLast) ?? undefined;
}

/** Options of {@linkcode evaluateRun}. */
export interface EvaluateRunOptions {
  /**
   * Which checkpoint: `best` (falls back to `last` when the run has no best yet) or `last`.
   * @default {"best"}
   */
  checkpoint?: "best" | "last";
  /** Evaluate on another dataset of this type (with `dataPath`) instead of the run's test split. */
  dataset?: string;
  /** The other dataset's location. */
  dataPath?: string;
  /** The other dataset's split. @default {"test" ("val" for AffectNet and SFEW)} */
  split?: string;
  /** The backend to evaluate on. @default {the run's `backend`} */
  backend?: BackendName;
  /** Batch size. @default {the run's `trainer.batchSize`} */
  batchSize?: number;
  /** Also measure how the run treats its flipped training labels (a run trained with label noise). */
  labelNoise?: boolean;
}

/**
 * Evaluates a run folder's checkpoint on its test split or on another dataset (see the module
 * documentation).
 *
 * @example
 * ```ts ignore
 * import { evaluateRun, formatEvalReport } from "./eval.ts";
 * console.log(formatEvalReport(await evaluateRun("runs/synthetic-fused-20261128-101500")));
 * ```
 */
export async function evaluateRun(runDir: string, options: EvaluateRunOptions = {}): Promise<EvalReport> {
  const run = await loadRun(runDir, options.checkpoint ?? "best", { backend: options.backend ?? "run" });
  try {
    let dataset: Dataset;
    let description: string;
    let runData: RunData | undefined;
    if (options.labelNoise) {
      if (options.dataset) {
        throw new Error(
          "--label-noise measures the run's own training split; it does not combine with --dataset",
        );
      }
      requireLabelNoise(run, runDir);
    }
    if (options.dataset) {
      if (!options.dataPath) throw new Error("--dataset needs --data-path");
      const split = options.split ??
        (["affectnet7", "affectnet8", "sfew"].includes(options.dataset) ? "val" : "test");
      dataset = relabel(
        await openDataset({ type: options.dataset, path: options.dataPath, split }),
        run.classNames,
      );
      description = `${options.dataset} ${split} at ${options.dataPath}`;
    } else {
      runData = await openRunData(run.config);
      dataset = runData.test;
      description = `${run.config.data.dataset} ${dataset.split} at ${runData.root}`;
    }
    const batchSize = options.batchSize ?? run.config.trainer.batchSize;
    const loader = new DataLoader(dataset, {
      batchSize,
      pipeline: new ImagePipeline(pipelineOptions(run.config).eval),
      prefetch: run.config.data.prefetch,
      skipCorrupt: run.config.data.skipCorrupt,
    });
    const result = await evaluateModel(run.model, run.plugins.attention, loader);
    const { probabilities: _p, labels: _l, indices: _i, distributions, ...summary } = result;
    const protocols = await runProtocols(run, runDir);
    return {
      run: runDir,
      checkpoint: run.checkpointPath,
      epoch: run.epoch,
      dataset: description,
      classNames: run.classNames,
      result: summary,
      divergences: distributions ? await divergences(run, loader) : undefined,
      labelNoise: options.labelNoise && runData
        ? await labelNoiseDiagnostics(run, runData, batchSize)
        : undefined,
      ...(protocols ? { protocols } : {}),
    };
  } finally {
    run.model.dispose();
  }
}

/** {@linkcode measureLabelNoise}'s result. */
export interface RunLabelNoise {
  /** The checkpoint measured. */
  checkpoint: string;
  /** Its epoch. */
  epoch: number;
  /** How the run treats its flipped training labels. */
  report: LabelNoiseReport;
}

/**
 * Measures only how a run trained with `data.labelNoise` treats its flipped training labels (the
 * `--label-noise` part of {@linkcode evaluateRun}), by default at its last checkpoint.
 *
 * @example
 * ```ts ignore
 * import { measureLabelNoise } from "./eval.ts";
 * const { report } = await measureLabelNoise("runs/noise-synthetic/ada-df-20-noise-seed0");
 * console.log(`attention AUC ${report.attentionAuc.toFixed(3)} on ${report.flipped} flipped labels`);
 * ```
 */
export async function measureLabelNoise(
  runDir: string,
  options: { checkpoint?: "best" | "last"; backend?: BackendName; batchSize?: number } = {},
): Promise<RunLabelNoise> {
  const run = await loadRun(runDir, options.checkpoint ?? "last", { backend: options.backend ?? "run" });
  try {
    requireLabelNoise(run, runDir);
    const data = await openRunData(run.config);
    const report = await labelNoiseDiagnostics(run, data, options.batchSize ?? run.config.trainer.batchSize);
    return { checkpoint: run.checkpointPath, epoch: run.epoch, report };
  } finally {
    run.model.dispose();
  }
}
