/**
 * The run configuration: a typed schema with defaults, YAML loading with validation, `extends` between
 * files, command-line overrides (`trainer.epochs=3`) and the presets in `configs/`.
 *
 * Every field is optional in a file; missing fields take the defaults of {@linkcode DEFAULT_CONFIG}.
 * Unknown keys, wrong types and out-of-range values are rejected with the field's full path and where
 * it came from (`configs/x.yaml:4:3: trainer.epochs: expected an integer >= 1, got "ten"`); all problems
 * are reported together, one per line, in a {@linkcode ConfigError}.
 *
 * @example Resolve the default preset with an override
 * ```ts ignore
 * import { resolveConfig } from "./config.ts";
 *
 * const config = await resolveConfig({ overrides: ["trainer.epochs=1"] });
 * console.log(config.trainer.epochs, config.method.distribution);
 * ```
 *
 * @module
 */
import YAML from "yaml";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type BackboneName, BACKBONES } from "../backbones/resnet.ts";
import { parseRandAugment } from "../datasets/randaugment.ts";
import type { BackendName } from "../engine/backend.ts";
import {
  buildPlugin,
  PLUGIN_FAMILIES,
  type PluginFamily,
  type PluginOptions,
  type PluginSpec,
} from "../strategies/registry.ts";

// ---------------------------------------------------------------------------------------------------
// Types

/**
 * The dataset kinds a config can select.
 *
 * @example Select a dataset kind in a config
 * ```ts
 * import { type DatasetName, validateConfig } from "./config.ts";
 * const dataset: DatasetName = "rafdb";
 * const config = validateConfig({ data: { dataset, path: "/data/raf-basic" } });
 * console.assert(config.data.dataset === "rafdb");
 * ```
 */
export type DatasetName = "synthetic" | "rafdb" | "affectnet7" | "affectnet8" | "sfew" | "folder" | "fer2013";

/**
 * The dataset kinds, in documentation order.
 *
 * @example List the dataset kinds in a help text
 * ```ts
 * import { DATASET_NAMES } from "./config.ts";
 * console.log(`--dataset: one of ${DATASET_NAMES.join(", ")}`);
 * console.assert(DATASET_NAMES.includes("fer2013"));
 * ```
 */
export const DATASET_NAMES: readonly DatasetName[] = Object.freeze([
  "synthetic",
  "rafdb",
  "affectnet7",
  "affectnet8",
  "sfew",
  "folder",
  "fer2013",
]);

/**
 * How training batches are drawn: plain shuffling or class-balanced down-sampling each epoch.
 *
 * @example Draw class-balanced training batches
 * ```ts
 * import { applyOverrides, DEFAULT_CONFIG, type SamplerName } from "./config.ts";
 * const sampler: SamplerName = "balanced";
 * const config = applyOverrides(DEFAULT_CONFIG, [`data.sampler=${sampler}`]);
 * console.assert(config.data.sampler === "balanced");
 * ```
 */
export type SamplerName = "shuffle" | "balanced";

/**
 * How the frozen stem runs while training: with batch statistics (the reference) or running ones.
 *
 * @example Run the frozen stem with its running statistics
 * ```ts
 * import { type StemMode, validateConfig } from "./config.ts";
 * const stemMode: StemMode = "eval";
 * const config = validateConfig({ trainer: { stemMode } });
 * console.assert(config.trainer.stemMode === "eval");
 * ```
 */
export type StemMode = "train" | "eval";

/**
 * The built-in synthetic set (used when `data.dataset` is `synthetic`).
 *
 * @example A small synthetic set of 32-pixel images
 * ```ts
 * import { type SyntheticDataConfig, validateConfig } from "./config.ts";
 * const synthetic: SyntheticDataConfig = { count: 200, seed: 1, size: 32, testFraction: 0.25, cacheDir: null };
 * const config = validateConfig({ data: { dataset: "synthetic", synthetic } });
 * console.assert(config.data.synthetic.count === 200);
 * ```
 */
export interface SyntheticDataConfig {
  /** Number of images, train and test together (integer >= 2). */
  count: number;
  /** Seed of the generator (integer >= 0). */
  seed: number;
  /** Side of the generated images in pixels (integer 16..1024). */
  size: number;
  /** Fraction of the images in the test split (0 <= f < 1). */
  testFraction: number;
  /** Folder of the generated set; null: a cache folder chosen by the trainer. */
  cacheDir: string | null;
}

/**
 * Random erasing at training time.
 *
 * @example Milder random erasing
 * ```ts
 * import { type ErasingConfig, validateConfig } from "./config.ts";
 * const erasing: ErasingConfig = { p: 0.25, scale: [0.02, 0.1], ratio: [0.3, 3.3] };
 * const config = validateConfig({ data: { erasing } });
 * console.assert(config.data.erasing?.p === 0.25);
 * ```
 */
export interface ErasingConfig {
  /** Probability of erasing a rectangle (0..1). */
  p: number;
  /** Range of the erased area as a fraction of the image, [min, max] with 0 < min <= max <= 1. */
  scale: [number, number];
  /** Range of the rectangle's aspect ratio, [min, max] with 0 < min <= max. */
  ratio: [number, number];
}

/**
 * Where the images come from and how they are augmented.
 *
 * @example The data section of the defaults, with a smaller input
 * ```ts
 * import { type DataConfig, validateConfig } from "./config.ts";
 * const data: DataConfig = validateConfig({ data: { size: 64, hflip: 0 } }).data;
 * console.assert(data.dataset === "synthetic" && data.size === 64 && data.testCrops === 1);
 * ```
 */
export interface DataConfig {
  /** The dataset kind. */
  dataset: DatasetName;
  /** The dataset's root folder (the CSV file for `fer2013`); null for `synthetic` (a cache folder). */
  path: string | null;
  /** The synthetic set's generator settings. */
  synthetic: SyntheticDataConfig;
  /** Input side in pixels (integer 16..512). */
  size: number;
  /** timm RandAugment string (`rand-m5-n3-mstd0.5`), or null for none. */
  randAugment: string | null;
  /** Probability of a horizontal flip (0..1). */
  hflip: number;
  /** Random erasing, or null for none. */
  erasing: ErasingConfig | null;
  /** Crops at test time: 1 (one centre crop) or 10 (TenCrop, logits averaged). */
  testCrops: 1 | 10;
  /** How training batches are drawn. */
  sampler: SamplerName;
  /** Fraction of training labels replaced by a different class (0..0.9). */
  labelNoise: number;
  /** Batches prepared ahead of the training step (integer 0..16). */
  prefetch: number;
  /** Skip images that fail to decode instead of stopping. */
  skipCorrupt: boolean;
}

