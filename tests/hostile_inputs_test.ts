/**
 * Hostile and odd inputs besides weights files: configs, label files and images that are FIFOs,
 * devices, folders or huge files; recursive YAML aliases; out-of-range config values; duplicate images
 * in label files; images that `skipCorrupt` leaves out; a loss that becomes NaN; OS errors. Each gives a
 * clear error naming the file (and line, or field) in well under a second.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { loadConfigFile, resolveConfig, validateConfig } from "../experiments/config.ts";
import { trainRun } from "../experiments/run.ts";
import { parseAblation } from "../experiments/ablation.ts";
import { explainNonFiniteLoss } from "../experiments/_run_checks.ts";
import {
  affectNet,
  DataLoader,
  decodeImage,
  fer2013Csv,
  ferPlus,
  imageFolder,
  openDataset,
  rafDb,
  sfew,
} from "../datasets/mod.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { tf } from "../engine/tf.ts";
import { buildPlugins } from "../strategies/registry.ts";
import { Trainer } from "../training/trainer.ts";
import { NonFiniteLossError } from "../training/step.ts";
import { taskCommand } from "./_cli.ts";
import { writeImage, writeText } from "./_image_fixtures.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hostile_inputs_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Awaits `promise`, which must reject with an error whose message matches `pattern`, within `seconds`
 * (a reader blocked on a FIFO fails the test instead of hanging it).
 */
