/**
 * User code reaches training: a plugin module written in a temporary folder registers a distribution
 * source (with an options schema) and a dataset type; configs select them by name once the module is
 * loaded by a config file's `plugins` key, by `--plugin FILE`, or by `loadPlugins`, and tiny runs train
 * with them through `deno task train`, `deno task ablate` and the library.
 */
import { initBackend } from "../engine/backend.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import YAML from "yaml";
import { main as ablateMain } from "../cli/ablate.ts";
import {
  ConfigError,
  datasetNames,
  loadConfigFile,
  loadedPlugins,
  loadPlugins,
  resolveConfig,
  validateConfig,
} from "../experiments/config.ts";
import { RUN_FILES, trainRun } from "../experiments/run.ts";
import { ensureSynthetic } from "../datasets/synthetic.ts";
import { listPlugins } from "../strategies/registry.ts";
import { taskCommand } from "./_cli.ts";

const ROOT = new URL("../", import.meta.url);

/**
 * A plugin module: the `smoothed` distribution source (label smoothing, option `epsilon` in [0, 1],
 * checked by a valibot schema) and the `mini` dataset type (a folder in RAF-DB's layout). Every call of
 * the source's `targets` appends a line to `calls.txt` beside the module, so that a test can tell that
 * training used it.
 */
function pluginModule(): string {
  const url = (path: string) => new URL(path, ROOT).href;
  return `
import * as v from "npm:valibot@1.5.0";
import { tf } from "${url("engine/tf.ts")}";
import { registerPlugin } from "${url("strategies/registry.ts")}";
import { rafDb, registerDatasetType } from "${url("datasets/mod.ts")}";

const calls = new URL("calls.txt", import.meta.url);
const schema = v.object({ epsilon: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)), 0.1) });

registerPlugin("distribution", "smoothed", (options) => {
  const { epsilon } = options as { epsilon: number };
  return {
    name: "smoothed",
    targets: ({ labels, auxProbs }) => {
      Deno.writeTextFileSync(calls, "targets\\n", { append: true });
      const c = auxProbs.shape[1];
      return tf.tidy(() => tf.oneHot(labels, c).toFloat().mul(1 - epsilon).add(epsilon / c));
    },
  };
}, { schema, replace: true });

registerDatasetType("mini", ({ path, split = "train" }) => rafDb(path, { split, name: "mini" }));
`;
}

/** Overrides of a tiny, fast run on the synthetic set generated into `dir/cache`. */
function tinyYaml(dir: string, lines: string[], name: string | null = null): string {
  return [
    "extends: synthetic",
    "backend: wasm",
    "model: { backbone: tiny }",
    "trainer: { batchSize: 8, epochs: 1, lr: 0.003 }",
    `output: { dir: ${JSON.stringify(join(dir, "runs"))}, name: ${JSON.stringify(name)} }`,
    ...lines,
  ].join("\n") + "\n";
}

/** A temporary folder with the plugin module and the tiny synthetic set (in RAF-DB's layout). */
async function withPluginFolder(fn: (dir: string, setDir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "plugins_test_" });
  try {
    await Deno.writeTextFile(join(dir, "my_plugins.ts"), pluginModule());
    const { dir: setDir } = await ensureSynthetic(join(dir, "cache"), { count: 30, seed: 0, size: 16 });
    await fn(dir, setDir);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await initBackend("cpu");
  }
}

async function callsOf(dir: string): Promise<number> {
  const text = await Deno.readTextFile(join(dir, "calls.txt")).catch(() => "");
  return text.split("\n").filter((line) => line === "targets").length;
}

Deno.test("deno task train --plugin trains a custom distribution source on a dataset type selected in YAML", async () => {
  await withPluginFolder(async (dir, setDir) => {
    const file = join(dir, "run.yaml");
    await Deno.writeTextFile(
      file,
      tinyYaml(dir, [
        `data: { dataset: mini, path: ${JSON.stringify(setDir)}, size: 16 }`,
        "method: { distribution: { type: smoothed, epsilon: 0.2 } }",
      ], "cli"),
    );
    const out = await taskCommand("train.ts", [
      "--plugin",
      join(dir, "my_plugins.ts"),
      "--config",
      file,
      "--quiet",
      "--no-report",
    ])
      .output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /data: mini at /);
    const runDir = join(dir, "runs", "cli");
    const summary = JSON.parse(await Deno.readTextFile(join(runDir, RUN_FILES.summary)));
    assert.equal(summary.epochs, 1);
    assert.ok(Number.isFinite(summary.lastAccuracy));
    // 24 training images in batches of 8: three training steps, each asked the source for its targets.
    assert.equal(await callsOf(dir), 3);
    // The run folder's config names the plugin module, so that reading it back loads the module again.
    const saved = YAML.parse(await Deno.readTextFile(join(runDir, RUN_FILES.config)));
    assert.deepEqual(saved.plugins, [pathToFileURL(join(dir, "my_plugins.ts")).href]);
    assert.deepEqual(saved.method.distribution, { type: "smoothed", epsilon: 0.2 });
    assert.equal(saved.data.dataset, "mini");
    // A fresh process resuming the run imports the module from config.yaml (no --plugin): the run had
    // ended, so nothing trains and the source is not called again.
    const resumed = await taskCommand("train.ts", ["--resume", runDir, "--quiet", "--no-report"]).output();
    const resumedText = new TextDecoder().decode(resumed.stdout) + new TextDecoder().decode(resumed.stderr);
    assert.equal(resumed.code, 0, resumedText);
    assert.match(resumedText, /resuming .* after epoch 1 of 1/);
    assert.equal(await callsOf(dir), 3);
    const back = await loadConfigFile(join(runDir, RUN_FILES.config));
    assert.deepEqual([back.data.dataset, back.method.distribution], ["mini", {
      type: "smoothed",
      epsilon: 0.2,
    }]);
  });
});

