/**
 * Small in-memory classification batches for trainer tests: each class is a coloured blob at a class
 * position on a noisy background, so a tiny CNN separates them in a few epochs.
 */
import type { Batch } from "../datasets/loader.ts";
import type { BatchSource } from "../training/trainer.ts";
import { Random } from "../engine/random.ts";

export interface BlobSetOptions {
  count: number;
  numClasses: number;
  size: number;
  seed: number;
  batchSize: number;
  /** Shuffle per epoch (training) or keep the order (test). */
  shuffle: boolean;
}

export function blobSet(options: BlobSetOptions): BatchSource {
  const { count, numClasses, size, seed, batchSize, shuffle } = options;
  const rng = new Random(seed);
  const per = size * size * 3;
  const images = new Float32Array(count * per);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const label = n % numClasses;
    labels[n] = label;
    const angle = (2 * Math.PI * label) / numClasses;
    const cx = size / 2 + (size / 4) * Math.cos(angle) + rng.normal(0, 1);
    const cy = size / 2 + (size / 4) * Math.sin(angle) + rng.normal(0, 1);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < (size / 6) ** 2 ? 1.5 : 0;
        for (let c = 0; c < 3; c++) images[n * per + (y * size + x) * 3 + c] = inside + rng.normal(0, 0.5);
      }
    }
  }
  const batches = Math.floor(count / batchSize);
  return {
    length: batches,
    async *batches(epoch: number, from = 0): AsyncGenerator<Batch> {
      const order = Array.from({ length: count }, (_, i) => i);
      if (shuffle) new Random(seed * 1000 + epoch).shuffle(order);
      for (let b = from; b < batches; b++) {
        const idx = order.slice(b * batchSize, (b + 1) * batchSize);
        const out = new Float32Array(idx.length * per);
        idx.forEach((i, k) => out.set(images.subarray(i * per, (i + 1) * per), k * per));
        await Promise.resolve();
        yield {
          images: out,
          shape: [idx.length, size, size, 3],
          labels: Int32Array.from(idx, (i) => labels[i]),
          indices: Int32Array.from(idx),
          crops: 1,
          position: b,
        };
      }
    },
  };
}
