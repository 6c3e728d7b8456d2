/**
 * Throughput of the data pipeline: the training pipeline (RandAugment `rand-m5-n3-mstd0.5`, flip,
 * random erasing) and the evaluation pipeline, at 112 and 224 pixels, on JPEGs this script writes
 * itself (100x100, like RAF-DB's aligned faces, in RAF-DB's layout). Prints one JSON line per
 * pipeline and size:
 *
 * - `imagesPerSecond`: a full pass of a prefetching {@linkcode DataLoader} over the images;
 * - `decodeMsPerImage`: sharp's decode + resize, one image at a time;
 * - `mainThreadMsPerImage`: the pure-JS part (augment, normalise, erase) that runs on the main thread.
 *
 * Then one `train+step` line: the training loader consumed by a simulated synchronous training step
 * (busy main thread) of `--step-ips` images/s, reporting how long the consumer waited for batches.
 *
 * Usage: deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys bench/pipeline.ts
 *   [--images 256] [--batch 32] [--sizes 112,224] [--step-ips 20]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import sharp from "sharp";
import { Random } from "../engine/random.ts";
import { DataLoader, ImagePipeline, type PipelineOptions, rafDb, shuffleSampler } from "../datasets/mod.ts";
import { DEFAULT_CONFIG } from "../experiments/config.ts";
import { pipelineOptions } from "../experiments/run.ts";
import type { RgbImage } from "../datasets/transforms.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    images: { type: "string", default: "256" },
    batch: { type: "string", default: "32" },
    sizes: { type: "string", default: "112,224" },
    "step-ips": { type: "string", default: "20" },
  },
});
const count = Number(values.images);
const batchSize = Number(values.batch);
const sizes = values.sizes.split(",").map(Number);
const stepImagesPerSecond = Number(values["step-ips"]);

async function writeFixtures(root: string, n: number): Promise<void> {
  const random = new Random(1);
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) {
    const stem = `train_${String(i).padStart(5, "0")}`;
    lines.push(`${stem}.jpg ${random.int(7) + 1}`);
    const pixels = Uint8Array.from({ length: 100 * 100 * 3 }, () => random.int(256));
    const jpeg = await sharp(pixels, { raw: { width: 100, height: 100, channels: 3 } }).blur(1.5).jpeg({
      quality: 90,
    })
      .toBuffer();
    await Deno.writeFile(join(root, "Image", "aligned", `${stem}_aligned.jpg`), jpeg);
  }
  await Deno.writeTextFile(join(root, "EmoLabel", "list_patition_label.txt"), lines.join("\n") + "\n");
}

const root = await Deno.makeTempDir({ prefix: "ada-df-bench-pipeline-" });
try {
  await Deno.mkdir(join(root, "Image", "aligned"), { recursive: true });
  await Deno.mkdir(join(root, "EmoLabel"), { recursive: true });
  await writeFixtures(root, count);
  const dataset = await rafDb(root, { split: "train" });

  for (const size of sizes) {
    const recipe = pipelineOptions({ data: { ...DEFAULT_CONFIG.data, size } });
    for (
      const [name, options] of [["train", recipe.train], ["eval", recipe.eval]] as [string, PipelineOptions][]
    ) {
      const pipeline = new ImagePipeline(options);
      const loader = new DataLoader(dataset, {
        batchSize,
        pipeline,
        sampler: shuffleSampler(dataset.size, { seed: 1 }),
        dropLast: false,
        prefetch: 2,
        seed: 1,
      });
      // warm-up: one batch
      await loader.batches(99).next();
      let start = performance.now();
      let images = 0;
      for await (const batch of loader.batches(0)) images += batch.labels.length;
      const seconds = (performance.now() - start) / 1000;

      const decoded: RgbImage[] = [];
      const sample = Math.min(64, dataset.size);
      start = performance.now();
      for (let i = 0; i < sample; i++) decoded.push(await pipeline.decode(dataset.item(i)));
      const decodeMs = (performance.now() - start) / sample;
      const out = new Float32Array(pipeline.floatsPerItem);
      const random = new Random(2);
      start = performance.now();
      for (const image of decoded) pipeline.finish(image, random, { out });
      const mainMs = (performance.now() - start) / sample;

      console.log(JSON.stringify({
        pipeline: name,
        size,
        batch: batchSize,
        images,
        imagesPerSecond: Math.round((images / seconds) * 10) / 10,
        decodeMsPerImage: Math.round(decodeMs * 100) / 100,
        mainThreadMsPerImage: Math.round(mainMs * 100) / 100,
        randAugment: options.randAugment ?? null,
        prefetch: 2,
        source: "100x100 JPEG",
      }));
    }
  }

  // A consumer that blocks the main thread like a synchronous training step.
  const size = sizes[0];
  const loader = new DataLoader(dataset, {
    batchSize,
    pipeline: pipelineOptions({ data: { ...DEFAULT_CONFIG.data, size } }).train,
    sampler: shuffleSampler(dataset.size, { seed: 1 }),
    dropLast: true,
    prefetch: 2,
    seed: 1,
  });
  const batches = Math.min(loader.length, 6);
  const stepMs = (batchSize / stepImagesPerSecond) * 1000;
  let waited = 0;
  let done = 0;
  const begin = performance.now();
  const iterator = loader.batches(0);
  for (let b = 0; b < batches; b++) {
    const t = performance.now();
    const { value } = await iterator.next();
    if (b > 0) waited += performance.now() - t; // the first batch cannot be prefetched
    done += value!.labels.length;
    const until = performance.now() + stepMs;
    while (performance.now() < until) { /* simulated training step */ }
  }
  await iterator.return(undefined);
  const total = performance.now() - begin;
  console.log(JSON.stringify({
    pipeline: "train+step",
    size,
    batch: batchSize,
    images: done,
    stepImagesPerSecond,
    stallMsAfterFirstBatch: Math.round(waited),
    stallFraction: Math.round((waited / total) * 1000) / 1000,
  }));
} finally {
  await Deno.remove(root, { recursive: true });
}
