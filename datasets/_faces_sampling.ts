/**
 * Sampling for the synthetic FER dataset: ground-truth emotion distributions, simulated annotator
 * votes, and the facial action, identity and scene parameters of one face.
 *
 * @module
 */
import type { Random } from "../engine/random.ts";
import { RAF_DB_CLASSES } from "./classes.ts";

/** Class names of the synthetic set: RAF-DB's classes and order (labels 1..7 in the label file). */
export const EMOTIONS: readonly string[] = RAF_DB_CLASSES;

/** Number of emotion classes. */
export const NUM_EMOTIONS = EMOTIONS.length;

/**
 * Facial action parameters, loosely after FACS action units. Each is an intensity, 0 meaning
 * relaxed and 1 a full, typical contraction (values somewhat above 1 are allowed).
 */
export interface ActionUnits {
  /** AU1: inner brow raiser. */
  innerBrowRaise: number;
  /** AU2: outer brow raiser. */
  outerBrowRaise: number;
  /** AU4: brow lowerer (brows down and together, vertical furrow). */
  browLower: number;
  /** AU5: upper lid raiser (wide, staring eyes). */
  upperLidRaise: number;
  /** AU6: cheek raiser (lower lids pushed up, crow's feet). */
  cheekRaise: number;
  /** AU7: lid tightener (narrowed eyes, tense lower lids). */
  lidTighten: number;
  /** AU9: nose wrinkler. */
  noseWrinkle: number;
  /** AU10: upper lip raiser. */
  upperLipRaise: number;
  /** AU12: lip corner puller (smile). */
  lipCornerPull: number;
  /** AU15: lip corner depressor. */
  lipCornerDepress: number;
  /** AU16: lower lip depressor. */
  lowerLipDepress: number;
  /** AU17: chin raiser (pout, chin boss). */
  chinRaise: number;
  /** AU20: lip stretcher (horizontal). */
  lipStretch: number;
  /** AU22: lip funneler (rounded mouth). */
  lipFunnel: number;
  /** AU23: lip tightener. */
  lipTighten: number;
  /** AU24: lip presser (thin lips). */
  lipPress: number;
  /** AU26: jaw drop (open mouth). */
  jawDrop: number;
  /** AU41/43 (partial): upper lid droop. */
  lidDroop: number;
}

/** The names of the action parameters, in a fixed order. */
export const ACTION_NAMES: readonly (keyof ActionUnits)[] = [
  "innerBrowRaise",
  "outerBrowRaise",
  "browLower",
  "upperLidRaise",
  "cheekRaise",
  "lidTighten",
  "noseWrinkle",
  "upperLipRaise",
  "lipCornerPull",
  "lipCornerDepress",
  "lowerLipDepress",
  "chinRaise",
  "lipStretch",
  "lipFunnel",
  "lipTighten",
  "lipPress",
  "jawDrop",
  "lidDroop",
];

/** A face with every action relaxed. */
export function neutralActions(): ActionUnits {
  const out = {} as ActionUnits;
  for (const name of ACTION_NAMES) out[name] = 0;
  return out;
}

/** The prototype action parameters of each emotion, in {@linkcode EMOTIONS} order. */
export const EMOTION_ACTIONS: readonly Partial<ActionUnits>[] = [
  // Surprise: AU1+2+5+26 (+ a rounded mouth).
  { innerBrowRaise: 1, outerBrowRaise: 1, upperLidRaise: 1, jawDrop: 1, lipFunnel: 0.45 },
  // Fear: AU1+2+4+5+20+26.
  {
    innerBrowRaise: 1,
    outerBrowRaise: 0.55,
    browLower: 0.65,
    upperLidRaise: 1,
    lipStretch: 1,
    jawDrop: 0.45,
  },
  // Disgust: AU9+15+16 (+ AU10, a little AU4/AU7).
  {
    noseWrinkle: 1,
    upperLipRaise: 1,
    lipCornerDepress: 0.6,
    lowerLipDepress: 0.55,
    browLower: 0.45,
    lidTighten: 0.45,
    cheekRaise: 0.2,
  },
  // Happiness: AU6+12 (+ lips parted).
  { cheekRaise: 1, lipCornerPull: 1, jawDrop: 0.2 },
  // Sadness: AU1+4+15 (+ AU17 and drooping lids).
  { innerBrowRaise: 1, browLower: 0.55, lipCornerDepress: 1, chinRaise: 0.6, lidDroop: 0.75 },
  // Anger: AU4+5+7+23 (+ AU24, a little AU9/AU17).
  {
    browLower: 1,
    upperLidRaise: 0.55,
    lidTighten: 0.9,
    lipTighten: 1,
    lipPress: 0.8,
    noseWrinkle: 0.15,
    chinRaise: 0.35,
  },
  // Neutral: no action.
  {},
];

