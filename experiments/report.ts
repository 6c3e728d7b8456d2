/**
 * Reports with plots: one self-contained HTML page (`report.html`, every chart embedded as an SVG data
 * URI, so the file stands alone) plus a PNG and the Vega-Lite specification of every chart in `report/`.
 *
 * A run's page ({@linkcode writeRunReport}) shows
 *
 * - the learning curves from `metrics.jsonl`: every loss term, alpha1/alpha2, the learning rate,
 *   train/test/mean class accuracy, per-class test accuracy and the mean attention per class;
 * - the test confusion matrix (counts and row-normalised) and per-class accuracy;
 * - the attention weights w per class on the test images and, for a run trained with label noise, on
 *   clean against flipped training images (with the ROC AUC of w as a clean-vs-flipped score);
 * - the mined class distributions c' over epochs as small multiples;
 * - a UMAP embedding (`umap-js`, seeded with the run's seed) of the target branch's test features;
 * - on a test set with ground-truth distributions (the synthetic set), the paper's Figure 1: predicted,
 *   label, class and fused distributions against the ground truth for clear and ambiguous test faces.
 *
 * What the run folder lacks (the confusion matrix, features, per-image attention and distributions) is
 * computed by loading the run's checkpoint and running the model on a bounded number of test (and, with
 * label noise, training) images. An ablation's page ({@linkcode writeAblationReport}) shows the accuracy
 * per variant with error bars over seeds, per noise level where there are several. Charts are Vega-Lite
 * specifications rendered headless by `vega` (SVG) and sharp (PNG). `deno task report RUN_DIR` is
 * {@linkcode writeRunReport} on the command line; every run and resumed run writes its report at the end,
 * and `deno task ablate` writes the ablation's.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { basename, join, relative } from "node:path";
import sharp from "sharp";
import type { BackendName } from "../engine/backend.ts";
import { writeFileAtomic } from "../engine/files.ts";
import { Random } from "../engine/random.ts";
import { type Tensor2D, type Tensor4D, tf } from "../engine/tf.ts";
import { BRANCHES } from "../backbones/adadf.ts";
import { branchForward } from "../backbones/resnet.ts";
import { faceResNet29BranchForward } from "../backbones/face_resnet29.ts";
import { fuseDistributions } from "../strategies/functional.ts";
import { pluginName } from "../strategies/registry.ts";
import { DataLoader, type Dataset, ImagePipeline, subset } from "../datasets/mod.ts";
import { forEachEvalBatch } from "../training/evaluate.ts";
import { argmaxRows, classificationReport, rocAuc, summarize } from "../training/metrics.ts";
import type { EpochMetrics } from "../training/trainer.ts";
import { configToYaml } from "./config.ts";
import { type LoadedRun, loadRun, openRunData, pipelineOptions, readRunConfig, RUN_FILES } from "./run.ts";
import type { RunLabelNoise } from "./eval.ts";
import type { Ablation, AblationNoiseRun, AblationRun } from "./ablation.ts";
import {
  type AblationRow,
  ablationSpec,
  type AttentionRow,
  attentionSpec,
  type ChartSpec,
  type ClassDistributionRow,
  classDistributionsSpec,
  confusionSpec,
  type CurveRow,
  curvesSpec,
  embeddingSpec,
  figure1Spec,
  type FigureSample,
  type NoiseRow,
  noiseSpec,
  renderChart,
} from "./_report_charts.ts";

/** The files a report writes into a run (or ablation) folder. */
export const REPORT_FILES = {
  /** The self-contained page. */
  html: "report.html",
  /** The folder of the charts' PNGs and Vega-Lite specifications, and `report.json`. */
  dir: "report",
  /** The numbers the page shows, as JSON, inside `dir`. */
  data: "report.json",
} as const;

/** Options of {@linkcode writeRunReport}. */
export interface RunReportOptions {
  /**
   * The checkpoint the model figures use: `best` (falls back to `last` when there is no best) or `last`.
   * @default {"best"}
   */
  checkpoint?: "best" | "last";
  /**
   * The backend to run the model on; null keeps TensorFlow.js's current backend (as at the end of a run).
   * @default {the run's `backend`}
   */
  backend?: BackendName | null;
  /**
   * Test images evaluated for the confusion matrix, the attention and Figure 1 (evenly spaced over the
   * test split when it has more).
   * @default {2000}
   */
  maxTestImages?: number;
  /**
   * Test images in the embedding.
   * @default {400}
   */
  maxEmbeddingImages?: number;
  /**
   * Training images measured for the clean-vs-flipped attention (runs with label noise).
   * @default {2000}
   */
  maxNoiseImages?: number;
  /**
   * Faces of each kind (clear, ambiguous) in Figure 1.
   * @default {3}
   */
  figureFaces?: number;
  /** Where progress lines go. @default {nothing} */
  log?: (line: string) => void;
}

/** A frequent confusion of the test set. */
export interface Confusion {
  /** True class. */
  true: string;
  /** Predicted class. */
  predicted: string;
  /** Test images of `true` predicted as `predicted`. */
  count: number;
  /** Their share of the images of `true`. */
  rate: number;
}

/** Mean (and spread) of a quantity over a class's images. */
export interface ClassStat {
  /** Class name. */
  class: string;
  /** Images. */
  count: number;
  /** Mean. */
  mean: number;
  /** Population standard deviation. */
  std: number;
}

/** A face of Figure 1. */
export interface FigureFace {
  /** `clear` (lowest entropy of the ground truth) or `ambiguous` (highest). */
  kind: "clear" | "ambiguous";
  /** Its index in the test split. */
  index: number;
  /** Its label. */
  label: string;
  /** The target branch's prediction. */
  predicted: string;
  /** Entropy of its ground-truth distribution, in nats. */
  entropy: number;
  /** The distributions shown, class order (absent ones are not computed for the model). */
  distributions: Record<string, number[]>;
}

