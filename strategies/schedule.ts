/**
 * Loss-schedule plugins: the per-epoch weights of the two main terms,
 * L = alpha_2 * L_ce + alpha_1 * L_kl + L_rr.
 *
 * @module
 */
import { type RampWeights, rampWeights } from "./functional.ts";
import { checkOptions } from "./_options.ts";

/**
 * A loss schedule.
 *
 * @example A custom schedule: switch the KL term on after two epochs
 * ```ts
 * import type { LossSchedule } from "./schedule.ts";
 *
 * const stepped: LossSchedule = {
 *   name: "stepped",
 *   weights: (epoch) => ({ alpha1: epoch > 2 ? 1 : 0, alpha2: 1 }),
 * };
 * ```
 */
export interface LossSchedule {
  /** The plugin's name, as in configs. */
  readonly name: string;
  /** alpha_1 (KL) and alpha_2 (cross-entropy) for an epoch counted from 1. */
  weights(epoch: number): RampWeights;
}

/**
 * Options of {@linkcode rampSchedule}.
 *
 * @example The AffectNet and SFEW ramp
 * ```ts
 * import { rampSchedule, type RampScheduleOptions } from "./schedule.ts";
 * const options: RampScheduleOptions = { beta: 5 };
 * const schedule = rampSchedule(options);
 * console.assert(schedule.weights(5).alpha1 === 1 && schedule.weights(5).alpha2 === 1);
 * console.assert(schedule.weights(10).alpha2 < 1);
 * ```
 */
export interface RampScheduleOptions {
  /**
   * beta, the epoch threshold (RAF-DB 3, AffectNet and SFEW 5).
   *
   * @default {3}
   */
  beta?: number;
}

/**
 * The Ada-DF ramp (config name `ramp`, {@linkcode rampWeights}): the KL weight rises to 1 until epoch
 * beta, after which the cross-entropy weight decays.
 *
 * @example
 * ```ts
 * import { rampSchedule } from "./schedule.ts";
 *
 * rampSchedule({ beta: 3 }).weights(1); // { alpha1: exp(-4 / 9), alpha2: 1 }
 * ```
 */
export function rampSchedule(options: RampScheduleOptions = {}): LossSchedule {
  const owner = "rampSchedule";
  checkOptions(owner, options, { beta: "number" });
  const { beta = 3 } = options;
  if (beta < 0) throw new Error(`${owner}: option "beta" must be >= 0, got ${beta}`);
  return { name: "ramp", weights: (epoch) => rampWeights(epoch, beta) };
}

/**
 * Options of {@linkcode constantSchedule}.
 *
 * @example The reference's `--alpha 0.3`
 * ```ts
 * import { constantSchedule, type ConstantScheduleOptions } from "./schedule.ts";
 * const alpha = 0.3;
 * const options: ConstantScheduleOptions = { alpha1: alpha, alpha2: 1 - alpha };
 * console.log(constantSchedule(options).weights(7)); // { alpha1: 0.3, alpha2: 0.7 }
 * ```
 */
export interface ConstantScheduleOptions {
  /**
   * alpha_1, the weight of the KL term.
   *
   * @default {1}
   */
  alpha1?: number;
  /**
   * alpha_2, the weight of the cross-entropy term.
   *
   * @default {1}
   */
  alpha2?: number;
}

/**
 * Constant weights (config name `constant`). The reference's `--alpha a` option is
 * `constantSchedule({ alpha1: a, alpha2: 1 - a })`.
 *
 * @example
 * ```ts
 * import { constantSchedule } from "./schedule.ts";
 *
 * constantSchedule({ alpha1: 0.3, alpha2: 0.7 }).weights(10); // { alpha1: 0.3, alpha2: 0.7 }
 * ```
 */
export function constantSchedule(options: ConstantScheduleOptions = {}): LossSchedule {
  checkOptions("constantSchedule", options, { alpha1: "number", alpha2: "number" });
  const { alpha1 = 1, alpha2 = 1 } = options;
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
