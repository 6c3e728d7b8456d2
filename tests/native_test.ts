import assert from "node:assert/strict";
import { tf } from "../engine/tf.ts";
import { initNative, nativeImplementations, probeNative } from "../engine/native/mod.ts";
import { openDnnl, unsupportedVersion } from "../engine/native/dnnl.ts";

const probe = probeNative();
const ignore = !probe.ok;
if (!probe.ok) console.log(`native tests skipped: ${probe.reason}`);

/** A small deterministic generator for test data. */
function generator(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n: number) => Math.floor(next() * n),
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
}

type Rng = ReturnType<typeof generator>;

function randomData(rng: Rng, shape: number[]): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

function t4(data: Float32Array, shape: number[]): tf.Tensor4D {
  return tf.tensor4d(data, shape as [number, number, number, number]);
}

function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Runs `f` on the native backend, then on cpu; checks that native leaves no tensor behind. */
async function onBoth(f: () => tf.Tensor[]): Promise<{ native: Float32Array[]; cpu: Float32Array[] }> {
  await tf.setBackend("native");
  const before = tf.memory().numTensors;
  const native = tf.tidy(f).map((t) => {
    const d = t.dataSync() as Float32Array;
    t.dispose();
    return d;
  });
  assert.equal(tf.memory().numTensors, before, "the native kernels leave no tensor behind");
  await tf.setBackend("cpu");
  const cpu = tf.tidy(f).map((t) => {
    const d = t.dataSync() as Float32Array;
    t.dispose();
    return d;
  });
  return { native, cpu };
}

function assertClose(native: Float32Array[], cpu: Float32Array[], label: string) {
  assert.equal(native.length, cpu.length);
  for (let i = 0; i < cpu.length; i++) {
    const e = relativeError(native[i], cpu[i]);
    assert.ok(e < 1e-4, `${label}: output ${i} differs by ${e} (relative)`);
  }
}

type Pad = "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];

Deno.test({
  name: "native Conv2D and both gradients equal the cpu backend on random shapes",
  ignore,
  async fn() {
    await initNative();
    const rng = generator(11);
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
    for (const c of cases) {
      const xShape = [1 + rng.int(3), c.k + 1 + rng.int(8), c.k + 1 + rng.int(8), 1 + rng.int(9)];
      const wShape = [c.k, c.k, xShape[3], 1 + rng.int(12)];
      const x = randomData(rng, xShape);
      const w = randomData(rng, wShape);
      const probeShape = tf.tidy(() => tf.conv2d(t4(x, xShape), t4(w, wShape), c.s, c.pad).shape);
      const probeData = randomData(rng, probeShape);
      const { native, cpu } = await onBoth(() => {
        const xt = t4(x, xShape);
        const wt = t4(w, wShape);
        const p = tf.tensor(probeData, probeShape);
        const y = tf.conv2d(xt, wt, c.s, c.pad);
        const [dx, dw] = tf.grads((a: tf.Tensor, f: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad), p))
        )([xt, wt]);
        return [y, dx, dw];
      });
      assertClose(native, cpu, `k=${c.k} s=${c.s} pad=${JSON.stringify(c.pad)} x=${xShape} w=${wShape}`);
    }
    const impls = [...nativeImplementations()].filter(([k]) => k.startsWith("Conv2D"));
    assert.ok(impls.length >= cases.length, "the convolutions ran in oneDNN");
    await tf.setBackend("cpu");
  },
});

Deno.test({
  name: "native dilated and fused convolutions equal the cpu backend",
  ignore,
  async fn() {
    await initNative();
    const rng = generator(12);
    for (const activation of ["linear", "relu", "relu6", "elu", "sigmoid", "leakyrelu"] as const) {
      const xShape = [2, 9, 7, 5];
      const wShape = [3, 3, 5, 6];
      const x = randomData(rng, xShape);
      const w = randomData(rng, wShape);
      const b = randomData(rng, [6]);
      const { native, cpu } = await onBoth(() => {
        const xt = t4(x, xShape);
        const wt = t4(w, wShape);
        return [
          tf.fused.conv2d({
            x: xt,
            filter: wt,
            strides: 2,
            pad: "same",
            bias: tf.tensor(b),
            activation,
            leakyreluAlpha: 0.1,
          }),
          tf.conv2d(xt, wt, 1, "valid", "NHWC", 2),
        ];
      });
      assertClose(native, cpu, `fused conv, ${activation}`);
    }
    await tf.setBackend("cpu");
  },
});

