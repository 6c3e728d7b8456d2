import assert from "node:assert/strict";
import { labelNoiseReport, rocAuc } from "../training/metrics.ts";
import { Random } from "../engine/random.ts";

/** The definition: the fraction of (positive, negative) pairs ordered correctly, ties one half. */
function pairwiseAuc(pos: number[], neg: number[]): number {
  let score = 0;
  for (const p of pos) for (const n of neg) score += p > n ? 1 : p === n ? 0.5 : 0;
  return score / (pos.length * neg.length);
}

Deno.test("rocAuc() equals the pairwise definition, ties included", () => {
  const rng = new Random(7);
  const random = () => rng.next();
  for (let trial = 0; trial < 50; trial++) {
    // Coarse values so that ties are frequent.
    const draw = (n: number, shift: number) =>
      Array.from({ length: n }, () => Math.round((random() + shift) * 5) / 5);
    const pos = draw(1 + Math.floor(random() * 20), 0.3);
    const neg = draw(1 + Math.floor(random() * 20), 0);
    assert.ok(Math.abs(rocAuc(pos, neg) - pairwiseAuc(pos, neg)) < 1e-12, `trial ${trial}`);
  }
  assert.equal(rocAuc([1, 2], [0, 0.5]), 1);
  assert.equal(rocAuc([0, 0.5], [1, 2]), 0);
  assert.ok(Number.isNaN(rocAuc([], [1])));
  assert.ok(Number.isNaN(rocAuc([1], [])));
});

Deno.test("labelNoiseReport(): hand-checked case", () => {
  // Four samples, C = 3; samples 1 and 3 were flipped (true 1 -> given 0, true 2 -> given 1).
  const r = labelNoiseReport({
    numClasses: 3,
    trueLabels: [0, 1, 2, 2],
    trainingLabels: [0, 0, 2, 1],
    attention: [0.9, 0.3, 0.2, 0.4],
    predictions: [
      ...[0.8, 0.1, 0.1], // clean, correct
      ...[0.2, 0.7, 0.1], // flipped, recovered
      ...[0.6, 0.3, 0.1], // clean, wrong
      ...[0.1, 0.6, 0.3], // flipped, memorised
    ],
    labelDistributions: [
      ...[1, 0, 0],
      ...[0.25, 0.5, 0.25],
      ...[0, 0, 1],
      ...[0, 0.5, 0.5],
    ],
    fusedDistributions: [
      ...[1, 0, 0],
      ...[0.5, 0.5, 0],
      ...[0, 0, 1],
      ...[0, 0.75, 0.25],
    ],
  });
  assert.equal(r.clean, 2);
  assert.equal(r.flipped, 2);
  assert.ok(Math.abs(r.attentionClean - 0.55) < 1e-12);
  assert.ok(Math.abs(r.attentionFlipped - 0.35) < 1e-12);
  // Clean weights 0.9, 0.2 against flipped 0.3, 0.4: 0.9 wins twice, 0.2 loses twice.
  assert.equal(r.attentionAuc, 0.5);
  assert.equal(r.cleanAccuracy, 0.5);
  assert.equal(r.flippedRecovered, 0.5);
  assert.equal(r.flippedMemorised, 0.5);
  assert.equal(r.labelTrueMass, (0.5 + 0.5) / 2);
  assert.equal(r.labelNoisyMass, (0.25 + 0.5) / 2);
  assert.equal(r.fusedTrueMass, (0.5 + 0.25) / 2);
  assert.equal(r.fusedNoisyMass, (0.5 + 0.75) / 2);
});

Deno.test("labelNoiseReport(): no flipped labels gives NaN noise figures; wrong lengths are named", () => {
  const r = labelNoiseReport({
    numClasses: 2,
    trueLabels: [0, 1],
    trainingLabels: [0, 1],
    attention: [0.5, 0.6],
    predictions: [0.9, 0.1, 0.2, 0.8],
    labelDistributions: [0.9, 0.1, 0.2, 0.8],
    fusedDistributions: [0.9, 0.1, 0.2, 0.8],
  });
  assert.equal(r.flipped, 0);
  assert.equal(r.cleanAccuracy, 1);
  assert.ok(
    Number.isNaN(r.attentionAuc) && Number.isNaN(r.flippedRecovered) && Number.isNaN(r.fusedTrueMass),
  );
  assert.throws(
    () =>
      labelNoiseReport({
        numClasses: 2,
        trueLabels: [0, 1],
        trainingLabels: [0, 1],
        attention: [0.5, 0.6],
        predictions: [0.9, 0.1, 0.2],
        labelDistributions: [0.9, 0.1, 0.2, 0.8],
        fusedDistributions: [0.9, 0.1, 0.2, 0.8],
      }),
    /predictions has 3 values, expected 4/,
  );
});