/**
 * The network.
 *
 * @example The tiny backbone with a trainable stem
 * ```ts
 * import { type ModelConfig, validateConfig } from "./config.ts";
 * const model: ModelConfig = { backbone: "tiny", weights: null, freezeStem: false };
 * console.assert(validateConfig({ model }).model.backbone === "tiny");
 * ```
 */
export interface ModelConfig {
  /** The backbone. */
  backbone: BackboneName;
  /** A .pth/.pt/.safetensors file that initialises the stem and both branches; null: random init. */
  weights: string | null;
  /** Freeze the stem (conv1..layer1), as the reference does. */
  freezeStem: boolean;
}

/**
 * The plugin choices, one per family: a plugin name or `{ type: name, ...options }`.
 *
 * @example The label-distribution ablation, every family given
 * ```ts
 * import { DEFAULT_CONFIG, type MethodConfig, validateConfig } from "./config.ts";
 * const method: MethodConfig = { ...DEFAULT_CONFIG.method, distribution: "label" };
 * console.assert(validateConfig({ method }).method.distribution === "label");
 * ```
 */
export type MethodConfig = { [F in PluginFamily]: PluginSpec };

/**
 * The optimisation loop.
 *
 * @example A short run of at most five batches per epoch
 * ```ts
 * import { DEFAULT_CONFIG, type TrainerConfig, validateConfig } from "./config.ts";
 * const trainer: TrainerConfig = { ...DEFAULT_CONFIG.trainer, epochs: 2, batchSize: 16, maxBatchesPerEpoch: 5 };
 * console.assert(validateConfig({ trainer }).trainer.maxBatchesPerEpoch === 5);
 * ```
 */
export interface TrainerConfig {
  /** Number of epochs (integer >= 1). */
  epochs: number;
  /** Batch size (integer >= 1). */
  batchSize: number;
  /** Adam's learning rate (> 0). */
  lr: number;
  /** ExponentialLR factor applied after every epoch, in (0, 1]. */
  lrGamma: number;
  /** Drop the last incomplete training batch. */
  dropLast: boolean;
  /** Evaluate on the test split every this many epochs (integer >= 1). */
  evalEvery: number;
  /** How the frozen stem runs while training. */
  stemMode: StemMode;
  /** Stop each epoch after this many batches (integer >= 1), or null for whole epochs. */
  maxBatchesPerEpoch: number | null;
}

/**
 * Where the run folder goes.
 *
 * @example A named run folder under `out/`
 * ```ts
 * import { type OutputConfig, validateConfig } from "./config.ts";
 * const output: OutputConfig = { dir: "out", name: "quick", checkpointEvery: 5 };
 * console.assert(validateConfig({ output }).output.name === "quick");
 * ```
 */
export interface OutputConfig {
  /** Parent folder of the run folders. */
  dir: string;
  /** The run folder's name; null: `<dataset>-<method>-<timestamp>`. */
  name: string | null;
  /** Write a checkpoint every this many epochs (integer >= 1). */
  checkpointEvery: number;
}

/**
 * A fully resolved run configuration: every field present and valid.
 *
 * @example A resolved config has every field
 * ```ts
 * import { type RunConfig, validateConfig } from "./config.ts";
 * const config: RunConfig = validateConfig({ seed: 7 });
 * console.log(config.seed, config.model.backbone, config.trainer.epochs); // 7 "resnet18" 75
 * ```
 */
export interface RunConfig {
  /** Seed of everything random in the run (integer 0..2^32-1). */
  seed: number;
  /** The TensorFlow.js backend. */
  backend: BackendName;
  /** Data. */
  data: DataConfig;
  /** Model. */
  model: ModelConfig;
  /** Plugins. */
  method: MethodConfig;
  /** Training loop. */
  trainer: TrainerConfig;
  /** Output. */
  output: OutputConfig;
}

/**
 * The plugin choices as written in a file: any family may be left out, and an object without `type`
 * changes the options of the plugin it builds on.
 *
 * @example Change the rank margin and swap the schedule
 * ```ts
 * import { type PartialMethodConfig, validateConfig } from "./config.ts";
 * const method: PartialMethodConfig = { regularizer: { margin: 0.15 }, schedule: "constant" };
 * const config = validateConfig({ method });
 * console.log(config.method.regularizer); // { type: "rank", ratio: 0.7, margin: 0.15 }
 * ```
 */
export type PartialMethodConfig = { [F in PluginFamily]?: PluginSpec | PluginOptions };

/**
 * A run configuration as written in a file: every field optional.
 *
 * @example Only what differs from the defaults
 * ```ts
 * import { type PartialRunConfig, validateConfig } from "./config.ts";
 * const partial: PartialRunConfig = {
 *   model: { backbone: "tiny" },
 *   data: { size: 32, erasing: null },
 *   trainer: { epochs: 3 },
 * };
 * const config = validateConfig(partial);
 * console.assert(config.data.erasing === null && config.trainer.batchSize === 64);
 * ```
 */
export interface PartialRunConfig {
  /** See {@linkcode RunConfig.seed}. */
  seed?: number;
  /** See {@linkcode RunConfig.backend}. */
  backend?: BackendName;
  /** See {@linkcode DataConfig}. */
  data?:
    & Partial<Omit<DataConfig, "synthetic" | "erasing">>
    & { synthetic?: Partial<SyntheticDataConfig>; erasing?: Partial<ErasingConfig> | null };
  /** See {@linkcode ModelConfig}. */
  model?: Partial<ModelConfig>;
  /** See {@linkcode MethodConfig}. */
  method?: PartialMethodConfig;
  /** See {@linkcode TrainerConfig}. */
  trainer?: Partial<TrainerConfig>;
  /** See {@linkcode OutputConfig}. */
  output?: Partial<OutputConfig>;
}

