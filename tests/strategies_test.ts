import assert from "node:assert/strict";
import { tf } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import { crossEntropy } from "../strategies/functional.ts";
import {
  adaptiveNormalizer,
  buildPlugin,
  buildPlugins,
  classDistribution,
  computeObjective,
  constantSchedule,
  DEFAULT_PLUGIN_CONFIG,
  type DistributionSource,
  epochPassMiner,
  fixedNormalizer,
  listPlugins,
  noAttention,
  noRegularizer,
  type ObjectiveBatch,
  type ObjectivePlugins,
  type ObjectiveResult,
  onlineMiner,
  PLUGIN_FAMILIES,
  rampSchedule,
  registerPlugin,
  sigmoidAttention,
} from "../strategies/mod.ts";
import {
  numericGradient,
  type ReferenceBatch,
  referenceLoss,
  referenceMinedDistributions,
  type ReferenceSettings,
} from "./_reference.ts";
import { objectiveOfHeads } from "./_objective.ts";

type Nested = number | Nested[];

function assertClose(actual: Nested, expected: Nested, tol = 1e-6, path = "value"): void {
  if (typeof expected === "number") {
    const a = actual as number;
    assert.ok(typeof a === "number" && Number.isFinite(a), `${path}: ${a} is not a finite number`);
    assert.ok(Math.abs(a - expected) <= tol, `${path}: ${a} differs from ${expected} by more than ${tol}`);
    return;
  }
  assert.ok(Array.isArray(actual), `${path}: expected an array`);
  const arr = actual as Nested[];
  assert.equal(arr.length, expected.length, `${path}: length ${arr.length}, expected ${expected.length}`);
  expected.forEach((e, i) => assertClose(arr[i], e, tol, `${path}[${i}]`));
}

function read(t: tf.Tensor): Nested {
  return t.arraySync() as Nested;
}

/** A fixed batch of 5 samples, 3 classes, with distinct attention scores. */
function makeBatch(): ObjectiveBatch {
  return {
    auxLogits: tf.tensor2d([[1.5, -0.2, 0.3], [0.1, 0.8, -1], [-0.4, 0.2, 1.1], [2, 0.5, -0.5], [
      0,
      0.3,
      0.6,
    ]]),
    targetLogits: tf.tensor2d([[0.9, 0.1, -0.3], [-0.2, 1.2, 0.4], [0.3, -0.6, 0.8], [1.1, 0, 0.2], [
      0.5,
      0.5,
      -1,
    ]]),
    scores1: tf.tensor1d([0.3, -1.2, 0.8, 1.5, -0.1]),
    scores2: tf.tensor1d([-0.5, 0.4, 1.1, 0.2, -0.9]),
    labels: tf.tensor1d([0, 1, 2, 0, 2], "int32"),
    classDistributions: tf.tensor2d([[0.8, 0.1, 0.1], [0.15, 0.7, 0.15], [0.2, 0.1, 0.7]]),
  };
}

function disposeResult(result: ObjectiveResult): void {
  tf.dispose(result);
}

function disposeBatch(batch: ObjectiveBatch): void {
  tf.dispose(Object.values(batch));
}

function objective(plugins: ObjectivePlugins, epoch = 2): ObjectiveResult {
  const batch = makeBatch();
  const result = computeObjective(plugins, batch, { epoch });
  disposeBatch(batch);
  return result;
}

// ---------------------------------------------------------------------------------------------------
// computeObjective
// ---------------------------------------------------------------------------------------------------

const ADA_DF: ReferenceSettings = {
  epoch: 2,
  beta: 3,
  minWeight: 0.2,
  maxWeight: 1,
  ratio: 0.7,
  margin: 0.07,
};

/** The batch as plain arrays, for the test oracle. */
function plain(batch: ObjectiveBatch): ReferenceBatch {
  return {
    fc1: batch.auxLogits.arraySync(),
    fc2: batch.targetLogits.arraySync(),
    s1: batch.scores1.arraySync(),
    s2: batch.scores2.arraySync(),
    labels: batch.labels.arraySync(),
    classDistributions: batch.classDistributions.arraySync(),
  };
}

