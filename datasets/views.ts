/**
 * Views of a dataset that change which items it holds or which labels they carry, without
 * copying images: {@linkcode withLabels} (e.g. after label noise) and {@linkcode subset}.
 *
 * @module
 */
import type { Dataset, DatasetItem } from "./types.ts";

class ViewDataset implements Dataset {
  readonly name: string;
  readonly root: string;
  readonly classNames: readonly string[];
  readonly split: string;
  readonly labels: Int32Array;
  readonly distributions?: readonly Float32Array[];
  #base: Dataset;
  #indices?: Int32Array;

  constructor(base: Dataset, labels: Int32Array, indices?: Int32Array) {
    this.#base = base;
    this.#indices = indices;
    this.name = base.name;
    this.root = base.root;
    this.classNames = base.classNames;
    this.split = base.split;
    this.labels = labels;
    if (base.distributions) {
      this.distributions = indices ? Array.from(indices, (i) => base.distributions![i]) : base.distributions;
    }
  }

  get size(): number {
    return this.labels.length;
  }

  item(i: number): DatasetItem {
    if (!Number.isInteger(i) || i < 0 || i >= this.labels.length) {
      throw new RangeError(`${this.name}: item index ${i} out of range 0..${this.labels.length - 1}`);
    }
    const base = this.#base.item(this.#indices ? this.#indices[i] : i);
    return { ...base, index: i, label: this.labels[i] };
  }
}

/**
 * The same items with other labels (same length, each in `0..classNames.length - 1`).
 *
 * @example Train on noisy labels
 * ```ts ignore
 * import { applyLabelNoise, rafDb, withLabels } from "./mod.ts";
 * const train = await rafDb("/data/raf-basic", { split: "train" });
 * const noise = applyLabelNoise(train.labels, { fraction: 0.2, numClasses: 7, seed: 1 });
 * const noisy = withLabels(train, noise.labels);
 * ```
 */
export function withLabels(dataset: Dataset, labels: Int32Array): Dataset {
  if (labels.length !== dataset.size) {
    throw new RangeError(`withLabels: ${labels.length} labels for ${dataset.size} items`);
  }
  const classes = dataset.classNames.length;
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= classes) {
      throw new RangeError(`withLabels: label ${labels[i]} at ${i} out of range 0..${classes - 1}`);
    }
  }
  return new ViewDataset(dataset, Int32Array.from(labels));
}

/**
 * The items at `indices` (in that order); item `i` of the view is item `indices[i]` of `dataset`.
 *
 * @example Keep the first 100 items
 * ```ts ignore
 * import { rafDb, subset } from "./mod.ts";
 * const train = await rafDb("/data/raf-basic", { split: "train" });
 * const small = subset(train, Array.from({ length: 100 }, (_, i) => i));
 * ```
 */
export function subset(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const picked = Int32Array.from(indices);
  for (const i of picked) {
    if (i < 0 || i >= dataset.size) {
      throw new RangeError(`subset: index ${i} out of range 0..${dataset.size - 1}`);
    }
  }
  return new ViewDataset(dataset, Int32Array.from(picked, (i) => dataset.labels[i]), picked);
}
