import assert from "node:assert/strict";
import { join } from "node:path";
import { Ajv } from "ajv";
import YAML from "yaml";
import { BACKBONES } from "../backbones/resnet.ts";
import { tf } from "../engine/tf.ts";
import {
  applyOverrides,
  ConfigError,
  configToYaml,
  DEFAULT_CONFIG,
  listPresets,
  loadConfigFile,
  mergeConfig,
  presetPath,
  resolveConfig,
  type RunConfig,
  validateConfig,
} from "../experiments/config.ts";

const PAPER_PRESETS = ["affectnet7", "rafdb", "sfew"];

/** Runs `fn` with a temp folder holding `files`, then removes it. */
async function withFiles(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void> | void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "config_test_" });
  try {
    for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, name), text);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The ConfigError's problem lines, failing if anything else is thrown or nothing is. */
async function problemsOf(fn: () => unknown): Promise<readonly string[]> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.message, error.problems.join("\n"));
    return error.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("validateConfig() fills every default", () => {
  const config = validateConfig({});
  assert.deepEqual(config, DEFAULT_CONFIG);
  assert.deepEqual(validateConfig(undefined), DEFAULT_CONFIG);
  assert.equal(config.trainer.epochs, 75);
  assert.deepEqual(config.method.miner, { type: "epoch-pass", threshold: 0.7 });
  // A fresh object, not the frozen defaults.
  config.trainer.epochs = 1;
  assert.equal(DEFAULT_CONFIG.trainer.epochs, 75);
});

Deno.test("validateConfig() keeps given values and merges partial sections", () => {
  const config = validateConfig({
    seed: 7,
    data: { dataset: "rafdb", path: "/data/raf", erasing: { p: 0.3 }, synthetic: { count: 50 } },
    method: { distribution: "label", miner: { threshold: 0.5 }, schedule: { type: "constant" } },
    trainer: { maxBatchesPerEpoch: 4 },
  });
  assert.equal(config.seed, 7);
  assert.equal(config.data.path, "/data/raf");
  assert.deepEqual(config.data.erasing, { p: 0.3, scale: [0.02, 0.25], ratio: [0.3, 3.3] });
  assert.equal(config.data.synthetic.count, 50);
  assert.equal(config.data.synthetic.size, 112);
  assert.equal(config.method.distribution, "label");
  assert.deepEqual(config.method.miner, { type: "epoch-pass", threshold: 0.5 });
  // Another type replaces the plugin: the ramp's beta does not leak into the constant schedule.
  assert.deepEqual(config.method.schedule, { type: "constant" });
  assert.equal(config.trainer.maxBatchesPerEpoch, 4);
  assert.equal(validateConfig({ data: { erasing: null, randAugment: null } }).data.erasing, null);
});

Deno.test("validateConfig() rejects an unknown key with a suggestion", async () => {
  const problems = await problemsOf(() => validateConfig({ trainer: { epoch: 3 } }, { source: "x.yaml" }));
  assert.deepEqual(problems, ["x.yaml: unknown key trainer.epoch (did you mean trainer.epochs?)"]);
  // A key in the wrong section points at the right one; snake_case finds the camelCase name.
  const moved = await problemsOf(() => validateConfig({ epochs: 3, data: { batch_size: 8 } }));
  assert.deepEqual(moved, [
    "unknown key epochs (did you mean trainer.epochs?)",
    "unknown key data.batch_size (did you mean trainer.batchSize?)",
  ]);
  // No close name: the known keys are listed.
  const far = await problemsOf(() => validateConfig({ model: { zzzzzz: 1 } }));
  assert.match(
    far[0],
    /^unknown key model\.zzzzzz; known keys of model: backbone, weights, freezeStem, partialWeights, branches$/,
  );
});

