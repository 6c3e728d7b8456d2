import assert from "node:assert/strict";
import { join } from "node:path";
import { DatasetError, ferPlus, FERPLUS_CLASSES, openDataset } from "../datasets/mod.ts";
import { resolveConfig } from "../experiments/config.ts";
import { trainRun } from "../experiments/run.ts";
import { evaluateRun } from "../experiments/eval.ts";
import { tinySyntheticOverrides } from "./_tiny.ts";

const HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF";
const pixels = (v: number) => Array(48 * 48).fill(v).join(" ");

/**
 * A FER2013 CSV of six images and its FERPlus votes: a clear happy face, one whose largest vote is "not a
 * face", one without an image name, one where contempt wins, a public-test and a private-test image (a tie).
 */
async function fixture(dir: string, votes?: string[]): Promise<void> {
  const usages = ["Training", "Training", "Training", "Training", "PublicTest", "PrivateTest"];
  await Deno.writeTextFile(
    join(dir, "fer2013.csv"),
    ["emotion,pixels,Usage", ...usages.map((u, i) => `${i % 7},${pixels(10 * (i + 1))},${u}`), ""].join("\n"),
  );
  await Deno.writeTextFile(
    join(dir, "fer2013new.csv"),
    [
      HEADER,
      ...(votes ?? [
        "Training,fer0000000.png,2,6,2,0,0,0,0,0,0,0",
        "Training,fer0000001.png,1,0,0,0,0,0,0,0,0,9",
        "Training,,0,0,0,0,10,0,0,0,0,0",
        "Training,fer0000003.png,0,0,0,0,3,0,0,5,2,0",
        "PublicTest,fer0000004.png,0,0,0,1,0,0,9,0,0,0",
        "PrivateTest,fer0000005.png,0,0,4,0,0,0,4,0,2,0",
      ]),
      "",
    ].join("\n"),
  );
}

Deno.test("ferPlus() gives each kept image its vote distribution and the most voted emotion", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await fixture(dir);
    const train = await ferPlus(dir);
    assert.equal(train.size, 1, "not a face, no image name and a contempt majority are left out");
    assert.deepEqual(train.classNames, FERPLUS_CLASSES);
    assert.equal(train.classNames[train.labels[0]], "Happiness");
    assert.deepEqual([...train.distributions![0]], [0.2, 0.6, 0.2, 0, 0, 0, 0].map(Math.fround));
    assert.equal(train.item(0).image?.data[0], 10, "the pixels of the first FER2013 row");
    assert.match(train.item(0).source, /fer2013\.csv:2$/);
    const val = await ferPlus(dir, { split: "val" });
    assert.equal(val.classNames[val.labels[0]], "Fear");
    assert.equal(val.item(0).image?.data[0], 50);
    const test = await ferPlus(dir, { split: "test" });
    assert.equal(test.classNames[test.labels[0]], "Surprise", "a tie goes to the first in class order");
    assert.deepEqual([...test.distributions![0]], [0, 0, 0.5, 0, 0, 0, 0.5]);
    assert.equal((await ferPlus(dir, { split: "all" })).size, 3);
    const opened = await openDataset({ type: "ferplus", path: dir, split: "test" });
    assert.equal(opened.size, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ferPlus() names the file and line of a bad vote file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await fixture(dir, ["Training,fer0000000.png,2,6,2,0,0,0,0,0,0,0"]);
    await assert.rejects(() => ferPlus(dir), /fer2013new\.csv: 1 rows, but .*fer2013\.csv has 6 images/);
    await fixture(dir, [
      "Training,fer0000000.png,2,6,2,0,0,0,0,0,0,0",
      "Training,fer0000001.png,2,x,2,0,0,0,0,0,0,0",
    ]);
    await assert.rejects(() => ferPlus(dir), (e) => {
      assert.ok(e instanceof DatasetError);
      assert.match(e.message, /fer2013new\.csv:3: vote count "x" in column 4 is not a count/);
      return true;
    });
    await Deno.remove(join(dir, "fer2013new.csv"));
    await assert.rejects(() => ferPlus(dir), /fer2013new\.csv/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task eval measures the KL to FERPlus's human distributions", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await fixture(dir);
    const config = await resolveConfig({
      preset: "synthetic",
      overrides: [
        ...tinySyntheticOverrides(join(dir, "cache"), 30),
        "trainer.epochs=1",
        `output.dir=${JSON.stringify(join(dir, "runs"))}`,
      ],
    });
    const run = await trainRun(config, { progress: false, report: false, log: () => {} });
    const report = await evaluateRun(run.runDir, { dataset: "ferplus", dataPath: dir, split: "test" });
    assert.equal(report.result.count, 1);
    assert.ok(report.divergences, "FERPlus's vote distributions are the ground truth");
    for (const value of Object.values(report.divergences!)) assert.ok(Number.isFinite(value) && value >= 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
