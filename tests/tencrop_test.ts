/**
 * Ten-crop training as the authors' code does it for SFEW (stacked crops with repeated labels, the KL
 * divisor, the rank split and the mining per crop), and the `reference` switch between the paper and
 * the authors' code.
 */
import assert from "node:assert/strict";
import { PYTHON, pythonSkipReason } from "./_python.ts";
import YAML from "yaml";
import sharp from "sharp";
import { join } from "node:path";
import { tf } from "../engine/tf.ts";
import { initBackend } from "../engine/backend.ts";
import { Random } from "../engine/random.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { rankRegularization, thresholdDistributions } from "../strategies/functional.ts";
import { buildPlugins, computeObjective, epochPassMiner } from "../strategies/mod.ts";
import { type BatchMetrics, Trainer } from "../training/trainer.ts";
import { stepBatch } from "../training/step.ts";
import { type Batch, DataLoader, repeatLabels } from "../datasets/loader.ts";
import { ImagePipeline, resizeShorterSize } from "../datasets/pipeline.ts";
import { decodeImage } from "../datasets/image.ts";
import { normalizeInto, tenCrop } from "../datasets/transforms.ts";
import type { Dataset } from "../datasets/types.ts";
import { configToYaml, DEFAULT_CONFIG, resolveConfig, validateConfig } from "../experiments/config.ts";
import { makeLoaders, openRunData, pipelineOptions } from "../experiments/run.ts";
import { REFERENCE_DEPARTURES } from "../experiments/reference_switch.ts";
import {
  referenceCropLoss,
  referenceMinedDistributions,
  referenceRankSplit,
  referenceRepeatLabels,
  referenceSoftmax,
} from "./_reference.ts";
import { objectiveOfHeads } from "./_objective.ts";

await initBackend("wasm");

type Nested = number | Nested[];

/** Asserts that two (nested) arrays of numbers agree element-wise within `tol`. */
function assertClose(actual: Nested, expected: Nested, tol: number, path = "value"): void {
  if (typeof expected === "number") {
    assert.equal(typeof actual, "number", `${path}: expected a number`);
    const a = actual as number;
    assert.ok(Math.abs(a - expected) <= tol, `${path}: ${a} differs from ${expected} by more than ${tol}`);
    return;
  }
  assert.ok(Array.isArray(actual), `${path}: expected an array`);
  const arr = actual as Nested[];
  assert.equal(arr.length, expected.length, `${path}: length ${arr.length}, expected ${expected.length}`);
  expected.forEach((e, i) => assertClose(arr[i], e, tol, `${path}[${i}]`));
}

const read = (t: tf.Tensor): Nested => t.arraySync() as Nested;

// ---------------------------------------------------------------------------------------------------
// One ten-crop step against the reference's formulas

const B = 16;
const CROPS = 10;
const C = 7;

interface CropCase {
  fc1: number[][][];
  fc2: number[][][];
  s1: number[][];
  s2: number[][];
  labels: number[];
  LD: number[][];
  epoch: number;
  beta: number;
  batch_size: number;
  min_weight: number;
  max_weight: number;
  tops: number;
  margin: number;
  mine: { logits: number[][][]; targets: number[]; threshold: number };
}

function cropCase(seed: number, margin: number, epoch: number): CropCase {
  const rng = new Random(seed);
  const cube = (n: number, scale: number) =>
    Array.from(
      { length: n },
      () => Array.from({ length: CROPS }, () => Array.from({ length: C }, () => rng.normal(0, scale))),
    );
  const grid = () => Array.from({ length: B }, () => Array.from({ length: CROPS }, () => rng.normal(0, 1.5)));
  const LD = thresholdDistributions(C, 0.5).arraySync();
  const targets = Array.from({ length: 12 }, (_, i) => i % 4); // classes 4..6 absent from the mining set
  const mining = cube(12, 1).map((crops, i) =>
    // class 0 confident in most crops, so its mean row is kept; the others fall back
    crops.map((row, k) => row.map((v, j) => (j === targets[i] && targets[i] === 0 && k < 8 ? v + 5 : v)))
  );
  return {
    fc1: cube(B, 2),
    fc2: cube(B, 2),
    s1: grid(),
    s2: grid(),
    labels: Array.from({ length: B }, () => rng.int(C)),
    LD,
    epoch,
    beta: 5,
    batch_size: B,
    min_weight: 0.2,
    max_weight: 1,
    tops: 0.7,
    margin,
    mine: { logits: mining, targets, threshold: 0.5 },
  };
}

