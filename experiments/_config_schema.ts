/**
 * The run config's schema, in valibot: every field's type, range, default and message. `config.ts`
 * validates with it (and derives `DEFAULT_CONFIG` from its defaults), `config_json_schema.ts` turns it
 * into the JSON Schema of `configs/config.schema.json`. The plugin families under `method` are checked
 * by the plugin registry (each plugin's options schema); here they only have their defaults.
 *
 * Messages read `expected <what>, got <value>`; the path and the file position are put in front by
 * `config.ts`.
 *
 * @module
 */
import * as v from "valibot";
import YAML from "yaml";
import { BACKBONES } from "../backbones/resnet.ts";
import { BACKEND_NAMES } from "../engine/backend.ts";
import { parseRandAugment } from "../datasets/randaugment.ts";
import { PLUGIN_FAMILIES, type PluginFamily, type PluginSpec } from "../strategies/registry.ts";
import { REFERENCE_SIDES } from "./reference_switch.ts";
import { show } from "../engine/_show.ts";

/** The message `expected <what>, got <value>`. */
export function expected(what: string): (issue: v.BaseIssue<unknown>) => string {
  return (issue) => `expected ${what}, got ${show(issue.input)}`;
}

/** How a value that valibot cannot describe (a custom check) reads in the JSON Schema. */
export const JSON_FORMS: WeakMap<object, Record<string, unknown>> = new WeakMap();

type Schema<T> = v.GenericSchema<unknown, T>;

/** The output of an object schema with these entries. */
type Out<E extends v.ObjectEntries> = v.InferOutput<v.ObjectSchema<E, undefined>>;

function integer(min: number, max: number | undefined, what: string): Schema<number> {
  const message = expected(what);
  const checks: v.GenericValidation<number>[] = [v.safeInteger(message), v.minValue(min, message)];
  if (max !== undefined) checks.push(v.maxValue(max, message));
  return v.pipe(v.number(message), ...checks);
}

function rangeText(min: number, max?: number): string {
  return max === undefined ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
}

function int(min: number, max?: number): Schema<number> {
  return integer(min, max, rangeText(min, max));
}

function intOrNull(min: number, max?: number): Schema<number | null> {
  return v.nullable(integer(min, max, `${rangeText(min, max)} or null`));
}

interface Range {
  min?: number;
  max?: number;
  minOpen?: boolean;
  maxOpen?: boolean;
}

function number({ min, max, minOpen = false, maxOpen = false }: Range): Schema<number> {
  let what: string;
  if (min !== undefined && max !== undefined) {
    what = `a number in ${minOpen ? "(" : "["}${min}, ${max}${maxOpen ? ")" : "]"}`;
  } else if (min !== undefined) what = `a number ${minOpen ? ">" : ">="} ${min}`;
  else if (max !== undefined) what = `a number ${maxOpen ? "<" : "<="} ${max}`;
  else what = "a finite number";
  const message = expected(what);
  const checks: v.GenericValidation<number>[] = [v.finite(message)];
  if (min !== undefined) checks.push(minOpen ? v.gtValue(min, message) : v.minValue(min, message));
  if (max !== undefined) checks.push(maxOpen ? v.ltValue(max, message) : v.maxValue(max, message));
  return v.pipe(v.number(message), ...checks);
}

function bool(): Schema<boolean> {
  return v.boolean(expected("true or false"));
}

function oneOf<const T extends string | number>(values: readonly T[]): Schema<T> {
  const what = values.length === 2 ? `${values[0]} or ${values[1]}` : `one of ${values.join(", ")}`;
  return v.picklist(values as T[], expected(what)) as Schema<T>;
}

function text(what: string): Schema<string> {
  const message = expected(what);
  return v.pipe(v.string(message), v.minLength(1, message));
}

function path(): Schema<string> {
  return text("a path");
}

