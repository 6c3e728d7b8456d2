/**
 * Checkpoints and weight import for the Ada-DF model.
 *
 * A checkpoint is one safetensors file: the model's parameters and BatchNorm statistics under their
 * state_dict names in PyTorch's layouts (so `safetensors.torch.load_file` reads them as they are),
 * Adam's moments as `optimizer.exp_avg.<name>` / `optimizer.exp_avg_sq.<name>`, and the training state
 * (epoch, best accuracy, metrics history, class-distribution miner, optimiser step and learning rate,
 * config) as JSON in the header's metadata. It is written to a temporary file and renamed, so a crash
 * never leaves a half-written checkpoint.
 *
 * @module
 */
import { tf } from "../engine/tf.ts";
import type { AdaDfModel } from "../backbones/adadf.ts";
import type { ParameterStore } from "../backbones/layers.ts";
import { FACE_RESNET29_MODULES } from "../backbones/face_resnet29.ts";
import type { AdamState } from "./optim.ts";
import type { TrainerState } from "./trainer.ts";
import { encodeSafetensors, readSafetensors, type StateDict } from "../formats/safetensors.ts";
import { writeFileAtomic } from "../engine/files.ts";
import { readStateDict } from "../formats/pytorch.ts";
import {
  formatLoadReport,
  loadIntoParameters,
  type LoadOptions,
  type LoadReport,
  type ParameterTarget,
  tfToTorchLayout,
  torchToTfLayout,
} from "../backbones/state_dict.ts";

/**
 * The value of the checkpoint's `format` metadata.
 *
 * @example Tell a checkpoint from another safetensors file
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { CHECKPOINT_FORMAT, saveCheckpoint } from "./checkpoint.ts";
 * import { readSafetensors } from "../formats/safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * const model = new AdaDfModel("tiny", { numClasses: 2 });
 * await saveCheckpoint(`${dir}/last.safetensors`, { model, classNames: ["a", "b"] });
 * const { metadata } = await readSafetensors(`${dir}/last.safetensors`);
 * assert.equal(metadata.format, CHECKPOINT_FORMAT);
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export const CHECKPOINT_FORMAT = "ada-df-checkpoint";
/**
 * The checkpoint layout version.
 *
 * @example Check the layout version of a checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { CHECKPOINT_VERSION, saveCheckpoint } from "./checkpoint.ts";
 * import { readSafetensors } from "../formats/safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * const model = new AdaDfModel("tiny", { numClasses: 2 });
 * await saveCheckpoint(`${dir}/last.safetensors`, { model, classNames: ["a", "b"] });
 * const { metadata } = await readSafetensors(`${dir}/last.safetensors`);
 * assert.ok(Number(metadata.version) <= CHECKPOINT_VERSION);
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export const CHECKPOINT_VERSION = 1;

const EXP_AVG = "optimizer.exp_avg.";
const EXP_AVG_SQ = "optimizer.exp_avg_sq.";

/** What a checkpoint records besides tensors. */
export interface CheckpointMeta {
  /** Backbone name (`resnet18`, ...). */
  backbone: string;
  /** Number of classes. */
  numClasses: number;
  /** Class names in label order. */
  classNames: string[];
  /** The resolved run configuration. */
  config?: unknown;
  /** The trainer's state without the optimiser moments (which are tensors in the file). */
  trainer?: Omit<TrainerState, "optimizer"> & { optimizer: { step: number; lr: number } };
}

/**
 * The model's tensors as a state_dict in PyTorch's layouts (conv [out, in, kh, kw], linear [out, in]).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { modelStateDict } from "./checkpoint.ts";
 * const sd = await modelStateDict(new AdaDfModel("tiny", { numClasses: 7 }));
 * assert.deepEqual(sd.get("conv1.weight")?.shape, [8, 3, 7, 7]); // PyTorch's [out, in, kh, kw]
 * ```
 */
export async function modelStateDict(store: ParameterStore): Promise<StateDict> {
  const out: StateDict = new Map();
  for (const [name, v] of [...store.params, ...store.buffers]) {
    out.set(
      name,
      tfToTorchLayout({ dtype: "float32", shape: v.shape, data: await v.data() as Float32Array }),
    );
  }
  return out;
}

function targets(store: ParameterStore): Map<string, ParameterTarget> {
  const map = new Map<string, ParameterTarget>();
  for (const [name, v] of [...store.params, ...store.buffers]) {
    map.set(name, {
      shape: v.shape,
      assign: (data: Float32Array) => tf.tidy(() => v.assign(tf.tensor(data, v.shape))),
    });
  }
  return map;
}

