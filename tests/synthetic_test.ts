import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { Random } from "../engine/random.ts";
import {
  defaultCacheDir,
  drawSyntheticGrid,
  ensureSynthetic,
  faceSvg,
  generateSynthetic,
  readSyntheticMetadata,
  renderFace,
  sampleDistribution,
  sampleFaceParams,
  SYNTHETIC_CLASS_NAMES,
  syntheticCacheName,
} from "../datasets/synthetic.ts";
import { argmax, blendActions, majorityVote } from "../datasets/_faces_sampling.ts";
import { main as synthMain } from "../cli/synth.ts";
import { taskCommand } from "./_cli.ts";

const SMALL = { count: 30, seed: 7, size: 32, concurrency: 4 } as const;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ada-df-synthetic-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listFiles(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(root, prefix))) {
    const rel = prefix ? join(prefix, entry.name) : entry.name;
    if (entry.isDirectory) out.push(...await listFiles(root, rel));
    else out.push(rel);
  }
  return out.sort();
}

function parseLabels(text: string): { file: string; label: number }[] {
  return text.trimEnd().split("\n").map((line) => {
    const [file, label] = line.split(" ");
    return { file, label: Number(label) };
  });
}

Deno.test("SYNTHETIC_CLASS_NAMES follows RAF-DB's order", () => {
  assert.deepEqual(SYNTHETIC_CLASS_NAMES, [
    "Surprise",
    "Fear",
    "Disgust",
    "Happiness",
    "Sadness",
    "Anger",
    "Neutral",
  ]);
});

Deno.test("generateSynthetic() writes RAF-DB's layout with labels 1..7", async () => {
  await withTempDir(async (dir) => {
    const summary = await generateSynthetic(dir, SMALL);
    assert.equal(summary.train, 24);
    assert.equal(summary.test, 6);
    assert.equal(summary.labelCounts.reduce((s, v) => s + v, 0), 30);
    const lines = (await Deno.readTextFile(join(dir, "EmoLabel", "list_patition_label.txt"))).trimEnd().split(
      "\n",
    );
    assert.equal(lines.length, 30);
    for (const line of lines) assert.match(line, /^(train_\d{5}|test_\d{4})\.jpg [1-7]$/);
    const labels = parseLabels(lines.join("\n"));
    assert.equal(labels[0].file, "train_00001.jpg");
    assert.equal(labels[24].file, "test_0001.jpg");
    assert.equal(labels.filter((l) => l.file.startsWith("train_")).length, 24);
    for (const { file } of labels) {
      const path = join(dir, "Image", "aligned", file.replace(/\.jpg$/, "_aligned.jpg"));
      const bytes = await Deno.readFile(path);
      assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], `${path} is not a JPEG`);
      const meta = await sharp(path).metadata();
      assert.equal(meta.width, 32);
      assert.equal(meta.height, 32);
      assert.equal(meta.channels, 3);
    }
    const files = await listFiles(dir);
    assert.deepEqual(
      files.filter((f) => !f.startsWith("Image")),
      ["EmoLabel/list_patition_label.txt", "distributions.csv", "synthetic.json"],
    );
    assert.equal(files.filter((f) => f.startsWith("Image/aligned/")).length, 30);
    const meta = await readSyntheticMetadata(dir);
    assert.ok(meta);
    assert.equal(meta.count, 30);
    assert.equal(meta.seed, 7);
    assert.equal(meta.size, 32);
    assert.equal(meta.train, 24);
    assert.equal(meta.test, 6);
    assert.deepEqual(meta.classes, SYNTHETIC_CLASS_NAMES);
  });
});

