import assert from "node:assert/strict";
import { tf } from "../engine/tf.ts";
import { initBackend } from "../engine/backend.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { buildPlugins, type PluginConfig } from "../strategies/registry.ts";
import { type EpochMetrics, Trainer, type TrainerHooks, type TrainerState } from "../training/trainer.ts";
import { blobSet } from "./_batches.ts";

const C = 3;
const train = blobSet({ count: 48, numClasses: C, size: 32, seed: 1, batchSize: 8, shuffle: true });
const test = blobSet({ count: 24, numClasses: C, size: 32, seed: 2, batchSize: 8, shuffle: false });
/** The smallest set that still gives several batches per epoch, for the reproducibility tests. */
const small = {
  train: blobSet({ count: 16, numClasses: C, size: 16, seed: 1, batchSize: 8, shuffle: true }),
  test: blobSet({ count: 8, numClasses: C, size: 16, seed: 2, batchSize: 8, shuffle: false }),
};

function makeTrainer(
  epochs: number,
  config: PluginConfig = {},
  hooks: TrainerHooks[] = [],
  data: { train: typeof train; test: typeof test } = { train, test },
) {
  return new Trainer({
    model: new AdaDfModel("tiny", { numClasses: C, seed: 5 }),
    plugins: buildPlugins({
      miner: { type: "epoch-pass", threshold: 0.5 },
      schedule: { type: "ramp", beta: 2 },
      ...config,
    }),
    train: data.train,
    test: data.test,
    epochs,
    lr: 3e-3,
    hooks,
  });
}

function strip(history: EpochMetrics[]) {
  return history.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);
}

Deno.test("Trainer.fit(): loss falls and test accuracy beats chance on the tiny backbone", async () => {
  await initBackend("wasm");
  const calls: string[] = [];
  const trainer = makeTrainer(4, {}, [{
    onRunStart: () => void calls.push("run"),
    onEpochStart: (_t, e) => void calls.push(`epoch${e}`),
    onBatchEnd: (_t, m) => void (m.batch === 1 && calls.push(`batch${m.epoch}`)),
    onEpochEnd: (_t, m) => void calls.push(`end${m.epoch}`),
    onRunEnd: () => void calls.push("done"),
  }]);
  const summary = await trainer.fit();
  const h = summary.history;
  assert.equal(h.length, 4);
  assert.ok(h[3].loss.total < h[0].loss.total, `loss ${h.map((m) => m.loss.total.toFixed(3))}`);
  assert.ok(summary.bestAccuracy > 1 / C + 0.2, `best accuracy ${summary.bestAccuracy}`);
  assert.equal(calls.slice(0, 4).join(), "run,epoch1,batch1,end1");
  assert.equal(calls.at(-1), "done");
  // The schedule: ramp with beta 2 -> alpha1 = exp(-(1 - 1/2)^2) at epoch 1, alpha2 < 1 after beta.
  assert.ok(Math.abs(h[0].alpha1 - Math.exp(-0.25)) < 1e-12);
  assert.ok(h[3].alpha2 < 1 && h[3].alpha1 === 1);
  // ExponentialLR: lr * 0.9^(epoch - 1).
  assert.ok(Math.abs(h[2].lr - 3e-3 * 0.81) < 1e-12);
  // Mined class distributions are distributions; attention statistics are per class.
  for (const row of h[3].classDistributions) assert.ok(Math.abs(row.reduce((a, b) => a + b) - 1) < 1e-5);
  assert.equal(h[3].attentionPerClass.length, C);
  assert.equal(h[3].testPerClassAccuracy!.length, C);
  trainer.model.dispose();
  trainer.dispose();
  await initBackend("cpu");
});

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`Trainer on ${backend}: a fixed seed gives identical runs, and a resumed run equals an uninterrupted one`, async () => {
    await initBackend(backend);
    const full = makeTrainer(2, {}, [], small);
    await full.fit();
    assert.equal(full.history.length, 2);
    assert.notDeepEqual(full.history[1].loss, full.history[0].loss, "the second epoch trains on");
    const again = makeTrainer(2, {}, [], small);
    await again.fit();
    assert.deepEqual(strip(again.history), strip(full.history));

    // Interrupted after epoch 1: keep the weights and the trainer state, resume in a new trainer.
    const first = makeTrainer(2, {}, [{ onEpochEnd: (t) => t.stop() }], small);
    await first.fit();
    assert.equal(first.epoch, 1);
    const state = await first.getState();
    const weights = new Map(
      [...first.model.params, ...first.model.buffers].map(([k, v]) => [k, v.dataSync().slice()]),
    );
    const resumed = makeTrainer(2, {}, [], small);
    for (const [k, v] of [...resumed.model.params, ...resumed.model.buffers]) {
      v.assign(tf.tensor(weights.get(k)!, v.shape));
    }
    resumed.setState(state);
    await resumed.fit();
    assert.deepEqual(strip(resumed.history), strip(full.history));
    for (const t of [full, again, first, resumed]) {
      t.model.dispose();
      t.dispose();
    }
    await initBackend("cpu");
  });
}