/**
 * How often each emotion is confused with each other one (row: the main emotion), used to pick the
 * partners of mixed samples and where the leftover mass of clear samples goes.
 */
export const CONFUSION_WEIGHTS: readonly (readonly number[])[] = [
  //  Sur  Fear Disg Hap  Sad  Ang  Neu
  [0, 3.0, 0.3, 1.5, 0.3, 0.3, 0.8], // Surprise
  [3.0, 0, 0.8, 0.2, 1.5, 0.6, 0.4], // Fear
  [0.3, 0.7, 0, 0.3, 1.5, 3.0, 0.6], // Disgust
  [1.5, 0.2, 0.3, 0, 0.2, 0.1, 2.0], // Happiness
  [0.2, 1.2, 1.2, 0.3, 0, 0.8, 3.0], // Sadness
  [0.3, 0.6, 3.0, 0.1, 1.0, 0, 1.0], // Anger
  [0.6, 0.3, 0.5, 1.5, 2.5, 1.0, 0], // Neutral
];

/** Which kind of ground-truth distribution a sample gets. */
export type DistributionKind = "clear" | "pair" | "triple";

/** Options of {@linkcode sampleDistribution}. */
export interface SampleDistributionOptions {
  /** The kind of distribution; drawn (55% clear, 33% pair, 12% triple) when omitted. */
  kind?: DistributionKind;
  /** The main emotion (index in {@linkcode EMOTIONS}); drawn uniformly when omitted. */
  dominant?: number;
  /** The second emotion of a pair or triple; drawn from the confusion weights when omitted. */
  secondary?: number;
}

/** A ground-truth distribution and how it was drawn. */
export interface SampledDistribution {
  /** Probabilities over {@linkcode EMOTIONS}, summing to 1. */
  probabilities: number[];
  /** The kind of distribution. */
  kind: DistributionKind;
  /** The emotions the distribution was built around, main one first. */
  emotions: number[];
}

/** A Gamma(shape, 1) deviate (Marsaglia-Tsang; boosted for shape < 1). */
export function gamma(random: Random, shape: number): number {
  if (shape < 1) {
    const u = random.next() || 1e-12;
    return gamma(random, shape + 1) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x = 0;
    let v = 0;
    do {
      x = random.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random.next();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u || 1e-300) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Dirichlet draw with the given concentration parameters (all > 0). */
export function dirichlet(random: Random, alpha: readonly number[]): number[] {
  const g = alpha.map((a) => gamma(random, a));
  const total = g.reduce((s, v) => s + v, 0);
  if (!(total > 0)) return alpha.map((a) => a / alpha.reduce((s, v) => s + v, 0));
  return g.map((v) => v / total);
}

function pickWeighted(random: Random, weights: readonly number[]): number {
  const total = weights.reduce((s, v) => s + v, 0);
  let r = random.next() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i];
    if (r < 0 && weights[i] > 0) return i;
  }
  for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
  return 0;
}

function partnerOf(random: Random, main: number, exclude: readonly number[]): number {
  // 80% of partners follow the confusion weights, the rest are uniform over the other emotions.
  const weights = random.next() < 0.8 ? CONFUSION_WEIGHTS[main].map((w) => w) : EMOTIONS.map(() => 1);
  for (const e of exclude) weights[e] = 0;
  return pickWeighted(random, weights);
}

/**
 * Draws a ground-truth emotion distribution: one clear emotion, or a mixture of two or three with
 * realistic confusions (fear-surprise, disgust-anger, sadness-neutral, ...).
 */