/** The library's objective on a case's crop rows, as the trainer calls it for a ten-crop batch. */
function libraryStep(cs: CropCase) {
  const plugins = buildPlugins({
    schedule: { type: "ramp", beta: cs.beta },
    regularizer: { type: "rank", ratio: cs.tops, margin: cs.margin },
  });
  const fc1 = tf.tensor2d(cs.fc1.flat());
  const fc2 = tf.tensor2d(cs.fc2.flat());
  const s1 = tf.tensor1d(cs.s1.flat());
  const s2 = tf.tensor1d(cs.s2.flat());
  const labels = tf.tensor1d(repeatLabels(Int32Array.from(cs.labels), CROPS), "int32");
  const classDistributions = tf.tensor2d(cs.LD);
  const objective = objectiveOfHeads(plugins, { labels, classDistributions }, {
    epoch: cs.epoch,
    batchSize: B,
  });
  return { fc1, fc2, s1, s2, labels, classDistributions, objective };
}

const SCRIPT = new URL("./fixtures/ada_df_tencrop_reference.py", import.meta.url).pathname;
const SKIPPED = pythonSkipReason("torch");

Deno.test("a ten-crop step: 16 images are 160 rows, KL / 16, rank split top 11 / bottom 5 (oracle)", () => {
  const cs = cropCase(1, 1, 2);
  const settings = { epoch: cs.epoch, beta: cs.beta, minWeight: 0.2, maxWeight: 1, ratio: 0.7, margin: 1 };
  const oracle = referenceCropLoss(
    { fc1: cs.fc1, fc2: cs.fc2, s1: cs.s1, s2: cs.s2, labels: cs.labels, classDistributions: cs.LD },
    settings,
  );
  const split = referenceRankSplit(oracle.attention, B, 0.7);
  assert.equal(oracle.attention.length, B * CROPS);
  assert.deepEqual([split.top.length, split.bottom.length], [11, 5]);
  tf.tidy(() => {
    const { fc1, fc2, s1, s2, objective } = libraryStep(cs);
    const out = objective(fc1, fc2, s1, s2);
    for (const key of ["total", "ce", "kl", "rr"] as const) {
      assertClose(read(out[key]), oracle[key], 1e-5, key);
    }
    assertClose(read(out.weights), oracle.weights, 1e-5, "weights");
    assertClose(read(out.targets), oracle.targets, 1e-5, "targets");
    // the KL divisor is the number of images: dividing by the 160 rows instead gives a tenth
    const perRow = computeObjective(buildPlugins({ regularizer: { type: "rank", margin: 1 } }), {
      auxLogits: fc1,
      targetLogits: fc2,
      scores1: s1,
      scores2: s2,
      labels: tf.tensor1d(referenceRepeatLabels(cs.labels, CROPS), "int32"),
      classDistributions: tf.tensor2d(cs.LD),
    }, { epoch: cs.epoch });
    assertClose(read(perRow.kl) as number * 10, oracle.kl, 1e-4, "kl over rows x 10");
    // the split, read off the gradient of L_rr: -1/11 on the top group, +1/5 on the bottom one, 0 between
    const grad = tf.grad((w: tf.Tensor) => rankRegularization(w as tf.Tensor1D, { margin: 1, batchSize: B }))(
      out.attention,
    ).arraySync() as number[];
    const expected = oracle.attention.map((_, i) =>
      split.top.includes(i) ? -1 / 11 : split.bottom.includes(i) ? 1 / 5 : 0
    );
    assert.ok((read(out.rr) as number) > 0, "the margin keeps the rank term active");
    assertClose(grad, expected, 1e-6, "d rr / d w");
  });
});

