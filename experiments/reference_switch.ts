/**
 * The `reference` switch of a run config: where the paper and the authors' PyTorch code (`train.py`,
 * `utils.py`, `dataset.py` of the Ada-DF repository) differ, `reference: paper` (the default) follows the
 * paper, or the library's own choice where the paper says nothing, and `reference: code` follows the code.
 *
 * The switch is not read by the trainer: it resolves into the individual fields of
 * {@linkcode REFERENCE_DEPARTURES}, so the resolved config (a run folder's `config.yaml`) shows the
 * values in effect, and any one of those fields can still be set alone. It sets a field unless the file
 * or override that sets the switch also sets that field, or a later one does: `reference: code` with
 * `data.size: 112` in the same file trains the reference's code at 112 px.
 *
 * @module
 */
import { pluginSchema } from "../strategies/registry.ts";
import { optionNames } from "../strategies/options.ts";

/** The two sides of the switch. */
export type ReferenceSide = "paper" | "code";

/** The sides of the switch, the default first. */
export const REFERENCE_SIDES: readonly ReferenceSide[] = Object.freeze(["paper", "code"]);

/** A departure's value meaning: the switch leaves the field as the other settings give it. */
export const UNSET: unique symbol = Symbol("unset");

/** One place where the paper and the authors' code differ, and the field that chooses between them. */
export interface ReferenceDeparture {
  /** The config field, as a path (`["trainer", "miningDropLast"]`). */
  path: readonly string[];
  /** What differs, in a few words (the first column of the README's table). */
  topic: string;
  /** The paper's side (or the library's, where the paper says nothing), as the README states it. */
  paper: string;
  /** The authors' code's side, with where it is. */
  code: string;
  /**
   * The field's value on a side, for a merged (not yet validated) config: a value, {@linkcode UNSET}
   * to leave the field, or `undefined` to remove a plugin option (so that its default applies).
   */
  value(side: ReferenceSide, config: Readonly<Record<string, unknown>>): unknown;
}

function datasetOf(config: Readonly<Record<string, unknown>>): unknown {
  const data = config.data;
  return data !== null && typeof data === "object" ? (data as Record<string, unknown>).dataset : undefined;
}

/**
 * Every departure the switch chooses, in the order of the README's table "Paper or the authors' code".
 *
 * @example The fields the switch sets
 * ```ts
 * import assert from "node:assert/strict";
 * import { REFERENCE_DEPARTURES } from "./reference_switch.ts";
 * const paths = REFERENCE_DEPARTURES.map((d) => d.path.join("."));
 * assert.ok(paths.includes("method.miner.legacyFallback") && paths.includes("data.trainCrops"));
 * ```
 */
export const REFERENCE_DEPARTURES: readonly ReferenceDeparture[] = Object.freeze(
  [
    {
      path: ["method", "miner", "legacyFallback"],
      topic: "fallback class distribution of a class below the threshold t",
      paper: "d_j: t on the diagonal, (1 - t) / (C - 1) elsewhere (rows sum to 1)",
      code:
        "t and a hard-coded 0.4 / (C - 1) (`utils.py`, `generate_adaptive_LD`; rows sum to 1.1 at t = 0.7)",
      value: (side) => (side === "code" ? true : undefined),
    },
    {
      path: ["trainer", "miningDropLast"],
      topic: "last incomplete batch of the mining pass",
      paper: "kept: every training image counts in the class distributions",
      code: "dropped: the pass reads the training loader, `drop_last=True` (`train.py`, `dataset.py`)",
      value: (side) => side === "code",
    },
    {
      path: ["trainer", "trainAccuracy"],
      topic: "logged training accuracy",
      paper: "`step`: the target branch's predictions in the training steps (training mode)",
      code:
        "`mining`: the auxiliary branch in the mining pass, evaluation mode, per crop (`train.py`, `validate`)",
      value: (side) => (side === "code" ? "mining" : "step"),
    },
    {
      path: ["data", "size"],
      topic: "input size",
      paper:
        "aligned faces resized to 100x100; here as configured (112 by default, 224 in the dataset presets)",
      code: "224 (`Resize((224, 224))`; SFEW `Resize(256)` then 224 px crops)",
      value: (side) => (side === "code" ? 224 : UNSET),
    },
    {
      path: ["data", "trainCrops"],
      topic: "SFEW training crops",
      paper:
        '"SFEW makes additional use of TenCrop"; the `sfew` preset trains on ten crops, other sets on one',
      code: "SFEW: ten crops stacked as 10B rows, labels repeated, KL / B, rank split of B over 10B rows " +
        "(`dataset.py`, `train.py`); other sets one",
      value: (side, config) => (side === "code" ? (datasetOf(config) === "sfew" ? 10 : 1) : UNSET),
    },
    {
      path: ["data", "testCrops"],
      topic: "SFEW test crops",
      paper: "as configured (the `sfew` preset: ten crops, logits averaged)",
      code: "SFEW: ten crops, logits averaged; other sets one",
      value: (side, config) => (side === "code" ? (datasetOf(config) === "sfew" ? 10 : 1) : UNSET),
    },
  ] satisfies ReferenceDeparture[],
);

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function has(root: unknown, path: readonly string[]): boolean {
  let node = root;
  for (const key of path) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return false;
    node = node[key];
  }
  return true;
}

