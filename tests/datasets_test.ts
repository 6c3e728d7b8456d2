import assert from "node:assert/strict";
import { join } from "node:path";
import { readNpyScalar } from "../datasets/_npy.ts";
import {
  affectNet,
  AFFECTNET7_CLASSES,
  AFFECTNET8_CLASSES,
  CANONICAL_CLASSES,
  canonicalName,
  DatasetError,
  datasetTypes,
  fer2013Csv,
  imageFolder,
  labelMapping,
  openDataset,
  RAF_DB_CLASSES,
  rafDb,
  registerDatasetType,
  resolveAffectNetPath,
  sfew,
  SFEW_CLASSES,
  subset,
  toCanonical,
  withLabels,
} from "../datasets/mod.ts";
import { writeImage, writeText } from "./_image_fixtures.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ada-df-datasets-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<DatasetError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DatasetError, `expected a DatasetError, got ${error}`);
    assert.match(error.message, pattern);
    return error;
  }
  throw new assert.AssertionError({ message: `expected a rejection matching ${pattern}` });
}

// ---------------------------------------------------------------- RAF-DB

const RAF_LIST = [
  "train_00001.jpg 5",
  "train_00002.jpg 1",
  "train_00003.jpg 7",
  "test_0001.jpg 4",
  "test_0002.jpg 2",
];

async function makeRaf(root: string, lines = RAF_LIST): Promise<void> {
  await writeText(join(root, "EmoLabel", "list_patition_label.txt"), lines.join("\n") + "\n");
  for (const line of lines) {
    const stem = line.split(" ")[0].replace(".jpg", "");
    await writeImage(join(root, "Image", "aligned", `${stem}_aligned.jpg`));
  }
}

Deno.test("rafDb() reads the label file, subtracts 1 and points at the aligned images", async () => {
  await withTempDir(async (root) => {
    await makeRaf(root);
    const train = await rafDb(root, { split: "train" });
    assert.equal(train.name, "rafdb");
    assert.equal(train.size, 3);
    assert.deepEqual([...train.labels], [4, 0, 6]);
    assert.deepEqual(train.classNames, RAF_DB_CLASSES);
    assert.equal(train.classNames[train.labels[0]], "Sadness");
    const item = train.item(1);
    assert.equal(item.path, join(root, "Image", "aligned", "train_00002_aligned.jpg"));
    assert.equal(item.label, 0);
    assert.equal(item.index, 1);
    assert.equal(train.distributions, undefined);
    assert.ok((await Deno.stat(item.path!)).isFile);
    const test = await rafDb(root, { split: "test" });
    assert.deepEqual([...test.labels], [3, 1]);
    assert.equal(test.split, "test");
    assert.equal((await rafDb(root, { split: "val" })).size, 2);
    assert.throws(() => train.item(3), RangeError);
  });
});

Deno.test("rafDb() picks up distributions.csv, matching names and reordering columns", async () => {
  await withTempDir(async (root) => {
    await makeRaf(root);
    // columns in the canonical order, rows keyed three different ways
    await writeText(
      join(root, "distributions.csv"),
      [
        `file,${CANONICAL_CLASSES.join(",")}`,
        "train_00001.jpg,0.1,0,0.9,0,0,0,0",
        "train_00002_aligned.jpg,0,0,0,0.5,0.5,0,0",
        "train_00003,1,0,0,0,0,0,0",
        "test_0001.jpg,0,1,0,0,0,0,0",
        "test_0002.jpg,0,0,0,0,0.25,0.75,0",
      ].join("\n"),
    );
    const train = await rafDb(root, { split: "train" });
    assert.ok(train.distributions);
    const d0 = train.distributions[0];
    // RAF order: Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral
    assert.deepEqual([...d0].map((v) => Math.round(v * 100) / 100), [0, 0, 0, 0, 0.9, 0, 0.1]);
    assert.deepEqual([...train.distributions[1]], [0.5, 0.5, 0, 0, 0, 0, 0]);
    assert.deepEqual([...train.distributions[2]], [0, 0, 0, 0, 0, 0, 1]);
  });
});

