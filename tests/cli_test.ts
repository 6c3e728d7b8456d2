import { initBackend } from "../engine/backend.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../experiments/config.ts";
import { loadRun, RUN_FILES, trainRun } from "../experiments/run.ts";
import { loadCheckpoint } from "../training/checkpoint.ts";
import { evaluateRun, formatEvalReport } from "../experiments/eval.ts";
import { predictImages } from "../experiments/predict.ts";
import {
  ablate,
  ABLATION_FILES,
  ablationPlan,
  ablationRunConfig,
  ablationStatus,
  labelNoiseMarkdown,
  measureAblationNoise,
  parseAblation,
  runAblation,
  runAblationEntry,
} from "../experiments/ablation.ts";
import { main as ablateMain } from "../cli/ablate.ts";
import { main as trainMain } from "../cli/train.ts";
import { main as evalMain } from "../cli/eval.ts";
import { main as predictMain } from "../cli/predict.ts";
import { taskCommand } from "./_cli.ts";
import { tinySyntheticOverrides } from "./_tiny.ts";

/** A tiny, fast configuration on a small synthetic set generated into `dir`. */
async function tinyConfig(dir: string, extra: string[] = []) {
  return await resolveConfig({
    preset: "synthetic",
    overrides: [
      ...tinySyntheticOverrides(join(dir, "cache"), 30),
      "trainer.epochs=2",
      "trainer.lr=0.003",
      `output.dir=${JSON.stringify(join(dir, "runs"))}`,
      ...extra,
    ],
  });
}

// No report at the end of these runs (tests/report_test.ts covers it): it would add seconds to each.
const quiet = { progress: false, log: () => {}, report: false };

function metricsWithoutTimes(text: string) {
  return text.trim().split("\n").map((line) => {
    const { seconds: _s, imagesPerSecond: _i, ...rest } = JSON.parse(line);
    return rest;
  });
}

Deno.test("trainRun(): a run stopped after epoch 1 and resumed ends with the same metrics as an uninterrupted one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await tinyConfig(dir);
    const full = await trainRun(config, { ...quiet, runDir: join(dir, "full") });
    for (
      const f of Object.values(RUN_FILES).filter((f) =>
        f !== RUN_FILES.noise && f !== RUN_FILES.noiseReport && f !== RUN_FILES.partial
      )
    ) {
      assert.ok(await Deno.stat(join(full.runDir, f)), `${f} written`);
    }
    const interrupted = join(dir, "interrupted");
    await trainRun(config, { ...quiet, runDir: interrupted, hooks: [{ onEpochEnd: (t) => t.stop() }] });
    assert.equal(
      metricsWithoutTimes(await Deno.readTextFile(join(interrupted, RUN_FILES.metrics))).length,
      1,
    );
    // As a kill between `last` and `best` in an older write order left it, with metrics.jsonl behind
    // and a temporary file of a write cut short: the resume makes both again and removes the file.
    await Deno.remove(join(interrupted, RUN_FILES.best));
    await Deno.writeTextFile(join(interrupted, RUN_FILES.metrics), "");
    await Deno.writeTextFile(join(interrupted, `.${RUN_FILES.last}.0123abcd.tmp`), "half a checkpoint");
    const said: string[] = [];
    await trainRun(config, { ...quiet, log: (line) => said.push(line), runDir: interrupted, resume: true });
    const text = said.join("\n");
    assert.match(
      text,
      /removed 1 temporary file\(s\) a killed process left: \.last\.safetensors\.0123abcd\.tmp/,
    );
    assert.match(text, /repaired .*metrics\.jsonl: 0 epoch\(s\) written, the checkpoint has 1/);
    assert.match(
      text,
      /repaired .*best\.safetensors: it held epoch 0, now the best epoch 1 \(from .*last\.safetensors\)/,
    );
    const best = async (runDir: string) => await loadCheckpoint(join(runDir, RUN_FILES.best));
    const [bestFull, bestResumed] = [await best(full.runDir), await best(interrupted)];
    assert.equal(bestResumed.trainer!.epoch, bestFull.trainer!.epoch);
    assert.deepEqual(bestResumed.model, bestFull.model);
    const a = metricsWithoutTimes(await Deno.readTextFile(join(full.runDir, RUN_FILES.metrics)));
    const b = metricsWithoutTimes(await Deno.readTextFile(join(interrupted, RUN_FILES.metrics)));
    assert.equal(a.length, 2);
    assert.deepEqual(b, a);
    // A second plain run into the same folder is refused rather than overwriting it.
    await assert.rejects(() => trainRun(config, { ...quiet, runDir: full.runDir }), /already holds a run/);

    // eval: accuracy, confusion matrix and, on the synthetic set, KL divergences from the ground truth.
    const report = await evaluateRun(full.runDir);
    assert.equal(report.result.count, 6);
    assert.equal(report.result.confusion.flat().reduce((x, y) => x + y), 6);
    assert.ok(report.divergences && report.divergences.prediction > 0 && report.divergences.class > 0);
    assert.match(formatEvalReport(report), /mean KL divergence from the ground-truth distributions/);
    await assert.rejects(() => evaluateRun(full.runDir, { labelNoise: true }), /trained without label noise/);

    // predict: one distribution per image.
    const run = await loadRun(full.runDir);
    const images = join(dir, "cache", "synthetic-30-0-16", "Image", "aligned");
    const files = [...Deno.readDirSync(images)].map((e) => join(images, e.name)).slice(0, 2);
    const predictions = await predictImages(run, files);
    run.model.dispose();
    assert.equal(predictions.length, 2);
    for (const p of predictions) {
      const sum = Object.values(p.probabilities).reduce((x, y) => x + y);
      assert.ok(Math.abs(sum - 1) < 1e-4);
      assert.ok(run.classNames.includes(p.prediction));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await initBackend("cpu");
  }
});