Deno.test({
  name: "native BatchMatMul and _FusedMatMul equal the cpu backend (transposes, batches, broadcast)",
  ignore,
  async fn() {
    await initNative();
    const rng = generator(13);
    const cases: { a: number[]; b: number[]; tA: boolean; tB: boolean }[] = [
      { a: [5, 7], b: [7, 3], tA: false, tB: false },
      { a: [7, 5], b: [7, 3], tA: true, tB: false },
      { a: [5, 7], b: [3, 7], tA: false, tB: true },
      { a: [7, 5], b: [3, 7], tA: true, tB: true },
      { a: [1, 1], b: [1, 9], tA: false, tB: false },
      { a: [4, 3, 6], b: [4, 6, 2], tA: false, tB: false },
      { a: [4, 6, 3], b: [1, 2, 6], tA: true, tB: true },
      { a: [1, 3, 6], b: [5, 6, 2], tA: false, tB: false },
      { a: [2, 3, 4, 5], b: [2, 3, 5, 4], tA: false, tB: false },
    ];
    for (const c of cases) {
      const a = randomData(rng, c.a);
      const b = randomData(rng, c.b);
      const n = c.tB ? c.b.at(-2)! : c.b.at(-1)!;
      const bias = randomData(rng, [n]);
      const { native, cpu } = await onBoth(() => {
        const at = tf.tensor(a, c.a);
        const bt = tf.tensor(b, c.b);
        const out = [tf.matMul(at, bt, c.tA, c.tB)];
        if (c.a.length === 2) {
          out.push(
            tf.fused.matMul({
              a: at as tf.Tensor2D,
              b: bt as tf.Tensor2D,
              transposeA: c.tA,
              transposeB: c.tB,
              bias: tf.tensor(bias),
              activation: "relu",
            }),
          );
        }
        return out;
      });
      assertClose(native, cpu, `matMul a=${c.a} b=${c.b} tA=${c.tA} tB=${c.tB}`);
    }
    await tf.setBackend("cpu");
  },
});

Deno.test({
  name: "native: thread count is set and reported; the backend reports what runs natively",
  ignore,
  async fn() {
    const one = await initNative({ threads: 1 });
    assert.equal(one.threads, 1);
    assert.match(one.reason, /oneDNN 2\.\d+\.\d+ .*1 thread\b/);
    const two = await initNative({ threads: 2 });
    assert.equal(two.threads, 2);
    assert.match(two.reason, /2 threads/);
    assert.equal(tf.getBackend(), "native");
    await assert.rejects(() => initNative({ threads: 0 }), /positive integer/);
    await tf.setBackend("cpu");
  },
});

