/**
 * RandAugment with timm's operation set and magnitude semantics (`rand_augment_transform` in timm's
 * `auto_augment.py`), on raw RGB images, seeded with {@linkcode Random}.
 *
 * A config string such as `rand-m5-n3-mstd0.5` reads: `m` magnitude (0..10, default 10), `n` number
 * of operations per image (default 2), `mstd` standard deviation of gaussian noise added to the
 * magnitude each time an operation runs (above 100: uniform in 0..m), `mmax` upper clip of the
 * magnitude (default 10), `inc1` the "increasing" operation variants, `w0` timm's weighted choice
 * of operations (then drawn without replacement).
 *
 * Per image: `n` operations are drawn uniformly with replacement from the 15 of timm's `rand`
 * policy; each is applied with probability 0.5; its magnitude is drawn and clipped to `[0, mmax]`,
 * mapped to the operation's argument (signed operations get a random sign), and geometric
 * operations pick their interpolation (bilinear or bicubic at random, as timm does unless an
 * interpolation is given) and fill with `img_mean`.
 *
 * Known difference: timm reads `inc0` as "on" (Python's `bool("0")`); here `inc0` is off.
 *
 * @module
 */
import type { Random } from "../engine/random.ts";
import {
  autoContrast,
  brightness,
  color,
  contrast,
  equalize,
  type Interpolation,
  invert,
  posterize,
  type Rgb,
  type RgbImage,
  rotate,
  sharpness,
  shearX,
  shearY,
  solarize,
  solarizeAdd,
  translateX,
  translateY,
} from "./transforms.ts";

/** Names of the operations RandAugment can draw. */
export type RandAugmentOpName =
  | "AutoContrast"
  | "Equalize"
  | "Invert"
  | "Rotate"
  | "Posterize"
  | "PosterizeIncreasing"
  | "Solarize"
  | "SolarizeIncreasing"
  | "SolarizeAdd"
  | "Color"
  | "ColorIncreasing"
  | "Contrast"
  | "ContrastIncreasing"
  | "Brightness"
  | "BrightnessIncreasing"
  | "Sharpness"
  | "SharpnessIncreasing"
  | "ShearX"
  | "ShearY"
  | "TranslateX"
  | "TranslateY"
  | "TranslateXRel"
  | "TranslateYRel";

/**
 * timm's `_RAND_TRANSFORMS`: the operations of the `rand` policy.
 *
 * @example The operations of `rand-m9-n2`
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRandAugment, RAND_TRANSFORMS } from "./randaugment.ts";
 * assert.equal(RAND_TRANSFORMS.length, 15);
 * assert.equal(parseRandAugment("rand-m9-n2").ops, RAND_TRANSFORMS);
 * ```
 */
export const RAND_TRANSFORMS: readonly RandAugmentOpName[] = Object.freeze([
  "AutoContrast",
  "Equalize",
  "Invert",
  "Rotate",
  "Posterize",
  "Solarize",
  "SolarizeAdd",
  "Color",
  "Contrast",
  "Brightness",
  "Sharpness",
  "ShearX",
  "ShearY",
  "TranslateXRel",
  "TranslateYRel",
] as RandAugmentOpName[]);

/**
 * timm's `_RAND_INCREASING_TRANSFORMS` (`inc1`).
 *
 * @example Selected by `inc1`
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRandAugment, RAND_INCREASING_TRANSFORMS } from "./randaugment.ts";
 * const config = parseRandAugment("rand-m9-n2-inc1");
 * assert.equal(config.ops, RAND_INCREASING_TRANSFORMS);
 * assert.ok(config.ops.includes("PosterizeIncreasing"));
 * ```
 */
export const RAND_INCREASING_TRANSFORMS: readonly RandAugmentOpName[] = Object.freeze([
  "AutoContrast",
  "Equalize",
  "Invert",
  "Rotate",
  "PosterizeIncreasing",
  "SolarizeIncreasing",
  "SolarizeAdd",
  "ColorIncreasing",
  "ContrastIncreasing",
  "BrightnessIncreasing",
  "SharpnessIncreasing",
  "ShearX",
  "ShearY",
  "TranslateXRel",
  "TranslateYRel",
] as RandAugmentOpName[]);

/** timm's `_RAND_CHOICE_WEIGHTS_0` (`w0`). */
const CHOICE_WEIGHTS_0: Partial<Record<RandAugmentOpName, number>> = {
  Rotate: 0.3,
  ShearX: 0.2,
  ShearY: 0.2,
  TranslateXRel: 0.1,
  TranslateYRel: 0.1,
  Color: 0.025,
  Sharpness: 0.025,
  AutoContrast: 0.025,
  Solarize: 0.005,
  SolarizeAdd: 0.005,
  Contrast: 0.005,
  Brightness: 0.005,
  Equalize: 0.005,
  Posterize: 0,
  Invert: 0,
};