Deno.test("validateConfig() rejects wrong types, ranges and enums with the field's path", async () => {
  const cases: [unknown, string][] = [
    [{ trainer: { epochs: "ten" } }, `x.yaml: trainer.epochs: expected an integer in [1, 100000], got "ten"`],
    [{ trainer: { epochs: 2.5 } }, `x.yaml: trainer.epochs: expected an integer in [1, 100000], got 2.5`],
    [{ trainer: { lr: 0 } }, `x.yaml: trainer.lr: expected a number in (0, 1], got 0`],
    [{ trainer: { lrGamma: 1.5 } }, `x.yaml: trainer.lrGamma: expected a number in (0, 1], got 1.5`],
    [{ trainer: { dropLast: "yes" } }, `x.yaml: trainer.dropLast: expected true or false, got "yes"`],
    [{ data: { size: 600 } }, `x.yaml: data.size: expected an integer in [16, 512], got 600`],
    [{ data: { labelNoise: 0.95 } }, `x.yaml: data.labelNoise: expected a number in [0, 0.9], got 0.95`],
    [{ data: { hflip: null } }, `x.yaml: data.hflip: expected a number in [0, 1], got null`],
    [
      { data: { erasing: { scale: [0.3, 0.1] } } },
      `x.yaml: data.erasing.scale: expected [min, max] with 0 < min <= max <= 1, got [0.3,0.1]`,
    ],
    [
      { data: { erasing: { ratio: [1] } } },
      `x.yaml: data.erasing.ratio: expected [min, max] with 0 < min <= max <= 100, got [1]`,
    ],
    [{ data: { testCrops: 5 } }, `x.yaml: data.testCrops: expected 1 or 10, got 5`],
    [{ data: { sampler: "random" } }, `x.yaml: data.sampler: expected shuffle or balanced, got "random"`],
    [
      { backend: "gpu" },
      `x.yaml: backend: expected one of auto, wasm, webgpu, tensorflow, native, cpu, got "gpu"`,
    ],
    [
      { data: { dataset: "raf" } },
      `x.yaml: data.dataset: expected one of synthetic, rafdb, affectnet7, affectnet8, sfew, folder, fer2013, ferplus, got "raf"`,
    ],
    [
      { model: { backbone: "vgg" } },
      // The backbones come from their owner, backbones/resnet.ts.
      `x.yaml: model.backbone: expected one of ${BACKBONES.join(", ")}, got "vgg"`,
    ],
    [{ data: 5 }, `x.yaml: data: expected an object, got 5`],
    [
      { output: { name: "a/b" } },
      `x.yaml: output.name: expected a plain folder name (no path separators), got "a/b"`,
    ],
    [
      { trainer: { maxBatchesPerEpoch: 0 } },
      `x.yaml: trainer.maxBatchesPerEpoch: expected an integer in [1, 1000000000] or null, got 0`,
    ],
  ];
  for (const [value, expected] of cases) {
    assert.deepEqual(await problemsOf(() => validateConfig(value, { source: "x.yaml" })), [expected]);
  }
  const bad = await problemsOf(() => validateConfig({ data: { randAugment: "randaug" } }));
  assert.match(bad[0], /^data\.randAugment: expected a RandAugment string/);
  const section = await problemsOf(() => validateConfig({ data: { randAugment: "rand-m5-q3" } }));
  assert.match(section[0], /^data\.randAugment: unknown RandAugment section "q3"/);
});

Deno.test("validateConfig() reports every problem at once, one per line", async () => {
  const problems = await problemsOf(() =>
    validateConfig({ seed: -1, trainer: { epochs: 0, batchSize: "x" }, output: { dir: "" } }, {
      source: "x.yaml",
    })
  );
  assert.equal(problems.length, 4);
  assert.ok(problems.every((line) => line.startsWith("x.yaml: ")));
  assert.ok(problems.some((line) => line.startsWith("x.yaml: trainer.batchSize: ")));
});

