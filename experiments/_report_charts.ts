/**
 * The charts of the run and ablation reports as Vega-Lite specifications, and their headless rendering:
 * Vega-Lite compiles a specification to Vega, Vega renders it to SVG without a canvas, and sharp turns
 * the SVG into a PNG. Every builder takes plain rows, so that the specifications can be checked (and
 * opened in any Vega-Lite editor) apart from the run they come from.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";
import type { TopLevelSpec } from "vega-lite";

/** A Vega-Lite specification as the report builds them. */
export type ChartSpec = TopLevelSpec;

/** A rendered chart. */
export interface RenderedChart {
  /** The chart as a standalone SVG document. */
  svg: string;
  /** The same chart as a PNG (twice the SVG's resolution). */
  png: Uint8Array;
}

/** The look of every chart: no ARIA labels (they would repeat embedded images), a common font. */
const CONFIG = {
  aria: false,
  font: "DejaVu Sans, Liberation Sans, Arial, sans-serif",
  view: { continuousWidth: 260, continuousHeight: 170 },
  legend: { labelLimit: 260 },
} as const;

/**
 * Renders a Vega-Lite specification headless: compiled with `vega-lite`, rendered to SVG by `vega`
 * (no canvas needed), and rasterised to PNG by sharp.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import sharp from "sharp";
 * import { renderChart } from "./_report_charts.ts";
 * const { svg, png } = await renderChart({
 *   data: { values: [{ x: 1, y: 2 }, { x: 2, y: 3 }] },
 *   mark: "line",
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
 * });
 * assert.match(svg, /^<svg/);
 * assert.equal((await sharp(png).metadata()).format, "png");
 * ```
 */
export async function renderChart(spec: ChartSpec): Promise<RenderedChart> {
  // Loaded on first use: together they take longer to import than the rest of the library.
  const [vega, { compile }] = await Promise.all([import("vega"), import("vega-lite")]);
  const withConfig = { ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as ChartSpec;
  const compiled = compile(withConfig).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Warn });
  try {
    const svg = await view.toSVG();
    // A palette PNG (quantised with the least effort) is a third of a true-colour one, and as sharp.
    const png = await sharp(Buffer.from(svg), { density: 144 }).png({ palette: true, effort: 1 }).toBuffer();
    return { svg, png: new Uint8Array(png) };
  } finally {
    view.finalize();
  }
}

/** A value of a series at an epoch (long format: one row per epoch, panel and series). */
export interface CurveRow {
  /** Epoch, from 1. */
  epoch: number;
  /** The panel it is drawn in. */
  panel: string;
  /** The line within the panel. */
  series: string;
  /** Its value (null: not measured that epoch). */
  value: number | null;
}

/** The panels of the learning-curve chart, in drawing order, with their y axis titles. */
export const CURVE_PANELS: readonly { panel: string; title: string; percent?: boolean; log?: boolean }[] = [
  { panel: "loss", title: "loss terms (mean over the epoch's batches)" },
  { panel: "weights", title: "loss weights alpha1 (KL), alpha2 (CE)" },
  { panel: "lr", title: "learning rate", log: true },
  { panel: "accuracy", title: "accuracy", percent: true },
  { panel: "per-class", title: "test accuracy per class", percent: true },
  { panel: "attention", title: "mean attention w per class (training)" },
];

/**
 * The learning curves: loss terms, alpha1/alpha2, learning rate, train/test/mean class accuracy,
 * per-class test accuracy and mean attention per class, each against the epoch, in a grid of panels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { curvesSpec } from "./_report_charts.ts";
 * const spec = curvesSpec([{ epoch: 1, panel: "loss", series: "ce", value: 1.9 }]);
 * assert.ok("concat" in spec);
 * ```
 */
