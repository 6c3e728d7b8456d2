/**
 * Test helper: a few whole Ada-DF training steps (tiny backbone, default plugins, Adam) on one backend,
 * recorded so that a backend's kernels can be compared with the cpu backend's on the same steps.
 *
 * @module
 */
import assert from "node:assert/strict";
import { tf } from "../engine/tf.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { thresholdDistributions } from "../strategies/functional.ts";
import { computeObjective } from "../strategies/objective.ts";
import { buildPlugins } from "../strategies/registry.ts";
import { Adam } from "../training/optim.ts";
import { disposeOutputs, trainStep } from "../training/step.ts";

/** What {@linkcode recordSteps} saw. */
export interface StepRecord {
  /** The total loss of each step. */
  losses: number[];
  /** Live tensors after each step. */
  counts: number[];
  /** The gradients of the first step, by parameter name. */
  grads: Map<string, Float32Array>;
  /** The BatchNorm buffers after the first step. */
  buffers: Map<string, Float32Array>;
  /** The parameters after the last step. */
  params: Map<string, Float32Array>;
  /** The names of the kernels that ran. */
  kernels: Set<string>;
}

/** Adam that also records the gradients of its first update (what the step computed). */
class RecordingAdam extends Adam {
  grads = new Map<string, Float32Array>();
  override update(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>): void {
    if (!this.grads.size) { for (const [k, g] of grads) this.grads.set(k, g.dataSync() as Float32Array); }
    super.update(params, grads);
  }
}

/** Runs `steps` training steps of a 7-class tiny Ada-DF model (seed 4) on `backend`, from the same batch. */
export async function recordSteps(
  backend: string,
  batch: { images: Float32Array; shape: [number, number, number, number]; labels: Int32Array },
  steps: number,
): Promise<StepRecord> {
  await tf.setBackend(backend);
  const model = new AdaDfModel("tiny", { numClasses: 7, seed: 4 });
  const optimizer = new RecordingAdam({ lr: 1e-3 });
  const x = tf.tensor4d(batch.images, batch.shape);
  const labels = tf.tensor1d(batch.labels, "int32");
  const classDistributions = thresholdDistributions(7, 0.7);
  const plugins = buildPlugins({});
  const losses: number[] = [];
  const counts: number[] = [];
  let buffers = new Map<string, Float32Array>();
  const kernels = new Set<string>();
  for (let s = 0; s < steps; s++) {
    const info = await tf.profile(async () => {
      const out = trainStep(
        model,
        optimizer,
        x,
        (o) => computeObjective(plugins, { ...o, labels, classDistributions }, { epoch: 1 + s }),
      );
      losses.push((await out.total.data())[0]);
      disposeOutputs(out);
    });
    for (const k of info.kernels) kernels.add(k.name);
    counts.push(tf.memory().numTensors);
    if (s === 0) buffers = new Map([...model.buffers].map(([k, v]) => [k, v.dataSync() as Float32Array]));
  }
  const params = new Map([...model.params].map(([k, v]) => [k, v.dataSync() as Float32Array]));
  const grads = optimizer.grads;
  tf.dispose([x, labels, classDistributions]);
  optimizer.dispose();
  model.dispose();
  return { losses, counts, grads, buffers, params, kernels };
}

/**
 * Checks that `ours` ran as many steps as `cpu` with a constant tensor count, the same first-step
 * gradients and every step's loss within `tolerance` (relative). A gradient is compared relative to its
 * own scale, floored at 1% of the step's largest gradient: one that is a sum cancelling to near zero (an
 * attention bias) keeps the rounding of its terms, which are of the size of the other gradients.
 */
export function assertSameSteps(ours: StepRecord, cpu: StepRecord, tolerance = 1e-4): void {
  assert.equal(new Set(ours.counts).size, 1, `tensors per step stay constant: ${ours.counts}`);
  assert.ok(ours.grads.size > 0 && ours.grads.size === cpu.grads.size);
  let largest = 0;
  for (const g of cpu.grads.values()) for (const v of g) largest = Math.max(largest, Math.abs(v));
  for (const [name, g] of cpu.grads) {
    const o = ours.grads.get(name)!;
    let diff = 0;
    let scale = 1e-2 * largest;
    for (let i = 0; i < g.length; i++) {
      diff = Math.max(diff, Math.abs(o[i] - g[i]));
      scale = Math.max(scale, Math.abs(g[i]));
    }
    assert.ok(diff / scale < tolerance, `gradient of ${name} differs by ${diff / scale} (relative)`);
  }
  assert.equal(ours.losses.length, cpu.losses.length);
  for (let s = 0; s < cpu.losses.length; s++) {
    const e = Math.abs(ours.losses[s] - cpu.losses[s]) / Math.abs(cpu.losses[s]);
    assert.ok(e < tolerance, `loss of step ${s + 1}: ${ours.losses[s]} vs ${cpu.losses[s]}`);
  }
}