/**
 * A configuration that failed to load or validate. `message` holds every problem, one per line;
 * `problems` holds the same lines.
 *
 * @example
 * ```ts
 * import { ConfigError, validateConfig } from "./config.ts";
 *
 * try {
 *   validateConfig({ trainer: { epochs: 0 } }, { source: "my.yaml" });
 * } catch (error) {
 *   console.assert(error instanceof ConfigError);
 *   console.log((error as ConfigError).problems); // ["my.yaml: trainer.epochs: expected an integer >= 1, got 0"]
 * }
 * ```
 */
export class ConfigError extends Error {
  /** Each problem, with its source and field path. */
  readonly problems: readonly string[];

  /** Creates the error from one or more problem lines. */
  constructor(problems: string | readonly string[], options?: ErrorOptions) {
    const list = typeof problems === "string" ? [problems] : [...problems];
    super(list.join("\n"), options);
    this.name = "ConfigError";
    this.problems = Object.freeze(list);
  }
}

// ---------------------------------------------------------------------------------------------------
// Defaults

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * The defaults of every field: the reference's RAF-DB recipe on the synthetic set at 112 px. (The
 * default preset, `configs/synthetic.yaml`, is a smaller, quicker run built on these.)
 *
 * @example
 * ```ts
 * import { DEFAULT_CONFIG } from "./config.ts";
 * console.assert(DEFAULT_CONFIG.trainer.epochs === 75);
 * ```
 */
export const DEFAULT_CONFIG: Readonly<RunConfig> = deepFreeze<RunConfig>({
  seed: 0,
  backend: "auto",
  data: {
    dataset: "synthetic",
    path: null,
    synthetic: { count: 2000, seed: 0, size: 112, testFraction: 0.2, cacheDir: null },
    size: 112,
    randAugment: "rand-m5-n3-mstd0.5",
    hflip: 0.5,
    erasing: { p: 0.5, scale: [0.02, 0.25], ratio: [0.3, 3.3] },
    testCrops: 1,
    sampler: "shuffle",
    labelNoise: 0,
    prefetch: 2,
    skipCorrupt: false,
  },
  model: { backbone: "resnet18", weights: null, freezeStem: true },
  method: {
    distribution: "fused",
    miner: { type: "epoch-pass", threshold: 0.7 },
    attention: "sigmoid",
    normalizer: { type: "adaptive", minWeight: 0.2, maxWeight: 1.0 },
    regularizer: { type: "rank", ratio: 0.7, margin: 0.07 },
    schedule: { type: "ramp", beta: 3 },
  },
  trainer: {
    epochs: 75,
    batchSize: 64,
    lr: 0.001,
    lrGamma: 0.9,
    dropLast: true,
    evalEvery: 1,
    stemMode: "train",
    maxBatchesPerEpoch: null,
  },
  output: { dir: "runs", name: null, checkpointEvery: 1 },
});

// ---------------------------------------------------------------------------------------------------
// Plain-object helpers

type Path = readonly (string | number)[];
type Obj = Record<string, unknown>;

function isPlainObject(value: unknown): value is Obj {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Sets an own, enumerable property (safe for keys such as `__proto__` that come from YAML). */
function put(target: Obj, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function clone<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => clone(item)) as T;
  if (isPlainObject(value)) {
    const out: Obj = {};
    for (const [key, child] of Object.entries(value)) put(out, key, clone(child));
    return out as T;
  }
  return value;
}

function valueAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === "number") node = node[segment];
    else if (isPlainObject(node) && Object.hasOwn(node, segment)) node = node[segment as string];
    else return undefined;
  }
  return node;
}

