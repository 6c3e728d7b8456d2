/**
 * Face detection with the SSD MobileNet v1 detector that ships in `@vladmandic/face-api` (trained on
 * WIDER FACE), run on the library's TensorFlow.js.
 *
 * The network: the image is padded to a square (zeros on the right or bottom), resized to 512x512
 * (bilinear) and scaled to [-1, 1]; a MobileNet v1 (a 3x3 stride-2 convolution, then 13 depthwise +
 * pointwise pairs, ReLU6, stride 2 at pairs 2, 4, 6 and 12) and four extra pointwise pairs give six
 * feature maps (32x32 from pair 11, 16x16, 8x8, 4x4, 2x2, 1x1), each with a box-encoding and a class
 * predictor (3 anchors on the first map, 6 on the others: 5,118 anchors). Box encodings are decoded
 * against the packaged anchors with the usual SSD scales (10 for centres, 5 for sizes); a face's score
 * is the sigmoid of its class logit; greedy non-maximum suppression (IoU 0.5) keeps the best boxes.
 *
 * @module
 */
import { type Tensor, type Tensor1D, type Tensor2D, type Tensor4D, tf } from "../../engine/tf.ts";
import type { RgbImage } from "../transforms.ts";
import { disposeWeights, weight, type WeightMap } from "./_weight_map.ts";

