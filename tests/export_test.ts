import { initBackend } from "../engine/backend.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { tf } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { evaluateModel } from "../training/evaluate.ts";
import { resolveConfig } from "../experiments/config.ts";
import { DataLoader, type Dataset, ImagePipeline } from "../datasets/mod.ts";
import { type Attention, noAttention, sigmoidAttention } from "../strategies/attention.ts";
import { EXPORT_FILES, exportInferenceModel, exportRun, type PreprocessSpec } from "../experiments/export.ts";
import { loadExportedModel, predict } from "../experiments/inference.ts";
import { loadRun, trainRun } from "../experiments/run.ts";
import { predictImages } from "../experiments/predict.ts";
import { main as exportMain } from "../cli/export.ts";
import { tinySyntheticOverrides } from "./_tiny.ts";

const CLASSES = ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral"];

/** Moves every BatchNorm statistic and affine parameter and the attention bias away from their initial values. */
function perturb(model: AdaDfModel, seed: number): void {
  const rng = new Random(seed);
  const set = (v: tf.Variable, f: () => number) => {
    const t = tf.tensor(Float32Array.from({ length: v.size }, f), v.shape);
    v.assign(t);
    t.dispose();
  };
  for (const [name, v] of model.buffers) {
    if (name.endsWith("running_mean")) set(v, () => rng.normal(0, 0.3));
    else if (name.endsWith("running_var")) set(v, () => rng.uniform(0.4, 2.5));
  }
  for (const [name, v] of model.params) {
    if (/(bn\d|downsample\.1)\.weight$/.test(name)) set(v, () => rng.uniform(0.5, 1.5));
    else if (/(bn\d|downsample\.1)\.bias$/.test(name)) set(v, () => rng.normal(0, 0.2));
    else if (name === "target.attention.bias") set(v, () => 0.7);
    else if (name === "target.fc.weight") set(v, () => rng.normal(0, 0.15));
  }
}

/** Writes `count` PNG images of varied sizes with smooth patterns and noise; returns their paths. */
async function writeImages(dir: string, count: number, seed: number): Promise<string[]> {
  const rng = new Random(seed);
  const paths: string[] = [];
  for (let k = 0; k < count; k++) {
    const width = 24 + rng.int(40);
    const height = 24 + rng.int(40);
    const data = new Uint8Array(width * height * 3);
    const phase = [rng.uniform(0, 6), rng.uniform(0, 6), rng.uniform(0, 6)];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          const v = 128 + 90 * Math.sin(x * 0.3 + y * 0.2 * (c + 1) + phase[c]) + rng.normal(0, 20);
          data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    const path = join(dir, `image-${k}.png`);
    await Deno.writeFile(path, await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer());
    paths.push(path);
  }
  return paths;
}

/** A dataset over image files (labels 0), for the evaluation loader. */
function fileDataset(paths: string[]): Dataset {
  return {
    name: "files",
    root: "",
    classNames: CLASSES,
    split: "test",
    size: paths.length,
    labels: new Int32Array(paths.length),
    item: (i) => ({ index: i, label: 0, path: paths[i], source: paths[i] }),
  };
}

/** The trainer's evaluation (core/evaluate.ts) of image files: [N][C] probabilities. */
async function evaluationProbabilities(
  model: AdaDfModel,
  attention: Attention,
  paths: string[],
  pipeline: ImagePipeline,
): Promise<number[][]> {
  const loader = new DataLoader(fileDataset(paths), { batchSize: 3, pipeline, prefetch: 0 });
  const { probabilities } = await evaluateModel(model, attention, loader);
  const C = model.numClasses;
  return paths.map((_, i) => Array.from(probabilities.subarray(i * C, (i + 1) * C)));
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  assert.equal(a.length, b.length);
  let max = 0;
  a.forEach((row, i) => row.forEach((v, j) => (max = Math.max(max, Math.abs(v - b[i][j])))));
  return max;
}

function rows(
  results: { probabilities: Record<string, number> }[],
  classNames: readonly string[],
): number[][] {
  return results.map((r) => classNames.map((n) => r.probabilities[n]));
}

const STANDARD_LAYERS = new Set([
  "InputLayer",
  "ZeroPadding2D",
  "Conv2D",
  "BatchNormalization",
  "Activation",
  "MaxPooling2D",
  "Add",
  "GlobalAveragePooling2D",
  "Dense",
  "Multiply",
]);

