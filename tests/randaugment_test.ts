import assert from "node:assert/strict";
import { Random } from "../engine/random.ts";
import {
  type AppliedOp,
  applyOp,
  parseRandAugment,
  RAND_INCREASING_TRANSFORMS,
  RAND_TRANSFORMS,
  RandAugment,
  type RandAugmentConfig,
} from "../datasets/randaugment.ts";
import { invert, posterize, type RgbImage, rgbImage, rotate } from "../datasets/transforms.ts";

function noise(w: number, h: number, seed: number): RgbImage {
  const random = new Random(seed);
  return rgbImage(Uint8Array.from({ length: w * h * 3 }, () => random.int(256)), w, h);
}

Deno.test("parseRandAugment() reads the paper's strings", () => {
  const raf = parseRandAugment("rand-m5-n3-mstd0.5", { translateConst: 117, imgMean: [124, 116, 104] });
  assert.equal(raf.magnitude, 5);
  assert.equal(raf.numOps, 3);
  assert.equal(raf.magnitudeStd, 0.5);
  assert.equal(raf.magnitudeMax, 10);
  assert.equal(raf.prob, 0.5);
  assert.deepEqual(raf.ops, RAND_TRANSFORMS);
  assert.equal(raf.ops.length, 15);
  assert.equal(raf.hparams.translateConst, 117);
  assert.deepEqual(raf.hparams.imgMean, [124, 116, 104]);
  assert.equal(raf.hparams.translatePct, 0.45);
  assert.equal(raf.hparams.interpolation, "random");
  const sfew = parseRandAugment("rand-m3-n5-mstd0.5");
  assert.equal(sfew.magnitude, 3);
  assert.equal(sfew.numOps, 5);
  assert.deepEqual(sfew.hparams.imgMean, [128, 128, 128]);
  assert.equal(sfew.hparams.translateConst, 250);
});