Deno.test("rafDb() fails clearly on bad distributions.csv", async () => {
  await withTempDir(async (root) => {
    await makeRaf(root);
    const file = join(root, "distributions.csv");
    const header = `file,${RAF_DB_CLASSES.join(",")}`;
    await writeText(file, `${header}\ntrain_00001.jpg,0.5,0.6,0,0,0,0,0\n`);
    const error = await rejectsWith(rafDb(root), /sum to 1\.1/);
    assert.equal(error.file, file);
    assert.equal(error.line, 2);
    await writeText(file, `${header}\ntrain_00001.jpg,1,0,0,0,0,0\n`);
    await rejectsWith(rafDb(root), /distributions\.csv:2: expected 8 fields/);
    await writeText(file, `file,a,b,c,d,e,f,g\n`);
    await rejectsWith(rafDb(root), /distributions\.csv:1: header must be/);
    await writeText(file, `${header}\ntrain_00001.jpg,1,0,0,0,0,0,0\n`);
    await rejectsWith(rafDb(root), /no distribution for train_00002\.jpg/);
  });
});

Deno.test("rafDb() names the file and line of a bad label file", async () => {
  await withTempDir(async (root) => {
    const missing = await rejectsWith(rafDb(root), /label file not found/);
    assert.equal(missing.file, join(root, "EmoLabel", "list_patition_label.txt"));
    await makeRaf(root, ["train_00001.jpg 5", "train_00002.jpg 8"]);
    const range = await rejectsWith(rafDb(root), /list_patition_label\.txt:2: label "8" out of range 1\.\.7/);
    assert.equal(range.line, 2);
    await makeRaf(root, ["train_00001.jpg 5", "", "train_00002.jpg"]);
    await rejectsWith(rafDb(root), /list_patition_label\.txt:3: expected "<file> <label>"/);
    await makeRaf(root, ["train_00001.jpg 0"]);
    await rejectsWith(rafDb(root), /:1: label "0" out of range/);
    await makeRaf(root, ["train_00001.jpg x"]);
    await rejectsWith(rafDb(root), /:1: label "x" out of range/);
    await makeRaf(root, ["train_00001.jpg 1", "val_0001.jpg 1"]);
    await rejectsWith(rafDb(root), /:2: file name "val_0001\.jpg" starts with neither/);
    await makeRaf(root, ["train_00001.jpg 1"]);
    await rejectsWith(rafDb(root, { split: "test" }), /split "test" is empty/);
  });
});

// ---------------------------------------------------------------- .npy

/** Writes a .npy file byte by byte: header dict, padding to 64 bytes, then the data. */
function npy(descr: string, shape: string, data: Uint8Array, version = 1): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const prefix = version === 1 ? 10 : 12;
  while ((prefix + header.length + 1) % 64 !== 0) header += " ";
  header += "\n";
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), prefix);
  out.set(data, prefix + header.length);
  return out;
}

function utf32(text: string, length = text.length): Uint8Array {
  const out = new Uint8Array(length * 4);
  const view = new DataView(out.buffer);
  [...text].forEach((ch, i) => view.setUint32(i * 4, ch.codePointAt(0)!, true));
  return out;
}

function int64(value: number, little = true): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, BigInt(value), little);
  return out;
}

Deno.test("readNpyScalar() reads the dtypes numpy writes for a label", () => {
  assert.equal(readNpyScalar(npy("<U1", "()", utf32("3")), "a.npy"), "3");
  assert.equal(readNpyScalar(npy("<U2", "(1,)", utf32("7", 2)), "a.npy"), "7");
  assert.equal(readNpyScalar(npy("|S1", "()", new TextEncoder().encode("5")), "a.npy"), "5");
  assert.equal(readNpyScalar(npy("<i8", "()", int64(6)), "a.npy"), 6);
  assert.equal(readNpyScalar(npy(">i8", "(1, 1)", int64(2, false)), "a.npy"), 2);
  assert.equal(readNpyScalar(npy("<i4", "()", new Uint8Array([4, 0, 0, 0])), "a.npy"), 4);
  assert.equal(readNpyScalar(npy("|u1", "()", new Uint8Array([1])), "a.npy"), 1);
  assert.equal(readNpyScalar(npy("<f8", "()", new Uint8Array(new Float64Array([3]).buffer)), "a.npy"), 3);
  assert.equal(readNpyScalar(npy("<U1", "()", utf32("1"), 2), "a.npy"), "1");
});

