/**
 * Checkpoints and weight import for the Ada-DF model.
 *
 * A checkpoint is one safetensors file: the model's parameters and BatchNorm statistics under their
 * state_dict names in PyTorch's layouts (so `safetensors.torch.load_file` reads them as they are),
 * Adam's moments as `optimizer.exp_avg.<name>` / `optimizer.exp_avg_sq.<name>`, and the training state
 * (epoch, best accuracy, metrics history, class-distribution miner, optimiser step and learning rate,
 * config; inside an epoch also the epoch's position and running sums) as JSON in the header's metadata.
 * It is written to a temporary file, flushed and renamed, so a crash never leaves a half-written
 * checkpoint. Reading one validates the training state with a valibot schema before any of it is used:
 * every problem names the file and the field.
 *
 * @module
 */
import * as v from "valibot";
import { tf } from "../engine/tf.ts";
import type { AdaDfModel } from "../backbones/adadf.ts";
import { type BackboneName, BACKBONES } from "../backbones/resnet.ts";
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
import { show } from "../engine/_show.ts";

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
 * reports what was loaded, missing, unexpected or of another shape. BatchNorm's `num_batches_tracked`
 * counters are skipped, so a PyTorch module's own `state_dict()` with the model's names loads with
 * `strict: true`; `source` (a file name) heads the strict error.
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
   * Also load a classifier `fc` whose shape fits (every branch's `fc`); by default it is left new, as
   * in the paper.
   * @default {false}
   */
  loadClassifier?: boolean;
  /**
   * Require every stem and branch tensor of the model from the file, with its shape, and no file
   * tensor the model lacks (the reference's `load_state_dict(..., strict=True)`): anything else
   * throws, before anything is assigned, with the names and shapes and the file's name. Only the new
   * heads (`fc`, `attention`) may be missing. `false` loads whatever matches and reports the rest
   * (partial loading).
   * @default {true}
   */
  strict?: boolean;
}

/**
 * Initialises the stem and the branches of an Ada-DF model from a ResNet checkpoint with torchvision or
 * timm names (`.pth`, `.pt` or `.safetensors`), as the paper initialises from a face-recognition
 * ResNet. On `face-resnet29` (already pretrained) it reads a state_dict with that network's names
 * (`conv32_down.conv.weight`, `conv64_down.bn1.weight`, ...), e.g. weights fine-tuned elsewhere. The
 * file's tensors are found as `readStateDict` finds them: under a `state_dict` (or `model_state_dict`,
 * `model`, `net`) key when the file holds a checkpoint dict, such as the authors' `resnet18_msceleb.pth`,
 * with a leading `module.` (DataParallel) removed; BatchNorm's `num_batches_tracked` counters are
 * skipped. Loading is strict by default (see {@linkcode InitFromPretrainedOptions.strict}). Returns the
 * load report (print it with `formatLoadReport`).
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
 *
 * // a file with other names loads nothing: refused, naming the file and what is missing
 * const other = join(dir, "other.safetensors");
 * await Deno.writeFile(other, encodeSafetensors({ "encoder.weight": { dtype: "float32", shape: [1], data: new Float32Array(1) } }));
 * await assert.rejects(
 *   initFromPretrained(new AdaDfModel("tiny", { numClasses: 7 }), other),
 *   (e: Error) => e.message.startsWith(`${other}: the weights do not match the model`) && /Missing/.test(e.message),
 * );
 * const partial = await initFromPretrained(new AdaDfModel("tiny", { numClasses: 7 }), other, { strict: false });
 * assert.deepEqual([partial.loaded.length, partial.unexpected], [0, ["encoder.weight"]]);
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
  const branches = (name: string) => model.branchNames.map((branch) => `${branch}.${name}`);
  const isHead = (name: string) => /^(aux|target)\.(fc|attention)\./.test(name);
  return loadIntoParameters(targets(model), stateDict, {
    transform: torchToTfLayout,
    strict: options.strict ?? true,
    // The new heads: a classifier when it is not loaded, and the attention heads.
    optional: (name) => isHead(name) && (!loadFc || !/\.fc\./.test(name)),
    source: path,
    map: (name) => {
      // face-resnet29's descriptor head is not part of the Ada-DF model.
      if (model.spec.family !== "resnet" && name === "descriptor.weight") return null;
      if (inBranch(name)) return branches(name);
      if (/^fc\./.test(name)) return loadFc ? branches(name) : null;
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

// ---------------------------------------------------------------------------------------------------
// The training state's schema: a checkpoint is validated before anything of it is used.

type Schema<T> = v.GenericSchema<unknown, T>;

/** What each schema expects, in words: the message of a missing field. */
const WHAT = new WeakMap<object, string>();