Deno.test("evaluateRun({ labelNoise }): the flipped training labels of a noisy run, measured", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await tinyConfig(dir, ["data.labelNoise=0.3", "trainer.epochs=1"]);
    const { runDir } = await trainRun(config, quiet);
    const { flipped } = JSON.parse(await Deno.readTextFile(join(runDir, RUN_FILES.noise)));
    const report = await evaluateRun(runDir, { labelNoise: true });
    const x = report.labelNoise!;
    assert.equal(x.flipped, flipped.length);
    assert.equal(x.clean + x.flipped, 24);
    assert.equal(x.flipped, Math.round(0.3 * 24));
    for (const v of [x.attentionAuc, x.cleanAccuracy, x.flippedRecovered, x.flippedMemorised]) {
      assert.ok(v >= 0 && v <= 1, String(v));
    }
    assert.ok(x.flippedRecovered + x.flippedMemorised <= 1);
    assert.ok(x.fusedTrueMass + x.fusedNoisyMass <= 1 + 1e-6 && x.fusedTrueMass > 0);
    assert.match(formatEvalReport(report), /training split: 7 flipped labels, 17 clean/);
    await assert.rejects(
      () => evaluateRun(runDir, { labelNoise: true, dataset: "folder", dataPath: dir }),
      /does not combine with --dataset/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await initBackend("cpu");
  }
});

/** The variants of {@linkcode tinyAblation}. */
const TWO_VARIANTS = `
  - { name: baseline, set: { method.distribution: onehot } }
  - { name: Ada-DF, set: { method.distribution: fused } }`;

/** A tiny ablation file (by default two variants, two seeds) written into `dir`. */
async function tinyAblation(
  dir: string,
  options: { set?: string; seeds?: string; variants?: string } = {},
): Promise<string> {
  const file = join(dir, "ablation.yaml");
  await Deno.writeTextFile(
    file,
    `
name: tiny
base: synthetic
set:
  backend: wasm
  model.backbone: tiny
  data.size: 16
  data.synthetic: { count: 32, seed: 0, size: 16, testFraction: 0.25, cacheDir: ${
      JSON.stringify(join(dir, "cache"))
    } }
  trainer.batchSize: 8
  trainer.epochs: 1
${options.set ?? ""}
seeds: ${options.seeds ?? "[0, 1]"}
output: ${JSON.stringify(join(dir, "out"))}
variants:${options.variants ?? TWO_VARIANTS}
`,
  );
  return file;
}

