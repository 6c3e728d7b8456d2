/**
 * Benchmarks a full Ada-DF training step (stem, both branches, the full objective, backward, Adam) and
 * an inference step (stem, target branch), printing one JSON line per case.
 *
 * ```sh
 * deno task bench --backend wasm --backbone resnet18 --size 112 --batch 16 --steps 3 --json
 * deno task bench --backend wasm --peer pytorch     # also runs the same steps in PyTorch, same threads
 * deno task bench --backend native --threads 1,2 --backbone resnet18,resnet50 --peer pytorch --json
 * deno task bench --case conv --backend cpu         # one conv layer forward + backward
 * deno task bench --backend wasm --fused off --profile  # the composite BatchNorm and Adam ops, by kernel
 * ```
 *
 * `--threads` (a list) sets the native backend's thread count (default: all cores; wasm and cpu run on
 * one thread). With `--peer pytorch`, a PyTorch process builds the same model at the same thread count and
 * its steps alternate with ours (one of its, one of ours), so that both see the same load on a shared
 * machine; each line carries both medians and `ratio` = our images/s over PyTorch's.
 *
 * Cases: `train`, `infer` (default both) and `conv` (one 3x3 conv layer, batch 8, 56x56x64 -> 64,
 * forward and both gradients). Times are medians over `--steps` after `--warmup` steps (default 1).
 *
 * `--fused off` runs BatchNorm (training mode) and Adam as TensorFlow.js's composite ops on wasm and
 * native too, instead of their fused kernels (`engine/_fused.ts`), to measure what fusion adds; each line
 * says which ran (`fused`). `--profile` prints one step's kernels by total time.
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
import { ADAM_UPDATE, FUSED_KERNELS, hasFusedKernel } from "../engine/_fused.ts";

const USAGE =
  "usage: bench [--backend auto|wasm|webgpu|tensorflow|native|cpu] [--backbone resnet18,resnet50,tiny] " +
  "[--threads N,M] [--size N] [--batch N] [--steps N] [--warmup N] [--case train,infer,conv] [--peer pytorch] " +
  "[--json] [--profile] [--fused on|off]";

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
        threads: { type: "string" },
        size: { type: "string", default: "112" },
        batch: { type: "string", default: "16" },
        steps: { type: "string", default: "3" },
        warmup: { type: "string", default: "1" },
        case: { type: "string", default: "train,infer" },
        peer: { type: "string" },
        json: { type: "boolean", default: false },
        profile: { type: "boolean", default: false },
        fused: { type: "string", default: "on" },
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
const backbones = values.backbone.split(",") as BackboneName[];
for (const b of backbones) {
  if (!BACKBONES.includes(b)) fail(`--backbone must be among ${BACKBONES.join(", ")}`);
}
const threadCounts = values.threads?.split(",").map((t) => positive("threads", t));
const cases = values.case.split(",");
for (const c of cases) if (!["train", "infer", "conv"].includes(c)) fail(`unknown case '${c}'`);
if (values.peer != null && values.peer !== "pytorch") fail(`unknown peer '${values.peer}'`);
if (!["on", "off"].includes(values.fused)) fail(`--fused must be on or off, got '${values.fused}'`);

const backend = await initBackend(values.backend as BackendName, { threads: threadCounts?.[0] });
if (threadCounts && backend.name !== "native" && threadCounts.some((t) => t !== (backend.threads ?? 1))) {
  fail(
    `--threads: the ${backend.name} backend runs on ${
      backend.threads ?? "its own"
    } thread(s); use --backend native`,
  );
}
console.error(`backend ${backend.name}: ${backend.reason}`);
/** Removes the fused kernels from the current backend (`--fused off`), so that the composite ops run. */
function unregisterFused() {
  for (const name of FUSED_KERNELS.keys()) {
    if (tf.getKernel(name, tf.getBackend()) != null) tf.unregisterKernel(name, tf.getBackend());
  }
}
if (values.fused === "off") unregisterFused();
/** The backbone and thread count being measured (the loop at the end sets them). */
let backbone: BackboneName = backbones[0];
let threads = backend.threads ?? 1;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Median seconds over the steps after the warm-up steps, and the tensors left behind per step. With a
 * peer case, each of our steps follows one step of the peer's (medians of both).
 */
async function measure(
  fn: () => Promise<void>,
  peerCase?: string,
): Promise<{ seconds: number; tensorGrowth: number; peerSeconds?: number }> {
  const paired = peerCase ? peer : null;
  for (let i = 0; i < warmup; i++) {
    if (paired) await paired.step(peerCase!);
    await fn();
  }
  const before = tf.memory().numTensors;
  const times: number[] = [];
  const peerTimes: number[] = [];
  for (let i = 0; i < steps; i++) {
    if (paired) peerTimes.push(await paired.step(peerCase!));
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1000);
  }
  return {
    seconds: median(times),
    tensorGrowth: (tf.memory().numTensors - before) / steps,
    peerSeconds: paired ? median(peerTimes) : undefined,
  };
}

