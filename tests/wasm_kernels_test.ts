import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { tf } from "../engine/tf.ts";
import { initBackend } from "../engine/backend.ts";
import { Random } from "../engine/random.ts";
import {
  ADAM_UPDATE,
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
  batchNormTraining,
  hasFusedKernel,
  useFusedSimd,
} from "../engine/_fused.ts";
import { FUSED_WASM_BASE64 } from "../engine/_fused_wasm.ts";
import { compileWat, FUSED_WAT_URL } from "../engine/_fused_build.ts";
import { BN_EPSILON } from "../backbones/layers.ts";
import { Adam } from "../training/optim.ts";
import { assertSameSteps, recordSteps } from "./_steps.ts";

type Pad = "same" | "valid" | number | [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];

function gradients(
  x: Float32Array,
  xShape: number[],
  w: Float32Array,
  wShape: number[],
  stride: number,
  pad: Pad,
) {
  return tf.tidy(() => {
    const g = tf.grads((a: tf.Tensor, f: tf.Tensor) =>
      tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, stride, pad).square().sum()
    );
    const [dx, dw] = g([tf.tensor(x, xShape), tf.tensor(w, wShape)]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

Deno.test("wasm Conv2DBackpropFilter and Conv2DBackpropInput equal the cpu backend's gradients", async () => {
  await initBackend("wasm");
  const rng = new Random(7);
  const cases: { k: number; s: number; pad: Pad }[] = [];
  for (const k of [1, 3, 7]) {
    for (const s of [1, 2]) {
      const p = k >> 1;
      cases.push({ k, s, pad: "same" }, { k, s, pad: "valid" }, {
        k,
        s,
        pad: [[0, 0], [p, p], [p, p], [0, 0]],
      });
      if (k > 1) cases.push({ k, s, pad: [[0, 0], [0, 1], [1, 0], [0, 0]] });
    }
  }
  let checked = 0;
  for (const c of cases) {
    // Random shapes: odd and even sizes, several channel counts.
    const h = c.k + 2 + rng.int(7);
    const w = c.k + 2 + rng.int(7);
    const xShape = [1 + rng.int(3), h, w, 1 + rng.int(5)];
    const wShape = [c.k, c.k, xShape[3], 1 + rng.int(6)];
    const x = Float32Array.from({ length: xShape.reduce((a, b) => a * b) }, () => rng.normal());
    const f = Float32Array.from({ length: wShape.reduce((a, b) => a * b) }, () => rng.normal());
    await tf.setBackend("wasm");
    const before = tf.memory().numTensors;
    const onWasm = gradients(x, xShape, f, wShape, c.s, c.pad);
    assert.equal(tf.memory().numTensors, before, "the kernels leave no tensor behind");
    await initBackend("cpu");
    const onCpu = gradients(x, xShape, f, wShape, c.s, c.pad);
    const label = `k=${c.k} s=${c.s} pad=${JSON.stringify(c.pad)} x=${xShape} w=${wShape}`;
    assert.ok(relativeError(onWasm.dx, onCpu.dx) < 1e-4, `input gradient, ${label}`);
    assert.ok(relativeError(onWasm.dw, onCpu.dw) < 1e-4, `filter gradient, ${label}`);
    checked++;
  }
  assert.equal(checked, cases.length);
  await initBackend("cpu");
});

/** The largest absolute difference relative to the largest magnitude of the reference, per tensor. */
function assertClose(actual: tf.TensorLike, expected: tf.TensorLike, tolerance: number, label: string) {
  const a = Float32Array.from(actual as ArrayLike<number>);
  const b = Float32Array.from(expected as ArrayLike<number>);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  // All-zero references (the variance of a single row) must be matched exactly.
  const e = scale === 0 ? diff : diff / scale;
  assert.equal(a.length, b.length, label);
  assert.ok(e < tolerance, `${label}: relative error ${e}`);
}

/** Forward and gradients of training-mode BatchNorm, with a random probe as the upstream gradient. */
function batchNormRun(
  x: Float32Array,
  shape: number[],
  gamma: Float32Array,
  beta: Float32Array,
  probe: Float32Array,
) {
  return tf.tidy(() => {
    const c = shape[3];
    const xt = tf.tensor4d(x, shape as [number, number, number, number]);
    const gt = tf.tensor1d(gamma);
    const bt = tf.tensor1d(beta);
    const { y, mean, variance } = batchNormTraining(xt, gt, bt, BN_EPSILON);
    const out = {
      y: y.dataSync() as Float32Array,
      mean: mean.dataSync() as Float32Array,
      variance: variance.dataSync() as Float32Array,
    };
    tf.dispose([mean, variance]);
    const g = tf.grads((a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => {
      const r = batchNormTraining(a as tf.Tensor4D, s, o, BN_EPSILON);
      tf.dispose([r.mean, r.variance]);
      return tf.sum(tf.mul(r.y, tf.tensor4d(probe, shape as [number, number, number, number])));
    });
    const [dx, dGamma, dBeta] = g([xt, gt, bt]);
    assert.equal(dGamma.shape.join(), String(c));
    return {
      ...out,
      dx: dx.dataSync() as Float32Array,
      dGamma: dGamma.dataSync() as Float32Array,
      dBeta: dBeta.dataSync() as Float32Array,
    };
  });
}

Deno.test("fused training-mode BatchNorm and its gradients equal the composite ops on cpu", async () => {
  await initBackend("wasm");
  assert.ok(hasFusedKernel(BATCH_NORM_TRAINING) && hasFusedKernel(BATCH_NORM_TRAINING_GRAD));
  await initBackend("cpu");
  assert.ok(!hasFusedKernel(BATCH_NORM_TRAINING), "cpu keeps the composite ops");
  const rng = new Random(11);
  // Batch 1, odd sizes and channel counts, an offset and scale far from 0 and 1 (the statistics' cancellation).
  const shapes = [[1, 1, 1, 3], [1, 5, 7, 1], [1, 9, 3, 5], [2, 7, 5, 3], [3, 6, 6, 8], [4, 11, 13, 17], [
    16,
    4,
    4,
    64,
  ]];
  for (const [shape, simd] of shapes.flatMap((s) => [[s, true], [s, false]] as const)) {
    useFusedSimd(simd);
    const n = shape.reduce((a, b) => a * b);
    const c = shape[3];
    const offset = rng.normal() * 20;
    const spread = 0.1 + rng.uniform(0, 5);
    const x = Float32Array.from({ length: n }, () => offset + spread * rng.normal());
    const gamma = Float32Array.from({ length: c }, () => rng.uniform(0.2, 2) * (rng.next() < 0.3 ? -1 : 1));
    const beta = Float32Array.from({ length: c }, () => rng.normal());
    const probe = Float32Array.from({ length: n }, () => rng.normal());
    await tf.setBackend("wasm");
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => {
      batchNormRun(x, shape, gamma, beta, probe);
    });
    const names = new Set(profile.kernels.map((k) => k.name));
    assert.ok(names.has(BATCH_NORM_TRAINING) && names.has(BATCH_NORM_TRAINING_GRAD), [...names].join());
    assert.ok(!names.has("Mean"), "no composite moments on wasm");
    const onWasm = batchNormRun(x, shape, gamma, beta, probe);
    assert.equal(tf.memory().numTensors, before, "the kernels leave no tensor behind");
    await tf.setBackend("cpu");
    const onCpu = batchNormRun(x, shape, gamma, beta, probe);
    for (const key of ["y", "mean", "variance", "dx", "dGamma", "dBeta"] as const) {
      assertClose(onWasm[key], onCpu[key], 1e-5, `${key}, x=${shape}, simd ${simd}`);
    }
  }
  useFusedSimd(true);
});

Deno.test("the fused Adam update equals the composite ops on cpu over several steps", async () => {
  await initBackend("wasm");
  assert.ok(hasFusedKernel(ADAM_UPDATE));
  const rng = new Random(12);
  const shapes = [[1], [7], [3, 5], [3, 3, 5, 7], [257]];
  const run = async (backend: string, weightDecay: number) => {
    await tf.setBackend(backend);
    const params = new Map(shapes.map((s, i) => [`p${i}`, tf.variable(tf.tensor(values(s, 1), s))]));
    const grads = [0, 1, 2].map(() =>
      new Map(shapes.map((s, i) => [`p${i}`, values(s, 10 ** rng.uniform(-4, 1))] as const))
    );
    const adam = new Adam({ lr: 1e-2, weightDecay });
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    for (const step of grads) {
      const gradTensors = new Map(
        [...step].map(([k, g]) => [k, tf.tensor(g, params.get(k)!.shape)] as const),
      );
      adam.update(params, gradTensors);
      tf.dispose([...gradTensors.values()]);
      counts.push(tf.memory().numTensors);
    }
    const state = await adam.getState();
    const out = new Map([...params].map(([k, p]) => [k, p.dataSync() as Float32Array]));
    adam.dispose();
    tf.dispose([...params.values()]);
    return { out, state, counts, before };
  };
  // The same random values on both backends.
  let values = (shape: number[], scale: number) =>
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal());
  for (const [weightDecay, simd] of [[0, true], [1e-2, true], [0, false], [1e-2, false]] as const) {
    useFusedSimd(simd);
    const recorded: Float32Array<ArrayBuffer>[] = [];
    const draw = values;
    values = (shape, scale) => {
      const v = draw(shape, scale);
      recorded.push(v);
      return v;
    };
    const onWasm = await run("wasm", weightDecay);
    // Moments are created at the first step; after it the count stays the same.
    assert.equal(new Set(onWasm.counts.slice(1)).size, 1, `tensors per step stay constant: ${onWasm.counts}`);
    let next = 0;
    values = () => recorded[next++];
    const onCpu = await run("cpu", weightDecay);
    values = draw;
    // The same float32 operations in the same order: the same floats.
    for (const [k, p] of onCpu.out) {
      const label = `${k}, weight decay ${weightDecay}, simd ${simd}`;
      assert.deepEqual(onWasm.out.get(k)!, p, `parameter ${label}`);
      assert.deepEqual(onWasm.state.expAvg.get(k)!.data, onCpu.state.expAvg.get(k)!.data, `exp_avg ${label}`);
      assert.deepEqual(
        onWasm.state.expAvgSq.get(k)!.data,
        onCpu.state.expAvgSq.get(k)!.data,
        `exp_avg_sq ${label}`,
      );
    }
  }
  useFusedSimd(true);
  await initBackend("cpu");
});

Deno.test("a whole Ada-DF training step on wasm equals the same step on cpu, and leaks no tensor", async () => {
  await initBackend("wasm");
  const rng = new Random(15);
  const batch = 5;
  const imageShape = [batch, 36, 36, 3] as [number, number, number, number];
  const images = Float32Array.from({ length: imageShape.reduce((a, b) => a * b) }, () => rng.normal());
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 3) % 7);
  const steps = 3;
  const wasm = await recordSteps("wasm", { images, shape: imageShape, labels }, steps);
  for (const k of [BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, ADAM_UPDATE]) {
    assert.ok(wasm.kernels.has(k), `${k} ran on wasm`);
  }
  const cpu = await recordSteps("cpu", { images, shape: imageShape, labels }, steps);
  assert.ok(!cpu.kernels.has(ADAM_UPDATE));
  assertSameSteps(wasm, cpu);
  for (const [name, b] of cpu.buffers) {
    assertClose(wasm.buffers.get(name)!, b, 1e-4, `${name} after one step`);
  }
  // Parameters after the steps: each moves by at most lr per step, so they agree to about lr.
  for (const [name, p] of cpu.params) {
    const w = wasm.params.get(name)!;
    let diff = 0;
    for (let i = 0; i < p.length; i++) diff = Math.max(diff, Math.abs(w[i] - p[i]));
    assert.ok(diff < 2 * steps * 1e-3, `${name} after ${steps} steps differs by ${diff}`);
  }
  await initBackend("cpu");
});

