/**
 * Real faces: detection and landmarks on the photos that ship in `@vladmandic/face-api` (`demo/`), the
 * five-point alignment (against independent least-squares solutions and through sharp's warp), `align`
 * on a generated folder (with a corrupt file and an image without a face, then resumed), and `predict`
 * on a raw photo with a tiny trained run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PYTHON } from "./_python.ts";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { tf } from "../engine/tf.ts";
import { initBackend } from "../engine/backend.ts";
import { RAF_DB_LABEL_FILE, rafDb } from "../datasets/mod.ts";
import {
  alignFace,
  alignmentTransform,
  applySimilarity,
  checkTemplate,
  decodePhoto,
  DEFAULT_TEMPLATE,
  estimateSimilarity,
  type Face,
  FaceAnalyzer,
  type FivePoints,
  fivePointsFrom68,
  pickFace,
  type Point,
  type Similarity,
  templatePoints,
  warpSimilarity,
} from "../datasets/faces/mod.ts";
import {
  ALIGN_LOG_FILE,
  alignFolder,
  type AlignLogEntry,
  ALIGNMENT_FILE,
  readAlignLog,
} from "../experiments/align.ts";
import { resolveConfig } from "../experiments/config.ts";
import { loadRun, trainRun } from "../experiments/run.ts";
import {
  formatPhotoPredictions,
  predictImages,
  predictPhotos,
  predictPhotosRun,
} from "../experiments/predict.ts";
import { taskCommand } from "./_cli.ts";
import { findChromium, openChromium, removeWithRetries, startServer } from "./_web.ts";
import { Random } from "../engine/random.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { exportInferenceModel } from "../experiments/export.ts";
import { loadExportedModel, predict } from "../experiments/inference.ts";
import { buildFaces } from "../examples/web/build_faces.ts";
import { tinySyntheticOverrides } from "./_tiny.ts";

const DEMO = fileURLToPath(new URL(".", import.meta.resolve("@vladmandic/face-api/demo/sample1.jpg")));
const sample = (i: number) => join(DEMO, `sample${i}.jpg`);
/** The faces in face-api's six demo photos, counted by eye. */
const FACES_PRESENT = [3, 3, 3, 4, 5, 4];

/**
 * The backend of detection and alignment here: the fastest on this machine (native where oneDNN is
 * installed, else wasm), as `deno task align` and `predict` choose it; the browser test's page runs wasm.
 */
const BACKEND = "auto";

let analyzer: FaceAnalyzer | undefined;
async function getAnalyzer(): Promise<FaceAnalyzer> {
  if (!analyzer) {
    await initBackend(BACKEND);
    analyzer = await FaceAnalyzer.load();
  }
  return analyzer;
}

function insideGrown(p: Point, face: Face, by: number): boolean {
  const { x, y, width, height } = face.box;
  return p[0] >= x - by * width && p[0] <= x + (1 + by) * width && p[1] >= y - by * height &&
    p[1] <= y + (1 + by) * height;
}

/** The landmarks of a face are where a face's parts are: inside its box, eyes above the nose above the mouth. */
function assertPlausibleLandmarks(face: Face, where: string) {
  assert.equal(face.landmarks.length, 68);
  for (const p of face.landmarks) {
    assert.ok(insideGrown(p, face, 0.25), `${where}: landmark ${p} outside the box`);
  }
  for (const p of face.points) {
    assert.ok(insideGrown(p, face, 0.05), `${where}: alignment point ${p} outside the box`);
  }
  const [le, re, nose, lm, rm] = face.points;
  assert.ok(le[0] < re[0] && lm[0] < rm[0], `${where}: left/right swapped`);
  assert.ok(
    Math.max(le[1], re[1]) < nose[1] && nose[1] < Math.min(lm[1], rm[1]),
    `${where}: eyes, nose, mouth order`,
  );
}