/** `schema`, failing with `expected <what>, got <value>`. */
function described<S extends Schema<unknown>>(
  what: string,
  make: (message: v.ErrorMessage<v.BaseIssue<unknown>>) => S,
): S {
  const schema = make((issue) => `expected ${what}, got ${show(issue.input)}`);
  WHAT.set(schema, what);
  return schema;
}

/** A whole number in [min, max]. */
function whole(min: number, max?: number): Schema<number> {
  const what = max === undefined ? `a whole number >= ${min}` : `a whole number in [${min}, ${max}]`;
  return described(what, (message) => {
    const checks: v.GenericValidation<number>[] = [v.safeInteger(message), v.minValue(min, message)];
    if (max !== undefined) checks.push(v.maxValue(max, message));
    return v.pipe(v.number(message), ...checks);
  });
}

/** A finite number >= min (or > min). */
function finite(min?: number, open = false): Schema<number> {
  const what = min === undefined ? "a finite number" : `a finite number ${open ? ">" : ">="} ${min}`;
  return described(what, (message) => {
    const checks: v.GenericValidation<number>[] = [v.finite(message)];
    if (min !== undefined) checks.push(open ? v.gtValue(min, message) : v.minValue(min, message));
    return v.pipe(v.number(message), ...checks);
  });
}

/** A number in [0, 1] or NaN (an accuracy of nothing). */
function fraction(): Schema<number> {
  return described(
    "a number in [0, 1] or NaN",
    (message) =>
      v.custom<number>((x) => typeof x === "number" && (Number.isNaN(x) || (x >= 0 && x <= 1)), message),
  );
}

/** Any number, NaN and infinities included (statistics of nothing, timings). */
function anyNumber(): Schema<number> {
  return described("a number", (message) => v.custom<number>((x) => typeof x === "number", message));
}

/** An array of `length` items (any length when undefined). */
function list<T>(item: Schema<T>, what: string, length?: number): Schema<T[]> {
  const text = length === undefined ? `an array of ${what}` : `an array of ${length} ${what}`;
  return described(text, (message) => {
    const array = v.array(item, message);
    return length === undefined ? array : v.pipe(array, v.length(length, message));
  });
}

/** An object with these fields (and maybe others); a missing field reads as its own problem. */
function record<E extends v.ObjectEntries>(entries: E, what: string) {
  const schema = v.looseObject(entries, (issue) => {
    // A missing field: valibot reports it with the object's message, at the field's path.
    const key = issue.input === undefined ? issue.path?.at(-1)?.key : undefined;
    if (typeof key === "string" && key in entries) {
      return `expected ${WHAT.get(entries[key]) ?? "a value"}, got nothing`;
    }
    return `expected ${what}, got ${show(issue.input)}`;
  });
  // valibot takes an array for an object: refused first.
  const notArray = v.custom<unknown>(
    (x) => !Array.isArray(x),
    (issue) => `expected ${what}, got ${show(issue.input)}`,
  );
  const checked = v.pipe(notArray, schema);
  WHAT.set(checked, what);
  return checked;
}

function terms() {
  return record(
    { total: finite(), ce: finite(), kl: finite(), rr: finite() },
    "the loss terms {total, ce, kl, rr}",
  );
}