Deno.test("generateSynthetic() writes distributions that sum to 1, one row per image", async () => {
  await withTempDir(async (dir) => {
    await generateSynthetic(dir, SMALL);
    const rows = (await Deno.readTextFile(join(dir, "distributions.csv"))).trimEnd().split("\n");
    assert.equal(rows[0], "file,Surprise,Fear,Disgust,Happiness,Sadness,Anger,Neutral");
    const labels = parseLabels(await Deno.readTextFile(join(dir, "EmoLabel", "list_patition_label.txt")));
    assert.equal(rows.length, labels.length + 1);
    let agree = 0;
    rows.slice(1).forEach((row, i) => {
      const [file, ...cells] = row.split(",");
      assert.equal(file, labels[i].file);
      assert.equal(cells.length, 7);
      for (const c of cells) assert.match(c, /^\d\.\d{6}$/);
      const p = cells.map(Number);
      assert.ok(
        Math.abs(p.reduce((s, v) => s + v, 0) - 1) < 1e-6,
        `${file}: sums to ${p.reduce((s, v) => s + v)}`,
      );
      if (argmax(p) + 1 === labels[i].label) agree++;
    });
    const meta = await readSyntheticMetadata(dir);
    assert.equal(meta?.labelAgreement, agree / labels.length);
  });
});

Deno.test("generateSynthetic() is deterministic by seed", async () => {
  await withTempDir(async (root) => {
    const a = join(root, "a");
    const b = join(root, "b");
    const c = join(root, "c");
    await generateSynthetic(a, { ...SMALL, concurrency: 1 });
    await generateSynthetic(b, { ...SMALL, concurrency: 6 });
    await generateSynthetic(c, { ...SMALL, seed: 8 });
    const files = await listFiles(a);
    assert.deepEqual(await listFiles(b), files);
    let differ = 0;
    for (const f of files) {
      const x = await Deno.readFile(join(a, f));
      assert.deepEqual(await Deno.readFile(join(b, f)), x, `${f} differs between two runs with seed 7`);
      const y = await Deno.readFile(join(c, f)).catch(() => null);
      if (!y || y.length !== x.length || y.some((v, i) => v !== x[i])) differ++;
    }
    assert.ok(differ >= files.length - 1, "another seed should change (nearly) every file");
  });
});

Deno.test("majorityVote() mostly agrees with the ground truth's argmax, but not always on mixtures", () => {
  const random = new Random(3);
  let clear = 0;
  let clearAgree = 0;
  let mixed = 0;
  let mixedAgree = 0;
  for (let i = 0; i < 3000; i++) {
    const d = sampleDistribution(random);
    const sum = d.probabilities.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9);
    assert.ok(d.probabilities.every((p) => p >= 0));
    const label = majorityVote(random, d.probabilities, 10);
    const agree = label === argmax(d.probabilities) ? 1 : 0;
    if (d.kind === "clear") {
      clear++;
      clearAgree += agree;
    } else {
      mixed++;
      mixedAgree += agree;
    }
  }
  assert.ok(clearAgree / clear > 0.97, `clear agreement ${clearAgree / clear}`);
  assert.ok(mixedAgree / mixed > 0.55, `mixed agreement ${mixedAgree / mixed}`);
  assert.ok(mixedAgree / mixed < 0.95, `mixed agreement ${mixedAgree / mixed} leaves no label noise`);
  assert.ok(mixed / (clear + mixed) > 0.3 && mixed / (clear + mixed) < 0.6);
});

Deno.test("majorityVote() breaks ties at random", () => {
  const random = new Random(1);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(majorityVote(random, [0.5, 0.5, 0, 0, 0, 0, 0], 2));
  assert.deepEqual([...seen].sort(), [0, 1]);
});

Deno.test("generateSynthetic() reports a reasonable label agreement", async () => {
  await withTempDir(async (dir) => {
    const summary = await generateSynthetic(dir, { ...SMALL, count: 60, size: 16 });
    assert.ok(summary.labelAgreement > 0.6 && summary.labelAgreement <= 1, `${summary.labelAgreement}`);
    assert.ok(summary.imagesPerSecond > 0 && summary.seconds > 0);
  });
});

Deno.test("sampleDistribution() builds clear samples and mixtures around the chosen emotions", () => {
  const random = new Random(9);
  for (let k = 0; k < 7; k++) {
    const d = sampleDistribution(random, { kind: "clear", dominant: k });
    assert.equal(argmax(d.probabilities), k);
    assert.ok(d.probabilities[k] > 0.5);
  }
  const pair = sampleDistribution(random, { kind: "pair", dominant: 1, secondary: 0 });
  assert.deepEqual(pair.emotions, [1, 0]);
  assert.ok(pair.probabilities[1] + pair.probabilities[0] > 0.75);
  const triple = sampleDistribution(random, { kind: "triple" });
  assert.equal(new Set(triple.emotions).size, 3);
});

