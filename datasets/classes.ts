/**
 * Class names of each supported dataset, in the dataset's own label order, and the mapping to one
 * canonical 7-emotion order so that a model trained on one dataset can be evaluated on another.
 *
 * The canonical order is AffectNet's first seven classes:
 * Neutral, Happiness, Sadness, Surprise, Fear, Disgust, Anger.
 *
 * @module
 */
import { ListDataset } from "./_list.ts";
import { type Dataset, DatasetError } from "./types.ts";

/**
 * RAF-DB basic, labels 1..7 in the label file, stored minus 1.
 *
 * @example Name a RAF-DB label
 * ```ts
 * import assert from "node:assert/strict";
 * import { RAF_DB_CLASSES } from "./classes.ts";
 * const lineLabel = 4; // "train_00001.jpg 4" in the label file, stored minus 1
 * assert.equal(RAF_DB_CLASSES[lineLabel - 1], "Happiness");
 * ```
 */
export const RAF_DB_CLASSES: readonly string[] = Object.freeze([
  "Surprise",
  "Fear",
  "Disgust",
  "Happiness",
  "Sadness",
  "Anger",
  "Neutral",
]);

/**
 * AffectNet with Contempt (labels 0..7).
 *
 * @example The eighth class is Contempt
 * ```ts
 * import assert from "node:assert/strict";
 * import { AFFECTNET8_CLASSES } from "./classes.ts";
 * assert.equal(AFFECTNET8_CLASSES.length, 8);
 * assert.equal(AFFECTNET8_CLASSES[7], "Contempt");
 * ```
 */
export const AFFECTNET8_CLASSES: readonly string[] = Object.freeze([
  "Neutral",
  "Happiness",
  "Sadness",
  "Surprise",
  "Fear",
  "Disgust",
  "Anger",
  "Contempt",
]);

/**
 * AffectNet without Contempt (labels 0..6).
 *
 * @example Map AffectNet-7 labels to RAF-DB's order
 * ```ts
 * import assert from "node:assert/strict";
 * import { AFFECTNET7_CLASSES, labelMapping, RAF_DB_CLASSES } from "./classes.ts";
 * const toRaf = labelMapping(AFFECTNET7_CLASSES, RAF_DB_CLASSES);
 * assert.equal(RAF_DB_CLASSES[toRaf[1]], "Happiness");
 * ```
 */
export const AFFECTNET7_CLASSES: readonly string[] = Object.freeze(AFFECTNET8_CLASSES.slice(0, 7));

/**
 * SFEW, alphabetical folder order.
 *
 * @example SFEW's folder names in their canonical spelling
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalName, SFEW_CLASSES } from "./classes.ts";
 * assert.deepEqual(
 *   SFEW_CLASSES.map((name) => canonicalName(name)),
 *   ["Anger", "Disgust", "Fear", "Happiness", "Neutral", "Sadness", "Surprise"],
 * );
 * ```
 */
export const SFEW_CLASSES: readonly string[] = Object.freeze([
  "Angry",
  "Disgust",
  "Fear",
  "Happy",
  "Neutral",
  "Sad",
  "Surprise",
]);

/**
 * FER2013, the `emotion` column's 0..6.
 *
 * @example Name the `emotion` column's value
 * ```ts
 * import assert from "node:assert/strict";
 * import { FER2013_CLASSES } from "./classes.ts";
 * assert.equal(FER2013_CLASSES[3], "Happy");
 * ```
 */
export const FER2013_CLASSES: readonly string[] = Object.freeze([
  "Angry",
  "Disgust",
  "Fear",
  "Happy",
  "Sad",
  "Surprise",
  "Neutral",
]);

/**
 * The canonical 7-emotion order every dataset can be mapped to.
 *
 * @example Map FER2013 labels to the canonical order
 * ```ts
 * import assert from "node:assert/strict";
 * import { CANONICAL_CLASSES, FER2013_CLASSES, labelMapping } from "./classes.ts";
 * const toCanonical = labelMapping(FER2013_CLASSES, CANONICAL_CLASSES);
 * assert.equal(CANONICAL_CLASSES[toCanonical[0]], "Anger");
 * ```
 */
export const CANONICAL_CLASSES: readonly string[] = AFFECTNET7_CLASSES;

