/**
 * The plugin registry: config names to factories, for every plugin family, so that a YAML file can
 * select plugins (`distribution: label`, `regularizer: { type: rank, margin: 0.15 }`). Library users
 * may also call the factories directly; the registry exists for configs and for user-defined plugins
 * that should be selectable by name.
 *
 * @module
 */
import { type Attention, noAttention, sigmoidAttention, type SigmoidAttentionOptions } from "./attention.ts";
import {
  classDistribution,
  type DistributionSource,
  fusedDistribution,
  labelDistribution,
  onehotDistribution,
} from "./distribution.ts";
import { type ClassDistributionMiner, epochPassMiner, onlineMiner } from "./miner.ts";
import { adaptiveNormalizer, fixedNormalizer, type WeightNormalizer } from "./normalizer.ts";
import { noRegularizer, rankRegularizer, type Regularizer } from "./regularizer.ts";
import { constantSchedule, type LossSchedule, rampSchedule } from "./schedule.ts";

/**
 * The plugin families and the interface of each: also the shape of a full plugin set.
 *
 * @example A full set, every family given explicitly
 * ```ts
 * import { noAttention } from "./attention.ts";
 * import { labelDistribution } from "./distribution.ts";
 * import { onlineMiner } from "./miner.ts";
 * import { adaptiveNormalizer } from "./normalizer.ts";
 * import type { PluginSet } from "./registry.ts";
 * import { rankRegularizer } from "./regularizer.ts";
 * import { rampSchedule } from "./schedule.ts";
 * const plugins: PluginSet = {
 *   distribution: labelDistribution(),
 *   miner: onlineMiner({ threshold: 0.5 }),
 *   attention: noAttention(),
 *   normalizer: adaptiveNormalizer(),
 *   regularizer: rankRegularizer({ margin: 0.15 }),
 *   schedule: rampSchedule({ beta: 5 }),
 * };
 * console.assert(plugins.miner.extraPass === false);
 * ```
 */
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

/**
 * The name of a plugin family, which is also its field in a plugin config.
 *
 * @example Print the plugins of every family
 * ```ts
 * import { listPlugins, PLUGIN_FAMILIES, type PluginFamily } from "./registry.ts";
 * const families: readonly PluginFamily[] = PLUGIN_FAMILIES;
 * for (const family of families) console.log(`${family}: ${listPlugins(family).join(", ")}`);
 * ```
 */
export type PluginFamily = keyof PluginSet;

/**
 * The plugin families, in config order.
 *
 * @example Read the plugin names of a built set
 * ```ts
 * import { buildPlugins, PLUGIN_FAMILIES } from "./registry.ts";
 * const plugins = buildPlugins({ distribution: "label" });
 * const names = PLUGIN_FAMILIES.map((family) => plugins[family].name);
 * console.log(names); // ["label", "epoch-pass", "sigmoid", "adaptive", "rank", "ramp"]
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

/**
 * A plugin's options as they come from a config.
 *
 * @example Options as a YAML file gives them
 * ```ts
 * import { buildPlugin, type PluginOptions } from "./registry.ts";
 * const options: PluginOptions = { ratio: 0.6, margin: 0.15 };
 * const regularizer = buildPlugin("regularizer", { type: "rank", ...options });
 * console.assert(regularizer.name === "rank");
 * ```
 */
export type PluginOptions = Record<string, unknown>;

/**
 * A factory: builds a plugin of family `F` from its options (it validates them).
 *
 * @example A schedule factory that reads its own option
 * ```ts
 * import { type PluginFactory, registerPlugin } from "./registry.ts";
 * const linear: PluginFactory<"schedule"> = (options) => {
 *   const epochs = (options.epochs as number | undefined) ?? 10;
 *   return { name: "linear", weights: (epoch) => ({ alpha1: Math.min(1, epoch / epochs), alpha2: 1 }) };
 * };
 * registerPlugin("schedule", "linear", linear);
 * console.assert(linear({ epochs: 4 }).weights(2).alpha1 === 0.5);
 * ```
 */