Deno.test("ablate(): variants x seeds, mean and std per variant, the report files, finished runs reused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = await tinyAblation(dir);
    const ablation = parseAblation(await Deno.readTextFile(file), file);
    const lines: string[] = [];
    const report = await ablate(ablation, { progress: false, report: false, log: (l) => lines.push(l) });
    const { runs, results } = report;
    assert.equal(runs.length, 4);
    assert.deepEqual(results.map((r) => [r.variant, r.runs]), [["baseline", 2], ["Ada-DF", 2]]);
    const base = runs.filter((r) => r.variant === "baseline").map((r) => r.bestAccuracy);
    assert.ok(Math.abs(results[0].best.mean - (base[0] + base[1]) / 2) < 1e-12);
    const std = Math.abs(base[0] - base[1]) / Math.sqrt(2);
    assert.ok(Math.abs(results[0].best.std - std) < 1e-12, "sample std over the seeds");
    assert.deepEqual(report.noise, []);
    assert.deepEqual(report.files, {
      markdown: join(ablation.output, ABLATION_FILES.markdown),
      csv: join(ablation.output, ABLATION_FILES.csv),
    });
    assert.equal(await Deno.readTextFile(report.files.markdown), report.markdown);
    assert.equal(await Deno.readTextFile(report.files.csv), report.csv);
    assert.match(report.markdown, /^# tiny\n/);
    assert.match(report.markdown, /\| baseline \| method\.distribution="onehot" \| 2 \|/);
    assert.doesNotMatch(report.markdown, /flipped training labels/);
    const csv = report.csv.trim().split("\n");
    assert.equal(
      csv[0],
      "variant,runs,best_mean,best_std,last_mean,last_std,mean_class_mean,mean_class_std,mean_of_last_mean," +
        "mean_of_last_std",
    );
    assert.deepEqual(csv.slice(1).map((row) => row.split(",").slice(0, 3).join(",")), [
      `baseline,2,${results[0].best.mean}`,
      `Ada-DF,2,${results[1].best.mean}`,
    ]);
    assert.equal(lines.filter((l) => / training in /.test(l)).length, 4);
    const again: string[] = [];
    const second = await ablate(ablation, { progress: false, report: false, log: (l) => again.push(l) });
    assert.equal(again.filter((l) => l.includes("done before")).length, 4);
    assert.deepEqual(again.filter((l) => / training in /.test(l)), []);
    assert.deepEqual(second.results, results);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await initBackend("cpu");
  }
});

Deno.test("measureAblationNoise(): noisy variants measured once, cached, and tabled", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = await tinyAblation(dir, { set: "  data.labelNoise: 0.3", seeds: "[0]" });
    const ablation = parseAblation(await Deno.readTextFile(file), file);
    const runs = await runAblation(ablation, { progress: false, report: false, log: () => {} });
    const lines: string[] = [];
    const noise = await measureAblationNoise(ablation, runs, { log: (l) => lines.push(l) });
    assert.equal(lines.filter((l) => l.startsWith("measuring")).length, 2);
    assert.deepEqual(noise.map((n) => [n.variant, n.fused, n.report.flipped]), [
      ["baseline", false, 7],
      ["Ada-DF", true, 7],
    ]);
    const again: string[] = [];
    const cached = await measureAblationNoise(ablation, runs, { log: (l) => again.push(l) });
    assert.deepEqual(again, []);
    assert.deepEqual(cached, noise);
    const md = labelNoiseMarkdown(ablation, noise);
    assert.match(md, /^## How the runs treat their flipped training labels/);
    const rows = md.split("\n").filter((l) => /^\| (baseline|Ada-DF) \|/.test(l));
    assert.equal(rows.length, 2);
    assert.match(rows[0], /\| - \|$/);
    assert.doesNotMatch(rows[1], /\| - \|$/);
    assert.equal(labelNoiseMarkdown(ablation, []), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await initBackend("cpu");
  }
});

Deno.test("runAblation(): runs locked by a live process are waited for, stale locks are taken over", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = await tinyAblation(dir);
    const ablation = parseAblation(await Deno.readTextFile(file), file);
    const locks = join(ablation.output, ".locks");
    await Deno.mkdir(locks, { recursive: true });
    // A live holder of baseline-seed1 that lets go (without finishing) after a while ...
    const live = join(locks, "baseline-seed1.lock");
    await Deno.writeTextFile(live, "pid 1 on elsewhere\n");
    // ... and the lock of a process that died an hour ago.
    const stale = join(locks, "ada-df-seed0.lock");
    await Deno.writeTextFile(stale, "pid 2 on elsewhere\n");
    const hourAgo = new Date(Date.now() - 3600_000);
    await Deno.utime(stale, hourAgo, hourAgo);

    const lines: string[] = [];
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const log = (l: string) => {
      lines.push(l);
      if (l.startsWith("waiting for")) Deno.remove(live).then(release);
    };
    const runs = await runAblation(ablation, { progress: false, report: false, log, pollSeconds: 0.1 });
    assert.equal(runs.length, 4);
    assert.deepEqual(lines.filter((l) => l.startsWith("waiting for")), [
      "waiting for 1 run(s) other processes are training: baseline-seed1",
    ]);
    await released;
    const trained = lines.filter((l) => / training in /.test(l)).map((l) => l.split(" in ")[1]);
    assert.deepEqual(trained.map((d) => d.split("/").at(-1)).sort(), [
      "ada-df-seed0",
      "ada-df-seed1",
      "baseline-seed0",
      "baseline-seed1",
    ]);
    // The stale run was taken in the first pass, the released one after the wait.
    assert.ok(
      lines.findIndex((l) => l.includes("ada-df-seed0")) < lines.findIndex((l) => l.startsWith("waiting")),
    );
    assert.deepEqual([...Deno.readDirSync(locks)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await initBackend("cpu");
  }
});

