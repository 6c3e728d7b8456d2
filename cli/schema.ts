/**
 * `deno task schema`: writes the JSON Schemas of the config files (`configs/config.schema.json`) and of
 * the ablation files (`configs/ablation.schema.json`) from the schemas they are validated with, each
 * config field described by its doc comment in `experiments/config.ts` (read with `deno doc --json`);
 * with `--check`, only tells whether the committed files are up to date (exit code 1 when not).
 *
 * @module
 */
import { CONFIGS_DIR } from "../experiments/config.ts";
import { ablationJsonSchema, configJsonSchema, type JsonSchema } from "../experiments/config_json_schema.ts";
import { writeFileAtomic } from "../engine/files.ts";
import { parseCommand, runMain } from "./_main.ts";

const USAGE = `usage: deno task schema [--check]

  --check      compare the files with a fresh generation instead of writing them
  -h, --help   this help`;

interface DocProperty {
  name: string;
  jsDoc?: { doc?: string };
  tsType?: { kind: string; value?: unknown };
}

/** The type names a property's type refers to (directly or in a union). */
function typeNames(type: DocProperty["tsType"]): string[] {
  if (type?.kind === "typeRef") return [(type.value as { typeName: string }).typeName];
  if (type?.kind === "union") return (type.value as DocProperty["tsType"][]).flatMap(typeNames);
  return [];
}

/**
 * The doc comment of every field of `RunConfig` and the interfaces of its sections, by dotted path, from
 * `deno doc --json experiments/config.ts`.
 */
export async function configFieldDocs(): Promise<Record<string, string>> {
  const module = new URL("../experiments/config.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", module.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno doc failed: ${new TextDecoder().decode(out.stderr)}`);
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  const symbols: { name: string; kind?: string; declarations?: { kind?: string; def?: unknown }[] }[] =
    doc.nodes[module.href].symbols;
  const interfaces = new Map<string, DocProperty[]>();
  for (const symbol of symbols) {
    const declaration = symbol.declarations?.find((d) => d.kind === "interface");
    if (declaration) {
      interfaces.set(symbol.name, (declaration.def as { properties: DocProperty[] }).properties);
    }
  }
  const docs: Record<string, string> = {};
  const walk = (name: string, prefix: string) => {
    for (const property of interfaces.get(name) ?? []) {
      const path = prefix === "" ? property.name : `${prefix}.${property.name}`;
      const text = property.jsDoc?.doc?.trim().replace(/\{@link(?:code)? ([^}]+)\}/g, "$1");
      if (text) docs[path] = text;
      for (const ref of typeNames(property.tsType)) if (interfaces.has(ref)) walk(ref, path);
    }
  };
  walk("RunConfig", "");
  return docs;
}

/** The schema files and their text, as `deno task schema` writes them. */
export async function schemaFiles(): Promise<{ url: URL; text: string }[]> {
  const text = (schema: JsonSchema) => JSON.stringify(schema, null, 2) + "\n";
  const descriptions = await configFieldDocs();
  return [
    { url: new URL("config.schema.json", CONFIGS_DIR), text: text(configJsonSchema({ descriptions })) },
    { url: new URL("ablation.schema.json", CONFIGS_DIR), text: text(ablationJsonSchema()) },
  ];
}

/** Parses arguments and runs; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommand({
    args,
    options: {
      check: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: false,
  }, USAGE);
  if (typeof parsed === "number") return parsed;
  let stale = 0;
  for (const { url, text } of await schemaFiles()) {
    const path = url.pathname;
    if (parsed.values.check) {
      const current = await Deno.readTextFile(url).catch(() => "");
      if (current !== text) {
        console.error(`${path} is out of date: run deno task schema`);
        stale++;
      }
    } else {
      await writeFileAtomic(path, text);
      console.log(`wrote ${path}`);
    }
  }
  return stale > 0 ? 1 : 0;
}

if (import.meta.main) await runMain(main);