function report(result: Record<string, unknown>) {
  const line = {
    backend: backend.name,
    backbone,
    size,
    batch,
    threads,
    fused: hasFusedKernel(ADAM_UPDATE),
    // OpenMP's idle policy (the native backend sets passive unless told otherwise; the peer inherits it).
    ...(backend.name === "native" ? { ompWaitPolicy: Deno.env.get("OMP_WAIT_POLICY") ?? "default" } : {}),
    ...result,
  };
  if (values.json) console.log(JSON.stringify(line));
  else console.log(Object.entries(line).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" "));
}

/**
 * PyTorch running the same steps in a process of its own (bench/peer_pytorch.py --serve), one step per
 * request, so that its steps alternate with ours.
 */
class PytorchPeer {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<string>;
  #buffered = "";

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Starts the peer for the current backbone and thread count, or returns null without PyTorch. */
  static start(): PytorchPeer | null {
    const script = fileURLToPath(new URL("./peer_pytorch.py", import.meta.url));
    for (const python of ["python3", "/usr/bin/python3"]) {
      const probe = spawnSync(python, ["-c", "import torch, torchvision"]);
      if (probe.status !== 0) continue;
      const child = new Deno.Command(python, {
        args: [
          script,
          "--serve",
          "--backbone",
          backbone === "tiny" ? "resnet18" : backbone,
          "--size",
          String(size),
          "--batch",
          String(batch),
          "--threads",
          String(threads),
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      return new PytorchPeer(child);
    }
    console.error(
      'peer pytorch: skipped, `python3 -c "import torch, torchvision"` fails (apt: python3-torch)',
    );
    return null;
  }

  /** Runs one step of `name` (`train` or `infer`) in PyTorch; its seconds. */
  async step(name: string): Promise<number> {
    await this.#writer.write(new TextEncoder().encode(`${name}\n`));
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("PyTorch peer exited (its error is above)");
      this.#buffered += value;
    }
    const end = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, end);
    this.#buffered = this.#buffered.slice(end + 1);
    return JSON.parse(line).seconds as number;
  }

  /** Ends the peer process. */
  async close(): Promise<void> {
    await this.#writer.close();
    await this.#child.status;
    this.#reader.releaseLock();
  }
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

let peer: PytorchPeer | null = null;

function withPeer(peerSeconds: number | undefined, seconds: number) {
  if (peerSeconds == null) return {};
  return {
    peer: "pytorch",
    peerThreads: threads,
    peerStepSeconds: Number(peerSeconds.toFixed(4)),
    peerImagesPerSecond: Number((batch / peerSeconds).toFixed(3)),
    ratio: Number((peerSeconds / seconds).toFixed(3)),
  };
}

const rng = new Random(0);
const imageData = new Float32Array(batch * size * size * 3).map(() => rng.normal());
const labelData = Int32Array.from({ length: batch }, (_, i) => i % 7);

async function modelCases() {
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
    const { seconds, tensorGrowth, peerSeconds } = await measure(step, "train");
    if (values.profile) await profileKernels(step);
    report({
      case: "train",
      steps,
      stepSeconds: Number(seconds.toFixed(4)),
      imagesPerSecond: Number((batch / seconds).toFixed(3)),
      tensorGrowthPerStep: tensorGrowth,
      ...withPeer(peerSeconds, seconds),
    });
    optimizer.dispose();
  }
  if (cases.includes("infer")) {
    const { seconds, peerSeconds } = await measure(async () => {
      const predictions = tf.tidy(() => {
        const features = model.stem(images, { training: false });
        const { logits, scores } = model.branch("target", features, { training: false });
        return tf.mul(logits, tf.sigmoid(scores).expandDims(1)).argMax(1);
      });
      await predictions.data();
      predictions.dispose();
    }, "infer");
    report({
      case: "infer",
      steps,
      stepSeconds: Number(seconds.toFixed(4)),
      imagesPerSecond: Number((batch / seconds).toFixed(3)),
      ...withPeer(peerSeconds, seconds),
    });
  }
  tf.dispose([images, labels, classDistributions]);
  model.dispose();
}

async function convCase() {
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

// Each backbone at each thread count; PyTorch runs right before ours, so that both see the same machine.
for (const b of backbones) {
  for (const t of threadCounts ?? [threads]) {
    backbone = b;
    if (backend.name === "native" && t !== threads) {
      threads = (await initBackend("native", { threads: t })).threads ?? t;
      if (values.fused === "off") unregisterFused();
    }
    if (cases.includes("train") || cases.includes("infer")) {
      peer = values.peer === "pytorch" ? PytorchPeer.start() : null;
      await modelCases();
      await peer?.close();
      peer = null;
    }
    if (cases.includes("conv") && b === backbones[0]) await convCase();
  }
}
