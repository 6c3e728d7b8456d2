/**
 * Test helper of `kill_test.ts`: one training process on a tiny synthetic configuration, run as
 * `deno task train` runs it (`trainRun`, or `resumeRun` for `--resume`), without the HTML report.
 * `ADA_DF_KILL_AT` (see `experiments/run.ts`) kills it at a point of the run folder's updates; with a
 * snapshot folder it copies each checkpoint right after it is written (the uninterrupted reference run).
 *
 * ```sh
 * deno run -A tests/_kill_child.ts train|resume RUN_DIR CACHE_DIR [SNAPSHOT_DIR]
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { resolveConfig } from "../experiments/config.ts";
import { resumeRun, RUN_FILES, trainRun } from "../experiments/run.ts";
import type { TrainerHooks } from "../training/trainer.ts";
import { tinySyntheticOverrides } from "./_tiny.ts";

/** Mid-epoch checkpoints every this many steps. */
export const KILL_TEST_STEPS = 2;
/** Epochs of the run. */
export const KILL_TEST_EPOCHS = 2;

/** The tiny run: 40 images of 16 px (32 training: 4 batches of 8 per epoch), the tiny backbone. */
export function killTestOverrides(cacheDir: string): string[] {
  return [
    ...tinySyntheticOverrides(cacheDir, 40),
    "data.prefetch=1",
    `trainer.epochs=${KILL_TEST_EPOCHS}`,
    "trainer.lr=0.01",
    `output.checkpointSteps=${KILL_TEST_STEPS}`,
  ];
}

/** Hooks that copy every checkpoint as it is written into `dir` (`epoch-E-batch-B`, `epoch-E-last`, ...). */
function snapshotHooks(runDir: string, dir: string): TrainerHooks {
  const copy = (file: string, name: string) =>
    Deno.copyFile(join(runDir, file), join(dir, `${name}.safetensors`));
  return {
    async onBatchEnd(trainer, b) {
      if (trainer.optimizer.step % KILL_TEST_STEPS === 0) {
        await copy(RUN_FILES.partial, `epoch-${b.epoch}-batch-${b.batch}`);
      }
    },
    async onEpochEnd(trainer, m) {
      if (trainer.bestEpoch === m.epoch) await copy(RUN_FILES.best, `epoch-${m.epoch}-best`);
      await copy(RUN_FILES.last, `epoch-${m.epoch}-last`);
    },
  };
}

if (import.meta.main) {
  const [mode, runDir, cacheDir, snapshots] = Deno.args;
  const options = {
    progress: "epochs" as const,
    report: false,
    hooks: snapshots ? [snapshotHooks(runDir, snapshots)] : [],
  };
  if (mode === "resume") await resumeRun(runDir, options);
  else {
    const config = await resolveConfig({ preset: "synthetic", overrides: killTestOverrides(cacheDir) });
    await trainRun(config, { ...options, runDir });
  }
}
