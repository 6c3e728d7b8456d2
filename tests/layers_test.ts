/**
 * The layering rule of the README's design section, read off the real module graph (`deno info --json`):
 * each folder imports only from its own layer and the layers below it, and the file formats import
 * nothing of the project's.
 */
import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath as fromFileUrl, pathToFileURL as toFileUrl } from "node:url";

const ROOT = fromFileUrl(new URL("..", import.meta.url));

/** The layers from the bottom up; a module may import from its own layer or any layer before it. */
export const LAYERS = [
  "formats",
  "engine",
  "backbones",
  "strategies",
  "datasets",
  "training",
  "experiments",
  "cli",
] as const;

interface InfoModule {
  specifier: string;
  dependencies?: { specifier: string; code?: { specifier: string }; type?: { specifier: string } }[];
}

function layerOf(specifier: string): number {
  if (!specifier.startsWith("file://")) return -1;
  const path = relative(ROOT, fromFileUrl(specifier));
  return LAYERS.indexOf(path.split("/")[0] as typeof LAYERS[number]);
}

async function libraryFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const layer of LAYERS) {
    const walk = async (dir: string) => {
      for await (const entry of Deno.readDir(dir)) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory) await walk(path);
        else if (entry.name.endsWith(".ts")) files.push(path);
      }
    };
    await walk(`${ROOT}${layer}`);
  }
  return files;
}

/** Every import edge between project modules, as [from, to] file URLs. */
async function importEdges(): Promise<[string, string][]> {
  const dir = await Deno.makeTempDir();
  try {
    const root = `${dir}/all.ts`;
    const files = [`${ROOT}mod.ts`, ...await libraryFiles()];
    await Deno.writeTextFile(root, files.map((f) => `import "${toFileUrl(f).href}";\n`).join(""));
    const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", root], stderr: "inherit" })
      .output();
    assert.ok(out.success, "deno info failed");
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
    const edges: [string, string][] = [];
    for (const module of info.modules) {
      if (!module.specifier.startsWith(toFileUrl(ROOT).href)) continue;
      for (const dep of module.dependencies ?? []) {
        for (const target of [dep.code?.specifier, dep.type?.specifier]) {
          if (target?.startsWith("file://")) edges.push([module.specifier, target]);
        }
      }
    }
    return edges;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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

Deno.test("the layering check catches an upward import", () => {
  const upward = (from: string, to: string) =>
    layerOf(toFileUrl(ROOT + to).href) > layerOf(toFileUrl(ROOT + from).href);
  assert.ok(upward("engine/tf.ts", "training/trainer.ts"));
  assert.ok(upward("strategies/miner.ts", "datasets/mod.ts"));
  assert.ok(!upward("cli/train.ts", "experiments/run.ts"));
  assert.equal(layerOf(toFileUrl(`${ROOT}tests/x.ts`).href), -1);
});
