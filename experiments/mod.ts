/**
 * The run pipeline as a library: train a run folder from a configuration (or resume one), open its
 * data and loaders, load its model back, evaluate it, predict images with it, export it for
 * TensorFlow.js, report it with plots (`report.html`), and run ablations (variants x seeds, shared
 * between processes through lock files or run as a Slurm job array, reported as `results.md` and
 * `results.csv`). The command-line tasks (`deno task train`, `eval`, `predict`, `export`, `ablate`,
 * `report`) only parse their arguments, call these functions and print.
 *
 * A run folder holds the files named in {@linkcode RUN_FILES}: the resolved `config.yaml`, one
 * `metrics.jsonl` line per epoch, the `last` and `best` checkpoints and the summary.
 *
 * @example Train a tiny run, then evaluate it and predict two of its test images
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { evaluateRun, openRunData, predictRun, resolveConfig, RUN_FILES, trainRun } from "./mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const config = await resolveConfig({
 *   preset: "synthetic",
 *   overrides: [
 *     "backend=cpu",
 *     "model.backbone=tiny",
 *     "data.size=16",
 *     "data.synthetic.count=20",
 *     "data.synthetic.size=16",
 *     `data.synthetic.cacheDir=${JSON.stringify(join(dir, "cache"))}`,
 *     "trainer.batchSize=8",
 *     "trainer.epochs=1",
 *   ],
 * });
 * // report: false: no report.html (charts, UMAP) for this example run.
 * const { runDir, summary } = await trainRun(config, { runDir: join(dir, "run"), progress: false, report: false, log: () => {} });
 * assert.equal(summary.history.length, 1);
 * const metrics = (await Deno.readTextFile(join(runDir, RUN_FILES.metrics))).trim().split("\n");
 * assert.equal(metrics.length, 1);
 *
 * // The test split: 20% of the 20 images.
 * const report = await evaluateRun(runDir);
 * assert.equal(report.result.count, 4);
 * assert.equal(report.result.confusion.flat().reduce((a, b) => a + b), 4);
 *
 * const data = await openRunData(config);
 * const images = [0, 1].map((i) => data.test.item(i).path!);
 * const { predictions, classNames } = await predictRun(runDir, images);
 * assert.equal(predictions.length, 2);
 * for (const p of predictions) {
 *   assert.ok(classNames.includes(p.prediction));
 *   assert.ok(Math.abs(Object.values(p.probabilities).reduce((a, b) => a + b) - 1) < 1e-4);
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export * from "./config.ts";
export {
  defaultRunName,
  type LoadedRun,
  loadRun,
  type LoadRunOptions,
  makeLoaders,
  openRunData,
  pipelineOptions,
  readRunConfig,
  resumeRun,
  RUN_FILES,
  type RunData,
  runFolderHooks,
  type RunLoaders,
  type RunPipelineOptions,
  runPlugins,
  trainRun,
  type TrainRunOptions,
  type TrainRunResult,
} from "./run.ts";
export {
  REFERENCE_DEPARTURES,
  REFERENCE_SIDES,
  type ReferenceDeparture,
  type ReferenceSide,
  resolveReferenceSwitch,
  UNSET,
} from "./reference_switch.ts";
export {
  type DistributionDivergences,
  type EvalReport,
  evaluateRun,
  type EvaluateRunOptions,
  formatEvalReport,
  formatProtocols,
  measureLabelNoise,
  relabel,
  type RunLabelNoise,
} from "./eval.ts";
export {
  formatPredictions,
  predictImages,
  type Prediction,
  predictRun,
  type PredictRunOptions,
  type PredictRunResult,
} from "./predict.ts";
export {
  type ExportAttention,
  type ExportResult,
  exportRun,
  type ExportRunOptions,
  type ExportRunResult,
  formatExportRun,
  PREPROCESS_FORMAT,
  type PreprocessSpec,
} from "./export.ts";
export {
  ablate,
  type AblateOptions,
  type Ablation,
  ABLATION_FILES,
  type AblationEntryResult,
  type AblationNoiseRun,
  ablationPlan,
  type AblationPlanEntry,
  type AblationReport,
  type AblationRun,
  type AblationRunAction,
  ablationRunConfig,
  type AblationRunState,
  type AblationRunStatus,
  ablationStatus,
  type AblationVariant,
  aggregate,
  labelNoiseMarkdown,
  measureAblationNoise,
  missingRunsMarkdown,
  parseAblation,
  resultsCsv,
  resultsMarkdown,
  runAblation,
  runAblationEntry,
  type RunAblationOptions,
  type VariantResult,
} from "./ablation.ts";
export {
  SLURM_FILES,
  type SlurmJobs,
  type SlurmOptions,
  type SlurmRunOptions,
  type SlurmScriptFiles,
  type SlurmScripts,
  slurmScripts,
  submitSlurm,
  writeSlurmScripts,
} from "./slurm.ts";
export { formatDuration, progressHooks, type ProgressOptions, summaryTable } from "./progress.ts";
export {
  type AblationPage,
  type AblationResults,
  type ClassStat,
  type Confusion,
  type FigureFace,
  REPORT_FILES,
  reportAfterAblation,
  reportAfterRun,
  type RunReport,
  type RunReportFigures,
  type RunReportOptions,
  writeAblationReport,
  writeRunReport,
} from "./report.ts";