Deno.test("sampleFaceParams() blends the emotions' actions by the distribution", () => {
  const happy = blendActions([0, 0, 0, 1, 0, 0, 0]);
  const sad = blendActions([0, 0, 0, 0, 1, 0, 0]);
  const mixed = blendActions([0, 0, 0, 0.5, 0.5, 0, 0]);
  assert.equal(mixed.lipCornerPull, (happy.lipCornerPull + sad.lipCornerPull) / 2);
  assert.equal(mixed.lipCornerDepress, (happy.lipCornerDepress + sad.lipCornerDepress) / 2);
  assert.deepEqual(Object.values(blendActions([0, 0, 0, 0, 0, 0, 1])).filter((v) => v !== 0), []);
  const p = sampleFaceParams(new Random(2), [0, 0, 0, 1, 0, 0, 0], { intensity: 1, nuisance: 0 });
  assert.ok(p.actions.lipCornerPull > 0.6 && p.actions.lipCornerDepress < 0.3);
  assert.equal(p.scene.occlusion.kind, "none");
  assert.equal(Math.abs(p.scene.roll), 0);
  assert.equal(p.scene.noise, 0);
  assert.throws(() => sampleFaceParams(new Random(2), [1, 0]), /expected 7 probabilities/);
});

Deno.test("renderFace() renders a face of the requested size in each format", async () => {
  const params = sampleFaceParams(new Random(4), [1, 0, 0, 0, 0, 0, 0]);
  const svg = faceSvg(params, 48);
  assert.match(svg, /^<svg [^>]*width="48" height="48"/);
  const jpeg = await renderFace(params, 48);
  assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
  const png = await renderFace(params, 48, { format: "png" });
  assert.equal((await sharp(png).metadata()).width, 48);
  const raw = await renderFace(params, 20, { format: "raw" });
  assert.equal(raw.length, 20 * 20 * 3);
  const values = new Set(raw);
  assert.ok(values.size > 20, "a face is not a flat image");
  assert.deepEqual(await renderFace(params, 20, { format: "raw" }), raw);
  await assert.rejects(() => renderFace(params, 0), /size must be an integer/);
  await assert.rejects(() => renderFace(params, 16, { format: "gif" as "png" }), /format must be/);
});

Deno.test("generateSynthetic() refuses a folder that holds something else, unless forced", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "notes.txt"), "mine");
    await assert.rejects(
      () => generateSynthetic(dir, SMALL),
      (error: Error) =>
        error.message.includes(dir) && /not empty/.test(error.message) && /force/.test(error.message),
    );
    assert.equal(await Deno.readTextFile(join(dir, "notes.txt")), "mine");
    assert.equal((await listFiles(dir)).length, 1, "nothing written after a refusal");
    await generateSynthetic(dir, { ...SMALL, force: true });
    assert.ok(await readSyntheticMetadata(dir));
  });
});