export function curvesSpec(rows: CurveRow[]): ChartSpec {
  const panels = CURVE_PANELS.filter((p) => rows.some((r) => r.panel === p.panel && r.value !== null));
  return {
    title: "Learning curves",
    data: { values: rows.filter((r) => r.value !== null) },
    columns: 3,
    concat: panels.map((p) => ({
      title: p.title,
      transform: [{ filter: { field: "panel", equal: p.panel } }],
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "epoch", type: "quantitative", axis: { tickMinStep: 1 }, title: "epoch" },
        y: {
          field: "value",
          type: "quantitative",
          title: null,
          ...(p.log ? { scale: { type: "log" } } : {}),
          ...(p.percent ? { axis: { format: ".0%" } } : {}),
        },
        color: {
          field: "series",
          type: "nominal",
          title: null,
          sort: null,
          // One line needs no legend.
          ...(new Set(rows.filter((r) => r.panel === p.panel).map((r) => r.series)).size === 1
            ? { legend: null }
            : {}),
        },
        tooltip: [
          { field: "series", type: "nominal" },
          { field: "epoch", type: "quantitative" },
          { field: "value", type: "quantitative", format: ".4g" },
        ],
      },
    })),
    resolve: { scale: { color: "independent", y: "independent" }, legend: { color: "independent" } },
  } as ChartSpec;
}

/** One cell of a confusion matrix. */
export interface ConfusionRow {
  /** True class. */
  true: string;
  /** Predicted class. */
  predicted: string;
  /** Test images of `true` predicted as `predicted`. */
  count: number;
  /** `count` over the images of `true` (the row-normalised matrix). */
  rate: number;
}

/** Per-class accuracy of the confusion chart. */
export interface ClassAccuracyRow {
  /** Class name. */
  class: string;
  /** Test accuracy of the class (null: no test image of the class). */
  accuracy: number | null;
  /** Test images of the class. */
  count: number;
}

function heatmap(
  classNames: readonly string[],
  title: string,
  value: "count" | "rate",
): Record<string, unknown> {
  const format = value === "rate" ? ".0%" : "d";
  return {
    title,
    width: 24 * classNames.length,
    height: 24 * classNames.length,
    encoding: {
      x: { field: "predicted", type: "nominal", sort: classNames, title: "predicted" },
      y: { field: "true", type: "nominal", sort: classNames, title: "true class" },
    },
    layer: [
      {
        mark: "rect",
        encoding: {
          color: {
            field: value,
            type: "quantitative",
            scale: { scheme: "blues", ...(value === "rate" ? { domain: [0, 1] } : {}) },
            title: value === "rate" ? "share of the row" : "images",
            ...(value === "rate" ? { legend: { format: ".0%" } } : {}),
          },
        },
      },
      {
        mark: { type: "text", fontSize: 9 },
        transform: [{ filter: `datum.count > 0` }],
        encoding: {
          text: { field: value, type: "quantitative", format },
          color: { condition: { test: `datum.rate > 0.5`, value: "white" }, value: "black" },
        },
      },
    ],
  };
}

/**
 * The confusion matrix (counts and row-normalised) beside the per-class accuracy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { confusionSpec } from "./_report_charts.ts";
 * const spec = confusionSpec(
 *   [{ true: "a", predicted: "a", count: 3, rate: 1 }],
 *   [{ class: "a", accuracy: 1, count: 3 }],
 *   ["a"],
 * );
 * assert.ok("hconcat" in spec);
 * ```
 */
export function confusionSpec(
  cells: ConfusionRow[],
  perClass: ClassAccuracyRow[],
  classNames: readonly string[],
): ChartSpec {
  return {
    title: "Test confusion matrix and per-class accuracy",
    hconcat: [
      { data: { values: cells }, ...heatmap(classNames, "counts", "count") },
      { data: { values: cells }, ...heatmap(classNames, "row-normalised", "rate") },
      {
        title: "per-class accuracy",
        data: { values: perClass.filter((r) => r.accuracy !== null) },
        width: 200,
        height: 24 * classNames.length,
        mark: "bar",
        encoding: {
          y: { field: "class", type: "nominal", sort: classNames, title: null },
          x: {
            field: "accuracy",
            type: "quantitative",
            scale: { domain: [0, 1] },
            axis: { format: ".0%" },
            title: "accuracy",
          },
          tooltip: [{ field: "class" }, { field: "accuracy", format: ".1%" }, { field: "count" }],
        },
      },
    ],
    resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
  } as ChartSpec;
}