Deno.test("validateConfig() checks plugins through the registry, under method.", async () => {
  const name = await problemsOf(() => validateConfig({ method: { distribution: "fusd" } }));
  assert.deepEqual(name, [
    `method.distribution: unknown distribution plugin "fusd"; known: onehot, label, class, fused`,
  ]);
  const typed = await problemsOf(() => validateConfig({ method: { miner: { type: "weekly" } } }));
  assert.match(typed[0], /^method\.miner\.type: unknown miner plugin "weekly"/);
  const option = await problemsOf(() => validateConfig({ method: { regularizer: { ratio: 2 } } }));
  assert.deepEqual(option, [
    `method.regularizer.ratio: rankRegularizer: option "ratio" must lie in [0, 1], got 2`,
  ]);
  const typo = await problemsOf(() => validateConfig({ method: { miner: { treshold: 0.5 } } }));
  assert.match(
    typo[0],
    /^method\.miner\.treshold: .*unknown option "treshold".*\(did you mean method\.miner\.threshold\?\)$/,
  );
  const family = await problemsOf(() => validateConfig({ method: { fusion: "fixed" } }));
  assert.match(family[0], /^unknown key method\.fusion; known keys of method: distribution, miner/);
  const shape = await problemsOf(() =>
    validateConfig({ method: { attention: 3, normalizer: { value: 0.5 } } })
  );
  assert.deepEqual(shape, [
    "method.attention: expected a plugin name or { type: name, ...options }, got 3",
    // `normalizer: { value }` builds on the default adaptive normaliser, which has no `value` option.
    `method.normalizer.value: adaptiveNormalizer: unknown option "value"; known options: minWeight, maxWeight`,
  ]);
});

Deno.test("validateConfig() builds no tensors and reports a __proto__ key as unknown", async () => {
  const before = tf.memory().numTensors;
  validateConfig({ method: { distribution: "label", regularizer: "none", normalizer: { type: "fixed" } } });
  assert.equal(tf.memory().numTensors, before);
  const parsed = YAML.parse("trainer:\n  __proto__: { epochs: 1 }\n");
  const problems = await problemsOf(() => validateConfig(parsed));
  assert.match(problems[0], /^unknown key trainer\.__proto__/);
  assert.equal(({} as Record<string, unknown>).epochs, undefined);
});

Deno.test("listPresets() and loadConfigFile() load every preset", async () => {
  const presets = await listPresets();
  for (const name of ["synthetic", ...PAPER_PRESETS]) assert.ok(presets.includes(name), name);
  for (const name of presets) {
    const config = await loadConfigFile(await presetPath(name));
    assert.equal(typeof config.trainer.epochs, "number", name);
  }
  await assert.rejects(() => presetPath("nope"), /unknown preset "nope"; presets: .*synthetic/);
});

Deno.test("the paper presets carry the paper's hyperparameters", async () => {
  const load = async (name: string) => await loadConfigFile(await presetPath(name));
  for (const name of PAPER_PRESETS) {
    const c = await load(name);
    assert.equal(c.data.size, 224, name);
    assert.equal(c.trainer.epochs, 75, name);
    assert.equal(c.trainer.lr, 1e-3, name);
    assert.equal(c.trainer.lrGamma, 0.9, name);
    assert.equal(c.model.backbone, "resnet18", name);
    assert.equal(c.model.freezeStem, true, name);
    assert.equal(c.method.distribution, "fused", name);
    assert.deepEqual(c.method.normalizer, { type: "adaptive", minWeight: 0.2, maxWeight: 1 }, name);
    assert.deepEqual(c.method.regularizer, { type: "rank", ratio: 0.7, margin: 0.07 }, name);
    assert.deepEqual(c.data.erasing, { p: 0.5, scale: [0.02, 0.25], ratio: [0.3, 3.3] }, name);
    assert.equal(c.data.dataset, name);
    assert.equal(c.data.path, null, name);
  }
  const raf = await load("rafdb");
  assert.deepEqual([raf.method.miner, raf.method.schedule], [
    { type: "epoch-pass", threshold: 0.7 },
    { type: "ramp", beta: 3 },
  ]);
  assert.deepEqual([raf.trainer.batchSize, raf.data.sampler, raf.data.testCrops], [64, "shuffle", 1]);
  assert.equal(raf.data.randAugment, "rand-m5-n3-mstd0.5");
  const affect = await load("affectnet7");
  assert.deepEqual([affect.method.miner, affect.method.schedule], [
    { type: "epoch-pass", threshold: 0.5 },
    { type: "ramp", beta: 5 },
  ]);
  assert.deepEqual([affect.trainer.batchSize, affect.data.sampler], [64, "balanced"]);
  const sfew = await load("sfew");
  assert.deepEqual([sfew.method.miner, sfew.method.schedule], [
    { type: "epoch-pass", threshold: 0.5 },
    { type: "ramp", beta: 5 },
  ]);
  assert.deepEqual([sfew.trainer.batchSize, sfew.data.testCrops, sfew.data.randAugment], [
    16,
    10,
    "rand-m3-n5-mstd0.5",
  ]);
});