Deno.test("readNpyScalar() fails clearly on files it cannot read", () => {
  assert.throws(() => readNpyScalar(new TextEncoder().encode("hello world"), "x.npy"), /x\.npy: .*magic/);
  assert.throws(() => readNpyScalar(npy("|O", "()", new Uint8Array(8)), "o.npy"), /o\.npy: .*object arrays/);
  assert.throws(
    () => readNpyScalar(npy("<c16", "()", new Uint8Array(16)), "c.npy"),
    /unsupported dtype '<c16'/,
  );
  assert.throws(() => readNpyScalar(npy("<i8", "(2,)", new Uint8Array(16)), "s.npy"), /single value.*\(2,\)/);
  assert.throws(() => readNpyScalar(npy("<i8", "()", new Uint8Array(3)), "t.npy"), /truncated data/);
});

// ---------------------------------------------------------------- AffectNet

async function makeAffectNet(root: string): Promise<void> {
  const train = [["0", utf32("1")], ["1", utf32("7")], ["2", utf32("0")], ["10", utf32("9")], [
    "3",
    utf32("6"),
  ]];
  for (const [id, data] of train) {
    await Deno.mkdir(join(root, "train_set", "annotations"), { recursive: true });
    await Deno.writeFile(
      join(root, "train_set", "annotations", `${id}_exp.npy`),
      npy("<U1", "()", data as Uint8Array),
    );
    await writeText(join(root, "train_set", "annotations", `${id}_val.npy`), "ignored");
    await writeImage(join(root, "train_set", "images", `${id}.jpg`));
  }
  await Deno.mkdir(join(root, "val_set", "annotations"), { recursive: true });
  await Deno.writeFile(join(root, "val_set", "annotations", "5_exp.npy"), npy("<i8", "()", int64(2)));
  await Deno.writeFile(join(root, "val_set", "annotations", "6_exp.npy"), npy("<i8", "()", int64(7)));
  await writeImage(join(root, "val_set", "images", "5.jpg"));
  await writeImage(join(root, "val_set", "images", "6.jpg"));
}

Deno.test("affectNet() builds the list from annotations, writes the cache, drops Contempt for 7 classes", async () => {
  await withTempDir(async (root) => {
    await makeAffectNet(root);
    const train7 = await affectNet(root, { split: "train", classes: 7 });
    assert.equal(train7.name, "affectnet7");
    assert.deepEqual(train7.classNames, AFFECTNET7_CLASSES);
    // ids sorted numerically: 0 (1), 1 (7: dropped), 2 (0), 3 (6), 10 (9: excluded)
    assert.deepEqual([...train7.labels], [1, 0, 6]);
    assert.equal(train7.item(2).path, join(root, "train_set", "images", "3.jpg"));
    const cache = await Deno.readTextFile(join(root, "affectnet.csv"));
    const lines = cache.trim().split("\n");
    assert.equal(lines[0], "phase,img_path,label");
    assert.equal(lines.length, 1 + 7);
    assert.equal(lines[1], `train,${join(root, "train_set", "images", "0.jpg")},1`);
    assert.ok(lines.includes(`val,${join(root, "val_set", "images", "6.jpg")},7`));
    const leftovers = [...Deno.readDirSync(root)].filter((e) => e.name.endsWith(".tmp"));
    assert.deepEqual(leftovers, []);

    const train8 = await affectNet(root, { split: "train", classes: 8 });
    assert.deepEqual(train8.classNames, AFFECTNET8_CLASSES);
    assert.deepEqual([...train8.labels], [1, 7, 0, 6]);
    const val8 = await affectNet(root, { split: "val", classes: 8 });
    assert.deepEqual([...val8.labels], [2, 7]);
    assert.deepEqual([...(await affectNet(root, { split: "test" })).labels], [2]);
    await Deno.remove(join(root, "affectnet.csv"));
    assert.equal((await affectNet(root, { cache: false })).size, 3);
    assert.equal(await Deno.stat(join(root, "affectnet.csv")).catch(() => null), null);
    await affectNet(root);

    // the cache is what is read next time
    await Deno.remove(join(root, "train_set", "annotations"), { recursive: true });
    await Deno.remove(join(root, "val_set", "annotations"), { recursive: true });
    assert.deepEqual([...(await affectNet(root, { split: "train" })).labels], [1, 0, 6]);
  });
});