Deno.test("faces: the packaged detector finds every face of face-api's six demo photos, with plausible landmarks", async () => {
  const a = await getAnalyzer();
  const found: number[] = [];
  for (let i = 1; i <= 6; i++) {
    const photo = await decodePhoto(sample(i));
    const faces = await a.detect(photo);
    found.push(faces.length);
    for (const [k, face] of faces.entries()) {
      assert.ok(face.score > 0.5 && face.score <= 1);
      assert.ok(
        face.box.width > 50 && face.box.height > 50,
        `sample${i} face ${k}: a ${face.box.width}px box`,
      );
      assertPlausibleLandmarks(face, `sample${i} face ${k}`);
    }
    // No two detections of one face.
    for (let p = 0; p < faces.length; p++) {
      for (let q = p + 1; q < faces.length; q++) {
        const [u, v] = [faces[p].box, faces[q].box];
        const dx = Math.abs(u.x + u.width / 2 - v.x - v.width / 2),
          dy = Math.abs(u.y + u.height / 2 - v.y - v.height / 2);
        assert.ok(dx > u.width / 2 || dy > u.height / 2, `sample${i}: faces ${p} and ${q} overlap`);
      }
    }
  }
  assert.deepEqual(found, FACES_PRESENT);
});

Deno.test("faces: single-face crops cut from the demo photos: the face is found at their centre; a blank image has none", async () => {
  const a = await getAnalyzer();
  const photo = await decodePhoto(sample(5));
  const faces = await a.detect(photo);
  for (const [k, f] of faces.entries()) {
    // A square crop around the face, 240 px, as face datasets store them (the face fills most of it).
    const side = Math.round(1.5 * Math.max(f.box.width, f.box.height));
    const left = Math.max(0, Math.round(f.box.x + f.box.width / 2 - side / 2));
    const top = Math.max(0, Math.round(f.box.y + f.box.height / 2 - side / 2));
    const width = Math.min(side, photo.width - left), height = Math.min(side, photo.height - top);
    const bytes = await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } })
      .extract({ left, top, width, height }).resize(240, 240, { fit: "fill" }).jpeg().toBuffer();
    const crop = await decodePhoto(new Uint8Array(bytes));
    const inCrop = await a.detect(crop);
    assert.ok(inCrop.length >= 1, `crop ${k}: no face`);
    const best = inCrop[0];
    const [cx, cy] = [best.box.x + best.box.width / 2, best.box.y + best.box.height / 2];
    const [ex, ey] = [
      (f.box.x + f.box.width / 2 - left) * 240 / width,
      (f.box.y + f.box.height / 2 - top) * 240 / height,
    ];
    assert.ok(
      Math.hypot(cx - ex, cy - ey) < 30,
      `crop ${k}: the best face at ${cx},${cy}, expected ${ex},${ey}`,
    );
    assertPlausibleLandmarks(best, `crop ${k}`);
  }
  // Without the second look with a border, the detector misses most of these crops: the border matters.
  const blank = { data: new Uint8Array(200 * 150 * 3).fill(128), width: 200, height: 150 };
  assert.equal((await a.detect(blank)).length, 0);
});

/** Umeyama's closed form for a similarity without reflection, through the SVD of the 2x2 covariance. */
function umeyama(from: readonly Point[], to: readonly Point[]): Similarity {
  const n = from.length;
  const mean = (
    ps: readonly Point[],
  ) => [ps.reduce((s, p) => s + p[0], 0) / n, ps.reduce((s, p) => s + p[1], 0) / n];
  const [mx, my] = mean(from), [nx, ny] = mean(to);
  // Covariance S = 1/n sum (q - mq)(p - mp)^T.
  let s11 = 0, s12 = 0, s21 = 0, s22 = 0, varP = 0;
  for (let i = 0; i < n; i++) {
    const px = from[i][0] - mx, py = from[i][1] - my, qx = to[i][0] - nx, qy = to[i][1] - ny;
    s11 += qx * px / n;
    s12 += qx * py / n;
    s21 += qy * px / n;
    s22 += qy * py / n;
    varP += (px * px + py * py) / n;
  }
  // SVD of a 2x2 matrix: S = R(phi) diag(d1, d2) R(theta)^T with d1 >= |d2|.
  const e = (s11 + s22) / 2, f = (s11 - s22) / 2, g = (s21 + s12) / 2, h = (s21 - s12) / 2;
  const q = Math.hypot(e, h), r = Math.hypot(f, g);
  const d1 = q + r, d2 = q - r;
  const a1 = Math.atan2(g, f), a2 = Math.atan2(h, e);
  const theta = (a2 - a1) / 2, phi = (a2 + a1) / 2;
  // R = U diag(1, det(U V^T)) V^T with U = R(phi), V^T = R(theta): both rotations (d2 carries the
  // sign), so R = R(phi + theta).
  const angle = phi + theta;
  const c = (d1 + d2) / varP; // trace(D S) / var(p), with S = diag(1, 1)
  const a = c * Math.cos(angle), b = c * Math.sin(angle);
  return { a, b, tx: nx - (a * mx - b * my), ty: ny - (b * mx + a * my) };
}

