/**
 * The plain single-branch baseline (`model.branches: 1`), the evaluation protocols of a run
 * (`summary.json`, `deno task eval`, the ablation tables) and strict pretrained loading in a run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../engine/tf.ts";
import { initBackend } from "../engine/backend.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { createResNet } from "../backbones/resnet.ts";
import { encodeSafetensors } from "../formats/safetensors.ts";
import { crossEntropy } from "../strategies/functional.ts";
import { buildPlugins } from "../strategies/registry.ts";
import { singleBranchObjective } from "../strategies/objective.ts";
import { type BatchMetrics, Trainer } from "../training/trainer.ts";
import { loadCheckpoint, modelStateDict } from "../training/checkpoint.ts";
import { resolveConfig } from "../experiments/config.ts";
import { loadRun, resumeRun, RUN_FILES, trainRun } from "../experiments/run.ts";
import { evaluateRun, formatEvalReport } from "../experiments/eval.ts";
import { exportRun } from "../experiments/export.ts";
import { loadExportedModel, predict } from "../experiments/inference.ts";
import { predictImages } from "../experiments/predict.ts";
import { aggregate, parseAblation, resultsCsv, resultsMarkdown } from "../experiments/ablation.ts";
import { tinySyntheticOverrides } from "./_tiny.ts";

/** A tiny, fast configuration on a small synthetic set generated into `dir`. */
async function tinyConfig(dir: string, extra: string[] = []) {
  return await resolveConfig({
    preset: "synthetic",
    overrides: [
      ...tinySyntheticOverrides(join(dir, "cache"), 24),
      "trainer.epochs=3",
      "trainer.lr=0.003",
      "trainer.meanOfLast=2",
      `output.dir=${JSON.stringify(join(dir, "runs"))}`,
      ...extra,
    ],
  });
}

const quiet = { progress: false as const, log: () => {}, report: false };

Deno.test("singleBranchObjective() is the cross-entropy and nothing else, and its gradient is the CE's", () => {
  const logits = tf.tensor2d([[1.5, -0.5, 0.25], [0.1, 0.2, 0.3], [-2, 1, 0]]);
  const labels = tf.tensor1d([0, 2, 1], "int32");
  const result = singleBranchObjective({ logits, labels });
  const ce = crossEntropy(logits, labels);
  // By hand: mean_i(logsumexp(z_i) - z_i[y_i]).
  const rows = logits.arraySync();
  const byHand = rows.reduce((s, z, i) => {
    const lse = Math.log(z.reduce((t, v) => t + Math.exp(v), 0));
    return s + lse - z[labels.arraySync()[i]];
  }, 0) / rows.length;
  assert.ok(Math.abs(result.total.arraySync() - byHand) < 1e-6);
  assert.equal(result.total.arraySync(), ce.arraySync());
  assert.deepEqual([result.kl.arraySync(), result.rr.arraySync(), result.alpha1, result.alpha2], [
    0,
    0,
    0,
    1,
  ]);
  const g1 = tf.grad((z: tf.Tensor) => singleBranchObjective({ logits: z as tf.Tensor2D, labels }).total)(
    logits,
  );
  const g2 = tf.grad((z: tf.Tensor) => crossEntropy(z as tf.Tensor2D, labels))(logits);
  assert.deepEqual(g1.arraySync(), g2.arraySync());
  tf.dispose([logits, labels, ce, g1, g2, ...Object.values(result).filter((v) => v instanceof tf.Tensor)]);
});