Deno.test(
  "deno task ablate interrupted: it leaves no lock behind",
  { ignore: Deno.build.os === "windows" },
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const file = await tinyAblation(dir);
      const locks = join(dir, "out", ".locks");
      const child = taskCommand("ablate.ts", [file, "--quiet", "--no-report"]).spawn();
      const output = child.output();
      let exited = false;
      output.then(() => (exited = true), () => (exited = true));
      const deadline = Date.now() + 60_000;
      let seen = false;
      while (!seen && !exited && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        seen = await Array.fromAsync(Deno.readDir(locks)).then((e) => e.length > 0, () => false);
      }
      if (!seen) {
        if (!exited) child.kill("SIGKILL");
        const o = await output;
        assert.fail(`no run was locked (exit code ${o.code}): ${new TextDecoder().decode(o.stderr)}`);
      }
      child.kill("SIGTERM");
      const { code } = await output;
      assert.equal(code, 130);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(locks)), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("deno task ablate in two processes: each run trained and measured once, both print the tables", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // One noisy variant, two seeds: two runs to share, each trained and measured by one process.
    const file = await tinyAblation(dir, {
      set: "  data.labelNoise: 0.25",
      variants: "\n  - { name: Ada-DF, set: { method.distribution: fused } }",
    });
    const start = () =>
      taskCommand("ablate.ts", [file, "--quiet", "--no-report", "--poll-seconds", "0.2"]).output();
    const outputs = await Promise.all([start(), start()]);
    const decoder = new TextDecoder();
    const texts = outputs.map((o) => decoder.decode(o.stdout));
    outputs.forEach((o, i) => assert.equal(o.code, 0, `process ${i}: ${decoder.decode(o.stderr)}`));
    const trained = texts.flatMap((t) => t.split("\n").filter((l) => / training in /.test(l)));
    assert.equal(trained.length, 2, texts.join("\n---\n"));
    assert.equal(new Set(trained.map((l) => l.split(" in ")[1])).size, 2);
    // The label-noise measurements are shared too: each run measured once.
    const measured = texts.flatMap((t) =>
      t.split("\n").filter((l) => l.startsWith("measuring the flipped labels"))
    );
    assert.equal(measured.length, 2, texts.join("\n---\n"));
    assert.equal(new Set(measured).size, 2);
    for (const t of texts) {
      assert.match(t, /\| Ada-DF \| method\.distribution="fused" \| 2 \|/);
      assert.match(t, /## How the runs treat their flipped training labels/);
      assert.match(t, /\n\| Ada-DF \| 2 \| /, "the label-noise row covers both seeds");
    }
    assert.deepEqual(await Array.fromAsync(Deno.readDir(join(dir, "out", ABLATION_FILES.locks))), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every ablation file in configs/ resolves every run's config", async () => {
  const dir = new URL("../configs/", import.meta.url).pathname;
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /\.ya?ml$/.test(n));
  let ablations = 0;
  for (const name of files) {
    const text = await Deno.readTextFile(join(dir, name));
    if (!/^variants:/m.test(text)) continue;
    ablations++;
    const ablation = parseAblation(text, join(dir, name));
    for (const variant of ablation.variants) {
      for (const seed of ablation.seeds) {
        const config = await ablationRunConfig(ablation, variant, seed);
        assert.equal(config.seed, seed, `${name}: ${variant.name}`);
        for (const [path, value] of Object.entries({ ...ablation.set, ...variant.set })) {
          const actual = path.split(".").reduce((o: unknown, k) => (o as Record<string, unknown>)[k], config);
          assert.deepEqual(actual, value, `${name}: ${variant.name}: ${path}`);
        }
      }
    }
  }
  assert.ok(ablations >= 2, `${ablations} ablation files`);
});