/**
 * Loads a state_dict in PyTorch's layouts into a model (converted to TensorFlow.js's layouts) and
 * reports what was loaded, missing, unexpected or of another shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { loadModelStateDict, modelStateDict } from "./checkpoint.ts";
 * const a = new AdaDfModel("tiny", { seed: 1 });
 * const b = new AdaDfModel("tiny", { seed: 2 });
 * const report = loadModelStateDict(b, await modelStateDict(a), { strict: true });
 * assert.equal(report.missing.length, 0);
 * ```
 */
export function loadModelStateDict(
  store: ParameterStore,
  stateDict: StateDict,
  options: Omit<LoadOptions, "transform"> = {},
): LoadReport {
  return loadIntoParameters(targets(store), stateDict, { ...options, transform: torchToTfLayout });
}

/** Options of {@linkcode initFromPretrained}. */
export interface InitFromPretrainedOptions {
  /**
   * Also load a classifier `fc` whose shape fits (both branches' `fc`); by default it is left new, as
   * in the paper.
   * @default {false}
   */
  loadClassifier?: boolean;
}

/**
 * Initialises the stem and both branches of an Ada-DF model from a ResNet checkpoint with torchvision or
 * timm names (`.pth`, `.pt` or `.safetensors`), as the paper initialises from a face-recognition
 * ResNet. On `face-resnet29` (already pretrained) it reads a state_dict with that network's names
 * (`conv32_down.conv.weight`, `conv64_down.bn1.weight`, ...), e.g. weights fine-tuned elsewhere. Returns
 * the load report (print it with `formatLoadReport`).
 *
 * @example
 * ```ts ignore
 * const report = await initFromPretrained(model, "resnet18_msceleb.pth");
 * console.log(formatLoadReport(report));
 * ```
 *
 * @example From a ResNet's state_dict: the stem and both branches, not the classifier
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { createResNet } from "../backbones/resnet.ts";
 * import { encodeSafetensors } from "../formats/safetensors.ts";
 * import { initFromPretrained, modelStateDict } from "./checkpoint.ts";
 *
 * // a ResNet with torchvision's parameter names, saved as safetensors
 * const dir = await Deno.makeTempDir();
 * const path = join(dir, "resnet.safetensors");
 * const resnet = createResNet("tiny", { numClasses: 10 });
 * await Deno.writeFile(path, encodeSafetensors(await modelStateDict(resnet)));
 *
 * const report = await initFromPretrained(new AdaDfModel("tiny", { numClasses: 7 }), path);
 * assert.deepEqual(report.unexpected, []);
 * assert.deepEqual(report.skipped.sort(), ["fc.bias", "fc.weight"]);
 * // left as initialised: each branch's classifier and attention head
 * assert.equal(report.missing.length, 8);
 * assert.ok(report.missing.every((name) => /^(aux|target)\.(fc|attention)\./.test(name)));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function initFromPretrained(
  model: AdaDfModel,
  path: string,
  options: InitFromPretrainedOptions = {},
): Promise<LoadReport> {
  const stateDict = await readStateDict(path);
  const loadFc = options.loadClassifier ?? false;
  // The branch's modules: layer2..4 of a ResNet, the 64/128/256-channel stages of face-resnet29.
  const inBranch = model.spec.family === "resnet"
    ? (name: string) => /^(layer[234])\./.test(name)
    : (name: string) => FACE_RESNET29_MODULES.branch.includes(name.slice(0, name.indexOf(".")));
  return loadIntoParameters(targets(model), stateDict, {
    transform: torchToTfLayout,
    map: (name) => {
      // BatchNorm's step counters have no counterpart (momentum is fixed, as in PyTorch's default).
      if (name.endsWith("num_batches_tracked")) return null;
      // face-resnet29's descriptor head is not part of the Ada-DF model.
      if (model.spec.family !== "resnet" && name === "descriptor.weight") return null;
      if (inBranch(name)) return [`aux.${name}`, `target.${name}`];
      if (/^fc\./.test(name)) return loadFc ? [`aux.${name}`, `target.${name}`] : null;
      return name;
    },
  });
}

function finiteOrNull(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? { $number: String(value) } : value;
}

function revive(_key: string, value: unknown): unknown {
  if (value && typeof value === "object" && "$number" in value && Object.keys(value).length === 1) {
    return Number((value as { $number: string }).$number);
  }
  return value;
}

/** Options of {@linkcode saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** The model whose tensors are saved. */
  model: AdaDfModel;
  /** Class names in label order. */
  classNames: readonly string[];
  /** The trainer state (with optimiser moments), for resuming. */
  trainer?: TrainerState;
  /** The resolved run configuration. */
  config?: unknown;
}

