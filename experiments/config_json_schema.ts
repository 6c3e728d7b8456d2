/**
 * The JSON Schema of a run config file and of an ablation file, generated from the schemas the files
 * are validated with (`configs/config.schema.json` and `configs/ablation.schema.json`, written by
 * `deno task schema`). YAML editors that read `# yaml-language-server: $schema=...` then complete and
 * check the presets. Plugin options come from each registered plugin's options schema, dataset kinds
 * from the dataset-type registry; a kind or plugin that a plugin module registers is accepted too.
 *
 * @module
 */
import type * as v from "valibot";
import { type ConversionConfig, toJsonSchema } from "@valibot/to-json-schema";
import { datasetTypes } from "../datasets/open.ts";
import { listPlugins, PLUGIN_FAMILIES, type PluginFamily, pluginSchema } from "../strategies/registry.ts";
import { ablationFileSchema, JSON_FORMS, runConfigSchema } from "./_config_schema.ts";

/** A JSON Schema document, as plain JSON data. */
export type JsonSchema = { [key: string]: unknown };

const CONVERSION: ConversionConfig = {
  target: "draft-07",
  typeMode: "output",
  // Cross-field checks and the RandAugment parser have no JSON Schema form (and JSON numbers are finite).
  ignoreActions: ["check", "raw_check", "finite"],
  overrideSchema: ({ valibotSchema }) => {
    const form = JSON_FORMS.get(valibotSchema);
    if (form !== undefined) return form as never;
    if (valibotSchema.type === "custom") return { type: "object" };
    return undefined;
  },
};

function convert(schema: v.GenericSchema): JsonSchema {
  const json = toJsonSchema(schema, CONVERSION) as JsonSchema;
  delete json.$schema;
  return close(json);
}

/**
 * Sections reject unknown keys (the validator reports them with a suggestion): every object with
 * `properties` gets `additionalProperties: false`; an empty `required` and the safe-integer bounds are
 * dropped.
 */
function close(node: unknown): JsonSchema {
  if (Array.isArray(node)) node.forEach(close);
  else if (node !== null && typeof node === "object") {
    const json = node as JsonSchema;
    for (const child of Object.values(json)) close(child);
    if (json.properties !== undefined && json.additionalProperties === undefined) {
      json.additionalProperties = false;
    }
    if (Array.isArray(json.required) && json.required.length === 0) delete json.required;
    // valibot's safe-integer check writes the safe range as bounds: the integer type says enough.
    if (json.type === "integer" && json.maximum === Number.MAX_SAFE_INTEGER) delete json.maximum;
    if (json.type === "integer" && json.minimum === Number.MIN_SAFE_INTEGER) delete json.minimum;
  }
  return node as JsonSchema;
}

/** The JSON Schema of one family's plugin specs: a name, or `{ type, ...options }`. */
function pluginFamilyJson(family: PluginFamily, fallback: unknown): JsonSchema {
  const names = listPlugins(family);
  const objects = names.map((name) => {
    const schema = pluginSchema(family, name);
    const vendor = schema?.["~standard"].vendor;
    const options = vendor === "valibot" ? convert(schema as unknown as v.GenericSchema) : { type: "object" };
    const properties = (options.properties ?? {}) as JsonSchema;
    return {
      type: "object",
      properties: { type: { const: name }, ...properties },
      required: ["type"],
      ...(vendor === "valibot" ? { additionalProperties: false } : {}),
    };
  });
  return {
    description: `The ${family} plugin: one of ${names.join(", ")} (or one a plugin module registers), ` +
      "by name or as { type: name, ...options }; an object without type changes the options of the plugin below.",
    default: fallback,
    anyOf: [
      { type: "string", enum: names },
      { type: "string", minLength: 1 },
      ...objects,
      { type: "object", not: { required: ["type"] } },
    ],
  };
}

/** Options of {@linkcode configJsonSchema}. */
export interface ConfigJsonSchemaOptions {
  /**
   * A description per field, by dotted path (`trainer.epochs`): the fields' doc comments.
   *
   * @default {{}}
   */
  descriptions?: Readonly<Record<string, string>>;
}

/**
 * The JSON Schema of a run config file: every field of the run config with its type, range and default,
 * the plugins of each family with their options, and the file-only keys `extends` and `plugins`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configJsonSchema } from "./config_json_schema.ts";
 * const schema = configJsonSchema();
 * const trainer = (schema.properties as Record<string, { properties: Record<string, unknown> }>).trainer;
 * assert.deepEqual(trainer.properties.epochs, { type: "integer", minimum: 1, maximum: 100000, default: 75 });
 * ```
 */
export function configJsonSchema(options: ConfigJsonSchemaOptions = {}): JsonSchema {
  const datasets = ["synthetic", ...datasetTypes().filter((type) => type !== "synthetic")];
  const json = convert(runConfigSchema(datasets));
  const properties = json.properties as Record<string, JsonSchema>;
  const data = properties.data.properties as Record<string, JsonSchema>;
  const { enum: kinds, default: kind } = data.dataset;
  data.dataset = {
    description: "The dataset kind: synthetic, a built-in loader, or a type a plugin module registers.",
    default: kind,
    anyOf: [{ type: "string", enum: kinds }, { type: "string", minLength: 1 }],
  };
  const method = properties.method.properties as Record<string, JsonSchema>;
  for (const family of PLUGIN_FAMILIES) method[family] = pluginFamilyJson(family, method[family].default);
  for (const [path, text] of Object.entries(options.descriptions ?? {})) {
    let node: JsonSchema | undefined = json;
    for (const key of path.split(".")) {
      const object: JsonSchema | undefined = node?.properties === undefined
        ? (node?.anyOf as JsonSchema[] | undefined)?.find((option) => option.properties !== undefined)
        : node;
      node = (object?.properties as Record<string, JsonSchema> | undefined)?.[key];
    }
    if (node !== undefined && node.description === undefined) {
      // The description first, as editors show the keys in order.
      const rest = { ...node };
      for (const key of Object.keys(node)) delete node[key];
      Object.assign(node, { description: text }, rest);
    }
  }
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: "config.schema.json",
    title: "ada-df run config",
    description: "A run config file: every field is optional and takes its default (configs/base.yaml).",
    ...json,
    properties: {
      extends: {
        type: "string",
        minLength: 1,
        description:
          "A preset name (a file in configs/) or a config file relative to this one, whose values " +
          "this file's go over.",
      },
      plugins: {
        type: "array",
        items: { type: "string", minLength: 1 },
        description: "Modules (paths relative to this file) imported before the config is validated; they " +
          "register plugins or dataset types.",
      },
      ...properties,
    },
  };
}

/**
 * The JSON Schema of an ablation file (`deno task ablate FILE.yaml`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ablationJsonSchema } from "./config_json_schema.ts";
 * assert.deepEqual((ablationJsonSchema().properties as Record<string, unknown>).base, {
 *   type: "string",
 *   minLength: 1,
 *   default: "synthetic",
 * });
 * ```
 */
export function ablationJsonSchema(): JsonSchema {
  const json = convert(ablationFileSchema());
  const properties = json.properties as Record<string, JsonSchema>;
  // The seeds' and the variants' own checks, which valibot's JSON form leaves out.
  properties.seeds.items = { type: "integer", minimum: 0 };
  properties.seeds.uniqueItems = true;
  delete properties.variants.default;
  json.required = ["variants"];
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: "ablation.schema.json",
    title: "ada-df ablation file",
    description: "Variants of a base config, each trained with every seed (deno task ablate FILE.yaml).",
    ...json,
  };
}