/** An attention weight of one image. */
export interface AttentionRow {
  /** The image's class (its label). */
  class: string;
  /** Its averaged attention weight w = (a_1 + a_2) / 2. */
  w: number;
}

/**
 * The attention weights' distribution per class (box plots over the test images, by true class).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionSpec } from "./_report_charts.ts";
 * const spec = attentionSpec([{ class: "a", w: 0.7 }, { class: "a", w: 0.8 }], ["a"]);
 * assert.equal(JSON.stringify(spec).includes("boxplot"), true);
 * ```
 */
export function attentionSpec(rows: AttentionRow[], classNames: readonly string[]): ChartSpec {
  return {
    title: `Attention weights w per class (${rows.length} test images)`,
    data: { values: rows },
    width: 36 * classNames.length,
    height: 200,
    mark: { type: "boxplot", extent: "min-max" },
    encoding: {
      x: { field: "class", type: "nominal", sort: classNames, title: "true class" },
      y: { field: "w", type: "quantitative", title: "w = (a1 + a2) / 2", scale: { zero: false } },
      color: { field: "class", type: "nominal", sort: classNames, legend: null },
    },
  } as ChartSpec;
}

/** A training image's attention weight, clean or with a flipped label. */
export interface NoiseRow {
  /** `clean` or `flipped`. */
  group: "clean" | "flipped";
  /** Its attention weight w. */
  w: number;
}

/**
 * The attention weights of clean against flipped training images (kernel density per group), with the
 * ROC AUC of w as a clean-vs-flipped score in the title.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { noiseSpec } from "./_report_charts.ts";
 * const spec = noiseSpec([{ group: "clean", w: 0.8 }, { group: "flipped", w: 0.5 }], "AUC 1.000");
 * assert.match(JSON.stringify(spec), /AUC 1\.000/);
 * ```
 */
export function noiseSpec(rows: NoiseRow[], subtitle: string): ChartSpec {
  const values = rows.map((r) => r.w);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = Math.max((hi - lo) * 0.05, 1e-3);
  return {
    title: { text: "Attention weights of clean and flipped training labels", subtitle },
    data: { values: rows },
    width: 420,
    height: 200,
    transform: [{
      density: "w",
      groupby: ["group"],
      extent: [lo - pad, hi + pad],
      steps: 100,
    }],
    mark: { type: "area", opacity: 0.55, line: true },
    encoding: {
      x: { field: "value", type: "quantitative", title: "attention weight w", scale: { zero: false } },
      y: { field: "density", type: "quantitative", title: "density", stack: null },
      color: {
        field: "group",
        type: "nominal",
        title: null,
        scale: { domain: ["clean", "flipped"], range: ["#4c78a8", "#e45756"] },
      },
    },
  } as ChartSpec;
}

/** One entry c'_{ij} of the class distributions of an epoch. */
export interface ClassDistributionRow {
  /** Epoch, from 1. */
  epoch: number;
  /** The class i whose distribution it is. */
  class: string;
  /** The class j it gives mass to. */
  to: string;
  /** c'_{ij}. */
  value: number;
}

/**
 * The mined class distributions c' as small multiples, one heat map per (shown) epoch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classDistributionsSpec } from "./_report_charts.ts";
 * const spec = classDistributionsSpec([{ epoch: 1, class: "a", to: "a", value: 1 }], ["a"]);
 * assert.ok("facet" in spec);
 * ```
 */
export function classDistributionsSpec(
  rows: ClassDistributionRow[],
  classNames: readonly string[],
): ChartSpec {
  return {
    title: "Class distributions c' per epoch (row: class i, column: mass on class j)",
    data: { values: rows },
    columns: 4,
    facet: {
      field: "epoch",
      type: "ordinal",
      title: "epoch",
      header: { labelExpr: "'epoch ' + datum.label" },
    },
    spec: {
      width: 14 * classNames.length,
      height: 14 * classNames.length,
      mark: "rect",
      encoding: {
        x: { field: "to", type: "nominal", sort: classNames, title: null, axis: { labelAngle: -60 } },
        y: { field: "class", type: "nominal", sort: classNames, title: null },
        color: {
          field: "value",
          type: "quantitative",
          scale: { scheme: "viridis", domain: [0, 1] },
          title: "c'_ij",
        },
        tooltip: [{ field: "class" }, { field: "to" }, { field: "value", format: ".3f" }],
      },
    },
  } as ChartSpec;
}