Deno.test("computeObjective() with the Ada-DF plugins equals the test oracle", () => {
  const batch = makeBatch();
  const plugins = buildPlugins();
  const before = tf.memory().numTensors;
  const result = computeObjective(plugins, batch, { epoch: 2 });
  assert.equal(tf.memory().numTensors, before + 10, "only the ten returned tensors remain");
  const expected = referenceLoss(plain(batch), ADA_DF);
  for (const key of ["total", "ce", "kl", "rr", "weights", "targets", "attention", "auxProbs"] as const) {
    assertClose(read(result[key]), expected[key], 1e-6, key);
  }
  assert.equal(result.alpha1, expected.alpha1);
  assert.equal(result.alpha2, expected.alpha2);
  // the scaled logits are a_k * logits_k with a_k = sigmoid(scores_k)
  const fc1 = plain(batch).fc1;
  assertClose(read(result.scaledAuxLogits), fc1.map((row, i) => row.map((v) => expected.a1[i] * v)), 1e-6);
  disposeResult(result);
  disposeBatch(batch);
});

Deno.test("computeObjective() with the Ada-DF plugins has the oracle's values and gradients on random batches", () => {
  const rng = new Random(7);
  for (
    const [b, c, settings] of [
      [8, 3, { ...ADA_DF, epoch: 1 }],
      [10, 7, { ...ADA_DF, epoch: 5, margin: 0.6 }],
      [5, 4, { ...ADA_DF, epoch: 4, beta: 5, margin: 0.3, ratio: 0.6 }],
    ] as const
  ) {
    const matrix = (rows: number, cols: number, scale: number) =>
      Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal(0, scale)));
    const rows = matrix(c, c, 1).map((row, j) => row.map((v, k) => Math.exp(v + (k === j ? 2 : 0))));
    const ref: ReferenceBatch = {
      fc1: matrix(b, c, 2),
      fc2: matrix(b, c, 2),
      s1: Array.from({ length: b }, () => rng.normal(0, 1.5)),
      s2: Array.from({ length: b }, () => rng.normal(0, 1.5)),
      labels: Array.from({ length: b }, () => rng.int(c)),
      classDistributions: rows.map((row) => row.map((v) => v / row.reduce((s, x) => s + x, 0))),
    };
    const at = `B ${b}, C ${c}, epoch ${settings.epoch}`;
    const plugins = buildPlugins({
      schedule: { type: "ramp", beta: settings.beta },
      regularizer: { type: "rank", ratio: settings.ratio, margin: settings.margin },
    });
    const labels = tf.tensor1d(ref.labels, "int32");
    const classDistributions = tf.tensor2d(ref.classDistributions);
    const objective = objectiveOfHeads(plugins, { labels, classDistributions }, { epoch: settings.epoch });
    const total = (f1: tf.Tensor, f2: tf.Tensor, c1: tf.Tensor, c2: tf.Tensor) =>
      objective(f1, f2, c1, c2).total;
    const inputs = [tf.tensor2d(ref.fc1), tf.tensor2d(ref.fc2), tf.tensor1d(ref.s1), tf.tensor1d(ref.s2)];
    const value = total(inputs[0], inputs[1], inputs[2], inputs[3]);
    const expected = referenceLoss(ref, settings);
    assertClose(read(value), expected.total, 1e-5, `${at}: total`);
    // the autodiff gradient against central differences of the oracle, input by input
    const grads = tf.grads(total)(inputs);
    const flat = [ref.fc1.flat(), ref.fc2.flat(), ref.s1, ref.s2];
    const rebuild = (which: number, x: number[]): ReferenceBatch => {
      const matrixOf = (v: number[]) => Array.from({ length: b }, (_, i) => v.slice(i * c, (i + 1) * c));
      return which === 0
        ? { ...ref, fc1: matrixOf(x) }
        : which === 1
        ? { ...ref, fc2: matrixOf(x) }
        : which === 2
        ? { ...ref, s1: x }
        : { ...ref, s2: x };
    };
    flat.forEach((x, which) => {
      const numeric = numericGradient((v) => referenceLoss(rebuild(which, v), settings).total, x);
      assertClose(Array.from(grads[which].dataSync()), numeric, 1e-4, `${at}: gradient of input ${which}`);
    });
    tf.dispose([labels, classDistributions, value, ...inputs, ...grads]);
  }
});

