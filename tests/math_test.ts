import assert from "node:assert/strict";
import { tf } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import {
  adaDfLoss,
  crossEntropy,
  fuseDistributions,
  klDivergence,
  mineClassDistributions,
  normalizeAttention,
  rampWeights,
  rankRegularization,
  stopGradient,
  thresholdDistributions,
} from "../strategies/functional.ts";
import { buildPlugins, computeObjective } from "../strategies/mod.ts";

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
// mineClassDistributions
// ---------------------------------------------------------------------------------------------------

Deno.test("mineClassDistributions() keeps confident means and falls back to d_j otherwise", () => {
  const probs = tf.tensor2d([
    [0.8, 0.1, 0.1], // class 0
    [0.6, 0.2, 0.2], // class 0: mean [0.7, 0.15, 0.15], 0.7 >= 0.6, kept
    [0.3, 0.5, 0.2], // class 1
    [0.1, 0.6, 0.3], // class 1: mean [0.2, 0.55, 0.25], 0.55 < 0.6, so d_1
  ]);
  const labels = tf.tensor1d([0, 0, 1, 1], "int32"); // class 2 is absent: d_2
  const c = mineClassDistributions(probs, labels, { threshold: 0.6 });
  // d_j with t = 0.6, C = 3: 0.6 on the diagonal, 0.2 elsewhere
  assertClose(read(c), [[0.7, 0.15, 0.15], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]]);
  tf.dispose([probs, labels, c]);
});

Deno.test("mineClassDistributions() keeps a mean exactly at the threshold (>=)", () => {
  const probs = tf.tensor2d([[0.75, 0.25], [0.25, 0.75], [0.25, 0.75]]);
  const labels = tf.tensor1d([0, 0, 1], "int32");
  // class 0 mean [0.5, 0.5] with t = 0.5: kept; class 1 mean [0.25, 0.75]: kept
  const c = mineClassDistributions(probs, labels, { threshold: 0.5 });
  assertClose(read(c), [[0.5, 0.5], [0.25, 0.75]]);
  tf.dispose([probs, labels, c]);
});

Deno.test("mineClassDistributions() reproduces the reference's 0.4 / (C - 1) fallback with legacyFallback", () => {
  const probs = tf.tensor2d([[0.2, 0.7, 0.1], [0.3, 0.4, 0.3]]);
  const labels = tf.tensor1d([1, 1], "int32"); // class 1 mean [0.25, 0.55, 0.2] >= 0.5: kept
  const paper = mineClassDistributions(probs, labels, { threshold: 0.5 });
  // classes 0 and 2 absent: paper d_j has (1 - 0.5) / 2 = 0.25 off the diagonal
  assertClose(read(paper), [[0.5, 0.25, 0.25], [0.25, 0.55, 0.2], [0.25, 0.25, 0.5]]);
  const legacy = mineClassDistributions(probs, labels, { threshold: 0.5, legacyFallback: true });
  // the reference's hard-coded 0.4 / 2 = 0.2 off the diagonal (rows sum to 0.9)
  assertClose(read(legacy), [[0.5, 0.2, 0.2], [0.25, 0.55, 0.2], [0.2, 0.2, 0.5]]);
  tf.dispose([probs, labels, paper, legacy]);
});