function randomFive(seed: number): FivePoints {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  return Array.from({ length: 5 }, () => [400 + 300 * rnd(), 200 + 300 * rnd()]) as unknown as FivePoints;
}

Deno.test("faces: the least-squares similarity equals Umeyama's closed form and numpy's least squares", async () => {
  const cases: [FivePoints, FivePoints][] = [];
  for (let k = 0; k < 20; k++) {
    cases.push([randomFive(7 * k + 1), templatePoints(DEFAULT_TEMPLATE, 50 + 10 * k)]);
  }
  // An exact similarity is recovered exactly.
  const known: Similarity = { a: 0.4 * Math.cos(0.7), b: 0.4 * Math.sin(0.7), tx: -31, ty: 12.5 };
  const src = randomFive(99);
  const exact = estimateSimilarity(src, src.map((p) => applySimilarity(known, p)));
  for (const key of ["a", "b", "tx", "ty"] as const) assert.ok(Math.abs(exact[key] - known[key]) < 1e-9, key);
  for (const [from, to] of cases) {
    const t = estimateSimilarity(from, to), u = umeyama(from, to);
    for (const key of ["a", "b", "tx", "ty"] as const) {
      assert.ok(
        Math.abs(t[key] - u[key]) < 1e-9 * Math.max(1, Math.abs(u[key])),
        `${key}: ${t[key]} vs ${u[key]}`,
      );
    }
  }
  // numpy: the linear least squares over (a, b, tx, ty), where Python and numpy are installed.
  const script = `
import json, sys
import numpy as np
out = []
for src, dst in json.load(sys.stdin):
    A, y = [], []
    for (x, yy), (X, Y) in zip(src, dst):
        A.append([x, -yy, 1, 0]); y.append(X)
        A.append([yy, x, 0, 1]); y.append(Y)
    out.append(np.linalg.lstsq(np.array(A), np.array(y), rcond=None)[0].tolist())
print(json.dumps(out))`;
  let child;
  try {
    child = new Deno.Command(PYTHON, {
      args: ["-c", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
  } catch {
    console.log(`  ${PYTHON} not found: the numpy comparison is skipped`);
    return;
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(cases)));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  if (!success && new TextDecoder().decode(stderr).includes("No module named 'numpy'")) {
    console.log("  numpy is not installed: the numpy comparison is skipped");
    return;
  }
  assert.ok(success, new TextDecoder().decode(stderr));
  const solutions = JSON.parse(new TextDecoder().decode(stdout)) as number[][];
  cases.forEach(([from, to], k) => {
    const t = estimateSimilarity(from, to);
    [t.a, t.b, t.tx, t.ty].forEach((v, j) =>
      assert.ok(Math.abs(v - solutions[k][j]) < 1e-6 * Math.max(1, Math.abs(v)))
    );
  });
});

Deno.test("faces: sharp's warp puts image points where the similarity says, to a tenth of a pixel", async () => {
  const W = 300, H = 220;
  const spots: Point[] = [[100.5, 80.5], [180.5, 85.5], [140.5, 120.5], [60.5, 170.5], [250.5, 30.5]];
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = 0;
      for (const [px, py] of spots) v += Math.exp(-((x + 0.5 - px) ** 2 + (y + 0.5 - py) ** 2) / 32);
      data.fill(Math.min(255, Math.round(255 * v)), (y * W + x) * 3, (y * W + x) * 3 + 3);
    }
  }
  const cases: [number, number, number, number, number][] = [
    [1, 0, 0, 0, 300],
    [0.8, 0.3, 20, -10, 200],
    [2, -0.5, -100, 50, 300],
    [0.3, 0.2, 10, 5, 90], // shrinks first
    [1.3, 3, 400, 300, 350], // upside down
  ];
  for (const [scale, angle, tx, ty, size] of cases) {
    const t = { a: scale * Math.cos(angle), b: scale * Math.sin(angle), tx, ty };
    const out = await warpSimilarity({ data, width: W, height: H }, t, size);
    assert.equal(out.width, size);
    assert.equal(out.height, size);
    let checked = 0;
    for (const p of spots) {
      const [ex, ey] = applySimilarity(t, p);
      const r = Math.max(3, 8 * scale);
      if (ex < r || ey < r || ex > size - r || ey > size - r) continue;
      let sx = 0, sy = 0, s = 0;
      for (let y = Math.floor(ey - r); y < Math.ceil(ey + r); y++) {
        for (let x = Math.floor(ex - r); x < Math.ceil(ex + r); x++) {
          const v = out.data[(y * size + x) * 3];
          [sx, sy, s] = [sx + v * (x + 0.5), sy + v * (y + 0.5), s + v];
        }
      }
      assert.ok(Math.hypot(sx / s - ex, sy / s - ey) < 0.15, `scale ${scale} angle ${angle}: spot ${p} off`);
      checked++;
    }
    assert.ok(checked >= 2);
  }
});