Deno.test("generateSynthetic() refuses a different synthetic dataset, accepts the same one", async () => {
  await withTempDir(async (dir) => {
    await generateSynthetic(dir, SMALL);
    const before = await Deno.readFile(join(dir, "Image", "aligned", "train_00001_aligned.jpg"));
    await assert.rejects(
      () => generateSynthetic(dir, { ...SMALL, seed: 99 }),
      /already holds a different synthetic dataset \(version 1, seed 7, count 30/,
    );
    await generateSynthetic(dir, SMALL);
    assert.deepEqual(await Deno.readFile(join(dir, "Image", "aligned", "train_00001_aligned.jpg")), before);
    // Forcing a smaller set removes the images the larger one left behind.
    await generateSynthetic(dir, { ...SMALL, count: 10, force: true });
    const images = (await listFiles(dir)).filter((f) => f.startsWith("Image/"));
    assert.equal(images.length, 10);
    assert.equal((await readSyntheticMetadata(dir))?.count, 10);
  });
});

Deno.test("generateSynthetic() finishes its own interrupted folder without force", async () => {
  await withTempDir(async (dir) => {
    await generateSynthetic(dir, SMALL);
    // What an interrupted run leaves: the marker, some images, no synthetic.json.
    await Deno.remove(join(dir, "synthetic.json"));
    await Deno.writeTextFile(join(dir, ".synthetic-partial"), "synthetic dataset being written\n");
    await Deno.remove(join(dir, "Image", "aligned", "test_0006_aligned.jpg"));
    await generateSynthetic(dir, { ...SMALL, count: 20 });
    const files = await listFiles(dir);
    assert.ok(!files.includes(".synthetic-partial"));
    assert.equal(files.filter((f) => f.startsWith("Image/")).length, 20);
    assert.equal((await readSyntheticMetadata(dir))?.count, 20);
  });
});

Deno.test("generateSynthetic() rejects bad options with the option's name", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(() => generateSynthetic(dir, { count: 0 }), /option "count" must be an integer/);
    await assert.rejects(() => generateSynthetic(dir, { count: 10, size: 3 }), /option "size"/);
    await assert.rejects(() => generateSynthetic(dir, { count: 10, seed: -1 }), /option "seed"/);
    await assert.rejects(
      () => generateSynthetic(dir, { count: 10, testFraction: 1 }),
      /option "testFraction"/,
    );
    await assert.rejects(() => generateSynthetic(dir, { count: 10, annotators: 0 }), /option "annotators"/);
    await assert.rejects(
      () => generateSynthetic(dir, { count: 2, testFraction: 0.9 }),
      /leaves no training image/,
    );
    assert.equal((await listFiles(dir)).length, 0);
  });
});

Deno.test("ensureSynthetic() generates once, reuses, and regenerates incomplete folders", async () => {
  await withTempDir(async (cache) => {
    const options = { count: 12, seed: 3, size: 24 };
    const first = await ensureSynthetic(cache, options);
    assert.equal(first.generated, true);
    assert.equal(first.dir, join(cache, "synthetic-12-3-24"));
    assert.equal(first.metadata.count, 12);
    const image = join(first.dir, "Image", "aligned", "train_00001_aligned.jpg");
    const stamp = (await Deno.stat(image)).mtime?.getTime();

    const second = await ensureSynthetic(cache, options);
    assert.equal(second.generated, false);
    assert.equal(second.dir, first.dir);
    assert.equal((await Deno.stat(image)).mtime?.getTime(), stamp);

    // An interrupted generation leaves no synthetic.json: the folder is not trusted.
    await Deno.remove(join(first.dir, "synthetic.json"));
    await Deno.remove(image);
    const third = await ensureSynthetic(cache, options);
    assert.equal(third.generated, true);
    assert.ok((await Deno.stat(image)).isFile);

    // A stray file in a cache folder without synthetic.json is overwritten too.
    const other = join(cache, syntheticCacheName({ count: 6, seed: 1, size: 16 }));
    await Deno.mkdir(join(other, "EmoLabel"), { recursive: true });
    await Deno.writeTextFile(join(other, "EmoLabel", "list_patition_label.txt"), "half written");
    const fourth = await ensureSynthetic(cache, { count: 6, seed: 1, size: 16 });
    assert.equal(fourth.generated, true);
    assert.equal(
      parseLabels(await Deno.readTextFile(join(other, "EmoLabel", "list_patition_label.txt"))).length,
      6,
    );
  });
});

