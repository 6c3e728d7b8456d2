/**
 * What a training run reports when its input goes wrong: the images `data.skipCorrupt` left out (on the
 * console, in each epoch's `metrics.jsonl` record and in `summary.json`), and a loss that became NaN
 * or infinite, with the config fields that can cause it.
 *
 * @module
 */
import type { DataLoader } from "../datasets/loader.ts";
import type { NonFiniteLossError } from "../training/step.ts";
import type { EpochMetrics, SkippedImages, TrainerHooks } from "../training/trainer.ts";
import type { RunConfig } from "./config.ts";

/** Source names listed on the console per epoch; the files list them all. */
const LISTED = 10;

/** The loaders whose skipped images a run reports: the mining pass reads the training split. */
export interface SkipSources {
  /** Training batches. */
  train: Pick<DataLoader, "skipped">;
  /** The mining pass's batches, over the training split. */
  mining?: Pick<DataLoader, "skipped">;
  /** Test batches. */
  test: Pick<DataLoader, "skipped">;
}

/**
 * Hooks that record, after every epoch, the images the loaders skipped as unreadable (`skipCorrupt`):
 * each epoch's metrics get {@linkcode SkippedImages} (`skipped`; images already recorded in the history,
 * a resumed run's included, are not reported again), a console line lists the new ones, and the run's
 * end tells the total.
 *
 * @example An image the test loader skipped
 * ```ts
 * import assert from "node:assert/strict";
 * import { skippedImagesHooks } from "./_run_checks.ts";
 * const test = { skipped: [{ index: 2, source: "/data/test/3.jpg", message: "cannot decode image" }] };
 * const lines: string[] = [];
 * const hooks = skippedImagesHooks({ train: { skipped: [] }, test }, (line) => lines.push(line));
 * const metrics = { epoch: 1 } as Parameters<NonNullable<typeof hooks.onEpochEnd>>[1];
 * const trainer = { history: [metrics] } as unknown as Parameters<NonNullable<typeof hooks.onEpochEnd>>[0];
 * await hooks.onEpochEnd!(trainer, metrics);
 * assert.deepEqual(metrics.skipped, {
 *   train: 0,
 *   test: 1,
 *   new: [{ split: "test", source: "/data/test/3.jpg", message: "cannot decode image" }],
 * });
 * assert.match(lines[0], /epoch 1: skipped 1 unreadable image \(data\.skipCorrupt\): \/data\/test\/3\.jpg/);
 * ```
 */
export function skippedImagesHooks(sources: SkipSources, log: (line: string) => void): TrainerHooks {
  const key = (split: string, source: string) => `${split}\n${source}`;
  return {
    onEpochEnd(trainer, m) {
      const known = new Set<string>();
      const counts = { train: 0, test: 0 };
      for (const earlier of trainer.history) {
        if (earlier === m) continue;
        for (const item of earlier.skipped?.new ?? []) {
          if (!known.has(key(item.split, item.source))) counts[item.split]++;
          known.add(key(item.split, item.source));
        }
      }
      const fresh: SkippedImages["new"] = [];
      type Split = "train" | "test";
      const trainSkips = [...sources.train.skipped, ...(sources.mining?.skipped ?? [])];
      const candidates = [
        ...trainSkips.map((s) => ({ split: "train" as Split, s })),
        ...sources.test.skipped.map((s) => ({ split: "test" as Split, s })),
      ];
      for (const { split, s } of candidates) {
        if (known.has(key(split, s.source))) continue;
        known.add(key(split, s.source));
        counts[split]++;
        fresh.push({ split, source: s.source, message: s.message });
      }
      m.skipped = { ...counts, new: fresh };
      if (fresh.length > 0) {
        const names = fresh.slice(0, LISTED).map((item) => item.source).join(", ");
        const more = fresh.length > LISTED ? `, and ${fresh.length - LISTED} more (see metrics.jsonl)` : "";
        log(
          `epoch ${m.epoch}: skipped ${fresh.length} unreadable image${fresh.length === 1 ? "" : "s"} ` +
            `(data.skipCorrupt): ${names}${more}`,
        );
      }
    },
    onRunEnd(trainer) {
      const report = skippedSummary(trainer.history);
      if (report === undefined) return;
      log(
        report.count === 0
          ? "data.skipCorrupt: no image was skipped"
          : `data.skipCorrupt: ${report.count} unreadable image${report.count === 1 ? "" : "s"} skipped ` +
            `(${report.train} train, ${report.test} test), listed in summary.json`,
      );
    },
  };
}

