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
 * @example Relabel a dataset
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Dataset } from "./types.ts";
 * import { withLabels } from "./views.ts";
 *
 * const labels = Int32Array.from([0, 1, 1]);
 * const train: Dataset = {
 *   name: "mine", root: "/data/mine", split: "train", classNames: ["Neutral", "Happiness"], size: 3, labels,
 *   item: (i) => ({ index: i, label: labels[i], path: `/data/mine/${i}.png`, source: `mine #${i}` }),
 * };
 * // for example the labels of applyLabelNoise(train.labels, { ... })
 * const noisy = withLabels(train, Int32Array.from([1, 1, 0]));
 * assert.deepEqual([...noisy.labels], [1, 1, 0]);
 * assert.equal(noisy.item(2).label, 0);
 * assert.equal(noisy.item(2).path, "/data/mine/2.png");
 * assert.throws(() => withLabels(train, Int32Array.from([0, 2, 0])), /label 2 at 1 out of range 0\.\.1/);
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
 * @example Keep two of three items
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Dataset } from "./types.ts";
 * import { subset } from "./views.ts";
 *
 * const labels = Int32Array.from([0, 1, 1]);
 * const train: Dataset = {
 *   name: "mine", root: "/data/mine", split: "train", classNames: ["Neutral", "Happiness"], size: 3, labels,
 *   item: (i) => ({ index: i, label: labels[i], path: `/data/mine/${i}.png`, source: `mine #${i}` }),
 * };
 * const small = subset(train, [2, 0]);
 * assert.equal(small.size, 2);
 * assert.deepEqual([...small.labels], [1, 0]);
 * assert.equal(small.item(0).path, "/data/mine/2.png");
 * assert.equal(small.item(0).index, 0);
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