Deno.test("affectNet() reads a pandas cache with an index column and paths from another machine", async () => {
  await withTempDir(async (root) => {
    await writeText(
      join(root, "affectnet.csv"),
      [
        ",phase,img_path,label",
        "0,train,/home/someone/datasets/AffectNet/train_set/images/11.jpg,3",
        '1,train,"./datasets/AffectNet/train_set/images/12,b.jpg",5',
        "2,val,./datasets/AffectNet/val_set/images/13.jpg,4",
        "3,train,images/14.jpg,2",
      ].join("\n") + "\n",
    );
    const train = await affectNet(root, { split: "train" });
    assert.deepEqual([...train.labels], [3, 5, 2]);
    assert.equal(train.item(0).path, join(root, "train_set", "images", "11.jpg"));
    assert.equal(train.item(1).path, join(root, "train_set", "images", "12,b.jpg"));
    assert.equal(train.item(2).path, join(root, "images", "14.jpg"));
    assert.equal(resolveAffectNetPath(root, "/elsewhere/pics/1.jpg"), "/elsewhere/pics/1.jpg");
    assert.equal(
      resolveAffectNetPath(root, "C:\\data\\val_set\\images\\2.jpg"),
      join(root, "val_set", "images", "2.jpg"),
    );
  });
});

Deno.test("affectNet() names the file and line of a malformed cache row or annotation", async () => {
  await withTempDir(async (root) => {
    await rejectsWith(affectNet(root), /neither affectnet\.csv nor train_set\/annotations/);
    const cache = join(root, "affectnet.csv");
    await writeText(cache, "phase,img_path,label\ntrain,a.jpg,1\ntrain,b.jpg\n");
    const short = await rejectsWith(affectNet(root), /affectnet\.csv:3: expected 3 fields, found 2/);
    assert.equal(short.line, 3);
    await writeText(cache, "phase,img_path,label\ntrain,a.jpg,one\n");
    await rejectsWith(affectNet(root), /affectnet\.csv:2: label "one" is not an integer/);
    await writeText(cache, "phase,img_path,label\ntrain,a.jpg,-1\n");
    await rejectsWith(affectNet(root), /affectnet\.csv:2: label -1 is negative/);
    await writeText(cache, "phase,img_path,label\ntrian,a.jpg,1\n");
    await rejectsWith(affectNet(root), /affectnet\.csv:2: unknown phase "trian"/);
    await writeText(cache, "phase,path,label\ntrain,a.jpg,1\n");
    await rejectsWith(affectNet(root), /affectnet\.csv:1: missing column "img_path"/);
    await writeText(cache, "phase,img_path,label\ntrain,a.jpg,1\n");
    await rejectsWith(affectNet(root, { split: "val" }), /split "val" is empty/);
    await Deno.remove(cache);
    await Deno.mkdir(join(root, "train_set", "annotations"), { recursive: true });
    const bad = join(root, "train_set", "annotations", "4_exp.npy");
    await Deno.writeFile(bad, npy("|O", "()", new Uint8Array(8)));
    const error = await rejectsWith(affectNet(root), /object arrays/);
    assert.equal(error.file, bad);
    await Deno.writeFile(bad, npy("<U1", "()", utf32("x")));
    await rejectsWith(affectNet(root), /4_exp\.npy: label "x" is not an integer/);
    assert.equal(await Deno.stat(cache).catch(() => null), null); // nothing half-written
  });
});