Deno.test("mineClassDistributions() gives every class d_j for an empty set and rejects bad labels", () => {
  const probs = tf.zeros([0, 3]) as tf.Tensor2D;
  const labels = tf.tensor1d([], "int32");
  const c = mineClassDistributions(probs, labels, { threshold: 0.6 });
  assertClose(read(c), [[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]]);
  const floatLabels = tf.tensor1d([0]);
  const one = tf.tensor2d([[0.5, 0.5, 0]]);
  assert.throws(() => mineClassDistributions(one, floatLabels), /labels must be an int32 Tensor1D/);
  tf.dispose([probs, labels, c, floatLabels, one]);
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
// adaDfLoss
// ---------------------------------------------------------------------------------------------------

function handCase() {
  return {
    auxLogits: tf.tensor2d([[0, 0], [0, 0]]), // l_i = [0.5, 0.5]
    targetLogits: tf.tensor2d([[0, 0], [0, 0]]), // softmax(z_2) = [0.5, 0.5]
    attention: tf.tensor1d([0.4, 0.6]), // w' = [0.2, 1]
    labels: tf.tensor1d([0, 1], "int32"),
    classDistributions: tf.tensor2d([[0.8, 0.2], [0.3, 0.7]]),
  };
}

Deno.test("adaDfLoss() matches a hand-computed batch", () => {
  const inputs = handCase();
  const before = tf.memory().numTensors;
  const out = adaDfLoss(inputs, { epoch: 1, beta: 3 });
  // f_0 = 0.8 * [0.5, 0.5] + 0.2 * [0.8, 0.2] = [0.56, 0.44]; f_1 = c'_1 = [0.3, 0.7]
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
  const late = adaDfLoss(inputs, { epoch: 6, beta: 3, margin: 0.25 });
  assertClose(read(late.rr), 0.05);
  assertClose(read(late.total), Math.exp(-0.25) * Math.log(2) + kl + 0.05);
  // only the six returned tensors of each call remain
  assert.equal(tf.memory().numTensors, before + 12);
  tf.dispose([...Object.values(out), ...Object.values(late), ...Object.values(inputs)]);
  assert.equal(tf.memory().numTensors, before - 5);
});

Deno.test("adaDfLoss() sends gradients to both branches and the attention, unless stopped", () => {
  const inputs = handCase();
  const { labels, classDistributions } = inputs;
  const aux = tf.tensor2d([[1.2, -0.3], [0.2, 0.9]]);
  const tgt = tf.tensor2d([[0.4, 0.1], [-0.5, 0.6]]);
  const att = tf.tensor1d([0.45, 0.62]);
  const loss = (stop: boolean) => (a: tf.Tensor, t: tf.Tensor, w: tf.Tensor) =>
    adaDfLoss({
      auxLogits: a as tf.Tensor2D,
      targetLogits: t as tf.Tensor2D,
      attention: w as tf.Tensor1D,
      labels,
      classDistributions,
    }, { epoch: 2, beta: 3, margin: 0.5, stopGradient: stop }).total;
  const [gAux, gTgt, gAtt] = tf.grads(loss(false))([aux, tgt, att]);
  for (const g of [gAux, gTgt, gAtt]) {
    const v = g.dataSync() as Float32Array;
    assert.ok(v.every(Number.isFinite) && v.some((x) => Math.abs(x) > 1e-4), `gradient ${v} should flow`);
  }
  // stopped targets: the aux gradient is that of alpha2 * CE alone, the attention's that of rr alone
  const [sAux, , sAtt] = tf.grads(loss(true))([aux, tgt, att]);
  const ceGrad = tf.grad((a: tf.Tensor) => crossEntropy(a as tf.Tensor2D, labels))(aux);
  assertClose(read(sAux), read(ceGrad), 1e-6);
  const rrGrad = tf.grad((w: tf.Tensor) => rankRegularization(w as tf.Tensor1D, { margin: 0.5 }))(att);
  assertClose(read(sAtt), read(rrGrad), 1e-6);
  // and differs from the unstopped gradient, which also goes through the targets
  assert.ok(Math.abs(gAux.sub(sAux).abs().sum().dataSync()[0]) > 1e-4);
  tf.dispose([aux, tgt, att, gAux, gTgt, gAtt, sAux, sAtt, ceGrad, rrGrad, ...Object.values(inputs)]);
});

Deno.test("adaDfLoss() rejects mismatched inputs with the argument's name", () => {
  const inputs = handCase();
  const short = tf.tensor1d([0.5]);
  assert.throws(
    () => adaDfLoss({ ...inputs, attention: short }, { epoch: 1 }),
    /adaDfLoss: attention has 1 entries/,
  );
  assert.throws(() => adaDfLoss(inputs, { epoch: 0 }), /epoch is counted from 1/);
  tf.dispose([short, ...Object.values(inputs)]);
});

// ---------------------------------------------------------------------------------------------------
// Comparison with the authors' PyTorch code
// ---------------------------------------------------------------------------------------------------

const PYTHON = "/usr/bin/python3";
const SCRIPT = new URL("./fixtures/ada_df_loss_reference.py", import.meta.url).pathname;

function torchAvailable(): boolean {
  try {
    return new Deno.Command(PYTHON, { args: ["-c", "import torch"], stdout: "null", stderr: "null" })
      .outputSync()
      .success;
  } catch {
    return false;
  }
}

const hasTorch = torchAvailable();

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

Deno.test({
  name: hasTorch
    ? "adaDfLoss() and computeObjective() match the reference PyTorch code"
    : "adaDfLoss() and computeObjective() match the reference PyTorch code (skipped: /usr/bin/python3 cannot import torch)",
  ignore: !hasTorch,
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
        tf.tidy(() => {
          const fc1 = tf.tensor2d(cs.fc1);
          const fc2 = tf.tensor2d(cs.fc2);
          const s1 = tf.tensor1d(cs.s1);
          const s2 = tf.tensor1d(cs.s2);
          const labels = tf.tensor1d(cs.labels, "int32");
          const classDistributions = tf.tensor2d(cs.LD);
          // the model's forward: sigmoid heads, scaled logits, averaged attention
          const a1 = tf.sigmoid(s1);
          const a2 = tf.sigmoid(s2);
          const auxLogits = a1.expandDims(1).mul(fc1) as tf.Tensor2D;
          const targetLogits = a2.expandDims(1).mul(fc2) as tf.Tensor2D;
          const attention = a1.add(a2).div(2) as tf.Tensor1D;
          const options = { epoch: cs.epoch, beta: cs.beta, margin: cs.margin, ratio: cs.tops };
          const out = adaDfLoss({ auxLogits, targetLogits, attention, labels, classDistributions }, options);
          assertClose(read(attention), ref.attention, tol, at("attention"));
          assertClose(read(out.total), ref.total, tol, at("total"));
          assertClose(read(out.ce), ref.ce, tol, at("ce"));
          assertClose(read(out.kl), ref.kl, tol, at("kl"));
          assertClose(read(out.rr), ref.rr, tol, at("rr"));
          assertClose(out.alpha1, ref.alpha1, 1e-12, at("alpha1"));
          assertClose(out.alpha2, ref.alpha2, 1e-12, at("alpha2"));
          assertClose(read(out.weights), ref.weights, tol, at("weights"));
          assertClose(read(out.targets), ref.targets, tol, at("targets"));
          const grads = tf.grads((z1: tf.Tensor, z2: tf.Tensor, w: tf.Tensor) =>
            adaDfLoss({
              auxLogits: z1 as tf.Tensor2D,
              targetLogits: z2 as tf.Tensor2D,
              attention: w as tf.Tensor1D,
              labels,
              classDistributions,
            }, options).total
          )([auxLogits, targetLogits, attention]);
          assertClose(read(grads[0]), ref.gradScaledAux, tol, at("d total / d z1"));
          assertClose(read(grads[1]), ref.gradScaledTarget, tol, at("d total / d z2"));
          assertClose(read(grads[2]), ref.gradAttention, tol, at("d total / d w"));
          // the plugin chain with the Ada-DF defaults, from the raw outputs
          const plugins = buildPlugins({
            schedule: { type: "ramp", beta: cs.beta },
            regularizer: { type: "rank", ratio: cs.tops, margin: cs.margin },
          });
          const objective = (f1: tf.Tensor, f2: tf.Tensor, c1: tf.Tensor, c2: tf.Tensor) =>
            computeObjective(plugins, {
              auxLogits: f1 as tf.Tensor2D,
              targetLogits: f2 as tf.Tensor2D,
              scores1: c1 as tf.Tensor1D,
              scores2: c2 as tf.Tensor1D,
              labels,
              classDistributions,
            }, { epoch: cs.epoch }).total;
          assertClose(read(objective(fc1, fc2, s1, s2)), ref.total, tol, at("computeObjective total"));
          const raw = tf.grads(objective)([fc1, fc2, s1, s2]);
          assertClose(read(raw[0]), ref.gradFc1, tol, at("d total / d fc1"));
          assertClose(read(raw[1]), ref.gradFc2, tol, at("d total / d fc2"));
          assertClose(read(raw[2]), ref.gradS1, tol, at("d total / d s1"));
          assertClose(read(raw[3]), ref.gradS2, tol, at("d total / d s2"));
          // class distributions: initial and mined (the reference's fallback is the legacy one)
          assertClose(
            read(thresholdDistributions(cs.LD.length, cs.threshold)),
            ref.initialLD,
            1e-7,
            at("initial"),
          );
          const mined = mineClassDistributions(
            tf.softmax(tf.tensor2d(cs.mine.logits)),
            tf.tensor1d(cs.mine.targets, "int32"),
            { threshold: cs.mine.threshold, legacyFallback: true },
          );
          assertClose(read(mined), ref.minedLD, tol, at("mined class distributions"));
        });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
