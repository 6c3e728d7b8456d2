/**
 * Plugin options as schemas: the {@linkcode OptionsSchema} type a plugin's options are declared with
 * (any [Standard Schema](https://standardschema.dev) v1 object: valibot, zod, ArkType...), the valibot
 * pieces the built-in plugins declare theirs with, and {@linkcode parseOptions}, the check a factory
 * runs on the options it is given (options may come from YAML, so every value is checked at run time).
 *
 * @module
 */
import * as v from "valibot";

/** One problem a schema found, as Standard Schema v1 reports it: a message and the path of the value. */
export interface OptionsIssue {
  /** What is wrong. */
  readonly message: string;
  /** Where: property keys, or path segments that hold one as `key`. */
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>;
}

/** The outcome of {@linkcode OptionsSchema}'s `validate`: the parsed value, or the issues. */
export type OptionsResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<OptionsIssue> };

/**
 * A schema of plugin options: any Standard Schema v1 object, so a plugin's author may write it with
 * valibot (as the built-ins do), zod or another library that implements the standard. Validation must be
 * synchronous.
 */
export interface OptionsSchema<Output = Record<string, unknown>> {
  /** The Standard Schema v1 interface. */
  readonly "~standard": {
    /** The version of the standard: 1. */
    readonly version: 1;
    /** The library that made the schema (`valibot`, `zod`, ...). */
    readonly vendor: string;
    /** Validates a value: the parsed options (defaults filled in) or the issues. */
    readonly validate: (value: unknown) => OptionsResult<Output> | Promise<OptionsResult<Output>>;
  };
}

/**
 * The option names an object schema declares (valibot's `entries`, zod's `shape`), or undefined when the
 * schema does not tell.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 * import { optionNames } from "./options.ts";
 * assert.deepEqual(optionNames(v.object({ a: v.number(), b: v.string() })), ["a", "b"]);
 * ```
 */
export function optionNames(schema: OptionsSchema<unknown>): string[] | undefined {
  const { entries, shape } = schema as { entries?: unknown; shape?: unknown };
  const fields = entries ?? shape;
  return fields !== null && typeof fields === "object" ? Object.keys(fields) : undefined;
}

/** The key of a path segment. */
function segmentKey(segment: PropertyKey | { readonly key: PropertyKey }): PropertyKey {
  return typeof segment === "object" && segment !== null ? segment.key : segment;
}

/**
 * Validates plugin options with a schema: the issues, each with its path as strings and numbers (an
 * empty list when the options are valid), and the parsed value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 * import { checkOptions } from "./options.ts";
 * const schema = v.object({ beta: v.optional(v.number("beta: expected a number"), 3) });
 * assert.deepEqual(checkOptions(schema, { beta: "x" }).issues, [{ path: ["beta"], message: "beta: expected a number" }]);
 * assert.deepEqual(checkOptions(schema, undefined).value, { beta: 3 });
 * ```
 */
export function checkOptions<Output>(
  schema: OptionsSchema<Output>,
  options: unknown,
): { value?: Output; issues: { path: (string | number)[]; message: string }[] } {
  const result = schema["~standard"].validate(options ?? {});
  if (result instanceof Promise) {
    throw new Error("a plugin's options schema must validate synchronously (it returned a Promise)");
  }
  if (result.issues === undefined) return { value: result.value, issues: [] };
  const issues = result.issues.map((issue) => ({
    path: (issue.path ?? []).map((segment) => {
      const key = segmentKey(segment);
      return typeof key === "number" ? key : String(key);
    }),
    message: issue.message,
  }));
  return { issues };
}

/**
 * Checks a factory's options against its schema and returns them with the defaults filled in; bad
 * options throw an Error that lists every problem (`rankRegularizer: option "ratio" must lie in [0, 1],
 * got 2`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOptions, pluginOptions, numberOption } from "./options.ts";
 * const schema = pluginOptions("myPlugin", { beta: numberOption("myPlugin", "beta", 3) });
 * assert.deepEqual(parseOptions(schema, {}), { beta: 3 });
 * assert.throws(() => parseOptions(schema, { beta: "x" }), /myPlugin: option "beta" must be a finite number, got "x"/);
 * ```
 */