/** The numbers a run's report shows (also written as `report/report.json`). */
export interface RunReportFigures {
  /** The run folder's name. */
  run: string;
  /** The checkpoint the model figures use. */
  checkpoint: string;
  /** Its epoch. */
  epoch: number;
  /** Epochs in `metrics.jsonl`. */
  epochs: number;
  /** Class names. */
  classNames: readonly string[];
  /** Test images evaluated, of the test split's. */
  testImages: { evaluated: number; total: number };
  /** Test accuracy of the checkpoint on those images. */
  accuracy: number;
  /** Its mean class accuracy. */
  meanClassAccuracy: number;
  /** Its per-class accuracy (null: no image of the class). */
  perClassAccuracy: (number | null)[];
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
  /** The most frequent confusions, most frequent first (at most 5). */
  topConfusions: Confusion[];
  /** Attention weights w per true class on the test images (dual-branch models). */
  attentionPerClass?: ClassStat[];
  /** With label noise: the attention weights of clean and flipped training images. */
  labelNoise?: {
    /** Training images measured. */
    images: number;
    /** Clean ones. */
    clean: number;
    /** Flipped ones. */
    flipped: number;
    /** Mean w of the clean ones. */
    attentionClean: number;
    /** Mean w of the flipped ones. */
    attentionFlipped: number;
    /** ROC AUC of w ranking clean above flipped images (0.5: blind to the noise). */
    auc: number;
    /** The AUC of `label-noise-report.json` (the whole training split), when the run folder has one. */
    cachedAuc?: { auc: number; checkpoint: string; epoch: number };
  };
  /** The embedding, when drawn. */
  embedding?: { method: string; images: number };
  /** The faces of Figure 1 (test sets with ground-truth distributions). */
  figure1?: FigureFace[];
}

/** What {@linkcode writeRunReport} wrote. */
export interface RunReport {
  /** The page. */
  html: string;
  /** The PNG of every chart, by chart name. */
  png: Record<string, string>;
  /** The numbers shown. */
  figures: RunReportFigures;
  /** Wall time in seconds. */
  seconds: number;
}

const DEFAULT_FIGURE_FACES = 3;

/** Reads `metrics.jsonl` (NaN written as null comes back as null), naming the file and line of a bad line. */
async function readHistory(runDir: string): Promise<EpochMetrics[]> {
  const path = join(runDir, RUN_FILES.metrics);
  const text = await Deno.readTextFile(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`${runDir}: ${RUN_FILES.metrics} is missing: the run has not finished an epoch yet.`);
    }
    throw error;
  });
  return text.split("\n").flatMap((line, i) => {
    if (line.trim() === "") return [];
    try {
      const m = JSON.parse(line);
      if (typeof m !== "object" || m === null || typeof m.epoch !== "number") {
        throw new Error("not an epoch's metrics (no numeric 'epoch')");
      }
      return [m as EpochMetrics];
    } catch (error) {
      throw new Error(`${path}:${i + 1}: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
}

async function readJson<T>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${path}: not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The learning curves' rows from the epochs' metrics. */
function curveRows(history: EpochMetrics[], classNames: readonly string[]): CurveRow[] {
  const rows: CurveRow[] = [];
  const add = (epoch: number, panel: string, series: string, value: unknown) =>
    rows.push({ epoch, panel, series, value: num(value) });
  for (const m of history) {
    const e = m.epoch;
    add(e, "loss", "total", m.loss?.total);
    add(e, "loss", "cross-entropy", m.loss?.ce);
    add(e, "loss", "KL", m.loss?.kl);
    add(e, "loss", "rank regulariser", m.loss?.rr);
    add(e, "weights", "alpha1", m.alpha1);
    add(e, "weights", "alpha2", m.alpha2);
    add(e, "lr", "lr", m.lr);
    add(e, "accuracy", "train", m.trainAccuracy);
    add(e, "accuracy", "test", m.testAccuracy);
    add(e, "accuracy", "test mean class", m.testMeanClassAccuracy);
    (m.testPerClassAccuracy ?? []).forEach((a, j) => add(e, "per-class", classNames[j] ?? `#${j}`, a));
    (m.attentionPerClass ?? []).forEach((s, j) => add(e, "attention", classNames[j] ?? `#${j}`, s?.mean));
  }
  return rows;
}

/** At most `max` epochs, evenly spaced, the first and the last included. */
function pickEpochs(history: EpochMetrics[], max: number): EpochMetrics[] {
  const withC = history.filter((m) => Array.isArray(m.classDistributions) && m.classDistributions.length);
  if (withC.length <= max) return withC;
  const picked = new Set<number>();
  for (let k = 0; k < max; k++) picked.add(Math.round(k * (withC.length - 1) / (max - 1)));
  return [...picked].sort((a, b) => a - b).map((i) => withC[i]);
}

/** `count` indices evenly spaced over `0..n-1` (all of them when n <= count). */
function evenlySpaced(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, k) => Math.floor(k * n / count));
}

function entropy(p: ArrayLike<number>, offset: number, c: number): number {
  let h = 0;
  for (let j = 0; j < c; j++) {
    const v = p[offset + j];
    if (v > 0) h -= v * Math.log(v);
  }
  return h;
}

/** Per-image outputs on a set of images (row-major [N, C]; attention and the aux ones for dual models). */
interface ImageOutputs {
  /** Indices into the evaluated dataset. */
  indices: number[];
  labels: number[];
  pred: number[];
  label?: number[];
  cls?: number[];
  fused?: number[];
  w?: number[];
  gt?: number[];
}

