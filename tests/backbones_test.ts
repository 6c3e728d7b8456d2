import assert from "node:assert/strict";
import { tf } from "../engine/tf.ts";
import { initBackend } from "../engine/backend.ts";
import { countParameters, createResNet, resnetForward } from "../backbones/resnet.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { batchNorm, BN_EPSILON, type ParameterStore } from "../backbones/layers.ts";
import { disposeOutputs, trainStep } from "../training/step.ts";
import { Adam } from "../training/optim.ts";

/** torchvision's state_dict names and (PyTorch-layout) shapes, from tests/fixtures/make_torchvision_keys.py. */
async function torchvisionKeys(name: string): Promise<Map<string, number[]>> {
  const text = await Deno.readTextFile(new URL(`./fixtures/torchvision_${name}_keys.txt`, import.meta.url));
  const keys = new Map<string, number[]>();
  for (const line of text.trim().split("\n")) {
    const [key, shape] = line.split(" ");
    keys.set(key, shape ? shape.split("x").map(Number) : []);
  }
  return keys;
}

/** A tfjs-layout shape in PyTorch's layout: conv [kh, kw, in, out] -> [out, in, kh, kw], linear transposed. */
function torchShape(shape: number[]): number[] {
  if (shape.length === 4) return [shape[3], shape[2], shape[0], shape[1]];
  if (shape.length === 2) return [shape[1], shape[0]];
  return shape;
}

Deno.test("AdaDfModel has exactly the paper's parameter counts", () => {
  // Counted on models built without the random draws (the same parameters; see the next test).
  const m18 = new AdaDfModel("resnet18", { numClasses: 7, initialize: false });
  assert.equal(countParameters(m18), 22_203_728);
  // The frozen stem (157,504 parameters) is not trained.
  assert.equal(m18.trainableVariables().reduce((n, v) => n + v.size, 0), 22_203_728 - 157_504);
  m18.dispose();
  const m50 = new AdaDfModel("resnet50", { numClasses: 7, initialize: false });
  assert.equal(countParameters(m50), 46_823_504);
  m50.dispose();
});

Deno.test("initialize: false builds the same parameters with zeros where the initialisation draws", () => {
  const variants = [
    ["tiny", { seed: 5 }],
    ["tiny", { seed: 5, branches: 1, freezeStem: false }],
    ["face-resnet29", { seed: 5 }],
  ] as const;
  for (const [backbone, options] of variants) {
    const drawn = new AdaDfModel(backbone, { numClasses: 3, ...options });
    const zeros = new AdaDfModel(backbone, { numClasses: 3, ...options, initialize: false });
    for (const kind of ["params", "buffers"] as const) {
      assert.deepEqual([...zeros[kind].keys()], [...drawn[kind].keys()], `${backbone} ${kind}`);
      for (const [name, v] of drawn[kind]) {
        const z = zeros[kind].get(name)!;
        const where = `${backbone} ${JSON.stringify(options)} ${name}`;
        assert.deepEqual(z.shape, v.shape, where);
        assert.equal(z.trainable, v.trainable, where);
        const values = v.dataSync();
        // Drawn: conv kernels and linear heads; the face network's own weights are copied from its package.
        const module = name.slice(0, name.lastIndexOf("."));
        const random = kind === "params" && !/(^|\.)(bn\d*|downsample\.1)$/.test(module) &&
          (backbone !== "face-resnet29" || /\.(fc|attention)$/.test(module));
        if (random) {
          assert.ok(values.some((x) => x !== 0), `${where}: drawn`);
          assert.ok(z.dataSync().every((x) => x === 0), `${where}: zeros`);
        } else {
          assert.deepEqual(z.dataSync(), values, `${where}: not drawn, so the same`);
        }
      }
    }
    drawn.dispose();
    zeros.dispose();
  }
  const net = createResNet("tiny", { numClasses: 4, initialize: false });
  assert.ok(net.params.get("layer1.0.conv1.weight")!.dataSync().every((x) => x === 0));
  assert.deepEqual(
    net.params.get("bn1.weight")!.dataSync(),
    new Float32Array(net.params.get("bn1.weight")!.size).fill(1),
  );
  tf.dispose([...net.params.values(), ...net.buffers.values()]);
});

