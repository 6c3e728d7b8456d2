import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import sharp from "sharp";
import { configToYaml, DEFAULT_CONFIG, resolveConfig } from "../experiments/config.ts";
import { resumeRun, RUN_FILES, trainRun } from "../experiments/run.ts";
import type { AblationNoiseRun, AblationRun } from "../experiments/ablation.ts";
import {
  REPORT_FILES,
  type RunReportFigures,
  writeAblationReport,
  writeRunReport,
} from "../experiments/report.ts";
import { main as reportMain } from "../cli/report.ts";
import { type ChromiumPage, findChromium, openChromium, withDeadline } from "./_web.ts";
import { tinySyntheticOverrides } from "./_tiny.ts";

const CHROMIUM = findChromium();
if (!CHROMIUM) {
  console.log(
    "report_test.ts: skipping the browser check of the reports: Chromium not found ($CHROMIUM_BIN, " +
      "/usr/bin/chromium, or chromium on PATH); install Debian's chromium package to run it.",
  );
}

/** Decodes a PNG and checks that it is a picture: several colours, not one value. */
async function assertPicture(path: string): Promise<void> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.ok(info.width > 100 && info.height > 100, `${path}: ${info.width}x${info.height}`);
  const colours = new Set<number>();
  for (let i = 0; i < data.length; i += 3) colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  assert.ok(colours.size > 8, `${path}: only ${colours.size} distinct colours`);
  const stats = await sharp(path).removeAlpha().stats();
  assert.ok(stats.channels.some((c) => c.stdev > 5), `${path}: nearly one value`);
}

