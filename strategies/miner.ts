/**
 * Class-distribution miners: accumulate the auxiliary branch's probabilities per class over an epoch
 * and turn them into the stabilised class distributions c' used by the next epoch (eqs. 4-7).
 *
 * The trainer drives a miner the same way whatever its kind: `begin(numClasses)` when an accumulation
 * starts, `observe(probs, labels)` for each batch of auxiliary softmax probabilities, `end()` when it
 * is over, and `distributions(numClasses)` for the c' in effect (the threshold distributions d_j before
 * the first `end()`). Only where `observe` is called differs: a miner with `extraPass` wants an extra
 * pass over the training set in eval mode after each epoch (the reference); one without it is fed the
 * training pass's own probabilities.
 *
 * Accumulators live in plain `Float64Array`s, so a miner holds no tensors; its state is plain data for
 * checkpoints. A miner only accumulates: turning the per-class sums into c' is the equation
 * `stabilizeClassDistributions` of `functional.ts`.
 *
 * A row is a sample. With TenCrop training the trainer feeds every crop as a row of its own (its
 * probabilities from that crop alone, its image's label), as the reference mines over its ten-crop
 * training loader; the class distributions are then means over crops.
 *
 * @module
 */
import { type Tensor1D, type Tensor2D, tf } from "../engine/tf.ts";
import { stabilizeClassDistributions } from "./functional.ts";
import { booleanOption, numberOption, type OptionsSchema, parseOptions, pluginOptions } from "./options.ts";

/** A miner's state as plain data, for checkpoints. */
export interface ClassDistributionMinerState {
  /** C, or 0 before the miner has been used. */
  numClasses: number;
  /** Whether an accumulation is open (between `begin` and `end`). */
  mining: boolean;
  /** [C * C] per-class sums of the observed probability rows, row-major (row j: class j). */
  sums: number[];
  /** [C] number of observed samples per class. */
  counts: number[];
  /** [C][C] class distributions c' in effect. */
  distributions: number[][];
}

/**
 * A class-distribution miner.
 *
 * @example One mining round
 * ```ts
 * import assert from "node:assert/strict";
 * import { tf } from "../engine/tf.ts";
 * import { epochPassMiner } from "./miner.ts";
 *
 * const round = (rows: number[][]) => rows.map((row) => row.map((v) => Math.round(v * 1e4) / 1e4));
 * const miner = epochPassMiner({ threshold: 0.6 });
 * // before the first mining: the threshold distributions d_j
 * assert.deepEqual(round(miner.distributions(2).arraySync()), [[0.6, 0.4], [0.4, 0.6]]);
 * miner.begin(2);
 * miner.observe(tf.tensor2d([[0.9, 0.1], [0.7, 0.3]]), tf.tensor1d([0, 0], "int32"));
 * // class 0: the mean [0.8, 0.2] is confident enough; class 1 is unseen, so it keeps d_1
 * assert.deepEqual(round(miner.end().arraySync()), [[0.8, 0.2], [0.4, 0.6]]);
 * ```
 */
export interface ClassDistributionMiner {
  /** The plugin's name, as in configs. */
  readonly name: string;
  /** Whether the trainer should run an extra pass over the training set to feed `observe`. */
  readonly extraPass: boolean;
  /** The threshold t of the stabilisation. */
  readonly threshold: number;
  /** Starts an accumulation: clears the sums and counts. */
  begin(numClasses: number): void;
  /**
   * Adds a batch: [N, C] auxiliary softmax probabilities and their int32 [N] labels (read synchronously).
   * A row is a sample: with several crops per image (TenCrop training), each crop is a row of its own
   * with its image's label, so that N_j counts crops, as the reference's mining pass does.
   */
  observe(probs: Tensor2D, labels: Tensor1D): void;
  /** As `observe`, reading the tensors asynchronously (better on GPU backends). */
  observeAsync(probs: Tensor2D, labels: Tensor1D): Promise<void>;
  /** Ends the accumulation, makes its c' the one in effect, and returns it as a new [C, C] tensor. */
  end(): Tensor2D;
  /** The c' in effect as a new [C, C] tensor: d_j until the first `end()` (or when C changes). */
  distributions(numClasses: number): Tensor2D;
  /** The state as plain data. */
  getState(): ClassDistributionMinerState;
  /** Restores a state from `getState()`. */
  setState(state: ClassDistributionMinerState): void;
}

