import assert from "node:assert/strict";
import { PYTHON, pythonSkipReason } from "./_python.ts";
import { tf } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import {
  crossEntropy,
  fuseDistributions,
  klDivergence,
  normalizeAttention,
  rampWeights,
  rankRegularization,
  stabilizeClassDistributions,
  stopGradient,
  thresholdDistributions,
  totalLoss,
} from "../strategies/functional.ts";
import { buildPlugins, computeObjective, epochPassMiner, type ObjectiveBatch } from "../strategies/mod.ts";
import { referenceLoss, referenceMinedDistributions, referenceSoftmax } from "./_reference.ts";
import { objectiveOfHeads } from "./_objective.ts";

type Nested = number | Nested[];

/** Asserts that two (nested) arrays of numbers agree element-wise within `tol`. */
function assertClose(actual: Nested, expected: Nested, tol = 1e-6, path = "value"): void {
  if (typeof expected === "number") {
    assert.equal(typeof actual, "number", `${path}: expected a number`);
    const a = actual as number;
    assert.ok(Number.isFinite(a), `${path}: ${a} is not finite`);
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

// ---------------------------------------------------------------------------------------------------
// thresholdDistributions
// ---------------------------------------------------------------------------------------------------

Deno.test("thresholdDistributions() puts t on the diagonal and (1 - t) / (C - 1) elsewhere", () => {
  const d = thresholdDistributions(3, 0.7);
  // (1 - 0.7) / 2 = 0.15
  assertClose(read(d), [[0.7, 0.15, 0.15], [0.15, 0.7, 0.15], [0.15, 0.15, 0.7]]);
  d.dispose();
  const d4 = thresholdDistributions(4, 0.5);
  // (1 - 0.5) / 3 = 1/6; every row sums to 1
  assertClose(read(d4.sum(1)), [1, 1, 1, 1]);
  assertClose((read(d4) as number[][])[2], [1 / 6, 1 / 6, 0.5, 1 / 6]);
  d4.dispose();
});

Deno.test("thresholdDistributions() rejects bad arguments", () => {
  assert.throws(() => thresholdDistributions(1, 0.7), /numClasses must be an integer >= 2/);
  assert.throws(() => thresholdDistributions(3, 1.5), /threshold must lie in \[0, 1\]/);
});

// ---------------------------------------------------------------------------------------------------
// stabilizeClassDistributions
// ---------------------------------------------------------------------------------------------------

/** Per-class sums (row-major) and counts of probability rows, as a miner accumulates them. */
function classSums(probs: number[][], labels: number[], numClasses: number) {
  const sums = new Float64Array(numClasses * numClasses);
  const counts = new Float64Array(numClasses);
  probs.forEach((row, i) => {
    counts[labels[i]] += 1;
    row.forEach((v, k) => (sums[labels[i] * numClasses + k] += v));
  });
  return { sums, counts };
}

Deno.test("stabilizeClassDistributions() keeps confident means and falls back to d_j otherwise", () => {
  const { sums, counts } = classSums(
    [
      [0.8, 0.1, 0.1], // class 0
      [0.6, 0.2, 0.2], // class 0: mean [0.7, 0.15, 0.15], 0.7 >= 0.6, kept
      [0.3, 0.5, 0.2], // class 1
      [0.1, 0.6, 0.3], // class 1: mean [0.2, 0.55, 0.25], 0.55 < 0.6, so d_1
    ],
    [0, 0, 1, 1],
    3,
  ); // class 2 is absent: d_2
  const c = stabilizeClassDistributions(sums, counts, { threshold: 0.6 });
  // d_j with t = 0.6, C = 3: 0.6 on the diagonal, 0.2 elsewhere
  assertClose(c, [[0.7, 0.15, 0.15], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]], 1e-12);
});

Deno.test("stabilizeClassDistributions() keeps a mean exactly at the threshold (>=), compared in float32", () => {
  const { sums, counts } = classSums([[0.75, 0.25], [0.25, 0.75], [0.25, 0.75]], [0, 0, 1], 2);
  // class 0 mean [0.5, 0.5] with t = 0.5: kept; class 1 mean [0.25, 0.75]: kept
  assertClose(stabilizeClassDistributions(sums, counts, { threshold: 0.5 }), [[0.5, 0.5], [0.25, 0.75]], 0);
  // 0.7 is not a float32: a mean of float32(0.7) passes t = 0.7, as in the float32 reference
  const f = Math.fround(0.7);
  const kept = stabilizeClassDistributions([f, 1 - f, 0, 1], [1, 1], { threshold: 0.7 });
  assert.equal(kept[0][0], f);
});

Deno.test("stabilizeClassDistributions() reproduces the reference's 0.4 / (C - 1) fallback with legacyFallback", () => {
  const { sums, counts } = classSums([[0.2, 0.7, 0.1], [0.3, 0.4, 0.3]], [1, 1], 3);
  // class 1 mean [0.25, 0.55, 0.2] >= 0.5: kept; classes 0 and 2 absent
  const paper = stabilizeClassDistributions(sums, counts, { threshold: 0.5 });
  // paper d_j has (1 - 0.5) / 2 = 0.25 off the diagonal
  assertClose(paper, [[0.5, 0.25, 0.25], [0.25, 0.55, 0.2], [0.25, 0.25, 0.5]], 1e-12);
  const legacy = stabilizeClassDistributions(sums, counts, { threshold: 0.5, legacyFallback: true });
  // the reference's hard-coded 0.4 / 2 = 0.2 off the diagonal (rows sum to 0.9)
  assertClose(legacy, [[0.5, 0.2, 0.2], [0.25, 0.55, 0.2], [0.2, 0.2, 0.5]], 1e-12);
});

Deno.test("stabilizeClassDistributions() gives every class d_j for an empty set and rejects bad statistics", () => {
  const c = stabilizeClassDistributions(new Float64Array(9), new Float64Array(3), { threshold: 0.6 });
  assertClose(c, [[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]], 1e-12);
  const d = thresholdDistributions(3, 0.6);
  assertClose(read(d), c.map((row) => row.map(Math.fround)), 0); // the tensor d_j: the same rows in float32
  d.dispose();
  // a mean that is not a number (diverged probabilities) fails the test
  assert.deepEqual(stabilizeClassDistributions([NaN, NaN, 0, 1], [1, 1], { threshold: 0.5 })[0], [0.5, 0.5]);
  assert.throws(() => stabilizeClassDistributions([1, 0, 0], [1, 1]), /sums must be an array of C \* C = 4/);
  assert.throws(() => stabilizeClassDistributions([1], [1]), /counts.length \(number of classes\)/);
  assert.throws(
    () => stabilizeClassDistributions([1, 0, 0, 1], [1, -1]),
    /counts\[1\] must be a finite number >= 0/,
  );
  assert.throws(() => stabilizeClassDistributions([1, 0, 0, 1], [1, 1], { threshold: 2 }), /threshold/);
});

Deno.test("stabilizeClassDistributions() equals the reference mining on random sets", () => {
  const rng = new Random(11);
  for (
    const [n, numClasses, threshold] of [[40, 3, 0.5], [70, 7, 0.3], [12, 4, 0.6], [30, 3, 0.95]] as const
  ) {
    const labels = Array.from({ length: n }, () => rng.int(numClasses - 1)); // the last class is absent
    const probs = referenceSoftmax(
      labels.map((y) => Array.from({ length: numClasses }, (_, k) => rng.normal(0, 1) + (k === y ? 2 : 0))),
    );
    const { sums, counts } = classSums(probs, labels, numClasses);
    for (const legacyFallback of [false, true]) {
      assertClose(
        stabilizeClassDistributions(sums, counts, { threshold, legacyFallback }),
        referenceMinedDistributions(probs, labels, numClasses, threshold, legacyFallback),
        1e-12,
        `n ${n}, C ${numClasses}, legacy ${legacyFallback}`,
      );
    }
  }
});

// ---------------------------------------------------------------------------------------------------
// normalizeAttention
// ---------------------------------------------------------------------------------------------------

Deno.test("normalizeAttention() maps the batch min to minWeight and the max to maxWeight", () => {
  const w = tf.tensor1d([0.5, 0.7, 0.9]);
  // (w - 0.5) / 0.4 * 0.8 + 0.2
  const out = normalizeAttention(w);
  assertClose(read(out), [0.2, 0.6, 1.0]);
  const custom = normalizeAttention(tf.tensor1d([1, 3, 2]), { minWeight: 0, maxWeight: 1 });
  assertClose(read(custom), [0, 1, 0.5]);
  tf.dispose([w, out, custom]);
});

Deno.test("normalizeAttention() gives the midpoint, not NaN, when every weight is equal", () => {
  const equal = normalizeAttention(tf.tensor1d([0.4, 0.4, 0.4]));
  assertClose(read(equal), [0.6, 0.6, 0.6]); // (0.2 + 1) / 2
  const single = normalizeAttention(tf.tensor1d([0.9]), { minWeight: 0.3, maxWeight: 0.5 });
  assertClose(read(single), [0.4]);
  // the gradient there is zero and finite
  const g = tf.grad((x: tf.Tensor) => normalizeAttention(x as tf.Tensor1D).sum())(tf.tensor1d([0.4, 0.4]));
  assertClose(read(g), [0, 0]);
  tf.dispose([equal, single, g]);
});

Deno.test("normalizeAttention() has the hand-derived gradient", () => {
  // f = sum_i 0.8 * (w_i - w_0) / (w_2 - w_0) + 0.6 with w = [0.5, 0.7, 0.9], r = 0.4:
  // df/dw_1 = 0.8 / r = 2; df/dw_0 = 0.8 * (-1 / r + 0.2 / r^2) = -1; df/dw_2 = 0.8 * (-0.2 / r^2) = -1
  const g = tf.grad((x: tf.Tensor) => normalizeAttention(x as tf.Tensor1D).sum())(
    tf.tensor1d([0.5, 0.7, 0.9]),
  );
  assertClose(read(g), [-1, 2, -1], 1e-5);
  g.dispose();
});

Deno.test("normalizeAttention() rejects an inverted range and an empty batch", () => {
  const w = tf.tensor1d([0.1, 0.2]);
  assert.throws(() => normalizeAttention(w, { minWeight: 1, maxWeight: 0.2 }), /minWeight/);
  assert.throws(() => normalizeAttention(tf.tensor1d([])), /empty/);
  w.dispose();
});

// ---------------------------------------------------------------------------------------------------
// fuseDistributions
// ---------------------------------------------------------------------------------------------------

Deno.test("fuseDistributions() mixes each sample's label distribution with its class's distribution", () => {
  const inputs = {
    labelDistributions: tf.tensor2d([[0.5, 0.5], [0.1, 0.9], [0.6, 0.4]]),
    classDistributions: tf.tensor2d([[0.9, 0.1], [0.2, 0.8]]),
    labels: tf.tensor1d([1, 0, 0], "int32"),
    weights: tf.tensor1d([0.5, 1, 0.2]),
  };
  const f = fuseDistributions(inputs);
  assertClose(read(f), [
    [0.35, 0.65], // 0.5 * [0.5, 0.5] + 0.5 * [0.2, 0.8]
    [0.9, 0.1], // w' = 1: the class distribution of class 0
    [0.66, 0.34], // 0.8 * [0.6, 0.4] + 0.2 * [0.9, 0.1]
  ]);
  // df_i / dw'_i summed over the row's entries weighted by [1, 0]: c'_{y_i}[0] - l_i[0]
  const g = tf.grad((w: tf.Tensor) =>
    fuseDistributions({ ...inputs, weights: w as tf.Tensor1D }).mul(tf.tensor2d([[1, 0], [1, 0], [1, 0]]))
      .sum()
  )(inputs.weights);
  assertClose(read(g), [0.2 - 0.5, 0.9 - 0.1, 0.9 - 0.6]);
  tf.dispose([f, g, ...Object.values(inputs)]);
});

Deno.test("fuseDistributions() checks shapes", () => {
  const l = tf.tensor2d([[0.5, 0.5]]);
  const c = tf.eye(3) as tf.Tensor2D;
  const y = tf.tensor1d([0], "int32");
  const w = tf.tensor1d([0.5]);
  assert.throws(
    () => fuseDistributions({ labelDistributions: l, classDistributions: c, labels: y, weights: w }),
    /classDistributions must be \[2, 2\]/,
  );
  tf.dispose([l, c, y, w]);
});

// ---------------------------------------------------------------------------------------------------
// rankRegularization
// ---------------------------------------------------------------------------------------------------

Deno.test("rankRegularization() is margin - (w_H - w_L) when positive", () => {
  const w = tf.tensor1d([0.5, 0.52, 0.54, 0.56]);
  // ratio 0.5 of 4: M = 2; w_H = 0.55, w_L = 0.51; 0.07 - 0.04 = 0.03
  const rr = rankRegularization(w, { ratio: 0.5 });
  assertClose(read(rr), 0.03, 1e-6);
  // d/dw = -1/M for the top group, +1/(B - M) for the low group
  const g = tf.grad((x: tf.Tensor) => rankRegularization(x as tf.Tensor1D, { ratio: 0.5 }))(w);
  assertClose(read(g), [0.5, 0.5, -0.5, -0.5]);
  // a gap larger than the margin: zero loss, zero gradient
  const far = tf.tensor1d([0.1, 0.9, 0.2, 0.8]);
  assertClose(read(rankRegularization(far, { ratio: 0.5 })), 0);
  assertClose(read(tf.grad((x: tf.Tensor) => rankRegularization(x as tf.Tensor1D, { ratio: 0.5 }))(far)), [
    0,
    0,
    0,
    0,
  ]);
  tf.dispose([w, rr, g, far]);
});

Deno.test("rankRegularization() splits at floor(0.7 * B) despite float error, ties included", () => {
  // B = 10: 0.7 * 10 = 7.000000000000001, M = 7. Seven 1s and three 0s: w_H = 1, w_L = 0,
  // rr = 1.1 - 1 = 0.1 (M = 6 would give w_L = 0.25 and rr = 0.35).
  const ten = tf.tensor1d([1, 0, 1, 1, 0, 1, 1, 1, 0, 1]);
  assertClose(read(rankRegularization(ten, { ratio: 0.7, margin: 1.1 })), 0.1, 1e-6);
  // B = 90: 0.7 * 90 = 62.99999999999999, M = 63: 63 ones, 27 zeros
  const ninety = tf.tensor1d(Array.from({ length: 90 }, (_, i) => (i % 10 < 7 ? 1 : 0)));
  assertClose(read(rankRegularization(ninety, { ratio: 0.7, margin: 1.1 })), 0.1, 1e-6);
  tf.dispose([ten, ninety]);
});

Deno.test("rankRegularization() breaks ties by position without changing the means", () => {
  const w = tf.tensor1d([0.5, 0.5, 0.5, 0.2]);
  // M = 2: top = two of the 0.5s (w_H = 0.5), low = 0.5 and 0.2 (w_L = 0.35): 0.2 - 0.15 = 0.05
  assertClose(read(rankRegularization(w, { ratio: 0.5, margin: 0.2 })), 0.05, 1e-6);
  // the earlier tied samples rank higher
  const g = tf.grad((x: tf.Tensor) => rankRegularization(x as tf.Tensor1D, { ratio: 0.5, margin: 0.2 }))(w);
  assertClose(read(g), [-0.5, -0.5, 0.5, 0.5]);
  tf.dispose([w, g]);
});

Deno.test("rankRegularization() is 0 when a group is empty and honours a nominal batchSize", () => {
  const one = tf.tensor1d([0.7]);
  assertClose(read(rankRegularization(one)), 0); // M = floor(0.7) = 0
  const g = tf.grad((x: tf.Tensor) => rankRegularization(x as tf.Tensor1D))(one);
  assertClose(read(g), [0]);
  const six = tf.tensor1d([0.6, 0.5, 0.4, 0.3, 0.2, 0.1]);
  assertClose(read(rankRegularization(six, { ratio: 1 })), 0); // low group empty
  // batchSize 3 (e.g. 3 images x 2 crops): M = floor(2.1) = 2 largest, 1 smallest:
  // w_H = 0.55, w_L = 0.1, 0.5 - 0.45 = 0.05
  assertClose(read(rankRegularization(six, { ratio: 0.7, margin: 0.5, batchSize: 3 })), 0.05, 1e-6);
  assert.throws(() => rankRegularization(six, { batchSize: 7 }), /exceeds the number of weights/);
  tf.dispose([one, g, six]);
});

// ---------------------------------------------------------------------------------------------------
// rampWeights
// ---------------------------------------------------------------------------------------------------

Deno.test("rampWeights() follows the ramp equations", () => {
  // e <= beta: alpha1 = exp(-(1 - e / beta)^2), alpha2 = 1
  assertClose([rampWeights(1, 3).alpha1, rampWeights(1, 3).alpha2], [Math.exp(-4 / 9), 1], 1e-12);
  assert.deepEqual(rampWeights(3, 3), { alpha1: 1, alpha2: 1 });
  // e > beta: alpha1 = 1, alpha2 = exp(-(1 - beta / e)^2)
  assert.deepEqual(rampWeights(6, 3), { alpha1: 1, alpha2: Math.exp(-0.25) });
  assert.deepEqual(rampWeights(10, 5), { alpha1: 1, alpha2: Math.exp(-0.25) });
  assert.throws(() => rampWeights(0, 3), /epoch is counted from 1/);
  assert.throws(() => rampWeights(2, -1), /beta must be >= 0/);
});

// ---------------------------------------------------------------------------------------------------
// crossEntropy, klDivergence, stopGradient
// ---------------------------------------------------------------------------------------------------

Deno.test("crossEntropy() is the mean negative log-softmax of the label, stable for large logits", () => {
  const logits = tf.tensor2d([[0, 0], [2, 0], [1000, 0]]);
  const labels = tf.tensor1d([1, 0, 1], "int32");
  // [log 2, log(1 + e^-2), 1000] / 3
  const ce = crossEntropy(logits, labels);
  assertClose(read(ce), (Math.log(2) + Math.log(1 + Math.exp(-2)) + 1000) / 3, 1e-4);
  tf.dispose([logits, labels, ce]);
});

Deno.test("klDivergence() matches hand values, treats 0 log 0 as 0 and equals CE for one-hot targets", () => {
  const logits = tf.tensor2d([[Math.log(3), 0]]); // softmax [0.75, 0.25]
  const targets = tf.tensor2d([[0.5, 0.5]]);
  // 0.5 ln(0.5 / 0.75) + 0.5 ln(0.5 / 0.25) = 0.5 ln(4 / 3)
  assertClose(read(klDivergence(logits, targets)), 0.5 * Math.log(4 / 3), 1e-6);
  assertClose(read(klDivergence(logits, targets, { batchSize: 2 })), 0.25 * Math.log(4 / 3), 1e-6);
  const z = tf.tensor2d([[1, -2, 0.5], [0.3, 0.1, 2]]);
  const y = tf.tensor1d([2, 0], "int32");
  const oneHot = tf.oneHot(y, 3).toFloat() as tf.Tensor2D;
  assertClose(read(klDivergence(z, oneHot)), read(crossEntropy(z, y)), 1e-6);
  // the gradient with respect to targets holding zeros is finite
  const g = tf.grad((t: tf.Tensor) => klDivergence(z, t as tf.Tensor2D))(oneHot);
  assert.ok((g.dataSync() as Float32Array).every(Number.isFinite));
  tf.dispose([logits, targets, z, y, oneHot, g]);
});

Deno.test("stopGradient() passes values and blocks gradients", () => {
  const x = tf.tensor1d([1, 2]);
  assertClose(read(stopGradient(x)), [1, 2]);
  // d/dx sum(x * sg(x)) = sg(x)
  const g = tf.grad((v: tf.Tensor) => v.mul(stopGradient(v)).sum())(x);
  assertClose(read(g), [1, 2]);
  tf.dispose([x, g]);
});

// ---------------------------------------------------------------------------------------------------
// totalLoss, and the whole loss: computeObjective with the Ada-DF plugins
// ---------------------------------------------------------------------------------------------------

Deno.test("totalLoss() is alpha2 * ce + alpha1 * kl + rr and passes the gradient to each term", () => {
  const terms = { ce: tf.scalar(2), kl: tf.scalar(0.5), rr: tf.scalar(0.25) };
  const total = totalLoss(terms, { alpha1: 0.3, alpha2: 0.9 });
  assertClose(read(total), 0.9 * 2 + 0.3 * 0.5 + 0.25, 1e-6);
  const g = tf.grads((ce: tf.Tensor, kl: tf.Tensor, rr: tf.Tensor) =>
    totalLoss({ ce: ce as tf.Scalar, kl: kl as tf.Scalar, rr: rr as tf.Scalar }, { alpha1: 0.3, alpha2: 0.9 })
  )([terms.ce, terms.kl, terms.rr]);
  assertClose(g.map(read), [0.9, 0.3, 1], 1e-6);
  assert.throws(() => totalLoss({ ...terms, kl: tf.tensor1d([1]) as never }, rampWeights(1, 3)), /terms.kl/);
  assert.throws(() => totalLoss(terms, { alpha1: NaN, alpha2: 1 }), /weights.alpha1 must be a finite number/);
  tf.dispose([total, ...g, ...Object.values(terms)]);
});

const logit = (p: number) => Math.log(p / (1 - p));

/** Zero logits (l_i = softmax = [0.5, 0.5]) and scores whose sigmoid is the attention [0.4, 0.6]. */
function handCase(): ObjectiveBatch {
  return {
    auxLogits: tf.tensor2d([[0, 0], [0, 0]]),
    targetLogits: tf.tensor2d([[0, 0], [0, 0]]),
    scores1: tf.tensor1d([logit(0.4), logit(0.6)]),
    scores2: tf.tensor1d([logit(0.4), logit(0.6)]), // w = (a_1 + a_2) / 2 = [0.4, 0.6], w' = [0.2, 1]
    labels: tf.tensor1d([0, 1], "int32"),
    classDistributions: tf.tensor2d([[0.8, 0.2], [0.3, 0.7]]),
  };
}

Deno.test("computeObjective() with the Ada-DF plugins matches a hand-computed batch", () => {
  const batch = handCase();
  const before = tf.memory().numTensors;
  const out = computeObjective(buildPlugins({ schedule: { type: "ramp", beta: 3 } }), batch, { epoch: 1 });
  // f_0 = 0.8 * [0.5, 0.5] + 0.2 * [0.8, 0.2] = [0.56, 0.44]; f_1 = c'_1 = [0.3, 0.7]
  assertClose(read(out.attention), [0.4, 0.6]);
  assertClose(read(out.weights), [0.2, 1]);
  assertClose(read(out.targets), [[0.56, 0.44], [0.3, 0.7]]);
  const kl = (0.56 * Math.log(0.56 / 0.5) + 0.44 * Math.log(0.44 / 0.5) + 0.3 * Math.log(0.3 / 0.5) +
    0.7 * Math.log(0.7 / 0.5)) / 2;
  assertClose(read(out.ce), Math.log(2));
  assertClose(read(out.kl), kl);
  // M = floor(1.4) = 1: w_H = 0.6, w_L = 0.4, 0.07 - 0.2 < 0
  assertClose(read(out.rr), 0);
  assertClose(out.alpha1, Math.exp(-4 / 9), 1e-12);
  assert.equal(out.alpha2, 1);
  assertClose(read(out.total), Math.log(2) + Math.exp(-4 / 9) * kl);
  // margin 0.25: rr = 0.25 - 0.2 = 0.05, added as is; epoch 6 > beta 3: alpha2 = exp(-0.25)
  const late = computeObjective(
    buildPlugins({ schedule: { type: "ramp", beta: 3 }, regularizer: { type: "rank", margin: 0.25 } }),
    batch,
    { epoch: 6 },
  );
  assertClose(read(late.rr), 0.05);
  assertClose(read(late.total), Math.exp(-0.25) * Math.log(2) + kl + 0.05);
  // only the ten returned tensors of each call remain
  assert.equal(tf.memory().numTensors, before + 20);
  tf.dispose([out, late, Object.values(batch)]);
  assert.equal(tf.memory().numTensors, before - 6);
});

Deno.test("computeObjective() sends the KL gradient through the fused targets, unless stopped", () => {
  const batch = handCase();
  const { labels, classDistributions } = batch;
  const fc1 = tf.tensor2d([[1.2, -0.3], [0.2, 0.9]]);
  const fc2 = tf.tensor2d([[0.4, 0.1], [-0.5, 0.6]]);
  const s1 = tf.tensor1d([-0.2, 0.5]);
  const s2 = tf.tensor1d([0.1, 0.7]);
  const loss = (stopGradient: boolean) => {
    const plugins = buildPlugins({
      distribution: { type: "fused", stopGradient },
      regularizer: { type: "rank", margin: 0.5 },
    });
    const objective = objectiveOfHeads(plugins, { labels, classDistributions }, { epoch: 2 });
    return (f1: tf.Tensor, f2: tf.Tensor, c1: tf.Tensor, c2: tf.Tensor) => objective(f1, f2, c1, c2).total;
  };
  const free = tf.grads(loss(false))([fc1, fc2, s1, s2]);
  for (const g of free) {
    const v = g.dataSync() as Float32Array;
    assert.ok(v.every(Number.isFinite) && v.some((x) => Math.abs(x) > 1e-4), `gradient ${v} should flow`);
  }
  // stopped targets: fc1 only reaches the loss through alpha2 * CE(a_1 * fc1) (alpha2 = 1 at epoch 2)
  const stopped = tf.grads(loss(true))([fc1, fc2, s1, s2]);
  const ceGrad = tf.grad((f: tf.Tensor) =>
    crossEntropy(tf.sigmoid(s1).expandDims(1).mul(f) as tf.Tensor2D, labels)
  )(fc1);
  assertClose(read(stopped[0]), read(ceGrad), 1e-6);
  // and differs from the unstopped gradient, which also goes through the targets
  assert.ok(free[0].sub(stopped[0]).abs().sum().dataSync()[0] > 1e-4);
  // the target branch's gradient does not depend on whether the targets are stopped
  assertClose(read(stopped[1]), read(free[1]), 1e-6);
  tf.dispose([fc1, fc2, s1, s2, ...free, ...stopped, ceGrad, Object.values(batch)]);
});

Deno.test("computeObjective() rejects mismatched inputs and a bad epoch with the field's name", () => {
  const batch = handCase();
  const short = tf.tensor1d([0.5]);
  assert.throws(
    () => computeObjective(buildPlugins(), { ...batch, scores1: short }, { epoch: 1 }),
    /computeObjective: batch.scores1 must be a rank-1 tensor with 2 rows/,
  );
  assert.throws(() => computeObjective(buildPlugins(), batch, { epoch: 0 }), /epoch is counted from 1/);
  tf.dispose([short, Object.values(batch)]);
});

// ---------------------------------------------------------------------------------------------------
// Comparison with the authors' PyTorch code
// ---------------------------------------------------------------------------------------------------

const SCRIPT = new URL("./fixtures/ada_df_loss_reference.py", import.meta.url).pathname;

const SKIPPED = pythonSkipReason("torch");

interface ReferenceCase {
  fc1: number[][];
  fc2: number[][];
  s1: number[];
  s2: number[];
  labels: number[];
  LD: number[][];
  epoch: number;
  beta: number;
  batch_size: number;
  min_weight: number;
  max_weight: number;
  tops: number;
  margin: number;
  threshold: number;
  mine: { logits: number[][]; targets: number[]; threshold: number };
}

function makeCase(
  seed: number,
  b: number,
  c: number,
  settings: { epoch: number; beta: number; margin: number; threshold: number; present: number },
): ReferenceCase {
  const rng = new Random(seed);
  const matrix = (rows: number, cols: number, scale: number) =>
    Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal(0, scale)));
  // mining set: only the first `present` classes occur; class 0 is made confident
  const n = 6 * c;
  const targets = Array.from({ length: n }, (_, i) => i % settings.present);
  const logits = matrix(n, c, 1).map((row, i) =>
    row.map((v, k) => (k === targets[i] && k === 0 ? v + 4 : v))
  );
  const ld = Array.from(
    { length: c },
    (_, j) =>
      Array.from(
        { length: c },
        (_, k) => (k === j ? 0.55 : 0.45 / (c - 1)) + 0.01 * (k === (j + 1) % c ? 1 : 0),
      )
        .map((v, _, row) => v / row.reduce((s, x) => s + x, 0)),
  );
  return {
    fc1: matrix(b, c, 2),
    fc2: matrix(b, c, 2),
    s1: Array.from({ length: b }, () => rng.normal(0, 1.5)),
    s2: Array.from({ length: b }, () => rng.normal(0, 1.5)),
    labels: Array.from({ length: b }, () => rng.int(c)),
    LD: ld,
    epoch: settings.epoch,
    beta: settings.beta,
    batch_size: b,
    min_weight: 0.2,
    max_weight: 1,
    tops: 0.7,
    margin: settings.margin,
    threshold: settings.threshold,
    mine: { logits, targets, threshold: settings.threshold },
  };
}