Deno.test("computeObjective() sends gradients to both branches' logits and both attention scores", () => {
  const batch = makeBatch();
  for (
    const config of [{}, { distribution: { type: "fused", stopGradient: true } }, { distribution: "label" }]
  ) {
    const plugins = buildPlugins(config);
    const objective = objectiveOfHeads(plugins, batch, { epoch: 2 });
    const grads = tf.grads((f1: tf.Tensor, f2: tf.Tensor, c1: tf.Tensor, c2: tf.Tensor) =>
      objective(f1, f2, c1, c2).total
    )([batch.auxLogits, batch.targetLogits, batch.scores1, batch.scores2]);
    grads.forEach((g, i) => {
      const v = g.dataSync() as Float32Array;
      assert.ok(v.every(Number.isFinite), `${JSON.stringify(config)}: gradient ${i} is not finite`);
      assert.ok(v.some((x) => Math.abs(x) > 1e-5), `${JSON.stringify(config)}: gradient ${i} is zero`);
    });
    tf.dispose(grads);
  }
  disposeBatch(batch);
});

Deno.test("computeObjective() with `label` and `fused` differs only through the class term", () => {
  const label = objective(buildPlugins({ distribution: "label" }));
  const fused = objective(buildPlugins({ distribution: "fused" }));
  const cls = objective(buildPlugins({ distribution: "class" }));
  // label targets are softmax(z_1); fused = (1 - w') * label + w' * class
  assertClose(read(label.targets), read(label.auxProbs));
  const w = fused.weights.expandDims(1);
  const mix = tf.scalar(1).sub(w).mul(label.targets).add(w.mul(cls.targets));
  assertClose(read(fused.targets), read(mix), 1e-6);
  // everything but the targets, the KL term and the total is the same
  for (const key of ["ce", "rr", "weights", "attention", "auxProbs", "scaledTargetLogits"] as const) {
    assertClose(read(fused[key]), read(label[key]), 0, key);
  }
  assert.ok(Math.abs(fused.kl.dataSync()[0] - label.kl.dataSync()[0]) > 1e-4, "the KL terms differ");
  tf.dispose([w, mix]);
  [label, fused, cls].forEach(disposeResult);
});

Deno.test("computeObjective() with `class` targets the class rows and `onehot` gives the target CE", () => {
  const cls = objective(buildPlugins({ distribution: "class" }));
  // labels [0, 1, 2, 0, 2] pick rows of c'
  const c = [[0.8, 0.1, 0.1], [0.15, 0.7, 0.15], [0.2, 0.1, 0.7]];
  assertClose(read(cls.targets), [c[0], c[1], c[2], c[0], c[2]]);
  const onehot = objective(buildPlugins({ distribution: "onehot" }));
  assertClose(read(onehot.targets), [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 1]]);
  const labels = tf.tensor1d([0, 1, 2, 0, 2], "int32");
  // KL(onehot || softmax z_2) = -log softmax(z_2)[y], the target branch's cross-entropy
  const targetCe = crossEntropy(onehot.scaledTargetLogits, labels);
  assertClose(read(onehot.kl), read(targetCe), 1e-6);
  tf.dispose([labels, targetCe]);
  [cls, onehot].forEach(disposeResult);
});

Deno.test("computeObjective() with the `none` regulariser gives rr = 0 and an otherwise equal total", () => {
  const rank = objective(buildPlugins({ regularizer: { type: "rank", margin: 0.5 } }));
  const none = objective(buildPlugins({ regularizer: "none" }));
  assert.ok(rank.rr.dataSync()[0] > 0.01, "margin 0.5 makes the rank term positive");
  assertClose(read(none.rr), 0, 0);
  assertClose(read(none.total), rank.total.dataSync()[0] - rank.rr.dataSync()[0], 1e-6);
  for (const key of ["ce", "kl", "targets", "weights"] as const) {
    assertClose(read(none[key]), read(rank[key]), 0, key);
  }
  [rank, none].forEach(disposeResult);
});