/** The images a run skipped, as `summary.json` lists them. */
export interface SkippedSummary {
  /** Distinct images skipped. */
  count: number;
  /** Of them, training images. */
  train: number;
  /** Of them, test images. */
  test: number;
  /** Each image: split, file (or `file:line`), why, and the epoch it was first skipped in. */
  images: { split: "train" | "test"; source: string; message: string; epoch: number }[];
}

/**
 * The skipped images of a run's history (the `skipped` records of its epochs), or undefined when no
 * epoch has one (`data.skipCorrupt` off).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EpochMetrics } from "../training/trainer.ts";
 * import { skippedSummary } from "./_run_checks.ts";
 * const bad = { split: "train" as const, source: "a.jpg", message: "a.jpg: cannot decode image" };
 * const history = [
 *   { epoch: 1, skipped: { train: 1, test: 0, new: [bad] } },
 *   { epoch: 2, skipped: { train: 1, test: 0, new: [] } },
 * ] as unknown as EpochMetrics[];
 * assert.deepEqual(skippedSummary(history), { count: 1, train: 1, test: 0, images: [{ ...bad, epoch: 1 }] });
 * assert.equal(skippedSummary([]), undefined);
 * ```
 */
export function skippedSummary(history: readonly EpochMetrics[]): SkippedSummary | undefined {
  if (!history.some((m) => m.skipped !== undefined)) return undefined;
  const images = history.flatMap((m) => (m.skipped?.new ?? []).map((item) => ({ ...item, epoch: m.epoch })));
  const train = images.filter((item) => item.split === "train").length;
  return { count: images.length, train, test: images.length - train, images };
}

/**
 * A non-finite loss with the config fields that can cause its term: the learning rate and its decay
 * and the batch size always; for `ce` the schedule (alpha_2); for `kl` the distribution, miner,
 * normaliser and schedule; for `rr` the regulariser and the attention; and the weights file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG } from "./config.ts";
 * import { NonFiniteLossError } from "../training/step.ts";
 * import { explainNonFiniteLoss } from "./_run_checks.ts";
 * const error = new NonFiniteLossError({
 *   epoch: 2, batch: 5, batches: 9, terms: { total: NaN, ce: 1, kl: NaN, rr: 0 }, lr: 0.0009, alpha1: 1, alpha2: 1,
 * });
 * const explained = explainNonFiniteLoss(error, DEFAULT_CONFIG);
 * assert.match(explained.message, /^epoch 2, batch 5 of 9: the kl term of the loss is NaN/);
 * assert.match(explained.message, /trainer\.lr=0\.001, trainer\.lrGamma=0\.9, trainer\.batchSize=64/);
 * assert.match(explained.message, /method\.normalizer=\{"type":"adaptive","minWeight":0\.2,"maxWeight":1\}/);
 * assert.equal(explained.cause, error);
 * ```
 */
export function explainNonFiniteLoss(error: NonFiniteLossError, config: RunConfig): Error {
  const t = config.trainer;
  const fields = [`trainer.lr=${t.lr}`, `trainer.lrGamma=${t.lrGamma}`, `trainer.batchSize=${t.batchSize}`];
  const families: Record<NonFiniteLossError["term"], (keyof RunConfig["method"])[]> = {
    ce: ["schedule"],
    kl: ["distribution", "miner", "normalizer", "schedule"],
    rr: ["regularizer", "attention"],
    total: ["distribution", "miner", "normalizer", "regularizer", "schedule"],
  };
  for (const family of families[error.term]) {
    fields.push(`method.${family}=${JSON.stringify(config.method[family])}`);
  }
  if (config.model.weights !== null) fields.push(`model.weights=${JSON.stringify(config.model.weights)}`);
  return new Error(
    `${error.message}. Config values that can cause it: ${fields.join(", ")} ` +
      `(a smaller trainer.lr is the usual remedy)`,
    { cause: error },
  );
}
