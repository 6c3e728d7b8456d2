/**
 * The plugin registry: config names to factories, for every plugin family, so that a YAML file can
 * select plugins (`distribution: label`, `regularizer: { type: rank, margin: 0.15 }`). Library users
 * may also call the factories directly; the registry exists for configs and for user-defined plugins
 * that should be selectable by name.
 *
 * @module
 */
import {
  type Attention,
  NO_ATTENTION_OPTIONS,
  noAttention,
  SIGMOID_ATTENTION_OPTIONS,
  sigmoidAttention,
  type SigmoidAttentionOptions,
} from "./attention.ts";
import {
  CLASS_DISTRIBUTION_OPTIONS,
  classDistribution,
  type DistributionSource,
  FUSED_DISTRIBUTION_OPTIONS,
  fusedDistribution,
  LABEL_DISTRIBUTION_OPTIONS,
  labelDistribution,
  ONEHOT_DISTRIBUTION_OPTIONS,
  onehotDistribution,
} from "./distribution.ts";
import {
  type ClassDistributionMiner,
  EPOCH_PASS_MINER_OPTIONS,
  epochPassMiner,
  ONLINE_MINER_OPTIONS,
  onlineMiner,
} from "./miner.ts";
import {
  ADAPTIVE_NORMALIZER_OPTIONS,
  adaptiveNormalizer,
  FIXED_NORMALIZER_OPTIONS,
  fixedNormalizer,
  type WeightNormalizer,
} from "./normalizer.ts";
import {
  NO_REGULARIZER_OPTIONS,
  noRegularizer,
  RANK_REGULARIZER_OPTIONS,
  rankRegularizer,
  type Regularizer,
} from "./regularizer.ts";
import {
  CONSTANT_SCHEDULE_OPTIONS,
  constantSchedule,
  type LossSchedule,
  RAMP_SCHEDULE_OPTIONS,
  rampSchedule,
} from "./schedule.ts";
import { checkOptions, optionNames, type OptionsSchema } from "./options.ts";

export type { OptionsIssue, OptionsResult, OptionsSchema } from "./options.ts";

/** The plugin families and the interface of each: also the shape of a full plugin set. */
export interface PluginSet {
  /** Distribution source: the target branch's supervision. */
  distribution: DistributionSource;
  /** Class-distribution miner. */
  miner: ClassDistributionMiner;
  /** Attention: head scores to branch weights. */
  attention: Attention;
  /** Weight normaliser: averaged attention to fusion weights. */
  normalizer: WeightNormalizer;
  /** Regulariser: an extra loss term. */
  regularizer: Regularizer;
  /** Loss schedule: the terms' weights per epoch. */
  schedule: LossSchedule;
}

/** The name of a plugin family, which is also its field in a plugin config. */
export type PluginFamily = keyof PluginSet;

/**
 * The plugin families, in config order.
 *
 * @example Read the plugin names of a built set
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildPlugins, PLUGIN_FAMILIES } from "./registry.ts";
 * const plugins = buildPlugins({ distribution: "label" });
 * const names = PLUGIN_FAMILIES.map((family) => plugins[family].name);
 * assert.deepEqual(names, ["label", "epoch-pass", "sigmoid", "adaptive", "rank", "ramp"]);
 * ```
 */
export const PLUGIN_FAMILIES: readonly PluginFamily[] = Object.freeze([
  "distribution",
  "miner",
  "attention",
  "normalizer",
  "regularizer",
  "schedule",
]);

/** A plugin's options as they come from a config. */
export type PluginOptions = Record<string, unknown>;

/** A factory: builds a plugin of family `F` from its options (it validates them). */
export type PluginFactory<F extends PluginFamily> = (options: PluginOptions) => PluginSet[F];

/** A plugin in a config: its name, or `{ type: name, ...options }`. */
export type PluginSpec = string | ({ type: string } & PluginOptions);

/**
 * The plugin a spec names: the string itself, or its `type`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pluginName } from "./registry.ts";
 * assert.ok(pluginName("fused") === "fused");
 * assert.ok(pluginName({ type: "fused", stopGradient: true }) === "fused");
 * ```
 */
