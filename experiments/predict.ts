/**
 * `deno task predict RUN_DIR IMAGE...`: each image's distribution over the emotions, from a trained
 * run's target branch (the inference model), as a table or JSON.
 *
 * ```sh
 * deno task predict runs/synthetic-fused-20261128-101500 face1.jpg face2.png
 * deno task predict runs/x face.jpg --json
 * ```
 *
 * @module
 */
import { tf } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import { ImagePipeline } from "../datasets/mod.ts";
import type { LoadedRun } from "./run.ts";

/** One image's prediction. */
export interface Prediction {
  /** The image file. */
  image: string;
  /** The most probable class. */
  prediction: string;
  /** Probability per class name. */
  probabilities: Record<string, number>;
}

/** Predicts the emotion distribution of image files with a loaded run. */
export async function predictImages(run: LoadedRun, images: readonly string[]): Promise<Prediction[]> {
  const pipeline = new ImagePipeline({
    size: run.config.data.size,
    tenCrop: run.config.data.testCrops === 10,
  });
  const per = pipeline.floatsPerItem;
  const crops = pipeline.crops;
  const size = pipeline.size;
  const out: Prediction[] = [];
  for (const image of images) {
    const buffer = new Float32Array(per);
    await pipeline.process({ index: 0, label: 0, path: image, source: image }, new Random(0), {
      out: buffer,
    });
    const distribution = tf.tidy(() => {
      const x = tf.tensor4d(buffer, [crops, size, size, 3]);
      const mode = { training: false };
      const target = run.model.branch("target", run.model.stem(x, mode), mode);
      const { a2 } = run.plugins.attention.apply({ scores1: target.scores, scores2: target.scores });
      const logits = tf.mean(tf.mul(target.logits, a2.expandDims(1)), 0);
      return tf.softmax(logits);
    });
    const probs = await distribution.data();
    distribution.dispose();
    const probabilities = Object.fromEntries(run.classNames.map((n, j) => [n, probs[j]]));
    let best = 0;
    for (let j = 1; j < probs.length; j++) if (probs[j] > probs[best]) best = j;
    out.push({ image, prediction: run.classNames[best], probabilities });
  }
  return out;
}

/** Formats predictions as a table: one row per image, one column per class. */
export function formatPredictions(predictions: Prediction[], classNames: readonly string[]): string {
  const head = ["image", "prediction", ...classNames];
  const rows = predictions.map((p) => [
    p.image,
    p.prediction,
    ...classNames.map((n) => `${(100 * p.probabilities[n]).toFixed(1)}%`),
  ]);
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all.map((r) => r.map((v, c) => (c < 2 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  "))
    .join(
      "\n",
    );
}