/** The state's schema for `C` classes (array sizes unchecked while C itself is wrong). */
function stateSchema(C: number | undefined) {
  const summary = record(
    { count: whole(0), mean: anyNumber(), std: anyNumber(), min: anyNumber(), max: anyNumber() },
    "a summary {count, mean, std, min, max}",
  );
  const perClass = (item: Schema<unknown>, what: string) => list(item, what, C);
  const square = perClass(perClass(finite(), "numbers"), "rows");
  const epochMetrics = record({
    epoch: whole(1),
    lr: finite(0),
    alpha1: finite(),
    alpha2: finite(),
    loss: terms(),
    trainAccuracy: fraction(),
    testAccuracy: v.optional(fraction()),
    testMeanClassAccuracy: v.optional(fraction()),
    testPerClassAccuracy: v.optional(perClass(fraction(), "accuracies")),
    attentionPerClass: perClass(summary, "summaries"),
    fusionWeightPerClass: perClass(summary, "summaries"),
    classDistributions: square,
    images: whole(0),
    seconds: anyNumber(),
    imagesPerSecond: anyNumber(),
  }, "an epoch's metrics (an object)");
  const miner = record({
    numClasses: whole(0),
    mining: described("true or false", (message) => v.boolean(message)),
    sums: list(finite(), "numbers"),
    counts: list(finite(0), "numbers >= 0"),
    distributions: list(list(finite(), "numbers"), "rows"),
  }, "the miner's state (an object)");
  const partial = record({
    epoch: whole(1),
    batches: whole(0),
    position: whole(0),
    seen: whole(0),
    correct: whole(0),
    sums: terms(),
    attention: list(anyNumber(), "numbers"),
    fusion: list(anyNumber(), "numbers"),
    labels: list(whole(0, C === undefined ? undefined : C - 1), "labels"),
    seconds: finite(0),
  }, "the epoch in progress (an object)");
  const trainer = record({
    epoch: whole(0),
    bestAccuracy: fraction(),
    bestEpoch: whole(0),
    history: list(epochMetrics, "epoch metrics"),
    miner,
    optimizer: record({ step: whole(0), lr: finite(0, true) }, "the optimiser's {step, lr} (an object)"),
    partial: v.optional(partial),
  }, "the trainer state (an object)");
  const name = described("a class name", (message) => v.pipe(v.string(message), v.minLength(1, message)));
  return record({
    backbone: described(
      `one of ${BACKBONES.join(", ")}`,
      (message) => v.picklist(BACKBONES as BackboneName[], message),
    ),
    numClasses: whole(2),
    classNames: list(name, "class names", C),
    config: v.optional(v.unknown()),
    trainer: v.optional(trainer),
  }, "the training state (an object)");
}

function fieldText(path: readonly (string | number)[]): string {
  return path.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("") ||
    "the training state";
}

/** The relations between fields that the schema's shapes do not say. */
function relationProblems(meta: CheckpointMeta): string[] {
  const out: string[] = [];
  const t = meta.trainer;
  if (!t) return out;
  const C = meta.numClasses;
  if (t.history.length !== t.epoch) {
    out.push(`trainer.history: expected ${t.epoch} epochs' metrics (trainer.epoch), got ${t.history.length}`);
  }
  t.history.forEach((m, i) => {
    if (m.epoch !== i + 1) out.push(`trainer.history[${i}].epoch: expected ${i + 1}, got ${show(m.epoch)}`);
  });
  if (t.bestEpoch > t.epoch) {
    out.push(
      `trainer.bestEpoch: expected a whole number in [0, ${t.epoch}] (trainer.epoch), got ${t.bestEpoch}`,
    );
  } else if (t.bestEpoch > 0 && t.history.length === t.epoch) {
    const best = t.history[t.bestEpoch - 1].testAccuracy;
    if (!Object.is(best, t.bestAccuracy)) {
      out.push(
        `trainer.bestAccuracy: expected epoch ${t.bestEpoch}'s test accuracy ${show(best)} ` +
          `(trainer.bestEpoch), got ${show(t.bestAccuracy)}`,
      );
    }
  } else if (t.bestEpoch === 0 && !Number.isNaN(t.bestAccuracy)) {
    out.push(
      `trainer.bestAccuracy: expected NaN before any evaluated epoch (trainer.bestEpoch 0), got ${t.bestAccuracy}`,
    );
  }
  const m = t.miner;
  if (m.numClasses !== 0 && m.numClasses !== C) {
    out.push(`trainer.miner.numClasses: expected 0 or ${C} (numClasses), got ${m.numClasses}`);
  } else {
    const c = m.numClasses;
    if (m.sums.length !== c * c) {
      out.push(`trainer.miner.sums: expected an array of ${c * c} numbers, got ${m.sums.length}`);
    }
    if (m.counts.length !== c) {
      out.push(`trainer.miner.counts: expected an array of ${c} numbers, got ${m.counts.length}`);
    }
    if (m.distributions.length !== c) {
      out.push(`trainer.miner.distributions: expected an array of ${c} rows, got ${m.distributions.length}`);
    }
    m.distributions.forEach((row, j) => {
      if (row.length !== c) {
        out.push(`trainer.miner.distributions[${j}]: expected an array of ${c} numbers, got ${row.length}`);
      }
    });
  }
  const p = t.partial;
  if (p) {
    if (p.epoch !== t.epoch + 1) {
      out.push(`trainer.partial.epoch: expected ${t.epoch + 1} (trainer.epoch + 1), got ${p.epoch}`);
    }
    if (p.batches > p.position) {
      out.push(
        `trainer.partial.position: expected a whole number >= ${p.batches} (trainer.partial.batches), got ${p.position}`,
      );
    }
    if (p.correct > p.seen) {
      out.push(
        `trainer.partial.correct: expected a whole number in [0, ${p.seen}] (trainer.partial.seen), got ${p.correct}`,
      );
    }
    if (p.batches > 0 && p.seen === 0) {
      out.push(`trainer.partial.seen: expected a whole number >= 1 after ${p.batches} batches, got 0`);
    }
    // One entry per training row (an image, or each of its crops).
    for (const key of ["fusion", "labels"] as const) {
      if (p[key].length !== p.attention.length) {
        out.push(
          `trainer.partial.${key}: expected an array of ${p.attention.length} values ` +
            `(as trainer.partial.attention), got ${p[key].length}`,
        );
      }
    }
    if (p.attention.length < p.seen) {
      out.push(
        `trainer.partial.attention: expected an array of at least ${p.seen} values (trainer.partial.seen), ` +
          `got ${p.attention.length}`,
      );
    }
  }
  return out;
}

