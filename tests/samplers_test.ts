import assert from "node:assert/strict";
import { applyLabelNoise } from "../datasets/label_noise.ts";
import { classBalancedSampler, sequentialSampler, shuffleSampler } from "../datasets/samplers.ts";

Deno.test("sequentialSampler() visits 0..n-1 in order", () => {
  const sampler = sequentialSampler(5);
  assert.equal(sampler.length, 5);
  assert.deepEqual([...sampler.order(3)], [0, 1, 2, 3, 4]);
});

Deno.test("shuffleSampler() gives a seeded permutation that changes per epoch", () => {
  const sampler = shuffleSampler(50, { seed: 9 });
  const a = sampler.order(0);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(a, shuffleSampler(50, { seed: 9 }).order(0));
  assert.notDeepEqual(a, sampler.order(1));
  assert.notDeepEqual(a, shuffleSampler(50, { seed: 10 }).order(0));
  assert.notDeepEqual([...a], Array.from({ length: 50 }, (_, i) => i));
});

Deno.test("shuffleSampler() puts each index at each position about equally often", () => {
  const sampler = shuffleSampler(4, { seed: 1 });
  const counts = Array.from({ length: 4 }, () => new Array(4).fill(0));
  for (let epoch = 0; epoch < 4000; epoch++) {
    sampler.order(epoch).forEach((index, pos) => counts[index][pos]++);
  }
  for (const row of counts) for (const c of row) assert.ok(Math.abs(c - 1000) < 120, `count ${c}`);
});

Deno.test("classBalancedSampler() takes the smallest class's count from every class, then shuffles", () => {
  const labels = Int32Array.from([0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 0, 1, 2]);
  // counts: class 0: 7, class 1: 3, class 2: 5 -> 3 each
  const sampler = classBalancedSampler(labels, { seed: 4 });
  assert.equal(sampler.length, 9);
  const seen = new Set<number>();
  for (let epoch = 0; epoch < 50; epoch++) {
    const order = sampler.order(epoch);
    assert.equal(order.length, 9);
    assert.equal(new Set(order).size, 9); // without replacement
    const perClass = [0, 0, 0];
    for (const i of order) {
      perClass[labels[i]]++;
      seen.add(i);
    }
    assert.deepEqual(perClass, [3, 3, 3]);
  }
  assert.equal(seen.size, labels.length); // every sample of the large classes shows up over epochs
  assert.deepEqual(sampler.order(2), classBalancedSampler(labels, { seed: 4 }).order(2));
  assert.notDeepEqual(sampler.order(2), sampler.order(3));
  // the class blocks are shuffled together, not left in class order
  const order = sampler.order(0);
  assert.notDeepEqual([...order].map((i) => labels[i]), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
});

Deno.test("applyLabelNoise() flips exactly round(fraction * N) labels to another class", () => {
  const labels = Int32Array.from({ length: 1000 }, (_, i) => i % 7);
  for (const fraction of [0, 0.1, 0.2, 0.3, 0.0125, 1]) {
    const noisy = applyLabelNoise(labels, { fraction, numClasses: 7, seed: 3 });
    const expected = Math.round(fraction * 1000);
    assert.equal(noisy.flipped.length, expected);
    let changed = 0;
    for (let i = 0; i < labels.length; i++) {
      if (noisy.labels[i] !== labels[i]) changed++;
      assert.equal(noisy.isFlipped[i] === 1, noisy.labels[i] !== labels[i]);
      assert.ok(noisy.labels[i] >= 0 && noisy.labels[i] < 7);
    }
    assert.equal(changed, expected);
    for (let k = 1; k < noisy.flipped.length; k++) assert.ok(noisy.flipped[k] > noisy.flipped[k - 1]);
  }
  assert.deepEqual([...labels.slice(0, 3)], [0, 1, 2]); // input untouched
});

Deno.test("applyLabelNoise() is seeded and draws the new class uniformly among the others", () => {
  const labels = new Int32Array(6000).fill(2);
  const a = applyLabelNoise(labels, { fraction: 0.5, numClasses: 4, seed: 1 });
  assert.deepEqual(a, applyLabelNoise(labels, { fraction: 0.5, numClasses: 4, seed: 1 }));
  assert.notDeepEqual(a.flipped, applyLabelNoise(labels, { fraction: 0.5, numClasses: 4, seed: 2 }).flipped);
  const counts = [0, 0, 0, 0];
  for (const i of a.flipped) counts[a.labels[i]]++;
  assert.equal(counts[2], 0);
  for (const c of [counts[0], counts[1], counts[3]]) assert.ok(Math.abs(c - 1000) < 100, `count ${c}`);
});

Deno.test("applyLabelNoise() rejects bad arguments", () => {
  assert.throws(() => applyLabelNoise([0, 1], { fraction: 1.5, numClasses: 7 }), /fraction/);
  assert.throws(() => applyLabelNoise([0, 1], { fraction: 0.5, numClasses: 1 }), /2 classes/);
  assert.throws(() => applyLabelNoise([0, 9], { fraction: 0.5, numClasses: 7 }), /label 9 at 1/);
});