/** The paper's equations chained by hand (eqs. 3, 11-16) on scaled logits and averaged attention. */
function equations(
  z1: tf.Tensor2D,
  z2: tf.Tensor2D,
  w: tf.Tensor1D,
  labels: tf.Tensor1D,
  classDistributions: tf.Tensor2D,
  settings: { epoch: number; beta: number; margin: number; ratio: number },
): tf.Scalar {
  const weights = normalizeAttention(w);
  const targets = fuseDistributions({
    labelDistributions: tf.softmax(z1),
    classDistributions,
    labels,
    weights,
  });
  const ce = crossEntropy(z1, labels);
  const kl = klDivergence(z2, targets);
  const rr = rankRegularization(w, { ratio: settings.ratio, margin: settings.margin });
  return totalLoss({ ce, kl, rr }, rampWeights(settings.epoch, settings.beta));
}

Deno.test({
  name: `computeObjective(), the equations and the test oracle match the reference PyTorch code${SKIPPED}`,
  ignore: SKIPPED !== "",
  fn: async () => {
    const cases = [
      makeCase(1, 10, 7, { epoch: 1, beta: 3, margin: 0.07, threshold: 0.7, present: 7 }),
      makeCase(2, 10, 7, { epoch: 5, beta: 3, margin: 0.6, threshold: 0.5, present: 5 }),
      makeCase(3, 16, 3, { epoch: 4, beta: 5, margin: 0.3, threshold: 0.6, present: 2 }),
    ];
    const dir = await Deno.makeTempDir({ prefix: "ada_df_math_" });
    try {
      const path = `${dir}/cases.json`;
      await Deno.writeTextFile(path, JSON.stringify(cases));
      const run = await new Deno.Command(PYTHON, { args: [SCRIPT, path], stdout: "piped", stderr: "piped" })
        .output();
      const stderr = new TextDecoder().decode(run.stderr);
      assert.ok(run.success, `the reference script failed: ${stderr}`);
      const results = JSON.parse(new TextDecoder().decode(run.stdout));
      const tol = 1e-5;
      cases.forEach((cs, index) => {
        const ref = results[index];
        const at = (name: string) => `case ${index}: ${name}`;
        const settings = { epoch: cs.epoch, beta: cs.beta, margin: cs.margin, ratio: cs.tops };
        // the test oracle (double precision, plain arrays) against PyTorch
        const oracle = referenceLoss(
          { fc1: cs.fc1, fc2: cs.fc2, s1: cs.s1, s2: cs.s2, labels: cs.labels, classDistributions: cs.LD },
          { ...settings, minWeight: cs.min_weight, maxWeight: cs.max_weight },
        );
        for (const key of ["attention", "total", "ce", "kl", "rr", "weights", "targets"] as const) {
          assertClose(oracle[key], ref[key], tol, at(`oracle ${key}`));
        }
        assertClose([oracle.alpha1, oracle.alpha2], [ref.alpha1, ref.alpha2], 1e-12, at("oracle alphas"));
        tf.tidy(() => {
          const fc1 = tf.tensor2d(cs.fc1);
          const fc2 = tf.tensor2d(cs.fc2);
          const s1 = tf.tensor1d(cs.s1);
          const s2 = tf.tensor1d(cs.s2);
          const labels = tf.tensor1d(cs.labels, "int32");
          const classDistributions = tf.tensor2d(cs.LD);
          // the plugin chain with the Ada-DF defaults, from the raw outputs: what training runs
          const plugins = buildPlugins({
            schedule: { type: "ramp", beta: cs.beta },
            regularizer: { type: "rank", ratio: cs.tops, margin: cs.margin },
          });
          const batch = {
            auxLogits: fc1,
            targetLogits: fc2,
            scores1: s1,
            scores2: s2,
            labels,
            classDistributions,
          };
          const out = computeObjective(plugins, batch, { epoch: cs.epoch });
          assertClose(read(out.attention), ref.attention, tol, at("attention"));
          assertClose(read(out.scaledAuxLogits), ref.scaledAux, tol, at("scaled auxiliary logits"));
          assertClose(read(out.scaledTargetLogits), ref.scaledTarget, tol, at("scaled target logits"));
          assertClose(read(out.total), ref.total, tol, at("total"));
          assertClose(read(out.ce), ref.ce, tol, at("ce"));
          assertClose(read(out.kl), ref.kl, tol, at("kl"));
          assertClose(read(out.rr), ref.rr, tol, at("rr"));
          assertClose(out.alpha1, ref.alpha1, 1e-12, at("alpha1"));
          assertClose(out.alpha2, ref.alpha2, 1e-12, at("alpha2"));
          assertClose(read(out.weights), ref.weights, tol, at("weights"));
          assertClose(read(out.targets), ref.targets, tol, at("targets"));
          const heads = objectiveOfHeads(plugins, { labels, classDistributions }, { epoch: cs.epoch });
          const objective = (f1: tf.Tensor, f2: tf.Tensor, c1: tf.Tensor, c2: tf.Tensor) =>
            heads(f1, f2, c1, c2).total;
          const raw = tf.grads(objective)([fc1, fc2, s1, s2]);
          assertClose(read(raw[0]), ref.gradFc1, tol, at("d total / d fc1"));
          assertClose(read(raw[1]), ref.gradFc2, tol, at("d total / d fc2"));
          assertClose(read(raw[2]), ref.gradS1, tol, at("d total / d s1"));
          assertClose(read(raw[3]), ref.gradS2, tol, at("d total / d s2"));
          // the equations chained on the scaled logits and the averaged attention
          const a1 = tf.sigmoid(s1);
          const a2 = tf.sigmoid(s2);
          const z1 = a1.expandDims(1).mul(fc1) as tf.Tensor2D;
          const z2 = a2.expandDims(1).mul(fc2) as tf.Tensor2D;
          const w = a1.add(a2).div(2) as tf.Tensor1D;
          const chained = (x1: tf.Tensor, x2: tf.Tensor, x3: tf.Tensor) =>
            equations(
              x1 as tf.Tensor2D,
              x2 as tf.Tensor2D,
              x3 as tf.Tensor1D,
              labels,
              classDistributions,
              settings,
            );
          assertClose(read(chained(z1, z2, w)), ref.total, tol, at("equations total"));
          const grads = tf.grads(chained)([z1, z2, w]);
          assertClose(read(grads[0]), ref.gradScaledAux, tol, at("d total / d z1"));
          assertClose(read(grads[1]), ref.gradScaledTarget, tol, at("d total / d z2"));
          assertClose(read(grads[2]), ref.gradAttention, tol, at("d total / d w"));
          // class distributions: initial and mined (the reference's fallback is the legacy one)
          const numClasses = cs.LD.length;
          assertClose(
            read(thresholdDistributions(numClasses, cs.threshold)),
            ref.initialLD,
            1e-7,
            at("initial"),
          );
          const miner = epochPassMiner({ threshold: cs.mine.threshold, legacyFallback: true });
          assertClose(read(miner.distributions(numClasses)), ref.initialLD, 1e-7, at("miner initial"));
          miner.begin(numClasses);
          miner.observe(tf.softmax(tf.tensor2d(cs.mine.logits)), tf.tensor1d(cs.mine.targets, "int32"));
          assertClose(read(miner.end()), ref.minedLD, tol, at("mined class distributions"));
          const probs = referenceSoftmax(cs.mine.logits);
          assertClose(
            referenceMinedDistributions(probs, cs.mine.targets, numClasses, cs.mine.threshold, true),
            ref.minedLD,
            tol,
            at("oracle mined class distributions"),
          );
        });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