/** Runs the model over `dataset` and gathers each image's distributions (as the trainer forms them). */
async function gatherOutputs(
  run: LoadedRun,
  dataset: Dataset,
  options: { tenCrop: boolean; dual: boolean },
): Promise<ImageOutputs> {
  const C = run.model.numClasses;
  const loader = new DataLoader(dataset, {
    batchSize: run.config.trainer.batchSize,
    pipeline: new ImagePipeline({ ...pipelineOptions(run.config).eval, tenCrop: options.tenCrop }),
    prefetch: run.config.data.prefetch,
  });
  const out: ImageOutputs = { indices: [], labels: [], pred: [] };
  if (options.dual) Object.assign(out, { label: [], cls: [], fused: [], w: [] });
  let haveGt = true;
  const gt: number[] = [];
  const classRows = options.dual ? run.plugins.miner.distributions(C) : null;
  try {
    await forEachEvalBatch(
      run.model,
      run.plugins.attention,
      loader,
      { withAux: options.dual },
      async (o, labels, batch) => {
        const tensors = tf.tidy(() => {
          const pred = tf.softmax(o.logits);
          if (!options.dual) return [pred];
          const weights = run.plugins.normalizer.normalize(o.attention!);
          const fused = fuseDistributions({
            labelDistributions: o.auxProbs!,
            classDistributions: classRows!,
            labels,
            weights,
          });
          const cls = tf.matMul(tf.oneHot(labels, C).toFloat(), classRows!);
          return [pred, tf.clone(o.auxProbs!), cls, fused, tf.clone(o.attention!)];
        });
        const values = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
        tf.dispose(tensors);
        out.indices.push(...batch.indices);
        out.labels.push(...batch.labels);
        out.pred.push(...values[0]);
        if (options.dual) {
          out.label!.push(...values[1]);
          out.cls!.push(...values[2]);
          out.fused!.push(...values[3]);
          out.w!.push(...values[4]);
        }
        if (batch.distributions) gt.push(...batch.distributions);
        else haveGt = false;
      },
    );
  } finally {
    classRows?.dispose();
  }
  if (haveGt && out.labels.length > 0) out.gt = gt;
  return out;
}

/** The target branch's pooled features h_2 of `dataset`'s images (one crop each), [N][F]. */
async function targetFeatures(
  run: LoadedRun,
  dataset: Dataset,
): Promise<{ indices: number[]; labels: number[]; features: number[][] }> {
  const loader = new DataLoader(dataset, {
    batchSize: run.config.trainer.batchSize,
    pipeline: new ImagePipeline({ ...pipelineOptions(run.config).eval, tenCrop: false }),
    prefetch: run.config.data.prefetch,
  });
  const model = run.model;
  const mode = { training: false };
  const indices: number[] = [];
  const labels: number[] = [];
  const features: number[][] = [];
  for await (const batch of loader.batches(0)) {
    const h = tf.tidy(() => {
      const stem = model.stem(tf.tensor4d(batch.images, batch.shape) as Tensor4D, mode);
      return (model.spec.family === "resnet"
        ? branchForward(model, model.spec, stem, mode, "target.")
        : faceResNet29BranchForward(model, stem, mode, "target.")) as Tensor2D;
    });
    const rows = (await h.array()) as number[][];
    h.dispose();
    features.push(...rows);
    labels.push(...batch.labels);
    indices.push(...batch.indices);
  }
  return { indices, labels, features };
}

/** A 2-D UMAP embedding of `features`, seeded. */
async function embed(features: number[][], seed: number): Promise<number[][]> {
  const { UMAP } = await import("umap-js"); // loaded on first use, as the chart renderer
  const rng = new Random(seed);
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(15, features.length - 1),
    minDist: 0.1,
    random: () => rng.next(),
  });
  return umap.fit(features);
}

async function faceDataUri(dataset: Dataset, index: number): Promise<string> {
  const item = dataset.item(index);
  const input = item.path ? sharp(item.path) : item.image
    ? sharp(item.image.data, {
      raw: { width: item.image.width, height: item.image.height, channels: item.image.channels },
    })
    : null;
  if (!input) throw new Error(`${item.source}: the item has neither a path nor pixels`);
  // At most 96 px: the chart scales it to its 96 px square.
  const png = await input.resize(96, 96, { fit: "cover", withoutEnlargement: true }).png().toBuffer();
  return `data:image/png;base64,${png.toString("base64")}`;
}

/** The clear and ambiguous faces of Figure 1: lowest and highest ground-truth entropy, distinct labels first. */
function pickFaces(
  outputs: ImageOutputs,
  C: number,
  perKind: number,
): { kind: "clear" | "ambiguous"; row: number }[] {
  const gt = outputs.gt!;
  const rows = outputs.labels.map((_, r) => ({ r, h: entropy(gt, r * C, C) }));
  const pick = (sorted: { r: number; h: number }[]) => {
    const chosen: number[] = [];
    const labels = new Set<number>();
    for (const { r } of sorted) {
      if (chosen.length >= perKind) break;
      if (!labels.has(outputs.labels[r])) {
        chosen.push(r);
        labels.add(outputs.labels[r]);
      }
    }
    for (const { r } of sorted) {
      if (chosen.length >= perKind) break;
      if (!chosen.includes(r)) chosen.push(r);
    }
    return chosen;
  };
  const clear = pick([...rows].sort((a, b) => a.h - b.h || a.r - b.r));
  const ambiguous = pick(
    [...rows].sort((a, b) => b.h - a.h || a.r - b.r).filter((x) => !clear.includes(x.r)),
  );
  return [
    ...clear.map((row) => ({ kind: "clear" as const, row })),
    ...ambiguous.map((row) => ({ kind: "ambiguous" as const, row })),
  ];
}