/** timm's hyper-parameters of the operations. */
export interface RandAugmentHparams {
  /**
   * Largest absolute translation in pixels of TranslateX/TranslateY (not in the `rand` policy).
   * @default 250
   */
  translateConst: number;
  /**
   * Largest relative translation of TranslateXRel/TranslateYRel.
   * @default 0.45
   */
  translatePct: number;
  /**
   * Fill colour of the geometric operations (timm's `img_mean`).
   * @default [128, 128, 128]
   */
  imgMean: Rgb;
  /**
   * Interpolation of the geometric operations; `"random"` picks bilinear or bicubic per call.
   * @default "random"
   */
  interpolation: Interpolation | "random";
}

/** A parsed RandAugment configuration. */
export interface RandAugmentConfig {
  /** Operations to draw from. */
  ops: readonly RandAugmentOpName[];
  /** Magnitude, 0..`magnitudeMax`. */
  magnitude: number;
  /** Operations per image. */
  numOps: number;
  /** Gaussian noise on the magnitude; `Infinity` = uniform in 0..magnitude; 0 = none. */
  magnitudeStd: number;
  /** Upper clip of the magnitude. */
  magnitudeMax: number;
  /** Probability of each drawn operation being applied. */
  prob: number;
  /** Choice weights (normalised), or undefined for uniform choice with replacement. */
  weights?: readonly number[];
  /** The operations' hyper-parameters. */
  hparams: RandAugmentHparams;
}

const LEVEL_DENOM = 10;

/**
 * timm's default hyper-parameters.
 *
 * @example Override one hyper-parameter, keep the rest
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_HPARAMS, parseRandAugment } from "./randaugment.ts";
 * const config = parseRandAugment("rand-m5-n3", { ...DEFAULT_HPARAMS, translatePct: 0.3 });
 * assert.equal(config.hparams.translateConst, DEFAULT_HPARAMS.translateConst);
 * ```
 */
export const DEFAULT_HPARAMS: Readonly<RandAugmentHparams> = Object.freeze({
  translateConst: 250,
  translatePct: 0.45,
  imgMean: [128, 128, 128] as Rgb,
  interpolation: "random" as const,
});

/**
 * Parses a timm RandAugment string (`rand-m9-n3-mstd0.5-mmax10-inc1-w0`).
 *
 * @example The paper's RAF-DB setting
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRandAugment } from "./randaugment.ts";
 * const config = parseRandAugment("rand-m5-n3-mstd0.5", { translateConst: 117, imgMean: [124, 116, 104] });
 * assert.equal(config.magnitude, 5);
 * assert.equal(config.numOps, 3);
 * assert.equal(config.magnitudeStd, 0.5);
 * ```
 */
export function parseRandAugment(text: string, hparams: Partial<RandAugmentHparams> = {}): RandAugmentConfig {
  const parts = text.trim().split("-");
  if (parts[0] !== "rand") throw new SyntaxError(`RandAugment string must start with "rand": ${text}`);
  const config: RandAugmentConfig = {
    ops: RAND_TRANSFORMS,
    magnitude: LEVEL_DENOM,
    numOps: 2,
    magnitudeStd: 0,
    magnitudeMax: LEVEL_DENOM,
    prob: 0.5,
    hparams: { ...DEFAULT_HPARAMS, ...hparams },
  };
  let weightIndex: number | undefined;
  for (const part of parts.slice(1)) {
    const match = /^([a-z]+)(\d.*)$/.exec(part);
    if (!match) {
      if (/\d/.test(part) || part === "") {
        throw new SyntaxError(`bad RandAugment section "${part}" in ${text}`);
      }
      continue; // timm ignores sections without a value
    }
    const [, key, value] = match;
    const number = Number(value);
    if (!Number.isFinite(number)) {
      throw new SyntaxError(`bad value in RandAugment section "${part}" of ${text}`);
    }
    const integer = (): number => {
      if (!Number.isInteger(number)) throw new SyntaxError(`"${part}" needs an integer in ${text}`);
      return number;
    };
    switch (key) {
      case "m":
        config.magnitude = integer();
        break;
      case "n":
        config.numOps = integer();
        break;
      case "mstd":
        config.magnitudeStd = number > 100 ? Infinity : number;
        break;
      case "mmax":
        config.magnitudeMax = integer();
        break;
      case "inc":
        config.ops = integer() ? RAND_INCREASING_TRANSFORMS : RAND_TRANSFORMS;
        break;
      case "w":
        weightIndex = integer();
        break;
      default:
        throw new SyntaxError(`unknown RandAugment section "${part}" in ${text}`);
    }
  }
  if (weightIndex !== undefined) {
    if (weightIndex !== 0) throw new SyntaxError(`only weight set w0 exists, not w${weightIndex}`);
    // timm builds the weights over the `rand` transforms whatever `inc` says.
    const raw = RAND_TRANSFORMS.map((name) => CHOICE_WEIGHTS_0[name] ?? 0);
    const total = raw.reduce((a, b) => a + b, 0);
    config.weights = raw.map((w) => w / total);
    if (config.numOps > RAND_TRANSFORMS.filter((name) => (CHOICE_WEIGHTS_0[name] ?? 0) > 0).length) {
      throw new RangeError(`n${config.numOps} is more than the operations with a non-zero weight`);
    }
  }
  return config;
}