Deno.test("a config's plugins key loads the module, and trainRun() trains with its plugin", async () => {
  await withPluginFolder(async (dir, setDir) => {
    const file = join(dir, "run.yaml");
    await Deno.writeTextFile(
      file,
      tinyYaml(dir, [
        "plugins: [./my_plugins.ts]",
        `data: { dataset: mini, path: ${JSON.stringify(setDir)}, size: 16 }`,
        "method: { distribution: smoothed }",
      ]),
    );
    const config = await resolveConfig({ file });
    assert.deepEqual([config.data.dataset, config.method.distribution], ["mini", "smoothed"]);
    assert.ok(listPlugins("distribution").includes("smoothed"));
    assert.ok(datasetNames().includes("mini"));
    const { runDir, summary } = await trainRun(config, {
      runDir: join(dir, "lib"),
      progress: false,
      report: false,
      log: () => {},
    });
    assert.equal(summary.epochs, 1);
    assert.equal(await callsOf(dir), 3);
    const saved = YAML.parse(await Deno.readTextFile(join(runDir, RUN_FILES.config)));
    assert.ok(saved.plugins.includes(pathToFileURL(join(dir, "my_plugins.ts")).href));
    assert.ok(loadedPlugins().includes(pathToFileURL(join(dir, "my_plugins.ts")).href));

    // The plugin's options schema checks configs: every problem, at the option's path.
    const problems = (() => {
      try {
        validateConfig({ method: { distribution: { type: "smoothed", epsilon: 2, epsilonn: 1 } } });
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.problems;
      }
      assert.fail("expected a ConfigError");
    })();
    assert.equal(problems.length, 2, problems.join("\n"));
    assert.match(problems[0], /^method\.distribution\.epsilon: .*<=1.* 2$/);
    assert.equal(
      problems[1],
      `method.distribution.epsilonn: unknown option "epsilonn"; known options: epsilon ` +
        "(did you mean method.distribution.epsilon?)",
    );
  });
});

Deno.test("deno task ablate --plugin loads the module before the ablation's configs are resolved", async () => {
  await withPluginFolder(async (dir, setDir) => {
    await Deno.writeTextFile(
      join(dir, "base.yaml"),
      tinyYaml(dir, [`data: { dataset: mini, path: ${JSON.stringify(setDir)}, size: 16 }`]),
    );
    const file = join(dir, "ablation.yaml");
    await Deno.writeTextFile(
      file,
      [
        "name: smoothed",
        "base: ./base.yaml",
        `output: ${JSON.stringify(join(dir, "ablation"))}`,
        "variants:",
        "  - { name: smoothed, set: { method.distribution: { type: smoothed, epsilon: 0.3 } } }",
      ].join("\n") + "\n",
    );
    const log = console.log;
    const lines: string[] = [];
    console.log = (line: string) => void lines.push(line);
    let code: number;
    try {
      code = await ablateMain([file, "--plugin", join(dir, "my_plugins.ts"), "--quiet", "--no-report"]);
    } finally {
      console.log = log;
    }
    assert.equal(code, 0, lines.join("\n"));
    assert.equal(await callsOf(dir), 3);
    const markdown = await Deno.readTextFile(join(dir, "ablation", "results.md"));
    assert.match(
      markdown,
      /\| smoothed \| method\.distribution=\{"type":"smoothed","epsilon":0\.3\} \| 1 \|/,
    );
  });
});

Deno.test("loadPlugins() and a config's plugins key report a module they cannot import, with its place", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plugins_test_" });
  try {
    await assert.rejects(
      () => loadPlugins(["./no_such_module.ts"], dir),
      (error: unknown) =>
        error instanceof ConfigError &&
        /^plugin module "\.\/no_such_module\.ts": cannot import file:\/\/.*no_such_module\.ts: /.test(
          error.message,
        ),
    );
    const file = join(dir, "bad.yaml");
    await Deno.writeTextFile(file, "plugins:\n  - ./missing.ts\n  - 3\ntrainer: { epochs: 1 }\n");
    await assert.rejects(() => loadConfigFile(file), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        `${file}:3:5: plugins[1]: expected a module path (relative to this file), got 3`,
      ]);
      return true;
    });
    await Deno.writeTextFile(file, "plugins: [./missing.ts]\n");
    await assert.rejects(
      () => loadConfigFile(file),
      /bad\.yaml:1:11: plugins\[0\]: cannot import file:.*missing\.ts/,
    );
    await Deno.writeTextFile(file, "plugins: ./missing.ts\n");
    await assert.rejects(
      () => loadConfigFile(file),
      /bad\.yaml:1:1: plugins: expected a list of module paths/,
    );
    // Only a file loads modules: in a config given as a value, `plugins` is a mistake that says so.
    assert.throws(
      () => validateConfig({ plugins: ["./x.ts"] }),
      /plugins: only a config file loads plugin modules/,
    );
    // An unregistered dataset type lists the registered ones.
    assert.throws(
      () => validateConfig({ data: { dataset: "nosuch" } }),
      /data\.dataset: expected one of synthetic, rafdb, .*fer2013.*, got "nosuch"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