// ---------------------------------------------------------------- SFEW and folders

Deno.test("sfew() reads Train/ and Val/ with the alphabetical class indices", async () => {
  await withTempDir(async (root) => {
    await writeImage(join(root, "Train", "Surprise", "b.png"), { channels: 4 });
    await writeImage(join(root, "Train", "Angry", "a.png"));
    await writeImage(join(root, "Train", "Angry", "c.jpg"));
    await writeText(join(root, "Train", "Angry", "notes.txt"), "not an image");
    await writeImage(join(root, "Train", "Happy", "x.webp"));
    await writeImage(join(root, "Val", "Neutral", "n.png"));
    const train = await sfew(root, { split: "train" });
    assert.deepEqual(train.classNames, SFEW_CLASSES);
    assert.deepEqual([...train.labels], [0, 0, 3, 6]);
    assert.equal(train.item(0).path, join(root, "Train", "Angry", "a.png"));
    const val = await sfew(root, { split: "val" });
    assert.deepEqual([...val.labels], [4]);
    assert.equal(val.split, "val");
    await writeImage(join(root, "Val", "Angri", "typo.png"));
    const error = await rejectsWith(sfew(root, { split: "val" }), /unknown class folder "Angri"/);
    assert.equal(error.file, join(root, "Val", "Angri"));
    await rejectsWith(sfew(join(root, "nowhere")), /Train not found/);
  });
});

Deno.test("imageFolder() infers sorted classes or checks the given ones", async () => {
  await withTempDir(async (root) => {
    await writeImage(join(root, "train", "sad", "1.jpg"));
    await writeImage(join(root, "train", "happy", "1.jpg"));
    await writeImage(join(root, "train", "happy", "2.jpg"));
    await writeImage(join(root, "train", "happy", "more", "0.png"));
    await Deno.mkdir(join(root, "test", "happy"), { recursive: true });
    const train = await imageFolder(root, { split: "train" });
    assert.deepEqual(train.classNames, ["happy", "sad"]);
    assert.deepEqual([...train.labels], [0, 0, 0, 1]);
    assert.equal(train.item(2).path, join(root, "train", "happy", "more", "0.png")); // subfolders after files
    const fixed = await imageFolder(root, { split: "train", classNames: ["sad", "happy", "angry"] });
    assert.deepEqual([...fixed.labels], [1, 1, 1, 0]);
    assert.deepEqual(fixed.classNames, ["sad", "happy", "angry"]);
    await rejectsWith(
      imageFolder(root, { split: "train", classNames: ["sad"] }),
      /unknown class folder "happy"/,
    );
    const empty = await rejectsWith(imageFolder(root, { split: "test" }), /has no images/);
    assert.equal(empty.file, join(root, "test"));
    await rejectsWith(imageFolder(root, { split: "val" }), /split folder val not found/);
  });
});

// ---------------------------------------------------------------- FER2013

function pixels(value: number, count = 48 * 48): string {
  return Array.from({ length: count }, (_, i) => (value + i) % 256).join(" ");
}

Deno.test("fer2013Csv() decodes pixel strings per Usage split", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "fer2013.csv");
    await writeText(
      file,
      [
        "emotion,pixels,Usage",
        `0,${pixels(0)},Training`,
        `3,${pixels(10)},Training`,
        `6,${pixels(20)},PublicTest`,
        `5,${pixels(30)},PrivateTest`,
      ].join("\r\n") + "\r\n",
    );
    const train = await fer2013Csv(file, { split: "train" });
    assert.equal(train.size, 2);
    assert.deepEqual([...train.labels], [0, 3]);
    assert.equal(train.classNames[3], "Happy");
    const item = train.item(1);
    assert.equal(item.path, undefined);
    assert.equal(item.source, `${file}:3`);
    assert.equal(item.image!.width, 48);
    assert.equal(item.image!.channels, 1);
    assert.equal(item.image!.data.length, 2304);
    assert.deepEqual([...item.image!.data.subarray(0, 3)], [10, 11, 12]);
    assert.deepEqual([...(await fer2013Csv(file, { split: "val" })).labels], [6]);
    assert.deepEqual([...(await fer2013Csv(file, { split: "test" })).labels], [5]);
    assert.equal((await fer2013Csv(file, { split: "all" })).size, 4);
    assert.equal((await fer2013Csv(file, { split: "PrivateTest" })).size, 1);
  });
});