Deno.test("computeObjective() with `none` attention leaves the logits unscaled and the weights at the midpoint", () => {
  const result = objective(buildPlugins({ attention: "none" }));
  const batch = makeBatch();
  assertClose(read(result.scaledAuxLogits), read(batch.auxLogits), 0);
  assertClose(read(result.scaledTargetLogits), read(batch.targetLogits), 0);
  assertClose(read(result.attention), [1, 1, 1, 1, 1], 0);
  // all weights equal: the adaptive normaliser gives (0.2 + 1) / 2 to every sample
  assertClose(read(result.weights), [0.6, 0.6, 0.6, 0.6, 0.6]);
  // equal weights: w_H - w_L = 0, so rr is the margin 0.07
  assertClose(read(result.rr), 0.07, 1e-6);
  disposeResult(result);
  disposeBatch(batch);
});

Deno.test("computeObjective() with the `fixed` normaliser and the `constant` schedule", () => {
  const fixed = objective(
    buildPlugins({ normalizer: { type: "fixed", value: 0.25 }, schedule: "constant" }),
    7,
  );
  assertClose(read(fixed.weights), [0.25, 0.25, 0.25, 0.25, 0.25], 0);
  assert.deepEqual([fixed.alpha1, fixed.alpha2], [1, 1]);
  assertClose(
    read(fixed.total),
    fixed.ce.dataSync()[0] + fixed.kl.dataSync()[0] + fixed.rr.dataSync()[0],
    1e-6,
  );
  const ramp = objective(buildPlugins({ schedule: { type: "ramp", beta: 5 } }), 10);
  // e = 10 > beta = 5: alpha2 = exp(-(1 - 0.5)^2)
  assert.deepEqual([ramp.alpha1, ramp.alpha2], [1, Math.exp(-0.25)]);
  [fixed, ramp].forEach(disposeResult);
});

Deno.test("computeObjective() rejects a batch whose tensors disagree in size", () => {
  const batch = makeBatch();
  const short = tf.tensor1d([0, 1]);
  assert.throws(
    () => computeObjective(buildPlugins(), { ...batch, scores2: short }, { epoch: 1 }),
    /batch\.scores2 must be a rank-1 tensor with 5 rows/,
  );
  short.dispose();
  disposeBatch(batch);
});

// ---------------------------------------------------------------------------------------------------
// Individual plugins
// ---------------------------------------------------------------------------------------------------

Deno.test("sigmoidAttention() and noAttention() map scores to branch weights", () => {
  const inputs = { scores1: tf.tensor1d([0, Math.log(3)]), scores2: tf.tensor1d([-Math.log(3), 0]) };
  const s = sigmoidAttention().apply(inputs);
  assertClose(read(s.a1), [0.5, 0.75]); // sigmoid(ln 3) = 3 / 4
  assertClose(read(s.a2), [0.25, 0.5]);
  const n = noAttention().apply(inputs);
  assertClose(read(n.a1), [1, 1], 0);
  // the ones stay tied to the scores with a zero gradient
  const g = tf.grad((x: tf.Tensor) =>
    noAttention().apply({ scores1: x as tf.Tensor1D, scores2: x as tf.Tensor1D }).a1.sum()
  )(
    inputs.scores1,
  );
  assertClose(read(g), [0, 0], 0);
  tf.dispose([s.a1, s.a2, n.a1, n.a2, g, ...Object.values(inputs)]);
});

Deno.test("adaptiveNormalizer() and fixedNormalizer() validate their options", () => {
  const w = tf.tensor1d([0.5, 0.9]);
  assertClose(read(adaptiveNormalizer({ minWeight: 0, maxWeight: 0.5 }).normalize(w)), [0, 0.5]);
  assertClose(read(fixedNormalizer().normalize(w)), [0.6, 0.6]); // default: midpoint of [0.2, 1]
  assert.throws(() => fixedNormalizer({ value: 2 }), /fixedNormalizer: option "value" must lie in \[0, 1\]/);
  assert.throws(() => adaptiveNormalizer({ minWeight: 0.9, maxWeight: 0.1 }), /must not exceed/);
  w.dispose();
});

Deno.test("rampSchedule(), constantSchedule() and noRegularizer() return their constants", () => {
  assert.deepEqual(rampSchedule({ beta: 3 }).weights(3), { alpha1: 1, alpha2: 1 });
  assert.deepEqual(constantSchedule({ alpha1: 0.3, alpha2: 0.7 }).weights(4), { alpha1: 0.3, alpha2: 0.7 });
  assert.throws(() => constantSchedule().weights(0), /epoch is counted from 1/);
  const w = tf.tensor1d([0.1, 0.9]);
  const labels = tf.tensor1d([0, 1], "int32");
  const rr = noRegularizer().loss({ attention: w, weights: w, labels, batchSize: 2 });
  assertClose(read(rr), 0, 0);
  tf.dispose([w, labels, rr]);
});