/** torchvision's parameter counts with the ImageNet head (1000 classes). */
const TORCHVISION_PARAMETERS = { resnet18: 11_689_512, resnet50: 25_557_032 } as const;

for (const name of ["resnet18", "resnet50"] as const) {
  Deno.test(`createResNet("${name}") has torchvision's parameter count, state_dict names and shapes`, async () => {
    const expected = await torchvisionKeys(name);
    const net = createResNet(name, { numClasses: 1000, initialize: false });
    assert.equal(countParameters(net), TORCHVISION_PARAMETERS[name]);
    const ours = new Map<string, number[]>();
    for (const [k, v] of [...net.params, ...net.buffers]) ours.set(k, torchShape(v.shape));
    const wanted = [...expected.keys()].filter((k) => !k.endsWith("num_batches_tracked"));
    assert.deepEqual([...ours.keys()].sort(), wanted.sort());
    for (const [k, shape] of ours) assert.deepEqual(shape, expected.get(k), k);
    tf.dispose([...net.params.values(), ...net.buffers.values()]);
  });
}

Deno.test("AdaDfModel names: torchvision stem, prefixed branches, identical initial branches", () => {
  const model = new AdaDfModel("tiny", { numClasses: 7, seed: 3 });
  const names = [...model.params.keys()];
  assert.ok(names.includes("conv1.weight") && names.includes("layer1.0.conv1.weight"));
  assert.ok(names.includes("aux.layer2.0.downsample.0.weight") && names.includes("target.layer4.0.bn2.bias"));
  for (const n of ["aux.fc.weight", "target.fc.bias", "aux.attention.weight", "target.attention.bias"]) {
    assert.ok(names.includes(n), n);
  }
  assert.ok(!names.some((n) => n.startsWith("aux.layer1") || n.startsWith("layer2")));
  const a = model.params.get("aux.layer3.0.conv1.weight")!.dataSync();
  const t = model.params.get("target.layer3.0.conv1.weight")!.dataSync();
  assert.deepEqual(a, t);
  // Frozen stem: not trainable.
  assert.equal(model.params.get("conv1.weight")!.trainable, false);
  assert.equal(model.params.get("aux.layer2.0.conv1.weight")!.trainable, true);
  model.dispose();
});

for (const backbone of ["tiny", "face-resnet29"] as const) {
  Deno.test(`AdaDfModel("${backbone}"): the target branch starts as a copy of the auxiliary one, classifier included`, () => {
    const model = new AdaDfModel(backbone, { numClasses: 7, seed: 5 });
    try {
      let compared = 0;
      for (const [name, v] of [...model.params, ...model.buffers]) {
        if (!name.startsWith("aux.") || name.startsWith("aux.attention.")) continue;
        assert.deepEqual(
          v.dataSync(),
          model.params.get(`target.${name.slice(4)}`)?.dataSync() ??
            model.buffers.get(`target.${name.slice(4)}`)!.dataSync(),
          name,
        );
        compared++;
      }
      assert.ok(compared > 10);
      const fc = model.params.get("target.fc.weight")!.dataSync();
      assert.deepEqual(fc, model.params.get("aux.fc.weight")!.dataSync());
      assert.ok(fc.some((x) => x !== 0), "the classifier is initialised, not zero");
      // The attention heads are independent (the reference's alpha_1 and alpha_2).
      assert.notDeepEqual(
        model.params.get("aux.attention.weight")!.dataSync(),
        model.params.get("target.attention.weight")!.dataSync(),
      );
    } finally {
      model.dispose();
    }
  });
}