/** A face box in pixels of the image it was found in. */
export interface FaceBox {
  /** Left edge (x of the top-left corner). */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** One detected face. */
export interface Detection {
  /** The box, clipped to the image. */
  box: FaceBox;
  /** The detector's confidence, 0..1. */
  score: number;
}

/** Options of {@linkcode FaceDetector.detect}. */
export interface DetectOptions {
  /**
   * Boxes below this confidence are dropped.
   * @default {0.5}
   */
  minConfidence?: number;
  /**
   * At most this many faces.
   * @default {100}
   */
  maxResults?: number;
  /**
   * Non-maximum suppression: a box overlapping a better one by more than this IoU is dropped.
   * @default {0.5}
   */
  iouThreshold?: number;
  /**
   * When nothing is found, search the image again framed by a black border of half its longer side
   * (the detector misses faces that fill most of the frame, as in tight face crops).
   * @default {true}
   */
  retryWithMargin?: boolean;
}

/** The detector's input size. */
export const DETECTOR_INPUT_SIZE = 512;

const MODEL = "ssd_mobilenetv1";
const BN_EPSILON = 0.0010000000474974513;

/**
 * Intersection over union of two boxes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { boxIou } from "./detector.ts";
 * assert.equal(boxIou({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 }), 1 / 3);
 * ```
 */
export function boxIou(a: FaceBox, b: FaceBox): number {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy non-maximum suppression: the indices of the kept boxes, best score first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nonMaxSuppression } from "./detector.ts";
 * const boxes = [
 *   { x: 0, y: 0, width: 10, height: 10 },
 *   { x: 1, y: 0, width: 10, height: 10 },
 *   { x: 50, y: 50, width: 10, height: 10 },
 * ];
 * assert.deepEqual(nonMaxSuppression(boxes, [0.9, 0.95, 0.6], { minConfidence: 0.5 }), [1, 2]);
 * ```
 */
export function nonMaxSuppression(
  boxes: readonly FaceBox[],
  scores: ArrayLike<number>,
  options: DetectOptions = {},
): number[] {
  const { minConfidence = 0.5, maxResults = 100, iouThreshold = 0.5 } = options;
  const order: number[] = [];
  for (let i = 0; i < boxes.length; i++) if (scores[i] > minConfidence) order.push(i);
  order.sort((i, j) => scores[j] - scores[i] || i - j);
  const kept: number[] = [];
  for (const i of order) {
    if (kept.length >= maxResults) break;
    if (kept.every((k) => boxIou(boxes[i], boxes[k]) <= iouThreshold)) kept.push(i);
  }
  return kept;
}

interface Pointwise {
  filters: Tensor4D;
  bias: Tensor1D;
}

interface Depthwise {
  filters: Tensor4D;
  mean: Tensor1D;
  variance: Tensor1D;
  offset: Tensor1D;
  scale: Tensor1D;
}

interface Predictor {
  boxFilters: Tensor4D;
  boxBias: Tensor1D;
  classFilters: Tensor4D;
  classBias: Tensor1D;
}

/** The SSD MobileNet v1 face detector. Make it with {@linkcode FaceDetector.fromWeights}; free it with `dispose`. */
export class FaceDetector {
  readonly #weights: WeightMap;
  readonly #stem: Pointwise;
  readonly #pairs: { depthwise: Depthwise; pointwise: Pointwise }[];
  readonly #extra: Pointwise[];
  readonly #predictors: Predictor[];
  readonly #anchors: Tensor2D;

  private constructor(weights: WeightMap) {
    this.#weights = weights;
    const w = <T extends Tensor>(name: string, rank: number) => weight<T>(weights, MODEL, name, rank);
    const pointwise = (prefix: string, i: number): Pointwise => ({
      filters: w(`${prefix}/Conv2d_${i}_pointwise/weights`, 4),
      bias: w(`${prefix}/Conv2d_${i}_pointwise/convolution_bn_offset`, 1),
    });
    this.#stem = pointwise("MobilenetV1", 0);
    this.#pairs = [];
    for (let i = 1; i <= 13; i++) {
      const p = `MobilenetV1/Conv2d_${i}_depthwise`;
      this.#pairs.push({
        depthwise: {
          filters: w(`${p}/depthwise_weights`, 4),
          mean: w(`${p}/BatchNorm/moving_mean`, 1),
          variance: w(`${p}/BatchNorm/moving_variance`, 1),
          offset: w(`${p}/BatchNorm/beta`, 1),
          scale: w(`${p}/BatchNorm/gamma`, 1),
        },
        pointwise: pointwise("MobilenetV1", i),
      });
    }
    this.#extra = Array.from({ length: 8 }, (_, i) => pointwise("Prediction", i));
    this.#predictors = Array.from({ length: 6 }, (_, i) => {
      const p = `Prediction/BoxPredictor_${i}`;
      return {
        boxFilters: w(`${p}/BoxEncodingPredictor/weights`, 4),
        boxBias: w(`${p}/BoxEncodingPredictor/biases`, 1),
        classFilters: w(`${p}/ClassPredictor/weights`, 4),
        classBias: w(`${p}/ClassPredictor/biases`, 1),
      };
    });
    const anchors = w<tf.Tensor3D>("Output/extra_dim", 3);
    this.#anchors = anchors.reshape([-1, 4]);
  }

  /**
   * The network from its decoded weights (`ssd_mobilenetv1_model.bin` of `@vladmandic/face-api`): `loadWeightMap` of
   * `weights.ts` reads them from the installed package, a browser fetches and decodes them with
   * `decodeWeightMap`. The network owns them from then on (`dispose` frees them).
   */
  static fromWeights(weights: WeightMap): FaceDetector {
    return new FaceDetector(weights);
  }

  /** The anchors' count (5,118). */
  get anchorCount(): number {
    return this.#anchors.shape[0];
  }

  /** Box corners [N, 4] as (ymin, xmin, ymax, xmax) relative to the padded square, and face scores [N]. */
  #forward(image: tf.Tensor3D, margin: number): { boxes: Tensor2D; scores: Tensor1D } {
    return tf.tidy(() => {
      const [h, w] = image.shape;
      const side = Math.max(h, w) + 2 * margin;
      let x: tf.Tensor3D = tf.cast(image, "float32");
      if (h + 2 * margin !== side || w + 2 * margin !== side || margin > 0) {
        x = tf.pad(x, [[margin, side - h - margin], [margin, side - w - margin], [0, 0]]);
      }
      let t = tf.image.resizeBilinear(x.expandDims(0) as Tensor4D, [
        DETECTOR_INPUT_SIZE,
        DETECTOR_INPUT_SIZE,
      ]);
      t = tf.sub(tf.div(t, 127.5), 1);
      const pw = (input: Tensor4D, p: Pointwise, stride: 1 | 2): Tensor4D =>
        tf.clipByValue(tf.add(tf.conv2d(input, p.filters, stride, "same"), p.bias), 0, 6);
      let out = pw(t, this.#stem, 2);
      let conv11: Tensor4D = out;
      this.#pairs.forEach(({ depthwise: d, pointwise }, i) => {
        const stride = [2, 4, 6, 12].includes(i + 1) ? 2 : 1;
        const dw = tf.batchNorm(
          tf.depthwiseConv2d(out, d.filters, stride, "same"),
          d.mean,
          d.variance,
          d.offset,
          d.scale,
          BN_EPSILON,
        );
        out = pw(tf.clipByValue(dw, 0, 6), pointwise, 1);
        if (i + 1 === 11) conv11 = out;
      });
      const e = this.#extra;
      const c0 = pw(out, e[0], 1);
      const c1 = pw(c0, e[1], 2);
      const c3 = pw(pw(c1, e[2], 1), e[3], 2);
      const c5 = pw(pw(c3, e[4], 1), e[5], 2);
      const c7 = pw(pw(c5, e[6], 1), e[7], 2);
      const maps = [conv11, out, c1, c3, c5, c7];
      const encodings: Tensor2D[] = [];
      const logits: Tensor2D[] = [];
      maps.forEach((m, i) => {
        const p = this.#predictors[i];
        encodings.push(tf.add(tf.conv2d(m, p.boxFilters, 1, "same"), p.boxBias).reshape([-1, 4]));
        logits.push(tf.add(tf.conv2d(m, p.classFilters, 1, "same"), p.classBias).reshape([-1, 3]));
      });
      const enc = tf.concat(encodings, 0);
      const [a0, a1, a2, a3] = tf.unstack(this.#anchors, 1);
      const ah = tf.sub(a2, a0), aw = tf.sub(a3, a1);
      const acy = tf.add(a0, tf.div(ah, 2)), acx = tf.add(a1, tf.div(aw, 2));
      const [ty, tx, th, tw] = tf.unstack(enc, 1);
      const cy = tf.add(tf.mul(tf.div(ty, 10), ah), acy);
      const cx = tf.add(tf.mul(tf.div(tx, 10), aw), acx);
      const hh = tf.div(tf.mul(tf.exp(tf.div(th, 5)), ah), 2);
      const hw = tf.div(tf.mul(tf.exp(tf.div(tw, 5)), aw), 2);
      const boxes = tf.stack([tf.sub(cy, hh), tf.sub(cx, hw), tf.add(cy, hh), tf.add(cx, hw)], 1) as Tensor2D;
      const scores = tf.sigmoid(tf.concat(logits, 0).slice([0, 1], [-1, 1])).reshape([-1]) as Tensor1D;
      return { boxes, scores };
    });
  }

  /**
   * The faces in an RGB image, best score first, boxes in the image's pixels.
   *
   * @example
   * ```ts ignore
   * import { FaceDetector } from "./detector.ts";
   * import { loadWeightMap } from "./weights.ts";
   * import { decodeImage } from "../image.ts";
   * const detector = FaceDetector.fromWeights(await loadWeightMap("ssd_mobilenetv1"));
   * const faces = await detector.detect(await decodeImage("group.jpg"));
   * console.log(faces.length, faces[0].box, faces[0].score);
   * detector.dispose();
   * ```
   */
  async detect(image: RgbImage, options: DetectOptions = {}): Promise<Detection[]> {
    const { width, height } = image;
    if (width < 1 || height < 1) {
      throw new RangeError(`cannot detect faces in an empty ${width}x${height} image`);
    }
    const input = tf.tensor3d(image.data, [height, width, 3], "int32");
    try {
      const found = await this.#detect(input, 0, options);
      if (found.length > 0 || options.retryWithMargin === false) return found;
      // The detector misses faces that fill the frame: look again with the image framed by a border.
      return await this.#detect(input, Math.round(0.5 * Math.max(width, height)), options);
    } finally {
      input.dispose();
    }
  }

  async #detect(input: tf.Tensor3D, margin: number, options: DetectOptions): Promise<Detection[]> {
    const [height, width] = input.shape;
    const { boxes, scores } = this.#forward(input, margin);
    const [b, s] = await Promise.all([boxes.data(), scores.data()]);
    boxes.dispose();
    scores.dispose();
    const side = Math.max(width, height) + 2 * margin;
    const all: FaceBox[] = [];
    for (let i = 0; i < s.length; i++) {
      const y0 = Math.max(0, Math.min(b[4 * i], b[4 * i + 2]) * side - margin);
      const x0 = Math.max(0, Math.min(b[4 * i + 1], b[4 * i + 3]) * side - margin);
      const y1 = Math.min(height, Math.max(b[4 * i], b[4 * i + 2]) * side - margin);
      const x1 = Math.min(width, Math.max(b[4 * i + 1], b[4 * i + 3]) * side - margin);
      all.push({ x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) });
    }
    const kept = nonMaxSuppression(all, s, options).filter((i) => all[i].width >= 1 && all[i].height >= 1);
    return kept.map((i) => ({ box: all[i], score: s[i] }));
  }

  /** Frees the weights. */
  dispose(): void {
    this.#anchors.dispose();
    disposeWeights(this.#weights);
  }
}
