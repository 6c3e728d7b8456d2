/**
 * The run configuration: a typed schema with defaults, YAML loading with validation, `extends` between
 * files, plugin modules loaded by a file's `plugins` key, command-line overrides (`trainer.epochs=3`)
 * and the presets in `configs/` (each extends `configs/base.yaml`, the recipe written out in full).
 *
 * Every field is optional in a file; missing fields take the defaults of {@linkcode DEFAULT_CONFIG}.
 * Types, ranges and defaults are declared once, in a valibot schema (`_config_schema.ts`; the
 * interfaces below are checked against it at compile time, and `deno task schema` publishes it as
 * `configs/config.schema.json` for YAML editors); each plugin's options are checked by the schema it
 * was registered with, and the dataset kinds are the registered dataset types. Unknown keys (with a
 * suggestion), wrong types and out-of-range values are rejected with the field's full path and where
 * it came from (`configs/x.yaml:4:3: trainer.epochs: expected an integer in [1, 100000], got "ten"`); all problems
 * are reported together, one per line, in a {@linkcode ConfigError}.
 *
 * @example Resolve the default preset with an override
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveConfig } from "./config.ts";
 *
 * const config = await resolveConfig({ overrides: ["trainer.epochs=1"] });
 * assert.deepEqual([config.trainer.epochs, config.method.distribution], [1, "fused"]);
 * ```
 *
 * @module
 */
import * as v from "valibot";
import YAML from "yaml";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BackboneName } from "../backbones/resnet.ts";
import type { BackendName } from "../engine/backend.ts";
import { datasetTypes } from "../datasets/open.ts";
import { FileReadError, readTextFileBounded } from "../formats/read.ts";
import {
  PLUGIN_FAMILIES,
  type PluginFamily,
  type PluginOptions,
  type PluginSpec,
  pluginSpecIssues,
} from "../strategies/registry.ts";
import {
  closest,
  isPlainObject,
  locateInDocument,
  objectEntries,
  type Path,
  pathText,
  position,
  type Problem,
  recursiveAliasProblem,
  runConfigSchema,
  schemaProblems,
  unknownKeys,
} from "./_config_schema.ts";
import { show } from "../engine/_show.ts";
import { type ReferenceSide, resolveReferenceSwitch } from "./reference_switch.ts";

// ---------------------------------------------------------------------------------------------------
// Types

/**
 * The dataset kinds a config can select: `synthetic` (the built-in set) and every type registered with
 * `registerDatasetType` (the built-in loaders and any a plugin module adds).
 */
export type DatasetName =
  | "synthetic"
  | "rafdb"
  | "affectnet7"
  | "affectnet8"
  | "sfew"
  | "folder"
  | "fer2013"
  | (string & Record<never, never>);

/**
 * The dataset kinds a config accepts now, in documentation order: `synthetic`, then the registered
 * dataset types (built-ins first, then those registered by plugin modules).
 *
 * @example List the dataset kinds in a help text
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetNames } from "./config.ts";
 * const help = `--dataset: one of ${datasetNames().join(", ")}`;
 * assert.ok(help.startsWith("--dataset: one of synthetic, "));
 * assert.ok(datasetNames().includes("fer2013"));
 * ```
 */
export function datasetNames(): DatasetName[] {
  return ["synthetic", ...datasetTypes().filter((type) => type !== "synthetic")];
}

/** How training batches are drawn: plain shuffling or class-balanced down-sampling each epoch. */
export type SamplerName = "shuffle" | "balanced";

/** How the frozen stem runs while training: with batch statistics (the reference) or running ones. */
export type StemMode = "train" | "eval";

/**
 * Which of the two sources a run follows where they differ: the paper (`paper`) or the authors' code
 * (`code`). The switch sets the fields of `REFERENCE_DEPARTURES` (`reference_switch.ts`) that no later
 * setting gives.
 */
export type ReferenceMode = ReferenceSide;