Deno.test("AdaDfModel with branches 1: one backbone and one classifier, a ResNet's parameters exactly", () => {
  const model = new AdaDfModel("tiny", { numClasses: 7, seed: 3, branches: 1 });
  const resnet = createResNet("tiny", { numClasses: 7 });
  try {
    assert.deepEqual(model.branchNames, ["target"]);
    const names = [...model.params.keys(), ...model.buffers.keys()];
    assert.ok(!names.some((n) => n.startsWith("aux.") || n.includes("attention")), names.join());
    // The stem keeps its names, the branch and its classifier are prefixed with target.
    const unprefixed = names.map((n) => n.replace(/^target\./, "")).sort();
    assert.deepEqual(unprefixed, [...resnet.params.keys(), ...resnet.buffers.keys()].sort());
    assert.equal(countParameters(model), countParameters(resnet));
    const out = model.forward(tf.zeros([2, 32, 32, 3]), { training: false });
    assert.deepEqual(out.targetLogits.shape, [2, 7]);
    assert.equal(out.auxLogits, out.targetLogits);
    assert.throws(() => model.branch("aux", tf.zeros([1, 8, 8, 8]), { training: false }), /no 'aux' branch/);
    assert.throws(() => new AdaDfModel("tiny", { branches: 3 as 1 }), /branches must be 1 or 2, got 3/);
    tf.dispose(Object.values(out));
  } finally {
    model.dispose();
    tf.dispose([...resnet.params.values(), ...resnet.buffers.values()]);
  }
});

Deno.test("batchNorm() follows PyTorch: batch statistics, momentum 0.1, unbiased running variance", () => {
  const store: ParameterStore = { params: new Map(), buffers: new Map() };
  store.params.set("bn.weight", tf.variable(tf.tensor1d([2, 1])));
  store.params.set("bn.bias", tf.variable(tf.tensor1d([0.5, 0])));
  store.buffers.set("bn.running_mean", tf.variable(tf.tensor1d([0, 0]), false));
  store.buffers.set("bn.running_var", tf.variable(tf.tensor1d([1, 1]), false));
  // Channel 0 holds 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1 holds 0s.
  const x = tf.tensor4d([1, 0, 2, 0, 3, 0, 4, 0], [2, 1, 2, 2]);
  const y = batchNorm(store, "bn", x, { training: true }).dataSync();
  const s = 1 / Math.sqrt(1.25 + BN_EPSILON);
  const expected = [2 * -1.5 * s + 0.5, 0, 2 * -0.5 * s + 0.5, 0, 2 * 0.5 * s + 0.5, 0, 2 * 1.5 * s + 0.5, 0];
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(y[i] - expected[i]) < 1e-5, `y[${i}]`);
  const rm = store.buffers.get("bn.running_mean")!.dataSync();
  const rv = store.buffers.get("bn.running_var")!.dataSync();
  assert.ok(Math.abs(rm[0] - 0.25) < 1e-6 && Math.abs(rm[1]) < 1e-6);
  assert.ok(Math.abs(rv[0] - (0.9 + 0.1 * 5 / 3)) < 1e-6 && Math.abs(rv[1] - 0.9) < 1e-6);
  // Evaluation uses the running statistics and leaves them alone.
  const e = batchNorm(store, "bn", x, { training: false }).dataSync();
  assert.ok(Math.abs(e[0] - (2 * (1 - 0.25) / Math.sqrt(rv[0] + BN_EPSILON) + 0.5)) < 1e-5);
  assert.ok(Math.abs(store.buffers.get("bn.running_mean")!.dataSync()[0] - 0.25) < 1e-6);
});

