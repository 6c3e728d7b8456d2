import assert from "node:assert/strict";
import { tf } from "../engine/tf.ts";
import { initBackend } from "../engine/backend.ts";
import { Random } from "../engine/random.ts";

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