export function sampleDistribution(
  random: Random,
  options: SampleDistributionOptions = {},
): SampledDistribution {
  const r = random.next();
  const kind: DistributionKind = options.kind ?? (r < 0.55 ? "clear" : r < 0.88 ? "pair" : "triple");
  const main = options.dominant ?? random.int(NUM_EMOTIONS);
  const base = new Array(NUM_EMOTIONS).fill(0);
  let concentration: number;
  const emotions = [main];
  if (kind === "clear") {
    const mass = random.uniform(0.72, 0.92);
    base[main] = mass;
    const confusion = CONFUSION_WEIGHTS[main];
    const confusionTotal = confusion.reduce((s, v) => s + v, 0);
    for (let k = 0; k < NUM_EMOTIONS; k++) {
      if (k === main) continue;
      base[k] = (1 - mass) * (0.6 * confusion[k] / confusionTotal + 0.4 / (NUM_EMOTIONS - 1));
    }
    concentration = 40;
  } else {
    const second = options.secondary ?? partnerOf(random, main, [main]);
    emotions.push(second);
    const spread = 0.06;
    if (kind === "pair") {
      const share = random.uniform(0.5, 0.72);
      base[main] += (1 - spread) * share;
      base[second] += (1 - spread) * (1 - share);
      concentration = 30;
    } else {
      const third = partnerOf(random, random.next() < 0.6 ? main : second, [main, second]);
      emotions.push(third);
      const w = dirichlet(random, [6, 4, 3]).sort((a, b) => b - a);
      base[main] += (1 - spread) * w[0];
      base[second] += (1 - spread) * w[1];
      base[third] += (1 - spread) * w[2];
      concentration = 30;
    }
    for (let k = 0; k < NUM_EMOTIONS; k++) base[k] += spread / NUM_EMOTIONS;
  }
  const alpha = base.map((b) => Math.max(b * concentration, 0.02));
  return { probabilities: dirichlet(random, alpha), kind, emotions };
}

/**
 * The label a crowd would give: each of `annotators` simulated annotators samples an emotion from the
 * ground truth, and the most voted emotion wins (ties broken at random).
 */
export function majorityVote(random: Random, probabilities: readonly number[], annotators: number): number {
  const votes = new Array(probabilities.length).fill(0);
  for (let a = 0; a < annotators; a++) votes[pickWeighted(random, probabilities)]++;
  const best = Math.max(...votes);
  const tied: number[] = [];
  votes.forEach((v, i) => {
    if (v === best) tied.push(i);
  });
  return tied.length === 1 ? tied[0] : tied[random.int(tied.length)];
}

/** The index of the largest probability (the first one on ties). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Identity of a synthetic face: shape, colouring and resting expression. Lengths in face units. */
export interface FaceIdentity {
  /** Half width of the face (about 30). */
  faceWidth: number;
  /** Half height of the face, centre to chin (about 38). */
  faceHeight: number;
  /** Jaw roundness: 0 pointed chin, 1 square jaw. */
  jaw: number;
  /** Vertical position of the eyes (negative is up). */
  eyeY: number;
  /** Horizontal distance of each eye from the midline. */
  eyeSpacing: number;
  /** Half width of an eye. */
  eyeWidth: number;
  /** Resting half height of an eye. */
  eyeHeight: number;
  /** Distance from the eye line to the brows. */
  browGap: number;
  /** Stroke width of the brows. */
  browThickness: number;
  /** Distance from the eye line to the nose tip. */
  noseLength: number;
  /** Half width of the nose wings. */
  noseWidth: number;
  /** Vertical position of the mouth. */
  mouthY: number;
  /** Resting half width of the mouth. */
  mouthWidth: number;
  /** Lip thickness. */
  lipThickness: number;
  /** Skin colour, `#rrggbb`. */
  skin: string;
  /** Lip colour, `#rrggbb`. */
  lips: string;
  /** Hair (and brow) colour, `#rrggbb`. */
  hair: string;
  /** Iris colour, `#rrggbb`. */
  iris: string;
  /** Hair style: 0 short, 1 long, 2 bald, 3 fringe, 4 curly. */
  hairStyle: number;
  /** Height of the hairline above the eyes (face units). */
  hairline: number;
  /** Resting blush of the cheeks, 0..1. */
  blush: number;
  /** Resting mouth curvature: positive up-turned, negative down-turned (in AU12/AU15 units). */
  restingMouth: number;
  /** Resting brow slant: positive inner ends raised, negative lowered (in AU1/AU4 units). */
  restingBrow: number;
  /** Depth of the resting wrinkles and folds, 0..1 (age). */
  wrinkles: number;
  /** Whether the face has a moustache. */
  moustache: boolean;
  /** Whether the face has a beard. */
  beard: boolean;
}