Deno.test("parseAblation() names the file and the problem", () => {
  assert.throws(
    () => parseAblation("variants: []", "a.yaml"),
    /a\.yaml:1:1: variants: expected a non-empty list/,
  );
  assert.throws(
    () => parseAblation("seed: [1]\nvariants: [{name: x}]", "b.yaml"),
    /b\.yaml:1:1: unknown key seed \(did you mean seeds\?\)/,
  );
  assert.throws(
    () => parseAblation("variants: [{name: x}, {name: x}]", "c.yaml"),
    /c\.yaml:1:24: variants\[1\]\.name: 'x' appears twice/,
  );
  assert.throws(
    () => parseAblation("seeds: [-1]\nvariants: [{name: x}]", "d.yaml"),
    /d\.yaml:1:1: seeds: expected/,
  );
});

Deno.test("deno task train, eval, predict and ablate reject bad arguments with exit code 2", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (m: string) => void errors.push(m);
  try {
    assert.equal(await trainMain(["--bogus"]), 2);
    assert.equal(await trainMain(["--preset", "synthetic", "--config", "x.yaml"]), 2);
    assert.equal(await trainMain(["--resume", "runs/x", "--set", "trainer.epochs=2"]), 2);
    assert.equal(await evalMain(["runs/x", "--checkpoint", "first"]), 2);
    assert.equal(await predictMain(["runs/x", "a.jpg", "--checkpoint", "first"]), 2);
    assert.equal(await ablateMain(["a.yaml", "--poll-seconds", "0"]), 2);
    assert.equal(await ablateMain(["a.yaml", "b.yaml"]), 2);
  } finally {
    console.error = original;
  }
  assert.match(errors[0], /bogus/);
  assert.deepEqual(errors.slice(-4, -2), [
    "--checkpoint must be best or last, got 'first'",
    "--checkpoint must be best or last, got 'first'",
  ]);
  assert.equal(errors.at(-2), "--poll-seconds must be a number in (0, 3600], got '0'");
  assert.match(errors.at(-1)!, /^expected one ablation file/);
});