Deno.test("classDistribution() selects rows without gathering", () => {
  const targets = classDistribution().targets({
    auxLogits: tf.zeros([2, 2]),
    auxProbs: tf.fill([2, 2], 0.5),
    labels: tf.tensor1d([1, 0], "int32"),
    weights: tf.tensor1d([0.3, 0.7]),
    classDistributions: tf.tensor2d([[0.8, 0.2], [0.3, 0.7]]),
  });
  assertClose(read(targets), [[0.3, 0.7], [0.8, 0.2]]);
  targets.dispose();
});

// ---------------------------------------------------------------------------------------------------
// Miners
// ---------------------------------------------------------------------------------------------------

Deno.test("epochPassMiner() starts from d_j and mines stabilised class means", () => {
  const miner = epochPassMiner({ threshold: 0.6 });
  assert.equal(miner.extraPass, true);
  assert.equal(onlineMiner().extraPass, false);
  const initial = miner.distributions(3);
  assertClose(read(initial), [[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]]);
  miner.begin(3);
  // two batches; class 0: [0.8, 0.1, 0.1], [0.6, 0.2, 0.2] -> mean [0.7, 0.15, 0.15], kept
  // class 1: [0.3, 0.5, 0.2], [0.1, 0.6, 0.3] -> mean [0.2, 0.55, 0.25] under 0.6: d_1; class 2 absent: d_2
  const p1 = tf.tensor2d([[0.8, 0.1, 0.1], [0.3, 0.5, 0.2]]);
  const p2 = tf.tensor2d([[0.1, 0.6, 0.3], [0.6, 0.2, 0.2]]);
  const y1 = tf.tensor1d([0, 1], "int32");
  const y2 = tf.tensor1d([1, 0], "int32");
  miner.observe(p1, y1);
  miner.observe(p2, y2);
  const mined = miner.end();
  const expected = [[0.7, 0.15, 0.15], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]];
  assertClose(read(mined), expected);
  const current = miner.distributions(3);
  assertClose(read(current), expected);
  // the oracle's mining of the two batches together
  const all = referenceMinedDistributions(
    [...p1.arraySync(), ...p2.arraySync()],
    [...y1.arraySync(), ...y2.arraySync()],
    3,
    0.6,
  );
  assertClose(read(mined), all, 1e-6);
  tf.dispose([initial, p1, p2, y1, y2, mined, current]);
});

Deno.test("both miners equal the oracle's mining over many batches, with either fallback", async () => {
  const rng = new Random(3);
  const numClasses = 5;
  for (const spec of [{ threshold: 0.4 }, { threshold: 0.55, legacyFallback: true }]) {
    for (const miner of [epochPassMiner(spec), onlineMiner(spec)]) {
      const probs: number[][] = [];
      const labels: number[] = [];
      miner.begin(numClasses);
      for (let batch = 0; batch < 6; batch++) {
        // class 4 never occurs; class 0 is confident, the others less so
        const y = Array.from({ length: 7 }, () => rng.int(numClasses - 1));
        const logits = y.map((j) =>
          Array.from({ length: numClasses }, (_, k) => rng.normal(0, 1) + (k === j ? (j === 0 ? 3 : 1) : 0))
        );
        const p = tf.softmax(tf.tensor2d(logits)) as tf.Tensor2D;
        const t = tf.tensor1d(y, "int32");
        if (batch % 2) miner.observe(p, t);
        else await miner.observeAsync(p, t);
        probs.push(...p.arraySync());
        labels.push(...y);
        tf.dispose([p, t]);
      }
      const mined = miner.end();
      const expected = referenceMinedDistributions(
        probs,
        labels,
        numClasses,
        spec.threshold,
        spec.legacyFallback,
      );
      assertClose(read(mined), expected, 1e-6, `${miner.name} ${JSON.stringify(spec)}`);
      // what it kept and what fell back
      const kept = expected.map((row, j) => row[j] !== spec.threshold);
      assert.ok(kept[0] && !kept[4], `${JSON.stringify(kept)}: class 0 kept, class 4 fallen back`);
      assertClose(miner.getState().distributions, read(mined), 1e-6);
      mined.dispose();
    }
  }
});