export function pluginName(spec: PluginSpec): string {
  return typeof spec === "string" ? spec : spec.type;
}

/** A plugin config: one spec per family; a missing family takes the Ada-DF default. */
export type PluginConfig = { [F in PluginFamily]?: PluginSpec };

/** A registered plugin: its factory and, when it declares one, the schema of its options. */
interface Entry<F extends PluginFamily> {
  factory: PluginFactory<F>;
  schema?: OptionsSchema;
}

type Registry = { [F in PluginFamily]: Map<string, Entry<F>> };

function entry<F extends PluginFamily>(factory: PluginFactory<F>, schema: OptionsSchema<object>): Entry<F> {
  return { factory, schema: schema as OptionsSchema };
}

const registry: Registry = {
  distribution: new Map([
    ["onehot", entry((o) => onehotDistribution(o as Record<string, never>), ONEHOT_DISTRIBUTION_OPTIONS)],
    ["label", entry((o) => labelDistribution(o), LABEL_DISTRIBUTION_OPTIONS)],
    ["class", entry((o) => classDistribution(o as Record<string, never>), CLASS_DISTRIBUTION_OPTIONS)],
    ["fused", entry((o) => fusedDistribution(o), FUSED_DISTRIBUTION_OPTIONS)],
  ]),
  miner: new Map([
    ["epoch-pass", entry((o) => epochPassMiner(o), EPOCH_PASS_MINER_OPTIONS)],
    ["online", entry((o) => onlineMiner(o), ONLINE_MINER_OPTIONS)],
  ]),
  attention: new Map([
    ["sigmoid", entry((o) => sigmoidAttention(o as SigmoidAttentionOptions), SIGMOID_ATTENTION_OPTIONS)],
    ["none", entry((o) => noAttention(o as Record<string, never>), NO_ATTENTION_OPTIONS)],
  ]),
  normalizer: new Map([
    ["adaptive", entry((o) => adaptiveNormalizer(o), ADAPTIVE_NORMALIZER_OPTIONS)],
    ["fixed", entry((o) => fixedNormalizer(o), FIXED_NORMALIZER_OPTIONS)],
  ]),
  regularizer: new Map([
    ["rank", entry((o) => rankRegularizer(o), RANK_REGULARIZER_OPTIONS)],
    ["none", entry((o) => noRegularizer(o as Record<string, never>), NO_REGULARIZER_OPTIONS)],
  ]),
  schedule: new Map([
    ["ramp", entry((o) => rampSchedule(o), RAMP_SCHEDULE_OPTIONS)],
    ["constant", entry((o) => constantSchedule(o), CONSTANT_SCHEDULE_OPTIONS)],
  ]),
};

function checkFamily(owner: string, family: unknown): PluginFamily {
  if (typeof family !== "string" || !(PLUGIN_FAMILIES as readonly string[]).includes(family)) {
    throw new Error(
      `${owner}: unknown plugin family ${JSON.stringify(family)}; known families: ${
        PLUGIN_FAMILIES.join(", ")
      }`,
    );
  }
  return family as PluginFamily;
}

/** Options of {@linkcode registerPlugin}. */
export interface RegisterPluginOptions {
  /**
   * Replace a plugin already registered under the name (built-ins included) instead of failing.
   *
   * @default {false}
   */
  replace?: boolean;
  /**
   * The schema of the plugin's options (any Standard Schema v1 object: valibot, zod, ...). Configs are
   * then checked against it without building the plugin, every problem at its option's path, and the
   * factory receives the schema's output (defaults filled in). Without one, a config is checked by
   * building the plugin, and the factory receives the options as written.
   *
   * @default {undefined}
   */
  schema?: OptionsSchema;
}