function negate(value: number, random: Random): number {
  return random.next() > 0.5 ? -value : value;
}

function enhanceIncreasing(level: number, random: Random): number {
  return Math.max(0.1, 1 + negate((level / LEVEL_DENOM) * 0.9, random));
}

/** The argument timm's level function gives an operation for a (clipped) magnitude. */
function levelArg(name: RandAugmentOpName, level: number, hp: RandAugmentHparams, random: Random): number {
  switch (name) {
    case "Rotate":
      return negate((level / LEVEL_DENOM) * 30, random);
    case "Posterize":
      return Math.trunc((level / LEVEL_DENOM) * 4);
    case "PosterizeIncreasing":
      return 4 - Math.trunc((level / LEVEL_DENOM) * 4);
    case "Solarize":
      return Math.trunc((level / LEVEL_DENOM) * 256);
    case "SolarizeIncreasing":
      return 256 - Math.trunc((level / LEVEL_DENOM) * 256);
    case "SolarizeAdd":
      return Math.trunc((level / LEVEL_DENOM) * 110);
    case "Color":
    case "Contrast":
    case "Brightness":
    case "Sharpness":
      return (level / LEVEL_DENOM) * 1.8 + 0.1;
    case "ColorIncreasing":
    case "ContrastIncreasing":
    case "BrightnessIncreasing":
    case "SharpnessIncreasing":
      return enhanceIncreasing(level, random);
    case "ShearX":
    case "ShearY":
      return negate((level / LEVEL_DENOM) * 0.3, random);
    case "TranslateX":
    case "TranslateY":
      return negate((level / LEVEL_DENOM) * hp.translateConst, random);
    case "TranslateXRel":
    case "TranslateYRel":
      return negate((level / LEVEL_DENOM) * hp.translatePct, random);
    default:
      return 0;
  }
}

/** One operation with its argument, for {@linkcode applyOp}. */
export interface OpCall {
  /** The operation. */
  name: RandAugmentOpName;
  /** Its argument (degrees, factor, bits, threshold, pixels or fraction); ignored by some. */
  arg: number;
  /**
   * Fill colour of geometric operations.
   * @default [128, 128, 128]
   */
  fill?: Rgb;
  /**
   * Interpolation of geometric operations.
   * @default "bilinear"
   */
  interpolation?: Interpolation;
}

/**
 * Applies one named operation with its argument (the value timm's level function produces), e.g.
 * `applyOp(image, { name: "Rotate", arg: 15 })` or `applyOp(image, { name: "Posterize", arg: 2 })`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyOp } from "./randaugment.ts";
 * import { rgbImage } from "./transforms.ts";
 * const out = applyOp(rgbImage(new Uint8Array([0, 100, 200]), 1, 1), { name: "Invert", arg: 0 });
 * assert.equal(out.data[0], 255);
 * ```
 */
export function applyOp(image: RgbImage, op: OpCall): RgbImage {
  const { name, arg } = op;
  const geometry = { fill: op.fill ?? DEFAULT_HPARAMS.imgMean, interpolation: op.interpolation };
  switch (name) {
    case "AutoContrast":
      return autoContrast(image);
    case "Equalize":
      return equalize(image);
    case "Invert":
      return invert(image);
    case "Rotate":
      return rotate(image, arg, geometry);
    case "Posterize":
    case "PosterizeIncreasing":
      return posterize(image, arg);
    case "Solarize":
    case "SolarizeIncreasing":
      return solarize(image, arg);
    case "SolarizeAdd":
      return solarizeAdd(image, arg);
    case "Color":
    case "ColorIncreasing":
      return color(image, arg);
    case "Contrast":
    case "ContrastIncreasing":
      return contrast(image, arg);
    case "Brightness":
    case "BrightnessIncreasing":
      return brightness(image, arg);
    case "Sharpness":
    case "SharpnessIncreasing":
      return sharpness(image, arg);
    case "ShearX":
      return shearX(image, arg, geometry);
    case "ShearY":
      return shearY(image, arg, geometry);
    case "TranslateX":
      return translateX(image, arg, geometry);
    case "TranslateY":
      return translateY(image, arg, geometry);
    case "TranslateXRel":
      return translateX(image, arg * image.width, geometry);
    case "TranslateYRel":
      return translateY(image, arg * image.height, geometry);
  }
}

