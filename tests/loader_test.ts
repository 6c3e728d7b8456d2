import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { Random } from "../engine/random.ts";
import {
  DataLoader,
  DatasetError,
  decodeImage,
  fer2013Csv,
  imageFolder,
  IMAGENET_MEAN,
  IMAGENET_STD,
  ImagePipeline,
  rafDb,
  repeatLabels,
  shuffleSampler,
} from "../datasets/mod.ts";
import { DEFAULT_CONFIG, resolveConfig } from "../experiments/config.ts";
import { makeLoaders, pipelineOptions, type RunData } from "../experiments/run.ts";
import { IMAGENET_NORMALIZATION } from "../backbones/normalization.ts";
import { writeImage, writeText } from "./_image_fixtures.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ada-df-loader-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A PNG whose left half is dark and right half bright (so flips and crops show). */
async function writeHalves(path: string, width = 16, height = 16): Promise<void> {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.fill(x < width / 2 ? 20 : 230, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeFile(path, await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer());
}

function normalised(value: number, channel: number): number {
  return (value / 255 - IMAGENET_MEAN[channel]) / IMAGENET_STD[channel];
}

/** A RAF-DB fixture of `count` training images with labels cycling 1..7. */
async function makeRaf(root: string, count: number, size = 12): Promise<void> {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    const stem = `train_${String(i).padStart(5, "0")}`;
    lines.push(`${stem}.jpg ${((i - 1) % 7) + 1}`);
    await writeImage(join(root, "Image", "aligned", `${stem}_aligned.jpg`), {
      width: size,
      height: size,
      rgb: [(i * 37) % 256, (i * 91) % 256, (i * 13) % 256],
    });
  }
  await writeText(join(root, "EmoLabel", "list_patition_label.txt"), lines.join("\n") + "\n");
}

Deno.test("decodeImage() turns grey, RGBA, 16-bit and WebP files into 8-bit RGB", async () => {
  await withTempDir(async (dir) => {
    const grey = join(dir, "grey.jpg");
    await Deno.writeFile(
      grey,
      await sharp(new Uint8Array(16).fill(90), { raw: { width: 4, height: 4, channels: 1 } }).toColourspace(
        "b-w",
      ).jpeg()
        .toBuffer(),
    );
    assert.equal((await sharp(grey).metadata()).channels, 1);
    const g = await decodeImage(grey);
    assert.equal(g.data.length, 4 * 4 * 3);
    assert.ok(g.data.every((v) => Math.abs(v - 90) <= 1));
    const rgba = join(dir, "rgba.png");
    await writeImage(rgba, { width: 4, height: 4, rgb: [10, 20, 30], channels: 4 });
    assert.deepEqual([...(await decodeImage(rgba)).data.subarray(0, 3)], [10, 20, 30]);
    const deep = join(dir, "deep.png");
    await Deno.writeFile(
      deep,
      await sharp({ create: { width: 3, height: 2, channels: 3, background: { r: 200, g: 20, b: 30 } } })
        .toColourspace("rgb16").png().toBuffer(),
    );
    assert.deepEqual([...(await decodeImage(deep)).data.subarray(0, 3)], [200, 20, 30]);
    const webp = join(dir, "a.webp");
    await writeImage(webp, { width: 5, height: 3, rgb: [1, 2, 3] });
    const w = await decodeImage(webp, { resize: { width: 7, height: 9 } });
    assert.equal(w.width, 7);
    assert.equal(w.height, 9);
    const tall = join(dir, "tall.png");
    await writeImage(tall, { width: 10, height: 20 });
    const shorter = await decodeImage(tall, { resize: { shorter: 5 } });
    assert.deepEqual([shorter.width, shorter.height], [5, 10]);
    const raw = await decodeImage({ data: new Uint8Array(4).fill(7), width: 2, height: 2, channels: 1 });
    assert.deepEqual([...raw.data], new Array(12).fill(7));
  });
});

