/**
 * Progress display for training: a live, redrawn status line on a terminal (epoch, batch, each loss
 * term, accuracy, images/s, ETA), plain log lines otherwise, and the end-of-run summary table.
 *
 * @module
 */
import type { BatchMetrics, EpochMetrics, RunSummary, Trainer, TrainerHooks } from "../training/trainer.ts";

/** Options of {@linkcode progressHooks}. */
export interface ProgressOptions {
  /**
   * Redraw one status line (a terminal) or print log lines (a pipe or file).
   * @default {Deno.stdout.isTerminal()}
   */
  live?: boolean;
  /**
   * With plain lines, print a batch line every this many batches (epoch lines always).
   * @default {10}
   */
  logEvery?: number;
  /** Where lines go. @default {console.log} */
  write?: (line: string) => void;
  /**
   * Show per-batch progress (the live line or periodic lines); false prints epoch lines only.
   * @default {true}
   */
  batches?: boolean;
  /** Class names for the per-class line of the summary. */
  classNames?: readonly string[];
}

function fmt(x: number | undefined, digits = 4): string {
  return x === undefined || Number.isNaN(x) ? "-" : x.toFixed(digits);
}

function pct(x: number | undefined): string {
  return x === undefined || Number.isNaN(x) ? "-" : `${(100 * x).toFixed(2)}%`;
}

/**
 * Seconds as `1h02m`, `3m05s` or `12s`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./progress.ts";
 * assert.deepEqual([3725, 185, 12.4].map(formatDuration), ["1h02m", "3m05s", "12s"]);
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

function bar(fraction: number, width = 20): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

/**
 * Hooks that display training progress.
 *
 * @example Epoch lines into an array
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "../backbones/adadf.ts";
 * import { buildPlugins } from "../strategies/registry.ts";
 * import { Trainer } from "../training/trainer.ts";
 * import { progressHooks } from "./progress.ts";
 *
 * const batch = {
 *   images: new Float32Array(4 * 16 * 16 * 3),
 *   shape: [4, 16, 16, 3] as [number, number, number, 3],
 *   labels: Int32Array.from([0, 1, 0, 1]),
 *   indices: Int32Array.from([0, 1, 2, 3]),
 *   crops: 1,
 * };
 * const lines: string[] = [];
 * const trainer = new Trainer({
 *   model: new AdaDfModel("tiny", { numClasses: 2 }),
 *   plugins: buildPlugins(),
 *   train: { length: 1, async *batches() { yield batch; } },
 *   epochs: 2,
 *   hooks: [progressHooks({ live: false, batches: false, write: (line) => lines.push(line) })],
 * });
 * await trainer.fit();
 * // one line per epoch, then the summary table
 * assert.equal(lines.length, 3);
 * assert.match(lines[0], /^epoch 1\/2 done in \d+s: loss /);
 * assert.match(lines[1], /^epoch 2\/2 done in /);
 * assert.match(lines[2], /^\| epoch \| +loss \|/);
 * ```
 */
export function progressHooks(options: ProgressOptions = {}): TrainerHooks {
  const live = options.live ?? Deno.stdout.isTerminal();
  const logEvery = options.logEvery ?? 10;
  const write = options.write ?? ((line: string) => console.log(line));
  const encoder = new TextEncoder();
  let epochsTotal = 0;
  let firstEpoch = 1;
  let epochSeconds: number[] = [];
  const redraw = (line: string) => {
    const columns = (() => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return 120;
      }
    })();
    Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${line.slice(0, columns - 1)}`));
  };
  return {
    onRunStart(trainer: Trainer) {
      epochsTotal = trainer.options.epochs;
      firstEpoch = trainer.epoch + 1;
      epochSeconds = [];
    },
    onBatchEnd(_trainer: Trainer, m: BatchMetrics) {
      if (options.batches === false) return;
      const epochEta = (m.seconds / m.batch) * (m.batches - m.batch);
      const perEpoch = epochSeconds.length
        ? epochSeconds.reduce((a, b) => a + b) / epochSeconds.length
        : (m.seconds / m.batch) * m.batches * 1.3;
      const eta = epochEta + perEpoch * (epochsTotal - m.epoch);
      const line = `epoch ${m.epoch}/${epochsTotal} ${bar(m.batch / m.batches)} ${m.batch}/${m.batches} ` +
        `loss ${fmt(m.meanLoss.total)} ce ${fmt(m.meanLoss.ce)} kl ${fmt(m.meanLoss.kl)} ` +
        `rr ${fmt(m.meanLoss.rr)} acc ${pct(m.accuracy)} ${m.imagesPerSecond.toFixed(1)} img/s ` +
        `ETA ${formatDuration(eta)}`;
      if (live) redraw(line);
      else if (m.batch % logEvery === 0 || m.batch === m.batches) write(line);
    },
    onEpochEnd(_trainer: Trainer, m: EpochMetrics) {
      epochSeconds.push(m.seconds);
      if (live && options.batches !== false) Deno.stdout.writeSync(encoder.encode("\r\x1b[2K"));
      write(
        `epoch ${m.epoch}/${epochsTotal} done in ${formatDuration(m.seconds)}: loss ${fmt(m.loss.total)} ` +
          `(ce ${fmt(m.loss.ce)} kl ${fmt(m.loss.kl)} rr ${fmt(m.loss.rr)}) alpha1 ${fmt(m.alpha1, 3)} ` +
          `alpha2 ${fmt(m.alpha2, 3)} lr ${m.lr.toExponential(2)} train ${pct(m.trainAccuracy)} ` +
          `test ${pct(m.testAccuracy)} (mean class ${pct(m.testMeanClassAccuracy)})`,
      );
    },
    onRunEnd(_trainer: Trainer, summary: RunSummary) {
      if (summary.history.length < firstEpoch) return;
      write(summaryTable(summary, options.classNames));
    },
  };
}

/**
 * The end-of-run table: one row per epoch and the best/last accuracies.
 *
 * @example
 * ```ts ignore
 * console.log(summaryTable(await trainer.fit()));
 * ```
 */
export function summaryTable(summary: RunSummary, classNames?: readonly string[]): string {
  const rows = [
    ["epoch", "loss", "ce", "kl", "rr", "train acc", "test acc", "mean class", "img/s", "time"],
    ...summary.history.map((m) => [
      String(m.epoch),
      fmt(m.loss.total),
      fmt(m.loss.ce),
      fmt(m.loss.kl),
      fmt(m.loss.rr),
      pct(m.trainAccuracy),
      pct(m.testAccuracy),
      pct(m.testMeanClassAccuracy),
      m.imagesPerSecond.toFixed(1),
      formatDuration(m.seconds),
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padStart(widths[c])).join(" | ")} |`;
  const out = [
    line(rows[0]),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
  ];
  out.push(
    `best test accuracy ${pct(summary.bestAccuracy)} (epoch ${summary.bestEpoch}), ` +
      `last ${pct(summary.lastAccuracy)}`,
  );
  const last = summary.history.at(-1);
  if (last?.testPerClassAccuracy) {
    const named = last.testPerClassAccuracy.map((a, j) => `${classNames?.[j] ?? j} ${pct(a)}`);
    out.push(`per-class test accuracy (last epoch): ${named.join(", ")}`);
  }
  return out.join("\n");
}