async function rejectsQuickly(promise: Promise<unknown>, pattern: RegExp, seconds = 1): Promise<string> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no error after ${seconds * 5} s: blocked?`)), seconds * 5000);
  });
  let message = "";
  try {
    await Promise.race([
      promise.then(
        () => assert.fail(`expected an error matching ${pattern}`),
        (error) => {
          message = error instanceof Error ? error.message : String(error);
        },
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
  const took = (performance.now() - started) / 1000;
  assert.match(message, pattern);
  assert.ok(took < seconds, `took ${took.toFixed(2)} s: ${message}`);
  return message;
}

/** Makes a FIFO at `path`; false where `mkfifo` is not available. */
async function mkfifo(path: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("mkfifo", { args: [path], stderr: "null" }).output();
    return success;
  } catch {
    return false;
  }
}

const FIFO_OK = await withFifoProbe();
async function withFifoProbe(): Promise<boolean> {
  const dir = await Deno.makeTempDir();
  try {
    return await mkfifo(join(dir, "probe"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
if (!FIFO_OK) console.warn("hostile_inputs_test: mkfifo is not available here: the FIFO tests are skipped");

const escape = (text: string) => RegExp.escape(text);

// ---------------------------------------------------------------------------------------------------
// Configs

Deno.test({
  name: "a FIFO, /dev/zero, a folder or a huge file as a config, or as its extends, is refused at once",
  ignore: !FIFO_OK,
  fn: () =>
    withTempDir(async (dir) => {
      const fifo = join(dir, "fifo.yaml");
      assert.ok(await mkfifo(fifo));
      const huge = join(dir, "huge.yaml");
      await Deno.writeTextFile(huge, "seed: 1\n");
      await Deno.truncate(huge, 64 * 2 ** 20); // sparse: no disk used
      const zero = join(dir, "zero.yaml");
      await Deno.symlink("/dev/zero", zero);
      await rejectsQuickly(
        loadConfigFile(fifo),
        new RegExp(`${escape(fifo)}: .*found a FIFO \\(named pipe\\)`),
      );
      await rejectsQuickly(loadConfigFile("/dev/zero"), /\/dev\/zero: .*found a character device/);
      await rejectsQuickly(loadConfigFile(zero), new RegExp(`${escape(zero)}: .*found a character device`));
      await rejectsQuickly(loadConfigFile(dir), new RegExp(`${escape(dir)}: .*found a directory`));
      await rejectsQuickly(
        loadConfigFile(huge),
        new RegExp(`${escape(huge)}: .*the config file is larger than the 1\\.0 MiB accepted`),
      );
      for (const target of ["fifo.yaml", "zero.yaml", "huge.yaml"]) {
        const child = join(dir, `child-${target}`);
        await Deno.writeTextFile(child, `extends: ./${target}\ntrainer: { epochs: 1 }\n`);
        await rejectsQuickly(
          loadConfigFile(child),
          new RegExp(`${escape(join(dir, target))}: (cannot read|the config file is larger)`),
        );
      }
    }),
});

Deno.test({
  name: "deno task train --config FIFO stops with the FIFO's path instead of blocking",
  ignore: !FIFO_OK,
  fn: () =>
    withTempDir(async (dir) => {
      const fifo = join(dir, "run.yaml");
      assert.ok(await mkfifo(fifo));
      const child = taskCommand("train.ts", ["--config", fifo, "--out", join(dir, "runs")]).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      const { code, stderr } = await child.output();
      clearTimeout(timer);
      const text = new TextDecoder().decode(stderr);
      assert.notEqual(code, 0);
      assert.match(text, new RegExp(`${escape(fifo)}: cannot read the config file: .*FIFO`));
    }),
});

Deno.test("a recursive YAML alias is refused with its file, line and column, in a file, a base or an override", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "loop.yaml");
    await Deno.writeTextFile(file, "trainer: { epochs: 1 }\ndata: &d {size: 32, self: *d}\n");
    await rejectsQuickly(
      loadConfigFile(file),
      new RegExp(`^${escape(file)}:2:27: the alias \\*d refers to the node anchored &d that contains it`),
    );
    const child = join(dir, "child.yaml");
    await Deno.writeTextFile(child, "extends: ./loop.yaml\n");
    await rejectsQuickly(loadConfigFile(child), new RegExp(`^${escape(file)}:2:27: the alias \\*d`));
    const deep = join(dir, "deep.yaml");
    await Deno.writeTextFile(deep, "method:\n  miner: &m\n    type: epoch-pass\n    more: [1, [2, *m]]\n");
    await rejectsQuickly(loadConfigFile(deep), new RegExp(`^${escape(deep)}:4:19: the alias \\*m`));
    await rejectsQuickly(
      resolveConfig({ overrides: ["data=&d {size: 32, self: *d}"] }),
      /^override "data=&d \{size: 32, self: \*d\}": the alias \*d refers to the node anchored &d/,
    );
    assert.throws(
      () => parseAblation("base: synthetic\nset: &s {trainer: *s}\nvariants: [{ name: x }]\n", "a.yaml"),
      /a\.yaml:2:19: the alias \*s refers to the node anchored &s/,
    );
    // A shared alias that is not recursive is fine.
    const shared = join(dir, "shared.yaml");
    await Deno.writeTextFile(shared, "data: { erasing: { scale: &s [0.02, 0.3], ratio: [0.3, 3.3] } }\n");
    assert.deepEqual((await loadConfigFile(shared)).data.erasing?.scale, [0.02, 0.3]);
    // A value given in code that contains itself: a ConfigError with the path, not a stack overflow.
    const data: Record<string, unknown> = { size: 32 };
    data.self = data;
    assert.throws(() => validateConfig({ data }), /data\.self.*: the value contains itself \(a cycle\)/);
    let deepValue: Record<string, unknown> = {};
    const top = deepValue;
    for (let i = 0; i < 100_000; i++) deepValue = (deepValue.a = {}) as Record<string, unknown>;
    assert.throws(() => validateConfig({ data: { extra: top } }), /nested more than 64 levels deep/);
  });
});

Deno.test("numeric config fields out of their ranges are refused with field and file:line:column", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "ranges.yaml");
    await Deno.writeTextFile(
      file,
      [
        "trainer:",
        "  lr: 1.0e+308",
        "  batchSize: 1000000000",
        "  epochs: 1000000000",
        "method:",
        "  normalizer: { type: adaptive, minWeight: -1.0e+9 }",
        "  regularizer: { type: rank, margin: 50 }",
        "data:",
        "  erasing: { ratio: [0.3, 1.0e+300] }",
        "  synthetic: { count: 1000000000 }",
        "",
      ].join("\n"),
    );
    const message = await rejectsQuickly(loadConfigFile(file), /ranges\.yaml/);
    const lines = message.split("\n");
    const expect = [
      `${file}:2:3: trainer.lr: expected a number in (0, 1], got 1e+308`,
      `${file}:3:3: trainer.batchSize: expected an integer in [1, 65536], got 1000000000`,
      `${file}:4:3: trainer.epochs: expected an integer in [1, 100000], got 1000000000`,
      `${file}:6:33: method.normalizer.minWeight: adaptiveNormalizer: option "minWeight" must lie in [0, 1], got -1000000000`,
      `${file}:7:30: method.regularizer.margin: rankRegularizer: option "margin" must lie in [0, 1], got 50`,
      `${file}:9:14: data.erasing.ratio: expected [min, max] with 0 < min <= max <= 100, got [0.3,1e+300]`,
      `${file}:10:16: data.synthetic.count: expected an integer in [2, 1000000], got 1000000000`,
    ];
    for (const line of expect) assert.ok(lines.includes(line), `missing: ${line}\nin:\n${message}`);
    await Deno.writeTextFile(file, "method:\n  normalizer: { minWeight: 0.9, maxWeight: 0.5 }\n");
    await rejectsQuickly(
      loadConfigFile(file),
      new RegExp(
        `^${escape(file)}:2:17: method\\.normalizer\\.minWeight: .*"minWeight" \\(0\\.9\\) must not exceed`,
      ),
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Label files and images

const PIXELS = Array(48 * 48).fill(7).join(" ");

Deno.test({
  name: "a FIFO, a device, a folder or a huge file as a label file is refused at once with its path",
  ignore: !FIFO_OK,
  fn: () =>
    withTempDir(async (dir) => {
      // RAF-DB's label file.
      const raf = join(dir, "raf");
      const labels = join(raf, "EmoLabel", "list_patition_label.txt");
      await Deno.mkdir(join(raf, "EmoLabel"), { recursive: true });
      assert.ok(await mkfifo(labels));
      await rejectsQuickly(
        rafDb(raf),
        new RegExp(`^${escape(labels)}: expected a regular file, found a FIFO`),
      );
      await Deno.remove(labels);
      await Deno.symlink("/dev/zero", labels);
      await rejectsQuickly(rafDb(raf), new RegExp(`^${escape(labels)}: .*found a character device`));
      await Deno.remove(labels);
      await Deno.mkdir(labels);
      await rejectsQuickly(rafDb(raf), new RegExp(`^${escape(labels)}: .*found a directory`));
      await Deno.remove(labels);
      await Deno.writeTextFile(labels, "train_00001.jpg 1\n");
      await Deno.truncate(labels, 600 * 2 ** 20); // sparse
      await rejectsQuickly(
        rafDb(raf),
        new RegExp(`^${escape(labels)}: the RAF-DB label file is larger than the 500\\.0 MiB accepted`),
      );
      // AffectNet's cache, the FER2013 CSV, FERPlus's vote file.
      const affect = join(dir, "affect");
      await Deno.mkdir(affect);
      assert.ok(await mkfifo(join(affect, "affectnet.csv")));
      await rejectsQuickly(affectNet(affect), /affectnet\.csv: expected a regular file, found a FIFO/);
      const fer = join(dir, "fer2013.csv");
      assert.ok(await mkfifo(fer));
      await rejectsQuickly(fer2013Csv(fer), /fer2013\.csv: expected a regular file, found a FIFO/);
      const plus = join(dir, "plus");
      await writeText(join(plus, "fer2013.csv"), `emotion,pixels,Usage\n3,${PIXELS},Training\n`);
      assert.ok(await mkfifo(join(plus, "fer2013new.csv")));
      await rejectsQuickly(ferPlus(plus), /fer2013new\.csv: expected a regular file, found a FIFO/);
    }),
});

Deno.test({
  name: "a FIFO, a device, a folder or a huge file as an image is refused before the decoder opens it",
  ignore: !FIFO_OK,
  fn: () =>
    withTempDir(async (dir) => {
      const fifo = join(dir, "fifo.png");
      assert.ok(await mkfifo(fifo));
      await rejectsQuickly(
        decodeImage(fifo),
        new RegExp(`^${escape(fifo)}: expected a regular file, found a FIFO`),
      );
      const zero = join(dir, "zero.png");
      await Deno.symlink("/dev/zero", zero);
      await rejectsQuickly(decodeImage(zero), new RegExp(`^${escape(zero)}: .*found a character device`));
      await rejectsQuickly(decodeImage(dir), /found a directory/);
      const huge = join(dir, "huge.png");
      await Deno.writeFile(huge, new Uint8Array(16));
      await Deno.truncate(huge, 300 * 2 ** 20); // sparse
      await rejectsQuickly(decodeImage(huge), /huge\.png: the image is larger than the 256\.0 MiB accepted/);
      // In a dataset: a strict loader stops on it, a lenient one skips it and says why.
      const root = join(dir, "folder");
      await writeImage(join(root, "train", "a", "1.png"));
      await Deno.mkdir(join(root, "train", "b"));
      const bad = join(root, "train", "b", "2.png");
      assert.ok(await mkfifo(bad));
      const dataset = await imageFolder(root);
      const consume = async (loader: DataLoader) => {
        for await (const _ of loader.batches(0)) { /* consume */ }
      };
      await rejectsQuickly(
        consume(new DataLoader(dataset, { batchSize: 2, pipeline: { size: 8 } })),
        new RegExp(`^${escape(bad)}: expected a regular file, found a FIFO`),
      );
      const lenient = new DataLoader(dataset, { batchSize: 2, pipeline: { size: 8 }, skipCorrupt: true });
      await consume(lenient);
      assert.deepEqual(lenient.skipped.map((s) => s.source), [bad]);
      assert.match(lenient.skipped[0].message, /FIFO/);
    }),
});

Deno.test("an image listed twice is an error naming both lines, in every label file format", async () => {
  await withTempDir(async (dir) => {
    const raf = join(dir, "raf");
    const labels = join(raf, "EmoLabel", "list_patition_label.txt");
    await writeText(labels, "train_00001.jpg 1\ntest_0001.jpg 2\n\ntrain_00001.jpg 4\n");
    await rejectsQuickly(
      rafDb(raf),
      new RegExp(
        `^${escape(labels)}:4: "train_00001\\.jpg" is the image of line 1 again \\(${escape(labels)}:1\\)`,
      ),
    );
    // The same image under another spelling of its name (the loader matches by stem).
    await writeText(labels, "train_00001.jpg 1\ntrain_00001_aligned.jpg 1\n");
    await rejectsQuickly(rafDb(raf), /list_patition_label\.txt:2: .*line 1 again/);
    await writeText(labels, "train_00001.jpg 1\ntrain_00002.jpg 1\n");
    const distributions = join(raf, "distributions.csv");
    const header = "file,Surprise,Fear,Disgust,Happiness,Sadness,Anger,Neutral";
    await writeText(
      distributions,
      `${header}\ntrain_00001.jpg,1,0,0,0,0,0,0\ntrain_00001.jpg,0,1,0,0,0,0,0\n`,
    );
    await rejectsQuickly(rafDb(raf), /distributions\.csv:3: "train_00001\.jpg" is the image of line 2 again/);

    const affect = join(dir, "affect");
    const cache = join(affect, "affectnet.csv");
    await writeText(
      cache,
      "phase,img_path,label\ntrain,train_set/images/1.jpg,1\nval,val_set/images/2.jpg,0\n" +
        "train,./train_set/images/1.jpg,3\n",
    );
    await rejectsQuickly(
      affectNet(affect),
      new RegExp(`^${escape(cache)}:4: "\\./train_set/images/1\\.jpg" is the image of line 2 again`),
    );

    const plus = join(dir, "plus");
    await writeText(
      join(plus, "fer2013.csv"),
      `emotion,pixels,Usage\n3,${PIXELS},Training\n0,${PIXELS},Training\n`,
    );
    const votes = join(plus, "fer2013new.csv");
    await writeText(
      votes,
      "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n" +
        "Training,fer0000000.png,2,6,2,0,0,0,0,0,0,0\nTraining,fer0000000.png,9,1,0,0,0,0,0,0,0,0\n",
    );
    await rejectsQuickly(
      ferPlus(plus),
      /fer2013new\.csv:3: image name "fer0000000\.png" is that of line 2 again/,
    );

    // Folders: the same file reached twice through a link, and a link back into the folder being read.
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#808080" } }).png()
      .toBuffer();
    const folder = join(dir, "folder");
    await Deno.mkdir(join(folder, "train", "Happy"), { recursive: true });
    await Deno.mkdir(join(folder, "train", "Sad"), { recursive: true });
    await Deno.writeFile(join(folder, "train", "Happy", "1.png"), png);
    await Deno.writeFile(join(folder, "train", "Sad", "1.png"), png); // same name, another file: fine
    assert.equal((await imageFolder(folder)).size, 2);
    await Deno.symlink(join(folder, "train", "Happy", "1.png"), join(folder, "train", "Sad", "2.png"));
    await rejectsQuickly(
      imageFolder(folder),
      new RegExp(
        `${escape(join(folder, "train", "Sad", "2.png"))}: the same image as ${
          escape(join(folder, "train", "Happy", "1.png"))
        }`,
      ),
    );
    await Deno.remove(join(folder, "train", "Sad", "2.png"));
    await Deno.symlink(join(folder, "train"), join(folder, "train", "Sad", "again"));
    await rejectsQuickly(imageFolder(folder), /again: the link leads back to .*train, a folder being listed/);
    // SFEW reads its class folders the same way.
    const sfewRoot = join(dir, "sfew");
    await Deno.mkdir(join(sfewRoot, "Train", "Happy"), { recursive: true });
    await Deno.mkdir(join(sfewRoot, "Train", "Sad"), { recursive: true });
    await Deno.writeFile(join(sfewRoot, "Train", "Happy", "a.png"), png);
    await Deno.symlink(join(sfewRoot, "Train", "Happy", "a.png"), join(sfewRoot, "Train", "Sad", "b.png"));
    await rejectsQuickly(sfew(sfewRoot), /Sad\/b\.png: the same image as .*Happy\/a\.png/);
  });
});

// ---------------------------------------------------------------------------------------------------
// Runs: skipped images, an empty split, a NaN loss, OS errors

/** A RAF-DB-layout folder of 16 px images: `train` and `test` names, and which of them are corrupt. */
async function makeRaf(root: string, train: number, test: number, corrupt: string[]): Promise<void> {
  const lines: string[] = [];
  const names = [
    ...Array.from({ length: train }, (_, i) => `train_${String(i + 1).padStart(5, "0")}`),
    ...Array.from({ length: test }, (_, i) => `test_${String(i + 1).padStart(4, "0")}`),
  ];
  for (const [i, name] of names.entries()) {
    lines.push(`${name}.jpg ${(i % 7) + 1}`);
    const path = join(root, "Image", "aligned", `${name}_aligned.jpg`);
    if (corrupt.includes(name)) await writeText(path, "not an image");
    else await writeImage(path, { width: 16, height: 16, rgb: [40 * (i % 6), 100, 200 - 20 * (i % 7)] });
  }
  await writeText(join(root, "EmoLabel", "list_patition_label.txt"), lines.join("\n") + "\n");
}

async function tinyRafConfig(root: string, dir: string, extra: string[] = []) {
  return await resolveConfig({
    preset: "synthetic",
    overrides: [
      "backend=wasm",
      "model.backbone=tiny",
      "data.dataset=rafdb",
      `data.path=${JSON.stringify(root)}`,
      "data.size=16",
      "data.skipCorrupt=true",
      "data.prefetch=0",
      "trainer.batchSize=4",
      "trainer.epochs=1",
      `output.dir=${JSON.stringify(join(dir, "runs"))}`,
      ...extra,
    ],
  });
}

Deno.test("skipCorrupt reports the skipped images on the console, in metrics.jsonl and in summary.json, across a resume", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "raf");
    await makeRaf(root, 8, 4, ["train_00003", "test_0002"]);
    const config = await tinyRafConfig(root, dir, ["trainer.epochs=2"]);
    const lines: string[] = [];
    const options = { progress: false, log: (l: string) => lines.push(l), report: false };
    // Stopped after epoch 1 and resumed: the images skipped before the stop are not reported again.
    const { runDir } = await trainRun(config, { ...options, hooks: [{ onEpochEnd: (t) => t.stop() }] });
    await trainRun(config, { ...options, runDir, resume: true });
    const bad = join(root, "Image", "aligned", "train_00003_aligned.jpg");
    const badTest = join(root, "Image", "aligned", "test_0002_aligned.jpg");
    const console = lines.join("\n");
    assert.match(console, /epoch 1: skipped 2 unreadable images \(data\.skipCorrupt\): /);
    assert.ok(console.includes(bad) && console.includes(badTest), console);
    assert.match(
      console,
      /data\.skipCorrupt: 2 unreadable images skipped \(1 train, 1 test\), listed in summary\.json/,
    );
    const epochs = (await Deno.readTextFile(join(runDir, "metrics.jsonl"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.equal(epochs.length, 2);
    assert.deepEqual(
      epochs[0].skipped.new.map((s: { source: string }) => s.source).sort(),
      [badTest, bad].sort(),
    );
    assert.match(epochs[0].skipped.new[0].message, /cannot decode image/);
    // Epoch 2 skips the same two again: counted, not listed as new.
    assert.deepEqual({ ...epochs[1].skipped, new: epochs[1].skipped.new.length }, {
      train: 1,
      test: 1,
      new: 0,
    });
    const summary = JSON.parse(await Deno.readTextFile(join(runDir, "summary.json")));
    assert.equal(summary.skipped.count, 2);
    assert.deepEqual(
      summary.skipped.images.map((
        s: { split: string; source: string; epoch: number },
      ) => [s.split, s.source, s.epoch])
        .sort(),
      [["test", badTest, 1], ["train", bad, 1]],
    );
  });
});

Deno.test("skipCorrupt with every test image corrupt stops the run, naming the dataset", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "raf");
    await makeRaf(root, 4, 2, ["test_0001", "test_0002"]);
    const config = await tinyRafConfig(root, dir);
    await assert.rejects(
      trainRun(config, { progress: false, log: () => {}, report: false }),
      new RegExp(
        `${escape(root)}: split "test" of rafdb is empty: every one of its 2 images failed to decode`,
      ),
    );
  });
});

Deno.test("a loss that becomes NaN names the epoch, the batch, the term and the config values behind it", async () => {
  const batch = {
    images: new Float32Array(4 * 32 * 32 * 3),
    shape: [4, 32, 32, 3] as [number, number, number, 3],
    labels: Int32Array.from([0, 1, 0, 1]),
    indices: Int32Array.from([0, 1, 2, 3]),
    crops: 1,
  };
  const model = new AdaDfModel("tiny", { numClasses: 2 });
  // A regulariser whose term overflows in the second batch (as a huge margin or learning rate would).
  const plugins = buildPlugins();
  let calls = 0;
  plugins.regularizer = {
    name: "overflowing",
    loss: ({ attention }) => tf.mul(tf.mean(attention), ++calls === 2 ? Infinity : 0) as tf.Scalar,
  };
  const trainer = new Trainer({
    model,
    plugins,
    train: {
      length: 3,
      async *batches() {
        for (let i = 0; i < 3; i++) yield batch;
      },
    },
    epochs: 1,
    lr: 0.002,
  });
  try {
    const error = await trainer.fit().then(() => undefined, (e) => e);
    assert.ok(error instanceof NonFiniteLossError, String(error));
    assert.equal(error.term, "rr");
    assert.match(
      error.message,
      /^epoch 1, batch 2 of 3: the rr term of the loss is Infinity \(total Infinity, ce [\d.]+/,
    );
    assert.match(error.message, /learning rate 0\.002, alpha1 [\d.]+, alpha2 1$/);
    const config = validateConfig({ trainer: { lr: 0.5 } });
    const explained = explainNonFiniteLoss(error, config);
    assert.match(
      explained.message,
      /Config values that can cause it: trainer\.lr=0\.5, trainer\.lrGamma=0\.9/,
    );
    assert.match(explained.message, /method\.regularizer=\{"type":"rank","ratio":0\.7,"margin":0\.07\}/);
  } finally {
    trainer.dispose();
    model.dispose();
  }
});

Deno.test("OS errors name the path: a missing dataset, a run folder that cannot be made", async () => {
  await withTempDir(async (dir) => {
    await rejectsQuickly(
      openDataset({ type: "rafdb", path: join(dir, "nowhere") }),
      new RegExp(`^${escape(join(dir, "nowhere"))}: the rafdb dataset's path does not exist`),
    );
    await rejectsQuickly(
      openDataset({ type: "fer2013", path: join(dir, "none.csv") }),
      /none\.csv: the fer2013 dataset's path does not exist/,
    );
    const file = join(dir, "plain-file");
    await Deno.writeTextFile(file, "");
    const config = await resolveConfig({
      overrides: [`output.dir=${JSON.stringify(file)}`, "output.name=x"],
    });
    await rejectsQuickly(
      trainRun(config, { progress: false, log: () => {}, report: false }),
      new RegExp(`cannot create the run folder ${escape(join(file, "x"))}: Not a directory`),
    );
    // A folder where a label file should be, and an annotation folder that is a file.
    const affect = join(dir, "affect");
    await Deno.mkdir(join(affect, "train_set"), { recursive: true });
    await Deno.writeTextFile(join(affect, "train_set", "annotations"), "");
    await rejectsQuickly(
      affectNet(affect, { cache: false }),
      /train_set\/annotations: cannot list the annotations: Not a directory/,
    );
  });
});
