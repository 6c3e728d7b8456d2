/**
 * Benchmarks a full Ada-DF training step (stem, both branches, the full objective, backward, Adam) and
 * an inference step (stem, target branch), printing one JSON line per case.
 *
 * ```sh
 * deno task bench --backend wasm --backbone resnet18 --size 112 --batch 16 --steps 3 --json
 * deno task bench --backend wasm --peer pytorch     # also runs the same steps in PyTorch, same threads
 * deno task bench --case conv --backend cpu         # one conv layer forward + backward
 * ```
 *
 * Cases: `train`, `infer` (default both) and `conv` (one 3x3 conv layer, batch 8, 56x56x64 -> 64,
 * forward and both gradients). Times are medians over `--steps` after `--warmup` steps (default 1).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { tf } from "../engine/tf.ts";
import { type BackendName, initBackend } from "../engine/backend.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { type BackboneName, BACKBONES } from "../backbones/resnet.ts";
import { disposeOutputs, trainStep } from "../training/step.ts";
import { Adam } from "../training/optim.ts";
import { buildPlugins } from "../strategies/registry.ts";
import { computeObjective } from "../strategies/objective.ts";
import { thresholdDistributions } from "../strategies/functional.ts";
import { Random } from "../engine/random.ts";

const USAGE =
  "usage: bench [--backend auto|wasm|webgpu|tensorflow|cpu] [--backbone resnet18|resnet50|tiny] " +
  "[--size N] [--batch N] [--steps N] [--warmup N] [--case train,infer,conv] [--peer pytorch] [--json] [--profile]";

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  Deno.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        backend: { type: "string", default: "wasm" },
        backbone: { type: "string", default: "resnet18" },
        size: { type: "string", default: "112" },
        batch: { type: "string", default: "16" },
        steps: { type: "string", default: "3" },
        warmup: { type: "string", default: "1" },
        case: { type: "string", default: "train,infer" },
        peer: { type: "string" },
        json: { type: "boolean", default: false },
        profile: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
})();
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

const size = positive("size", values.size);
const batch = positive("batch", values.batch);
const steps = positive("steps", values.steps);
const warmup = Number(values.warmup);
if (!Number.isInteger(warmup) || warmup < 0) fail(`--warmup must be an integer >= 0, got '${values.warmup}'`);
const backbone = values.backbone as BackboneName;
if (!BACKBONES.includes(backbone)) fail(`--backbone must be one of ${BACKBONES.join(", ")}`);
const cases = values.case.split(",");
for (const c of cases) if (!["train", "infer", "conv"].includes(c)) fail(`unknown case '${c}'`);
if (values.peer != null && values.peer !== "pytorch") fail(`unknown peer '${values.peer}'`);

const backend = await initBackend(values.backend as BackendName);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median seconds over the steps after the warm-up steps, and the tensors left behind per step. */
async function measure(fn: () => Promise<void>): Promise<{ seconds: number; tensorGrowth: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const before = tf.memory().numTensors;
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1000);
  }
  return { seconds: median(times), tensorGrowth: (tf.memory().numTensors - before) / steps };
}

function report(result: Record<string, unknown>) {
  const line = {
    backend: backend.name,
    backbone,
    size,
    batch,
    ...result,
  };
  if (values.json) console.log(JSON.stringify(line));
  else console.log(Object.entries(line).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" "));
}

function pytorchPeer(peerCases: string[]): Map<string, { imagesPerSecond: number; stepSeconds: number }> {
  const script = fileURLToPath(new URL("./peer_pytorch.py", import.meta.url));
  const found = new Map<string, { imagesPerSecond: number; stepSeconds: number }>();
  for (const python of ["python3", "/usr/bin/python3"]) {
    const probe = spawnSync(python, ["-c", "import torch, torchvision"]);
    if (probe.status !== 0) continue;
    const run = spawnSync(python, [
      script,
      "--backbone",
      backbone === "tiny" ? "resnet18" : backbone,
      "--size",
      String(size),
      "--batch",
      String(batch),
      "--steps",
      String(steps),
      "--threads",
      "1",
      "--cases",
      peerCases.join(","),
    ], { encoding: "utf8", maxBuffer: 1 << 20 });
    if (run.status !== 0) throw new Error(`PyTorch peer failed:\n${run.stderr}`);
    for (const line of run.stdout.trim().split("\n")) {
      const r = JSON.parse(line);
      found.set(r.case, r);
    }
    return found;
  }
  console.error('peer pytorch: skipped, `python3 -c "import torch, torchvision"` fails (apt: python3-torch)');
  return found;
}