Deno.test("batchNorm()'s gradient equals differentiating the formula", () => {
  const store: ParameterStore = { params: new Map(), buffers: new Map() };
  store.params.set("bn.weight", tf.variable(tf.tensor1d([1.5, -0.5, 2])));
  store.params.set("bn.bias", tf.variable(tf.tensor1d([0.1, 0.2, 0.3])));
  store.buffers.set("bn.running_mean", tf.variable(tf.zeros([3]), false));
  store.buffers.set("bn.running_var", tf.variable(tf.ones([3]), false));
  const x = tf.randomNormal([2, 3, 3, 3], 0, 1, "float32", 5);
  const probe = tf.randomNormal([2, 3, 3, 3], 0, 1, "float32", 6);
  const gamma = store.params.get("bn.weight")!;
  const beta = store.params.get("bn.bias")!;
  const ours = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    store.params.set("bn.weight", g as tf.Variable);
    store.params.set("bn.bias", b as tf.Variable);
    return tf.sum(tf.mul(batchNorm(store, "bn", a as tf.Tensor4D, { training: true }), probe));
  })([x, gamma, beta]);
  const reference = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(a, [0, 1, 2]);
    const y = tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, BN_EPSILON))), g), b);
    return tf.sum(tf.mul(y, probe));
  })([x, gamma, beta]);
  for (let i = 0; i < 3; i++) {
    const d = tf.max(tf.abs(tf.sub(ours[i], reference[i]))).dataSync()[0];
    assert.ok(d < 1e-4, `gradient ${i} differs by ${d}`);
  }
});

Deno.test("resnetForward() on the tiny backbone: shapes, eval mode deterministic", () => {
  const net = createResNet("tiny", { numClasses: 5, seed: 1 });
  const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const a = resnetForward(net, x, { training: false });
  const b = resnetForward(net, x, { training: false });
  assert.deepEqual(a.shape, [2, 5]);
  assert.deepEqual(a.dataSync(), b.dataSync());
  tf.dispose([a, b, x, ...net.params.values(), ...net.buffers.values()]);
});

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`trainStep() on ${backend}: no tensor growth across steps, stem frozen, both branches move`, async () => {
    await initBackend(backend);
    const model = new AdaDfModel("tiny", { numClasses: 3, seed: 2 });
    const optimizer = new Adam({ lr: 1e-2 });
    const images = tf.randomNormal([4, 16, 16, 3], 0, 1, "float32", 3) as tf.Tensor4D;
    const onehot = tf.oneHot(tf.tensor1d([0, 1, 2, 0], "int32"), 3);
    const stem0 = model.params.get("conv1.weight")!.dataSync().slice();
    const aux0 = model.params.get("aux.layer2.0.conv1.weight")!.dataSync().slice();
    const tgt0 = model.params.get("target.layer2.0.conv1.weight")!.dataSync().slice();
    const step = () => {
      const out = trainStep(model, optimizer, images, (o) => ({
        total: tf.add(
          tf.losses.softmaxCrossEntropy(onehot, tf.mul(o.auxLogits, tf.sigmoid(o.scores1).expandDims(1))),
          tf.losses.softmaxCrossEntropy(onehot, tf.mul(o.targetLogits, tf.sigmoid(o.scores2).expandDims(1))),
        ) as tf.Scalar,
      }));
      const loss = out.total.dataSync()[0];
      disposeOutputs(out);
      return loss;
    };
    step();
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      step();
      counts.push(tf.memory().numTensors);
    }
    assert.equal(counts[0], counts[1]);
    assert.equal(counts[1], counts[2]);
    assert.deepEqual(model.params.get("conv1.weight")!.dataSync(), stem0);
    assert.notDeepEqual(model.params.get("aux.layer2.0.conv1.weight")!.dataSync(), aux0);
    assert.notDeepEqual(model.params.get("target.layer2.0.conv1.weight")!.dataSync(), tgt0);
    // The stem's BatchNorm statistics still move (training mode, as in the reference).
    assert.notDeepEqual(model.buffers.get("bn1.running_mean")!.dataSync(), new Float32Array(8));
    tf.dispose([images, onehot]);
    optimizer.dispose();
    model.dispose();
    await initBackend("cpu");
  });
}