Deno.test("Trainer: a state taken inside an epoch resumes to the uninterrupted run's metrics and weights", async () => {
  await initBackend("wasm");
  const weightsOf = (t: Trainer) =>
    new Map([...t.model.params, ...t.model.buffers].map(([k, v]) => [k, v.dataSync().slice()]));
  // The epoch-pass miner mines after the epoch; the online one accumulates inside it (its sums are saved).
  for (const [miner, epoch] of [["epoch-pass", 2], ["online", 1]] as const) {
    let state: TrainerState | undefined;
    let weights: ReturnType<typeof weightsOf> | undefined;
    const full = makeTrainer(2, { miner: { type: miner, threshold: 0.5 } }, [{
      async onBatchEnd(t, m) {
        if (m.epoch === epoch && m.batch === 1) [state, weights] = [await t.getState(), weightsOf(t)];
      },
    }], small);
    await full.fit();
    assert.equal(small.train.length, 2);
    assert.deepEqual([state!.epoch, state!.partial?.epoch, state!.partial?.batches], [epoch - 1, epoch, 1]);
    assert.equal(state!.miner.mining, miner === "online");
    const resumed = makeTrainer(2, { miner: { type: miner, threshold: 0.5 } }, [], small);
    for (const [k, v] of [...resumed.model.params, ...resumed.model.buffers]) {
      v.assign(tf.tensor(weights!.get(k)!, v.shape));
    }
    const batches: number[] = [];
    resumed.options.hooks!.push({ onBatchStart: (_t, e, b) => void batches.push(e * 10 + b) });
    resumed.setState(structuredClone(state!));
    await resumed.fit();
    // Only the rest of the interrupted epoch is trained again.
    assert.deepEqual(batches, epoch === 2 ? [22] : [12, 21, 22]);
    assert.deepEqual(strip(resumed.history), strip(full.history), miner);
    assert.deepEqual(weightsOf(resumed), weightsOf(full), miner);
    for (const t of [full, resumed]) {
      t.model.dispose();
      t.dispose();
    }
  }
  await initBackend("cpu");
});

Deno.test("Trainer: swapping the distribution plugin changes only the supervision", async () => {
  await initBackend("wasm");
  const fused = makeTrainer(1);
  const onehot = makeTrainer(1, { distribution: "onehot" });
  await fused.fit();
  await onehot.fit();
  // Same auxiliary cross-entropy on the first epoch's first batches would need per-batch logs; the
  // epoch means differ in kl (different targets) while the rank term and schedule are shared.
  assert.notEqual(fused.history[0].loss.kl, onehot.history[0].loss.kl);
  assert.equal(fused.history[0].alpha1, onehot.history[0].alpha1);
  for (const t of [fused, onehot]) {
    t.model.dispose();
    t.dispose();
  }
  await initBackend("cpu");
});