export function parseOptions<Output>(schema: OptionsSchema<Output>, options: unknown): Output {
  const { value, issues } = checkOptions(schema, options);
  if (issues.length > 0) throw new Error(issues.map((issue) => issue.message).join("; "));
  return value as Output;
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return String(value);
  const text = typeof value === "object" && value !== null ? "an object" : JSON.stringify(value);
  return text ?? String(value);
}

/** Option entries: a valibot schema per option name. */
type Entries = Record<string, v.GenericSchema>;

/** The options an {@linkcode Entries} object describes. */
type EntriesOutput<E extends Entries> = v.InferOutput<v.ObjectSchema<E, undefined>>;

/**
 * The schema of a built-in plugin's options: an object whose keys are `entries`' names (any other key is
 * an `unknown option` problem that lists the known ones), then the cross-option `checks`. `owner`, the
 * factory's name, starts every message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptions, numberOption, pluginOptions } from "./options.ts";
 * const schema = pluginOptions("rampSchedule", { beta: numberOption("rampSchedule", "beta", 3) });
 * assert.deepEqual(checkOptions(schema, { bta: 1 }).issues, [
 *   { path: ["bta"], message: `rampSchedule: unknown option "bta"; known options: beta` },
 * ]);
 * ```
 */
export function pluginOptions<E extends Entries>(
  owner: string,
  entries: E,
  ...checks: v.GenericValidation<EntriesOutput<E>>[]
): OptionsSchema<EntriesOutput<E>> {
  const names = Object.keys(entries);
  const known = names.length === 0 ? "none" : names.join(", ");
  const object = v.looseObject(
    entries,
    (issue) => `${owner}: options must be an object, got ${show(issue.input)}`,
  );
  const unknownKeys = v.rawCheck<unknown>(({ dataset, addIssue }) => {
    const input = dataset.value;
    if (input === null || typeof input !== "object" || Array.isArray(input)) return;
    for (const key of Object.keys(input)) {
      if (Object.hasOwn(entries, key)) continue;
      const value = (input as Record<string, unknown>)[key];
      addIssue({
        message: `${owner}: unknown option "${key}"; known options: ${known}`,
        path: [{ type: "object", origin: "key", input: input as Record<string, unknown>, key, value }],
      });
    }
  });
  const schema: v.GenericSchema = v.pipe(
    object as v.GenericSchema,
    unknownKeys as v.GenericValidation,
    ...checks as v.GenericValidation[],
  );
  return schema as OptionsSchema<EntriesOutput<E>>;
}

/**
 * A number option: finite, optionally in `[lo, hi]`; `undefined` takes `fallback`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { numberOption, parseOptions, pluginOptions } from "./options.ts";
 * const schema = pluginOptions("rankRegularizer", { ratio: numberOption("rankRegularizer", "ratio", 0.7, [0, 1]) });
 * assert.throws(() => parseOptions(schema, { ratio: 2 }), /rankRegularizer: option "ratio" must lie in \[0, 1\], got 2/);
 * ```
 */
export function numberOption(
  owner: string,
  key: string,
  fallback: number,
  range?: readonly [number, number],
): v.GenericSchema<number | undefined, number> {
  const finite = `${owner}: option "${key}" must be a finite number`;
  const number = v.pipe(
    v.number((issue) => `${finite}, got ${show(issue.input)}`),
    v.finite((issue) => `${finite}, got ${show(issue.input)}`),
  );
  if (range === undefined) return v.optional(number, fallback);
  const [lo, hi] = range;
  const inRange = (issue: v.BaseIssue<unknown>) =>
    `${owner}: option "${key}" must lie in [${lo}, ${hi}], got ${show(issue.input)}`;
  return v.optional(v.pipe(number, v.minValue(lo, inRange), v.maxValue(hi, inRange)), fallback);
}

/**
 * A boolean option; `undefined` takes `fallback`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { booleanOption, parseOptions, pluginOptions } from "./options.ts";
 * const schema = pluginOptions("fusedDistribution", { stopGradient: booleanOption("fusedDistribution", "stopGradient", false) });
 * assert.throws(() => parseOptions(schema, { stopGradient: 1 }), /option "stopGradient" must be a boolean, got 1/);
 * ```
 */
export function booleanOption(
  owner: string,
  key: string,
  fallback: boolean,
): v.GenericSchema<boolean | undefined, boolean> {
  return v.optional(
    v.boolean((issue) => `${owner}: option "${key}" must be a boolean, got ${show(issue.input)}`),
    fallback,
  );
}