function classStats(values: number[], labels: number[], classNames: readonly string[]): ClassStat[] {
  return classNames.map((name, j) => {
    const mine = values.filter((_, i) => labels[i] === j);
    const s = summarize(mine);
    return {
      class: name,
      count: mine.length,
      mean: mine.length ? s.mean : NaN,
      std: mine.length ? s.std : NaN,
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// HTML

const escapeHtml = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
const pct = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : `${(100 * x).toFixed(digits)}%`;
const fixed = (x: number | null | undefined, digits = 3) =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits);

/** A chart of a page: its name (file stem), heading, text and specification. */
interface PageChart {
  name: string;
  heading: string;
  /** HTML paragraphs shown under the heading. */
  text: string;
  spec: ChartSpec;
  alt: string;
}

interface PageSection {
  heading: string;
  /** HTML. */
  body: string;
}

const STYLE = `
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 2em auto; max-width: 1200px;
  padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 0.8em 0; }
figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #555; }
.meta { color: #555; font-size: 0.9em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
`;

/** Renders the charts, writes their PNGs and specifications into `dir`, and returns the page. */
async function writePage(
  folder: string,
  title: string,
  intro: string,
  charts: PageChart[],
  sections: PageSection[],
  data: unknown,
): Promise<{ html: string; png: Record<string, string> }> {
  const dir = join(folder, REPORT_FILES.dir);
  await Deno.mkdir(dir, { recursive: true });
  const png: Record<string, string> = {};
  const parts: string[] = [];
  for (const chart of charts) {
    const rendered = await renderChart(chart.spec);
    const pngPath = join(dir, `${chart.name}.png`);
    await writeFileAtomic(pngPath, rendered.png);
    await writeFileAtomic(join(dir, `${chart.name}.vl.json`), JSON.stringify(chart.spec) + "\n");
    png[chart.name] = pngPath;
    const uri = `data:image/svg+xml;base64,${Buffer.from(rendered.svg).toString("base64")}`;
    const rel = `${REPORT_FILES.dir}/${chart.name}`;
    parts.push(
      `<section id="${chart.name}">\n<h2>${escapeHtml(chart.heading)}</h2>\n${chart.text}\n` +
        `<figure><img src="${uri}" alt="${escapeHtml(chart.alt)}">` +
        `<figcaption>PNG: <a href="${rel}.png">${rel}.png</a>, Vega-Lite specification: ` +
        `<a href="${rel}.vl.json">${rel}.vl.json</a></figcaption></figure>\n</section>`,
    );
  }
  for (const s of sections) parts.push(`<section>\n<h2>${escapeHtml(s.heading)}</h2>\n${s.body}\n</section>`);
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${intro}
${parts.join("\n")}
</body>
</html>
`;
  const htmlPath = join(folder, REPORT_FILES.html);
  await writeFileAtomic(join(dir, REPORT_FILES.data), JSON.stringify(data, nanToNull, 2) + "\n");
  await writeFileAtomic(htmlPath, html);
  return { html: htmlPath, png };
}

function nanToNull(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? null : value;
}

function table(head: string[], rows: (string | number)[][]): string {
  const cell = (v: string | number, tag: string) => `<${tag}>${escapeHtml(String(v))}</${tag}>`;
  return `<table>\n<tr>${head.map((h) => cell(h, "th")).join("")}</tr>\n` +
    rows.map((r) => `<tr>${r.map((v) => cell(v, "td")).join("")}</tr>`).join("\n") + "\n</table>";
}

// ---------------------------------------------------------------------------------------------------
// The run report

/**
 * Writes a run folder's report: `report.html` (self-contained) and, in `report/`, a PNG and the
 * Vega-Lite specification of every chart and `report.json` with the numbers shown (see the module
 * documentation for the charts). The model figures use the `best` checkpoint by default.
 *
 * @example Report a tiny run
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { resolveConfig } from "./config.ts";
 * import { trainRun } from "./run.ts";
 * import { writeRunReport } from "./report.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const config = await resolveConfig({
 *   preset: "synthetic",
 *   overrides: [
 *     "backend=cpu",
 *     "model.backbone=tiny",
 *     "data.size=16",
 *     "data.synthetic.count=30",
 *     "data.synthetic.size=16",
 *     `data.synthetic.cacheDir=${JSON.stringify(join(dir, "cache"))}`,
 *     "trainer.batchSize=8",
 *     "trainer.epochs=1",
 *   ],
 * });
 * const { runDir } = await trainRun(config, { runDir: join(dir, "run"), progress: false, log: () => {}, report: false });
 * const report = await writeRunReport(runDir);
 * assert.ok((await Deno.readTextFile(report.html)).startsWith("<!DOCTYPE html>"));
 * assert.equal(report.figures.testImages.evaluated, 6);
 * assert.ok("curves" in report.png && "confusion" in report.png);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeRunReport(runDir: string, options: RunReportOptions = {}): Promise<RunReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const runConfig = await readRunConfig(runDir); // first: a folder that is no run folder says so
  const history = await readHistory(runDir);
  // The backend first: the model's weights are then created on it.
  const run = await loadRun(runDir, options.checkpoint ?? "best", {
    backend: options.backend === null ? undefined : options.backend ?? runConfig.backend,
  });
  try {
    const { config, classNames } = run;
    const C = classNames.length;
    const dual = (run.model.branchNames ?? BRANCHES).length === 2;
    const data = await openRunData(config);
    const maxTest = options.maxTestImages ?? 2000;
    const testIdx = evenlySpaced(data.test.size, maxTest);
    const test = testIdx.length === data.test.size ? data.test : subset(data.test, testIdx);
    log(`report: evaluating ${test.size} test images`);
    const outputs = await gatherOutputs(run, test, { tenCrop: config.data.testCrops === 10, dual });
    const predictions = argmaxRows(outputs.pred, C);
    const cr = classificationReport(outputs.labels, predictions, C);
    const confusions: Confusion[] = [];
    cr.confusion.forEach((row, i) => {
      const n = row.reduce((a, b) => a + b, 0);
      row.forEach((count, j) => {
        if (i !== j && count > 0) {
          confusions.push({ true: classNames[i], predicted: classNames[j], count, rate: count / n });
        }
      });
    });
    confusions.sort((a, b) => b.count - a.count || b.rate - a.rate);
    const figures: RunReportFigures = {
      run: basename(runDir),
      checkpoint: basename(run.checkpointPath),
      epoch: run.epoch,
      epochs: history.length,
      classNames,
      testImages: { evaluated: outputs.labels.length, total: data.test.size },
      accuracy: cr.accuracy,
      meanClassAccuracy: cr.meanClassAccuracy,
      perClassAccuracy: cr.perClassAccuracy.map((a) => (Number.isNaN(a) ? null : a)),
      confusion: cr.confusion,
      topConfusions: confusions.slice(0, 5),
    };
    const charts: PageChart[] = [];
    const last = history.at(-1);
    const best = history.reduce<EpochMetrics | undefined>(
      (
        b,
        m,
      ) => (num(m.testAccuracy) !== null && (b === undefined || m.testAccuracy! > b.testAccuracy!) ? m : b),
      undefined,
    );

    // Learning curves.
    charts.push({
      name: "curves",
      heading: "Learning curves",
      alt: "learning curves per epoch",
      text: `<p>${history.length} epochs. Last epoch: loss ${fixed(last?.loss?.total)} (cross-entropy ` +
        `${fixed(last?.loss?.ce)}, KL ${fixed(last?.loss?.kl)}, rank regulariser ${
          fixed(last?.loss?.rr)
        }), ` +
        `alpha1 ${fixed(last?.alpha1, 2)}, alpha2 ${fixed(last?.alpha2, 2)}, lr ${
          last?.lr?.toExponential(2) ?? "-"
        }, ` +
        `train accuracy ${pct(last?.trainAccuracy)}, test accuracy ${pct(last?.testAccuracy)}, mean class ` +
        `accuracy ${pct(last?.testMeanClassAccuracy)}. Best test accuracy ${pct(best?.testAccuracy)}` +
        `${best ? ` at epoch ${best.epoch}` : ""}.</p>`,
      spec: curvesSpec(curveRows(history, classNames)),
    });

    // Confusion matrix.
    const cells = cr.confusion.flatMap((row, i) => {
      const n = row.reduce((a, b) => a + b, 0);
      return row.map((count, j) => ({
        true: classNames[i],
        predicted: classNames[j],
        count,
        rate: n ? count / n : 0,
      }));
    });
    const perClass = classNames.map((name, j) => ({
      class: name,
      accuracy: figures.perClassAccuracy[j],
      count: cr.confusion[j].reduce((a, b) => a + b, 0),
    }));
    const subsetNote = outputs.labels.length < data.test.size
      ? ` (${outputs.labels.length} of the ${data.test.size} test images, evenly spaced)`
      : ` (all ${data.test.size} test images)`;
    charts.push({
      name: "confusion",
      heading: "Confusion matrix and per-class accuracy",
      alt: "confusion matrix and per-class accuracy",
      text: `<p>Checkpoint ${escapeHtml(figures.checkpoint)} (epoch ${run.epoch})${subsetNote}: accuracy ` +
        `${pct(cr.accuracy)}, mean class accuracy ${pct(cr.meanClassAccuracy)}. ` +
        (confusions.length
          ? `Most frequent confusions: ${
            confusions.slice(0, 5).map((c) =>
              `${escapeHtml(c.true)} as ${escapeHtml(c.predicted)} ${c.count} (${pct(c.rate, 0)})`
            ).join(", ")
          }.`
          : "No confusions.") +
        `</p>`,
      spec: confusionSpec(cells, perClass, classNames),
    });

    // Attention per class.
    if (dual && outputs.w) {
      const stats = classStats(outputs.w, outputs.labels, classNames);
      figures.attentionPerClass = stats;
      const rows: AttentionRow[] = outputs.w.map((w, i) => ({ class: classNames[outputs.labels[i]], w }));
      charts.push({
        name: "attention",
        heading: "Attention weights per class",
        alt: "attention weights per class",
        text:
          `<p>The averaged attention weight w = (a1 + a2) / 2 of each test image, by true class. Mean per ` +
          `class: ${
            stats.filter((s) => s.count).map((s) => `${escapeHtml(s.class)} ${fixed(s.mean)}`).join(", ")
          }.</p>`,
        spec: attentionSpec(rows, classNames),
      });
    }

    // Clean against flipped training labels.
    if (dual && config.data.labelNoise > 0 && data.flipped.length > 0) {
      const flipped = new Set(data.flipped);
      const trainIdx = evenlySpaced(data.train.size, options.maxNoiseImages ?? 2000);
      log(`report: measuring the attention of ${trainIdx.length} training images (label noise)`);
      const noisy = await gatherOutputs(run, subset(data.train, trainIdx), { tenCrop: false, dual });
      const rows: NoiseRow[] = noisy.indices.map((k, i) => ({
        group: flipped.has(trainIdx[k]) ? "flipped" : "clean",
        w: noisy.w![i],
      }));
      const clean = rows.filter((r) => r.group === "clean").map((r) => r.w);
      const bad = rows.filter((r) => r.group === "flipped").map((r) => r.w);
      const auc = rocAuc(clean, bad);
      const cached = await readJson<RunLabelNoise>(join(runDir, RUN_FILES.noiseReport));
      const mean = (xs: number[]) => (xs.length ? summarize(xs).mean : NaN);
      figures.labelNoise = {
        images: rows.length,
        clean: clean.length,
        flipped: bad.length,
        attentionClean: mean(clean),
        attentionFlipped: mean(bad),
        auc,
        ...(cached?.report
          ? {
            cachedAuc: {
              auc: cached.report.attentionAuc,
              checkpoint: basename(cached.checkpoint),
              epoch: cached.epoch,
            },
          }
          : {}),
      };
      const ln = figures.labelNoise;
      const subtitle = `AUC ${fixed(auc)} (w ranking clean above flipped; 0.5: blind to the noise), ` +
        `${bad.length} flipped and ${clean.length} clean images`;
      if (clean.length && bad.length) {
        charts.push({
          name: "label-noise",
          heading: "Attention of clean and flipped training labels",
          alt: "attention weights of clean and flipped training images",
          text: `<p>${Math.round(100 * config.data.labelNoise)}% of the training labels were flipped. On ` +
            `${rows.length} training images (checkpoint ${escapeHtml(figures.checkpoint)}), mean w: clean ` +
            `${fixed(ln.attentionClean)}, flipped ${fixed(ln.attentionFlipped)}; ROC AUC ${fixed(auc)}.` +
            (ln.cachedAuc
              ? ` ${RUN_FILES.noiseReport} (whole training split, ${
                escapeHtml(ln.cachedAuc.checkpoint)
              }, epoch ` +
                `${ln.cachedAuc.epoch}): AUC ${fixed(ln.cachedAuc.auc)}.`
              : "") +
            `</p>`,
          spec: noiseSpec(rows, subtitle),
        });
      }
    }

    // Class distributions over epochs.
    const shown = pickEpochs(history, 12);
    if (shown.length) {
      const rows: ClassDistributionRow[] = shown.flatMap((m) =>
        m.classDistributions.flatMap((row, i) =>
          row.map((value, j) => ({ epoch: m.epoch, class: classNames[i], to: classNames[j], value }))
        )
      );
      const lastC = shown.at(-1)!.classDistributions;
      const diag = lastC.map((row, i) => row[i]);
      charts.push({
        name: "class-distributions",
        heading: "Class distributions c' over epochs",
        alt: "class distributions per epoch",
        text: `<p>The class distributions mined at the end of ${
          shown.length < history.length ? `${shown.length} of the ${history.length} epochs` : "each epoch"
        }. After epoch ${shown.at(-1)!.epoch}, mass each class keeps on itself: ${
          diag.map((d, i) => `${escapeHtml(classNames[i])} ${fixed(d, 2)}`).join(", ")
        }.</p>`,
        spec: classDistributionsSpec(rows, classNames),
      });
    }

    // Embedding of the target features.
    const embedIdx = evenlySpaced(test.size, options.maxEmbeddingImages ?? 400);
    if (embedIdx.length >= 5) {
      log(`report: embedding the target features of ${embedIdx.length} test images (UMAP)`);
      const feats = await targetFeatures(run, subset(test, embedIdx));
      const xy = await embed(feats.features, config.seed);
      const predictedOf = new Map<number, number>();
      outputs.indices.forEach((k, i) => predictedOf.set(k, predictions[i]));
      figures.embedding = { method: "UMAP", images: xy.length };
      charts.push({
        name: "embedding",
        heading: "Embedding of the target branch's test features",
        alt: "UMAP embedding of test features",
        text:
          `<p>UMAP (umap-js, 15 neighbours, seed ${config.seed}) of the pooled target-branch features of ` +
          `${xy.length} test images.</p>`,
        spec: embeddingSpec(
          xy.map(([x, y], i) => ({
            x,
            y,
            class: classNames[feats.labels[i]],
            correct: predictedOf.get(embedIdx[feats.indices[i]]) === feats.labels[i],
          })),
          classNames,
          "UMAP",
        ),
      });
    }

    // Figure 1: distributions of clear and ambiguous faces.
    if (outputs.gt) {
      const picks = pickFaces(outputs, C, options.figureFaces ?? DEFAULT_FIGURE_FACES);
      const faces: FigureFace[] = [];
      const samples: FigureSample[] = [];
      for (const { kind, row } of picks) {
        const slice = (values: number[] | undefined) =>
          values ? Array.from(values.slice(row * C, (row + 1) * C)) : undefined;
        const distributions: Record<string, number[] | undefined> = {
          "ground truth": slice(outputs.gt),
          prediction: slice(outputs.pred),
          "label l_i": slice(outputs.label),
          "class c'_y": slice(outputs.cls),
          "fused f_i": slice(outputs.fused),
        };
        const present = Object.fromEntries(
          Object.entries(distributions).filter(([, v]) => v !== undefined),
        ) as Record<string, number[]>;
        const index = testIdx[outputs.indices[row]];
        const face: FigureFace = {
          kind,
          index,
          label: classNames[outputs.labels[row]],
          predicted: classNames[predictions[row]],
          entropy: entropy(outputs.gt, row * C, C),
          distributions: present,
        };
        faces.push(face);
        samples.push({
          title: `${kind} (test #${index}): label ${face.label}, predicted ${face.predicted}`,
          image: await faceDataUri(test, outputs.indices[row]),
          rows: Object.entries(present).flatMap(([distribution, p]) =>
            p.map((v, j) => ({ class: classNames[j], distribution, p: v }))
          ),
        });
      }
      figures.figure1 = faces;
      charts.push({
        name: "figure1",
        heading: "Distributions of clear and ambiguous faces",
        alt: "faces with their predicted, label, class and fused distributions against the ground truth",
        text: `<p>The ${faces.filter((f) => f.kind === "clear").length} test faces with the most peaked ` +
          `ground-truth distribution (clear) and the ${faces.filter((f) => f.kind === "ambiguous").length} ` +
          `with the flattest (ambiguous), with the target branch's prediction` +
          (dual
            ? ", the label distribution l_i (auxiliary branch), the class distribution c'_y of their label " +
              "and the fused distribution f_i"
            : "") +
          `.</p>` +
          table(
            ["face", "label", "predicted", "ground-truth entropy", ...(dual ? ["KL(gt || f_i)"] : [])],
            faces.map((f) => [
              `${f.kind} #${f.index}`,
              f.label,
              f.predicted,
              fixed(f.entropy),
              ...(dual ? [fixed(klDiv(f.distributions["ground truth"], f.distributions["fused f_i"]))] : []),
            ]),
          ),
        spec: figure1Spec(samples, classNames),
      });
    }

    const summary = await readJson<Record<string, unknown>>(join(runDir, RUN_FILES.summary));
    const intro =
      `<p class="meta">${escapeHtml(config.data.dataset)}, backbone ${escapeHtml(config.model.backbone)}, ` +
      `method ${escapeHtml(pluginName(config.method.distribution))}, seed ${config.seed}, ` +
      `${history.length} of ${config.trainer.epochs} epochs` +
      (config.data.labelNoise > 0 ? `, ${Math.round(100 * config.data.labelNoise)}% label noise` : "") +
      (summary
        ? `; best test accuracy ${pct(num(summary.bestAccuracy))} (epoch ${
          num(summary.bestEpoch) ?? "-"
        }), ` +
          `last ${pct(num(summary.lastAccuracy))}`
        : "") +
      `. Model figures: checkpoint ${escapeHtml(figures.checkpoint)} (epoch ${run.epoch}).</p>`;
    const sections: PageSection[] = [
      {
        heading: "Per-class test accuracy",
        body: table(
          ["class", "test images", "accuracy", ...(figures.attentionPerClass ? ["mean attention w"] : [])],
          classNames.map((name, j) => [
            name,
            perClass[j].count,
            pct(figures.perClassAccuracy[j]),
            ...(figures.attentionPerClass ? [fixed(figures.attentionPerClass[j].mean)] : []),
          ]),
        ),
      },
      { heading: "Configuration", body: `<pre>${escapeHtml(configToYaml(config))}</pre>` },
    ];
    const page = await writePage(
      runDir,
      `Run report: ${basename(runDir)}`,
      intro,
      charts,
      sections,
      figures,
    );
    return { ...page, figures, seconds: (performance.now() - started) / 1000 };
  } finally {
    run.model.dispose();
  }
}