Deno.test("faces: aligned demo faces have their five points on the template, at 100 and 64 px", async () => {
  const a = await getAnalyzer();
  const photo = await decodePhoto(sample(3));
  const faces = await a.detect(photo);
  for (const size of [100, 64]) {
    const target = templatePoints(DEFAULT_TEMPLATE, size);
    for (const face of faces) {
      const { image, transform, residual } = await alignFace(photo, face.points, { size });
      assert.equal(image.width, size);
      assert.equal(image.data.length, size * size * 3);
      assert.ok(residual < 0.06 * size, `residual ${residual}`);
      // The eye centres within a few pixels of the template's.
      for (const i of [0, 1]) {
        const [x, y] = applySimilarity(transform, face.points[i]);
        assert.ok(Math.hypot(x - target[i][0], y - target[i][1]) < 0.05 * size, `eye ${i}: ${x},${y}`);
      }
    }
  }
  // The landmarks of the aligned face, found again on it, are where the template put them.
  const { image } = await alignFace(photo, faces[0].points, { size: 160 });
  const again = await a.landmarkNet.landmarks(image, [{ x: 0, y: 0, width: 160, height: 160 }]);
  const five = fivePointsFrom68(again[0]);
  const target = templatePoints(DEFAULT_TEMPLATE, 160);
  for (const i of [0, 1]) {
    assert.ok(Math.hypot(five[i][0] - target[i][0], five[i][1] - target[i][1]) < 8, `${five[i]}`);
  }
  const { residual } = alignmentTransform(five, { size: 160 });
  assert.ok(residual < 8);
});

Deno.test("faces: templates are checked, and pickFace keeps the largest or the best face", () => {
  assert.deepEqual(checkTemplate(DEFAULT_TEMPLATE), DEFAULT_TEMPLATE);
  assert.throws(() => checkTemplate({ name: "x", points: [[0, 0]] }), /five \[x, y\] pairs/);
  assert.throws(
    () =>
      checkTemplate(
        { name: "x", points: [[0.3, 0.4], [0.7, 0.4], [0.5, 1.5], [0.3, 0.8], [0.7, 0.8]] },
        "t.json",
      ),
    /t\.json: points\[2\] \(nose tip\)/,
  );
  assert.throws(
    () => checkTemplate({ name: "x", points: [[0.7, 0.4], [0.3, 0.4], [0.5, 0.6], [0.3, 0.8], [0.7, 0.8]] }),
    /left of the right eye/,
  );
  assert.equal(pickFace([]), null);
  const faces = [
    { box: { x: 0, y: 0, width: 10, height: 10 }, score: 0.9 },
    { box: { x: 20, y: 0, width: 30, height: 30 }, score: 0.6 },
  ];
  assert.deepEqual(pickFace(faces), { index: 1, reason: "the largest of 2 faces (30x30 px)" });
  assert.equal(pickFace(faces, "best")?.index, 0);
});