function pathOrNull(what = "a path"): Schema<string | null> {
  return v.nullable(text(`${what} or null`));
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

function runName(): Schema<string | null> {
  const message = expected("a folder name or null");
  return v.nullable(v.pipe(
    v.string(message),
    v.minLength(1, message),
    v.check(
      (name) => !/[/\\]/.test(name) && name !== "." && name !== ".." && !hasControl(name),
      expected("a plain folder name (no path separators)"),
    ),
  ));
}

function pair(max: number): Schema<[number, number]> {
  const message = expected(`[min, max] with 0 < min <= max <= ${max}`);
  const numbers = v.custom<[number, number]>(
    (value) =>
      Array.isArray(value) && value.length === 2 &&
      value.every((x) => typeof x === "number" && Number.isFinite(x)),
    message,
  );
  JSON_FORMS.set(numbers, {
    type: "array",
    items: { type: "number", exclusiveMinimum: 0, maximum: max },
    minItems: 2,
    maxItems: 2,
  });
  return v.pipe(numbers, v.check(([lo, hi]) => lo > 0 && lo <= hi && hi <= max, message));
}

const RAND_AUGMENT = /^rand(-[a-z]+[0-9.]+)*$/;

function randAugment(): Schema<string | null> {
  const message = expected(`a RandAugment string such as "rand-m5-n3-mstd0.5", or null`);
  return v.nullable(v.pipe(
    v.string(message),
    v.regex(RAND_AUGMENT, message),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      try {
        parseRandAugment(dataset.value as string);
      } catch (error) {
        addIssue({ message: error instanceof Error ? error.message : String(error) });
      }
    }),
  ));
}

/** A section: an object of fields; anything else is `expected <what>, got ...`. */
function section<E extends v.ObjectEntries>(entries: E, what = "an object"): Schema<Out<E>> {
  const message = expected(what);
  // valibot's object schema takes a list for an object: a mapping is checked first.
  const mapping = v.custom<Record<string, unknown>>(isMapping, message);
  return v.pipe(mapping, v.object(entries, message)) as unknown as Schema<Out<E>>;
}

/** A plain mapping: an object, not null, not a list. */
function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A map of dotted config paths to values (overrides), or null. */
function overrideMap(): Schema<Record<string, unknown> | null> {
  const message = expected("a map of path: value");
  const mapping = v.custom<Record<string, unknown>>(isMapping, message);
  return field(v.nullable(v.pipe(mapping, v.record(v.string(), v.unknown()))), null);
}

/** A field with its default: missing (undefined) takes `fallback`. */
function field<T>(schema: Schema<T>, fallback: NoInfer<T> | Record<string, never>): Schema<T> {
  return v.optional(schema, fallback as never) as Schema<T>;
}

/** A section that is filled from its fields' defaults when missing. */
function defaulted<E extends v.ObjectEntries>(entries: E): Schema<Out<E>> {
  return field(section(entries), {});
}

/** A plugin given by name or as `{ type: name, ...options }` (the registry checks name and options). */
function pluginSpec(): Schema<PluginSpec> {
  const message = expected("a plugin name or { type: name, ...options }");
  return v.union([
    v.pipe(v.string(), v.minLength(1)),
    v.looseObject({ type: v.pipe(v.string(), v.minLength(1)) }),
  ], message) as Schema<PluginSpec>;
}

/** The default plugin of each family (the paper's Ada-DF, with the RAF-DB options). */
export const DEFAULT_METHOD: Readonly<Record<PluginFamily, PluginSpec>> = {
  distribution: "fused",
  miner: { type: "epoch-pass", threshold: 0.7 },
  attention: "sigmoid",
  normalizer: { type: "adaptive", minWeight: 0.2, maxWeight: 1.0 },
  regularizer: { type: "rank", ratio: 0.7, margin: 0.07 },
  schedule: { type: "ramp", beta: 3 },
};

/**
 * The schema of a run config, for the dataset kinds given (`synthetic` and the registered types). Every
 * field is optional and takes its default; the result is a complete config.
 */