Deno.test("deno task ablate --run N, --plan and --collect: one run at a time, idempotent, the missing named", async () => {
  const dir = await Deno.makeTempDir();
  const printed: string[] = [];
  const original = console.log;
  try {
    const file = await tinyAblation(dir, { seeds: "[0]" });
    const ablation = parseAblation(await Deno.readTextFile(file), file);
    const overrides = ["trainer.epochs=2"];
    const [first, second] = ablationPlan(ablation);
    assert.deepEqual([first.index, first.name, second.index, second.name], [
      1,
      "baseline-seed0",
      2,
      "ada-df-seed0",
    ]);
    // Run 1 stopped after its first epoch: half-done.
    const config = await ablationRunConfig(ablation, ablation.variants[0], 0, { overrides });
    await trainRun(config, {
      ...quiet,
      runDir: first.runDir,
      report: false,
      hooks: [{ onEpochEnd: (t) => t.stop() }],
    });
    const status = await ablationStatus(ablation, { overrides });
    assert.deepEqual(status.map((s) => [s.index, s.state, s.epochs]), [
      [1, "partial", { done: 1, planned: 2 }],
      [2, "missing", { done: 0, planned: 2 }],
    ]);
    // A run another process holds (a fresh lock file) is running, and says who holds it.
    const lock = join(ablation.output, ABLATION_FILES.locks, `${second.name}.lock`);
    await Deno.mkdir(join(ablation.output, ABLATION_FILES.locks), { recursive: true });
    await Deno.writeTextFile(
      lock,
      `pid 7 on node3 since 2026-01-01T00:00:00.000Z (${crypto.randomUUID()})\n`,
    );
    const held = (await ablationStatus(ablation, { overrides }))[1];
    assert.deepEqual([held.state, held.holder], ["running", "pid 7 on node3 since 2026-01-01T00:00:00.000Z"]);
    await Deno.remove(lock);
    const collected = await ablate(ablation, { collect: true, overrides, report: false, log: () => {} });
    assert.deepEqual([collected.runs.length, collected.missing.map((m) => m.state)], [0, [
      "partial",
      "missing",
    ]]);
    assert.ok(collected.markdown.includes(`| 1 | baseline | 0 | partial | 1 / 2 | ${first.runDir} |`));
    assert.match(collected.markdown, /\| baseline \| method\.distribution="onehot" \| 0 \| - \| - \| - \|/);

    const resumed = await runAblationEntry(ablation, 1, {
      overrides,
      progress: false,
      report: false,
      log: () => {},
    });
    assert.equal(resumed.action, "resumed");
    assert.equal(
      metricsWithoutTimes(await Deno.readTextFile(join(first.runDir, RUN_FILES.metrics))).length,
      2,
    );
    const again = await runAblationEntry(ablation, 1, {
      overrides,
      progress: false,
      report: false,
      log: () => {},
    });
    assert.deepEqual([again.action, again.run.bestAccuracy], ["done before", resumed.run.bestAccuracy]);
    await assert.rejects(() => runAblationEntry(ablation, 3, { overrides }), /runs 1 to 2/);

    console.log = (line: string) => void printed.push(line);
    assert.equal(await ablateMain([file, "--plan", "--json", "--set", "trainer.epochs=2"]), 0);
    assert.deepEqual(JSON.parse(printed.join("\n")).map((s: { state: string }) => s.state), [
      "finished",
      "missing",
    ]);
    printed.length = 0;
    assert.equal(await ablateMain([file, "--collect", "--no-report", "--set", "trainer.epochs=2"]), 0);
    assert.ok(
      printed.includes("missing 1 of 2 runs: 2 (Ada-DF, seed 0: missing, 0/2 epochs)"),
      printed.join("\n"),
    );
    const csv = await Deno.readTextFile(join(ablation.output, ABLATION_FILES.csv));
    assert.deepEqual(csv.trim().split("\n").slice(1).map((row) => row.split(",").slice(0, 2)), [
      ["baseline", "1"],
      ["Ada-DF", "0"],
    ]);

    // --slurm writes the scripts (no --submit): the run's options travel with them, the ones after -- too.
    printed.length = 0;
    const slurmArgs = [
      "--slurm",
      "--json",
      "--set",
      "trainer.epochs=2",
      "--partition",
      "cpu",
      "--",
      "--gres=gpu:1",
    ];
    assert.equal(await ablateMain([file, ...slurmArgs]), 0);
    const files = JSON.parse(printed.join("\n"));
    assert.equal(files.count, 2);
    assert.equal(files.jobs, undefined);
    const runs = await Deno.readTextFile(files.runs);
    assert.match(runs, /^#SBATCH --array=1-2\n(.*\n)*#SBATCH --partition=cpu\n#SBATCH --gres=gpu:1$/m);
    assert.match(
      runs,
      / task ablate \S+ablation\.yaml --output \S+ --run "\$SLURM_ARRAY_TASK_ID" --quiet --set trainer\.epochs=2$/m,
    );
    assert.match(await Deno.readTextFile(files.collect), / --collect --set trainer\.epochs=2$/m);
  } finally {
    console.log = original;
    await Deno.remove(dir, { recursive: true });
    await initBackend("cpu");
  }
});

Deno.test("deno task ablate: modes, run numbers and Slurm options checked (exit code 2), run folders unique", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (m: string) => void errors.push(m);
  try {
    assert.equal(await ablateMain(["a.yaml", "--plan", "--collect"]), 2);
    assert.equal(await ablateMain(["a.yaml", "--partition", "cpu"]), 2);
    assert.equal(await ablateMain(["a.yaml", "--run", "0"]), 2);
    assert.equal(await ablateMain(["a.yaml", "--slurm", "--cpus-per-task", "two"]), 2);
    assert.equal(await ablateMain(["a.yaml", "--", "--qos=high"]), 2);
    assert.equal(await ablateMain(["a.yaml", "--collect", "--json"]), 2);
  } finally {
    console.error = original;
  }
  assert.deepEqual(errors, [
    "--plan, --collect: choose one",
    "--partition goes with --slurm",
    "--run must be a whole number > 0, got '0'",
    "--cpus-per-task must be a whole number > 0, got 'two'",
    "sbatch options after -- go with --slurm",
    "--json goes with --plan or --slurm",
  ]);
  // Two variant names with one folder name would share their runs.
  assert.throws(
    () => parseAblation("variants: [{ name: Ada-DF }, { name: ada df }]", "e.yaml"),
    /e\.yaml:1:\d+: variants\[1\]\.name: 'ada df' and 'Ada-DF' would share the run folders 'ada-df-seed\*'/,
  );
});
