/**
 * The order in which a loader visits a dataset each epoch: in sequence (evaluation), shuffled
 * (RAF-DB, SFEW), or class-balanced down-sampling (AffectNet: every class cut at random to the size
 * of the smallest, then shuffled). Each order depends only on the seed and the epoch, so a resumed
 * run sees the same orders.
 *
 * @module
 */
import { Random } from "../engine/random.ts";
import { deriveSeed } from "../engine/random.ts";

/**
 * An epoch order over dataset indices.
 *
 * @example A sampler that visits the dataset backwards
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Sampler } from "./samplers.ts";
 * const size = 4;
 * const reversed: Sampler = {
 *   length: size,
 *   order: () => Int32Array.from({ length: size }, (_, i) => size - 1 - i),
 * };
 * assert.equal(reversed.order(0).join(), "3,2,1,0");
 * ```
 */
export interface Sampler {
  /** Number of indices per epoch. */
  readonly length: number;
  /** The indices for `epoch` (the same every time for the same epoch). */
  order(epoch: number): Int32Array;
}

/** Options of the random samplers. */
export interface SamplerOptions {
  /**
   * Seed of the orders.
   * @default 0
   */
  seed?: number;
}

/**
 * `0, 1, ..., size - 1` every epoch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sequentialSampler } from "./samplers.ts";
 * assert.equal(sequentialSampler(3).order(0).join(), "0,1,2");
 * ```
 */
export function sequentialSampler(size: number): Sampler {
  return { length: size, order: () => Int32Array.from({ length: size }, (_, i) => i) };
}

/**
 * A fresh uniform permutation of `0..size - 1` each epoch (batching with drop-last is the
 * loader's `dropLast`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shuffleSampler } from "./samplers.ts";
 * const sampler = shuffleSampler(10, { seed: 1 });
 * assert.equal(sampler.order(0).join(), sampler.order(0).join());
 * assert.ok(sampler.order(0).join() !== sampler.order(1).join());
 * ```
 */
export function shuffleSampler(size: number, options: SamplerOptions = {}): Sampler {
  const seed = options.seed ?? 0;
  return {
    length: size,
    order(epoch: number): Int32Array {
      const random = new Random(deriveSeed(seed, 1, epoch));
      const order = Int32Array.from({ length: size }, (_, i) => i);
      for (let i = size - 1; i > 0; i--) {
        const j = random.int(i + 1);
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      return order;
    },
  };
}

/**
 * Class-balanced down-sampling: each epoch, every class present in `labels` contributes a random
 * subset (without replacement) the size of the smallest class, and the union is shuffled.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classBalancedSampler } from "./samplers.ts";
 * const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 2, 2, 2]);
 * const order = classBalancedSampler(labels, { seed: 3 }).order(0);
 * assert.equal(order.length, 6); // 2 per class
 * ```
 */
export function classBalancedSampler(labels: ArrayLike<number>, options: SamplerOptions = {}): Sampler {
  const seed = options.seed ?? 0;
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]);
    if (list) list.push(i);
    else byClass.set(labels[i], [i]);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const perClass = classes.length === 0 ? 0 : Math.min(...classes.map((c) => byClass.get(c)!.length));
  const length = perClass * classes.length;
  return {
    length,
    order(epoch: number): Int32Array {
      const random = new Random(deriveSeed(seed, 2, epoch));
      const order = new Int32Array(length);
      let at = 0;
      for (const c of classes) {
        const pool = byClass.get(c)!.slice();
        for (let k = 0; k < perClass; k++) {
          const j = k + random.int(pool.length - k);
          const t = pool[k];
          pool[k] = pool[j];
          pool[j] = t;
          order[at++] = pool[k];
        }
      }
      for (let i = length - 1; i > 0; i--) {
        const j = random.int(i + 1);
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      return order;
    },
  };
}