export function runConfigSchema(datasets: readonly string[]) {
  const erasing = section({
    p: field(number({ min: 0, max: 1 }), 0.5),
    scale: field(pair(1), [0.02, 0.25]),
    ratio: field(pair(100), [0.3, 3.3]),
  }, "an object { p, scale, ratio } or null");
  const method = Object.fromEntries(
    PLUGIN_FAMILIES.map((family) => [family, field(pluginSpec(), DEFAULT_METHOD[family])]),
  ) as Record<PluginFamily, Schema<PluginSpec>>;
  return v.object({
    seed: field(int(0, 0xffffffff), 0),
    backend: field(oneOf(BACKEND_NAMES), "auto"),
    threads: field(intOrNull(1, 4096), null),
    reference: field(oneOf(REFERENCE_SIDES), "paper"),
    data: defaulted({
      dataset: field(oneOf(datasets), "synthetic"),
      path: field(pathOrNull(), null),
      synthetic: defaulted({
        count: field(int(2, 1_000_000), 2000),
        seed: field(int(0, 0xffffffff), 0),
        size: field(int(16, 1024), 112),
        testFraction: field(number({ min: 0, max: 1, maxOpen: true }), 0.2),
        cacheDir: field(pathOrNull(), null),
      }),
      size: field(int(16, 512), 112),
      randAugment: field(randAugment(), "rand-m5-n3-mstd0.5"),
      hflip: field(number({ min: 0, max: 1 }), 0.5),
      erasing: field(v.nullable(erasing), {}),
      trainCrops: field(oneOf([1, 10]), 1),
      testCrops: field(oneOf([1, 10]), 1),
      sampler: field(oneOf(["shuffle", "balanced"]), "shuffle"),
      labelNoise: field(number({ min: 0, max: 0.9 }), 0),
      prefetch: field(int(0, 16), 2),
      skipCorrupt: field(bool(), false),
    }),
    model: defaulted({
      backbone: field(oneOf([...BACKBONES]), "resnet18"),
      weights: field(pathOrNull("a path to a .pth/.pt/.safetensors file"), null),
      freezeStem: field(bool(), true),
      partialWeights: field(bool(), false),
      branches: field(oneOf([2, 1]), 2),
    }),
    method: defaulted(method),
    trainer: defaulted({
      epochs: field(int(1, 100_000), 75),
      batchSize: field(int(1, 65_536), 64),
      lr: field(number({ min: 0, max: 1, minOpen: true }), 0.001),
      lrGamma: field(number({ min: 0, max: 1, minOpen: true }), 0.9),
      dropLast: field(bool(), true),
      evalEvery: field(int(1, 100_000), 1),
      stemMode: field(oneOf(["train", "eval"]), "train"),
      maxBatchesPerEpoch: field(intOrNull(1, 1e9), null),
      meanOfLast: field(int(1, 100_000), 5),
      miningDropLast: field(bool(), false),
      trainAccuracy: field(oneOf(["step", "mining"]), "step"),
    }),
    output: defaulted({
      dir: field(path(), "runs"),
      name: field(runName(), null),
      checkpointEvery: field(int(1, 100_000), 1),
      checkpointSteps: field(intOrNull(1), null),
      checkpointMinutes: field(v.nullable(number({ min: 0, max: 10080, minOpen: true })), 10),
    }),
  });
}

/** An ablation file as written (see `ablation.ts`), checked. */
export interface AblationFile {
  /** Title of the table. */
  name?: string;
  /** A preset name or a config file relative to the ablation file. */
  base: string;
  /** Overrides for every run. */
  set: Record<string, unknown> | null;
  /** Seeds, each once. */
  seeds: number[];
  /** The output folder. */
  output?: string;
  /** The variants, names unique. */
  variants: { name: string; set: Record<string, unknown> | null }[];
}

/** The schema of an ablation file. */
export function ablationFileSchema(): Schema<AblationFile> {
  const seedsMessage = expected("a non-empty list of integers >= 0");
  const variantsMessage = expected("a non-empty list of { name, set }");
  return section({
    name: v.optional(text("a title")),
    base: field(text("a preset name or a config file"), "synthetic"),
    set: overrideMap(),
    seeds: field(
      v.pipe(
        v.array(v.unknown(), seedsMessage),
        v.minLength(1, seedsMessage),
        v.check((seeds) => seeds.every((s) => Number.isSafeInteger(s) && (s as number) >= 0), seedsMessage),
        v.check((seeds) => new Set(seeds).size === seeds.length, expected("each seed once")),
      ) as Schema<number[]>,
      [0],
    ),
    output: v.optional(text("a folder")),
    variants: field(
      v.pipe(
        v.array(
          section({ name: text("a name"), set: overrideMap() }, "{ name, set }"),
          variantsMessage,
        ),
        v.minLength(1, variantsMessage),
        v.rawCheck(({ dataset, addIssue }) => {
          if (!dataset.typed) return;
          const seen = new Set<string>();
          dataset.value.forEach((variant, i) => {
            if (seen.has(variant.name)) {
              addIssue({
                message: `'${variant.name}' appears twice`,
                path: [
                  { type: "array", origin: "value", input: dataset.value, key: i, value: variant },
                  { type: "object", origin: "value", input: variant, key: "name", value: variant.name },
                ],
              });
            }
            seen.add(variant.name);
          });
        }),
      ),
      [],
    ),
  }, "a map at the top level") as Schema<AblationFile>;
}