function klDiv(p: number[] | undefined, q: number[] | undefined): number {
  if (!p || !q) return NaN;
  let s = 0;
  for (let j = 0; j < p.length; j++) if (p[j] > 0) s += p[j] * Math.log(p[j] / Math.max(q[j], 1e-8));
  return s;
}

/**
 * Writes a run's report at the end of training; a failure is printed as a warning and does not fail
 * the run. Returns the page's path, or null when it failed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reportAfterRun } from "./report.ts";
 * const dir = await Deno.makeTempDir();
 * const warnings: string[] = [];
 * assert.equal(await reportAfterRun(dir, { warn: (line) => warnings.push(line) }), null);
 * assert.match(warnings[0], /is not a run folder/);
 * await Deno.remove(dir);
 * ```
 */
export async function reportAfterRun(
  runDir: string,
  options: { log?: (line: string) => void; warn?: (line: string) => void } = {},
): Promise<string | null> {
  const warn = options.warn ?? ((line: string) => console.warn(line));
  try {
    const report = await writeRunReport(runDir, { backend: null });
    options.log?.(`report: ${report.html} (${report.seconds.toFixed(1)} s)`);
    return report.html;
  } catch (error) {
    warn(
      `warning: the report of ${runDir} could not be written: ${
        error instanceof Error ? error.message : error
      }`,
    );
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------
// The ablation report

/** The results an ablation's page is drawn from (those its `results.md` tables are built from). */
export interface AblationResults {
  /** The ablation: its name and its variants (in table order). */
  ablation: Pick<Ablation, "name" | "variants">;
  /** Every run, in variant and seed order. */
  runs: AblationRun[];
  /** The label-noise measurements of the runs trained with label noise. */
  noise?: AblationNoiseRun[];
}

/** What {@linkcode writeAblationReport} wrote. */
export interface AblationPage {
  /** The page. */
  html: string;
  /** The PNG of every chart, by chart name. */
  png: Record<string, string>;
}

/** The longest common prefix of names, cut back to a whole word. */
function commonName(names: string[]): string {
  if (names.length === 1) return names[0];
  let prefix = names[0];
  for (const n of names) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  if (!names.every((n) => n === prefix || /[\s,;:(]/.test(n[prefix.length] ?? " "))) {
    prefix = prefix.replace(/[^\s,;:(]*$/, "");
  }
  return prefix.replace(/[\s,;:(\-]+$/, "");
}

/**
 * Writes an ablation's report into its output folder: `report.html` (self-contained) and, in `report/`,
 * the charts' PNGs and Vega-Lite specifications: best, last and mean class test accuracy per variant (mean
 * over seeds, ± sample std as error bars, each seed as a dot), grouped by training label noise where
 * variants differ in `data.labelNoise`, and the attention AUC of the noisy variants.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG } from "./config.ts";
 * import { writeAblationReport } from "./report.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const variants = [{ name: "baseline", set: { "method.distribution": "onehot" } }, { name: "Ada-DF", set: {} }];
 * const runs = variants.flatMap((v, k) =>
 *   [0, 1].map((seed) => ({
 *     variant: v.name,
 *     seed,
 *     runDir: `${dir}/${v.name}-seed${seed}`,
 *     config: DEFAULT_CONFIG,
 *     bestAccuracy: 0.5 + 0.1 * k + 0.01 * seed,
 *     lastAccuracy: 0.5 + 0.1 * k,
 *     lastMeanClassAccuracy: 0.45 + 0.1 * k,
 *   }))
 * );
 * const page = await writeAblationReport(dir, { ablation: { name: "demo", variants }, runs });
 * assert.match(await Deno.readTextFile(page.html), /Ada-DF/);
 * assert.ok("accuracy" in page.png);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeAblationReport(
  outputDir: string,
  results: AblationResults,
): Promise<AblationPage> {
  const { ablation, runs } = results;
  const noise = results.noise ?? [];
  const noiseOf = (variant: string) => runs.find((r) => r.variant === variant)?.config.data.labelNoise ?? 0;
  const levels = [...new Set(ablation.variants.map((v) => noiseOf(v.name)))].sort((a, b) => a - b);
  const byNoise = levels.length > 1;
  const noiseLabel = (x: number) => (x > 0 ? `${Math.round(100 * x)}%` : "none");
  // Variants that differ only in their noise level share a method (a colour).
  const keyOf = (v: Ablation["variants"][number]) =>
    JSON.stringify(Object.entries(v.set).filter(([k]) => k !== "data.labelNoise").sort());
  const groups = new Map<string, string[]>();
  for (const v of ablation.variants) groups.set(keyOf(v), [...(groups.get(keyOf(v)) ?? []), v.name]);
  const methodOf = new Map<string, string>();
  for (const names of groups.values()) {
    const name = byNoise ? commonName(names) || names[0] : "";
    for (const n of names) methodOf.set(n, byNoise ? name : n);
  }
  const methods = [...new Set(ablation.variants.map((v) => methodOf.get(v.name)!))];
  const rows: AblationRow[] = runs.flatMap((r) =>
    (
      [
        ["best accuracy", r.bestAccuracy],
        ["last accuracy", r.lastAccuracy],
        ["last mean class accuracy", r.lastMeanClassAccuracy],
      ] as const
    ).filter(([, v]) => Number.isFinite(v)).map(([metric, value]) => ({
      variant: r.variant,
      method: methodOf.get(r.variant) ?? r.variant,
      noise: noiseLabel(r.config.data.labelNoise),
      seed: r.seed,
      metric,
      value,
    }))
  );
  const noises = levels.map(noiseLabel);
  const charts: PageChart[] = [{
    name: "accuracy",
    heading: "Test accuracy per variant",
    alt: "test accuracy per variant with error bars over seeds",
    text:
      `<p>${runs.length} runs. Squares: mean over seeds; error bars: ± one sample standard deviation; dots: ` +
      `the seeds${byNoise ? "; grouped by the fraction of flipped training labels" : ""}.</p>`,
    spec: ablationSpec(rows, { title: ablation.name, percent: true, byNoise, methods, noises }),
  }];
  if (noise.length) {
    const aucRows: AblationRow[] = noise.map((n) => ({
      variant: n.variant,
      method: methodOf.get(n.variant) ?? n.variant,
      noise: noiseLabel(noiseOf(n.variant)),
      seed: n.seed,
      metric: "attention AUC (clean vs flipped)",
      value: n.report.attentionAuc,
    })).filter((r) => Number.isFinite(r.value));
    if (aucRows.length) {
      charts.push({
        name: "label-noise",
        heading: "Attention AUC of clean against flipped training labels",
        alt: "attention AUC per variant",
        text: "<p>How well the attention weight w ranks clean training images above flipped ones, at each " +
          "run's last checkpoint (0.5: blind to the noise).</p>",
        spec: ablationSpec(aucRows, {
          title: "attention AUC",
          percent: false,
          byNoise,
          methods: methods.filter((m) => aucRows.some((r) => r.method === m)),
          noises: noises.filter((n) => aucRows.some((r) => r.noise === n)),
        }),
      });
    }
  }
  const stat = (xs: number[]) => {
    const s = summarize(xs);
    return { mean: s.mean, std: xs.length > 1 ? s.std * Math.sqrt(xs.length / (xs.length - 1)) : 0 };
  };
  const pm = (xs: number[]) => {
    const finite = xs.filter(Number.isFinite);
    if (!finite.length) return "-";
    const s = stat(finite);
    return `${(100 * s.mean).toFixed(2)} ± ${(100 * s.std).toFixed(2)}`;
  };
  const summaryRows = ablation.variants.map((v) => {
    const mine = runs.filter((r) => r.variant === v.name);
    return [
      v.name,
      noiseLabel(noiseOf(v.name)),
      mine.length,
      pm(mine.map((r) => r.bestAccuracy)),
      pm(mine.map((r) => r.lastAccuracy)),
      pm(mine.map((r) => r.lastMeanClassAccuracy)),
    ];
  });
  const runLinks = await Promise.all(runs.map(async (r) => {
    const page = join(r.runDir, REPORT_FILES.html);
    const exists = await Deno.stat(page).then((s) => s.isFile, () => false);
    const rel = relative(outputDir, page);
    return `<tr><td>${escapeHtml(r.variant)}</td><td>${r.seed}</td><td>${pct(r.bestAccuracy, 2)}</td>` +
      `<td>${pct(r.lastAccuracy, 2)}</td><td>${pct(r.lastMeanClassAccuracy, 2)}</td><td>${
        exists
          ? `<a href="${escapeHtml(rel)}">${escapeHtml(relative(outputDir, r.runDir))}</a>`
          : escapeHtml(r.runDir)
      }</td></tr>`;
  }));
  const sections: PageSection[] = [
    {
      heading: "Per variant",
      body: "<p>Test accuracy in percent, mean ± sample std over seeds.</p>" +
        table(["variant", "label noise", "runs", "best", "last", "last mean class"], summaryRows),
    },
    {
      heading: "Runs",
      body: `<table>\n<tr><th>variant</th><th>seed</th><th>best</th><th>last</th><th>last mean class</th>` +
        `<th>run (its report)</th></tr>\n${runLinks.join("\n")}\n</table>`,
    },
  ];
  const seeds = [...new Set(runs.map((r) => r.seed))];
  return await writePage(
    outputDir,
    `Ablation report: ${ablation.name}`,
    `<p class="meta">${ablation.variants.length} variants, seeds ${seeds.join(", ")}` +
      `${byNoise ? `, label noise ${noises.join(", ")}` : ""}.</p>`,
    charts,
    sections,
    {
      name: ablation.name,
      variants: ablation.variants.map((v) => v.name),
      methods: Object.fromEntries(methodOf),
      runs: runs.map(({ config: _c, ...r }) => ({ ...r, labelNoise: _c.data.labelNoise })),
      noise,
    },
  );
}

/**
 * Writes an ablation's report after its `results.md` (what `deno task ablate` does); a failure is printed
 * as a warning and does not fail the ablation. Returns the page's path, or null when it failed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reportAfterAblation } from "./report.ts";
 * const dir = await Deno.makeTempDir();
 * const warnings: string[] = [];
 * const results = { ablation: { name: "empty", variants: [] }, runs: [] };
 * const page = await reportAfterAblation(dir, results, { warn: (line) => warnings.push(line) });
 * assert.ok(page === null ? warnings.length === 1 : page.endsWith("report.html"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function reportAfterAblation(
  outputDir: string,
  results: AblationResults,
  options: { log?: (line: string) => void; warn?: (line: string) => void } = {},
): Promise<string | null> {
  const warn = options.warn ?? ((line: string) => console.warn(line));
  try {
    const page = await writeAblationReport(outputDir, results);
    options.log?.(`report: ${page.html}`);
    return page.html;
  } catch (error) {
    warn(
      `warning: the ablation report in ${outputDir} could not be written: ${
        error instanceof Error ? error.message : error
      }`,
    );
    return null;
  }
}