/** The problems of a checkpoint's moments: names and shapes of the model's tensors, in pairs. */
function momentProblems(
  model: StateDict,
  expAvg: Map<string, unknown>,
  expAvgSq: Map<string, unknown>,
  shapes: Map<string, readonly number[]>,
): string[] {
  const out: string[] = [];
  for (
    const [prefix, mine, other, otherPrefix] of [
      [EXP_AVG, expAvg, expAvgSq, EXP_AVG_SQ],
      [EXP_AVG_SQ, expAvgSq, expAvg, EXP_AVG],
    ] as const
  ) {
    for (const name of mine.keys()) {
      const param = model.get(name);
      const shape = shapes.get(prefix + name)!;
      if (!param) out.push(`${prefix}${name}: a moment of no tensor of the model`);
      else if (param.shape.join() !== shape.join()) {
        out.push(
          `${prefix}${name}: expected the shape of ${name} [${param.shape.join(", ")}], got [${
            shape.join(", ")
          }]`,
        );
      }
      if (!other.has(name)) out.push(`${otherPrefix}${name}: missing (${prefix}${name} is there)`);
    }
  }
  return out;
}

/** At most this many problems are listed. */
const MAX_PROBLEMS = 20;

function stateError(path: string, problems: string[]): Error {
  const shown = problems.slice(0, MAX_PROBLEMS).map((p) => `${path}: ${p}`);
  if (problems.length > MAX_PROBLEMS) shown.push(`${path}: ... and ${problems.length - MAX_PROBLEMS} more`);
  return new Error(shown.join("\n"));
}

/**
 * Checks a checkpoint's training state (as read from its metadata) against the schema of
 * {@linkcode CheckpointMeta}: types, ranges, the sizes that follow from the number of classes, and the
 * relations between fields (one metrics entry per completed epoch, the best epoch among them, the
 * epoch in progress after them). Returns the problems, each `field: expected ..., got ...`; none for a
 * valid state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointStateProblems } from "./checkpoint.ts";
 * const state = { backbone: "tiny", numClasses: 2, classNames: ["a", "b"] };
 * assert.deepEqual(checkpointStateProblems(state), []);
 * assert.deepEqual(checkpointStateProblems({ ...state, classNames: ["a"] }), [
 *   'classNames: expected an array of 2 class names, got ["a"]',
 * ]);
 * ```
 */
