/**
 * 68-point facial landmarks (the iBUG 300-W scheme: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47,
 * mouth 48-67) with the landmark network that ships in `@vladmandic/face-api`, run on the library's
 * TensorFlow.js.
 *
 * The network: the face box is cut out of the image, padded with zeros to a centred square, resized to
 * 112x112 (bilinear), normalised as `(x - [122.782, 117.001, 104.298]) / 255`; four dense blocks (the
 * first a 3x3 stride-2 convolution, the others depthwise-separable with stride 2, each followed by three
 * depthwise-separable convolutions whose inputs are the ReLU of the running sum of the block's outputs),
 * a 7x7 stride-2 average pool and a fully connected layer give 136 numbers: (x, y) of each point relative
 * to the padded square.
 *
 * @module
 */
import { type Tensor1D, type Tensor2D, type Tensor4D, tf } from "../../engine/tf.ts";
import type { RgbImage } from "../transforms.ts";
import type { FaceBox } from "./detector.ts";
import type { Point } from "./geometry.ts";
import { disposeWeights, weight, type WeightMap } from "./_weight_map.ts";

/** The landmark network's input size. */
export const LANDMARK_INPUT_SIZE = 112;

const MODEL = "face_landmark_68";
const MEAN_RGB = [122.782, 117.001, 104.298];

interface Conv {
  filters: Tensor4D;
  bias: Tensor1D;
}

interface Separable {
  depthwise: Tensor4D;
  pointwise: Tensor4D;
  bias: Tensor1D;
}

interface DenseBlock {
  first: Conv | Separable;
  rest: Separable[];
}

/**
 * The square crop that the landmark network sees for a face box: the box rounded to whole pixels and
 * clipped to the image, then centred in a square of side `max(width, height)`.
 */
export function landmarkCrop(box: FaceBox, width: number, height: number): {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  side: number;
  left: number;
  top: number;
} {
  const x0 = Math.max(0, Math.min(width - 1, Math.round(box.x)));
  const y0 = Math.max(0, Math.min(height - 1, Math.round(box.y)));
  const x1 = Math.max(x0 + 1, Math.min(width, Math.round(box.x + box.width)));
  const y1 = Math.max(y0 + 1, Math.min(height, Math.round(box.y + box.height)));
  const w = x1 - x0, h = y1 - y0;
  const side = Math.max(w, h);
  // Like face-api: round(diff / 2) of padding after the image, the rest before it.
  const left = (side - w) - Math.round((side - w) / 2);
  const top = (side - h) - Math.round((side - h) / 2);
  return { x0, y0, x1, y1, side, left, top };
}

/** The 68-point landmark network. Make it with {@linkcode LandmarkNet.fromWeights}; free it with `dispose`. */
export class LandmarkNet {
  readonly #weights: WeightMap;
  readonly #blocks: DenseBlock[];
  readonly #fcWeights: Tensor2D;
  readonly #fcBias: Tensor1D;

