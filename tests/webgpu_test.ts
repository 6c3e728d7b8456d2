import assert from "node:assert/strict";
import { tf } from "../engine/tf.ts";
import { findGpuAdapter, initBackend } from "../engine/backend.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { buildPlugins } from "../strategies/registry.ts";
import { Trainer } from "../training/trainer.ts";
import { blobSet } from "./_batches.ts";

const adapter = await findGpuAdapter().catch(() => null);
if (!adapter) console.log("webgpu_test: skipped, no WebGPU adapter on this machine");

Deno.test({
  name: "Trainer on webgpu: an epoch trains, evaluates and reads back asynchronously, without leaks",
  ignore: !adapter,
  async fn() {
    await initBackend("webgpu");
    const source = blobSet({ count: 16, numClasses: 2, size: 32, seed: 3, batchSize: 8, shuffle: true });
    const trainer = new Trainer({
      model: new AdaDfModel("tiny", { numClasses: 2, seed: 1 }),
      plugins: buildPlugins({}),
      train: source,
      test: source,
      epochs: 1,
    });
    await trainer.fit();
    const before = tf.memory().numTensors;
    const state = await trainer.getState();
    assert.equal(tf.memory().numTensors, before);
    assert.equal(state.epoch, 1);
    for (const m of trainer.history) assert.ok(Number.isFinite(m.loss.total) && m.testAccuracy !== undefined);
    trainer.model.dispose();
    trainer.dispose();
    await initBackend("cpu");
  },
});