Deno.test("decodeImage() fails with the file's path on corrupt, truncated or missing images", async () => {
  await withTempDir(async (dir) => {
    const random = new Random(3);
    const pixels = Uint8Array.from({ length: 64 * 64 * 3 }, () => random.int(256));
    const big = await sharp(pixels, { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const truncated = join(dir, "truncated.jpg");
    await Deno.writeFile(truncated, big.subarray(0, big.length >> 1));
    const junk = join(dir, "junk.jpg");
    await Deno.writeTextFile(junk, "not an image");
    for (const path of [truncated, junk, join(dir, "missing.jpg")]) {
      await assert.rejects(decodeImage(path), (error: unknown) => {
        assert.ok(error instanceof DatasetError);
        assert.equal(error.file, path);
        assert.match(error.message, /cannot decode image/);
        return true;
      });
    }
  });
});

Deno.test("ImagePipeline without augmentation resizes and normalises with ImageNet statistics", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.png");
    await writeImage(path, { width: 5, height: 9, rgb: [255, 128, 0] });
    const pipeline = new ImagePipeline({ size: 6 });
    assert.equal(pipeline.floatsPerItem, 6 * 6 * 3);
    const out = new Float32Array(pipeline.floatsPerItem + 2).fill(-99);
    await pipeline.process({ index: 0, label: 0, path, source: path }, new Random(1), { out, offset: 1 });
    assert.equal(out[0], -99);
    assert.equal(out[out.length - 1], -99);
    for (let i = 0; i < 36; i++) {
      [255, 128, 0].forEach((v, c) => assert.ok(Math.abs(out[1 + i * 3 + c] - normalised(v, c)) < 1e-5));
    }
  });
});

Deno.test("ImagePipeline flips, erases and RandAugments as configured", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "halves.png");
    await writeHalves(path);
    const item = { index: 0, label: 0, path, source: path };
    const plain = new Float32Array(16 * 16 * 3);
    await new ImagePipeline({ size: 16 }).process(item, new Random(1), { out: plain });
    const flipped = new Float32Array(16 * 16 * 3);
    await new ImagePipeline({ size: 16, hflip: 1 }).process(item, new Random(1), { out: flipped });
    assert.ok(plain[0] < 0 && flipped[0] > 0); // dark left became bright left
    assert.equal(flipped[0], plain[15 * 3]);
    const erased = new Float32Array(16 * 16 * 3);
    await new ImagePipeline({ size: 16, erasing: { p: 1, scale: [0.1, 0.2] } }).process(
      item,
      new Random(1),
      { out: erased },
    );
    const zeros = erased.filter((v) => v === 0).length;
    assert.ok(zeros >= 0.05 * 768 && zeros <= 0.3 * 768, `${zeros} zeros`);
    const augmented = new Float32Array(16 * 16 * 3);
    const pipeline = new ImagePipeline({ size: 16, randAugment: "rand-m9-n4" });
    let changed = 0;
    for (let seed = 0; seed < 8; seed++) {
      await pipeline.process(item, new Random(seed), { out: augmented });
      if (augmented.some((v, i) => Math.abs(v - plain[i]) > 1e-6)) changed++;
    }
    assert.ok(changed >= 6, `${changed} of 8 augmented`);
  });
});

Deno.test("ImagePipeline TenCrop gives ten crops in torchvision's order", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "halves.png");
    await writeHalves(path, 32, 32);
    const pipeline = new ImagePipeline({ size: 14, tenCrop: true });
    assert.equal(pipeline.crops, 10);
    const out = new Float32Array(pipeline.floatsPerItem);
    await pipeline.process({ index: 0, label: 0, path, source: path }, new Random(0), { out });
    // resized to round(14 * 256 / 224) = 16; crops of 14
    const crop = (k: number, x: number, y: number) => out[k * 14 * 14 * 3 + (y * 14 + x) * 3];
    const dark = normalised(20, 0);
    const bright = normalised(230, 0);
    assert.ok(Math.abs(crop(0, 0, 0) - dark) < 0.05); // top-left starts dark
    assert.ok(Math.abs(crop(1, 13, 0) - bright) < 0.05); // top-right ends bright
    assert.ok(Math.abs(crop(5, 0, 0) - bright) < 0.05); // mirrored top-left starts bright
    assert.ok(Math.abs(crop(9, 0, 0) - crop(4, 13, 0)) < 1e-6); // mirrored centre
  });
});

