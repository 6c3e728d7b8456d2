/**
 * Loss-schedule plugins: the per-epoch weights of the two main terms,
 * L = alpha_2 * L_ce + alpha_1 * L_kl + L_rr.
 *
 * @module
 */
import { type RampWeights, rampWeights } from "./functional.ts";
import * as v from "valibot";
import { numberOption, type OptionsSchema, parseOptions, pluginOptions } from "./options.ts";

/**
 * A loss schedule.
 *
 * @example A custom schedule: switch the KL term on after two epochs
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LossSchedule } from "./schedule.ts";
 *
 * const stepped: LossSchedule = {
 *   name: "stepped",
 *   weights: (epoch) => ({ alpha1: epoch > 2 ? 1 : 0, alpha2: 1 }),
 * };
 * assert.deepEqual(stepped.weights(1), { alpha1: 0, alpha2: 1 });
 * assert.deepEqual(stepped.weights(3), { alpha1: 1, alpha2: 1 });
 * ```
 */
export interface LossSchedule {
  /** The plugin's name, as in configs. */
  readonly name: string;
  /** alpha_1 (KL) and alpha_2 (cross-entropy) for an epoch counted from 1. */
  weights(epoch: number): RampWeights;
}

/** Options of {@linkcode rampSchedule}. */
export interface RampScheduleOptions {
  /**
   * beta, the epoch threshold (RAF-DB 3, AffectNet and SFEW 5).
   *
   * @default {3}
   */
  beta?: number;
}

/** The options schema of {@linkcode rampSchedule}. */
export const RAMP_SCHEDULE_OPTIONS: OptionsSchema<Required<RampScheduleOptions>> = pluginOptions(
  "rampSchedule",
  {
    beta: v.optional(
      v.pipe(
        numberOption("rampSchedule", "beta", 3),
        v.minValue(0, (issue) => `rampSchedule: option "beta" must be >= 0, got ${issue.input}`),
      ),
      3,
    ),
  },
);

/**
 * The Ada-DF ramp (config name `ramp`, {@linkcode rampWeights}): the KL weight rises to 1 until epoch
 * beta, after which the cross-entropy weight decays.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rampSchedule } from "./schedule.ts";
 *
 * // epoch 1 of beta = 3: alpha_1 = exp(-(1 - 1/3)^2), alpha_2 = 1
 * const { alpha1, alpha2 } = rampSchedule({ beta: 3 }).weights(1);
 * assert.ok(Math.abs(alpha1 - Math.exp(-4 / 9)) < 1e-12);
 * assert.equal(alpha2, 1);
 * assert.equal(rampSchedule({ beta: 3 }).weights(3).alpha1, 1);
 * ```
 */
export function rampSchedule(options: RampScheduleOptions = {}): LossSchedule {
  const { beta } = parseOptions(RAMP_SCHEDULE_OPTIONS, options);
  return { name: "ramp", weights: (epoch) => rampWeights(epoch, beta) };
}

/** Options of {@linkcode constantSchedule}. */
export interface ConstantScheduleOptions {
  /**
   * alpha_1, the weight of the KL term, in [0, 100].
   *
   * @default {1}
   */
  alpha1?: number;
  /**
   * alpha_2, the weight of the cross-entropy term, in [0, 100].
   *
   * @default {1}
   */
  alpha2?: number;
}

/** The options schema of {@linkcode constantSchedule}. */
export const CONSTANT_SCHEDULE_OPTIONS: OptionsSchema<Required<ConstantScheduleOptions>> = pluginOptions(
  "constantSchedule",
  {
    alpha1: numberOption("constantSchedule", "alpha1", 1, [0, 100]),
    alpha2: numberOption("constantSchedule", "alpha2", 1, [0, 100]),
  },
);

/**
 * Constant weights (config name `constant`). The reference's `--alpha a` option is
 * `constantSchedule({ alpha1: a, alpha2: 1 - a })`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { constantSchedule } from "./schedule.ts";
 *
 * assert.deepEqual(constantSchedule({ alpha1: 0.3, alpha2: 0.7 }).weights(10), { alpha1: 0.3, alpha2: 0.7 });
 * ```
 */
export function constantSchedule(options: ConstantScheduleOptions = {}): LossSchedule {
  const { alpha1, alpha2 } = parseOptions(CONSTANT_SCHEDULE_OPTIONS, options);
  return {
    name: "constant",
    weights: (epoch) => {
      if (typeof epoch !== "number" || !(epoch >= 1)) {
        throw new Error(`constantSchedule: epoch is counted from 1, got ${epoch}`);
      }
      return { alpha1, alpha2 };
    },
  };
}