/**
 * The sections of a schema: for each object schema (through optional, nullable and pipes), its
 * entries. `config.ts` walks a value with it to report unknown keys.
 */
export function objectEntries(schema: v.GenericSchema): v.ObjectEntries | undefined {
  const node = unwrap(schema);
  return node.type === "object" ? node.entries : undefined;
}

type Node = v.GenericSchema & {
  wrapped?: v.GenericSchema;
  entries?: v.ObjectEntries;
  item?: v.GenericSchema;
  pipe?: readonly { type: string }[];
};

/** The schema under optional, nullable and the pipes of sections and lists. */
function unwrap(schema: v.GenericSchema): Node {
  let node = schema as Node;
  while (true) {
    const inner = node.pipe?.find((item) => item.type === "object" || item.type === "array");
    if (node.wrapped !== undefined) node = node.wrapped as Node;
    else if (inner !== undefined && inner !== node) node = inner as Node;
    else return node;
  }
}

/** The item schema of a list schema (through optional, nullable and pipes), or undefined. */
export function arrayItem(schema: v.GenericSchema): v.GenericSchema | undefined {
  const node = unwrap(schema);
  return node.type === "array" ? node.item : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Problems: unknown keys with suggestions, valibot issues, positions in YAML

/** A path into a value: keys and list indices. */
export type Path = readonly (string | number)[];
type Obj = Record<string, unknown>;

/** Every section and field path of a schema, dotted, for suggestions. */
export function knownPaths(schema: v.GenericSchema): string[] {
  const out: string[] = [];
  const walk = (node: v.GenericSchema, prefix: string) => {
    for (const [key, child] of Object.entries(objectEntries(node) ?? {})) {
      const path = prefix === "" ? key : `${prefix}.${key}`;
      out.push(path);
      walk(child, path);
    }
  };
  walk(schema, "");
  return out;
}

/**
 * The problems valibot finds in a value, one per path (the first check that fails), and the output
 * when there are none.
 */
export function schemaProblems<T>(
  schema: v.GenericSchema<unknown, T>,
  value: unknown,
): { output?: T; problems: Problem[]; paths: Set<string> } {
  const result = v.safeParse(schema, value);
  const paths = new Set<string>();
  const problems: Problem[] = [];
  for (const issue of result.issues ?? []) {
    const path = (issue.path ?? []).map((item) => item.key as string | number);
    const key = JSON.stringify(path);
    if (paths.has(key)) continue;
    paths.add(key);
    problems.push({ path, message: issue.message });
  }
  return result.success ? { output: result.output, problems, paths } : { problems, paths };
}

/** One problem of a value, at its path. */
export interface Problem {
  path: Path;
  message: string;
  /** The problem is this key itself (unknown key): the message is complete and has no path prefix. */
  keyProblem?: boolean;
}

/** A plain object (not an array, not a class instance). */
export function isPlainObject(value: unknown): value is Obj {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A path as text: `data.erasing.scale[1]`. */
export function pathText(path: Path): string {
  let out = "";
  for (const segment of path) {
    out += typeof segment === "number" ? `[${segment}]` : out === "" ? segment : `.${segment}`;
  }
  return out;
}

/** A key compared loosely: lower case, without `-`, `_` and spaces. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_\s]/g, "");
}

/** The Levenshtein distance of two strings. */
export function editDistance(a: string, b: string): number {
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
export function closest(key: string, candidates: readonly string[]): string | undefined {
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

/**
 * Reports an unknown key, with the closest sibling (or the closest path anywhere) as a suggestion, or the
 * list of known keys.
 */
export function unknownKey(
  problems: Problem[],
  parent: Path,
  key: string,
  siblings: readonly string[],
  allPaths: () => readonly string[],
): void {
  const path = [...parent, key];
  const prefix = pathText(parent);
  const near = closest(key, siblings);
  let suggestion = near === undefined ? undefined : prefix === "" ? near : `${prefix}.${near}`;
  if (suggestion === undefined) {
    // The key may belong to another section (`epochs` at the top level).
    suggestion = closest(key, allPaths().filter((p) => p !== prefix && !p.startsWith(`${prefix}.`)));
  }
  const hint = suggestion === undefined
    ? `; known keys${prefix === "" ? "" : ` of ${prefix}`}: ${siblings.join(", ")}`
    : ` (did you mean ${suggestion}?)`;
  problems.push({ path, message: `unknown key ${pathText(path)}${hint}`, keyProblem: true });
}

/**
 * Reports the keys of `value` that the schema's sections do not have, section by section (and item by
 * item in lists of sections). `notes` gives the message of a known mistake at the top level instead.
 */
export function unknownKeys(
  schema: v.GenericSchema,
  value: unknown,
  path: Path,
  problems: Problem[],
  notes: Readonly<Record<string, string>> = {},
  allPaths: () => readonly string[] = () => knownPaths(schema),
): void {
  const item = arrayItem(schema);
  if (item !== undefined && Array.isArray(value)) {
    value.forEach((element, i) => unknownKeys(item, element, [...path, i], problems, {}, allPaths));
    return;
  }
  const entries = objectEntries(schema);
  if (entries === undefined || !isPlainObject(value)) return;
  const names = Object.keys(entries);
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(entries, key)) continue;
    if (path.length === 0 && Object.hasOwn(notes, key)) {
      problems.push({ path: [key], message: notes[key], keyProblem: true });
    } else unknownKey(problems, path, key, names, allPaths);
  }
  for (const key of names) {
    if (Object.hasOwn(value, key)) {
      unknownKeys(entries[key], value[key], [...path, key], problems, {}, allPaths);
    }
  }
}

/** The value of a YAML key node. */
export function nodeKey(node: unknown): unknown {
  return YAML.isScalar(node) ? node.value : node;
}

/** The line and column of a path in a parsed document (its key, or the deepest part that exists). */
export function locateInDocument(doc: YAML.Document, path: Path): number | undefined {
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

/** `line:column` of an offset. */
export function position(counter: YAML.LineCounter, offset: number): string {
  const { line, col } = counter.linePos(offset);
  return `${line}:${col}`;
}

/**
 * The problem of an alias that refers to a node containing it (`data: &d {size: 32, self: *d}`: the
 * value would contain itself), as `where:line:column: ...` (the line and column with a line counter),
 * or undefined when the document has none. Aliases refer back only, so this is the one way a YAML
 * document can be cyclic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import YAML from "yaml";
 * import { recursiveAliasProblem } from "./_config_schema.ts";
 * const counter = new YAML.LineCounter();
 * const doc = YAML.parseDocument("seed: 1\ndata: &d {size: 32, self: *d}\n", { lineCounter: counter });
 * assert.match(recursiveAliasProblem(doc, "x.yaml", counter)!, /^x\.yaml:2:27: the alias \*d refers to the node/);
 * assert.equal(recursiveAliasProblem(YAML.parseDocument("a: &a [1]\nb: *a\n"), "y.yaml"), undefined);
 * ```
 */
export function recursiveAliasProblem(
  doc: YAML.Document,
  where: string,
  counter?: YAML.LineCounter,
): string | undefined {
  let found: YAML.Alias | undefined;
  YAML.visit(doc, {
    Alias(_key, node, path) {
      const target = node.resolve(doc);
      if (target !== undefined && (path as readonly unknown[]).includes(target)) {
        found = node;
        return YAML.visit.BREAK;
      }
    },
  });
  if (found === undefined) return undefined;
  const at = counter && found.range ? `${where}:${position(counter, found.range[0])}` : where;
  return `${at}: the alias *${found.source} refers to the node anchored &${found.source} that contains it, ` +
    `so the value would contain itself (recursive aliases are not allowed)`;
}