/** Options of the built-in miners. */
export interface ClassDistributionMinerOptions {
  /**
   * t: a class keeps its mean c_j when c_j[j] >= t, otherwise falls back to d_j (RAF-DB 0.7,
   * AffectNet and SFEW 0.5).
   *
   * @default {0.7}
   */
  threshold?: number;
  /**
   * Use the reference code's per-epoch fallback row: t on the diagonal and a hard-coded 0.4 / (C - 1)
   * elsewhere (rows do not sum to 1 unless t = 0.6). The initial c' is d_j either way, as in the
   * reference.
   *
   * @default {false}
   */
  legacyFallback?: boolean;
}

class MeanClassDistributionMiner implements ClassDistributionMiner {
  readonly name: string;
  readonly extraPass: boolean;
  readonly threshold: number;
  readonly #legacy: boolean;
  #numClasses = 0;
  #mining = false;
  #sums = new Float64Array(0);
  #counts = new Float64Array(0);
  #current: number[][] = [];

  constructor(name: string, extraPass: boolean, threshold: number, legacy: boolean) {
    this.name = name;
    this.extraPass = extraPass;
    this.threshold = threshold;
    this.#legacy = legacy;
  }

  #owner(method: string): string {
    return `${this.name} miner: ${method}`;
  }

  /** d_j: the class distributions of no sample (always the paper's rows, as in the reference). */
  #initial(numClasses: number): number[][] {
    const none = new Float64Array(numClasses);
    return stabilizeClassDistributions(new Float64Array(numClasses * numClasses), none, {
      threshold: this.threshold,
    });
  }

  #checkClasses(method: string, numClasses: number): void {
    if (!Number.isInteger(numClasses) || numClasses < 2) {
      throw new Error(`${this.#owner(method)}: numClasses must be an integer >= 2, got ${numClasses}`);
    }
  }

  #ensure(numClasses: number): void {
    if (this.#numClasses === numClasses) return;
    this.#numClasses = numClasses;
    this.#sums = new Float64Array(numClasses * numClasses);
    this.#counts = new Float64Array(numClasses);
    this.#current = this.#initial(numClasses);
    this.#mining = false;
  }

  begin(numClasses: number): void {
    this.#checkClasses("begin()", numClasses);
    this.#ensure(numClasses);
    this.#sums.fill(0);
    this.#counts.fill(0);
    this.#mining = true;
  }

  #check(method: string, probs: Tensor2D, labels: Tensor1D): number {
    const owner = this.#owner(method);
    if (!this.#mining) throw new Error(`${owner}: called before begin()`);
    if (!(probs instanceof tf.Tensor) || probs.rank !== 2 || probs.shape[1] !== this.#numClasses) {
      throw new Error(
        `${owner}: probs must be an [N, ${this.#numClasses}] tensor, got ${
          probs instanceof tf.Tensor ? `[${probs.shape.join(", ")}]` : typeof probs
        }`,
      );
    }
    if (!(labels instanceof tf.Tensor) || labels.rank !== 1 || labels.shape[0] !== probs.shape[0]) {
      throw new Error(`${owner}: labels must be a Tensor1D with ${probs.shape[0]} entries`);
    }
    if (labels.dtype !== "int32") throw new Error(`${owner}: labels must be int32, got ${labels.dtype}`);
    return probs.shape[0];
  }

  #accumulate(method: string, probs: ArrayLike<number>, labels: ArrayLike<number>, n: number): void {
    const c = this.#numClasses;
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      if (!(y >= 0 && y < c)) {
        throw new Error(`${this.#owner(method)}: label ${y} at row ${i} is outside [0, ${c})`);
      }
    }
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      this.#counts[y] += 1;
      for (let k = 0; k < c; k++) this.#sums[y * c + k] += probs[i * c + k];
    }
  }

  observe(probs: Tensor2D, labels: Tensor1D): void {
    const n = this.#check("observe()", probs, labels);
    this.#accumulate("observe()", probs.dataSync(), labels.dataSync(), n);
  }

  async observeAsync(probs: Tensor2D, labels: Tensor1D): Promise<void> {
    const n = this.#check("observeAsync()", probs, labels);
    const [p, y] = await Promise.all([probs.data(), labels.data()]);
    this.#accumulate("observeAsync()", p, y, n);
  }

  end(): Tensor2D {
    if (!this.#mining) throw new Error(`${this.#owner("end()")}: called before begin()`);
    const next = stabilizeClassDistributions(this.#sums, this.#counts, {
      threshold: this.threshold,
      legacyFallback: this.#legacy,
    });
    this.#current = next;
    this.#mining = false;
    return tf.tensor2d(next);
  }

  distributions(numClasses: number): Tensor2D {
    this.#checkClasses("distributions()", numClasses);
    this.#ensure(numClasses);
    return tf.tensor2d(this.#current);
  }

  getState(): ClassDistributionMinerState {
    return {
      numClasses: this.#numClasses,
      mining: this.#mining,
      sums: Array.from(this.#sums),
      counts: Array.from(this.#counts),
      distributions: this.#current.map((row) => row.slice()),
    };
  }

  setState(state: ClassDistributionMinerState): void {
    const owner = this.#owner("setState()");
    if (state === null || typeof state !== "object") throw new Error(`${owner}: state must be an object`);
    const { numClasses: c, mining, sums, counts, distributions } = state;
    if (c === 0) {
      this.#numClasses = 0;
      this.#mining = false;
      this.#sums = new Float64Array(0);
      this.#counts = new Float64Array(0);
      this.#current = [];
      return;
    }
    if (!Number.isInteger(c) || c < 2) throw new Error(`${owner}: numClasses must be 0 or an integer >= 2`);
    const numeric = (xs: unknown, length: number, field: string): number[] => {
      if (!Array.isArray(xs) || xs.length !== length || xs.some((x) => typeof x !== "number")) {
        throw new Error(`${owner}: ${field} must be an array of ${length} numbers`);
      }
      return xs;
    };
    const s = numeric(sums, c * c, "sums");
    const n = numeric(counts, c, "counts");
    if (!Array.isArray(distributions) || distributions.length !== c) {
      throw new Error(`${owner}: distributions must have ${c} rows`);
    }
    const rows = distributions.map((row, j) => numeric(row, c, `distributions[${j}]`).slice());
    if (typeof mining !== "boolean") throw new Error(`${owner}: mining must be a boolean`);
    this.#numClasses = c;
    this.#mining = mining;
    this.#sums = Float64Array.from(s);
    this.#counts = Float64Array.from(n);
    this.#current = rows;
  }
}

function minerOptions(owner: string): OptionsSchema<Required<ClassDistributionMinerOptions>> {
  return pluginOptions(owner, {
    threshold: numberOption(owner, "threshold", 0.7, [0, 1]),
    legacyFallback: booleanOption(owner, "legacyFallback", false),
  });
}

/** The options schema of {@linkcode epochPassMiner}. */
export const EPOCH_PASS_MINER_OPTIONS: OptionsSchema<Required<ClassDistributionMinerOptions>> = minerOptions(
  "epochPassMiner",
);

/** The options schema of {@linkcode onlineMiner}. */
export const ONLINE_MINER_OPTIONS: OptionsSchema<Required<ClassDistributionMinerOptions>> = minerOptions(
  "onlineMiner",
);

function buildMiner(
  schema: OptionsSchema<Required<ClassDistributionMinerOptions>>,
  name: string,
  extraPass: boolean,
  options: unknown,
): ClassDistributionMiner {
  const { threshold, legacyFallback } = parseOptions(schema, options);
  return new MeanClassDistributionMiner(name, extraPass, threshold, legacyFallback);
}

/**
 * The reference's miner (config name `epoch-pass`): after each training epoch the trainer runs an extra
 * pass over the training set (training augmentations on, model in eval mode) and feeds its auxiliary
 * probabilities to `observe`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { epochPassMiner } from "./miner.ts";
 *
 * const miner = epochPassMiner({ threshold: 0.5 });
 * assert.ok(miner.extraPass);
 * ```
 */
export function epochPassMiner(options: ClassDistributionMinerOptions = {}): ClassDistributionMiner {
  return buildMiner(EPOCH_PASS_MINER_OPTIONS, "epoch-pass", true, options);
}

/**
 * The cheaper miner (config name `online`): the trainer feeds it the auxiliary probabilities of the
 * training pass itself (train mode, before each step's update), so no extra pass is needed. The means
 * then mix predictions from the whole epoch rather than from its end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onlineMiner } from "./miner.ts";
 *
 * const miner = onlineMiner({ threshold: 0.7 });
 * assert.ok(!miner.extraPass);
 * ```
 */
export function onlineMiner(options: ClassDistributionMinerOptions = {}): ClassDistributionMiner {
  return buildMiner(ONLINE_MINER_OPTIONS, "online", false, options);
}