Deno.test({
  name:
    `a ten-crop step and the per-crop mining equal the reference PyTorch code (train.py, utils.py)${SKIPPED}`,
  ignore: SKIPPED !== "",
  fn: async () => {
    const cases = [cropCase(2, 0.6, 2), cropCase(3, 0.07, 7)];
    const dir = await Deno.makeTempDir({ prefix: "ada_df_tencrop_" });
    try {
      const path = join(dir, "cases.json");
      await Deno.writeTextFile(path, JSON.stringify(cases));
      const run = await new Deno.Command(PYTHON, { args: [SCRIPT, path], stdout: "piped", stderr: "piped" })
        .output();
      assert.ok(run.success, `the reference script failed: ${new TextDecoder().decode(run.stderr)}`);
      const results = JSON.parse(new TextDecoder().decode(run.stdout));
      const tol = 1e-5;
      cases.forEach((cs, index) => {
        const ref = results[index];
        const at = (name: string) => `case ${index}: ${name}`;
        assert.equal(ref.rows, 160);
        assert.equal(ref.tops, 11);
        assert.deepEqual([ref.topIdx.length, ref.downIdx.length], [11, 5]);
        const oracle = referenceCropLoss(
          { fc1: cs.fc1, fc2: cs.fc2, s1: cs.s1, s2: cs.s2, labels: cs.labels, classDistributions: cs.LD },
          { epoch: cs.epoch, beta: cs.beta, minWeight: 0.2, maxWeight: 1, ratio: 0.7, margin: cs.margin },
        );
        for (const key of ["total", "ce", "kl", "rr", "weights", "targets"] as const) {
          assertClose(oracle[key], ref[key], tol, at(`oracle ${key}`));
        }
        assert.deepEqual(referenceRankSplit(oracle.attention, B, 0.7), {
          top: ref.topIdx,
          bottom: ref.downIdx,
        });
        tf.tidy(() => {
          const { fc1, fc2, s1, s2, objective } = libraryStep(cs);
          const out = objective(fc1, fc2, s1, s2);
          for (const key of ["total", "ce", "kl", "rr"] as const) {
            assertClose(read(out[key]), ref[key], tol, at(key));
          }
          assertClose([out.alpha1, out.alpha2], [ref.alpha1, ref.alpha2], 1e-12, at("alphas"));
          assertClose(read(out.attention), ref.attention, tol, at("attention"));
          assertClose(read(out.weights), ref.weights, tol, at("weights"));
          assertClose(read(out.targets), ref.targets, tol, at("targets"));
          const grads = tf.grads((a, b, c, d) => objective(a, b, c, d).total)([fc1, fc2, s1, s2]);
          assertClose(read(grads[0]), ref.gradFc1, tol, at("d total / d fc1"));
          assertClose(read(grads[1]), ref.gradFc2, tol, at("d total / d fc2"));
          assertClose(read(grads[2]), ref.gradS1, tol, at("d total / d s1"));
          assertClose(read(grads[3]), ref.gradS2, tol, at("d total / d s2"));
          // mining per crop: every crop a sample of its image's class (the reference's 0.4 / (C - 1) rows)
          const miner = epochPassMiner({ threshold: cs.mine.threshold, legacyFallback: true });
          miner.begin(C);
          const crops = tf.tensor2d(cs.mine.logits.flat());
          const cropLabels = referenceRepeatLabels(cs.mine.targets, CROPS);
          miner.observe(tf.softmax(crops), tf.tensor1d(cropLabels, "int32"));
          const mined = read(miner.end()) as number[][];
          assertClose(mined, ref.minedLD, tol, at("mined class distributions"));
          assert.ok(
            Math.abs(mined[0][0] - ref.minedLD[0][0]) < tol && mined[0][0] > 0.5,
            "class 0 kept its mean",
          );
          assertClose(
            referenceMinedDistributions(referenceSoftmax(cs.mine.logits.flat()), cropLabels, C, 0.5, true),
            ref.minedLD,
            tol,
            at("oracle mined class distributions"),
          );
          const accuracy = tf.mean(tf.equal(crops.argMax(1), tf.tensor1d(cropLabels, "int32")).toFloat());
          assertClose(read(accuracy) as number * 100, ref.trainAccuracy, 1e-4, at("training accuracy"));
        });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------------------------------------------
// The trainer on stacked crops

const SIZE = 32;
const IMAGES = 4;

function cropBatch(seed: number): Batch {
  const rng = new Random(seed);
  return {
    images: Float32Array.from({ length: IMAGES * CROPS * SIZE * SIZE * 3 }, () => rng.normal(0, 1)),
    shape: [IMAGES * CROPS, SIZE, SIZE, 3],
    labels: Int32Array.from([0, 1, 1, 0]),
    indices: Int32Array.from([0, 1, 2, 3]),
    crops: CROPS,
  };
}

Deno.test("Trainer: a ten-crop batch trains as the reference's step, mines and logs accuracy per crop", async () => {
  const batch = cropBatch(7);
  const source = {
    length: 1,
    async *batches() {
      yield batch;
    },
  };
  const method = {
    miner: { type: "epoch-pass", threshold: 0.3, legacyFallback: true },
    regularizer: { type: "rank", ratio: 0.7, margin: 0.5 },
    schedule: { type: "ramp", beta: 3 },
  };
  // The raw outputs of the step, from a second model with the same initial weights.
  const twin = new AdaDfModel("tiny", { numClasses: 2, seed: 3 });
  const raw = tf.tidy(() => {
    const x = tf.tensor4d(batch.images, batch.shape);
    const o = twin.branches(twin.stem(x, { training: true }), { training: true });
    return {
      fc1: o.auxLogits.arraySync(),
      fc2: o.targetLogits.arraySync(),
      s1: o.scores1.arraySync(),
      s2: o.scores2.arraySync(),
    };
  });
  twin.dispose();
  const perImage = <T>(rows: T[]) =>
    Array.from({ length: IMAGES }, (_, i) => rows.slice(i * CROPS, (i + 1) * CROPS));
  const oracle = referenceCropLoss({
    fc1: perImage(raw.fc1),
    fc2: perImage(raw.fc2),
    s1: perImage(raw.s1),
    s2: perImage(raw.s2),
    labels: [...batch.labels],
    classDistributions: thresholdDistributions(2, 0.3).arraySync(),
  }, { epoch: 1, beta: 3, minWeight: 0.2, maxWeight: 1, ratio: 0.7, margin: 0.5 });

  const model = new AdaDfModel("tiny", { numClasses: 2, seed: 3 });
  const seen: BatchMetrics[] = [];
  const trainer = new Trainer({
    model,
    plugins: buildPlugins(method),
    train: source,
    epochs: 1,
    trainAccuracy: "mining",
    hooks: [{ onBatchEnd: (_t, m) => void seen.push(m) }],
  });
  const summary = await trainer.fit();
  trainer.dispose();
  assert.equal(seen.length, 1);
  for (const key of ["total", "ce", "kl", "rr"] as const) {
    assertClose(seen[0].loss[key], oracle[key], 2e-4, `batch loss ${key}`);
  }
  const epoch = summary.history[0];
  assert.equal(epoch.images, IMAGES);
  assert.equal(epoch.attentionPerClass.reduce((n, s) => n + s.count, 0), IMAGES * CROPS);

  // The mining pass (evaluation mode, after the update) over the same batch: every crop a sample.
  const probs = tf.tidy(() => {
    const x = tf.tensor4d(batch.images, batch.shape);
    const aux = model.branch("aux", model.stem(x, { training: false }), { training: false });
    return tf.softmax(aux.logits.mul(tf.sigmoid(aux.scores).expandDims(1))).arraySync() as number[][];
  });
  const cropLabels = referenceRepeatLabels([...batch.labels], CROPS);
  assertClose(
    epoch.classDistributions,
    referenceMinedDistributions(probs, cropLabels, 2, 0.3, true),
    1e-5,
    "class distributions mined per crop",
  );
  const right = probs.filter((p, i) => (p[1] > p[0] ? 1 : 0) === cropLabels[i]).length;
  assert.equal(epoch.trainAccuracy, right / (IMAGES * CROPS));
  model.dispose();
});

Deno.test("stepBatch() refuses a batch whose rows do not match its images and crops", () => {
  const batch = { ...cropBatch(1), shape: [IMAGES, SIZE, SIZE, 3] as [number, number, number, 3] };
  assert.throws(
    () => stepBatch(batch),
    /a batch of 4 images of 10 crops needs 40 rows, got shape \[4, 32, 32, 3\]/,
  );
});

// ---------------------------------------------------------------------------------------------------
// The pipeline and the loaders

Deno.test("DataLoader with TenCrop: B images are 10B rows of the ten crops of the 256/224-resized image", async () => {
  const rng = new Random(4);
  const image = {
    data: Uint8Array.from({ length: 20 * 26 * 3 }, () => rng.int(256)),
    width: 26,
    height: 20,
    channels: 3 as const,
  };
  const labels = Int32Array.from([2, 0, 1]);
  const dataset: Dataset = {
    name: "memory",
    root: "memory",
    split: "train",
    classNames: ["a", "b", "c"],
    size: 3,
    labels,
    item: (i) => ({ index: i, label: labels[i], image, source: `memory #${i}` }),
  };
  const pipeline = new ImagePipeline({ size: 16, tenCrop: true });
  const loader = new DataLoader(dataset, { batchSize: 3, pipeline, prefetch: 0 });
  const batches: Batch[] = [];
  for await (const b of loader.batches(0)) batches.push(b);
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0].shape, [30, 16, 16, 3]);
  assert.equal(batches[0].crops, 10);
  assert.deepEqual([...batches[0].labels], [2, 0, 1]);
  // shorter side 20 -> round(16 * 256 / 224) = 18, the longer int(18 * 26 / 20) = 23 (torchvision's
  // Resize), then the ten 16 px crops in torchvision's order
  assert.deepEqual(resizeShorterSize(26, 20, 18), { width: 23, height: 18 });
  const decoded = await decodeImage(image, { resize: { width: 23, height: 18 } });
  const crops = tenCrop(decoded, 16);
  const floats = 16 * 16 * 3;
  for (const k of [0, 4, 9]) {
    const expected = new Float32Array(floats);
    normalizeInto(crops[k], expected);
    // image 1 (rows 10..19): its crop k
    assert.deepEqual(batches[0].images.subarray((10 + k) * floats, (11 + k) * floats), expected);
  }
});

Deno.test("ImagePipeline with TenCrop resizes as torchvision's Resize(256): the longer side truncated", async () => {
  const pipeline = new ImagePipeline({ size: 224, tenCrop: true });
  const dir = await Deno.makeTempDir();
  try {
    // 300x257: torchvision gives 298x256 where a rounding resize gives 299x256
    const path = join(dir, "wide.png");
    const data = Uint8Array.from({ length: 300 * 257 * 3 }, (_, i) => (i * 7) % 251);
    await Deno.writeFile(
      path,
      await sharp(data, { raw: { width: 300, height: 257, channels: 3 } }).png().toBuffer(),
    );
    const fromFile = await pipeline.decode({ index: 0, label: 0, path, source: path });
    assert.deepEqual([fromFile.width, fromFile.height], [298, 256]);
    const raw = { data, width: 300, height: 257, channels: 3 as const };
    const fromPixels = await pipeline.decode({ index: 0, label: 0, image: raw, source: "memory" });
    assert.deepEqual([fromPixels.width, fromPixels.height], [298, 256]);
    await assert.rejects(
      pipeline.decode({ index: 0, label: 0, path: join(dir, "none.png"), source: "none.png" }),
      /none\.png/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pipelineOptions(): data.trainCrops: 10 trains on TenCrop; the default trains on one crop", () => {
  assert.equal(pipelineOptions(DEFAULT_CONFIG).train.tenCrop, undefined); // the pipeline's default: one crop
  const ten = pipelineOptions({ data: { ...DEFAULT_CONFIG.data, size: 224, trainCrops: 10 } });
  assert.equal(ten.train.tenCrop, true);
  assert.equal(ten.eval.tenCrop, false);
  assert.equal(new ImagePipeline(ten.train).floatsPerItem, 10 * 224 * 224 * 3);
});

// ---------------------------------------------------------------------------------------------------
// The reference switch

Deno.test("reference: paper is the default and changes nothing; the SFEW preset trains on ten crops", async () => {
  assert.equal(DEFAULT_CONFIG.reference, "paper");
  assert.equal(DEFAULT_CONFIG.data.trainCrops, 1);
  assert.equal(DEFAULT_CONFIG.trainer.miningDropLast, false);
  assert.equal(DEFAULT_CONFIG.trainer.trainAccuracy, "step");
  const synthetic = await resolveConfig({});
  assert.equal(synthetic.reference, "paper");
  assert.deepEqual(await resolveConfig({ overrides: ["reference=paper"] }), synthetic);
  const sfew = await resolveConfig({ preset: "sfew", dataPath: "/data/SFEW" });
  assert.deepEqual([sfew.data.trainCrops, sfew.data.testCrops, sfew.trainer.batchSize], [10, 10, 16]);
  assert.deepEqual(sfew.method.miner, { type: "epoch-pass", threshold: 0.5 });
});

Deno.test("reference: code resolves into the authors' code's values, shown in the saved config", async () => {
  const sfew = await resolveConfig({ preset: "sfew", dataPath: "/data/SFEW", overrides: ["reference=code"] });
  assert.equal(sfew.reference, "code");
  assert.deepEqual(sfew.method.miner, { type: "epoch-pass", threshold: 0.5, legacyFallback: true });
  assert.deepEqual([sfew.data.size, sfew.data.trainCrops, sfew.data.testCrops], [224, 10, 10]);
  assert.equal(sfew.trainer.miningDropLast, true);
  assert.equal(sfew.trainer.trainAccuracy, "mining");
  const text = configToYaml(sfew);
  assert.match(text, /^reference: code$/m);
  assert.match(text, /legacyFallback: true/);
  assert.deepEqual(validateConfig(YAML.parse(text)), sfew);

  const synthetic = await resolveConfig({ overrides: ["reference=code"] });
  assert.deepEqual([synthetic.data.size, synthetic.data.trainCrops, synthetic.data.testCrops], [224, 1, 1]);
  // every field the switch sets is at its code value
  for (const d of REFERENCE_DEPARTURES) {
    let node: unknown = synthetic;
    for (const key of d.path) node = (node as Record<string, unknown>)[key];
    assert.deepEqual(
      node,
      d.value("code", synthetic as unknown as Record<string, unknown>),
      d.path.join("."),
    );
  }
});

Deno.test("reference: a field set with the switch or after it wins; a later plugin still gets the option", async () => {
  const after = await resolveConfig({
    overrides: ["reference=code", "data.size=64", "trainer.miningDropLast=false"],
  });
  assert.deepEqual([after.data.size, after.trainer.miningDropLast, after.trainer.trainAccuracy], [
    64,
    false,
    "mining",
  ]);
  const before = await resolveConfig({ overrides: ["data.size=64", "reference=code"] });
  assert.equal(before.data.size, 224);
  const online = await resolveConfig({ overrides: ["reference=code", "method.miner=online"] });
  assert.deepEqual(online.method.miner, { type: "online", legacyFallback: true });
  assert.equal((await resolveConfig({ overrides: ["method.miner=online"] })).method.miner, "online");
  const back = await resolveConfig({ overrides: ["reference=code", "reference=paper"] });
  assert.deepEqual(back, await resolveConfig({ overrides: ["reference=paper"] }));
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "mine.yaml");
    await Deno.writeTextFile(file, "extends: sfew\nreference: code\ndata:\n  size: 112\n  trainCrops: 1\n");
    const mine = await resolveConfig({ file, dataPath: "/data/SFEW" });
    assert.deepEqual([mine.data.size, mine.data.trainCrops, mine.data.testCrops], [112, 1, 10]);
    assert.equal((mine.method.miner as Record<string, unknown>).legacyFallback, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(
    resolveConfig({ overrides: ["reference=both"] }),
    /override "reference=both": reference: expected paper or code, got "both"/,
  );
});

Deno.test("reference: code drops the mining pass's last incomplete batch", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const overrides = [
      "data.size=16",
      "data.synthetic.count=20",
      "data.synthetic.size=16",
      `data.synthetic.cacheDir=${JSON.stringify(dir)}`,
      "trainer.batchSize=6",
    ];
    const paper = await resolveConfig({ overrides });
    const code = await resolveConfig({ overrides: ["reference=code", ...overrides] });
    const data = await openRunData(paper);
    const [p, c] = [makeLoaders(paper, data), makeLoaders(code, data)];
    assert.equal(data.train.size, 16);
    assert.deepEqual([p.mining.length, c.mining.length], [3, 2]);
    assert.deepEqual([p.train.length, c.train.length], [2, 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the README's table 'Paper or the authors' code' has a row for every field the switch sets", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const start = readme.indexOf("### Paper or the authors' code");
  assert.ok(start >= 0, "the README has the section");
  const section = readme.slice(start, readme.indexOf("\n## ", start) >>> 0);
  for (const d of REFERENCE_DEPARTURES) {
    assert.ok(section.includes(`\`${d.path.join(".")}\``), `the table names ${d.path.join(".")}`);
  }
  assert.match(section, /`reference: paper`.*default/);
});