/**
 * Registers a plugin factory under a config name, for configs to select it like a built-in. With a
 * `schema`, configs are checked against the plugin's options schema.
 *
 * @example A distribution source selectable as `distribution: smoothed`
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { buildPlugins, registerPlugin } from "./registry.ts";
 *
 * registerPlugin("distribution", "smoothed", (options) => {
 *   const eps = (options.epsilon as number | undefined) ?? 0.1;
 *   return {
 *     name: "smoothed",
 *     targets: ({ labels, auxProbs }) => {
 *       const c = auxProbs.shape[1];
 *       return tf.oneHot(labels, c).toFloat().mul(1 - eps).add(eps / c) as tf.Tensor2D;
 *     },
 *   };
 * });
 * const plugins = buildPlugins({ distribution: { type: "smoothed", epsilon: 0.2 } });
 * assert.equal(plugins.distribution.name, "smoothed");
 * const targets = plugins.distribution.targets({
 *   auxLogits: tf.zeros([1, 2]), auxProbs: tf.fill([1, 2], 0.5),
 *   labels: tf.tensor1d([0], "int32"), weights: tf.tensor1d([1]), classDistributions: tf.eye(2),
 * });
 * assert.deepEqual(targets.arraySync()[0].map((v) => Math.round(v * 1e4) / 1e4), [0.9, 0.1]);
 * ```
 *
 * @example With an options schema (valibot here; zod or any Standard Schema works the same)
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 * import { buildPlugin, registerPlugin } from "./registry.ts";
 *
 * const schema = v.object({ alpha: v.optional(v.pipe(v.number(), v.minValue(0)), 0.5) });
 * registerPlugin("schedule", "half", (o) => {
 *   const { alpha } = o as { alpha: number };
 *   return { name: "half", weights: () => ({ alpha1: alpha, alpha2: 1 - alpha }) };
 * }, { schema });
 * assert.equal(buildPlugin("schedule", "half").weights(1).alpha1, 0.5);
 * assert.throws(() => buildPlugin("schedule", { type: "half", alpha: -1 }), /plugin config field "schedule" \(half\)/);
 * ```
 */
export function registerPlugin<F extends PluginFamily>(
  family: F,
  name: string,
  factory: PluginFactory<F>,
  options: RegisterPluginOptions = {},
): void {
  const owner = "registerPlugin";
  checkFamily(owner, family);
  if (typeof name !== "string" || name.length === 0) {
    throw new Error(`${owner}: the name must be a non-empty string`);
  }
  if (typeof factory !== "function") {
    throw new Error(`${owner}: the factory for "${name}" must be a function`);
  }
  const { schema } = options;
  if (schema !== undefined && typeof schema?.["~standard"]?.validate !== "function") {
    throw new Error(`${owner}: the schema for "${name}" must be a Standard Schema (valibot, zod, ...)`);
  }
  const map = registry[family] as Map<string, Entry<F>>;
  if (map.has(name) && !options.replace) {
    throw new Error(`${owner}: ${family} plugin "${name}" is already registered (pass { replace: true })`);
  }
  map.set(name, { factory, schema });
}

/**
 * The options schema a plugin was registered with (every built-in has one), or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pluginSchema } from "./registry.ts";
 * const schema = pluginSchema("regularizer", "rank");
 * const result = schema?.["~standard"].validate({});
 * assert.ok(result !== undefined && !(result instanceof Promise));
 * assert.deepEqual(result.issues === undefined ? result.value : result.issues, { ratio: 0.7, margin: 0.07 });
 * ```
 */
export function pluginSchema(family: PluginFamily, name: string): OptionsSchema | undefined {
  return registry[checkFamily("pluginSchema", family)].get(name)?.schema;
}

/** One problem of a plugin spec in a config, found by {@linkcode pluginSpecIssues}. */
export interface PluginSpecIssue {
  /** Where, relative to the spec: `[]` (the spec), `["type"]`, or an option's path. */
  path: (string | number)[];
  /** What is wrong. */
  message: string;
  /** When the problem is a name that does not exist: what it names, and the names that do exist. */
  unknown?: {
    /** A plugin name or an option name. */
    kind: "plugin" | "option";
    /** The names that exist, for suggestions. */
    known: readonly string[];
  };
}