  private constructor(weights: WeightMap) {
    this.#weights = weights;
    const w = <T extends tf.Tensor>(name: string, rank: number) => weight<T>(weights, MODEL, name, rank);
    const separable = (p: string): Separable => ({
      depthwise: w(`${p}/depthwise_filter`, 4),
      pointwise: w(`${p}/pointwise_filter`, 4),
      bias: w(`${p}/bias`, 1),
    });
    this.#blocks = [0, 1, 2, 3].map((b) => ({
      first: b === 0
        ? { filters: w<Tensor4D>(`dense0/conv0/filters`, 4), bias: w<Tensor1D>(`dense0/conv0/bias`, 1) }
        : separable(`dense${b}/conv0`),
      rest: [1, 2, 3].map((c) => separable(`dense${b}/conv${c}`)),
    }));
    this.#fcWeights = w("fc/weights", 2);
    this.#fcBias = w("fc/bias", 1);
  }

  /**
   * The network from its decoded weights (`face_landmark_68_model.bin` of `@vladmandic/face-api`): `loadWeightMap` of
   * `weights.ts` reads them from the installed package, a browser fetches and decodes them with
   * `decodeWeightMap`. The network owns them from then on (`dispose` frees them).
   */
  static fromWeights(weights: WeightMap): LandmarkNet {
    return new LandmarkNet(weights);
  }

  /** [N, 112, 112, 3] normalised crops to [N, 136] relative coordinates. */
  #forward(x: Tensor4D): Tensor2D {
    return tf.tidy(() => {
      const sep = (input: Tensor4D, p: Separable, stride: 1 | 2): Tensor4D =>
        tf.add(tf.separableConv2d(input, p.depthwise, p.pointwise, stride, "same"), p.bias);
      let out = x;
      for (const block of this.#blocks) {
        const first = "filters" in block.first
          ? tf.add(tf.conv2d(out, block.first.filters, 2, "same"), block.first.bias) as Tensor4D
          : sep(out, block.first, 2);
        const o1 = tf.relu(first) as Tensor4D;
        let sum: Tensor4D = o1;
        let input: Tensor4D = o1;
        for (let c = 0; c < block.rest.length; c++) {
          const oc = sep(input, block.rest[c], 1);
          sum = tf.add(sum, oc);
          input = tf.relu(sum) as Tensor4D;
        }
        out = input;
      }
      const pooled = tf.avgPool(out, [7, 7], [2, 2], "valid");
      return tf.add(tf.matMul(pooled.reshape([pooled.shape[0], -1]), this.#fcWeights), this.#fcBias);
    });
  }

  /**
   * The 68 landmarks of each face box in an RGB image, in the image's pixels.
   *
   * @example
   * ```ts ignore
   * import { FaceDetector } from "./detector.ts";
   * import { LandmarkNet } from "./landmarks.ts";
   * import { loadWeightMap } from "./weights.ts";
   * import { decodeImage } from "../image.ts";
   * const image = await decodeImage("face.jpg");
   * const detector = FaceDetector.fromWeights(await loadWeightMap("ssd_mobilenetv1"));
   * const net = LandmarkNet.fromWeights(await loadWeightMap("face_landmark_68"));
   * const faces = await detector.detect(image);
   * const [points] = await net.landmarks(image, faces.map((f) => f.box));
   * console.log(points[30]); // the nose tip
   * ```
   */
  async landmarks(image: RgbImage, boxes: readonly FaceBox[]): Promise<Point[][]> {
    if (boxes.length === 0) return [];
    const { width, height } = image;
    const crops = boxes.map((b) => landmarkCrop(b, width, height));
    const result = tf.tidy(() => {
      const img = tf.tensor3d(image.data, [height, width, 3], "int32");
      const batch = crops.map((c) => {
        const w = c.x1 - c.x0, h = c.y1 - c.y0;
        const cut = tf.cast(tf.slice(img, [c.y0, c.x0, 0], [h, w, 3]), "float32") as tf.Tensor3D;
        const sq = tf.pad(cut, [[c.top, c.side - h - c.top], [c.left, c.side - w - c.left], [0, 0]]);
        return tf.image.resizeBilinear(sq, [LANDMARK_INPUT_SIZE, LANDMARK_INPUT_SIZE]);
      });
      const x = tf.div(tf.sub(tf.stack(batch), tf.tensor1d(MEAN_RGB)), 255) as Tensor4D;
      return this.#forward(x);
    });
    const out = await result.data();
    result.dispose();
    return crops.map((c, i) =>
      Array.from({ length: 68 }, (_, k): Point => [
        c.x0 - c.left + out[136 * i + 2 * k] * c.side,
        c.y0 - c.top + out[136 * i + 2 * k + 1] * c.side,
      ])
    );
  }

  /** Frees the weights. */
  dispose(): void {
    disposeWeights(this.#weights);
  }
}