/** A background clutter shape, in image units (0..100). */
export interface ClutterShape {
  /** Shape kind. */
  kind: "rect" | "circle" | "line";
  /** Centre x. */
  x: number;
  /** Centre y. */
  y: number;
  /** Width (or diameter, or length). */
  w: number;
  /** Height (or stroke width of a line). */
  h: number;
  /** Rotation in degrees. */
  rotation: number;
  /** Fill colour, `#rrggbb`. */
  color: string;
  /** Opacity, 0..1. */
  opacity: number;
}

/** An occluder in front of the face. */
export interface Occlusion {
  /** What occludes the face. */
  kind: "none" | "glasses" | "sunglasses" | "hat" | "hand" | "bar";
  /** Colour, `#rrggbb`. */
  color: string;
  /** Centre x (image units for a bar, face units for a hand), or the hat brim's offset. */
  x: number;
  /** Centre y. */
  y: number;
  /** Size (bar or hand width, hat crown). */
  w: number;
  /** Second size (bar thickness, hand height). */
  h: number;
  /** Rotation in degrees. */
  rotation: number;
}

/** Everything about a synthetic image that is not the person: pose, background, light, camera. */
export interface FaceScene {
  /** In-plane rotation in degrees. */
  roll: number;
  /** Head turn, -1..1 (rendered by shifting and foreshortening the features). */
  yaw: number;
  /** Head pitch, -1..1 (small vertical shift of the features). */
  pitch: number;
  /** Face scale factor (about 1). */
  scale: number;
  /** Horizontal offset of the face centre, image units. */
  dx: number;
  /** Vertical offset of the face centre, image units. */
  dy: number;
  /** Gaze offset, -1..1 each. */
  gaze: [number, number];
  /** Background colours, `#rrggbb`: a gradient from the first to the second. */
  background: [string, string];
  /** Direction of the background gradient, degrees. */
  backgroundAngle: number;
  /** Background clutter. */
  clutter: ClutterShape[];
  /** Colour of the clothes, `#rrggbb`. */
  clothes: string;
  /** Direction the light comes from, degrees. */
  lightAngle: number;
  /** Strength of the directional light overlay, 0..1. */
  lightStrength: number;
  /** Contrast multiplier (1: unchanged). */
  contrast: number;
  /** Brightness offset in grey levels. */
  brightness: number;
  /** Occluder, if any. */
  occlusion: Occlusion;
  /** Gaussian blur sigma in pixels at 112 px (scaled with the size); 0 for none. */
  blur: number;
  /** Gaussian pixel noise, standard deviation in grey levels; 0 for none. */
  noise: number;
  /** Seed of the pixel noise. */
  noiseSeed: number;
  /** Whether the image is converted to grey. */
  grayscale: boolean;
  /** JPEG quality, 1..100. */
  quality: number;
}

/** Everything needed to render one synthetic face. */
export interface FaceParams {
  /** Facial action parameters (the expression). */
  actions: ActionUnits;
  /** Which side a one-sided action (the disgust sneer) favours: -1..1. */
  asymmetry: number;
  /** The person. */
  identity: FaceIdentity;
  /** Pose, background, light, occlusion and camera. */
  scene: FaceScene;
}

/** Options of {@linkcode sampleFaceParams}. */
export interface SampleFaceOptions {
  /** Expression intensity; drawn in [0.65, 1.2] when omitted. */
  intensity?: number;
  /** Scale of the nuisance variation: 0 a plain, frontal, unoccluded face; 1 the dataset's. */
  nuisance?: number;
}

/** Blends the emotions' prototype actions by the distribution's weights, times the intensity. */
export function blendActions(probabilities: readonly number[], intensity = 1): ActionUnits {
  const out = neutralActions();
  probabilities.forEach((p, k) => {
    const proto = EMOTION_ACTIONS[k];
    for (const name of ACTION_NAMES) out[name] += intensity * p * (proto[name] ?? 0);
  });
  return out;
}

const SKIN_STOPS = ["#f7ddcc", "#ebc3a4", "#d6a27e", "#b98159", "#93613f", "#6b442b", "#4a2e1e"];
const HAIR_COLORS = ["#1b1512", "#2e2019", "#4a3123", "#6e4a30", "#a8824f", "#c9a86b", "#8c3f22", "#7c7c7c"];
const IRIS_COLORS = ["#3b2716", "#5a3b1f", "#2f4f6f", "#4f6f3f", "#6a6a6a", "#231a12"];