Deno.test("fer2013Csv() names the line of a malformed row", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "fer.csv");
    await writeText(file, `emotion,pixels,Usage\n0,${pixels(0)},Training\n1,${pixels(0, 100)},Training\n`);
    const error = await rejectsWith(fer2013Csv(file), /fer\.csv:3: pixels has 100 values, expected 2304/);
    assert.equal(error.line, 3);
    await writeText(file, `emotion,pixels,Usage\n9,${pixels(0)},Training\n`);
    await rejectsWith(fer2013Csv(file), /fer\.csv:2: emotion "9" out of range 0\.\.6/);
    await writeText(file, `emotion,pixels,Usage\n1,${pixels(0)}\n`);
    await rejectsWith(fer2013Csv(file), /fer\.csv:2: expected 3 fields, found 2/);
    await writeText(file, `emotion,pixels,Usage\n1,1 2 x,Training\n`);
    await rejectsWith(fer2013Csv(file), /fer\.csv:2: unexpected character "x"/);
    await writeText(file, `emotion,pixels,Usage\n1,300 ${pixels(0, 2303)},Training\n`);
    await rejectsWith(fer2013Csv(file), /fer\.csv:2: pixel value above 255/);
    await writeText(file, `emotion,pixels\n1,${pixels(0)}\n`);
    await rejectsWith(fer2013Csv(file), /fer\.csv:1: no Usage column/);
    assert.equal((await fer2013Csv(file, { split: "all" })).size, 1);
    await writeText(file, `emotion,pixels,Usage\n1,${pixels(0)},Training\n`);
    await rejectsWith(
      fer2013Csv(file, { split: "test" }),
      /split "test" is empty \(no row with Usage PrivateTest\)/,
    );
    await rejectsWith(fer2013Csv(join(dir, "missing.csv")), /missing\.csv: FER2013 CSV not found/);
  });
});

// ---------------------------------------------------------------- classes, views, factory

Deno.test("labelMapping() and canonicalName() match synonyms across datasets", () => {
  assert.equal(canonicalName(" happy "), "Happiness");
  assert.equal(canonicalName("Surprised"), "Surprise");
  const sfewToRaf = labelMapping(SFEW_CLASSES, RAF_DB_CLASSES);
  // Angry Disgust Fear Happy Neutral Sad Surprise -> Anger(5) Disgust(2) Fear(1) Happiness(3) Neutral(6) Sadness(4) Surprise(0)
  assert.deepEqual([...sfewToRaf], [5, 2, 1, 3, 6, 4, 0]);
  assert.deepEqual([...labelMapping(AFFECTNET8_CLASSES, CANONICAL_CLASSES)], [0, 1, 2, 3, 4, 5, 6, -1]);
  assert.deepEqual([...labelMapping(["cat", "Neutral"], CANONICAL_CLASSES)], [-1, 0]);
});