Deno.test("onlineMiner() reproduces the reference fallback with legacyFallback and reads asynchronously", async () => {
  const miner = onlineMiner({ threshold: 0.5, legacyFallback: true });
  miner.begin(3);
  const probs = tf.tensor2d([[0.2, 0.7, 0.1], [0.3, 0.4, 0.3]]);
  const labels = tf.tensor1d([1, 1], "int32");
  await miner.observeAsync(probs, labels);
  const mined = miner.end();
  // class 1 mean [0.25, 0.55, 0.2] kept; classes 0 and 2: t = 0.5 and 0.4 / 2 = 0.2 elsewhere
  assertClose(read(mined), [[0.5, 0.2, 0.2], [0.25, 0.55, 0.2], [0.2, 0.2, 0.5]]);
  tf.dispose([probs, labels, mined]);
});

Deno.test("ClassDistributionMiner state round-trips through getState()/setState()", () => {
  const a = epochPassMiner({ threshold: 0.5 });
  a.begin(2);
  const p = tf.tensor2d([[0.9, 0.1], [0.3, 0.7]]);
  const y = tf.tensor1d([0, 1], "int32");
  a.observe(p, y);
  const state = JSON.parse(JSON.stringify(a.getState()));
  assert.deepEqual(state.counts, [1, 1]);
  assert.equal(state.mining, true);
  const b = epochPassMiner({ threshold: 0.5 });
  b.setState(state);
  b.observe(p, y); // both continue the same accumulation
  a.observe(p, y);
  const ea = a.end();
  const eb = b.end();
  assertClose(read(eb), read(ea), 0);
  assertClose(read(ea), [[0.9, 0.1], [0.3, 0.7]], 1e-6);
  assert.deepEqual(b.getState().distributions, a.getState().distributions);
  assert.throws(() => b.setState({ ...state, sums: [1] }), /sums must be an array of 4 numbers/);
  tf.dispose([p, y, ea, eb]);
});

Deno.test("ClassDistributionMiner rejects misuse with clear errors", () => {
  const miner = epochPassMiner();
  const p = tf.tensor2d([[0.5, 0.5]]);
  const bad = tf.tensor1d([2], "int32");
  assert.throws(() => miner.observe(p, bad), /epoch-pass miner: observe\(\): called before begin\(\)/);
  miner.begin(2);
  assert.throws(() => miner.observe(p, bad), /label 2 at row 0 is outside \[0, 2\)/);
  const wide = tf.tensor2d([[0.2, 0.3, 0.5]]);
  assert.throws(() => miner.observe(wide, tf.tensor1d([0], "int32")), /probs must be an \[N, 2\] tensor/);
  assert.throws(() => miner.begin(1), /numClasses must be an integer >= 2/);
  tf.dispose([p, bad, wide]);
});

// ---------------------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------------------

Deno.test("buildPlugins() builds the Ada-DF defaults and swaps one family at a time", () => {
  const plugins = buildPlugins();
  assert.deepEqual(
    PLUGIN_FAMILIES.map((family) => plugins[family].name),
    ["fused", "epoch-pass", "sigmoid", "adaptive", "rank", "ramp"],
  );
  assert.deepEqual(Object.keys(DEFAULT_PLUGIN_CONFIG).sort(), [...PLUGIN_FAMILIES].sort());
  // the ablations differ from the default only in the distribution source
  for (const distribution of ["onehot", "class", "label"]) {
    const plugins = buildPlugins({ distribution });
    assert.equal(plugins.distribution.name, distribution);
    assert.deepEqual(PLUGIN_FAMILIES.filter((f) => f !== "distribution").map((f) => plugins[f].name), [
      "epoch-pass",
      "sigmoid",
      "adaptive",
      "rank",
      "ramp",
    ]);
  }
});