/** Checks that a page stands alone: every image inline, no script, no external resource. */
function assertSelfContained(html: string): void {
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  const sources = [...html.matchAll(/<img [^>]*src="([^"]*)"/g)].map((m) => m[1]);
  assert.ok(sources.length > 0, "the page has images");
  for (const src of sources) assert.match(src.slice(0, 40), /^data:image\/(svg\+xml|png);base64,/);
  assert.doesNotMatch(html, /<script|<link |<iframe|url\(http/);
}

/**
 * Opens each page in headless Chromium through the DevTools protocol and returns, per page, the console
 * errors and warnings, uncaught exceptions, log errors (failed loads) and images that did not decode.
 */
async function browserProblems(chromium: string, pages: string[]): Promise<string[][]> {
  const profile = await Deno.makeTempDir({ prefix: "report-chromium-" });
  let browser: ChromiumPage | undefined;
  try {
    const tab = browser = await openChromium(chromium, { profile });
    for (const domain of ["Page", "Runtime", "Log"]) await tab.send(`${domain}.enable`);
    const results: string[][] = [];
    for (const page of pages) {
      const problems: string[] = [];
      let loaded!: () => void;
      const load = new Promise<void>((resolve) => (loaded = resolve));
      const stop = tab.on(({ method, params: p }) => {
        if (method === "Page.loadEventFired") loaded();
        if (
          method === "Runtime.consoleAPICalled" && ["error", "warning", "assert"].includes(p.type as string)
        ) {
          problems.push(`console.${p.type}: ${JSON.stringify(p.args)}`);
        }
        if (method === "Runtime.exceptionThrown") {
          problems.push(`exception: ${JSON.stringify(p.exceptionDetails)}`);
        }
        if (method === "Log.entryAdded") {
          const entry = p.entry as { level: string; text: string; url?: string };
          if (entry.level === "error" || entry.level === "warning") {
            problems.push(`log ${entry.level}: ${entry.text} ${entry.url ?? ""}`);
          }
        }
      });
      try {
        await tab.send("Page.navigate", { url: pathToFileURL(page).href });
        await withDeadline(load, `loading ${page}`, () => void tab.close());
        const check = await tab.evaluate(
          "JSON.stringify([document.images.length, [...document.images].filter((i) => " +
            "!i.complete || i.naturalWidth === 0).map((i) => i.alt)])",
        );
        const [images, broken] = JSON.parse(check as string) as [number, string[]];
        if (images === 0) problems.push("no image on the page");
        for (const alt of broken) problems.push(`image not decoded: ${alt}`);
      } finally {
        stop();
      }
      results.push(problems);
    }
    return results;
  } finally {
    await browser?.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** A tiny run with label noise, trained with its report written at the end. */
async function tinyNoisyRun(dir: string): Promise<string> {
  const config = await resolveConfig({
    preset: "synthetic",
    overrides: [
      ...tinySyntheticOverrides(join(dir, "cache"), 40),
      "data.labelNoise=0.3",
      "trainer.epochs=2",
      "trainer.lr=0.003",
    ],
  });
  const { runDir } = await trainRun(config, { runDir: join(dir, "run"), progress: false, log: () => {} });
  return runDir;
}

/** An ablation's results in memory: two methods at two noise levels, two seeds each. */
function tinyAblation(dir: string) {
  const variants = [
    { name: "baseline, 10% noise", set: { "data.labelNoise": 0.1, "method.distribution": "onehot" } },
    { name: "Ada-DF, 10% noise", set: { "data.labelNoise": 0.1, "method.distribution": "fused" } },
    { name: "baseline, 20% noise", set: { "data.labelNoise": 0.2, "method.distribution": "onehot" } },
    { name: "Ada-DF, 20% noise", set: { "data.labelNoise": 0.2, "method.distribution": "fused" } },
  ];
  const runs: AblationRun[] = variants.flatMap((v, k) =>
    [0, 1].map((seed) => ({
      variant: v.name,
      seed,
      runDir: join(dir, `v${k}-seed${seed}`),
      config: { ...DEFAULT_CONFIG, data: { ...DEFAULT_CONFIG.data, labelNoise: v.set["data.labelNoise"] } },
      bestAccuracy: 0.6 + 0.05 * (k % 2) - 0.1 * Math.floor(k / 2) + 0.01 * seed,
      lastAccuracy: 0.58 + 0.05 * (k % 2) - 0.1 * Math.floor(k / 2),
      lastMeanClassAccuracy: 0.55 + 0.05 * (k % 2) + 0.02 * seed,
    }))
  );
  const report = (auc: number) => ({
    clean: 80,
    flipped: 20,
    attentionClean: 0.8,
    attentionFlipped: 0.6,
    attentionAuc: auc,
    cleanAccuracy: 0.9,
    flippedRecovered: 0.4,
    flippedMemorised: 0.3,
    labelTrueMass: 0.3,
    labelNoisyMass: 0.5,
    fusedTrueMass: 0.3,
    fusedNoisyMass: 0.45,
  });
  const noise: AblationNoiseRun[] = runs.map((r, i) => ({
    variant: r.variant,
    seed: r.seed,
    fused: r.variant.startsWith("Ada-DF"),
    report: report(0.6 + 0.02 * i),
  }));
  return { ablation: { name: "tiny noise ablation", variants }, runs, noise };
}

Deno.test({
  name: "report: a tiny run with label noise and a tiny ablation get pages, PNGs and no browser errors",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "report-test-" });
    try {
      // The run writes its report at the end.
      const runDir = await tinyNoisyRun(dir);
      const html = join(runDir, REPORT_FILES.html);
      assertSelfContained(await Deno.readTextFile(html));
      const figures: RunReportFigures = JSON.parse(
        await Deno.readTextFile(join(runDir, REPORT_FILES.dir, REPORT_FILES.data)),
      );
      // 20% of the 40 images are the test split; the confusion matrix counts each once.
      assert.equal(figures.testImages.evaluated, 8);
      assert.equal(figures.confusion.flat().reduce((a, b) => a + b), 8);
      const correct = figures.confusion.reduce((s, row, i) => s + row[i], 0);
      assert.equal(figures.accuracy, correct / 8);
      assert.equal(figures.epochs, 2);
      assert.ok(figures.attentionPerClass && figures.attentionPerClass.length === 7);
      const noise = figures.labelNoise!;
      const flipped = JSON.parse(await Deno.readTextFile(join(runDir, RUN_FILES.noise))).flipped.length;
      assert.equal(noise.flipped, flipped);
      assert.equal(noise.clean + noise.flipped, 32);
      assert.ok(noise.auc >= 0 && noise.auc <= 1, `AUC ${noise.auc}`);
      assert.equal(figures.embedding?.images, 8);
      // Figure 1: the clear faces' ground truth is more peaked than the ambiguous ones'.
      const faces = figures.figure1!;
      assert.equal(faces.length, 6);
      const clear = Math.max(...faces.filter((f) => f.kind === "clear").map((f) => f.entropy));
      const ambiguous = Math.min(...faces.filter((f) => f.kind === "ambiguous").map((f) => f.entropy));
      assert.ok(clear <= ambiguous, `clear ${clear} vs ambiguous ${ambiguous}`);
      for (const f of faces) {
        assert.deepEqual(Object.keys(f.distributions), [
          "ground truth",
          "prediction",
          "label l_i",
          "class c'_y",
          "fused f_i",
        ]);
        for (const p of Object.values(f.distributions)) {
          assert.ok(Math.abs(p.reduce((a, b) => a + b) - 1) < 1e-3);
        }
      }
      const charts = [
        "curves",
        "confusion",
        "attention",
        "label-noise",
        "class-distributions",
        "embedding",
        "figure1",
      ];
      for (const chart of charts) {
        await assertPicture(join(runDir, REPORT_FILES.dir, `${chart}.png`));
        JSON.parse(await Deno.readTextFile(join(runDir, REPORT_FILES.dir, `${chart}.vl.json`)));
      }

      // A resumed run writes it again; so does the command.
      await Deno.remove(html);
      await resumeRun(runDir, { progress: false, log: () => {} });
      assert.ok((await Deno.stat(html)).isFile, "the resumed run wrote its report");
      const lines: string[] = [];
      const log = console.log;
      console.log = (line: string) => lines.push(line);
      try {
        assert.equal(await reportMain([runDir, "--checkpoint", "last", "--max-embedding", "6"]), 0);
      } finally {
        console.log = log;
      }
      assert.ok(lines.some((l) => l.startsWith(`report: ${html}`)), lines.join("\n"));
      const last = JSON.parse(await Deno.readTextFile(join(runDir, REPORT_FILES.dir, REPORT_FILES.data)));
      assert.equal(last.checkpoint, "last.safetensors");
      assert.equal(last.embedding.images, 6);

      // The ablation page.
      const ablationDir = join(dir, "ablation");
      await Deno.mkdir(ablationDir);
      const page = await writeAblationReport(ablationDir, tinyAblation(ablationDir));
      assertSelfContained(await Deno.readTextFile(page.html));
      assert.deepEqual(Object.keys(page.png), ["accuracy", "label-noise"]);
      for (const png of Object.values(page.png)) await assertPicture(png);
      const data = JSON.parse(
        await Deno.readTextFile(join(ablationDir, REPORT_FILES.dir, REPORT_FILES.data)),
      );
      // Variants that differ only in their noise level share a method.
      assert.deepEqual(data.methods, {
        "baseline, 10% noise": "baseline",
        "Ada-DF, 10% noise": "Ada-DF",
        "baseline, 20% noise": "baseline",
        "Ada-DF, 20% noise": "Ada-DF",
      });
      assert.match(await Deno.readTextFile(page.html), /60\.50 ± 0\.71/); // baseline, 10%: best 60, 61

      if (CHROMIUM) {
        // A control page with a broken image and a console error: the check sees both.
        const control = join(dir, "control.html");
        await Deno.writeTextFile(
          control,
          '<!DOCTYPE html><img alt="broken" src="data:image/png;base64,AAAA"><script>console.error("x")</script>',
        );
        const problems = await browserProblems(CHROMIUM, [html, page.html, control]);
        assert.deepEqual(problems.slice(0, 2), [[], []]);
        assert.ok(problems[2].some((p) => p.startsWith("console.error")), problems[2].join("\n"));
        assert.ok(problems[2].includes("image not decoded: broken"), problems[2].join("\n"));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("report: a broken metrics.jsonl line is named by file and line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report-test-" });
  try {
    await assert.rejects(writeRunReport(dir), /is not a run folder/);
    await Deno.writeTextFile(join(dir, RUN_FILES.config), configToYaml(DEFAULT_CONFIG));
    await Deno.writeTextFile(join(dir, RUN_FILES.metrics), '{"epoch": 1}\n{"epoch": \n');
    await assert.rejects(writeRunReport(dir), new RegExp(`${RUN_FILES.metrics}:2: `));
    await Deno.writeTextFile(join(dir, RUN_FILES.metrics), '{"epoch": 1}\n[1, 2]\n');
    await assert.rejects(writeRunReport(dir), /metrics\.jsonl:2: not an epoch's metrics/);
    await Deno.remove(join(dir, RUN_FILES.metrics));
    await assert.rejects(writeRunReport(dir), /metrics\.jsonl is missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