Deno.test("syntheticCacheName() and defaultCacheDir() derive the cache folder", () => {
  assert.equal(syntheticCacheName({ count: 2000, seed: 1 }), "synthetic-2000-1-112");
  assert.equal(syntheticCacheName({ count: 50, seed: 2, size: 64, annotators: 40 }), "synthetic-50-2-64-a40");
  assert.equal(syntheticCacheName({ count: 50, seed: 2, testFraction: 0.3 }), "synthetic-50-2-112-t0.3");
  // An environment of its own: the process's is shared with test modules running in parallel.
  assert.equal(defaultCacheDir(new Map([["ADA_DF_CACHE", "/somewhere/cache"]])), "/somewhere/cache");
  assert.equal(defaultCacheDir(new Map([["ADA_DF_CACHE", ""]])), join(Deno.cwd(), ".cache", "ada-df"));
  assert.equal(defaultCacheDir(new Map()), join(Deno.cwd(), ".cache", "ada-df"));
});

Deno.test("drawSyntheticGrid() draws one row per emotion and captioned mixture rows", async () => {
  const png = await drawSyntheticGrid({ seed: 2, size: 16, perRow: 3, mixtureRows: 1, nuisance: 0 });
  const { width, height, format } = await sharp(png).metadata();
  assert.equal(format, "png");
  assert.equal(width, 118 + 3 * (16 + 4) + 4);
  assert.equal(height, SYNTHETIC_CLASS_NAMES.length * (16 + 4) + (16 + 30 + 4) + 4);
  assert.deepEqual(
    await drawSyntheticGrid({ seed: 2, size: 16, perRow: 3, mixtureRows: 1, nuisance: 0 }),
    png,
  );
  await assert.rejects(() => drawSyntheticGrid({ perRow: 0 }), /perRow must be an integer >= 1, got 0/);
});

Deno.test("deno task synth reads its options, rejects bad arguments with code 2 and refusals with 1", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "set");
    const logs: string[] = [];
    const errors: string[] = [];
    const output = { log: (l: string) => logs.push(l), error: (l: string) => errors.push(l) };
    const code = await synthMain(["--out", out, "--count", "10", "--seed", "3", "--size", "16", "--force"], {
      ...output,
      progress: () => {},
    });
    assert.equal(code, 0, errors.join("\n"));
    const summary = JSON.parse(logs[0]);
    assert.deepEqual([summary.train, summary.test, summary.size], [8, 2, 16]);
    const metadata = await readSyntheticMetadata(out);
    assert.deepEqual(
      [metadata?.count, metadata?.seed, metadata?.size, metadata?.testFraction, metadata?.annotators],
      [10, 3, 16, 0.2, 10],
    );
    assert.equal(metadata?.nuisance, 1);

    const usage: [string[], RegExp][] = [
      [["--count", "10", "--seed", "1"], /--out is required/],
      [["--out", "d", "--seed", "1"], /--count is required/],
      [["--out", "d", "--count", "ten", "--seed", "1"], /--count must be a non-negative integer, got "ten"/],
      [["--out", "d", "--count", "9", "--seed", "1", "--size", "8"], /--size must be in \[16, 1024\], got 8/],
      [["--out", "d", "--count", "9", "--seed", "1", "--bogus"], /bogus/],
      [["--out", "d", "--count", "9", "--seed", "1", "--test-fraction", "1.5"], /--test-fraction/],
    ];
    for (const [args, message] of usage) {
      errors.length = 0;
      assert.equal(await synthMain(args, output), 2, args.join(" "));
      assert.match(errors.join("\n"), message);
    }
    errors.length = 0;
    assert.equal(
      await synthMain(["--out", out, "--count", "6", "--seed", "3", "--size", "16", "--quiet"], output),
      1,
    );
    assert.match(errors.join("\n"), /Refusing to generate into/);
  });
});

Deno.test("cli/synth.ts exits with code 2 on bad arguments and generates on good ones", async () => {
  const run = (args: string[]) => taskCommand("synth.ts", args).output();
  const bad = await run(["--out", "x", "--count", "2.5", "--seed", "1"]);
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /--count must be a non-negative integer, got "2.5"/);
  await withTempDir(async (dir) => {
    const out = join(dir, "set");
    const good = await run(["--out", out, "--count", "5", "--seed", "2", "--size", "16", "--quiet"]);
    assert.equal(good.code, 0, new TextDecoder().decode(good.stderr));
    const summary = JSON.parse(new TextDecoder().decode(good.stdout));
    assert.equal(summary.train + summary.test, 5);
  });
});