async function copyPhoto(from: string, to: string) {
  await Deno.mkdir(join(to, ".."), { recursive: true });
  await Deno.copyFile(from, to);
}

Deno.test("align: a folder with class folders, a corrupt file and a faceless image; then resumed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await getAnalyzer();
    const src = join(dir, "photos"), dst = join(dir, "aligned");
    await copyPhoto(sample(1), join(src, "happy", "one.jpg"));
    await copyPhoto(sample(4), join(src, "happy", "four.jpg"));
    await copyPhoto(sample(6), join(src, "sad", "six.jpg"));
    await Deno.writeTextFile(join(src, "sad", "broken.jpg"), "not an image");
    await sharp({ create: { width: 160, height: 120, channels: 3, background: "#7799bb" } }).png()
      .toFile(join(src, "sad", "wall.png"));
    await Deno.writeTextFile(join(src, "notes.txt"), "labels\n");
    const lines: string[] = [];
    const first = await alignFolder(src, dst, {
      size: 64,
      live: false,
      log: (l) => lines.push(l),
      backend: BACKEND,
    });
    assert.deepEqual(
      {
        images: first.images,
        aligned: first.aligned,
        none: first.none,
        skipped: first.skipped,
        copied: first.copied,
      },
      { images: 5, aligned: 3, none: 1, skipped: 0, copied: 1 },
    );
    assert.deepEqual(first.errors.map((e) => e.source), ["sad/broken.jpg"]);
    for (const f of ["happy/one.jpg", "happy/four.jpg", "sad/six.jpg"]) {
      const meta = await sharp(join(dst, f)).metadata();
      assert.deepEqual([meta.width, meta.height, meta.format], [64, 64, "jpeg"], f);
    }
    assert.equal(await Deno.readTextFile(join(dst, "notes.txt")), "labels\n");
    const log = await readAlignLog(dst);
    const one = log.get("happy/one.jpg") as AlignLogEntry;
    assert.equal(one.status, "aligned");
    assert.equal(one.faces, 3);
    assert.match(one.reason ?? "", /^the largest of 3 faces/);
    assert.equal(log.get("sad/wall.png")?.status, "none");
    assert.equal(log.get("sad/broken.jpg")?.status, "error");
    assert.match(log.get("sad/broken.jpg")?.error ?? "", /broken\.jpg/);
    assert.ok(lines.some((l) => l.startsWith("sad/broken.jpg: error:")));
    assert.ok(lines.some((l) => l === "sad/wall.png: no face found"));
    assert.ok(lines.some((l) => l.startsWith("align [") && l.includes("5/5")));
    const alignment = JSON.parse(await Deno.readTextFile(join(dst, ALIGNMENT_FILE)));
    assert.equal(alignment.size, 64);
    assert.deepEqual(alignment.template, DEFAULT_TEMPLATE);

    // Resumed: the done images are skipped, the unreadable one is tried again.
    await Deno.remove(join(dst, "sad/six.jpg"));
    const second = await alignFolder(src, dst, { size: 64, live: false, log: () => {}, backend: BACKEND });
    assert.deepEqual([second.skipped, second.aligned, second.none, second.errors.length], [3, 1, 0, 1]);
    const entries = (await Deno.readTextFile(join(dst, ALIGN_LOG_FILE))).trim().split("\n");
    assert.equal(entries.length, 7);
    // Another size into the same folder is refused.
    await assert.rejects(
      () => alignFolder(src, dst, { size: 100, log: () => {} }),
      /aligned with size 64, not 100/,
    );
    await assert.rejects(
      () => alignFolder(src, join(src, "out"), { log: () => {} }),
      /must not be inside the source/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("align: RAF-DB's original images become its aligned layout, which the rafdb loader reads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await getAnalyzer();
    const src = join(dir, "raf"), dst = join(dir, "raf-aligned");
    await copyPhoto(sample(2), join(src, "Image", "original", "train_00001.jpg"));
    await copyPhoto(sample(3), join(src, "Image", "original", "test_0001.jpg"));
    await Deno.mkdir(join(src, "EmoLabel"));
    await Deno.writeTextFile(join(src, RAF_DB_LABEL_FILE), "train_00001.jpg 4\ntest_0001.jpg 1\n");
    const result = await alignFolder(src, dst, { size: 100, live: false, log: () => {}, backend: BACKEND });
    assert.equal(result.layout, "rafdb");
    assert.equal(result.aligned, 2);
    const train = await rafDb(dst, { split: "train" });
    assert.equal(train.size, 1);
    assert.equal(train.classNames[train.labels[0]], "Happiness");
    const meta = await sharp(join(dst, "Image", "aligned", "train_00001_aligned.jpg")).metadata();
    assert.deepEqual([meta.width, meta.height], [100, 100]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict: a raw photo gives one row per face, drawn with --annotate; aligned crops work as before", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await getAnalyzer();
    const config = await resolveConfig({
      preset: "synthetic",
      overrides: [
        ...tinySyntheticOverrides(join(dir, "cache"), 20, { backend: BACKEND }),
        "trainer.epochs=1",
      ],
    });
    const { runDir } = await trainRun(config, {
      runDir: join(dir, "run"),
      progress: false,
      report: false,
      log: () => {},
    });
    const crops = join(dir, "cache", "synthetic-20-0-16", "Image", "aligned");
    const crop = join(crops, [...Deno.readDirSync(crops)][0].name);

    const run = await loadRun(runDir);
    const photos = await predictPhotos(run, [sample(1), crop], { analyzer: a });
    const [before] = await predictImages(run, [crop]);
    run.model.dispose();
    assert.equal(photos[0].mode, "detect");
    assert.equal(photos[0].predictions.length, FACES_PRESENT[0]);
    for (const p of photos[0].predictions) {
      assert.ok(p.face && p.face.box.width > 50);
      assert.ok(Math.abs(Object.values(p.probabilities).reduce((x, y) => x + y) - 1) < 1e-4);
    }
    assert.equal(photos[1].mode, "crop");
    assert.deepEqual(photos[1].predictions[0], before);
    const table = formatPhotoPredictions(photos, run.classNames).split("\n");
    assert.equal(table.length, 1 + FACES_PRESENT[0] + 1);
    assert.match(table[0], /^image\s+face\s+box\s+prediction/);

    // The task: a table row per face, and the annotated picture at the photo's size.
    const out = join(dir, "annotated.png");
    const child = await taskCommand("predict.ts", [
      runDir,
      sample(5),
      "--annotate",
      out,
      "--backend",
      BACKEND,
    ])
      .output();
    const stdout = new TextDecoder().decode(child.stdout);
    assert.ok(child.success, new TextDecoder().decode(child.stderr));
    const rows = stdout.trim().split("\n").slice(1);
    assert.equal(rows.length, FACES_PRESENT[4]);
    rows.forEach((row, k) =>
      assert.match(row, new RegExp(`sample5\\.jpg\\s+${k + 1}\\s+\\d+,\\d+ \\d+x\\d+\\s`))
    );
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", 1920, 1398]);

    // --json: the face boxes with the distributions.
    const json = await taskCommand("predict.ts", [
      runDir,
      sample(3),
      "--json",
      "--detect",
      "--backend",
      BACKEND,
    ]).output();
    assert.ok(json.success, new TextDecoder().decode(json.stderr));
    const parsed = JSON.parse(new TextDecoder().decode(json.stdout));
    assert.equal(parsed.length, FACES_PRESENT[2]);
    assert.deepEqual(Object.keys(parsed[0].face.box), ["x", "y", "width", "height"]);

    // The same faces through predictPhotosRun, with the annotation into a folder.
    const viaRun = await predictPhotosRun(runDir, [sample(3), crop], { annotate: join(dir, "drawn") });
    assert.deepEqual(
      viaRun.photos[0].predictions.map((p) => p.face?.box),
      parsed.map((p: { face: { box: unknown } }) => p.face.box),
    );
    assert.equal(viaRun.annotated.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const CHROMIUM = findChromium();
if (!CHROMIUM) {
  console.log("faces_test.ts: Chromium not found (/usr/bin/chromium): the browser tests are skipped");
}

/**
 * Opens `url` in headless Chromium through its DevTools protocol and waits, in real time, until the page's
 * title is "done" or "error: ..."; returns the text of #result.
 */
async function runPage(
  url: string,
  profile: string,
  flags: string[] = [],
  timeoutMs = 300_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const page = await openChromium(CHROMIUM!, { profile, flags, timeoutMs });
  try {
    await page.send("Page.navigate", { url });
    while (true) {
      // While the page loads its document may not answer yet: read that as no title.
      const title = String(
        await page.evaluate("document.title").catch((error) => {
          if (!page.connected) throw error;
          return "";
        }) ?? "",
      );
      if (title === "done") break;
      if (title.startsWith("error:")) throw new Error(`the page failed: ${title}`);
      if (Date.now() > deadline) {
        throw new Error(
          `the page did not finish: ${await page.evaluate("document.getElementById('status').textContent")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    return String(await page.evaluate("document.getElementById('result').textContent"));
  } finally {
    await page.close();
  }
}

/** A photo as a YUV4MPEG2 file (4:2:0, full-range BT.601), the format of Chromium's fake camera. */
async function writeY4m(
  path: string,
  rgb: { data: Uint8Array; width: number; height: number },
  frames: number,
) {
  const { data, width: W, height: H } = rgb;
  const y = new Uint8Array(W * H), u = new Uint8Array(W * H / 4), v = new Uint8Array(W * H / 4);
  const clamp = (x: number) => Math.max(0, Math.min(255, Math.round(x)));
  for (let i = 0; i < W * H; i++) {
    y[i] = clamp(0.299 * data[3 * i] + 0.587 * data[3 * i + 1] + 0.114 * data[3 * i + 2]);
  }
  for (let r = 0; r < H / 2; r++) {
    for (let c = 0; c < W / 2; c++) {
      let cb = 0, cr = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const i = 3 * ((2 * r + dy) * W + 2 * c + dx);
        cb += 128 - 0.168736 * data[i] - 0.331264 * data[i + 1] + 0.5 * data[i + 2];
        cr += 128 + 0.5 * data[i] - 0.418688 * data[i + 1] - 0.081312 * data[i + 2];
      }
      u[r * W / 2 + c] = clamp(cb / 4);
      v[r * W / 2 + c] = clamp(cr / 4);
    }
  }
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [enc.encode(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`)];
  for (let f = 0; f < frames; f++) parts.push(enc.encode("FRAME\n"), y, u, v);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
  await Deno.writeFile(path, bytes);
}

interface PageFace {
  box: { x: number; y: number; width: number; height: number };
  probabilities: Record<string, number>;
}

/** Deno's reference: the same faces aligned with sharp and classified with the exported model. */
async function denoFaces(out: string, photo: { data: Uint8Array; width: number; height: number }) {
  const a = await getAnalyzer();
  const loaded = await loadExportedModel(out);
  try {
    const faces = await a.detect(photo);
    const results: PageFace[] = [];
    for (const face of faces) {
      const { image } = await alignFace(photo, face.points, { size: 100 });
      const png = await sharp(image.data, { raw: { width: 100, height: 100, channels: 3 } }).png().toBuffer();
      const [p] = await predict(loaded, [new Uint8Array(png)]);
      results.push({ box: face.box, probabilities: p.probabilities });
    }
    return results;
  } finally {
    loaded.dispose();
  }
}

function maxGap(browser: PageFace[], deno: PageFace[]): { box: number; probability: number } {
  let box = 0, probability = 0;
  browser.forEach((b, k) => {
    const d = deno[k];
    for (const key of ["x", "y", "width", "height"] as const) {
      box = Math.max(box, Math.abs(b.box[key] - d.box[key]));
    }
    for (const n of Object.keys(d.probabilities)) {
      probability = Math.max(probability, Math.abs(b.probabilities[n] - d.probabilities[n]));
    }
  });
  return { box, probability };
}

Deno.test({
  name:
    "examples/web/faces.html in headless Chromium: a photo and a fake camera give Deno's faces and probabilities",
  ignore: !CHROMIUM,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ada-df-faces-web-" });
    let server: Awaited<ReturnType<typeof startServer>> | undefined;
    const model = new AdaDfModel("tiny", { numClasses: 7, seed: 5 });
    try {
      // A model whose distributions are far from uniform: move the BatchNorm statistics and the head.
      const rng = new Random(11);
      for (const [name, v] of [...model.buffers, ...model.params]) {
        const f = name.endsWith("running_mean")
          ? () => rng.normal(0, 0.3)
          : name.endsWith("running_var")
          ? () => rng.uniform(0.4, 2.5)
          : name === "target.fc.weight"
          ? () => rng.normal(0, 0.3)
          : null;
        if (!f) continue;
        const t = tf.tensor(Float32Array.from({ length: v.size }, f), v.shape);
        v.assign(t);
        t.dispose();
      }
      const out = join(dir, "model");
      const classNames = ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral"];
      await exportInferenceModel(model, { outDir: out, size: 32, classNames });
      await buildFaces(out);
      await Deno.copyFile(sample(1), join(out, "photo.jpg"));
      const photo = await decodePhoto(sample(1));
      const deno = await denoFaces(out, photo);
      assert.equal(deno.length, FACES_PRESENT[0]);
      assert.ok(Math.max(...Object.values(deno[0].probabilities)) > 0.25, "a distribution far from uniform");

      server = await startServer(out);
      // The wasm backend, as on the Deno side (the page bundles it; build_faces copies its binaries).
      const page = `${server.url}faces.html?model=model/&backend=wasm`;
      const shot = JSON.parse(await runPage(`${page}&image=model/photo.jpg`, join(dir, "profile1")));
      assert.equal(shot.backend, "wasm");
      assert.equal(shot.faces.length, deno.length);
      const photoGap = maxGap(shot.faces, deno);
      console.log(
        `  photo: boxes within ${photoGap.box.toExponential(1)} px, probabilities within ${
          photoGap.probability.toExponential(1)
        }`,
      );
      assert.ok(photoGap.box < 0.01, `boxes differ by ${photoGap.box} px`);
      assert.ok(photoGap.probability < 0.02, `probabilities differ by ${photoGap.probability}`);

      // The fake camera streams a 640x480 frame of sample5 (5 faces).
      const frameRgb = await sharp(sample(5)).extract({ left: 28, top: 0, width: 1864, height: 1398 })
        .resize(640, 480, { fit: "fill" }).removeAlpha().raw().toBuffer();
      const frame = { data: new Uint8Array(frameRgb), width: 640, height: 480 };
      const y4m = join(dir, "camera.y4m");
      await writeY4m(y4m, frame, 3);
      const live = JSON.parse(
        await runPage(`${page}&camera=1`, join(dir, "profile2"), [
          "--use-fake-device-for-media-stream",
          "--use-fake-ui-for-media-stream",
          `--use-file-for-fake-video-capture=${y4m}`,
          "--autoplay-policy=no-user-gesture-required",
        ]),
      );
      assert.deepEqual([live.width, live.height], [640, 480]);
      const reference = await denoFaces(out, frame);
      assert.equal(reference.length, FACES_PRESENT[4]);
      assert.equal(live.faces.length, reference.length);
      const cameraGap = maxGap(live.faces, reference);
      console.log(
        `  camera: boxes within ${cameraGap.box.toFixed(2)} px, probabilities within ${
          cameraGap.probability.toFixed(3)
        }`,
      );
      // The camera path goes through YUV 4:2:0 and Chromium's conversion back to RGB: close, not equal.
      assert.ok(cameraGap.box < 4, `boxes differ by ${cameraGap.box} px`);
      assert.ok(cameraGap.probability < 0.08, `probabilities differ by ${cameraGap.probability}`);
    } finally {
      model.dispose();
      await server?.stop();
      await removeWithRetries(dir);
    }
  },
});

Deno.test({
  name: "faces: free the networks",
  fn: async () => {
    analyzer?.dispose();
    analyzer = undefined;
    await initBackend("cpu");
  },
});