function hasPath(root: unknown, path: Path): boolean {
  let node = root;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === "number" && segment < node.length) node = node[segment];
    else if (isPlainObject(node) && Object.hasOwn(node, String(segment))) node = node[String(segment)];
    else return false;
  }
  return true;
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function pathText(path: Path): string {
  let out = "";
  for (const segment of path) {
    out += typeof segment === "number" ? `[${segment}]` : out === "" ? segment : `.${segment}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Merging

function pluginType(spec: unknown): string | undefined {
  if (typeof spec === "string") return spec;
  if (isPlainObject(spec) && typeof spec.type === "string") return spec.type;
  return undefined;
}

/**
 * A plugin spec over another: a string or an object with a different `type` replaces it; an object
 * with the same `type` or none changes the options of the plugin below.
 */
function mergePluginSpec(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const baseType = pluginType(base);
  if (baseType === undefined) return clone(patch);
  if (Object.hasOwn(patch, "type") && patch.type !== baseType) return clone(patch);
  const out: Obj = { type: baseType };
  if (isPlainObject(base)) { for (const [key, value] of Object.entries(base)) put(out, key, clone(value)); }
  for (const [key, value] of Object.entries(patch)) put(out, key, clone(value));
  return out;
}

function mergeAt(base: unknown, patch: unknown, path: string[]): unknown {
  if (patch === undefined) return clone(base);
  if (path.length === 2 && path[0] === "method") return mergePluginSpec(base, patch);
  if (!isPlainObject(patch)) return clone(patch);
  // An object over a scalar or null (`erasing: null`, then `erasing: { p: 0.3 }`) builds on the default.
  if (!isPlainObject(base)) base = valueAt(DEFAULT_CONFIG, path);
  if (!isPlainObject(base)) return clone(patch);
  const out = clone(base);
  for (const [key, value] of Object.entries(patch)) put(out, key, mergeAt(base[key], value, [...path, key]));
  return out;
}

/**
 * Merges a partial config over another: objects are merged key by key, arrays and scalars replaced.
 * A plugin given as an object without `type` (or with the same one) changes the options of the plugin
 * below; a plugin name or another `type` replaces it. The result is not validated.
 *
 * @example A variant of a preset
 * ```ts
 * import { mergeConfig, validateConfig } from "./config.ts";
 *
 * const base = { trainer: { epochs: 3 }, method: { miner: { type: "epoch-pass", threshold: 0.7 } } };
 * const merged = mergeConfig(base, { method: { distribution: "label", miner: { threshold: 0.5 } } });
 * const config = validateConfig(merged);
 * console.assert(config.trainer.epochs === 3);
 * ```
 */
export function mergeConfig(
  base: PartialRunConfig | RunConfig,
  patch: PartialRunConfig | RunConfig,
): PartialRunConfig {
  return mergeAt(base, patch, []) as PartialRunConfig;
}

// ---------------------------------------------------------------------------------------------------
// Schema

interface Problem {
  path: Path;
  message: string;
  /** The problem is this key itself (unknown key): the message is complete and has no path prefix. */
  keyProblem?: boolean;
}

type Checker = (value: unknown, path: Path, problems: Problem[]) => void;

interface Section {
  kind: "section";
  fields: Record<string, Field>;
}
type Field = Section | { kind: "leaf"; check: Checker };

function leaf(check: Checker): Field {
  return { kind: "leaf", check };
}

function section(fields: Record<string, Field>): Section {
  return { kind: "section", fields };
}

function fail(problems: Problem[], path: Path, expected: string, value: unknown): void {
  problems.push({ path, message: `expected ${expected}, got ${show(value)}` });
}

function intField(min: number, max?: number, nullable = false): Field {
  const range = max === undefined ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
  const expected = nullable ? `${range} or null` : range;
  return leaf((value, path, problems) => {
    if (nullable && value === null) return;
    const ok = typeof value === "number" && Number.isSafeInteger(value) && value >= min &&
      (max === undefined || value <= max);
    if (!ok) fail(problems, path, expected, value);
  });
}

interface NumberRange {
  min?: number;
  max?: number;
  minOpen?: boolean;
  maxOpen?: boolean;
}

function numberField(range: NumberRange): Field {
  const { min, max, minOpen = false, maxOpen = false } = range;
  let expected: string;
  if (min !== undefined && max !== undefined) {
    expected = `a number in ${minOpen ? "(" : "["}${min}, ${max}${maxOpen ? ")" : "]"}`;
  } else if (min !== undefined) expected = `a number ${minOpen ? ">" : ">="} ${min}`;
  else if (max !== undefined) expected = `a number ${maxOpen ? "<" : "<="} ${max}`;
  else expected = "a finite number";
  return leaf((value, path, problems) => {
    const ok = typeof value === "number" && Number.isFinite(value) &&
      (min === undefined || (minOpen ? value > min : value >= min)) &&
      (max === undefined || (maxOpen ? value < max : value <= max));
    if (!ok) fail(problems, path, expected, value);
  });
}

function boolField(): Field {
  return leaf((value, path, problems) => {
    if (typeof value !== "boolean") fail(problems, path, "true or false", value);
  });
}

function enumField(values: readonly (string | number)[]): Field {
  const expected = values.length === 2 ? `${values[0]} or ${values[1]}` : `one of ${values.join(", ")}`;
  return leaf((value, path, problems) => {
    if (!values.includes(value as string | number)) fail(problems, path, expected, value);
  });
}

function stringField(nullable: boolean, what = "a non-empty string"): Field {
  const expected = nullable ? `${what} or null` : what;
  return leaf((value, path, problems) => {
    if (nullable && value === null) return;
    if (typeof value !== "string" || value.length === 0) fail(problems, path, expected, value);
  });
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

function runNameField(): Field {
  return leaf((value, path, problems) => {
    if (value === null) return;
    if (typeof value !== "string" || value.length === 0) {
      fail(problems, path, "a folder name or null", value);
    } else if (/[/\\]/.test(value) || value === "." || value === ".." || hasControl(value)) {
      fail(problems, path, "a plain folder name (no path separators)", value);
    }
  });
}

function pairField(upperOne: boolean): Field {
  const expected = upperOne ? "[min, max] with 0 < min <= max <= 1" : "[min, max] with 0 < min <= max";
  return leaf((value, path, problems) => {
    const ok = Array.isArray(value) && value.length === 2 &&
      value.every((v) => typeof v === "number" && Number.isFinite(v)) &&
      value[0] > 0 && value[0] <= value[1] && (!upperOne || value[1] <= 1);
    if (!ok) fail(problems, path, expected, value);
  });
}

const RAND_AUGMENT = /^rand(-[a-z]+[0-9.]+)*$/;

function randAugmentField(): Field {
  const expected = `a RandAugment string such as "rand-m5-n3-mstd0.5", or null`;
  return leaf((value, path, problems) => {
    if (value === null) return;
    if (typeof value !== "string" || !RAND_AUGMENT.test(value)) {
      fail(problems, path, expected, value);
      return;
    }
    try {
      parseRandAugment(value);
    } catch (error) {
      problems.push({ path, message: error instanceof Error ? error.message : String(error) });
    }
  });
}

function erasingField(): Field {
  const fields = section({
    p: numberField({ min: 0, max: 1 }),
    scale: pairField(true),
    ratio: pairField(false),
  });
  return leaf((value, path, problems) => {
    if (value === null) return;
    if (!isPlainObject(value)) {
      fail(problems, path, "an object { p, scale, ratio } or null", value);
      return;
    }
    checkSection(fields, value, path, problems);
  });
}

const PLUGIN_PREFIX = /^plugin config field "[^"]*"(?: \(([^)]*)\))?: /;

function methodField(): Field {
  return leaf((value, path, problems) => {
    if (!isPlainObject(value)) {
      fail(problems, path, "an object with one plugin per family", value);
      return;
    }
    for (const key of Object.keys(value)) {
      if (!(PLUGIN_FAMILIES as readonly string[]).includes(key)) {
        unknownKey(problems, path, key, PLUGIN_FAMILIES);
      }
    }
    for (const family of PLUGIN_FAMILIES) {
      const spec = value[family];
      const at = [...path, family];
      if (typeof spec === "string") {
        if (spec.length === 0) {
          fail(problems, at, "a plugin name", spec);
          continue;
        }
      } else if (isPlainObject(spec)) {
        if (typeof spec.type !== "string" || spec.type.length === 0) {
          fail(problems, [...at, "type"], "a plugin name", spec.type);
          continue;
        }
      } else {
        fail(problems, at, "a plugin name or { type: name, ...options }", spec);
        continue;
      }
      try {
        buildPlugin(family, spec as PluginSpec);
      } catch (error) {
        problems.push(pluginProblem(at, spec, error));
      }
    }
  });
}

/** Turns a plugin registry error into a problem at the option's path when the message names one. */
function pluginProblem(at: Path, spec: unknown, error: unknown): Problem {
  const text = error instanceof Error ? error.message : String(error);
  const message = text.replace(PLUGIN_PREFIX, "");
  if (/^unknown \S+ plugin/.test(message)) {
    return { path: isPlainObject(spec) ? [...at, "type"] : at, message };
  }
  const option = /option "([^"]+)"/.exec(message)?.[1];
  if (option !== undefined && isPlainObject(spec) && Object.hasOwn(spec, option)) {
    const known = /unknown option "[^"]+"; known options: (.+)$/.exec(message)?.[1]?.split(", ");
    const near = known === undefined ? undefined : closest(option, known);
    const hint = near === undefined ? "" : ` (did you mean ${pathText([...at, near])}?)`;
    return { path: [...at, option], message: message + hint };
  }
  return { path: at, message };
}

const SCHEMA: Section = section({
  seed: intField(0, 0xffffffff),
  backend: enumField(["auto", "wasm", "webgpu", "tensorflow", "cpu"]),
  data: section({
    dataset: enumField(DATASET_NAMES),
    path: stringField(true, "a path"),
    synthetic: section({
      count: intField(2),
      seed: intField(0, 0xffffffff),
      size: intField(16, 1024),
      testFraction: numberField({ min: 0, max: 1, maxOpen: true }),
      cacheDir: stringField(true, "a path"),
    }),
    size: intField(16, 512),
    randAugment: randAugmentField(),
    hflip: numberField({ min: 0, max: 1 }),
    erasing: erasingField(),
    testCrops: enumField([1, 10]),
    sampler: enumField(["shuffle", "balanced"]),
    labelNoise: numberField({ min: 0, max: 0.9 }),
    prefetch: intField(0, 16),
    skipCorrupt: boolField(),
  }),
  model: section({
    backbone: enumField([...BACKBONES]),
    weights: stringField(true, "a path to a .pth/.pt/.safetensors file"),
    freezeStem: boolField(),
  }),
  method: methodField(),
  trainer: section({
    epochs: intField(1),
    batchSize: intField(1),
    lr: numberField({ min: 0, minOpen: true }),
    lrGamma: numberField({ min: 0, max: 1, minOpen: true }),
    dropLast: boolField(),
    evalEvery: intField(1),
    stemMode: enumField(["train", "eval"]),
    maxBatchesPerEpoch: intField(1, undefined, true),
  }),
  output: section({
    dir: stringField(false, "a path"),
    name: runNameField(),
    checkpointEvery: intField(1),
  }),
});

/** Every known field and section path, dotted, for suggestions. */
const KNOWN_PATHS: readonly string[] = (() => {
  const out: string[] = [];
  const walk = (node: Section, prefix: string) => {
    for (const [key, field] of Object.entries(node.fields)) {
      const path = prefix === "" ? key : `${prefix}.${key}`;
      out.push(path);
      if (field.kind === "section") walk(field, path);
    }
  };
  walk(SCHEMA, "");
  for (const family of PLUGIN_FAMILIES) out.push(`method.${family}`);
  return out;
})();

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_\s]/g, "");
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The closest candidate within a small edit distance, or undefined. */
function closest(key: string, candidates: readonly string[]): string | undefined {
  const wanted = normalizeKey(key);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const name = normalizeKey(candidate.slice(candidate.lastIndexOf(".") + 1));
    const distance = editDistance(wanted, name);
    if (distance <= Math.max(1, Math.floor(name.length / 4)) && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function unknownKey(problems: Problem[], parent: Path, key: string, siblings: readonly string[]): void {
  const path = [...parent, key];
  const prefix = pathText(parent);
  const near = closest(key, siblings);
  let suggestion = near === undefined ? undefined : prefix === "" ? near : `${prefix}.${near}`;
  if (suggestion === undefined) {
    // The key may belong to another section (`epochs` at the top level).
    suggestion = closest(key, KNOWN_PATHS.filter((p) => p !== prefix && !p.startsWith(`${prefix}.`)));
  }
  const hint = suggestion === undefined
    ? `; known keys${prefix === "" ? "" : ` of ${prefix}`}: ${siblings.join(", ")}`
    : ` (did you mean ${suggestion}?)`;
  problems.push({ path, message: `unknown key ${pathText(path)}${hint}`, keyProblem: true });
}

function checkSection(node: Section, value: Obj, path: Path, problems: Problem[]): void {
  const names = Object.keys(node.fields);
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(node.fields, key)) {
      if (path.length === 0 && key === "extends") {
        problems.push({
          path: [key],
          message: "extends: only a config file may extend another (loadConfigFile resolves it)",
          keyProblem: true,
        });
      } else unknownKey(problems, path, key, names);
    }
  }
  for (const [key, field] of Object.entries(node.fields)) {
    const child = value[key];
    const at = [...path, key];
    if (field.kind === "leaf") field.check(child, at, problems);
    else if (!isPlainObject(child)) fail(problems, at, "an object", child);
    else checkSection(field, child, at, problems);
  }
}

/** Copies a checked value in schema order (so that the YAML of a config is stable). */
function ordered(node: Section, value: Obj): Obj {
  const out: Obj = {};
  for (const [key, field] of Object.entries(node.fields)) {
    const child = value[key];
    if (field.kind === "section") put(out, key, ordered(field, child as Obj));
    else if (key === "erasing" && isPlainObject(child)) {
      put(out, key, { p: child.p, scale: clone(child.scale), ratio: clone(child.ratio) });
    } else if (key === "method") {
      const method: Obj = {};
      for (const family of PLUGIN_FAMILIES) {
        const spec = (child as Obj)[family];
        put(method, family, isPlainObject(spec) ? mergePluginSpec(spec.type, spec) : spec);
      }
      put(out, key, method);
    } else put(out, key, clone(child));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Layers: where each part of a config came from

/** A place in a source: the text shown in messages and an order key (offset in the file). */
interface Place {
  text: string | undefined;
  offset: number;
}

/** One source of config values: a file, an override, a value given in code. */
interface Layer {
  value: Obj;
  /** The source as shown in messages (`configs/x.yaml`, `override "a=b"`), if any. */
  source?: string;
  /** The position of a path in the source (`configs/x.yaml:4:3`), when known. */
  locate?: (path: Path) => Place;
}

/** Where a problem's path was set: the last layer that has it (or the longest part of it). */
function whereIs(
  layers: readonly Layer[],
  path: Path,
  fallback: string | undefined,
): Place & { layer: number } {
  for (let n = path.length; n >= 1; n--) {
    const prefix = path.slice(0, n);
    for (let i = layers.length - 1; i >= 0; i--) {
      if (hasPath(layers[i].value, prefix)) {
        const place = layers[i].locate?.(prefix) ?? { text: layers[i].source, offset: 0 };
        return { ...place, layer: i };
      }
    }
  }
  const last = layers.length - 1;
  return { text: last >= 0 ? layers[last].source : fallback, offset: 0, layer: Math.max(0, last) };
}

function formatProblem(problem: Problem, where: string | undefined): string {
  const body = problem.keyProblem || problem.path.length === 0
    ? problem.message
    : `${pathText(problem.path)}: ${problem.message}`;
  return where === undefined ? body : `${where}: ${body}`;
}

function validateLayers(layers: readonly Layer[], fallback?: string): RunConfig {
  let merged: unknown = DEFAULT_CONFIG;
  for (const layer of layers) merged = mergeAt(merged, layer.value, []);
  const problems: Problem[] = [];
  if (!isPlainObject(merged)) fail(problems, [], "an object of config sections", merged);
  else checkSection(SCHEMA, merged, [], problems);
  if (problems.length > 0) {
    // One line per problem, in the order of the sources and of the positions within each.
    const placed = problems.map((problem, index) => ({
      problem,
      index,
      place: whereIs(layers, problem.path, fallback),
    }));
    placed.sort((a, b) =>
      a.place.layer - b.place.layer || a.place.offset - b.place.offset || a.index - b.index
    );
    throw new ConfigError(placed.map(({ problem, place }) => formatProblem(problem, place.text)));
  }
  return ordered(SCHEMA, merged as Obj) as unknown as RunConfig;
}

/**
 * Options of {@linkcode validateConfig}.
 *
 * @example Name the file in every problem
 * ```ts
 * import { validateConfig } from "./config.ts";
 * try {
 *   validateConfig({ trainer: { epochs: 0 } }, { source: "my.yaml" });
 * } catch (error) {
 *   console.assert((error as Error).message.startsWith("my.yaml: "));
 * }
 * ```
 */
export interface ValidateConfigOptions {
  /**
   * Where the value came from (a file name), put in front of every problem.
   *
   * @default {undefined}
   */
  source?: string;
}

/**
 * Validates a partial config and fills in the defaults. Unknown keys, wrong types and out-of-range
 * values are all reported together in one {@linkcode ConfigError}, one problem per line, each with the
 * field's full path; plugin options are validated by the plugin registry.
 *
 * @example Defaults filled in
 * ```ts
 * import { validateConfig } from "./config.ts";
 *
 * const config = validateConfig({ trainer: { epochs: 3 }, method: { distribution: "label" } });
 * console.assert(config.trainer.batchSize === 64 && config.method.distribution === "label");
 * ```
 *
 * @example Problems are reported with their paths
 * ```ts
 * import { validateConfig } from "./config.ts";
 *
 * try {
 *   validateConfig({ trainer: { epoch: 3 } }, { source: "x.yaml" });
 * } catch (error) {
 *   console.log((error as Error).message); // x.yaml: unknown key trainer.epoch (did you mean trainer.epochs?)
 * }
 * ```
 */
export function validateConfig(value: unknown, options: ValidateConfigOptions = {}): RunConfig {
  const { source } = options;
  if (value === undefined || value === null) return validateLayers([], source);
  if (!isPlainObject(value)) {
    const body = `expected an object of config sections, got ${show(value)}`;
    throw new ConfigError(source === undefined ? body : `${source}: ${body}`);
  }
  return validateLayers([{ value, source }], source);
}

// ---------------------------------------------------------------------------------------------------
// YAML files, extends, presets

/**
 * The folder of the presets, `configs/` next to this module's folder.
 *
 * @example
 * ```ts
 * import { CONFIGS_DIR } from "./config.ts";
 * console.log(new URL("synthetic.yaml", CONFIGS_DIR).href);
 * ```
 */
export const CONFIGS_DIR: URL = new URL("../configs/", import.meta.url);

/** The keys a preset file may have at its top level. */
const TOP_KEYS: readonly string[] = [...Object.keys(SCHEMA.fields), "extends"];

const PRESET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function configsDirPath(): string {
  if (CONFIGS_DIR.protocol !== "file:") {
    throw new ConfigError(
      `presets are read from the configs/ folder, which is not a local folder here (${CONFIGS_DIR.href})`,
    );
  }
  return fileURLToPath(CONFIGS_DIR);
}

/** A path as shown in messages: relative to the working folder when it lies below it. */
function displayPath(path: string): string {
  if (!isAbsolute(path)) return path;
  try {
    const rel = relative(Deno.cwd(), path);
    return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? path : rel;
  } catch {
    return path;
  }
}

/**
 * The names of the presets in `configs/` (the run configs there, not the ablation files), sorted.
 *
 * @example
 * ```ts ignore
 * import { listPresets } from "./config.ts";
 * console.log(await listPresets()); // ["affectnet7", "rafdb", "sfew", "synthetic"]
 * ```
 */
export async function listPresets(): Promise<string[]> {
  const dir = configsDirPath();
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = /^(.+)\.ya?ml$/.exec(entry.name);
    if (!entry.isFile || match === null || !PRESET_NAME.test(match[1])) continue;
    let value: unknown;
    try {
      value = YAML.parse(await Deno.readTextFile(join(dir, entry.name)));
    } catch {
      continue;
    }
    if (
      value === null || (isPlainObject(value) && Object.keys(value).every((key) => TOP_KEYS.includes(key)))
    ) {
      names.push(match[1]);
    }
  }
  return names.sort();
}

/**
 * The file of a preset by name (`synthetic` -> `<configs>/synthetic.yaml`). An unknown name is a
 * {@linkcode ConfigError} that lists the presets.
 *
 * @example
 * ```ts ignore
 * import { presetPath } from "./config.ts";
 * console.log(await presetPath("rafdb")); // /path/to/ada-df/configs/rafdb.yaml
 * ```
 */
export async function presetPath(name: string): Promise<string> {
  const dir = configsDirPath();
  if (PRESET_NAME.test(name)) {
    for (const ext of [".yaml", ".yml"]) {
      const path = join(dir, `${name}${ext}`);
      try {
        if ((await Deno.stat(path)).isFile) return path;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  }
  let known = "";
  try {
    known = `; presets: ${(await listPresets()).join(", ")}`;
  } catch {
    // the listing is only a hint
  }
  throw new ConfigError(`unknown preset ${JSON.stringify(name)}${known}`);
}

function looksLikePath(text: string): boolean {
  return /[/\\]/.test(text) || /\.ya?ml$/i.test(text);
}

function nodeKey(node: unknown): unknown {
  return YAML.isScalar(node) ? node.value : node;
}

/** The line and column of a path in a parsed document (its key, or the deepest part that exists). */
function locateInDocument(doc: YAML.Document, path: Path): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = YAML.isNode(node) ? node.range?.[0] : undefined;
  for (const segment of path) {
    if (YAML.isMap(node)) {
      const pair = node.items.find((item) => String(nodeKey(item.key)) === String(segment));
      if (pair === undefined) break;
      if (YAML.isNode(pair.key) && pair.key.range) offset = pair.key.range[0];
      node = pair.value;
    } else if (YAML.isSeq(node) && typeof segment === "number") {
      const item = node.items[segment];
      if (!YAML.isNode(item)) break;
      if (item.range) offset = item.range[0];
      node = item;
    } else break;
  }
  return offset;
}

function position(counter: YAML.LineCounter, offset: number): string {
  const { line, col } = counter.linePos(offset);
  return `${line}:${col}`;
}

/** Reads one file and, through `extends`, the files below it: the layers, base first. */
async function readLayers(path: string, shown: string, chain: readonly string[]): Promise<Layer[]> {
  const absolute = resolve(path);
  if (chain.includes(absolute)) {
    const names = [...chain.slice(chain.indexOf(absolute)), absolute].map(displayPath);
    throw new ConfigError(`${shown}: extends cycle: ${names.join(" -> ")}`);
  }
  if (chain.length >= 32) throw new ConfigError(`${shown}: extends chain deeper than 32 files`);
  let text: string;
  try {
    text = await Deno.readTextFile(absolute);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new ConfigError(`${shown}: cannot read the config file: ${reason}`, { cause: error });
  }
  const counter = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) =>
        `${shown}:${position(counter, error.pos[0])}: YAML syntax error: ${error.message}`
      ),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (error) {
    throw new ConfigError(`${shown}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  const locate = (at: Path): Place => {
    const offset = locateInDocument(doc, at);
    return offset === undefined
      ? { text: shown, offset: 0 }
      : { text: `${shown}:${position(counter, offset)}`, offset };
  };
  if (value === null || value === undefined) value = {};
  if (!isPlainObject(value)) {
    throw new ConfigError(
      `${locate([]).text}: expected a mapping of config sections at the top level, got ${show(value)}`,
    );
  }
  const layer: Layer = { value, source: shown, locate };
  if (!Object.hasOwn(value, "extends")) return [layer];
  const base = value.extends;
  delete value.extends;
  if (typeof base !== "string" || base.trim() === "") {
    throw new ConfigError(
      `${locate(["extends"]).text}: extends: expected a preset name or a path relative to this file, got ${
        show(base)
      }`,
    );
  }
  let basePath: string;
  let baseShown: string;
  if (looksLikePath(base)) {
    basePath = resolve(dirname(absolute), base);
    baseShown = isAbsolute(base) || isAbsolute(shown) ? displayPath(basePath) : join(dirname(shown), base);
  } else {
    try {
      basePath = await presetPath(base);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`${locate(["extends"]).text}: extends: ${message}`, { cause: error });
    }
    baseShown = displayPath(basePath);
  }
  return [...await readLayers(basePath, baseShown, [...chain, absolute]), layer];
}