function put(target: Obj, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Sets a plugin option when the plugin declares it (a plugin given by name becomes `{ type }`). */
function setPluginOption(method: Obj, family: string, option: string, value: unknown): void {
  const spec = method[family];
  const type = typeof spec === "string" ? spec : isObject(spec) ? spec.type : undefined;
  if (typeof type !== "string") return;
  // Removing an option that is not there leaves the spec as written (a name stays a name).
  if (value === undefined && !(isObject(spec) && Object.hasOwn(spec, option))) return;
  const schema = pluginSchema(family as Parameters<typeof pluginSchema>[0], type);
  if (!schema || !(optionNames(schema) ?? []).includes(option)) return;
  const out: Obj = isObject(spec) ? { ...spec } : { type };
  if (value === undefined) delete out[option];
  else put(out, option, value);
  method[family] = out;
}

/**
 * Resolves the switch in a merged config. `layers` are the values it was merged from, in order (files,
 * then overrides); the last one that sets `reference` chooses the side, and each field of
 * {@linkcode REFERENCE_DEPARTURES} that neither it nor a later layer sets takes that side's value. A
 * config where no layer sets `reference`, or sets it to something else than `paper` or `code` (the
 * schema reports that), is returned as it is. The input is not changed.
 *
 * @example `reference: code` over the SFEW preset's fields, with the input size set alone
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveReferenceSwitch } from "./reference_switch.ts";
 * const base = { data: { dataset: "sfew", size: 224, trainCrops: 1 }, trainer: { miningDropLast: false } };
 * const layer = { reference: "code", data: { size: 112 } };
 * const merged = { ...base, reference: "code", data: { ...base.data, size: 112 } };
 * type Out = { data: { size: number; trainCrops: number }; trainer: { miningDropLast: boolean } };
 * const out = resolveReferenceSwitch(merged, [base, layer]) as unknown as Out;
 * assert.equal(out.data.size, 112); // set in the same layer as the switch
 * assert.equal(out.data.trainCrops, 10); // the reference's SFEW training
 * assert.equal(out.trainer.miningDropLast, true);
 * assert.equal(merged.data.trainCrops, 1); // the input is left alone
 * ```
 */
export function resolveReferenceSwitch(
  merged: Readonly<Record<string, unknown>>,
  layers: readonly unknown[],
): Record<string, unknown> {
  let at = -1;
  for (let i = layers.length - 1; i >= 0; i--) {
    if (isObject(layers[i]) && Object.hasOwn(layers[i] as Obj, "reference")) {
      at = i;
      break;
    }
  }
  const side = at < 0 ? undefined : (layers[at] as Obj).reference;
  if (side !== "paper" && side !== "code") return merged as Record<string, unknown>;
  const out = structuredClone(merged) as Obj;
  const later = layers.slice(at);
  for (const departure of REFERENCE_DEPARTURES) {
    if (later.some((layer) => has(layer, departure.path))) continue;
    const value = departure.value(side, out);
    if (value === UNSET) continue;
    const [section, key, option] = departure.path;
    if (!isObject(out[section])) continue; // the schema reports a section that is not one
    const target = out[section] as Obj;
    if (section === "method" && option !== undefined) setPluginOption(target, key, option, value);
    else if (option === undefined) put(target, key, value);
  }
  return out;
}