/** A test image in the 2-D embedding. */
export interface EmbeddingRow {
  /** Embedding coordinates. */
  x: number;
  /** Embedding coordinates. */
  y: number;
  /** Its true class. */
  class: string;
  /** Whether the target branch predicts it right. */
  correct: boolean;
}

/**
 * The 2-D embedding of the target branch's test features, coloured by class (crosses: wrongly
 * predicted images).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingSpec } from "./_report_charts.ts";
 * const spec = embeddingSpec([{ x: 0, y: 1, class: "a", correct: true }], ["a"], "UMAP");
 * assert.match(JSON.stringify(spec), /UMAP/);
 * ```
 */
export function embeddingSpec(
  rows: EmbeddingRow[],
  classNames: readonly string[],
  method: string,
): ChartSpec {
  return {
    title: {
      text: `Target-branch test features (${rows.length} images), ${method}`,
      subtitle: "colour: true class; cross: predicted wrong",
    },
    data: { values: rows.map((r) => ({ ...r, outcome: r.correct ? "right" : "wrong" })) },
    width: 380,
    height: 320,
    mark: { type: "point", filled: true, size: 30, opacity: 0.8 },
    encoding: {
      x: { field: "x", type: "quantitative", axis: null, scale: { zero: false } },
      y: { field: "y", type: "quantitative", axis: null, scale: { zero: false } },
      color: { field: "class", type: "nominal", sort: classNames, title: "class" },
      shape: {
        field: "outcome",
        type: "nominal",
        scale: { domain: ["right", "wrong"], range: ["circle", "cross"] },
        title: "prediction",
      },
    },
  } as ChartSpec;
}

/** The distributions of one face of the Figure-1 chart. */
export interface FigureSample {
  /** Heading, e.g. `clear: Happiness`. */
  title: string;
  /** The face as a data URI. */
  image: string;
  /** One row per class and distribution. */
  rows: { class: string; distribution: string; p: number }[];
}

/** The distributions of the Figure-1 chart, in legend order. */
export const FIGURE_DISTRIBUTIONS: readonly string[] = [
  "ground truth",
  "prediction",
  "label l_i",
  "class c'_y",
  "fused f_i",
];

/**
 * The paper's Figure 1: for each face, the predicted, label, class and fused distributions against the
 * ground truth, beside the face.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { figure1Spec } from "./_report_charts.ts";
 * const spec = figure1Spec([{
 *   title: "clear: a",
 *   image: "data:image/png;base64,",
 *   rows: [{ class: "a", distribution: "ground truth", p: 1 }],
 * }], ["a"]);
 * assert.ok("concat" in spec);
 * ```
 */
export function figure1Spec(samples: FigureSample[], classNames: readonly string[]): ChartSpec {
  return {
    title: {
      text: "Distributions of clear and ambiguous test faces",
      subtitle: "ground truth against the prediction, label l_i, class c'_y and fused f_i distributions",
    },
    columns: 2,
    concat: samples.map((s) => ({
      title: { text: s.title, fontSize: 11, anchor: "start" },
      hconcat: [
        {
          data: { values: [{ url: s.image }] },
          width: 96,
          height: 96,
          mark: { type: "image", width: 96, height: 96, align: "left", baseline: "top" },
          encoding: { url: { field: "url", type: "nominal" }, x: { value: 0 }, y: { value: 0 } },
          view: { stroke: null },
        },
        {
          data: { values: s.rows },
          width: 30 * classNames.length,
          height: 110,
          mark: "bar",
          encoding: {
            x: {
              field: "class",
              type: "nominal",
              sort: classNames,
              title: null,
              axis: { labelAngle: -40 },
            },
            xOffset: { field: "distribution", type: "nominal", sort: FIGURE_DISTRIBUTIONS },
            y: { field: "p", type: "quantitative", scale: { domain: [0, 1] }, title: "probability" },
            color: {
              field: "distribution",
              type: "nominal",
              sort: FIGURE_DISTRIBUTIONS,
              scale: {
                domain: FIGURE_DISTRIBUTIONS,
                range: ["#222222", "#4c78a8", "#f58518", "#54a24b", "#e45756"],
              },
              title: null,
              legend: { orient: "top", direction: "horizontal" },
            },
          },
        },
      ],
    })),
  } as ChartSpec;
}