/**
 * Writes a checkpoint (atomically).
 *
 * @example Save a model, and continue it in another
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { loadCheckpoint, loadModelStateDict, saveCheckpoint } from "./checkpoint.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const path = join(dir, "last.safetensors");
 * const model = new AdaDfModel("tiny", { numClasses: 2, seed: 1 });
 * // a trainer adds `trainer: await trainer.getState()` and the run's `config`
 * await saveCheckpoint(path, { model, classNames: ["Neutral", "Happiness"] });
 *
 * const checkpoint = await loadCheckpoint(path);
 * assert.equal(checkpoint.meta.backbone, "tiny");
 * assert.deepEqual(checkpoint.meta.classNames, ["Neutral", "Happiness"]);
 * const copy = new AdaDfModel("tiny", { numClasses: 2, seed: 2 });
 * assert.equal(loadModelStateDict(copy, checkpoint.model, { strict: true }).missing.length, 0);
 * const w = (m: AdaDfModel) => m.params.get("conv1.weight")!.dataSync();
 * assert.deepEqual(w(copy), w(model));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(path: string, options: SaveCheckpointOptions): Promise<void> {
  const { model, trainer } = options;
  const tensors = await modelStateDict(model);
  let trainerMeta: CheckpointMeta["trainer"];
  if (trainer) {
    const { optimizer, ...rest } = trainer;
    for (
      const [prefix, moments] of [[EXP_AVG, optimizer.expAvg], [EXP_AVG_SQ, optimizer.expAvgSq]] as const
    ) {
      for (const [name, { shape, data }] of moments) {
        tensors.set(prefix + name, tfToTorchLayout({ dtype: "float32", shape, data }));
      }
    }
    trainerMeta = { ...rest, optimizer: { step: optimizer.step, lr: optimizer.lr } };
  }
  const meta: CheckpointMeta = {
    backbone: model.spec.name,
    numClasses: model.numClasses,
    classNames: [...options.classNames],
    config: options.config,
    trainer: trainerMeta,
  };
  const bytes = encodeSafetensors(tensors, {
    metadata: {
      format: CHECKPOINT_FORMAT,
      version: String(CHECKPOINT_VERSION),
      state: JSON.stringify(meta, finiteOrNull),
    },
  });
  await writeFileAtomic(path, bytes);
}

/** A checkpoint read back. */
export interface Checkpoint {
  /** The model's tensors (PyTorch layouts). */
  model: StateDict;
  /** What the checkpoint records. */
  meta: CheckpointMeta;
  /** The trainer state with optimiser moments, when the checkpoint has one. */
  trainer?: TrainerState;
}

/**
 * Reads a checkpoint written by {@linkcode saveCheckpoint}; errors name the file.
 *
 * @example A file that is no checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { encodeSafetensors } from "../formats/safetensors.ts";
 * import { loadCheckpoint } from "./checkpoint.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const path = join(dir, "weights.safetensors");
 * await Deno.writeFile(path, encodeSafetensors(new Map()));
 * await assert.rejects(loadCheckpoint(path), /weights\.safetensors: not an ada-df checkpoint/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata?.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `${path}: not an ada-df checkpoint (metadata format is ${metadata?.format ?? "absent"}).`,
    );
  }
  if (Number(metadata.version) > CHECKPOINT_VERSION) {
    throw new Error(`${path}: checkpoint version ${metadata.version} is newer than this library reads.`);
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(metadata.state ?? "", revive);
  } catch (e) {
    throw new Error(`${path}: the checkpoint's state metadata is not valid JSON (${(e as Error).message}).`);
  }
  const model: StateDict = new Map();
  const expAvg = new Map<string, { shape: number[]; data: Float32Array }>();
  const expAvgSq = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of tensors) {
    const moments = name.startsWith(EXP_AVG) ? expAvg : name.startsWith(EXP_AVG_SQ) ? expAvgSq : null;
    if (!moments) {
      model.set(name, t);
      continue;
    }
    const tfT = torchToTfLayout(t);
    moments.set(name.slice((moments === expAvg ? EXP_AVG : EXP_AVG_SQ).length), {
      shape: tfT.shape,
      data: Float32Array.from(tfT.data as Float32Array),
    });
  }
  let trainer: TrainerState | undefined;
  if (meta.trainer) {
    const optimizer: AdamState = {
      step: meta.trainer.optimizer.step,
      lr: meta.trainer.optimizer.lr,
      expAvg,
      expAvgSq,
    };
    trainer = { ...meta.trainer, optimizer };
  }
  return { model, meta, trainer };
}

export { formatLoadReport };
