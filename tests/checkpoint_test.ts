import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../engine/tf.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { createResNet } from "../backbones/resnet.ts";
import { buildPlugins } from "../strategies/registry.ts";
import { Trainer } from "../training/trainer.ts";
import {
  initFromPretrained,
  loadCheckpoint,
  loadModelStateDict,
  modelStateDict,
  saveCheckpoint,
} from "../training/checkpoint.ts";
import { encodeSafetensors } from "../formats/safetensors.ts";
import { blobSet } from "./_batches.ts";

Deno.test("saveCheckpoint() then loadCheckpoint() restores weights, moments and trainer state", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = blobSet({ count: 12, numClasses: 2, size: 16, seed: 1, batchSize: 4, shuffle: true });
    const trainer = new Trainer({
      model: new AdaDfModel("tiny", { numClasses: 2, seed: 1 }),
      plugins: buildPlugins({}),
      train: source,
      test: source,
      epochs: 1,
    });
    await trainer.fit();
    const path = join(dir, "last.safetensors");
    await saveCheckpoint(path, {
      model: trainer.model,
      classNames: ["a", "b"],
      trainer: await trainer.getState(),
      config: { seed: 3 },
    });
    const { model, meta, trainer: state } = await loadCheckpoint(path);
    assert.equal(meta.backbone, "tiny");
    assert.deepEqual(meta.classNames, ["a", "b"]);
    assert.deepEqual(meta.config, { seed: 3 });
    // PyTorch layout on disk.
    assert.deepEqual(model.get("conv1.weight")!.shape, [8, 3, 7, 7]);
    assert.deepEqual(model.get("target.fc.weight")!.shape, [2, 64]);
    const copy = new AdaDfModel("tiny", { numClasses: 2, seed: 9 });
    const report = loadModelStateDict(copy, model, { strict: true });
    assert.equal(report.loaded.length, trainer.model.params.size + trainer.model.buffers.size);
    for (const [k, v] of [...trainer.model.params, ...trainer.model.buffers]) {
      assert.deepEqual(copy.params.get(k)?.dataSync() ?? copy.buffers.get(k)!.dataSync(), v.dataSync(), k);
    }
    const original = await trainer.getState();
    assert.equal(state!.epoch, 1);
    assert.deepEqual(state!.miner, original.miner);
    assert.equal(state!.optimizer.step, original.optimizer.step);
    assert.deepEqual(
      state!.optimizer.expAvg.get("target.layer2.0.conv1.weight"),
      original.optimizer.expAvg.get("target.layer2.0.conv1.weight"),
    );
    assert.deepEqual(state!.history.map((h) => h.testAccuracy), original.history.map((h) => h.testAccuracy));
    trainer.model.dispose();
    trainer.dispose();
    copy.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadCheckpoint() rejects a safetensors file that is not a checkpoint, naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "plain.safetensors");
    await Deno.writeFile(
      path,
      encodeSafetensors(new Map([["w", { dtype: "float32", shape: [1], data: new Float32Array(1) }]])),
    );
    await assert.rejects(() => loadCheckpoint(path), /plain\.safetensors: not an ada-df checkpoint/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("initFromPretrained() loads a ResNet into the stem and both branches, leaving fc new", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const resnet = createResNet("tiny", { numClasses: 1000, seed: 4 });
    const path = join(dir, "resnet.safetensors");
    const sd = await modelStateDict(resnet);
    // torchvision files carry BatchNorm step counters, in the stem and in the branches.
    for (const bn of ["bn1", "layer3.0.bn1"]) {
      sd.set(`${bn}.num_batches_tracked`, { dtype: "int64", shape: [], data: new BigInt64Array([5n]) });
    }
    await Deno.writeFile(path, encodeSafetensors(sd));
    const model = new AdaDfModel("tiny", { numClasses: 7, seed: 5 });
    const fcBefore = model.params.get("target.fc.weight")!.dataSync().slice();
    const report = await initFromPretrained(model, path);
    assert.deepEqual(report.missing.sort(), [
      "aux.attention.bias",
      "aux.attention.weight",
      "aux.fc.bias",
      "aux.fc.weight",
      "target.attention.bias",
      "target.attention.weight",
      "target.fc.bias",
      "target.fc.weight",
    ]);
    assert.deepEqual(report.unexpected, []);
    assert.ok(report.loaded.includes("aux.layer2.0.bn1.running_mean"));
    assert.deepEqual(report.skipped.sort(), [
      "bn1.num_batches_tracked",
      "fc.bias",
      "fc.weight",
      "layer3.0.bn1.num_batches_tracked",
    ]);
    for (const name of ["conv1.weight", "layer1.0.bn1.running_var"]) {
      assert.deepEqual(
        (model.params.get(name) ?? model.buffers.get(name))!.dataSync(),
        (resnet.params.get(name) ?? resnet.buffers.get(name))!.dataSync(),
      );
    }
    const w = resnet.params.get("layer3.0.conv2.weight")!.dataSync();
    assert.deepEqual(model.params.get("aux.layer3.0.conv2.weight")!.dataSync(), w);
    assert.deepEqual(model.params.get("target.layer3.0.conv2.weight")!.dataSync(), w);
    assert.deepEqual(model.params.get("target.fc.weight")!.dataSync(), fcBefore);
    model.dispose();
    tf.dispose([...resnet.params.values(), ...resnet.buffers.values()]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