/** Parses `#rrggbb`. */
export function hexToRgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Formats `#rrggbb`. */
export function rgbToHex(rgb: readonly number[]): string {
  return "#" + rgb.map((c) => Math.max(0, Math.min(255, Math.round(c))).toString(16).padStart(2, "0"))
    .join("");
}

/** Mixes two `#rrggbb` colours, `t` = 0 giving `a`. */
export function mixColor(a: string, b: string, t: number): string {
  const x = hexToRgb(a);
  const y = hexToRgb(b);
  return rgbToHex(x.map((v, i) => v + (y[i] - v) * t));
}

function randomColor(random: Random, lightness: [number, number] = [0.15, 0.9]): string {
  const h = random.uniform(0, 360);
  const s = random.uniform(0.1, 0.7);
  const l = random.uniform(lightness[0], lightness[1]);
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const hp = h / 60;
  const x = c * (1 - Math.abs((hp % 2) - 1));
  const [r, g, b] = hp < 1
    ? [c, x, 0]
    : hp < 2
    ? [x, c, 0]
    : hp < 3
    ? [0, c, x]
    : hp < 4
    ? [0, x, c]
    : hp < 5
    ? [x, 0, c]
    : [c, 0, x];
  const m = l - c / 2;
  return rgbToHex([(r + m) * 255, (g + m) * 255, (b + m) * 255]);
}

function sampleIdentity(random: Random): FaceIdentity {
  const tone = random.next() * (SKIN_STOPS.length - 1);
  const i = Math.min(Math.floor(tone), SKIN_STOPS.length - 2);
  let skin = mixColor(SKIN_STOPS[i], SKIN_STOPS[i + 1], tone - i);
  skin = mixColor(skin, random.next() < 0.5 ? "#e0a080" : "#c8b080", random.uniform(0, 0.15));
  const hairStyleRoll = random.next();
  const hairStyle = hairStyleRoll < 0.38
    ? 0
    : hairStyleRoll < 0.68
    ? 1
    : hairStyleRoll < 0.78
    ? 2
    : hairStyleRoll < 0.88
    ? 3
    : 4;
  const hair = HAIR_COLORS[random.int(HAIR_COLORS.length)];
  const faceHeight = random.uniform(35, 40);
  const facial = random.next();
  return {
    faceWidth: random.uniform(26.5, 32.5),
    faceHeight,
    jaw: random.uniform(0.3, 0.8),
    eyeY: random.uniform(-10, -6),
    eyeSpacing: random.uniform(11.5, 14),
    eyeWidth: random.uniform(5, 6.6),
    eyeHeight: random.uniform(2.5, 3.3),
    browGap: random.uniform(6.5, 8.5),
    browThickness: random.uniform(2, 3.4),
    noseLength: random.uniform(13.5, 18),
    noseWidth: random.uniform(3.8, 5.4),
    mouthY: random.uniform(17, 21),
    mouthWidth: random.uniform(8.5, 11),
    lipThickness: random.uniform(1.2, 2.4),
    skin,
    lips: mixColor(
      mixColor(skin, "#a83a4a", random.uniform(0.45, 0.8)),
      "#000000",
      random.uniform(0.05, 0.25),
    ),
    hair: hairStyle === 2 && random.next() < 0.5 ? mixColor(skin, "#000000", 0.25) : hair,
    iris: IRIS_COLORS[random.int(IRIS_COLORS.length)],
    hairStyle,
    hairline: random.uniform(13, 19),
    blush: random.uniform(0, 0.12),
    restingMouth: random.normal(0, 0.12),
    restingBrow: random.normal(0, 0.15),
    wrinkles: Math.pow(random.next(), 2),
    moustache: facial < 0.07,
    beard: facial >= 0.07 && facial < 0.12,
  };
}