export type PluginFactory<F extends PluginFamily> = (options: PluginOptions) => PluginSet[F];

/**
 * A plugin in a config: its name, or `{ type: name, ...options }`.
 *
 * @example A plugin by name, or by name with options
 * ```ts
 * import { buildPlugin, type PluginSpec } from "./registry.ts";
 * const byName: PluginSpec = "constant";
 * const withOptions: PluginSpec = { type: "constant", alpha1: 0.3, alpha2: 0.7 };
 * console.assert(buildPlugin("schedule", byName).weights(1).alpha1 === 1);
 * console.assert(buildPlugin("schedule", withOptions).weights(1).alpha1 === 0.3);
 * ```
 */
export type PluginSpec = string | ({ type: string } & PluginOptions);

/**
 * The plugin a spec names: the string itself, or its `type`.
 *
 * @example
 * ```ts
 * import { pluginName } from "./registry.ts";
 * console.assert(pluginName("fused") === "fused");
 * console.assert(pluginName({ type: "fused", stopGradient: true }) === "fused");
 * ```
 */
export function pluginName(spec: PluginSpec): string {
  return typeof spec === "string" ? spec : spec.type;
}

/**
 * A plugin config: one spec per family; a missing family takes the Ada-DF default.
 *
 * @example The Ada-DF plugins with SCN's rank margin
 * ```ts
 * import { buildPlugins, type PluginConfig } from "./registry.ts";
 * const config: PluginConfig = { regularizer: { type: "rank", margin: 0.15 } };
 * const plugins = buildPlugins(config);
 * console.assert(plugins.distribution.name === "fused" && plugins.regularizer.name === "rank");
 * ```
 */
export type PluginConfig = { [F in PluginFamily]?: PluginSpec };

type Registry = { [F in PluginFamily]: Map<string, PluginFactory<F>> };

