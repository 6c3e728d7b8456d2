/**
 * ada-df: facial expression recognition with label distribution learning, on TensorFlow.js, for Deno.
 *
 * Its first method is Ada-DF (an adaptive label distribution fusion network): a frozen ResNet stem, an
 * auxiliary branch that mines label and class distributions, and a target branch trained on their
 * attention-weighted fusion. Every part of the objective is a plugin; the paper's equations are pure
 * tensor functions in the {@linkcode functional} namespace.
 *
 * This root holds what a user of the framework needs: the model, the trainer and its hooks, the plugin
 * interfaces and factories, the dataset openers and the synthetic set, the run pipeline (configs, train,
 * load, evaluate, export) and checkpoints. The layers below are entry points of their own:
 * `./engine`, `./formats`, `./backbones`, `./strategies`, `./functional`, `./datasets`, `./synthetic`,
 * `./training`, `./experiments`, `./inference`.
 *
 * @example Build the Ada-DF model and run it
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel, initBackend, tf } from "./mod.ts";
 *
 * await initBackend("cpu");
 * const model = new AdaDfModel("tiny", { numClasses: 7 });
 * const out = model.forward(tf.zeros([1, 32, 32, 3]), { training: false });
 * assert.deepEqual(out.targetLogits.shape, [1, 7]);
 * assert.deepEqual(out.auxLogits.shape, [1, 7]);
 * model.dispose();
 * ```
 *
 * @example Train with a plugin of your own
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   AdaDfModel,
 *   buildPlugins,
 *   type DistributionSource,
 *   listPlugins,
 *   registerPlugin,
 *   type Tensor2D,
 *   tf,
 *   Trainer,
 * } from "./mod.ts";
 *
 * // A distribution source that trains the target branch on the smoothed one-hot label.
 * registerPlugin("distribution", "smoothed", (options): DistributionSource => {
 *   const eps = (options.eps as number | undefined) ?? 0.1;
 *   return {
 *     name: "smoothed",
 *     targets: ({ labels, auxProbs }) => {
 *       const c = auxProbs.shape[1];
 *       return tf.oneHot(labels, c).toFloat().mul(1 - eps).add(eps / c) as Tensor2D;
 *     },
 *   };
 * });
 * assert.ok(listPlugins("distribution").includes("smoothed"));
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
 *   plugins: buildPlugins({ distribution: { type: "smoothed", eps: 0.2 } }),
 *   train: source,
 *   test: source,
 *   epochs: 2,
 * });
 * const summary = await trainer.fit();
 * assert.equal(summary.epochs, 2);
 * assert.ok(summary.history.every((epoch) => Number.isFinite(epoch.loss.total)));
 * ```
 *
 * @example The fused distribution of two samples (eq. 12)
 * ```ts
 * import assert from "node:assert/strict";
 * import { functional, tf } from "./mod.ts";
 *
 * const fused = functional.fuseDistributions({
 *   labelDistributions: tf.tensor2d([[0.6, 0.4], [0.5, 0.5]]),
 *   classDistributions: tf.tensor2d([[0.8, 0.2], [0.3, 0.7]]),
 *   labels: tf.tensor1d([0, 1], "int32"),
 *   weights: tf.tensor1d([1, 0.2]),
 * });
 * const rounded = fused.arraySync().map((row) => row.map((v) => Math.round(v * 1e4) / 1e4));
 * assert.deepEqual(rounded, [[0.8, 0.2], [0.46, 0.54]]);
 * ```
 *
 * @module
 */
import { tf as tfNamespace } from "./engine/tf.ts";

/**
 * The TensorFlow.js namespace (`@tensorflow/tfjs` 4.22) the library uses: create the tensors you give
 * to the library's functions with it, so that both share one engine and one backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "./mod.ts";
 * const x = tf.tensor2d([[1, 2], [3, 4]]);
 * assert.equal(x.sum().dataSync()[0], 10);
 * ```
 */
export const tf: typeof tfNamespace = tfNamespace;
export type { LayersModel, Scalar, Tensor, Tensor1D, Tensor2D, Tensor4D, Variable } from "./engine/tf.ts";

// Engine: the backend.
export { type BackendInfo, type BackendName, initBackend } from "./engine/backend.ts";

// The model and its backbones, by name.
export { AdaDfModel, type AdaDfModelOptions, type AdaDfOutputs } from "./backbones/adadf.ts";
export { type BackboneName, BACKBONES } from "./backbones/resnet.ts";

// The paper's equations, as torch.nn.functional sits under torch.nn.
export * as functional from "./strategies/functional.ts";

// Plugins: the interfaces, the factories and the registry.
export {
  type Attention,
  type AttentionInputs,
  noAttention,
  sigmoidAttention,
} from "./strategies/attention.ts";
export { adaptiveNormalizer, fixedNormalizer, type WeightNormalizer } from "./strategies/normalizer.ts";
export {
  classDistribution,
  type DistributionInputs,
  type DistributionSource,
  fusedDistribution,
  labelDistribution,
  onehotDistribution,
} from "./strategies/distribution.ts";
export {
  noRegularizer,
  rankRegularizer,
  type Regularizer,
  type RegularizerInputs,
} from "./strategies/regularizer.ts";
export { constantSchedule, type LossSchedule, rampSchedule } from "./strategies/schedule.ts";
export { type ClassDistributionMiner, epochPassMiner, onlineMiner } from "./strategies/miner.ts";
export {
  buildPlugin,
  buildPlugins,
  listPlugins,
  type OptionsIssue,
  type OptionsResult,
  type OptionsSchema,
  PLUGIN_FAMILIES,
  type PluginConfig,
  type PluginFactory,
  type PluginFamily,
  type PluginOptions,
  type PluginSet,
  type PluginSpec,
  registerPlugin,
  type RegisterPluginOptions,
} from "./strategies/registry.ts";