Deno.test("exportInferenceModel() then predict() gives the trainer's evaluation probabilities", async () => {
  const dir = await Deno.makeTempDir();
  const model = new AdaDfModel("tiny", { numClasses: 7, seed: 11 });
  try {
    perturb(model, 5);
    const images = await writeImages(dir, 5, 1);
    const out = join(dir, "export");
    const result = await exportInferenceModel(model, { outDir: out, size: 32, classNames: CLASSES });
    assert.deepEqual(
      [...Deno.readDirSync(out)].map((e) => e.name).sort(),
      Object.values(EXPORT_FILES).sort(),
      "the export's files and no temporary file",
    );
    assert.equal(result.weightBytes, (await Deno.stat(join(out, EXPORT_FILES.weights))).size);

    // Only standard, serialisable layers; BatchNorm with PyTorch's epsilon.
    const modelJson = JSON.parse(await Deno.readTextFile(join(out, EXPORT_FILES.model)));
    const layers = modelJson.modelTopology.config.layers as {
      class_name: string;
      config: { epsilon?: number };
    }[];
    for (const layer of layers) assert.ok(STANDARD_LAYERS.has(layer.class_name), layer.class_name);
    for (const layer of layers.filter((l) => l.class_name === "BatchNormalization")) {
      assert.equal(layer.config.epsilon, 1e-5);
    }
    assert.ok(!JSON.stringify(modelJson).includes("aux."), "the auxiliary branch is dropped");

    const preprocess: PreprocessSpec = JSON.parse(
      await Deno.readTextFile(join(out, EXPORT_FILES.preprocess)),
    );
    assert.equal(preprocess.inputSize, 32);
    assert.deepEqual(preprocess.classNames, CLASSES);
    assert.deepEqual(preprocess.mean, [0.485, 0.456, 0.406]);
    assert.equal(preprocess.output, "probabilities");

    const loaded = await loadExportedModel(out);
    try {
      const predicted = await predict(loaded, images);
      const expected = await evaluationProbabilities(
        model,
        sigmoidAttention(),
        images,
        new ImagePipeline({ size: 32 }),
      );
      const diff = maxAbsDiff(rows(predicted, CLASSES), expected);
      assert.ok(diff < 1e-4, `max |export - evaluation| = ${diff}`);
      // The perturbations matter: the distributions are far from uniform and differ between images.
      assert.ok(Math.max(...expected.flat()) > 0.3);
      assert.ok(maxAbsDiff([expected[0]], [expected[1]]) > 1e-3);
      for (const [i, p] of predicted.entries()) {
        const best = expected[i].indexOf(Math.max(...expected[i]));
        assert.equal(p.prediction, CLASSES[best]);
      }
      // Encoded bytes give what their file gives.
      const fromBytes = await predict(loaded, [await Deno.readFile(images[0])]);
      assert.deepEqual(fromBytes[0], predicted[0]);
    } finally {
      loaded.dispose();
    }
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportInferenceModel() with attention none and with ten crops matches the evaluation", async () => {
  const dir = await Deno.makeTempDir();
  const model = new AdaDfModel("tiny", { numClasses: 7, seed: 12 });
  try {
    perturb(model, 6);
    const images = await writeImages(dir, 3, 2);
    const cases = [
      { attention: "none" as const, plugin: noAttention(), crops: 1 as const },
      { attention: "sigmoid" as const, plugin: sigmoidAttention(), crops: 10 as const },
    ];
    for (const c of cases) {
      const out = join(dir, `${c.attention}-${c.crops}`);
      await exportInferenceModel(model, {
        outDir: out,
        size: 24,
        classNames: CLASSES,
        attention: c.attention,
        crops: c.crops,
        runtime: false,
      });
      assert.ok(!(await Deno.stat(join(out, EXPORT_FILES.runtime)).catch(() => null)), "no runtime copied");
      const loaded = await loadExportedModel(out);
      try {
        assert.equal(loaded.preprocess.attention, c.attention);
        assert.equal(loaded.preprocess.crops, c.crops);
        const predicted = rows(await predict(loaded, images), CLASSES);
        const pipeline = new ImagePipeline({ size: 24, tenCrop: c.crops === 10 });
        const expected = await evaluationProbabilities(model, c.plugin, images, pipeline);
        const diff = maxAbsDiff(predicted, expected);
        assert.ok(diff < 1e-4, `${c.attention}, ${c.crops} crops: max |export - evaluation| = ${diff}`);
      } finally {
        loaded.dispose();
      }
    }
    // Without attention the unscaled logits give a different distribution than with it.
    const none = await loadExportedModel(join(dir, "none-1"));
    const withAttention = await exportInferenceModel(model, {
      outDir: join(dir, "sigmoid-1"),
      size: 24,
      classNames: CLASSES,
      runtime: false,
    });
    const sigmoid = await loadExportedModel(withAttention.outDir);
    try {
      const a = rows(await predict(none, images.slice(0, 1)), CLASSES);
      const b = rows(await predict(sigmoid, images.slice(0, 1)), CLASSES);
      assert.ok(maxAbsDiff(a, b) > 1e-3);
    } finally {
      none.dispose();
      sigmoid.dispose();
    }
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportRun() of a trained run: predict() equals predictImages() on the same files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await resolveConfig({
      preset: "synthetic",
      overrides: [
        ...tinySyntheticOverrides(join(dir, "cache"), 16, { faceSize: 20 }),
        "trainer.epochs=1",
        "trainer.lr=0.01",
      ],
    });
    const { runDir } = await trainRun(config, {
      progress: false,
      report: false,
      log: () => {},
      runDir: join(dir, "run"),
    });
    await initBackend("cpu");
    const folder = join(dir, "cache", "synthetic-16-0-20", "Image", "aligned");
    const images = [...Deno.readDirSync(folder)].map((e) => join(folder, e.name)).sort().slice(0, 4);
    assert.equal(images.length, 4);

    for (const which of ["best", "last"] as const) {
      const out = join(dir, `export-${which}`);
      const result = await exportRun(runDir, out, { checkpoint: which, runtime: false });
      assert.match(result.checkpointPath, new RegExp(`${which}\\.safetensors$`));
      const run = await loadRun(runDir, which);
      const loaded = await loadExportedModel(out);
      try {
        assert.deepEqual(loaded.preprocess.classNames, [...run.classNames]);
        assert.equal(loaded.preprocess.inputSize, 16);
        const expected = await predictImages(run, images);
        const predicted = await predict(loaded, images);
        const diff = maxAbsDiff(rows(predicted, run.classNames), rows(expected, run.classNames));
        assert.ok(diff < 1e-4, `${which}: max |predict - predictImages| = ${diff}`);
        assert.deepEqual(predicted.map((p) => p.prediction), expected.map((p) => p.prediction));
      } finally {
        loaded.dispose();
        run.model.dispose();
      }
    }

    // The command line writes the same folder and reports it.
    const lines: string[] = [];
    const out = join(dir, "export-cli");
    assert.equal(
      await exportMain([runDir, "--out", out, "--checkpoint", "last", "--no-runtime"], {
        log: (l) => lines.push(l),
      }),
      0,
    );
    assert.ok(await Deno.stat(join(out, EXPORT_FILES.model)));
    assert.match(lines.join("\n"), /last\.safetensors/);
    const errors: string[] = [];
    const error = (l: string) => errors.push(l);
    assert.equal(await exportMain([runDir], { error }), 2);
    assert.equal(await exportMain([runDir, "--out", out, "--checkpoint", "first"], { error }), 2);
    assert.match(
      errors.join("\n"),
      /expected one run folder and --out DIR[^]*--checkpoint must be best or last/,
    );
  } finally {
    await initBackend("cpu");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportInferenceModel() and loadExportedModel() reject bad paths with errors naming them", async () => {
  const dir = await Deno.makeTempDir();
  const model = new AdaDfModel("tiny", { numClasses: 7, seed: 1 });
  try {
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "x");
    await assert.rejects(
      () => exportInferenceModel(model, { outDir: file, size: 32, classNames: CLASSES, runtime: false }),
      (e: Error) => e.message.includes(file) && /not a folder/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(file), "x", "the file is left as it was");
    await assert.rejects(
      () =>
        exportInferenceModel(model, { outDir: join(dir, "x"), size: 32, classNames: ["a"], runtime: false }),
      /1 class names for a model with 7 classes/,
    );

    const empty = join(dir, "empty");
    await Deno.mkdir(empty);
    await assert.rejects(
      () => loadExportedModel(empty),
      (e: Error) => e.message.includes(empty) && e.message.includes("model.json is missing"),
    );
    await assert.rejects(() => loadExportedModel(join(dir, "nowhere")), /nowhere is not a folder/);
    await assert.rejects(() => exportRun(empty, join(dir, "y")), /empty is not a run folder: .*config\.yaml/);

    // A damaged preprocess.json names the file and the field; a bad image names the image.
    const out = join(dir, "export");
    await exportInferenceModel(model, { outDir: out, size: 32, classNames: CLASSES, runtime: false });
    const preprocessPath = join(out, EXPORT_FILES.preprocess);
    const good = await Deno.readTextFile(preprocessPath);
    await Deno.writeTextFile(preprocessPath, good.replace('"inputSize": 32', '"inputSize": "32"'));
    await assert.rejects(
      () => loadExportedModel(out),
      (e: Error) => e.message.includes(preprocessPath) && e.message.includes("inputSize"),
    );
    await Deno.writeTextFile(preprocessPath, good.replace('"inputSize": 32', '"inputSize": 48'));
    await assert.rejects(() => loadExportedModel(out), /inputSize 48 does not match/);
    await Deno.writeTextFile(preprocessPath, good);
    const loaded = await loadExportedModel(out);
    try {
      const broken = join(dir, "broken.png");
      await Deno.writeTextFile(broken, "not an image");
      await assert.rejects(() => predict(loaded, [broken]), (e: Error) => e.message.includes(broken));
      await assert.rejects(
        () => predict(loaded, [new Uint8Array([1, 2, 3])]),
        /image 0: encoded image \(3 bytes\): cannot decode image/,
      );
    } finally {
      loaded.dispose();
    }
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