/**
 * Loads a YAML config file, following `extends` (a preset name or a path relative to the file: the
 * file's values go over those of the one it extends), and validates it. YAML syntax errors are
 * reported as `file:line:column`; invalid values with the position of their key.
 *
 * @example
 * ```ts ignore
 * import { loadConfigFile } from "./config.ts";
 *
 * // my.yaml:
 * //   extends: rafdb
 * //   trainer: { epochs: 10 }
 * const config = await loadConfigFile("my.yaml");
 * ```
 */
export async function loadConfigFile(path: string): Promise<RunConfig> {
  const layers = await readLayers(path, path, []);
  return validateLayers(layers, path);
}

// ---------------------------------------------------------------------------------------------------
// Overrides

const SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Parses `a.b.c=value` into a layer, checking the path against the config it applies to. */
function overrideLayer(text: string, current: unknown): Layer {
  const source = `override ${JSON.stringify(text)}`;
  const eq = text.indexOf("=");
  if (eq < 0) throw new ConfigError(`${source}: expected PATH=VALUE, such as trainer.epochs=3`);
  const keyText = text.slice(0, eq).trim();
  const valueText = text.slice(eq + 1);
  const path = keyText.split(".");
  if (keyText === "" || !path.every((segment) => SEGMENT.test(segment))) {
    throw new ConfigError(`${source}: bad path ${JSON.stringify(keyText)} (expected names joined by dots)`);
  }
  if (valueText.trim() === "") {
    throw new ConfigError(`${source}: no value after "=" (write null to clear a field)`);
  }
  const doc = YAML.parseDocument(valueText, { prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(`${source}: cannot parse the value: ${doc.errors[0].message}`);
  }
  const value = doc.toJS();
  if (path[0] === "extends") {
    throw new ConfigError(`${source}: extends: only a config file may extend another`);
  }
  // A field in the middle of the path must be a section (or a plugin, or null: they become sections).
  let node = current;
  for (let i = 0; i < path.length - 1; i++) {
    node = isPlainObject(node) ? node[path[i]] : undefined;
    const isPlugin = i === 1 && path[0] === "method";
    if (
      node === undefined || node === null || isPlainObject(node) || (isPlugin && typeof node === "string")
    ) {
      continue;
    }
    throw new ConfigError(
      `${source}: ${path.slice(0, i + 1).join(".")} is ${show(node)}, not a section: it has no field ${
        JSON.stringify(path[i + 1])
      }`,
    );
  }
  let patch: unknown = value;
  for (let i = path.length - 1; i >= 0; i--) {
    const level: Obj = {};
    put(level, path[i], patch);
    patch = level;
  }
  return { value: patch as Obj, source };
}

function overrideLayers(base: readonly Layer[], overrides: readonly string[]): Layer[] {
  const layers = [...base];
  const problems: string[] = [];
  for (const text of overrides) {
    let current: unknown = DEFAULT_CONFIG;
    for (const layer of layers) current = mergeAt(current, layer.value, []);
    try {
      layers.push(overrideLayer(text, current));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return layers;
}

/**
 * Options of {@linkcode applyOverrides}.
 *
 * @example Say where the base config came from
 * ```ts
 * import { applyOverrides, DEFAULT_CONFIG } from "./config.ts";
 * const config = applyOverrides(DEFAULT_CONFIG, ["trainer.epochs=2"], { source: "defaults" });
 * console.assert(config.trainer.epochs === 2);
 * ```
 */
export interface ApplyOverridesOptions {
  /**
   * Where the config came from, for problems that are not in an override.
   *
   * @default {undefined}
   */
  source?: string;
}

/**
 * Applies command-line overrides, `PATH=VALUE` with the value parsed as YAML (`3`, `label`, `null`,
 * `[0.02, 0.3]`, `{ type: rank, margin: 0.15 }`), in order, and validates the result. A bad path or
 * value is reported with the override that caused it.
 *
 * @example
 * ```ts
 * import { applyOverrides, DEFAULT_CONFIG } from "./config.ts";
 *
 * const config = applyOverrides(DEFAULT_CONFIG, [
 *   "trainer.epochs=3",
 *   "method.distribution=label",
 *   "data.erasing.scale=[0.02, 0.3]",
 * ]);
 * console.assert(config.trainer.epochs === 3 && config.data.erasing?.scale[1] === 0.3);
 * ```
 */
export function applyOverrides(
  config: RunConfig | PartialRunConfig,
  overrides: readonly string[],
  options: ApplyOverridesOptions = {},
): RunConfig {
  const { source } = options;
  if (!isPlainObject(config)) {
    throw new ConfigError(`applyOverrides: expected a config object, got ${show(config)}`);
  }
  return validateLayers(overrideLayers([{ value: config, source }], overrides), source);
}

// ---------------------------------------------------------------------------------------------------
// Resolution and output

/**
 * Options of {@linkcode resolveConfig}.
 *
 * @example The default preset with overrides
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * const config = await resolveConfig({
 *   preset: "synthetic",
 *   overrides: ["trainer.epochs=1", "model.backbone=tiny"],
 * });
 * console.assert(config.trainer.epochs === 1 && config.model.backbone === "tiny");
 * ```
 */
export interface ResolveConfigOptions {
  /**
   * A preset name (a file in `configs/`). Used when no `file` is given.
   *
   * @default {"synthetic"}
   */
  preset?: string;
  /**
   * A YAML config file (instead of a preset).
   *
   * @default {undefined}
   */
  file?: string;
  /**
   * The dataset's location, set as `data.path` (before the overrides).
   *
   * @default {undefined}
   */
  dataPath?: string;
  /**
   * Overrides `PATH=VALUE`, applied in order after everything else.
   *
   * @default {[]}
   */
  overrides?: readonly string[];
  /**
   * Reject a config whose dataset needs a location (any but `synthetic`) and has none.
   *
   * @default {true}
   */
  requireDataPath?: boolean;
}

/**
 * Resolves the config of a run: the preset (default `synthetic`) or file, then `dataPath` (as
 * `data.path`), then the overrides, validated together.
 *
 * @example The RAF-DB preset on a local copy, for a quick check
 * ```ts ignore
 * import { resolveConfig } from "./config.ts";
 *
 * const config = await resolveConfig({
 *   preset: "rafdb",
 *   dataPath: "/data/raf-basic",
 *   overrides: ["trainer.epochs=1", "trainer.maxBatchesPerEpoch=10"],
 * });
 * ```
 */
export async function resolveConfig(options: ResolveConfigOptions = {}): Promise<RunConfig> {
  const { file, dataPath, overrides = [], requireDataPath = true } = options;
  if (file !== undefined && options.preset !== undefined) {
    throw new ConfigError("give either a preset or a config file, not both");
  }
  let layers: Layer[];
  let source: string;
  if (file !== undefined) {
    layers = await readLayers(file, file, []);
    source = file;
  } else {
    const path = await presetPath(options.preset ?? "synthetic");
    source = displayPath(path);
    layers = await readLayers(path, source, []);
  }
  if (dataPath !== undefined) {
    if (typeof dataPath !== "string" || dataPath === "") {
      throw new ConfigError(`--data-path: expected a path, got ${show(dataPath)}`);
    }
    layers.push({ value: { data: { path: dataPath } }, source: "--data-path" });
  }
  const config = validateLayers(overrideLayers(layers, overrides), source);
  if (requireDataPath && config.data.dataset !== "synthetic" && config.data.path === null) {
    throw new ConfigError(
      `${source}: data.path: the ${config.data.dataset} dataset needs its location: pass --data-path or set data.path`,
    );
  }
  return config;
}

/**
 * Options of {@linkcode configToYaml}.
 *
 * @example A header comment on top of the YAML
 * ```ts
 * import { configToYaml, DEFAULT_CONFIG } from "./config.ts";
 * const text = configToYaml(DEFAULT_CONFIG, { header: "resolved config\nseed 0" });
 * console.assert(text.startsWith("# resolved config\n# seed 0\n"));
 * ```
 */
export interface ConfigToYamlOptions {
  /**
   * A comment put at the top of the file (each line becomes a `#` line).
   *
   * @default {undefined}
   */
  header?: string;
}

/**
 * The config as YAML, with lists, erasing and plugin options in flow style (`scale: [0.02, 0.25]`,
 * `miner: {type: epoch-pass, threshold: 0.7}`). Loading the text back gives an equal config.
 *
 * @example
 * ```ts
 * import YAML from "yaml";
 * import { configToYaml, DEFAULT_CONFIG, validateConfig } from "./config.ts";
 *
 * const text = configToYaml(DEFAULT_CONFIG, { header: "resolved config" });
 * const back = validateConfig(YAML.parse(text));
 * console.assert(back.data.erasing?.scale[1] === 0.25);
 * ```
 */
export function configToYaml(config: RunConfig, options: ConfigToYamlOptions = {}): string {
  const doc = new YAML.Document(config);
  YAML.visit(doc, {
    Seq(_key, node) {
      node.flow = true;
    },
  });
  for (const path of [["data", "erasing"], ...PLUGIN_FAMILIES.map((family) => ["method", family])]) {
    const node = doc.getIn(path, true);
    if (YAML.isMap(node)) node.flow = true;
  }
  if (options.header !== undefined) {
    doc.commentBefore = options.header.split("\n").map((line) => (line === "" ? "" : ` ${line}`)).join("\n");
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