/** One run's value of an ablation chart. */
export interface AblationRow {
  /** Variant name. */
  variant: string;
  /** The variant without its noise level (its colour), or the variant itself without noise levels. */
  method: string;
  /** Training label noise, e.g. `20%` (or `none`). */
  noise: string;
  /** Seed. */
  seed: number;
  /** The measure, e.g. `best accuracy`. */
  metric: string;
  /** Its value. */
  value: number;
}

/**
 * An ablation's results: per measure, the mean over seeds as a square with the sample standard
 * deviation as error bars and each seed as a dot; variants grouped by noise level when there are several.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ablationSpec } from "./_report_charts.ts";
 * const spec = ablationSpec([
 *   { variant: "a", method: "a", noise: "none", seed: 0, metric: "best accuracy", value: 0.5 },
 * ], { title: "t", percent: true });
 * assert.ok("facet" in spec);
 * ```
 */
export function ablationSpec(
  rows: AblationRow[],
  options: { title: string; percent: boolean; byNoise?: boolean; methods?: string[]; noises?: string[] },
): ChartSpec {
  const methods = options.methods ?? [...new Set(rows.map((r) => r.method))];
  const metrics = [...new Set(rows.map((r) => r.metric))];
  const format = options.percent ? ".1%" : ".3f";
  const x = options.byNoise
    ? {
      field: "noise",
      type: "nominal",
      sort: options.noises ?? null,
      title: "training label noise",
      axis: { labelAngle: 0 },
    }
    : {
      field: "method",
      type: "nominal",
      sort: methods,
      title: null,
      axis: { labelAngle: -30, labelLimit: 220 },
    };
  const offset = options.byNoise ? { xOffset: { field: "method", type: "nominal", sort: methods } } : {};
  const color = { field: "method", type: "nominal", sort: methods, title: null };
  // Differences of a point or two matter here: the y axis starts near the data, so means are marks, not bars.
  const y = {
    field: "value",
    type: "quantitative",
    title: null,
    scale: { zero: false, padding: 8 },
    ...(options.percent ? { axis: { format: ".1%" } } : {}),
  };
  return {
    title: {
      text: options.title,
      subtitle: "squares: mean over seeds; error bars: ± one sample standard deviation; dots: the seeds",
    },
    data: { values: rows },
    facet: { column: { field: "metric", type: "nominal", sort: metrics, title: null } },
    spec: {
      width: options.byNoise
        ? 30 * (options.noises?.length ?? 1) * Math.max(2, methods.length)
        : Math.max(120, 36 * methods.length),
      height: 220,
      encoding: { x, ...offset },
      layer: [
        {
          mark: { type: "errorbar", extent: "stdev", ticks: { size: 8 }, thickness: 1.5 },
          encoding: { y, color },
        },
        {
          mark: { type: "point", shape: "square", filled: true, size: 70, opacity: 1 },
          encoding: {
            y: { ...y, aggregate: "mean" },
            color,
            tooltip: [
              { field: "method", type: "nominal" },
              { aggregate: "mean", field: "value", type: "quantitative", format, title: "mean" },
              { aggregate: "stdev", field: "value", type: "quantitative", format, title: "std" },
              { aggregate: "count", type: "quantitative", title: "runs" },
            ],
          },
        },
        {
          mark: { type: "point", filled: true, color: "black", size: 14, opacity: 0.55 },
          encoding: {
            y,
            tooltip: [
              { field: "variant", type: "nominal" },
              { field: "seed", type: "quantitative" },
              { field: "value", type: "quantitative", format },
            ],
          },
        },
      ],
    },
    resolve: { scale: { y: "independent" } },
  } as ChartSpec;
}