/** A spec's plugin name and options, or the problem with its shape. */
function splitSpec(
  family: PluginFamily,
  spec: unknown,
): { name: string; options: PluginOptions; issue?: undefined } | { issue: PluginSpecIssue } {
  if (typeof spec === "string") return { name: spec, options: {} };
  if (spec !== null && typeof spec === "object" && !Array.isArray(spec)) {
    const { type, ...rest } = spec as PluginOptions;
    if (typeof type !== "string") {
      const message = `an object spec needs a string "type" (one of ${listPlugins(family).join(", ")})`;
      return { issue: { path: ["type"], message } };
    }
    return { name: type, options: rest };
  }
  return {
    issue: {
      path: [],
      message: `expected a plugin name or { type, ...options }, got ${JSON.stringify(spec)}`,
    },
  };
}

/**
 * The problems of a plugin spec, all of them: an unknown plugin name, or the options' problems from the
 * plugin's schema, each at its path; an empty list when the spec is valid. A plugin registered without a
 * schema is checked by building it (its factory's error is the one problem). Nothing is thrown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pluginSpecIssues } from "./registry.ts";
 * assert.deepEqual(pluginSpecIssues("regularizer", { type: "rank", ratio: 2 }), [
 *   { path: ["ratio"], message: `rankRegularizer: option "ratio" must lie in [0, 1], got 2` },
 * ]);
 * assert.deepEqual(pluginSpecIssues("schedule", "constant"), []);
 * ```
 */
export function pluginSpecIssues<F extends PluginFamily>(family: F, spec: unknown): PluginSpecIssue[] {
  checkFamily("pluginSpecIssues", family);
  const split = splitSpec(family, spec);
  if (split.issue !== undefined) return [split.issue];
  const { name, options } = split;
  const found = (registry[family] as Map<string, Entry<F>>).get(name);
  if (found === undefined) {
    const known = listPlugins(family);
    const message = `unknown ${family} plugin "${name}"; known: ${known.join(", ")}`;
    return [{ path: typeof spec === "string" ? [] : ["type"], message, unknown: { kind: "plugin", known } }];
  }
  if (found.schema === undefined) {
    try {
      found.factory(options);
      return [];
    } catch (error) {
      return [{ path: [], message: error instanceof Error ? error.message : String(error) }];
    }
  }
  return optionIssues(found.schema, options).issues;
}

/**
 * The options' problems under a schema, and the parsed options. A key the schema does not declare (when
 * it tells its keys: valibot's and zod's object schemas do) is a problem even where the schema would
 * drop it silently.
 */
function optionIssues(
  schema: OptionsSchema,
  options: PluginOptions,
): { value?: PluginOptions; issues: PluginSpecIssue[] } {
  const names = optionNames(schema);
  const { value, issues } = checkOptions(schema, options);
  const out: PluginSpecIssue[] = issues.map((issue) => {
    const key = issue.path[0];
    const unknown = issue.path.length === 1 && typeof key === "string" && names !== undefined &&
      !names.includes(key);
    return unknown ? { ...issue, unknown: { kind: "option" as const, known: names } } : issue;
  });
  if (names !== undefined) {
    for (const key of Object.keys(options)) {
      if (names.includes(key) || out.some((issue) => issue.path[0] === key)) continue;
      const known = names.length === 0 ? "none" : names.join(", ");
      out.push({
        path: [key],
        message: `unknown option "${key}"; known options: ${known}`,
        unknown: { kind: "option", known: names },
      });
    }
  }
  return out.length > 0 ? { issues: out } : { value, issues: out };
}

/**
 * The names registered for a family, built-ins first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listPlugins } from "./registry.ts";
 *
 * // the built-ins, then the user-registered ones
 * assert.deepEqual(listPlugins("distribution").slice(0, 4), ["onehot", "label", "class", "fused"]);
 * ```
 */
export function listPlugins(family: PluginFamily): string[] {
  return [...registry[checkFamily("listPlugins", family)].keys()];
}

/**
 * Builds one plugin from its config spec. Errors name the config field, and unknown names list the
 * known ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildPlugin } from "./registry.ts";
 *
 * const regularizer = buildPlugin("regularizer", { type: "rank", margin: 0.15 });
 * const schedule = buildPlugin("schedule", "constant");
 * assert.equal(regularizer.name, "rank");
 * assert.deepEqual(schedule.weights(1), { alpha1: 1, alpha2: 1 });
 * ```
 */