/** Prints the kernels of one step by total time to stderr. */
async function profileKernels(fn: () => Promise<void>) {
  const info = await tf.profile(fn);
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += Number(k.kernelTimeMs) || 0;
    entry.calls++;
    byKernel.set(k.name, entry);
  }
  const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20);
  for (const [name, { ms, calls }] of rows) {
    console.error(`${name.padEnd(28)} ${ms.toFixed(0).padStart(7)} ms  x${calls}`);
  }
}

const peer = values.peer === "pytorch"
  ? pytorchPeer(cases.filter((c) => c !== "conv"))
  : new Map<string, { imagesPerSecond: number; stepSeconds: number }>();

function withPeer(name: string, ips: number) {
  const p = peer.get(name);
  if (!p) return {};
  return {
    peer: "pytorch",
    peerThreads: 1,
    peerImagesPerSecond: p.imagesPerSecond,
    ratio: Number((ips / p.imagesPerSecond).toFixed(3)),
  };
}

const rng = new Random(0);
const imageData = new Float32Array(batch * size * size * 3).map(() => rng.normal());
const labelData = Int32Array.from({ length: batch }, (_, i) => i % 7);

if (cases.includes("train") || cases.includes("infer")) {
  const model = new AdaDfModel(backbone, { numClasses: 7, seed: 0 });
  const images = tf.tensor4d(imageData, [batch, size, size, 3]);
  const labels = tf.tensor1d(labelData, "int32");
  const classDistributions = thresholdDistributions(7, 0.7);
  if (cases.includes("train")) {
    const plugins = buildPlugins({});
    const optimizer = new Adam({ lr: 1e-3 });
    // One training step; the loss is read back (asynchronously, as GPU backends require).
    const step = async () => {
      const out = trainStep(
        model,
        optimizer,
        images,
        (o) => computeObjective(plugins, { ...o, labels, classDistributions }, { epoch: 1 }),
      );
      await out.total.data();
      disposeOutputs(out);
    };
    const { seconds, tensorGrowth } = await measure(step);
    if (values.profile) await profileKernels(step);
    report({
      case: "train",
      steps,
      stepSeconds: Number(seconds.toFixed(4)),
      imagesPerSecond: Number((batch / seconds).toFixed(3)),
      tensorGrowthPerStep: tensorGrowth,
      ...withPeer("train", batch / seconds),
    });
    optimizer.dispose();
  }
  if (cases.includes("infer")) {
    const { seconds } = await measure(async () => {
      const predictions = tf.tidy(() => {
        const features = model.stem(images, { training: false });
        const { logits, scores } = model.branch("target", features, { training: false });
        return tf.mul(logits, tf.sigmoid(scores).expandDims(1)).argMax(1);
      });
      await predictions.data();
      predictions.dispose();
    });
    report({
      case: "infer",
      steps,
      stepSeconds: Number(seconds.toFixed(4)),
      imagesPerSecond: Number((batch / seconds).toFixed(3)),
      ...withPeer("infer", batch / seconds),
    });
  }
  tf.dispose([images, labels, classDistributions]);
  model.dispose();
}

if (cases.includes("conv")) {
  const x = tf.randomNormal([8, 56, 56, 64], 0, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 64, 64], 0, 0.05, "float32", 2) as tf.Tensor4D;
  const grads = tf.grads((a: tf.Tensor, f: tf.Tensor) =>
    tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]).square().mean()
  );
  const { seconds } = await measure(async () => {
    const [dx, dw] = grads([x, w]);
    await Promise.all([dx.data(), dw.data()]);
    tf.dispose([dx, dw]);
  });
  report({
    case: "conv",
    layer: "8x56x56x64 -> 64, 3x3, stride 1",
    size: 56,
    batch: 8,
    steps,
    stepSeconds: Number(seconds.toFixed(4)),
    gflopPerSecond: Number((3 * 2 * 8 * 56 * 56 * 64 * 64 * 9 / seconds / 1e9).toFixed(2)),
  });
  tf.dispose([x, w]);
}