Deno.test("buildPlugins() passes object-spec options to the factory", () => {
  const plugins = buildPlugins({
    miner: { type: "online", threshold: 0.5 },
    schedule: { type: "ramp", beta: 5 },
    normalizer: { type: "fixed", value: 0.3 },
  });
  assert.equal(plugins.miner.name, "online");
  assert.equal(plugins.miner.threshold, 0.5);
  assert.deepEqual(plugins.schedule.weights(5), { alpha1: 1, alpha2: 1 });
  const w = tf.tensor1d([0.1]);
  assertClose(read(plugins.normalizer.normalize(w)), [0.3]);
  w.dispose();
});

Deno.test("buildPlugins() names the config field in its errors and lists the known names", () => {
  assert.throws(
    () => buildPlugins({ distribution: "fuzed" }),
    /plugin config field "distribution": unknown distribution plugin "fuzed"; known: onehot, label, class, fused/,
  );
  assert.throws(
    () => buildPlugins({ regularizer: { type: "rank", marg: 0.1 } }),
    /plugin config field "regularizer" \(rank\): rankRegularizer: unknown option "marg"; known options: ratio, margin/,
  );
  assert.throws(
    () => buildPlugins({ miner: { type: "epoch-pass", threshold: "high" } }),
    /plugin config field "miner" \(epoch-pass\): epochPassMiner: option "threshold" must be a finite number/,
  );
  assert.throws(
    () => buildPlugins({ schedule: { beta: 3 } as never }),
    /plugin config field "schedule": .*"type"/,
  );
  assert.throws(
    () => buildPlugins({ distrbution: "fused" } as never),
    /unknown plugin config field "distrbution"; known fields: distribution, miner/,
  );
  assert.throws(() => buildPlugin("fusion" as never, "fused"), /unknown plugin family "fusion"/);
});

Deno.test("registerPlugin() adds a user-defined plugin that configs select by name", () => {
  // uniform targets: every class 1 / C, with a configurable name check on its option
  const uniform = (options: Record<string, unknown>): DistributionSource => {
    const scale = (options.scale as number | undefined) ?? 1;
    return {
      name: "test-uniform",
      targets: ({ auxProbs }) => tf.fill(auxProbs.shape, scale / auxProbs.shape[1]) as tf.Tensor2D,
    };
  };
  registerPlugin("distribution", "test-uniform", uniform);
  assert.ok(listPlugins("distribution").includes("test-uniform"));
  assert.throws(() => registerPlugin("distribution", "test-uniform", uniform), /already registered/);
  registerPlugin("distribution", "test-uniform", uniform, { replace: true });
  const plugins = buildPlugins({ distribution: { type: "test-uniform", scale: 1 } });
  assert.equal(plugins.distribution.name, "test-uniform");
  const custom = objective(plugins);
  assertClose(read(custom.targets), Array.from({ length: 5 }, () => [1 / 3, 1 / 3, 1 / 3]));
  // only the targets, KL and total differ from the Ada-DF default
  const fused = objective(buildPlugins());
  assertClose(read(custom.ce), read(fused.ce), 0);
  assertClose(read(custom.rr), read(fused.rr), 0);
  assert.ok(Math.abs(custom.kl.dataSync()[0] - fused.kl.dataSync()[0]) > 1e-4);
  [custom, fused].forEach(disposeResult);
});

Deno.test("sigmoidAttention({ warmupEpochs }) gives a_k = 1 up to the warm-up epoch, then the sigmoid", () => {
  const attention = sigmoidAttention({ warmupEpochs: 2 });
  const scores1 = tf.tensor1d([0, 2]);
  const scores2 = tf.tensor1d([-1, 1]);
  for (const epoch of [1, 2]) {
    const { a1, a2 } = attention.apply({ scores1, scores2, epoch });
    assert.deepEqual([...a1.dataSync(), ...a2.dataSync()], [1, 1, 1, 1]);
  }
  const after = attention.apply({ scores1, scores2, epoch: 3 });
  assert.ok(Math.abs(after.a1.dataSync()[0] - 0.5) < 1e-6);
  assert.ok(Math.abs(after.a2.dataSync()[1] - 1 / (1 + Math.exp(-1))) < 1e-6);
  // Evaluation (no epoch) uses the sigmoid.
  assert.ok(Math.abs(attention.apply({ scores1, scores2 }).a1.dataSync()[1] - 1 / (1 + Math.exp(-2))) < 1e-6);
  assert.throws(() => sigmoidAttention({ warmupEpochs: -1 }), /warmupEpochs must be an integer >= 0/);
});