Deno.test("toCanonical() relabels items and distributions, and handles Contempt", async () => {
  await withTempDir(async (root) => {
    await makeRaf(root);
    await writeText(
      join(root, "distributions.csv"),
      [`file,${RAF_DB_CLASSES.join(",")}`, ...RAF_LIST.map((l) => `${l.split(" ")[0]},0.7,0.3,0,0,0,0,0`)]
        .join("\n"),
    );
    const raf = await rafDb(root, { split: "train" });
    const canonical = toCanonical(raf);
    assert.deepEqual(canonical.classNames, CANONICAL_CLASSES);
    // RAF Sadness(4) Surprise(0) Neutral(6) -> Sadness(2) Surprise(3) Neutral(0)
    assert.deepEqual([...canonical.labels], [2, 3, 0]);
    assert.equal(canonical.item(0).path, raf.item(0).path);
    assert.equal(canonical.item(0).label, 2);
    assert.deepEqual([...canonical.distributions![0]].map((v) => Math.round(v * 10) / 10), [
      0,
      0,
      0,
      0.7,
      0.3,
      0,
      0,
    ]);

    const cache = join(root, "affectnet.csv");
    await writeText(cache, "phase,img_path,label\ntrain,a.jpg,7\ntrain,b.jpg,6\n");
    const eight = await affectNet(root, { classes: 8 });
    assert.throws(() => toCanonical(eight), /Contempt of affectnet8 have no canonical counterpart/);
    const dropped = toCanonical(eight, { dropUnknown: true });
    assert.deepEqual([...dropped.labels], [6]);
    assert.equal(dropped.item(0).path, join(root, "b.jpg"));
  });
});

Deno.test("withLabels() and subset() make views without copying images", async () => {
  await withTempDir(async (root) => {
    await makeRaf(root);
    const raf = await rafDb(root);
    const relabelled = withLabels(raf, Int32Array.from([1, 1, 1]));
    assert.deepEqual([...relabelled.labels], [1, 1, 1]);
    assert.equal(relabelled.item(2).label, 1);
    assert.equal(relabelled.item(2).path, raf.item(2).path);
    assert.deepEqual([...raf.labels], [4, 0, 6]);
    assert.throws(() => withLabels(raf, Int32Array.from([1, 1])), /2 labels for 3 items/);
    assert.throws(() => withLabels(raf, Int32Array.from([1, 1, 7])), /out of range/);
    const part = subset(raf, [2, 0]);
    assert.equal(part.size, 2);
    assert.deepEqual([...part.labels], [6, 4]);
    assert.equal(part.item(0).index, 0);
    assert.equal(part.item(0).path, raf.item(2).path);
    assert.throws(() => subset(raf, [3]), RangeError);
  });
});

Deno.test("openDataset() opens every registered type by name", async () => {
  await withTempDir(async (root) => {
    await makeRaf(join(root, "raf"));
    await makeAffectNet(join(root, "affectnet"));
    await writeImage(join(root, "sfew", "Val", "Fear", "1.png"));
    await writeImage(join(root, "folder", "train", "b", "1.png"));
    await writeText(join(root, "fer.csv"), `emotion,pixels,Usage\n2,${pixels(0)},PublicTest\n`);
    assert.deepEqual(datasetTypes().slice(0, 6), [
      "rafdb",
      "affectnet7",
      "affectnet8",
      "sfew",
      "folder",
      "fer2013",
    ]);
    assert.equal((await openDataset({ type: "rafdb", path: join(root, "raf"), split: "test" })).size, 2);
    assert.equal((await openDataset({ type: "affectnet7", path: join(root, "affectnet") })).size, 3);
    assert.equal((await openDataset({ type: "affectnet8", path: join(root, "affectnet") })).size, 4);
    assert.deepEqual([
      ...(await openDataset({ type: "sfew", path: join(root, "sfew"), split: "val" })).labels,
    ], [2]);
    const folder = await openDataset({ type: "folder", path: join(root, "folder"), classNames: ["a", "b"] });
    assert.deepEqual([...folder.labels], [1]);
    assert.equal((await openDataset({ type: "fer2013", path: join(root, "fer.csv"), split: "val" })).size, 1);
    await rejectsWith(openDataset({ type: "imagenet", path: root }), /unknown dataset type "imagenet"/);
    await rejectsWith(
      openDataset({ type: "rafdb", path: join(root, "raf"), split: "dev" }),
      /unknown split "dev"/,
    );
    registerDatasetType("mine", ({ path, split }) => rafDb(path, { split: split as "train", name: "mine" }));
    assert.equal((await openDataset({ type: "mine", path: join(root, "raf") })).name, "mine");
  });
});