Deno.test({
  name: "native elementwise kernels and reductions equal the cpu backend (broadcasts, axes, keepDims)",
  ignore,
  async fn() {
    await initNative();
    const rng = generator(14);
    const big = [3, 17, 19, 23];
    const shapes: [number[], number[]][] = [
      [big, big],
      [big, [23]],
      [big, [1, 1, 1, 23]],
      [big, [3, 1, 1, 23]],
      [big, [17, 1, 1]],
      [big, []],
      [[23], big],
      [[], big],
      [[7, 9], [7, 9]],
    ];
    for (const [sa, sb] of shapes) {
      const a = randomData(rng, sa);
      const b = Float32Array.from(randomData(rng, sb), (v) => v + Math.sign(v) * 0.5);
      const { native, cpu } = await onBoth(() => {
        const at = tf.tensor(a, sa);
        const bt = tf.tensor(b, sb);
        return [tf.add(at, bt), tf.sub(at, bt), tf.mul(at, bt), tf.div(at, bt)];
      });
      assertClose(native, cpu, `binary a=${sa} b=${sb}`);
    }
    const x = randomData(rng, big);
    for (const axis of [[0, 1, 2], [1, 2], [0], [3], [0, 2], [1, 3], [0, 1, 2, 3], 2]) {
      for (const keepDims of [false, true]) {
        const { native, cpu } = await onBoth(() => {
          const xt = tf.tensor(x, big);
          return [tf.sum(xt, axis, keepDims), tf.mean(xt, axis, keepDims)];
        });
        assertClose(native, cpu, `reduce axis=${axis} keepDims=${keepDims}`);
      }
    }
    const { native, cpu } = await onBoth(() => {
      const xt = tf.tensor(x, big);
      return [tf.relu(xt), tf.square(xt), tf.sqrt(tf.abs(xt))];
    });
    assertClose(native, cpu, "unary");
    const c = big[3];
    const [mean, variance, scale, offset] = [0, 1, 2, 3].map(() => randomData(rng, [c]));
    const bn = await onBoth(() => {
      const positive = tf.abs(tf.tensor(variance));
      return [
        tf.batchNorm(tf.tensor(x, big), tf.tensor(mean), positive, tf.tensor(offset), tf.tensor(scale), 1e-5),
      ];
    });
    assertClose(bn.native, bn.cpu, "FusedBatchNorm");
    // Identity and same-dtype Cast share data; a real cast converts.
    const copies = await onBoth(() => {
      const xt = tf.tensor(x, big);
      const ints = tf.tensor1d([1, -2, 3], "int32");
      return [
        tf.clone(xt),
        tf.cast(xt, "float32"),
        tf.cast(ints, "float32"),
        tf.cast(tf.cast(xt, "int32"), "float32"),
      ];
    });
    assertClose(copies.native, copies.cpu, "Identity and Cast");
    const ops = new Set([...nativeImplementations().keys()].map((k) => k.split(":")[0]));
    const names = [
      "Add",
      "Sub",
      "Multiply",
      "RealDiv",
      "Sum",
      "Mean",
      "Relu",
      "Square",
      "Sqrt",
      "FusedBatchNorm",
    ];
    for (const op of names) {
      assert.ok(ops.has(op), `${op} ran in oneDNN`);
    }
    await tf.setBackend("cpu");
  },
});

Deno.test({
  name: "a whole Ada-DF training step on native equals the same step on cpu, and leaks no tensor",
  ignore,
  async fn() {
    const { assertSameSteps, recordSteps } = await import("./_steps.ts");
    await initNative();
    const rng = generator(15);
    const batch = 6;
    const shape: [number, number, number, number] = [batch, 40, 40, 3];
    const images = randomData(rng, shape);
    const labels = Int32Array.from({ length: batch }, (_, i) => i % 7);
    const native = await recordSteps("native", { images, shape, labels }, 4);
    const cpu = await recordSteps("cpu", { images, shape, labels }, 4);
    // Every gradient of the first step and every step's loss agree (parameters are not compared after
    // Adam: its normalised update turns float rounding in near-zero gradients into differences of the
    // order of the learning rate).
    assertSameSteps(native, cpu);
    for (const [name, b] of cpu.buffers) {
      const e = relativeError(native.buffers.get(name)!, b);
      assert.ok(e < 1e-4, `${name} after one step differs by ${e} (relative)`);
    }
    const ran = new Set([...nativeImplementations().keys()].map((k) => k.split(":")[0]));
    for (const op of ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "BatchMatMul"]) {
      assert.ok(ran.has(op), `${op} ran in oneDNN`);
    }
    await tf.setBackend("cpu");
  },
});

Deno.test("oneDNN probing: a missing library or an unsupported version is a reason with the fix, not a crash", () => {
  const missing = openDnnl("libdnnl-not-installed.so.2");
  assert.equal(missing.ok, false);
  if (!missing.ok) assert.match(missing.reason, /apt-get install libdnnl2/);
  // A library without oneDNN's symbols.
  const other = openDnnl("libm.so.6");
  assert.equal(other.ok, false);
  if (!other.ok) assert.match(other.reason, /did not load.*apt-get install libdnnl2/);
  assert.equal(unsupportedVersion({ major: 2, minor: 6, patch: 3, runtime: "omp" }), null);
  assert.match(
    unsupportedVersion({ major: 3, minor: 1, patch: 0, runtime: "omp" })!,
    /3\.1\.0 is not supported/,
  );
  assert.match(unsupportedVersion({ major: 1, minor: 8, patch: 0, runtime: "omp" })!, /libdnnl2/);
  assert.match(unsupportedVersion({ major: 2, minor: 1, patch: 0, runtime: "omp" })!, /not supported/);
});