const GEOMETRIC = new Set<RandAugmentOpName>([
  "Rotate",
  "ShearX",
  "ShearY",
  "TranslateX",
  "TranslateY",
  "TranslateXRel",
  "TranslateYRel",
]);

/** What one call of {@linkcode RandAugment.apply} did, for inspection and tests. */
export interface AppliedOp {
  /** The operation drawn. */
  name: RandAugmentOpName;
  /** Whether it ran (each runs with probability `prob`). */
  applied: boolean;
  /** The magnitude after noise and clipping (when applied). */
  magnitude?: number;
  /** The operation's argument (when applied). */
  arg?: number;
  /** The interpolation used (geometric operations). */
  interpolation?: Interpolation;
}

/**
 * A RandAugment transform: draws operations and magnitudes from a {@linkcode Random}.
 *
 * @example Augment an image reproducibly
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../engine/random.ts";
 * import { RandAugment } from "./randaugment.ts";
 * import { rgbImage } from "./transforms.ts";
 * const augment = new RandAugment("rand-m5-n3-mstd0.5");
 * const image = rgbImage(new Uint8Array(4 * 4 * 3).fill(90), 4, 4);
 * const a = augment.apply(image, new Random(7));
 * const b = augment.apply(image, new Random(7));
 * assert.equal(a.data.join(), b.data.join());
 * ```
 */
export class RandAugment {
  /** The parsed configuration. */
  readonly config: RandAugmentConfig;

  /** Builds the transform from a timm string or a parsed configuration. */
  constructor(config: string | RandAugmentConfig, hparams: Partial<RandAugmentHparams> = {}) {
    this.config = typeof config === "string" ? parseRandAugment(config, hparams) : config;
  }

  /** Draws the operations for one image (timm's `np.random.choice` over the operations). */
  #choose(random: Random): RandAugmentOpName[] {
    const { ops, numOps, weights } = this.config;
    if (!weights) return Array.from({ length: numOps }, () => ops[random.int(ops.length)]);
    const remaining = weights.map((w, i) => ({ w, i }));
    const chosen: RandAugmentOpName[] = [];
    for (let k = 0; k < numOps; k++) {
      const total = remaining.reduce((s, r) => s + r.w, 0);
      let u = random.next() * total;
      let pick = remaining.length - 1;
      for (let j = 0; j < remaining.length; j++) {
        u -= remaining[j].w;
        if (u < 0 && remaining[j].w > 0) {
          pick = j;
          break;
        }
      }
      chosen.push(ops[remaining[pick].i]);
      remaining.splice(pick, 1);
    }
    return chosen;
  }

  /** Augments one image; `options.log`, when given, receives what each drawn operation did. */
  apply(image: RgbImage, random: Random, options: { log?: AppliedOp[] } = {}): RgbImage {
    const log = options.log;
    const { prob, magnitude, magnitudeStd, magnitudeMax, hparams } = this.config;
    let out = image;
    for (const name of this.#choose(random)) {
      if (prob < 1 && random.next() > prob) {
        log?.push({ name, applied: false });
        continue;
      }
      let m = magnitude;
      if (magnitudeStd === Infinity) m = random.uniform(0, magnitude);
      else if (magnitudeStd > 0) m = random.normal(magnitude, magnitudeStd);
      m = Math.max(0, Math.min(m, magnitudeMax || LEVEL_DENOM));
      const arg = levelArg(name, m, hparams, random);
      let interpolation: Interpolation | undefined;
      if (GEOMETRIC.has(name)) {
        interpolation = hparams.interpolation === "random"
          ? (random.next() < 0.5 ? "bilinear" : "bicubic")
          : hparams.interpolation;
      }
      out = applyOp(out, { name, arg, fill: hparams.imgMean, interpolation });
      log?.push({ name, applied: true, magnitude: m, arg, interpolation });
    }
    return out === image ? { ...image, data: image.data.slice() } : out;
  }
}
