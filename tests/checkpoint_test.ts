import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../engine/tf.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { createResNet } from "../backbones/resnet.ts";
import { buildPlugins } from "../strategies/registry.ts";
import { Trainer, type TrainerState } from "../training/trainer.ts";
import {
  initFromPretrained,
  loadCheckpoint,
  loadModelStateDict,
  modelStateDict,
  saveCheckpoint,
} from "../training/checkpoint.ts";
import { encodeSafetensors, readSafetensors, type StateDict } from "../formats/safetensors.ts";
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

Deno.test("loadCheckpoint() refuses every wrong training state, naming the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A real state, taken inside the second epoch (so it has every field, `partial` included).
    const source = blobSet({ count: 8, numClasses: 2, size: 16, seed: 1, batchSize: 4, shuffle: true });
    let inside: TrainerState | undefined;
    const trainer = new Trainer({
      model: new AdaDfModel("tiny", { numClasses: 2, seed: 1 }),
      plugins: buildPlugins({}),
      train: source,
      test: source,
      epochs: 2,
      hooks: [{
        onBatchEnd: async (t, b) => {
          if (b.epoch === 2 && b.batch === 1) inside = await t.getState();
        },
      }],
    });
    await trainer.fit();
    const good = join(dir, "good.safetensors");
    await saveCheckpoint(good, { model: trainer.model, classNames: ["a", "b"], trainer: inside, config: {} });
    trainer.model.dispose();
    trainer.dispose();
    const loaded = await loadCheckpoint(good);
    assert.deepEqual(loaded.trainer!.partial, inside!.partial);
    assert.equal(loaded.trainer!.partial!.batches, 1);

    const { tensors, metadata } = await readSafetensors(good);
    const base = JSON.parse(metadata.state);
    // deno-lint-ignore no-explicit-any
    type Json = Record<string, any>;
    const moment = [...tensors.keys()].find((k) => k.startsWith("optimizer.exp_avg."))!;
    const param = moment.slice("optimizer.exp_avg.".length);
    // [the field named, a change of the state (or of the tensors; or a whole new state)]
    const REPLACE = Symbol("replace");
    const wrong: [string, (s: Json, t: StateDict) => unknown][] = [
      ["trainer.epoch", (s) => (s.trainer.epoch = null)],
      ["trainer.epoch", (s) => delete s.trainer.epoch],
      ["trainer.epoch", (s) => (s.trainer.epoch = "1")],
      ["trainer.epoch", (s) => (s.trainer.epoch = -1)],
      ["trainer.epoch", (s) => (s.trainer.epoch = 1.5)],
      ["trainer.history", (s) => (s.trainer.epoch = 5)],
      ["trainer.bestEpoch", (s) => (s.trainer.bestEpoch = -1)],
      ["trainer.bestEpoch", (s) => (s.trainer.bestEpoch = 3)],
      ["trainer.bestEpoch", (s) => (s.trainer.bestEpoch = null)],
      ["trainer.bestAccuracy", (s) => (s.trainer.bestAccuracy = 2)],
      ["trainer.bestAccuracy", (s) => (s.trainer.bestAccuracy = "0.5")],
      [
        "trainer.bestAccuracy",
        (s) => (s.trainer.bestAccuracy = s.trainer.history[0].testAccuracy / 2 + 0.01),
      ],
      ["trainer.history", (s) => (s.trainer.history = {})],
      ["trainer.history", (s) => (s.trainer.history = null)],
      ["trainer.history[0]", (s) => (s.trainer.history[0] = null)],
      ["trainer.history[0].epoch", (s) => (s.trainer.history[0].epoch = 2)],
      ["trainer.history[0].loss", (s) => (s.trainer.history[0].loss = null)],
      ["trainer.history[0].loss.ce", (s) => (s.trainer.history[0].loss.ce = "x")],
      ["trainer.history[0].classDistributions", (s) => (s.trainer.history[0].classDistributions = [[1, 0]])],
      [
        "trainer.history[0].classDistributions[0]",
        (s) => (s.trainer.history[0].classDistributions[0] = [1, 0, 0]),
      ],
      ["trainer.history[0].attentionPerClass", (s) => (s.trainer.history[0].attentionPerClass = [])],
      ["trainer.history[0].trainAccuracy", (s) => (s.trainer.history[0].trainAccuracy = 1.5)],
      ["trainer.history[0].testPerClassAccuracy", (s) => (s.trainer.history[0].testPerClassAccuracy = [0.5])],
      ["trainer.history[0].images", (s) => (s.trainer.history[0].images = -3)],
      ["trainer.miner", (s) => (s.trainer.miner = null)],
      ["trainer.miner.numClasses", (s) => (s.trainer.miner.numClasses = 3)],
      ["trainer.miner.sums", (s) => (s.trainer.miner.sums = [1, 2, 3])],
      ["trainer.miner.counts", (s) => (s.trainer.miner.counts = "x")],
      ["trainer.miner.distributions", (s) => (s.trainer.miner.distributions = [[0.5, 0.5]])],
      ["trainer.miner.mining", (s) => (s.trainer.miner.mining = "yes")],
      ["trainer.optimizer", (s) => (s.trainer.optimizer = null)],
      ["trainer.optimizer.step", (s) => (s.trainer.optimizer.step = -1)],
      ["trainer.optimizer.lr", (s) => (s.trainer.optimizer.lr = 0)],
      ["trainer.optimizer.lr", (s) => (s.trainer.optimizer.lr = { $number: "NaN" })],
      ["trainer.partial.epoch", (s) => (s.trainer.partial.epoch = 1)],
      ["trainer.partial.batches", (s) => (s.trainer.partial.batches = -1)],
      ["trainer.partial.position", (s) => (s.trainer.partial.position = 0)],
      ["trainer.partial.correct", (s) => (s.trainer.partial.correct = 999)],
      ["trainer.partial.attention", (s) => (s.trainer.partial.attention = "x")],
      ["trainer.partial.labels[0]", (s) => (s.trainer.partial.labels[0] = 5)],
      ["trainer.partial.sums", (s) => (s.trainer.partial.sums = null)],
      ["trainer.partial.fusion", (s) => (s.trainer.partial.fusion = [])],
      ["trainer", (s) => (s.trainer = null)],
      ["trainer", (s) => (s.trainer = [])],
      ["numClasses", (s) => (s.numClasses = 1)],
      ["numClasses", (s) => (s.numClasses = "2")],
      ["classNames", (s) => (s.classNames = ["a"])],
      ["classNames[0]", (s) => (s.classNames = [1, 2])],
      ["backbone", (s) => (s.backbone = "resnet999")],
      ["the training state", () => ({ [REPLACE]: null })],
      ["the training state", () => ({ [REPLACE]: [] })],
      [moment, (_s, t) => t.set(moment, { dtype: "float32", shape: [3], data: new Float32Array(3) })],
      [`optimizer.exp_avg_sq.${param}`, (_s, t) => t.delete(`optimizer.exp_avg_sq.${param}`)],
      [
        "optimizer.exp_avg.nothing.weight",
        (_s, t) => t.set("optimizer.exp_avg.nothing.weight", t.get(moment)!),
      ],
    ];
    const bad = join(dir, "bad.safetensors");
    let refused = 0;
    for (const [field, change] of wrong) {
      let state = structuredClone(base);
      // The state is checked before the tensors are read: only the moments' changes need them.
      const t: StateDict = field.startsWith("optimizer.") ? new Map(tensors) : new Map();
      const result = change(state, t) as Json | undefined;
      if (result && typeof result === "object" && REPLACE in result) state = result[REPLACE as never];
      await Deno.writeFile(
        bad,
        encodeSafetensors(t, { metadata: { ...metadata, state: JSON.stringify(state) } }),
      );
      await assert.rejects(loadCheckpoint(bad), (e: Error) => {
        const line = `${bad}: ${field}: `;
        assert.ok(e.message.split("\n").some((l) => l.startsWith(line)), `${field}: ${e.message}`);
        assert.ok(e.message.split("\n").every((l) => l.startsWith(`${bad}: `)), e.message);
        return true;
      });
      refused++;
    }
    assert.equal(refused, wrong.length);
    assert.ok(wrong.length >= 46);
    // The message the issue asked for.
    const state = structuredClone(base);
    state.trainer.epoch = null;
    await Deno.writeFile(
      bad,
      encodeSafetensors(tensors, { metadata: { ...metadata, state: JSON.stringify(state) } }),
    );
    await assert.rejects(loadCheckpoint(bad), {
      message: `${bad}: trainer.epoch: expected a whole number >= 0, got null`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