Deno.test("pipelineOptions() gives each preset the reference recipe", async () => {
  const preset = async (name: string) =>
    pipelineOptions(await resolveConfig({ preset: name, requireDataPath: false }));
  const erasing = { p: 0.5, scale: [0.02, 0.25], ratio: [0.3, 3.3], value: 0 };
  for (const name of ["rafdb", "affectnet7"]) {
    const { train, eval: test } = await preset(name);
    assert.deepEqual(train, {
      size: 224,
      randAugment: "rand-m5-n3-mstd0.5",
      randAugmentHparams: { translateConst: 117, imgMean: [124, 116, 104] },
      hflip: 0.5,
      erasing,
      ...IMAGENET_NORMALIZATION,
    }, name);
    assert.deepEqual(test, { size: 224, tenCrop: false, ...IMAGENET_NORMALIZATION }, name);
  }
  const sfew = await preset("sfew");
  assert.equal(sfew.train.randAugment, "rand-m3-n5-mstd0.5");
  assert.deepEqual(sfew.train.erasing, erasing);
  assert.equal(sfew.train.tenCrop, true); // ten crops per training image, as the reference
  assert.deepEqual(sfew.eval, { size: 224, tenCrop: true, ...IMAGENET_NORMALIZATION });
  assert.equal(new ImagePipeline(sfew.eval).crops, 10);
  // translate_const is 117 px at 224 px, scaled with the size; erasing can be off
  const small = pipelineOptions({ data: { ...DEFAULT_CONFIG.data, size: 112, erasing: null, hflip: 0 } });
  assert.deepEqual(small.train.randAugmentHparams, { translateConst: 59, imgMean: [124, 116, 104] });
  assert.equal(small.train.erasing, null);
  assert.equal(small.train.hflip, 0);
  const synthetic = await preset("synthetic");
  assert.equal(synthetic.train.randAugmentHparams?.translateConst, Math.round(64 * 117 / 224));
});

Deno.test("makeLoaders() builds its pipelines from pipelineOptions()", async () => {
  await withTempDir(async (root) => {
    await makeRaf(root, 6);
    const dataset = await rafDb(root);
    const config = { ...DEFAULT_CONFIG, data: { ...DEFAULT_CONFIG.data, size: 16, testCrops: 10 as const } };
    const data: RunData = {
      train: dataset,
      test: dataset,
      classNames: dataset.classNames,
      flipped: new Int32Array(0),
      trueTrainLabels: Int32Array.from(dataset.labels),
      root,
    };
    const loaders = makeLoaders(config, data);
    const options = pipelineOptions(config);
    assert.deepEqual(loaders.train.pipeline.options, new ImagePipeline(options.train).options);
    assert.equal(loaders.mining.pipeline, loaders.train.pipeline);
    assert.deepEqual(loaders.test.pipeline.options, new ImagePipeline(options.eval).options);
    assert.equal(loaders.test.pipeline.crops, 10);
  });
});

Deno.test("DataLoader batches follow the sampler, with labels, indices and drop-last", async () => {
  await withTempDir(async (root) => {
    await makeRaf(root, 10);
    const dataset = await rafDb(root);
    const sampler = shuffleSampler(dataset.size, { seed: 5 });
    const loader = new DataLoader(dataset, { batchSize: 4, sampler, pipeline: { size: 8 }, dropLast: true });
    assert.equal(loader.length, 2);
    const batches = [];
    for await (const batch of loader.batches(0)) batches.push(batch);
    assert.equal(batches.length, 2);
    const order = sampler.order(0);
    for (const [b, batch] of batches.entries()) {
      assert.deepEqual(batch.shape, [4, 8, 8, 3]);
      assert.equal(batch.images.length, 4 * 8 * 8 * 3);
      assert.equal(batch.crops, 1);
      assert.deepEqual([...batch.indices], [...order.subarray(b * 4, b * 4 + 4)]);
      assert.deepEqual([...batch.labels], [...batch.indices].map((i) => dataset.labels[i]));
      // each image is its file's colour
      batch.indices.forEach((index, k) => {
        const red = ((index + 1) * 37) % 256;
        assert.ok(Math.abs(batch.images[k * 192] - normalised(red, 0)) < 0.05);
      });
    }
    const all = new DataLoader(dataset, { batchSize: 4, pipeline: { size: 8 } });
    assert.equal(all.length, 3);
    const sizes = [];
    for await (const batch of all.batches()) sizes.push(batch.labels.length);
    assert.deepEqual(sizes, [4, 4, 2]);
  });
});