export function checkpointStateProblems(state: unknown): string[] {
  const classes = (state as { numClasses?: unknown } | null)?.numClasses;
  const C = Number.isSafeInteger(classes) && (classes as number) >= 2 ? classes as number : undefined;
  const result = v.safeParse(stateSchema(C), state);
  if (!result.success) {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const issue of result.issues) {
      const field = fieldText((issue.path ?? []).map((item) => item.key as string | number));
      if (seen.has(field)) continue;
      seen.add(field);
      out.push(`${field}: ${issue.message}`);
    }
    return out;
  }
  return relationProblems(state as CheckpointMeta);
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
 * Reads a checkpoint written by {@linkcode saveCheckpoint}; errors name the file. The training state is
 * validated first ({@linkcode checkpointStateProblems}), and the optimiser moments must come in pairs
 * with the shapes of the model's tensors: each problem is a line `<file>: <field>: expected ..., got
 * ...`.
 *
 * @example A training state with a wrong field
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { encodeSafetensors } from "../formats/safetensors.ts";
 * import { CHECKPOINT_FORMAT, loadCheckpoint } from "./checkpoint.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const path = join(dir, "last.safetensors");
 * const trainer = { epoch: null, bestAccuracy: 0.5, bestEpoch: 0, history: [] };
 * const state = JSON.stringify({ backbone: "tiny", numClasses: 2, classNames: ["a", "b"], trainer });
 * await Deno.writeFile(path, encodeSafetensors(new Map(), { metadata: { format: CHECKPOINT_FORMAT, version: "1", state } }));
 * await assert.rejects(loadCheckpoint(path), (e: Error) => {
 *   assert.match(e.message, /last\.safetensors: trainer\.epoch: expected a whole number >= 0, got null/);
 *   assert.match(e.message, /last\.safetensors: trainer\.miner: expected the miner's state \(an object\), got nothing/);
 *   return true;
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
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
  const problems = checkpointStateProblems(meta);
  if (problems.length > 0) throw stateError(path, problems);
  const model: StateDict = new Map();
  const expAvg = new Map<string, { shape: number[]; data: Float32Array }>();
  const expAvgSq = new Map<string, { shape: number[]; data: Float32Array }>();
  const shapes = new Map<string, readonly number[]>();
  for (const [name, t] of tensors) {
    const moments = name.startsWith(EXP_AVG) ? expAvg : name.startsWith(EXP_AVG_SQ) ? expAvgSq : null;
    if (!moments) {
      model.set(name, t);
      continue;
    }
    shapes.set(name, t.shape);
    const tfT = torchToTfLayout(t);
    moments.set(name.slice((moments === expAvg ? EXP_AVG : EXP_AVG_SQ).length), {
      shape: tfT.shape,
      data: Float32Array.from(tfT.data as Float32Array),
    });
  }
  const momentIssues = momentProblems(model, expAvg, expAvgSq, shapes);
  if (momentIssues.length > 0) throw stateError(path, momentIssues);
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

/**
 * Writes a checkpoint read back by {@linkcode loadCheckpoint} to `path` (atomically) without its
 * optimiser moments: the form of a run's `best` checkpoint, so that a `best` behind its run can be
 * made again from the `last` checkpoint of the same epoch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { loadCheckpoint, saveCheckpoint, saveCheckpointWithoutMoments } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * const model = new AdaDfModel("tiny", { numClasses: 2 });
 * await saveCheckpoint(join(dir, "last.safetensors"), { model, classNames: ["a", "b"] });
 * const last = await loadCheckpoint(join(dir, "last.safetensors"));
 * await saveCheckpointWithoutMoments(join(dir, "best.safetensors"), last);
 * const best = await loadCheckpoint(join(dir, "best.safetensors"));
 * assert.deepEqual([...best.model.keys()], [...last.model.keys()]);
 * assert.deepEqual(best.meta, last.meta);
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpointWithoutMoments(path: string, checkpoint: Checkpoint): Promise<void> {
  const bytes = encodeSafetensors(checkpoint.model, {
    metadata: {
      format: CHECKPOINT_FORMAT,
      version: String(CHECKPOINT_VERSION),
      state: JSON.stringify(checkpoint.meta, finiteOrNull),
    },
  });
  await writeFileAtomic(path, bytes);
}

export { formatLoadReport };