// Datasets: the openers, the loader and its pipeline, the synthetic set.
export { type Dataset, DatasetError, type DatasetItem } from "./datasets/types.ts";
export {
  type DatasetOpener,
  datasetTypes,
  openDataset,
  type OpenDatasetOptions,
  registerDatasetType,
  type RegisterDatasetTypeOptions,
} from "./datasets/open.ts";
export { type Batch, DataLoader } from "./datasets/loader.ts";
export { ImagePipeline, type PipelineOptions } from "./datasets/pipeline.ts";
export { ensureSynthetic, type SyntheticOptions } from "./datasets/synthetic.ts";

// Training: the trainer, its hooks, evaluation, checkpoints.
export {
  type BatchMetrics,
  type BatchSource,
  type EpochMetrics,
  type PartialEpochState,
  type RunSummary,
  type SkippedImages,
  Trainer,
  type TrainerHooks,
  type TrainerOptions,
  type TrainerState,
} from "./training/trainer.ts";
export { evaluateModel, type EvaluationResult } from "./training/evaluate.ts";
export {
  type Checkpoint,
  initFromPretrained,
  loadCheckpoint,
  saveCheckpoint,
  type SaveCheckpointOptions,
} from "./training/checkpoint.ts";

// The run pipeline: configs, train, load, evaluate, export.
export {
  ConfigError,
  DEFAULT_CONFIG,
  loadConfigFile,
  loadPlugins,
  type PartialRunConfig,
  resolveConfig,
  type ResolveConfigOptions,
  type RunConfig,
  validateConfig,
} from "./experiments/config.ts";
export {
  type LoadedRun,
  loadRun,
  type LoadRunOptions,
  resumeRun,
  trainRun,
  type TrainRunOptions,
  type TrainRunResult,
} from "./experiments/run.ts";
export { type EvalReport, evaluateRun, type EvaluateRunOptions } from "./experiments/eval.ts";
export { predictRun, type PredictRunOptions, type PredictRunResult } from "./experiments/predict.ts";
export { exportRun, type ExportRunOptions, type ExportRunResult } from "./experiments/export.ts";
export { progressHooks } from "./experiments/progress.ts";

// Types that the signatures above use (options, results, states).
export type { InitBackendOptions } from "./engine/backend.ts";
export type { Random, RandomState } from "./engine/random.ts";
export type { DType, NamedTensor, StateDict, TensorData } from "./formats/_dtype.ts";
export { type BranchCount, BRANCHES, type BranchName } from "./backbones/adadf.ts";
export type { FaceResNetSpec } from "./backbones/face_resnet29.ts";
export type { ForwardMode, ParameterStore } from "./backbones/layers.ts";
export type { Normalization, Rgb } from "./backbones/normalization.ts";
export type { BackboneSpec, ResNetName, ResNetSpec } from "./backbones/resnet.ts";
export type { LoadReport, ShapeMismatch } from "./backbones/state_dict.ts";
export type { AttentionWeights, SigmoidAttentionOptions } from "./strategies/attention.ts";
export type { DistributionSourceOptions } from "./strategies/distribution.ts";
export type { RampWeights } from "./strategies/functional.ts";
export type { ClassDistributionMinerOptions, ClassDistributionMinerState } from "./strategies/miner.ts";
export type { AdaptiveNormalizerOptions, FixedNormalizerOptions } from "./strategies/normalizer.ts";
export type { RankRegularizerOptions } from "./strategies/regularizer.ts";
export type { ConstantScheduleOptions, RampScheduleOptions } from "./strategies/schedule.ts";
export type { ResizeKernel } from "./datasets/image.ts";
export type { SkippedItem } from "./datasets/loader.ts";
export type { PipelineTarget } from "./datasets/pipeline.ts";
export type { RandAugmentHparams } from "./datasets/randaugment.ts";
export type { Sampler } from "./datasets/samplers.ts";
export type { EnsureSyntheticResult, SyntheticMetadata, SyntheticSummary } from "./datasets/synthetic.ts";
export type { Interpolation, RandomErasingOptions, RgbImage } from "./datasets/transforms.ts";
export type { RawImage } from "./datasets/types.ts";
export type { CheckpointMeta, InitFromPretrainedOptions } from "./training/checkpoint.ts";
export type {
  ClassificationReport,
  EvaluationProtocols,
  LabelNoiseReport,
  ProtocolEpoch,
  ProtocolMeanOfLast,
  Summary,
} from "./training/metrics.ts";
export type { Adam, AdamState } from "./training/optim.ts";
export type {
  DataConfig,
  DatasetName,
  ErasingConfig,
  MethodConfig,
  ModelConfig,
  OutputConfig,
  PartialMethodConfig,
  ReferenceMode,
  SamplerName,
  StemMode,
  SyntheticDataConfig,
  TrainAccuracySource,
  TrainerConfig,
  ValidateConfigOptions,
} from "./experiments/config.ts";
export type { DistributionDivergences } from "./experiments/eval.ts";
export {
  type ExportAttention,
  type ExportResult,
  PREPROCESS_FORMAT,
  type PreprocessSpec,
} from "./experiments/export.ts";
export type { Prediction } from "./experiments/predict.ts";
export type { ProgressOptions } from "./experiments/progress.ts";
