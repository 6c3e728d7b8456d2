/**
 * The geometry of five-point alignment (no image code, so that it also runs in a browser): the five
 * points from 68 landmarks, the canonical template, and the least-squares similarity (rotation, uniform
 * scale, translation; no reflection, no shear) that maps a face's points onto it. `align.ts` warps images
 * with it.
 *
 * Coordinates are continuous pixels: x to the right, y down, pixel `(i, j)` covers `[i, i+1) x [j, j+1)`,
 * so its centre is `(i + 0.5, j + 0.5)`. A template's points are fractions of the output side (0..1), so
 * one template serves every output size.
 *
 * The default template, {@linkcode DEFAULT_TEMPLATE}, is the widely used five-point template of
 * face-recognition crops (defined on 112x112 pixels, here divided by 112):
 *
 * | point                        | x      | y      |
 * | ---------------------------- | ------ | ------ |
 * | eye centre, image left       | 0.3419 | 0.4616 |
 * | eye centre, image right      | 0.6565 | 0.4598 |
 * | nose tip                     | 0.5002 | 0.6405 |
 * | mouth corner, image left     | 0.3710 | 0.8247 |
 * | mouth corner, image right    | 0.6315 | 0.8232 |
 *
 * Training data and photos must be aligned with the same template and size: a model trained on faces
 * aligned one way sees faces aligned another way as shifted, zoomed crops.
 *
 * @module
 */

/** A point in pixels: x to the right, y down. */
export type Point = readonly [number, number];

/** The five alignment points, in the order of {@linkcode FIVE_POINT_NAMES}. */
export type FivePoints = readonly [Point, Point, Point, Point, Point];

/** Names of the five points, in order. */
export const FIVE_POINT_NAMES: readonly string[] = Object.freeze([
  "left eye",
  "right eye",
  "nose tip",
  "left mouth corner",
  "right mouth corner",
]);

/** A canonical face template: where the five points go, as fractions of the output side. */
export interface FaceTemplate {
  /** A name for logs and metadata. */
  name: string;
  /** The five points (x, y) in 0..1, in the order of {@linkcode FIVE_POINT_NAMES}. */
  points: FivePoints;
}

/** The default template (see the module documentation). */
export const DEFAULT_TEMPLATE: FaceTemplate = Object.freeze({
  name: "five-point-112",
  points: Object.freeze([
    [38.2946 / 112, 51.6963 / 112],
    [73.5318 / 112, 51.5014 / 112],
    [56.0252 / 112, 71.7366 / 112],
    [41.5493 / 112, 92.3655 / 112],
    [70.7299 / 112, 92.2041 / 112],
  ]) as unknown as FivePoints,
});

/**
 * The five alignment points from 68 iBUG landmarks: the eye centres (means of points 36-41 and 42-47),
 * the nose tip (30) and the mouth corners (48, 54).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fivePointsFrom68 } from "./geometry.ts";
 * const landmarks = Array.from({ length: 68 }, (_, i) => [i, 2 * i] as const);
 * const [leftEye, rightEye, nose, leftMouth, rightMouth] = fivePointsFrom68(landmarks);
 * assert.deepEqual([leftEye, rightEye, nose, leftMouth, rightMouth], [[38.5, 77], [44.5, 89], [30, 60], [48, 96], [54, 108]]);
 * ```
 */
export function fivePointsFrom68(landmarks: readonly Point[]): FivePoints {
  if (landmarks.length !== 68) throw new RangeError(`expected 68 landmarks, got ${landmarks.length}`);
  const mean = (from: number, to: number): Point => {
    let x = 0, y = 0;
    for (let i = from; i <= to; i++) [x, y] = [x + landmarks[i][0], y + landmarks[i][1]];
    const n = to - from + 1;
    return [x / n, y / n];
  };
  return [mean(36, 41), mean(42, 47), landmarks[30], landmarks[48], landmarks[54]];
}

/**
 * A similarity transform `X = a*x - b*y + tx`, `Y = b*x + a*y + ty`: scale `sqrt(a^2 + b^2)`, rotation
 * `atan2(b, a)`.
 */
export interface Similarity {
  /** scale * cos(angle). */
  a: number;
  /** scale * sin(angle). */
  b: number;
  /** Translation in x. */
  tx: number;
  /** Translation in y. */
  ty: number;
}

/**
 * Applies a similarity to a point.
 *
 * @example A quarter turn and a doubling, then back
 * ```ts
 * import assert from "node:assert/strict";
 * import { applySimilarity, invertSimilarity } from "./geometry.ts";
 * const t = { a: 0, b: 2, tx: 10, ty: 0 };
 * assert.deepEqual(applySimilarity(t, [1, 0]), [10, 2]);
 * assert.deepEqual(applySimilarity(invertSimilarity(t), [10, 2]), [1, 0]);
 * ```
 */
export function applySimilarity(t: Similarity, [x, y]: Point): Point {
  return [t.a * x - t.b * y + t.tx, t.b * x + t.a * y + t.ty];
}