export function buildPlugin<F extends PluginFamily>(family: F, spec: PluginSpec): PluginSet[F] {
  checkFamily("buildPlugin", family);
  const field = `plugin config field "${family}"`;
  let name: string;
  let options: PluginOptions;
  if (typeof spec === "string") {
    name = spec;
    options = {};
  } else if (spec !== null && typeof spec === "object" && !Array.isArray(spec)) {
    const { type, ...rest } = spec as PluginOptions;
    if (typeof type !== "string") {
      throw new Error(
        `${field}: an object spec needs a string "type" (one of ${listPlugins(family).join(", ")})`,
      );
    }
    name = type;
    options = rest;
  } else {
    throw new Error(`${field}: expected a plugin name or { type, ...options }, got ${JSON.stringify(spec)}`);
  }
  const found = (registry[family] as Map<string, Entry<F>>).get(name);
  if (found === undefined) {
    throw new Error(`${field}: unknown ${family} plugin "${name}"; known: ${listPlugins(family).join(", ")}`);
  }
  let plugin: PluginSet[F];
  try {
    if (found.schema !== undefined) {
      const { value, issues } = optionIssues(found.schema, options);
      if (issues.length > 0) throw new Error(issues.map((issue) => issue.message).join("; "));
      options = value as PluginOptions;
    }
    plugin = found.factory(options);
  } catch (error) {
    throw new Error(`${field} (${name}): ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  if (plugin === null || typeof plugin !== "object") {
    throw new Error(`${field} (${name}): the factory returned ${String(plugin)}, not a plugin object`);
  }
  return plugin;
}

/**
 * The Ada-DF plugins, the reference's choices.
 *
 * @example The defaults with one family changed
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildPlugins, DEFAULT_PLUGIN_CONFIG } from "./registry.ts";
 * const plugins = buildPlugins({ ...DEFAULT_PLUGIN_CONFIG, miner: "online" });
 * assert.ok(DEFAULT_PLUGIN_CONFIG.distribution === "fused" && plugins.miner.name === "online");
 * ```
 */
export const DEFAULT_PLUGIN_CONFIG: Readonly<Required<PluginConfig>> = Object.freeze({
  distribution: "fused",
  miner: "epoch-pass",
  attention: "sigmoid",
  normalizer: "adaptive",
  regularizer: "rank",
  schedule: "ramp",
});

/**
 * Builds a full plugin set from a config; a missing family takes its Ada-DF default
 * ({@linkcode DEFAULT_PLUGIN_CONFIG}). An unknown field is an error that lists the known fields.
 *
 * @example The label-only ablation with the AffectNet settings
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildPlugins } from "./registry.ts";
 *
 * const plugins = buildPlugins({
 *   distribution: "label",
 *   miner: { type: "epoch-pass", threshold: 0.5 },
 *   schedule: { type: "ramp", beta: 5 },
 * });
 * assert.ok(plugins.distribution.name === "label");
 * ```
 */
export function buildPlugins(config: PluginConfig = {}): PluginSet {
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new Error(`buildPlugins: the plugin config must be an object, got ${JSON.stringify(config)}`);
  }
  for (const key of Object.keys(config)) {
    if (!(PLUGIN_FAMILIES as readonly string[]).includes(key)) {
      throw new Error(
        `buildPlugins: unknown plugin config field "${key}"; known fields: ${PLUGIN_FAMILIES.join(", ")}`,
      );
    }
  }
  const spec = <F extends PluginFamily>(family: F): PluginSpec =>
    config[family] ?? DEFAULT_PLUGIN_CONFIG[family];
  return {
    distribution: buildPlugin("distribution", spec("distribution")),
    miner: buildPlugin("miner", spec("miner")),
    attention: buildPlugin("attention", spec("attention")),
    normalizer: buildPlugin("normalizer", spec("normalizer")),
    regularizer: buildPlugin("regularizer", spec("regularizer")),
    schedule: buildPlugin("schedule", spec("schedule")),
  };
}