Deno.test("parseRandAugment() reads inc, mmax, mstd above 100, w0 and defaults", () => {
  const defaults = parseRandAugment("rand");
  assert.equal(defaults.magnitude, 10);
  assert.equal(defaults.numOps, 2);
  assert.equal(defaults.magnitudeStd, 0);
  const inc = parseRandAugment("rand-m9-mstd0.5-inc1-mmax15");
  assert.deepEqual(inc.ops, RAND_INCREASING_TRANSFORMS);
  assert.equal(inc.magnitudeMax, 15);
  assert.deepEqual(parseRandAugment("rand-inc0").ops, RAND_TRANSFORMS);
  assert.equal(parseRandAugment("rand-mstd101").magnitudeStd, Infinity);
  const weighted = parseRandAugment("rand-m9-n2-w0");
  assert.ok(weighted.weights);
  assert.ok(Math.abs(weighted.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.equal(weighted.weights[RAND_TRANSFORMS.indexOf("Rotate")], 0.3);
  assert.equal(weighted.weights[RAND_TRANSFORMS.indexOf("Invert")], 0);
});

Deno.test("parseRandAugment() rejects malformed strings", () => {
  assert.throws(() => parseRandAugment("augmix-m5"), /start with "rand"/);
  assert.throws(() => parseRandAugment("rand-x5"), /unknown RandAugment section "x5"/);
  assert.throws(() => parseRandAugment("rand-m5.5"), /integer/);
  assert.throws(() => parseRandAugment("rand-w1"), /w0/);
  assert.throws(() => parseRandAugment("rand--m5"), /bad RandAugment section/);
});

Deno.test("RandAugment.apply() is deterministic for a seed and varies across seeds", () => {
  const augment = new RandAugment("rand-m5-n3-mstd0.5", { translateConst: 117, imgMean: [124, 116, 104] });
  const image = noise(16, 12, 1);
  const a = augment.apply(image, new Random(42));
  const b = augment.apply(image, new Random(42));
  assert.deepEqual(a.data, b.data);
  let differing = 0;
  for (let seed = 0; seed < 10; seed++) {
    if (augment.apply(image, new Random(seed)).data.some((v, i) => v !== a.data[i])) differing++;
  }
  assert.ok(differing >= 8, `${differing} of 10 seeds differ`);
  assert.equal(a.width, 16);
  assert.equal(a.height, 12);
  assert.notEqual(augment.apply(image, new Random(3)).data, image.data); // never the input buffer
});

Deno.test("RandAugment draws ops uniformly with replacement, applies each with p 0.5, noisy magnitudes", () => {
  const augment = new RandAugment("rand-m5-n3-mstd0.5");
  const image = noise(6, 6, 2);
  const counts = new Map<string, number>();
  let applied = 0;
  let total = 0;
  const magnitudes: number[] = [];
  let negativeRotations = 0;
  let rotations = 0;
  const interpolations = new Set<string>();
  const random = new Random(7);
  for (let i = 0; i < 3000; i++) {
    const log: AppliedOp[] = [];
    augment.apply(image, random, { log });
    assert.equal(log.length, 3);
    for (const op of log) {
      total++;
      counts.set(op.name, (counts.get(op.name) ?? 0) + 1);
      if (!op.applied) continue;
      applied++;
      magnitudes.push(op.magnitude!);
      if (op.name === "Rotate") {
        rotations++;
        if (op.arg! < 0) negativeRotations++;
        assert.ok(Math.abs(Math.abs(op.arg!) - op.magnitude! * 3) < 1e-9);
        interpolations.add(op.interpolation!);
      }
    }
  }
  assert.equal(counts.size, 15);
  for (const [name, count] of counts) {
    assert.ok(Math.abs(count / total - 1 / 15) < 0.015, `${name}: ${count}`);
  }
  assert.ok(Math.abs(applied / total - 0.5) < 0.02, `applied ${applied / total}`);
  const mean = magnitudes.reduce((a, b) => a + b, 0) / magnitudes.length;
  const std = Math.sqrt(magnitudes.reduce((a, b) => a + (b - mean) ** 2, 0) / magnitudes.length);
  assert.ok(Math.abs(mean - 5) < 0.05, `mean magnitude ${mean}`);
  assert.ok(Math.abs(std - 0.5) < 0.05, `magnitude std ${std}`);
  assert.ok(Math.abs(negativeRotations / rotations - 0.5) < 0.1);
  assert.deepEqual([...interpolations].sort(), ["bicubic", "bilinear"]);
});

function only(
  name: (typeof RAND_TRANSFORMS)[number],
  magnitude: number,
  extra: Partial<RandAugmentConfig> = {},
) {
  const base = parseRandAugment(`rand-m${magnitude}-n1`, { imgMean: [1, 2, 3], interpolation: "nearest" });
  return new RandAugment({ ...base, ops: [name], prob: 1, ...extra });
}

Deno.test("RandAugment maps magnitudes to timm's operation arguments", () => {
  const image = noise(8, 8, 3);
  const argOf = (name: (typeof RAND_TRANSFORMS)[number], m: number, seed = 1) => {
    const log: AppliedOp[] = [];
    only(name, m).apply(image, new Random(seed), { log });
    return log[0].arg!;
  };
  assert.equal(Math.abs(argOf("Rotate", 10)), 30);
  assert.equal(Math.abs(argOf("ShearX", 10)), 0.3);
  assert.equal(Math.abs(argOf("TranslateYRel", 10)), 0.45);
  assert.equal(argOf("Posterize", 5), 2);
  assert.equal(argOf("Posterize", 10), 4);
  assert.equal(argOf("Solarize", 5), 128);
  assert.equal(argOf("SolarizeAdd", 5), 55);
  assert.equal(argOf("Color", 5), 1);
  assert.ok(Math.abs(argOf("Contrast", 10) - 1.9) < 1e-12);
  const signs = new Set(Array.from({ length: 20 }, (_, s) => Math.sign(argOf("ShearY", 10, s))));
  assert.deepEqual([...signs].sort(), [-1, 1]);
  const inc = parseRandAugment("rand-m10-n1-inc1");
  const log: AppliedOp[] = [];
  new RandAugment({ ...inc, ops: ["PosterizeIncreasing"], prob: 1 }).apply(image, new Random(1), { log });
  assert.equal(log[0].arg, 0);
  const clipped: AppliedOp[] = [];
  new RandAugment({ ...parseRandAugment("rand-m30-n1"), ops: ["Rotate"], prob: 1 }).apply(
    image,
    new Random(1),
    { log: clipped },
  );
  assert.equal(clipped[0].magnitude, 10); // clipped to mmax 10
});

Deno.test("RandAugment operations produce the transforms' pixels, with img_mean as fill", () => {
  const image = noise(8, 8, 4);
  assert.deepEqual(only("Invert", 5).apply(image, new Random(1)).data, invert(image).data);
  assert.deepEqual(only("Posterize", 5).apply(image, new Random(1)).data, posterize(image, 2).data);
  const log: AppliedOp[] = [];
  const rotated = only("Rotate", 10).apply(image, new Random(2), { log });
  assert.deepEqual(
    rotated.data,
    rotate(image, log[0].arg!, { fill: [1, 2, 3], interpolation: "nearest" }).data,
  );
  const moved = only("TranslateXRel", 10).apply(image, new Random(1));
  let filled = 0;
  for (let i = 0; i < moved.data.length; i += 3) {
    if (moved.data[i] === 1 && moved.data[i + 1] === 2 && moved.data[i + 2] === 3) filled++;
  }
  assert.ok(filled >= 3 * 8, `${filled} filled pixels`); // 0.45 * 8 = 3.6 columns
  assert.deepEqual(applyOp(image, { name: "Equalize", arg: 0 }).width, 8);
});

Deno.test("RandAugment with w0 draws distinct ops with non-zero weight", () => {
  const augment = new RandAugment("rand-m9-n3-w0");
  const image = noise(4, 4, 5);
  const random = new Random(11);
  for (let i = 0; i < 200; i++) {
    const log: AppliedOp[] = [];
    augment.apply(image, random, { log });
    const names = log.map((op) => op.name);
    assert.equal(new Set(names).size, 3);
    assert.ok(!names.includes("Invert") && !names.includes("Posterize"));
  }
});