Deno.test("the fused kernels' WebAssembly module is built from engine/_fused.wat", async () => {
  const bytes = await compileWat(await Deno.readTextFile(FUSED_WAT_URL), "engine/_fused.wat");
  assert.equal(
    FUSED_WASM_BASE64,
    Buffer.from(bytes).toString("base64"),
    "engine/_fused_wasm.ts is stale: run `deno run -A engine/_fused_build.ts`",
  );
  // A syntax error names the file and line.
  await assert.rejects(compileWat("(module\n  (func (bogus)))", "broken.wat"), /broken\.wat:2/);
});

Deno.test("wasm Identity shares its input's data, which lives until both tensors are disposed", async () => {
  await initBackend("wasm");
  const backend = tf.backend();
  const ids = backend.numDataIds();
  const t = tf.tensor1d([1, 2, 3]);
  const copy = tf.clone(t);
  assert.equal(backend.numDataIds(), ids + 1, "no second buffer");
  t.dispose();
  assert.deepEqual([...copy.dataSync()], [1, 2, 3]);
  copy.dispose();
  assert.equal(backend.numDataIds(), ids);
  // Strings keep the stock kernel.
  const s = tf.tensor1d(["a", "b"], "string");
  const sc = tf.clone(s);
  s.dispose();
  assert.deepEqual(sc.arraySync(), ["a", "b"]);
  sc.dispose();
  await initBackend("cpu");
});