const SYNONYMS: Record<string, string> = {
  neutral: "Neutral",
  happy: "Happiness",
  happiness: "Happiness",
  joy: "Happiness",
  sad: "Sadness",
  sadness: "Sadness",
  surprise: "Surprise",
  surprised: "Surprise",
  fear: "Fear",
  fearful: "Fear",
  afraid: "Fear",
  disgust: "Disgust",
  disgusted: "Disgust",
  anger: "Anger",
  angry: "Anger",
  contempt: "Contempt",
};

/**
 * The canonical spelling of an emotion name (`"Angry"` -> `"Anger"`, `"happy"` -> `"Happiness"`),
 * or `undefined` for a name that is not one of the eight basic emotions.
 *
 * @example Normalise class names
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalName } from "./classes.ts";
 * assert.equal(canonicalName("Angry"), "Anger");
 * assert.equal(canonicalName("cat"), undefined);
 * ```
 */
export function canonicalName(name: string): string | undefined {
  return SYNONYMS[name.trim().toLowerCase()];
}

/**
 * For each class of `from`, its index in `to` (names matched through {@linkcode canonicalName}),
 * or -1 where `to` has no such class.
 *
 * @example Evaluate an SFEW-trained model on RAF-DB labels
 * ```ts
 * import assert from "node:assert/strict";
 * import { labelMapping, RAF_DB_CLASSES, SFEW_CLASSES } from "./classes.ts";
 * const sfewToRaf = labelMapping(SFEW_CLASSES, RAF_DB_CLASSES);
 * // SFEW 0 = Angry is RAF-DB 5 = Anger
 * assert.equal(sfewToRaf[0], 5);
 * ```
 */
export function labelMapping(from: readonly string[], to: readonly string[]): Int32Array {
  const target = to.map((name) => canonicalName(name) ?? name);
  return Int32Array.from(from, (name) => target.indexOf(canonicalName(name) ?? name));
}

/** Options of {@linkcode toCanonical}. */
export interface ToCanonicalOptions {
  /**
   * Drop the items whose class has no canonical counterpart (AffectNet's Contempt) instead of
   * failing.
   * @default false
   */
  dropUnknown?: boolean;
}

/**
 * A view of `dataset` whose labels (and ground-truth distributions) follow
 * {@linkcode CANONICAL_CLASSES}.
 *
 * @example Put RAF-DB in the canonical order
 * ```ts ignore
 * import { rafDb, toCanonical } from "./mod.ts";
 * const test = toCanonical(await rafDb("/data/raf-basic", { split: "test" }));
 * console.log(test.classNames); // Neutral, Happiness, Sadness, Surprise, Fear, Disgust, Anger
 * ```
 */
export function toCanonical(dataset: Dataset, options: ToCanonicalOptions = {}): Dataset {
  const mapping = labelMapping(dataset.classNames, CANONICAL_CLASSES);
  const unknown = dataset.classNames.filter((_, i) => mapping[i] < 0);
  if (unknown.length > 0 && !options.dropUnknown) {
    throw new DatasetError(
      `classes ${unknown.join(", ")} of ${dataset.name} have no canonical counterpart (use dropUnknown)`,
      { file: dataset.root },
    );
  }
  const keep: number[] = [];
  for (let i = 0; i < dataset.size; i++) if (mapping[dataset.labels[i]] >= 0) keep.push(i);
  const items = keep.map((i) => dataset.item(i));
  const distributions = dataset.distributions?.length
    ? keep.map((i) => {
      const source = dataset.distributions![i];
      const out = new Float32Array(CANONICAL_CLASSES.length);
      for (let c = 0; c < source.length; c++) if (mapping[c] >= 0) out[mapping[c]] += source[c];
      return out;
    })
    : undefined;
  return new ListDataset({
    name: dataset.name,
    root: dataset.root,
    split: dataset.split,
    classNames: CANONICAL_CLASSES,
    labels: Int32Array.from(keep, (i) => mapping[dataset.labels[i]]),
    paths: items.some((item) => item.path !== undefined) ? items.map((item) => item.path!) : undefined,
    images: items.some((item) => item.image !== undefined) ? items.map((item) => item.image!) : undefined,
    sources: items.map((item) => item.source),
    distributions,
  });
}
