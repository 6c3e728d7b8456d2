/**
 * Adam with PyTorch's update rule and named state, and the exponential learning-rate schedule.
 *
 * The moments are keyed by the parameters' state_dict names, so that checkpoints hold them under
 * readable names (`exp_avg.target.fc.weight`) and a run can be resumed exactly.
 *
 * @module
 */
import { type Tensor, tf, type Variable } from "../engine/tf.ts";
import { type AdamCoefficients, adamUpdate } from "../engine/_fused.ts";

/** Options of {@linkcode Adam}. */
export interface AdamOptions {
  /**
   * Learning rate.
   * @default {0.001}
   */
  lr?: number;
  /**
   * Decay of the first moment.
   * @default {0.9}
   */
  beta1?: number;
  /**
   * Decay of the second moment.
   * @default {0.999}
   */
  beta2?: number;
  /**
   * Added to the denominator.
   * @default {1e-8}
   */
  eps?: number;
  /**
   * L2 penalty added to the gradient (PyTorch's `weight_decay`).
   * @default {0}
   */
  weightDecay?: number;
}

/** Adam's state as plain data, for checkpoints. */
export interface AdamState {
  /** Steps taken. */
  step: number;
  /** Current learning rate. */
  lr: number;
  /** First moments by parameter name. */
  expAvg: Map<string, { shape: number[]; data: Float32Array }>;
  /** Second moments by parameter name. */
  expAvgSq: Map<string, { shape: number[]; data: Float32Array }>;
}

/**
 * Adam as `torch.optim.Adam`: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 * p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { Adam } from "./optim.ts";
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const adam = new Adam({ lr: 0.1 });
 * adam.update(new Map([["w", w]]), new Map([["w", tf.tensor1d([1, -1])]]));
 * // the first step moves each parameter by lr against the sign of its gradient: about [0.9, 2.1]
 * const [a, b] = w.dataSync();
 * assert.ok(Math.abs(a - 0.9) < 1e-5 && Math.abs(b - 2.1) < 1e-5);
 * assert.equal(adam.step, 1);
 * ```
 */
export class Adam {
  /** Learning rate (the scheduler changes it). */
  lr: number;
  /** First-moment decay. */
  readonly beta1: number;
  /** Second-moment decay. */
  readonly beta2: number;
  /** Denominator epsilon. */
  readonly eps: number;
  /** L2 penalty. */
  readonly weightDecay: number;
  /** Steps taken. */
  step = 0;
  #m = new Map<string, Variable>();
  #v = new Map<string, Variable>();

  /** Creates the optimiser. */
  constructor(options: AdamOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
  }

  /** Applies one update to the named parameters that have a gradient. */
  update(params: Map<string, Variable>, grads: Map<string, Tensor>): void {
    this.step++;
    const c1 = 1 - this.beta1 ** this.step;
    const c2 = 1 - this.beta2 ** this.step;
    const k: AdamCoefficients = {
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      stepSize: this.lr / c1,
      sqrtC2: Math.sqrt(c2),
      weightDecay: this.weightDecay,
    };
    for (const [name, grad] of grads) {
      const p = params.get(name);
      if (!p) throw new Error(`Adam: gradient for unknown parameter '${name}'.`);
      let m = this.#m.get(name);
      let v = this.#v.get(name);
      if (!m || !v) {
        m = tf.variable(tf.zerosLike(p), false);
        v = tf.variable(tf.zerosLike(p), false);
        this.#m.set(name, m);
        this.#v.set(name, v);
      }
      // One fused kernel where the backend has it (wasm, native), TensorFlow.js's ops otherwise.
      adamUpdate(p, grad, m, v, k);
    }
  }

  /** The state as plain arrays (read asynchronously, as GPU backends require). */
  async getState(): Promise<AdamState> {
    const read = async (vars: Map<string, Variable>) =>
      new Map(
        await Promise.all(
          [...vars].map(async ([k, t]) =>
            [k, { shape: t.shape, data: await t.data() as Float32Array }] as const
          ),
        ),
      );
    return { step: this.step, lr: this.lr, expAvg: await read(this.#m), expAvgSq: await read(this.#v) };
  }

  /** Restores a state from {@linkcode Adam.getState}. */
  setState(state: AdamState): void {
    this.dispose();
    this.step = state.step;
    this.lr = state.lr;
    for (const [target, source] of [[this.#m, state.expAvg], [this.#v, state.expAvgSq]] as const) {
      for (const [name, { shape, data }] of source) {
        const t = tf.tensor(data, shape);
        target.set(name, tf.variable(t, false));
        t.dispose();
      }
    }
  }

  /** Frees the moments. */
  dispose(): void {
    for (const v of [...this.#m.values(), ...this.#v.values()]) v.dispose();
    this.#m.clear();
    this.#v.clear();
  }
}

/**
 * The learning rate of PyTorch's `ExponentialLR` after `epochsDone` epochs: lr0 * gamma^epochsDone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exponentialLr } from "./optim.ts";
 * assert.ok(Math.abs(exponentialLr(1e-3, 0.9, 2) - 8.1e-4) < 1e-12);
 * ```
 */
export function exponentialLr(lr0: number, gamma: number, epochsDone: number): number {
  return lr0 * gamma ** epochsDone;
}