const registry: Registry = {
  distribution: new Map<string, PluginFactory<"distribution">>([
    ["onehot", (o) => onehotDistribution(o as Record<string, never>)],
    ["label", (o) => labelDistribution(o)],
    ["class", (o) => classDistribution(o as Record<string, never>)],
    ["fused", (o) => fusedDistribution(o)],
  ]),
  miner: new Map<string, PluginFactory<"miner">>([
    ["epoch-pass", (o) => epochPassMiner(o)],
    ["online", (o) => onlineMiner(o)],
  ]),
  attention: new Map<string, PluginFactory<"attention">>([
    ["sigmoid", (o) => sigmoidAttention(o as SigmoidAttentionOptions)],
    ["none", (o) => noAttention(o as Record<string, never>)],
  ]),
  normalizer: new Map<string, PluginFactory<"normalizer">>([
    ["adaptive", (o) => adaptiveNormalizer(o)],
    ["fixed", (o) => fixedNormalizer(o)],
  ]),
  regularizer: new Map<string, PluginFactory<"regularizer">>([
    ["rank", (o) => rankRegularizer(o)],
    ["none", (o) => noRegularizer(o as Record<string, never>)],
  ]),
  schedule: new Map<string, PluginFactory<"schedule">>([
    ["ramp", (o) => rampSchedule(o)],
    ["constant", (o) => constantSchedule(o)],
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

/**
 * Options of {@linkcode registerPlugin}.
 *
 * @example Replace a built-in plugin
 * ```ts
 * import { tf } from "../engine/tf.ts";
 * import { buildPlugin, registerPlugin, type RegisterPluginOptions } from "./registry.ts";
 * const options: RegisterPluginOptions = { replace: true };
 * registerPlugin("regularizer", "none", () => ({ name: "none", loss: () => tf.scalar(0) }), options);
 * console.assert(buildPlugin("regularizer", "none").name === "none");
 * ```
 */
export interface RegisterPluginOptions {
  /**
   * Replace a plugin already registered under the name (built-ins included) instead of failing.
   *
   * @default {false}
   */
  replace?: boolean;
}

/**
 * Registers a plugin factory under a config name, for configs to select it like a built-in.
 *
 * @example A distribution source selectable as `distribution: smoothed`
 * ```ts
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
  const map = registry[family] as Map<string, PluginFactory<F>>;
  if (map.has(name) && !options.replace) {
    throw new Error(`${owner}: ${family} plugin "${name}" is already registered (pass { replace: true })`);
  }
  map.set(name, factory);
}

/**
 * The names registered for a family, built-ins first.
 *
 * @example
 * ```ts
 * import { listPlugins } from "./registry.ts";
 *
 * listPlugins("distribution"); // ["onehot", "label", "class", "fused", ...user-registered]
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
 * import { buildPlugin } from "./registry.ts";
 *
 * const regularizer = buildPlugin("regularizer", { type: "rank", margin: 0.15 });
 * const schedule = buildPlugin("schedule", "constant");
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
  const factory = (registry[family] as Map<string, PluginFactory<F>>).get(name);
  if (factory === undefined) {
    throw new Error(`${field}: unknown ${family} plugin "${name}"; known: ${listPlugins(family).join(", ")}`);
  }
  let plugin: PluginSet[F];
  try {
    plugin = factory(options);
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
 * import { buildPlugins, DEFAULT_PLUGIN_CONFIG } from "./registry.ts";
 * const plugins = buildPlugins({ ...DEFAULT_PLUGIN_CONFIG, miner: "online" });
 * console.assert(DEFAULT_PLUGIN_CONFIG.distribution === "fused" && plugins.miner.name === "online");
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
 * The names of the paper's ablation presets (its Table 2).
 *
 * @example Build the plugins of an ablation given on the command line
 * ```ts
 * import { type AblationPreset, ABLATION_PRESETS, buildPlugins } from "./registry.ts";
 * const preset: AblationPreset = "class";
 * const plugins = buildPlugins(ABLATION_PRESETS[preset]);
 * console.assert(plugins.distribution.name === "class");
 * ```
 */
export type AblationPreset = "baseline" | "class" | "label" | "fused";

/**
 * The paper's ablations as plugin configs. They differ only in the distribution source: `baseline`
 * (`onehot`: the target branch learns from one-hot labels, its KL term equals the cross-entropy; the
 * paper's baseline is a plain single-branch ResNet, here it is the same model with only this plugin
 * swapped), `class` (c'_y only), `label` (l_i only) and `fused` (full Ada-DF).
 *
 * @example The distribution source of each ablation
 * ```ts
 * import { ABLATION_PRESETS } from "./registry.ts";
 * for (const [preset, config] of Object.entries(ABLATION_PRESETS)) console.log(preset, config.distribution);
 * // baseline onehot, class class, label label, fused fused
 * ```
 */
export const ABLATION_PRESETS: Readonly<Record<AblationPreset, Readonly<Required<PluginConfig>>>> = Object
  .freeze({
    baseline: Object.freeze({ ...DEFAULT_PLUGIN_CONFIG, distribution: "onehot" }),
    class: Object.freeze({ ...DEFAULT_PLUGIN_CONFIG, distribution: "class" }),
    label: Object.freeze({ ...DEFAULT_PLUGIN_CONFIG, distribution: "label" }),
    fused: DEFAULT_PLUGIN_CONFIG,
  });

/**
 * Builds a full plugin set from a config; a missing family takes its Ada-DF default
 * ({@linkcode DEFAULT_PLUGIN_CONFIG}). An unknown field is an error that lists the known fields.
 *
 * @example The label-only ablation with the AffectNet settings
 * ```ts
 * import { buildPlugins } from "./registry.ts";
 *
 * const plugins = buildPlugins({
 *   distribution: "label",
 *   miner: { type: "epoch-pass", threshold: 0.5 },
 *   schedule: { type: "ramp", beta: 5 },
 * });
 * console.assert(plugins.distribution.name === "label");
 * ```
 *
 * @example A preset
 * ```ts
 * import { ABLATION_PRESETS, buildPlugins } from "./registry.ts";
 *
 * const baseline = buildPlugins(ABLATION_PRESETS.baseline);
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
