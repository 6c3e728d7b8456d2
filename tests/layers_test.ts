/**
 * The layering rule of the README's design section, read off the real module graph (`deno info --json`):
 * each folder imports only from its own layer and the layers below it, and the file formats import
 * nothing of the project's.
 */
import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath as fromFileUrl, pathToFileURL as toFileUrl } from "node:url";
import { type Layer, LAYERS, libraryFiles, ROOT } from "./_library.ts";

interface InfoModule {
  specifier: string;
  dependencies?: {
    specifier: string;
    code?: { specifier: string };
    type?: { specifier: string };
    isDynamic?: boolean;
  }[];
}

function layerOf(specifier: string): number {
  if (!specifier.startsWith("file://")) return -1;
  const path = relative(ROOT, fromFileUrl(specifier));
  return LAYERS.indexOf(path.split("/")[0] as Layer);
}

/** The module graph of `mod.ts` and every library file, as `deno info --json` gives it. */
async function libraryGraph(): Promise<InfoModule[]> {
  const dir = await Deno.makeTempDir();
  try {
    const root = `${dir}/all.ts`;
    const files = [`${ROOT}mod.ts`, ...await libraryFiles()];
    await Deno.writeTextFile(root, files.map((f) => `import "${toFileUrl(f).href}";\n`).join(""));
    const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", root], stderr: "inherit" })
      .output();
    assert.ok(out.success, "deno info failed");
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
    return info.modules.filter((m) => m.specifier.startsWith(toFileUrl(ROOT).href));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const graph = libraryGraph();

/** Every import edge between project modules, as [from, to] file URLs. */
async function importEdges(): Promise<[string, string][]> {
  const edges: [string, string][] = [];
  for (const module of await graph) {
    for (const dep of module.dependencies ?? []) {
      for (const target of [dep.code?.specifier, dep.type?.specifier]) {
        if (target?.startsWith("file://")) edges.push([module.specifier, target]);
      }
    }
  }
  return edges;
}

/**
 * npm packages that take long to load (vega with vega-lite about 0.25 s, umap-js 0.06 s) and that only the
 * reports use: the library imports them on first use (the report's chart renderer and embedding), so that
 * a config check, a CLI's help or a doc example does not pay for them. Type-only imports cost nothing.
 */
const LOADED_ON_FIRST_USE = ["vega", "vega-lite", "umap-js"];

/** Static value imports of `packages` in the library, as "file -> package". */
function staticImports(modules: InfoModule[], packages: readonly string[]): string[] {
  return modules.flatMap((module) =>
    (module.dependencies ?? [])
      .filter((dep) => packages.includes(dep.specifier) && dep.code && !dep.isDynamic)
      .map((dep) => `${relative(ROOT, fromFileUrl(module.specifier))} -> ${dep.specifier}`)
  );
}

Deno.test("every import points down the layers (formats < engine < ... < cli)", async () => {
  const edges = await importEdges();
  assert.ok(edges.length > 100, `expected the whole library graph, got ${edges.length} edges`);
  const name = (s: string) => relative(ROOT, fromFileUrl(s));
  const upward = edges
    .filter(([from, to]) => layerOf(from) >= 0 && layerOf(to) > layerOf(from))
    .map(([from, to]) => `${name(from)} -> ${name(to)}`);
  assert.deepEqual(upward, [], `imports that run against the layer order ${LAYERS.join(" < ")}`);
  const fromFormats = edges
    .filter(([from, to]) => layerOf(from) === 0 && layerOf(to) !== 0)
    .map(([from, to]) => `${name(from)} -> ${name(to)}`);
  assert.deepEqual(fromFormats, [], "the file formats import nothing of the project's outside formats/");
});

Deno.test("vega, vega-lite and umap-js are imported on first use only", async () => {
  const modules = await graph;
  assert.deepEqual(staticImports(modules, LOADED_ON_FIRST_USE), []);
  // The check sees static imports: a module with one fails it.
  const planted: InfoModule = {
    specifier: toFileUrl(`${ROOT}datasets/x.ts`).href,
    dependencies: [{ specifier: "vega", code: { specifier: "npm:vega@6.4.0" } }],
  };
  assert.deepEqual(staticImports([planted], LOADED_ON_FIRST_USE), ["datasets/x.ts -> vega"]);
  // And the graph holds the dynamic ones, so the check reads the right entries.
  const dynamic = modules.flatMap((m) =>
    (m.dependencies ?? []).filter((d) => d.isDynamic).map((d) => d.specifier)
  );
  for (const name of LOADED_ON_FIRST_USE) assert.ok(dynamic.includes(name), `no dynamic import of ${name}`);
});

Deno.test("the layering check catches an upward import", () => {
  const upward = (from: string, to: string) =>
    layerOf(toFileUrl(ROOT + to).href) > layerOf(toFileUrl(ROOT + from).href);
  assert.ok(upward("engine/tf.ts", "training/trainer.ts"));
  assert.ok(upward("strategies/miner.ts", "datasets/mod.ts"));
  assert.ok(!upward("cli/train.ts", "experiments/run.ts"));
  assert.equal(layerOf(toFileUrl(`${ROOT}tests/x.ts`).href), -1);
});