Deno.test({
  name: "native and wasm backends can alternate in one process (each keeps its own heap)",
  ignore,
  async fn() {
    const { initBackend } = await import("../engine/backend.ts");
    const rng = generator(16);
    const x = randomData(rng, [2, 33, 31, 8]);
    const w = randomData(rng, [3, 3, 8, 16]);
    const compute = () =>
      tf.tidy(() => {
        const y = tf.conv2d(t4(x, [2, 33, 31, 8]), t4(w, [3, 3, 8, 16]), 1, "same");
        return tf.sum(tf.mul(tf.add(y, 1), y), [0, 1, 2]).dataSync() as Float32Array;
      });
    await initNative();
    const first = compute();
    await initBackend("wasm");
    const onWasm = compute();
    await tf.setBackend("native");
    const again = compute();
    // A tensor made on one backend and used on the other moves between the heaps.
    await tf.setBackend("wasm");
    const made = t4(x, [2, 33, 31, 8]);
    await tf.setBackend("native");
    const moved = tf.tidy(() => tf.sum(tf.mul(made, made)).dataSync()[0]);
    made.dispose();
    assert.ok(relativeError(onWasm, first) < 1e-4);
    assert.deepEqual(again, first);
    assert.ok(Math.abs(moved - x.reduce((s, v) => s + v * v, 0)) / moved < 1e-4);
    await tf.setBackend("cpu");
  },
});

Deno.test({
  name: "initBackend('native') and 'auto' choose the native backend when oneDNN is installed, with threads",
  ignore,
  async fn() {
    const { initBackend } = await import("../engine/backend.ts");
    const native = await initBackend("native", { threads: 1 });
    assert.equal(native.name, "native");
    assert.equal(native.threads, 1);
    assert.equal(tf.getBackend(), "native");
    const auto = await initBackend("auto", { threads: 2 });
    if (auto.name === "native") {
      assert.match(auto.reason, /^auto: .*oneDNN 2\.\d+\.\d+ .* is installed .*2 threads/);
      assert.equal(auto.threads, 2);
    } else {
      // A GPU or an installed libtensorflow comes first.
      assert.ok(["webgpu", "tensorflow"].includes(auto.name), auto.reason);
    }
    await tf.setBackend("cpu");
  },
});

Deno.test({
  name: "native runs the fused BatchNorm and Adam kernels of the wasm heap, equal to the cpu backend",
  ignore,
  async fn() {
    const { batchNormTraining, adamUpdate, BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, ADAM_UPDATE } =
      await import("../engine/_fused.ts");
    const rng = generator(17);
    const shape = [3, 9, 7, 16];
    const x = randomData(rng, shape);
    const gamma = randomData(rng, [16]);
    const beta = randomData(rng, [16]);
    const probe = randomData(rng, shape);
    const p0 = randomData(rng, [4, 5, 3]);
    const g0 = randomData(rng, [4, 5, 3]);
    const run = () =>
      tf.tidy(() => {
        const f = tf.grads((a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => {
          const r = batchNormTraining(a as tf.Tensor4D, s, o, 1e-5);
          tf.dispose([r.mean, r.variance]);
          return tf.sum(tf.mul(r.y, t4(probe, shape)));
        });
        const grads = f([t4(x, shape), tf.tensor1d(gamma), tf.tensor1d(beta)]);
        const p = tf.variable(tf.tensor3d(p0, [4, 5, 3]));
        const m = tf.variable(tf.zeros([4, 5, 3]), false);
        const v = tf.variable(tf.zeros([4, 5, 3]), false);
        const k = {
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          stepSize: 0.01,
          sqrtC2: Math.sqrt(0.001),
          weightDecay: 0,
        };
        adamUpdate(p, tf.tensor3d(g0, [4, 5, 3]), m, v, k);
        const out = [...grads.map((g) => g.dataSync() as Float32Array), p.dataSync() as Float32Array];
        tf.dispose([p, m, v]);
        return out;
      });
    await initNative();
    const profile = await tf.profile(() => {
      run();
    });
    const names = new Set(profile.kernels.map((k) => k.name));
    for (const k of [BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, ADAM_UPDATE]) assert.ok(names.has(k), k);
    const onNative = run();
    await tf.setBackend("cpu");
    const onCpu = run();
    for (let i = 0; i < onCpu.length; i++) {
      assert.ok(relativeError(onNative[i], onCpu[i]) < 1e-5, `output ${i}`);
    }
  },
});