/** The inverse of a similarity. */
export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b;
  if (!(d > 0)) throw new RangeError("a similarity with zero scale has no inverse");
  const a = t.a / d, b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/**
 * The least-squares similarity that maps `from` onto `to` (minimising the sum of squared distances),
 * in closed form: with both point sets centred, `a = sum(x.X + y.Y) / sum(x^2 + y^2)` and
 * `b = sum(x.Y - y.X) / sum(x^2 + y^2)`, then the translation maps centroid onto centroid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applySimilarity, estimateSimilarity } from "./geometry.ts";
 * const from = [[0, 0], [10, 0], [0, 10]] as const;
 * const to = from.map(([x, y]) => [2 * x + 5, 2 * y - 1] as const);
 * const t = estimateSimilarity(from, to);
 * assert.ok(Math.abs(t.a - 2) < 1e-12 && Math.abs(t.b) < 1e-12);
 * assert.deepEqual(applySimilarity(t, [10, 0]).map((v) => Math.round(v)), [25, -1]);
 * ```
 */
export function estimateSimilarity(from: readonly Point[], to: readonly Point[]): Similarity {
  const n = from.length;
  if (n < 2 || to.length !== n) {
    throw new RangeError(
      `estimateSimilarity needs two equal lists of at least 2 points (${n}, ${to.length})`,
    );
  }
  let mx = 0, my = 0, mX = 0, mY = 0;
  for (let i = 0; i < n; i++) {
    mx += from[i][0];
    my += from[i][1];
    mX += to[i][0];
    mY += to[i][1];
  }
  [mx, my, mX, mY] = [mx / n, my / n, mX / n, mY / n];
  let sxx = 0, sa = 0, sb = 0;
  for (let i = 0; i < n; i++) {
    const x = from[i][0] - mx, y = from[i][1] - my;
    const X = to[i][0] - mX, Y = to[i][1] - mY;
    sxx += x * x + y * y;
    sa += x * X + y * Y;
    sb += x * Y - y * X;
  }
  if (!(sxx > 0)) throw new RangeError("estimateSimilarity: the source points all coincide");
  const a = sa / sxx, b = sb / sxx;
  return { a, b, tx: mX - (a * mx - b * my), ty: mY - (b * mx + a * my) };
}

/**
 * The template's points in pixels of a `size` x `size` output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TEMPLATE, templatePoints } from "./geometry.ts";
 * const [leftEye] = templatePoints(DEFAULT_TEMPLATE, 112);
 * assert.deepEqual(leftEye.map((v) => v.toFixed(4)), ["38.2946", "51.6963"]);
 * ```
 */
export function templatePoints(template: FaceTemplate, size: number): FivePoints {
  return template.points.map(([x, y]) => [x * size, y * size]) as unknown as FivePoints;
}

/**
 * Checks a template: five points in 0..1, the left eye left of the right one. Errors name `where` (a
 * file, an option) and the point at fault.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTemplate } from "./geometry.ts";
 * const points = [[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]];
 * assert.equal(checkTemplate({ name: "mine", points }).name, "mine");
 * assert.throws(() => checkTemplate({ name: "mine", points: points.slice(0, 4) }, "t.json"), /t\.json/);
 * ```
 */
export function checkTemplate(value: unknown, where = "template"): FaceTemplate {
  const v = value as Partial<FaceTemplate> | null;
  if (!v || typeof v !== "object") throw new TypeError(`${where}: must be an object {name, points}`);
  if (typeof v.name !== "string" || v.name === "") {
    throw new TypeError(`${where}: field name must be a string`);
  }
  if (!Array.isArray(v.points) || v.points.length !== 5) {
    throw new TypeError(`${where}: field points must be five [x, y] pairs (${FIVE_POINT_NAMES.join(", ")})`);
  }
  v.points.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 2 || p.some((c) => typeof c !== "number" || !(c >= 0 && c <= 1))) {
      throw new TypeError(`${where}: points[${i}] (${FIVE_POINT_NAMES[i]}) must be [x, y] with x, y in 0..1`);
    }
  });
  if (v.points[0][0] >= v.points[1][0]) {
    throw new TypeError(`${where}: the left eye (points[0]) must be left of the right eye (points[1])`);
  }
  return { name: v.name, points: v.points.map((p) => [p[0], p[1]]) as unknown as FivePoints };
}

/**
 * The similarity that aligns five points onto a template at a size, and its root mean square residual
 * in output pixels.
 */
export function alignmentTransform(
  points: FivePoints,
  options: { size?: number; template?: FaceTemplate } = {},
): { transform: Similarity; residual: number } {
  const size = options.size ?? 100;
  const target = templatePoints(options.template ?? DEFAULT_TEMPLATE, size);
  const transform = estimateSimilarity(points, target);
  let sq = 0;
  points.forEach((p, i) => {
    const [x, y] = applySimilarity(transform, p);
    sq += (x - target[i][0]) ** 2 + (y - target[i][1]) ** 2;
  });
  return { transform, residual: Math.sqrt(sq / points.length) };
}