Deno.test("Trainer on a single-branch model: each batch's loss is the plain cross-entropy of its logits", async () => {
  const images = tf.randomUniform([4, 32, 32, 3], -1, 1, "float32", 3);
  const batch = {
    images: images.dataSync() as Float32Array,
    shape: [4, 32, 32, 3] as [number, number, number, 3],
    labels: Int32Array.from([0, 1, 2, 1]),
    indices: Int32Array.from([0, 1, 2, 3]),
    crops: 1,
  };
  const model = new AdaDfModel("tiny", { numClasses: 3, seed: 2, branches: 1 });
  const twin = new AdaDfModel("tiny", { numClasses: 3, seed: 2, branches: 1 });
  // The first step's loss, from an identical model in the same (training) mode.
  const logits = twin.forward(images as tf.Tensor4D, { training: true }).targetLogits;
  const labels = tf.tensor1d(batch.labels, "int32");
  const expected = crossEntropy(logits, labels).arraySync();
  const losses: BatchMetrics["loss"][] = [];
  const trainer = new Trainer({
    model,
    // Ada-DF's plugins: a single-branch model uses none of them.
    plugins: buildPlugins(),
    train: {
      length: 1,
      async *batches() {
        yield batch;
      },
    },
    test: {
      length: 1,
      async *batches() {
        yield batch;
      },
    },
    epochs: 2,
    hooks: [{ onBatchEnd: (_t, m) => void losses.push(m.loss) }],
  });
  try {
    const summary = await trainer.fit();
    assert.ok(Math.abs(losses[0].total - expected) < 1e-5, `${losses[0].total} vs ${expected}`);
    for (const loss of losses) assert.deepEqual([loss.kl, loss.rr, loss.total], [0, 0, loss.ce]);
    assert.ok(losses[1].total < losses[0].total, "the loss falls");
    assert.deepEqual([summary.history[0].alpha1, summary.history[0].alpha2], [0, 1]);
    assert.equal(summary.history[1].testConfusion!.flat().reduce((a, b) => a + b), 4);
  } finally {
    trainer.dispose();
    model.dispose();
    twin.dispose();
    tf.dispose([images, logits, labels]);
  }
});