Deno.test("DataLoader output is deterministic whatever the prefetch depth, and varies by epoch", async () => {
  await withTempDir(async (root) => {
    await makeRaf(root, 9);
    const dataset = await rafDb(root);
    const pipeline = pipelineOptions({ data: { ...DEFAULT_CONFIG.data, size: 12 } }).train;
    const collect = async (prefetch: number, epoch: number, seed = 1) => {
      const loader = new DataLoader(dataset, {
        batchSize: 3,
        pipeline,
        sampler: shuffleSampler(dataset.size, { seed }),
        prefetch,
        seed,
      });
      const images: number[] = [];
      for await (const batch of loader.batches(epoch)) images.push(...batch.images);
      return Float32Array.from(images);
    };
    const a = await collect(0, 0);
    assert.deepEqual(await collect(3, 0), a);
    assert.deepEqual(await collect(1, 0), a);
    assert.notDeepEqual(await collect(2, 1), a);
    assert.notDeepEqual(await collect(2, 0, 2), a);
  });
});

Deno.test("DataLoader with TenCrop and distributions returns B * 10 images and B rows", async () => {
  await withTempDir(async (root) => {
    await makeRaf(root, 3, 20);
    await writeText(
      join(root, "distributions.csv"),
      "file,Surprise,Fear,Disgust,Happiness,Sadness,Anger,Neutral\n" +
        [1, 2, 3].map((i) => `train_0000${i}.jpg,${i / 10},${1 - i / 10},0,0,0,0,0`).join("\n"),
    );
    const dataset = await rafDb(root);
    const loader = new DataLoader(dataset, { batchSize: 2, pipeline: { size: 10, tenCrop: true } });
    const batch = (await loader.batches(0).next()).value!;
    assert.deepEqual(batch.shape, [20, 10, 10, 3]);
    assert.equal(batch.crops, 10);
    assert.deepEqual([...batch.labels], [0, 1]);
    assert.deepEqual([...repeatLabels(batch.labels, batch.crops)], [
      ...new Array(10).fill(0),
      ...new Array(10).fill(1),
    ]);
    assert.equal(batch.distributions!.length, 14);
    assert.ok(Math.abs(batch.distributions![7] - 0.2) < 1e-6);
  });
});

Deno.test("DataLoader reads FER2013 pixels without files", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "fer.csv");
    const row = (v: number) => new Array(2304).fill(v).join(" ");
    await writeText(file, `emotion,pixels,Usage\n1,${row(0)},Training\n4,${row(255)},Training\n`);
    const loader = new DataLoader(await fer2013Csv(file), { batchSize: 2, pipeline: { size: 16 } });
    const batch = (await loader.batches().next()).value!;
    assert.deepEqual(batch.shape, [2, 16, 16, 3]);
    assert.ok(Math.abs(batch.images[0] - normalised(0, 0)) < 1e-5);
    assert.ok(Math.abs(batch.images[16 * 16 * 3 + 2] - normalised(255, 2)) < 1e-5);
  });
});

Deno.test("DataLoader fails on a corrupt image with its path, or skips and counts it with skipCorrupt", async () => {
  await withTempDir(async (root) => {
    await writeImage(join(root, "train", "a", "1.jpg"));
    await writeImage(join(root, "train", "a", "2.jpg"));
    const bad = join(root, "train", "b", "3.jpg");
    await writeText(bad, "garbage");
    await writeImage(join(root, "train", "b", "4.jpg"));
    const dataset = await imageFolder(root);
    const strict = new DataLoader(dataset, { batchSize: 2, pipeline: { size: 4 } });
    await assert.rejects(
      async () => {
        for await (const _ of strict.batches()) { /* consume */ }
      },
      (error: unknown) => error instanceof DatasetError && error.file === bad,
    );
    const lenient = new DataLoader(dataset, { batchSize: 2, pipeline: { size: 4 }, skipCorrupt: true });
    const batches = [];
    for await (const batch of lenient.batches()) batches.push(batch);
    assert.deepEqual(batches.map((b) => [...b.indices]), [[0, 1], [3]]);
    assert.deepEqual(batches[1].shape, [1, 4, 4, 3]);
    assert.deepEqual([...batches[1].labels], [1]);
    assert.equal(lenient.skipped.length, 1);
    assert.equal(lenient.skipped[0].source, bad);
    assert.equal(lenient.skipped[0].index, 2);
  });
});

Deno.test("DataLoader rejects bad options", async () => {
  await withTempDir(async (root) => {
    await makeRaf(root, 2);
    const dataset = await rafDb(root);
    assert.throws(() => new DataLoader(dataset, { batchSize: 0 }), /batchSize/);
    assert.throws(() => new DataLoader(dataset, { prefetch: -1 }), /prefetch/);
    assert.throws(() => new ImagePipeline({ randAugment: "rand-q1" }), /unknown RandAugment section/);
  });
});