function sampleScene(random: Random, nuisance: number): FaceScene {
  const n = nuisance;
  const plainBackground = random.next() < 0.5;
  const bg1 = randomColor(random, [0.2, 0.9]);
  const bg2 = plainBackground ? bg1 : randomColor(random, [0.1, 0.9]);
  const clutter: ClutterShape[] = [];
  const clutterCount = n > 0 ? random.int(6) : 0;
  for (let k = 0; k < clutterCount; k++) {
    const kindRoll = random.next();
    clutter.push({
      kind: kindRoll < 0.4 ? "rect" : kindRoll < 0.75 ? "circle" : "line",
      x: random.uniform(0, 100),
      y: random.uniform(0, 100),
      w: random.uniform(8, 45),
      h: random.uniform(2, 40),
      rotation: random.uniform(0, 180),
      color: randomColor(random),
      opacity: random.uniform(0.3, 1),
    });
  }
  const occRoll = random.next();
  let occlusion: Occlusion = { kind: "none", color: "#000000", x: 0, y: 0, w: 0, h: 0, rotation: 0 };
  const occColor = randomColor(random, [0.1, 0.7]);
  const ox = random.uniform(-1, 1);
  const oy = random.uniform(0, 1);
  const ow = random.uniform(0, 1);
  const oh = random.uniform(0, 1);
  const orot = random.uniform(-1, 1);
  if (n > 0) {
    if (occRoll < 0.13) {
      occlusion = {
        kind: "glasses",
        color: mixColor(occColor, "#000000", 0.5),
        x: 0,
        y: 0,
        w: ow,
        h: oh,
        rotation: 0,
      };
    } else if (occRoll < 0.15) {
      occlusion = { kind: "sunglasses", color: "#141414", x: 0, y: 0, w: ow, h: oh, rotation: 0 };
    } else if (occRoll < 0.2) {
      occlusion = { kind: "hat", color: occColor, x: 0, y: oy, w: ow, h: oh, rotation: 0 };
    } else if (occRoll < 0.24) {
      occlusion = { kind: "hand", color: "#000000", x: ox, y: oy, w: ow, h: oh, rotation: orot * 60 };
    } else if (occRoll < 0.28) {
      occlusion = {
        kind: "bar",
        color: occColor,
        x: 15 + 70 * (ox + 1) / 2,
        y: 15 + 70 * oy,
        w: 50 + 70 * ow,
        h: 7 + 12 * oh,
        rotation: orot * 90,
      };
    }
  }
  const blurred = random.next() < 0.2;
  const noisy = random.next() < 0.25;
  return {
    roll: n * random.normal(0, 4),
    yaw: n * Math.max(-1, Math.min(1, random.normal(0, 0.3))),
    pitch: n * Math.max(-1, Math.min(1, random.normal(0, 0.3))),
    scale: 1 + n * random.uniform(-0.07, 0.05),
    dx: n * random.normal(0, 1.8),
    dy: n * random.normal(0, 1.5),
    gaze: [random.uniform(-1, 1), random.uniform(-0.6, 0.6)],
    background: [bg1, bg2],
    backgroundAngle: random.uniform(0, 360),
    clutter,
    clothes: randomColor(random, [0.1, 0.8]),
    lightAngle: random.uniform(0, 360),
    lightStrength: n * random.uniform(0, 0.35),
    contrast: 1 + n * random.uniform(-0.2, 0.15),
    brightness: n * random.normal(0, 12),
    occlusion,
    blur: n > 0 && blurred ? random.uniform(0.3, 1.3) : 0,
    noise: n > 0 && noisy ? random.uniform(2, 7) : 0,
    noiseSeed: random.nextUint32(),
    grayscale: n > 0 && random.next() < 0.06,
    quality: Math.round(random.uniform(75, 95)),
  };
}

/**
 * Draws the parameters of one face whose expression is the distribution-weighted blend of the
 * emotions' actions, with a random identity, pose, background, light and occlusion.
 */
export function sampleFaceParams(
  random: Random,
  probabilities: readonly number[],
  options: SampleFaceOptions = {},
): FaceParams {
  // Fixed draw order: intensity, per-action jitter, asymmetry, identity, scene.
  const drawnIntensity = random.uniform(0.65, 1.2);
  const intensity = options.intensity ?? drawnIntensity;
  const actions = blendActions(probabilities, intensity);
  for (const name of ACTION_NAMES) {
    // Individual ways of producing an expression: each action a little stronger or weaker.
    const jitter = random.normal(0, 0.06) + actions[name] * random.normal(0, 0.12);
    actions[name] = Math.max(0, actions[name] + jitter);
  }
  const asymmetry = random.uniform(-1, 1);
  const identity = sampleIdentity(random);
  const scene = sampleScene(random, options.nuisance ?? 1);
  return { actions, asymmetry, identity, scene };
}