/**
 * Where the logged training accuracy comes from: the target branch in the training steps (`step`), or
 * the auxiliary branch in the mining pass, evaluation mode, after the epoch's updates, every crop a
 * sample (`mining`, the reference's; a run without a mining pass, with an online miner or one branch,
 * logs `step`'s).
 */
export type TrainAccuracySource = "step" | "mining";

/** The built-in synthetic set (used when `data.dataset` is `synthetic`). */
export interface SyntheticDataConfig {
  /** Number of images, train and test together (integer 2..1,000,000). */
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

/** Random erasing at training time. */
export interface ErasingConfig {
  /** Probability of erasing a rectangle (0..1). */
  p: number;
  /** Range of the erased area as a fraction of the image, [min, max] with 0 < min <= max <= 1. */
  scale: [number, number];
  /** Range of the rectangle's aspect ratio, [min, max] with 0 < min <= max <= 100. */
  ratio: [number, number];
}

/** Where the images come from and how they are augmented. */
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
  /**
   * Crops per training image: 1, or 10 (TenCrop after resizing the shorter side to `size * 256 / 224`,
   * every crop augmented, the ten stacked as rows of the batch with the label repeated: the reference's
   * SFEW training).
   */
  trainCrops: 1 | 10;
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

/** The network. */
export interface ModelConfig {
  /** The backbone. */
  backbone: BackboneName;
  /** A .pth/.pt/.safetensors file that initialises the stem and both branches; null: random init. */
  weights: string | null;
  /** Freeze the stem (conv1..layer1), as the reference does. */
  freezeStem: boolean;
  /**
   * Load `weights` partially: whatever matches, reporting the rest. By default every stem and branch
   * tensor must be in the file with its shape (the reference's `strict=True`), else the run stops.
   */
  partialWeights: boolean;
  /** 2: the Ada-DF dual-branch model; 1: the plain single-branch baseline (one branch, cross-entropy). */
  branches: 1 | 2;
}

/** The plugin choices, one per family: a plugin name or `{ type: name, ...options }`. */
export type MethodConfig = { [F in PluginFamily]: PluginSpec };

/** The optimisation loop. */
export interface TrainerConfig {
  /** Number of epochs (integer 1..100,000). */
  epochs: number;
  /** Batch size (integer 1..65,536). */
  batchSize: number;
  /** Adam's learning rate, in (0, 1]. */
  lr: number;
  /** ExponentialLR factor applied after every epoch, in (0, 1]. */
  lrGamma: number;
  /** Drop the last incomplete training batch. */
  dropLast: boolean;
  /** Evaluate on the test split every this many epochs (integer 1..100,000). */
  evalEvery: number;
  /** How the frozen stem runs while training. */
  stemMode: StemMode;
  /** Stop each epoch after this many batches (integer 1..10^9), or null for whole epochs. */
  maxBatchesPerEpoch: number | null;
  /** The summary's last-k protocol: mean test accuracy of the last k evaluated epochs (integer 1..100000). */
  meanOfLast: number;
  /** Drop the last incomplete batch of the mining pass too (the reference mines with its training loader). */
  miningDropLast: boolean;
  /** Where the logged training accuracy comes from. */
  trainAccuracy: TrainAccuracySource;
}

/** Where the run folder goes. */
export interface OutputConfig {
  /** Parent folder of the run folders. */
  dir: string;
  /** The run folder's name; null: `<dataset>-<method>-<timestamp>`. */
  name: string | null;
  /** Write a checkpoint every this many epochs (integer 1..100,000). */
  checkpointEvery: number;
  /**
   * Also write a mid-epoch checkpoint (`partial.safetensors`) every this many training steps (integer
   * >= 1); null: not by steps.
   */
  checkpointSteps: number | null;
  /**
   * Also write a mid-epoch checkpoint once this many minutes have passed since the last checkpoint (a
   * number in (0, 10080]); null: not by time.
   */
  checkpointMinutes: number | null;
}

/** A fully resolved run configuration: every field present and valid. */
export interface RunConfig {
  /** Seed of everything random in the run (integer 0..2^32-1). */
  seed: number;
  /** The TensorFlow.js backend. */
  backend: BackendName;
  /** CPU threads of the `native` backend (oneDNN); null: all cores. Other backends ignore it. */
  threads: number | null;
  /** Paper or the authors' code where they differ (resolved into the fields it sets). */
  reference: ReferenceMode;
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
 */
export type PartialMethodConfig = { [F in PluginFamily]?: PluginSpec | PluginOptions };

/** A run configuration as written in a file: every field optional. */
export interface PartialRunConfig {
  /** See {@linkcode RunConfig.seed}. */
  seed?: number;
  /** See {@linkcode RunConfig.backend}. */
  backend?: BackendName;
  /** See {@linkcode RunConfig.threads}. */
  threads?: number | null;
  /** See {@linkcode RunConfig.reference}. */
  reference?: ReferenceMode;
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
 * import assert from "node:assert/strict";
 * import { ConfigError, validateConfig } from "./config.ts";
 *
 * try {
 *   validateConfig({ trainer: { epochs: 0 } }, { source: "my.yaml" });
 * } catch (error) {
 *   assert.ok(error instanceof ConfigError);
 *   assert.deepEqual((error as ConfigError).problems, ["my.yaml: trainer.epochs: expected an integer in [1, 100000], got 0"]);
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
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG } from "./config.ts";
 * assert.ok(DEFAULT_CONFIG.trainer.epochs === 75);
 * ```
 */
export const DEFAULT_CONFIG: Readonly<RunConfig> = deepFreeze(v.parse(runConfigSchema(["synthetic"]), {}));

/** True when A and B are assignable both ways. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** The schema's output type is the documented {@linkcode RunConfig}: a compile-time check. */
const SCHEMA_IS_RUN_CONFIG: Same<v.InferOutput<ReturnType<typeof runConfigSchema>>, RunConfig> = true;
void SCHEMA_IS_RUN_CONFIG;

// ---------------------------------------------------------------------------------------------------
// Plain-object helpers

type Obj = Record<string, unknown>;

/** Sets an own, enumerable property (safe for keys such as `__proto__` that come from YAML). */
function put(target: Obj, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Nesting deeper than this is refused (no config field is more than a few levels deep). */
const MAX_DEPTH = 64;

/** A deep copy of plain objects and lists; a value that contains itself or nests absurdly deep is refused. */
function clone<T>(value: T, path: Path = [], ancestors: object[] = []): T {
  if (!Array.isArray(value) && !isPlainObject(value)) return value;
  if (ancestors.includes(value as object)) {
    throw new ConfigError(`${pathText(path) || "the config"}: the value contains itself (a cycle)`);
  }
  if (ancestors.length >= MAX_DEPTH) {
    throw new ConfigError(`${pathText(path)}: nested more than ${MAX_DEPTH} levels deep`);
  }
  const inner = [...ancestors, value as object];
  if (Array.isArray(value)) return value.map((item, i) => clone(item, [...path, i], inner)) as T;
  const out: Obj = {};
  for (const [key, child] of Object.entries(value as Obj)) put(out, key, clone(child, [...path, key], inner));
  return out as T;
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
  if (!isPlainObject(patch)) return clone(patch, path);
  // An object over a scalar or null (`erasing: null`, then `erasing: { p: 0.3 }`) builds on the default.
  if (!isPlainObject(base)) base = valueAt(DEFAULT_CONFIG, path);
  if (!isPlainObject(base)) return clone(patch, path);
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
 * import assert from "node:assert/strict";
 * import { mergeConfig, validateConfig } from "./config.ts";
 *
 * const base = { trainer: { epochs: 3 }, method: { miner: { type: "epoch-pass", threshold: 0.7 } } };
 * const merged = mergeConfig(base, { method: { distribution: "label", miner: { threshold: 0.5 } } });
 * const config = validateConfig(merged);
 * assert.ok(config.trainer.epochs === 3);
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

let cachedSchema: { datasets: string; schema: ReturnType<typeof runConfigSchema> } | undefined;

/** The config schema for the dataset types registered now (rebuilt when one is registered). */
function configSchema(): ReturnType<typeof runConfigSchema> {
  const names = datasetNames();
  const key = names.join("\n");
  if (cachedSchema?.datasets !== key) cachedSchema = { datasets: key, schema: runConfigSchema(names) };
  return cachedSchema.schema;
}

/** The problems the plugin registry finds in a family's plugin spec (options against its schema). */
function pluginProblems(family: PluginFamily, spec: unknown, problems: Problem[]): void {
  const at: Path = ["method", family];
  for (const issue of pluginSpecIssues(family, spec)) {
    let message = issue.message;
    if (issue.unknown?.kind === "option") {
      const near = closest(String(issue.path[0]), issue.unknown.known);
      if (near !== undefined) message += ` (did you mean ${pathText([...at, near])}?)`;
    }
    problems.push({ path: [...at, ...issue.path], message });
  }
}

/**
 * Validates a complete (merged) config: unknown keys, every field through the schema, the plugins
 * through the registry. Returns the config in schema order, or the problems.
 */
function checkConfig(value: Obj): { config?: RunConfig; problems: Problem[] } {
  const schema = configSchema();
  const problems: Problem[] = [];
  unknownKeys(schema, value, [], problems, {
    extends: "extends: only a config file may extend another (loadConfigFile resolves it)",
    plugins:
      "plugins: only a config file loads plugin modules this way (or call loadPlugins, or pass --plugin)",
  });
  const { output, problems: fieldProblems, paths: seen } = schemaProblems(schema, value);
  problems.push(...fieldProblems);
  const method = value.method;
  if (isPlainObject(method)) {
    for (const family of PLUGIN_FAMILIES) {
      // A spec of the wrong shape has its problem already.
      if (!seen.has(JSON.stringify(["method", family]))) pluginProblems(family, method[family], problems);
    }
  }
  if (problems.length > 0 || output === undefined) return { problems };
  const config = output;
  const ordered: Obj = {};
  for (const family of PLUGIN_FAMILIES) {
    const spec = config.method[family];
    put(ordered, family, isPlainObject(spec) ? mergePluginSpec(spec.type, spec) : spec);
  }
  config.method = ordered as MethodConfig;
  return { config, problems };
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
  if (isPlainObject(merged)) merged = resolveReferenceSwitch(merged, layers.map((layer) => layer.value));
  const { config, problems } = isPlainObject(merged)
    ? checkConfig(merged)
    : { problems: [{ path: [], message: `expected an object of config sections, got ${show(merged)}` }] };
  if (config === undefined || problems.length > 0) {
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
  return config;
}

/** Options of {@linkcode validateConfig}. */
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
 * import assert from "node:assert/strict";
 * import { validateConfig } from "./config.ts";
 *
 * const config = validateConfig({ trainer: { epochs: 3 }, method: { distribution: "label" } });
 * assert.ok(config.trainer.batchSize === 64 && config.method.distribution === "label");
 * ```
 *
 * @example Problems are reported with their paths
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "./config.ts";
 *
 * assert.throws(
 *   () => validateConfig({ trainer: { epoch: 3 } }, { source: "x.yaml" }),
 *   { message: "x.yaml: unknown key trainer.epoch (did you mean trainer.epochs?)" },
 * );
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
 * import assert from "node:assert/strict";
 * import { CONFIGS_DIR } from "./config.ts";
 * const preset = new URL("synthetic.yaml", CONFIGS_DIR);
 * assert.ok(preset.href.endsWith("/configs/synthetic.yaml"));
 * assert.ok((await Deno.stat(preset)).isFile);
 * ```
 */
export const CONFIGS_DIR: URL = new URL("../configs/", import.meta.url);

/** The keys a preset file may have at its top level. */
function topKeys(): string[] {
  return [...Object.keys(objectEntries(configSchema()) ?? {}), "extends", "plugins"];
}

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
      value === null || (isPlainObject(value) && Object.keys(value).every((key) => topKeys().includes(key)))
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

/** The largest config file read (1 MiB; the presets are a few KiB). */
const MAX_CONFIG_BYTES = 2 ** 20;

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
    // Bounded: a FIFO would block, /dev/zero never end, a huge file exhaust memory.
    text = await readTextFileBounded(absolute, { maxBytes: MAX_CONFIG_BYTES, what: "config file" });
  } catch (error) {
    // "cannot read the config file: ...", "the config file is larger than ..." say what it is.
    if (error instanceof FileReadError && !error.notFound && !error.reason.startsWith("expected")) {
      throw new ConfigError(`${shown}: ${error.reason}`, { cause: error });
    }
    const reason = error instanceof FileReadError
      ? error.notFound ? "no such file" : error.reason
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
  const value = documentValue(doc, shown, counter) ?? {};
  const locate = (at: Path): Place => {
    const offset = locateInDocument(doc, at);
    return offset === undefined
      ? { text: shown, offset: 0 }
      : { text: `${shown}:${position(counter, offset)}`, offset };
  };
  if (!isPlainObject(value)) {
    throw new ConfigError(
      `${locate([]).text}: expected a mapping of config sections at the top level, got ${show(value)}`,
    );
  }
  const layer: Layer = { value, source: shown, locate };
  const plugins = pluginsOfFile(value, locate, absolute);
  if (!Object.hasOwn(value, "extends")) {
    await importPlugins(plugins);
    return [layer];
  }
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
  const layers = [...await readLayers(basePath, baseShown, [...chain, absolute]), layer];
  await importPlugins(plugins);
  return layers;
}

// ---------------------------------------------------------------------------------------------------
// Plugin modules

/** The modules loaded so far (file URLs or other specifiers), in load order. */
const LOADED_PLUGINS: string[] = [];

/** A plugin module as an import specifier: a URL or `npm:` specifier as is, a path from `base`. */
function pluginSpecifier(module: string, base: string): string {
  if (/^[a-z][a-z0-9+.-]+:/i.test(module)) return module;
  return pathToFileURL(resolve(base, module)).href;
}

interface PendingPlugin {
  specifier: string;
  /** What to call it in messages: `file:line:col: plugins[0]`, or the module as given. */
  where: string;
}

/** Takes `plugins` off a file's value: the modules to import, resolved from the file's folder. */
function pluginsOfFile(value: Obj, locate: (path: Path) => Place, file: string): PendingPlugin[] {
  if (!Object.hasOwn(value, "plugins")) return [];
  const list = value.plugins;
  delete value.plugins;
  const problems: string[] = [];
  if (!Array.isArray(list)) {
    problems.push(`${locate(["plugins"]).text}: plugins: expected a list of module paths, got ${show(list)}`);
  }
  const pending: PendingPlugin[] = [];
  for (const [i, module] of (Array.isArray(list) ? list : []).entries()) {
    const at = locate(["plugins", i]).text;
    if (typeof module !== "string" || module.trim() === "") {
      problems.push(
        `${at}: plugins[${i}]: expected a module path (relative to this file), got ${show(module)}`,
      );
    } else pending.push({ specifier: pluginSpecifier(module, dirname(file)), where: `${at}: plugins[${i}]` });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return pending;
}

async function importPlugins(pending: readonly PendingPlugin[]): Promise<void> {
  for (const { specifier, where } of pending) {
    try {
      await import(specifier);
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
      throw new ConfigError(`${where}: cannot import ${specifier}: ${reason}`, { cause: error });
    }
    if (!LOADED_PLUGINS.includes(specifier)) LOADED_PLUGINS.push(specifier);
  }
}

/**
 * Imports plugin modules: files (paths relative to `from`, default the working folder), `file:` or
 * `https:` URLs, or `npm:` specifiers. A plugin module registers plugins (`registerPlugin`) or dataset
 * types (`registerDatasetType`) when it is imported; configs validated after that can select them. A
 * config file does the same with its `plugins` key (paths relative to the file). Returns the modules'
 * specifiers; a module that fails to import is a {@linkcode ConfigError}.
 *
 * @example Load a plugin module before resolving a config that uses it
 * ```ts ignore
 * import { loadPlugins, resolveConfig } from "./config.ts";
 * await loadPlugins(["./my_plugins.ts"]);
 * const config = await resolveConfig({ overrides: ["method.distribution=smoothed"] });
 * ```
 */
export async function loadPlugins(modules: readonly string[], from: string = Deno.cwd()): Promise<string[]> {
  const pending = modules.map((module) => {
    if (typeof module !== "string" || module.trim() === "") {
      throw new ConfigError(`plugin module: expected a module path, got ${show(module)}`);
    }
    return { specifier: pluginSpecifier(module, from), where: `plugin module ${JSON.stringify(module)}` };
  });
  await importPlugins(pending);
  return pending.map((plugin) => plugin.specifier);
}

/**
 * The plugin modules imported so far in this process (by {@linkcode loadPlugins} or a config file's
 * `plugins` key), as specifiers, in load order. A run folder's `config.yaml` lists them, so that
 * resuming or evaluating the run loads them again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadedPlugins } from "./config.ts";
 * assert.ok(Array.isArray(loadedPlugins()));
 * ```
 */
export function loadedPlugins(): string[] {
  return [...LOADED_PLUGINS];
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

/**
 * The JavaScript value of a parsed YAML document, refusing a recursive alias (its value would contain
 * itself) and naming `where` (and the line, with `counter`) in either failure.
 */
function documentValue(doc: YAML.Document, where: string, counter?: YAML.LineCounter): unknown {
  const recursive = recursiveAliasProblem(doc, where, counter);
  if (recursive !== undefined) throw new ConfigError(recursive);
  try {
    return doc.toJS();
  } catch (error) {
    throw new ConfigError(`${where}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

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
  const value = documentValue(doc, source);
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

/** Options of {@linkcode applyOverrides}. */
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
 * import assert from "node:assert/strict";
 * import { applyOverrides, DEFAULT_CONFIG } from "./config.ts";
 *
 * const config = applyOverrides(DEFAULT_CONFIG, [
 *   "trainer.epochs=3",
 *   "method.distribution=label",
 *   "data.erasing.scale=[0.02, 0.3]",
 * ]);
 * assert.ok(config.trainer.epochs === 3 && config.data.erasing?.scale[1] === 0.3);
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

/** Options of {@linkcode resolveConfig}. */
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

/** Options of {@linkcode configToYaml}. */
export interface ConfigToYamlOptions {
  /**
   * A comment put at the top of the file (each line becomes a `#` line).
   *
   * @default {undefined}
   */
  header?: string;
  /**
   * Plugin modules to list under `plugins` (absolute specifiers: loading the text back imports them);
   * none: no `plugins` key.
   *
   * @default {[]}
   */
  plugins?: readonly string[];
}

/**
 * The config as YAML, with lists, erasing and plugin options in flow style (`scale: [0.02, 0.25]`,
 * `miner: {type: epoch-pass, threshold: 0.7}`). Loading the text back gives an equal config.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import YAML from "yaml";
 * import { configToYaml, DEFAULT_CONFIG, validateConfig } from "./config.ts";
 *
 * const text = configToYaml(DEFAULT_CONFIG, { header: "resolved config" });
 * const back = validateConfig(YAML.parse(text));
 * assert.ok(back.data.erasing?.scale[1] === 0.25);
 * ```
 */
export function configToYaml(config: RunConfig, options: ConfigToYamlOptions = {}): string {
  const { plugins = [] } = options;
  const doc = new YAML.Document(plugins.length > 0 ? { plugins: [...plugins], ...config } : config);
  YAML.visit(doc, {
    Seq(_key, node) {
      node.flow = true;
    },
  });
  const list = doc.get("plugins", true);
  if (YAML.isSeq(list)) list.flow = false;
  for (const path of [["data", "erasing"], ...PLUGIN_FAMILIES.map((family) => ["method", family])]) {
    const node = doc.getIn(path, true);
    if (YAML.isMap(node)) node.flow = true;
  }
  if (options.header !== undefined) {
    doc.commentBefore = options.header.split("\n").map((line) => (line === "" ? "" : ` ${line}`)).join("\n");
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