Deno.test("model.branches 1: trains, resumes, evaluates, predicts and exports; summary.json has the protocols", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await tinyConfig(dir, ["model.branches=1"]);
    const lines: string[] = [];
    const runDir = join(dir, "single");
    // Stopped after epoch 1, then resumed: the checkpoint holds one branch and nothing else.
    await trainRun(config, {
      progress: false,
      report: false,
      log: (l) => lines.push(l),
      runDir,
      hooks: [{ onEpochEnd: (t) => t.stop() }],
    });
    assert.match(lines.join("\n"), /single-branch baseline/);
    const checkpoint = await loadCheckpoint(join(runDir, RUN_FILES.last));
    const names = [...checkpoint.model.keys()].filter((n) => !n.startsWith("optimizer."));
    assert.ok(names.includes("target.fc.weight") && names.includes("target.layer4.0.conv2.weight"));
    assert.ok(!names.some((n) => n.startsWith("aux.") || n.includes("attention")), names.join());
    const { summary } = await resumeRun(runDir, quiet);
    assert.equal(summary.epochs, 3);
    for (const m of summary.history) assert.deepEqual([m.loss.kl, m.loss.rr], [0, 0]);

    const doc = JSON.parse(await Deno.readTextFile(join(runDir, RUN_FILES.summary)));
    const tested = summary.history.filter((m) => m.testAccuracy !== undefined);
    assert.equal(doc.protocols.best.chosenOnTestSet, true);
    assert.equal(doc.protocols.best.epoch, summary.bestEpoch);
    assert.equal(doc.protocols.best.accuracy, summary.bestAccuracy);
    assert.equal(doc.protocols.last.epoch, 3);
    assert.equal(doc.protocols.last.accuracy, summary.lastAccuracy);
    assert.deepEqual(doc.protocols.meanOfLast.epochs, [2, 3]);
    const mean = (tested[1].testAccuracy! + tested[2].testAccuracy!) / 2;
    assert.ok(Math.abs(doc.protocols.meanOfLast.accuracy - mean) < 1e-12);
    assert.equal(doc.protocols.last.confusion.flat().reduce((a: number, b: number) => a + b, 0), 5);
    assert.equal(typeof doc.protocols.best.meanClassAccuracy, "number");

    // eval: the checkpoint's figures and the protocols side by side; only the prediction's divergence.
    const report = await evaluateRun(runDir, { checkpoint: "last" });
    assert.equal(report.epoch, 3);
    assert.deepEqual(report.protocols, doc.protocols);
    assert.equal(report.result.accuracy, summary.lastAccuracy);
    assert.ok(
      report.divergences && report.divergences.prediction > 0 && Number.isNaN(report.divergences.fused),
    );
    const text = formatEvalReport(report);
    assert.match(text, /best epoch \(chosen on the test set\) +\d/);
    assert.match(text, /mean of the last 2 epochs +2-3 /);
    assert.match(text, /to the fused distributions f_i +-/);
    assert.match(text, /confusion matrix/);
    await assert.rejects(evaluateRun(runDir, { labelNoise: true }), /single-branch run/);

    // predict and export: the classifier's softmax, without attention.
    const run = await loadRun(runDir, "last");
    const folder = join(dir, "cache", "synthetic-24-0-16", "Image", "aligned");
    const images = [...Deno.readDirSync(folder)].map((e) => join(folder, e.name)).sort().slice(0, 3);
    const expected = await predictImages(run, images);
    const out = join(dir, "export");
    const result = await exportRun(runDir, out, { checkpoint: "last", runtime: false });
    assert.match(await Deno.readTextFile(join(out, "model.json")), /target\.fc/);
    const loaded = await loadExportedModel(out);
    try {
      assert.doesNotMatch(JSON.stringify(result), /"attention":"sigmoid"/);
      const predicted = await predict(loaded, images);
      for (let i = 0; i < images.length; i++) {
        for (const name of run.classNames) {
          const diff = Math.abs(predicted[i].probabilities[name] - expected[i].probabilities[name]);
          assert.ok(diff < 1e-4, `${name}: ${diff}`);
        }
      }
    } finally {
      loaded.dispose();
      run.model.dispose();
    }
  } finally {
    await initBackend("cpu");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainRun(): weights that load nothing stop the run unless model.partialWeights", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const resnet = createResNet("tiny", { numClasses: 7 });
    const renamed = new Map([...(await modelStateDict(resnet))].map(([k, v]) => [`backbone.${k}`, v]));
    tf.dispose([...resnet.params.values(), ...resnet.buffers.values()]);
    const weights = join(dir, "other.safetensors");
    await Deno.writeFile(weights, encodeSafetensors(renamed));
    const config = await tinyConfig(dir, [`model.weights=${JSON.stringify(weights)}`, "trainer.epochs=1"]);
    await assert.rejects(
      trainRun(config, { ...quiet, runDir: join(dir, "strict") }),
      (e: Error) =>
        e.message.startsWith(`${weights}: the weights do not match the model; nothing was loaded`),
    );
    const lines: string[] = [];
    const partial = await tinyConfig(dir, [
      `model.weights=${JSON.stringify(weights)}`,
      "model.partialWeights=true",
      "trainer.epochs=1",
    ]);
    const { summary } = await trainRun(partial, {
      progress: false,
      report: false,
      log: (l) => lines.push(l),
      runDir: join(dir, "partial"),
    });
    assert.equal(summary.epochs, 1);
    assert.match(lines.join("\n"), /Loaded 0 of \d+ model parameters/);
    assert.match(lines.join("\n"), /warning: model\.partialWeights: nothing of .* was loaded/);
  } finally {
    await initBackend("cpu");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the ablation tables put the protocols side by side, with each variant's confusion matrix", () => {
  const ablation = parseAblation(
    [
      "seeds: [0, 1]",
      "variants:",
      "  - { name: baseline, set: { model.branches: 1 } }",
      "  - { name: Ada-DF, set: {} }",
    ].join("\n"),
    "a.yaml",
  );
  const run = (variant: string, seed: number, confusion: number[][]) => ({
    variant,
    seed,
    runDir: `runs/a/${variant}-seed${seed}`,
    config: {} as never,
    bestAccuracy: 0.9,
    lastAccuracy: 0.8,
    lastMeanClassAccuracy: 0.7,
    meanOfLastAccuracy: 0.75 + seed / 100,
    meanOfLastK: 5,
    lastConfusion: confusion,
    classNames: ["Happy", "Sad"],
  });
  const runs = [
    run("baseline", 0, [[3, 1], [0, 4]]),
    run("baseline", 1, [[2, 2], [1, 3]]),
    run("Ada-DF", 0, [[4, 0], [0, 4]]),
    run("Ada-DF", 1, [[4, 0], [1, 3]]),
  ];
  const results = aggregate(ablation, runs);
  const markdown = resultsMarkdown(ablation, results, runs);
  assert.match(
    markdown,
    /\| best epoch \(chosen on test\) \| last epoch \| mean of last 5 \| last mean class/,
  );
  assert.match(markdown, /chosen on the test set itself/);
  assert.ok(
    markdown.includes("| baseline | model.branches=1 | 2 | 90.00 ± 0.00 | 80.00 ± 0.00 | 75.50 ± 0.71 |"),
  );
  assert.match(
    markdown,
    /### baseline\n\n\| true \\ predicted \| Happy \| Sad \|\n\| --- \| ---: \| ---: \|\n\| Happy \| 5 \| 3 \|\n\| Sad \| 1 \| 7 \|/,
  );
  const csv = resultsCsv(results).trim().split("\n");
  assert.ok(csv[0].endsWith(",mean_of_last_mean,mean_of_last_std"));
  assert.ok(csv[1].startsWith("baseline,2,0.9,0,0.8,0,0.7,0,0.755,"));
});