Deno.test("the synthetic preset trains Ada-DF from random weights with an attention warm-up", async () => {
  const c = await loadConfigFile(await presetPath("synthetic"));
  assert.equal(c.data.dataset, "synthetic");
  assert.equal(c.model.backbone, "small");
  assert.equal(c.model.weights, null);
  assert.equal(c.method.distribution, "fused");
  assert.deepEqual(c.method.attention, { type: "sigmoid", warmupEpochs: 2 });
  assert.ok(c.trainer.epochs > 2 + 1, "epochs with the sigmoid attention and mined class distributions");
});

Deno.test("loadConfigFile() reports problems with file:line:column", async () => {
  await withFiles({
    "bad.yaml": "trainer:\n  epoch: 3\n  lr: -1\nmethod:\n  miner: { type: epoch-pass, threshold: 2 }\n",
    "syntax.yaml": "trainer:\n  epochs: 3\n  lr: [0.1, 0.2\n",
    "dupe.yaml": "seed: 1\nseed: 2\n",
    "list.yaml": "- 1\n- 2\n",
  }, async (dir) => {
    const bad = join(dir, "bad.yaml");
    assert.deepEqual(await problemsOf(() => loadConfigFile(bad)), [
      `${bad}:2:3: unknown key trainer.epoch (did you mean trainer.epochs?)`,
      `${bad}:3:3: trainer.lr: expected a number in (0, 1], got -1`,
      `${bad}:5:30: method.miner.threshold: epochPassMiner: option "threshold" must lie in [0, 1], got 2`,
    ]);
    const syntax = await problemsOf(() => loadConfigFile(join(dir, "syntax.yaml")));
    assert.match(
      syntax[0],
      new RegExp(`^${escape(join(dir, "syntax.yaml"))}:\\d+:\\d+: YAML syntax error: `),
    );
    const dupe = await problemsOf(() => loadConfigFile(join(dir, "dupe.yaml")));
    assert.match(dupe[0], /dupe\.yaml:2:1: YAML syntax error: Map keys must be unique/);
    const list = await problemsOf(() => loadConfigFile(join(dir, "list.yaml")));
    assert.match(list[0], /list\.yaml:1:1: expected a mapping of config sections at the top level/);
    const missing = await problemsOf(() => loadConfigFile(join(dir, "missing.yaml")));
    assert.match(missing[0], /missing\.yaml: cannot read the config file: no such file/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("loadConfigFile() follows extends to presets and files", async () => {
  await withFiles({
    "base.yaml": [
      "extends: rafdb",
      "data: { path: /data/raf, erasing: { scale: [0.1, 0.2] } }",
      "method: { miner: { threshold: 0.6 } }",
      "trainer: { epochs: 10 }",
    ].join("\n"),
    "child.yaml": [
      "extends: ./base.yaml",
      "data: { erasing: { scale: [0.05, 0.3] } }",
      "method: { distribution: label, regularizer: none }",
      "trainer: { batchSize: 8 }",
    ].join("\n"),
    "bad-child.yaml": "extends: base.yaml\ntrainer: { epochs: 0 }\n",
    "bad-base.yaml": "extends: nosuchpreset\n",
    "bad-type.yaml": "extends: [rafdb]\n",
  }, async (dir) => {
    const child = await loadConfigFile(join(dir, "child.yaml"));
    assert.equal(child.data.dataset, "rafdb"); // from the preset
    assert.equal(child.data.size, 224);
    assert.equal(child.data.path, "/data/raf"); // from base.yaml
    assert.deepEqual(child.data.erasing, { p: 0.5, scale: [0.05, 0.3], ratio: [0.3, 3.3] }); // arrays replaced
    assert.deepEqual(child.method.miner, { type: "epoch-pass", threshold: 0.6 }); // options merged
    assert.equal(child.method.regularizer, "none");
    assert.equal(child.method.distribution, "label");
    assert.deepEqual([child.trainer.epochs, child.trainer.batchSize, child.trainer.lr], [10, 8, 0.001]);

    const badChild = join(dir, "bad-child.yaml");
    assert.deepEqual(await problemsOf(() => loadConfigFile(badChild)), [
      `${badChild}:2:12: trainer.epochs: expected an integer in [1, 100000], got 0`,
    ]);
    const badBase = await problemsOf(() => loadConfigFile(join(dir, "bad-base.yaml")));
    assert.match(badBase[0], /bad-base\.yaml:1:1: extends: unknown preset "nosuchpreset"; presets: /);
    const badType = await problemsOf(() => loadConfigFile(join(dir, "bad-type.yaml")));
    assert.match(badType[0], /bad-type\.yaml:1:1: extends: expected a preset name or a path/);
  });
});

Deno.test("loadConfigFile() rejects an extends cycle", async () => {
  await withFiles({
    "a.yaml": "extends: ./b.yaml\n",
    "b.yaml": "extends: ./c.yaml\n",
    "c.yaml": "extends: ./a.yaml\n",
    "self.yaml": "extends: self.yaml\n",
  }, async (dir) => {
    const problems = await problemsOf(() => loadConfigFile(join(dir, "a.yaml")));
    assert.match(problems[0], /extends cycle: .*a\.yaml -> .*b\.yaml -> .*c\.yaml -> .*a\.yaml$/);
    const self = await problemsOf(() => loadConfigFile(join(dir, "self.yaml")));
    assert.match(self[0], /extends cycle: .*self\.yaml -> .*self\.yaml$/);
  });
});

Deno.test("applyOverrides() sets fields by path with YAML values", () => {
  const config = applyOverrides(DEFAULT_CONFIG, [
    "trainer.epochs=3",
    "method.distribution=label",
    "data.erasing.scale=[0.02,0.3]",
    "trainer.lr=1e-4",
    "output.name=run#1",
    "method.miner.threshold=0.5",
    "method.regularizer={type: rank, margin: 0.15}",
    "data.randAugment=rand-m3-n5-mstd0.5",
  ]);
  assert.equal(config.trainer.epochs, 3);
  assert.equal(config.method.distribution, "label");
  assert.deepEqual(config.data.erasing?.scale, [0.02, 0.3]);
  assert.equal(config.trainer.lr, 1e-4);
  assert.equal(config.output.name, "run#1");
  assert.deepEqual(config.method.miner, { type: "epoch-pass", threshold: 0.5 });
  assert.deepEqual(config.method.regularizer, { type: "rank", ratio: 0.7, margin: 0.15 });
  assert.equal(config.data.randAugment, "rand-m3-n5-mstd0.5");
  assert.equal(applyOverrides(config, ["data.erasing=null"]).data.erasing, null);
  // A later override wins; a section cleared to null can be set again from the defaults.
  const again = applyOverrides(DEFAULT_CONFIG, [
    "data.erasing=null",
    "data.erasing.p=0.1",
    "seed=1",
    "seed=2",
  ]);
  assert.deepEqual(again.data.erasing, { p: 0.1, scale: [0.02, 0.25], ratio: [0.3, 3.3] });
  assert.equal(again.seed, 2);
  // An option of a plugin given by name.
  const named = applyOverrides({ method: { schedule: "ramp" } }, ["method.schedule.beta=5"]);
  assert.deepEqual(named.method.schedule, { type: "ramp", beta: 5 });
});

Deno.test("applyOverrides() rejects bad paths and values with the override", async () => {
  const cases: [string, string | RegExp][] = [
    [
      "trainer.epoch=3",
      `override "trainer.epoch=3": unknown key trainer.epoch (did you mean trainer.epochs?)`,
    ],
    [
      "trainer.epochs=ten",
      `override "trainer.epochs=ten": trainer.epochs: expected an integer in [1, 100000], got "ten"`,
    ],
    ["trainer.epochs.max=3", /^override "trainer\.epochs\.max=3": trainer\.epochs is 75, not a section/],
    ["trainer.epochs", /^override "trainer\.epochs": expected PATH=VALUE/],
    ["trainer..epochs=3", /^override "trainer\.\.epochs=3": bad path/],
    ["trainer.epochs=", /^override "trainer\.epochs=": no value after "="/],
    ["data.erasing.scale=[0.1,", /^override "data\.erasing\.scale=\[0\.1,": cannot parse the value/],
    [
      "method.distribution=fusd",
      /^override "method\.distribution=fusd": method\.distribution: unknown distribution/,
    ],
    ["extends=rafdb", /^override "extends=rafdb": extends: only a config file/],
  ];
  for (const [override, expected] of cases) {
    const problems = await problemsOf(() => applyOverrides(DEFAULT_CONFIG, [override], { source: "c.yaml" }));
    assert.equal(problems.length, 1, override);
    if (typeof expected === "string") assert.equal(problems[0], expected);
    else assert.match(problems[0], expected);
  }
  // All bad overrides are reported together.
  const both = await problemsOf(() => applyOverrides(DEFAULT_CONFIG, ["a", "b"]));
  assert.equal(both.length, 2);
});

Deno.test("resolveConfig() applies preset, data path and overrides in order", async () => {
  const synthetic = await resolveConfig();
  assert.deepEqual(synthetic, await loadConfigFile(await presetPath("synthetic")));
  assert.notDeepEqual(synthetic, DEFAULT_CONFIG);

  const raf = await resolveConfig({
    preset: "rafdb",
    dataPath: "/data/raf",
    overrides: ["trainer.epochs=2"],
  });
  assert.deepEqual([raf.data.dataset, raf.data.path, raf.trainer.epochs], ["rafdb", "/data/raf", 2]);
  const overridden = await resolveConfig({ preset: "rafdb", dataPath: "/a", overrides: ["data.path=/b"] });
  assert.equal(overridden.data.path, "/b");

  const noPath = await problemsOf(() => resolveConfig({ preset: "sfew" }));
  assert.match(
    noPath[0],
    /data\.path: the sfew dataset needs its location: pass --data-path or set data\.path$/,
  );
  assert.equal((await resolveConfig({ preset: "sfew", requireDataPath: false })).data.path, null);
  await assert.rejects(() => resolveConfig({ preset: "rafdb", file: "x.yaml" }), ConfigError);
  await assert.rejects(() => resolveConfig({ preset: "nope" }), /unknown preset "nope"/);

  await withFiles({ "run.yaml": "extends: synthetic\ntrainer: { epochs: 1 }\n" }, async (dir) => {
    const file = join(dir, "run.yaml");
    const config = await resolveConfig({ file, overrides: ["trainer.batchSize=4"] });
    assert.deepEqual([config.trainer.epochs, config.trainer.batchSize], [1, 4]);
    const problems = await problemsOf(() => resolveConfig({ file, overrides: ["trainer.lr=0"] }));
    assert.deepEqual(problems, [`override "trainer.lr=0": trainer.lr: expected a number in (0, 1], got 0`]);
  });
});

Deno.test("configToYaml() loads back to an equal config", async () => {
  const configs: RunConfig[] = [
    DEFAULT_CONFIG,
    await resolveConfig(),
    await resolveConfig({ preset: "sfew", dataPath: "/data/SFEW 2.0: faces" }),
    applyOverrides(DEFAULT_CONFIG, [
      "data.erasing=null",
      "data.randAugment=null",
      "output.name='0.5'",
      "output.dir=runs/#1",
      "trainer.lr=1e-7",
      "trainer.maxBatchesPerEpoch=3",
      "method.normalizer={type: fixed, value: 0.6}",
      "method.distribution={type: fused, stopGradient: true}",
      "model.weights=C:\\weights\\r18.pth",
    ]),
  ];
  await withFiles({}, async (dir) => {
    for (const [i, config] of configs.entries()) {
      const text = configToYaml(config, { header: "resolved\nconfig" });
      assert.ok(text.startsWith("# resolved\n# config\n"));
      assert.deepEqual(validateConfig(YAML.parse(text)), config);
      const path = join(dir, `run${i}.yaml`);
      await Deno.writeTextFile(path, text);
      assert.deepEqual(await loadConfigFile(path), config);
    }
  });
  assert.match(configToYaml(DEFAULT_CONFIG), /scale: \[0\.02, 0\.25\]/);
});

Deno.test("mergeConfig() merges objects, replaces arrays and scalars, and handles plugins", () => {
  const merged = mergeConfig(
    {
      data: { erasing: { p: 0.5, scale: [0.02, 0.25] } },
      method: { miner: { type: "online", threshold: 0.4 } },
    },
    { data: { erasing: { scale: [0.1, 0.2] } }, method: { miner: { threshold: 0.6 }, regularizer: "none" } },
  );
  assert.deepEqual(merged, {
    data: { erasing: { p: 0.5, scale: [0.1, 0.2] } },
    method: { miner: { type: "online", threshold: 0.6 }, regularizer: "none" },
  });
  const replaced = mergeConfig({ method: { miner: { type: "online", threshold: 0.4 } } }, {
    method: { miner: { type: "epoch-pass" } },
  });
  assert.deepEqual(replaced.method?.miner, { type: "epoch-pass" });
});

Deno.test("configs/base.yaml writes out every field, equal to DEFAULT_CONFIG, and every preset extends it", async () => {
  const dir = new URL("../configs/", import.meta.url);
  const base = YAML.parse(await Deno.readTextFile(new URL("base.yaml", dir)));
  const leaves = (value: unknown, prefix = ""): string[] =>
    value !== null && typeof value === "object" && !Array.isArray(value) && !prefix.startsWith("method.")
      ? Object.entries(value).flatMap(([key, child]) =>
        leaves(child, prefix === "" ? key : `${prefix}.${key}`)
      )
      : [prefix];
  assert.deepEqual(leaves(base).sort(), leaves(DEFAULT_CONFIG).sort());
  assert.deepEqual(validateConfig(base), DEFAULT_CONFIG);
  assert.deepEqual(await loadConfigFile(await presetPath("base")), DEFAULT_CONFIG);
  for (const name of ["synthetic", ...PAPER_PRESETS]) {
    const text = await Deno.readTextFile(new URL(`${name}.yaml`, dir));
    assert.equal(YAML.parse(text).extends, "./base.yaml", name);
    // Only what differs from the base: no field repeats the base's value.
    const preset = YAML.parse(text);
    delete preset.extends;
    for (const path of leaves(preset)) {
      const at = (root: unknown) =>
        path.split(".").reduce((node: unknown, key) => (node as Record<string, unknown>)?.[key], root);
      if (path === `data.path`) continue; // kept with its comment: where the dataset goes
      assert.notDeepEqual(at(preset), at(base), `${name}: ${path} repeats the base`);
    }
  }
});

Deno.test("configs/*.schema.json are fresh generations, cover the presets, and the presets point at them", async () => {
  const { schemaFiles } = await import("../cli/schema.ts");
  for (const { url, text } of await schemaFiles()) {
    assert.equal(await Deno.readTextFile(url), text, `${url.pathname} is stale: run deno task schema`);
  }
  const dir = new URL("../configs/", import.meta.url);
  const schema = JSON.parse(await Deno.readTextFile(new URL("config.schema.json", dir)));
  assert.deepEqual(schema.properties.trainer.properties.lrGamma, {
    description: "ExponentialLR factor applied after every epoch, in (0, 1].",
    type: "number",
    exclusiveMinimum: 0,
    maximum: 1,
    default: 0.9,
  });
  assert.equal(schema.properties.data.additionalProperties, false);
  // Each field is described by its doc comment in experiments/config.ts.
  assert.equal(
    schema.properties.trainer.properties.epochs.description,
    "Number of epochs (integer 1..100,000).",
  );
  assert.equal(
    schema.properties.data.properties.erasing.anyOf[0].properties.p.description,
    "Probability of erasing a rectangle (0..1).",
  );
  const rank = schema.properties.method.properties.regularizer.anyOf.find((
    s: { properties?: { type?: unknown } },
  ) => s.properties?.type !== undefined && (s.properties.type as { const: string }).const === "rank");
  assert.deepEqual(rank.properties.ratio, { type: "number", minimum: 0, maximum: 1, default: 0.7 });
  // Every key a preset writes is a property of the schema (so an editor checks and completes it).
  const covered = (value: unknown, node: Record<string, unknown>, path: string) => {
    if (value === null || typeof value !== "object" || Array.isArray(value) || path.startsWith("method.")) {
      return;
    }
    const properties =
      (node.properties ?? (node.anyOf as Record<string, unknown>[] | undefined)?.[0]?.properties) as
        | Record<string, Record<string, unknown>>
        | undefined;
    for (const [key, child] of Object.entries(value)) {
      assert.ok(properties && Object.hasOwn(properties, key), `${path}${key} is not in config.schema.json`);
      covered(child, properties[key], `${path}${key}.`);
    }
  };
  for (const name of await listPresets()) {
    const text = await Deno.readTextFile(await presetPath(name));
    assert.ok(text.startsWith("# yaml-language-server: $schema=./config.schema.json\n"), name);
    covered(YAML.parse(text), schema, "");
  }
  for (const name of ["ablation-synthetic", "noise-synthetic"]) {
    const text = await Deno.readTextFile(new URL(`${name}.yaml`, dir));
    assert.ok(text.startsWith("# yaml-language-server: $schema=./ablation.schema.json\n"), name);
  }
});

Deno.test("validateConfig() takes a list for neither a section nor the erasing settings", async () => {
  assert.deepEqual(await problemsOf(() => validateConfig({ data: [1, 2] })), [
    "data: expected an object, got [1,2]",
  ]);
  assert.deepEqual(await problemsOf(() => validateConfig({ data: { erasing: [0.5] } })), [
    "data.erasing: expected an object { p, scale, ratio } or null, got [0.5]",
  ]);
});

Deno.test("the presets and ablation files pass the published JSON Schemas, and a bad config does not", async () => {
  const dir = new URL("../configs/", import.meta.url);
  const ajv = new Ajv({ strict: true, allErrors: true });
  const config = ajv.compile(JSON.parse(await Deno.readTextFile(new URL("config.schema.json", dir))));
  for (const name of await listPresets()) {
    const value = YAML.parse(await Deno.readTextFile(await presetPath(name)));
    assert.ok(config(value), `${name}: ${JSON.stringify(config.errors)}`);
  }
  assert.equal(config({ trainer: { epochs: 0, epoch: 3 }, data: { erasing: { scale: [0.3] } } }), false);
  const failing = new Set(config.errors?.map((error: { instancePath: string }) => error.instancePath));
  for (const path of ["/trainer", "/trainer/epochs", "/data/erasing/scale"]) {
    assert.ok(failing.has(path), path);
  }
  const ablation = ajv.compile(JSON.parse(await Deno.readTextFile(new URL("ablation.schema.json", dir))));
  for (const name of ["ablation-synthetic", "noise-synthetic"]) {
    const value = YAML.parse(await Deno.readTextFile(new URL(`${name}.yaml`, dir)));
    assert.ok(ablation(value), `${name}: ${JSON.stringify(ablation.errors)}`);
  }
  assert.equal(ablation({ seeds: [1, 1], variants: [] }), false);
});
