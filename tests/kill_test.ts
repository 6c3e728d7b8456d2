/**
 * Kills real training processes (`tests/_kill_child.ts`, which trains as `deno task train` does) at
 * every point where the run folder changes (the `ADA_DF_KILL_AT` hook of `experiments/run.ts`: after
 * each mid-epoch checkpoint, between the `best` and `last` checkpoints, after `last`, after
 * `metrics.jsonl`, at the run's end) and at random times, resumes each, and checks each resumed
 * process's files against an uninterrupted run's: the checkpoints it writes (tensors and state, timings
 * aside), and at the end `metrics.jsonl`, `summary.json`, `best.safetensors` and `last.safetensors`.
 * The kill points are spread over two chains of processes (each resumes the folder the previous one
 * left) that run beside the uninterrupted run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Random } from "../engine/random.ts";
import { ensureSynthetic } from "../datasets/synthetic.ts";
import { resolveConfig } from "../experiments/config.ts";
import { RUN_FILES, trainRun } from "../experiments/run.ts";
import { readSafetensors } from "../formats/safetensors.ts";
import { loadCheckpoint } from "../training/checkpoint.ts";
import { KILL_TEST_EPOCHS, KILL_TEST_STEPS, killTestOverrides } from "./_kill_child.ts";

const CHILD = new URL("./_kill_child.ts", import.meta.url).pathname;
const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys"];
/** Training batches per epoch: 32 training images in batches of 8. */
const BATCHES = 4;

interface Outcome {
  code: number;
  signal: Deno.Signal | null;
  output: string;
}

/** Runs the child; with `killAfterMs`, kills it (SIGKILL) after that long if it still runs. */
async function child(args: string[], env: Record<string, string>, killAfterMs?: number): Promise<Outcome> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, CHILD, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => {
    try {
      process.kill("SIGKILL");
    } catch {
      // it ended already
    }
  }, killAfterMs);
  const { code, signal, stdout, stderr } = await process.output();
  clearTimeout(timer);
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  return { code, signal, output };
}

/** A JSON value without its timings (`seconds`, `imagesPerSecond`, `trainSeconds`). */
function untimed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(untimed);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).filter(([k]) => !["seconds", "imagesPerSecond", "trainSeconds"].includes(k))
        .map(([k, v]) => [k, untimed(v)]),
    );
  }
  return value;
}

/** Asserts two checkpoint files hold the same tensors (bit for bit) and state (timings aside). */
async function assertSameCheckpoint(actual: string, expected: string): Promise<void> {
  const [a, b] = await Promise.all([readSafetensors(actual), readSafetensors(expected)]);
  assert.deepEqual([...a.tensors.keys()].sort(), [...b.tensors.keys()].sort(), actual);
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name)!;
    assert.deepEqual(t.shape, u.shape, `${actual}: ${name}`);
    assert.ok(
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).every((x, i) =>
        x === new Uint8Array(u.data.buffer, u.data.byteOffset, u.data.byteLength)[i]
      ),
      `${actual}: ${name} differs from ${expected}`,
    );
  }
  assert.deepEqual(untimed(JSON.parse(a.metadata.state)), untimed(JSON.parse(b.metadata.state)), actual);
}

async function metricsLines(runDir: string): Promise<unknown[]> {
  const text = await Deno.readTextFile(join(runDir, RUN_FILES.metrics)).catch(() => "");
  return text.split("\n").filter((line) => line.trim()).map((line) => untimed(JSON.parse(line)));
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The folder's files agree: `best` is not behind the best epoch that `metrics.jsonl` or a checkpoint names. */
async function assertConsistent(runDir: string, where: string): Promise<void> {
  const lines = await metricsLines(runDir) as { epoch: number; testAccuracy?: number | null }[];
  let named = 0;
  let best = NaN;
  for (const m of lines) {
    const accuracy = m.testAccuracy ?? undefined;
    if (accuracy !== undefined && !(accuracy <= best)) [best, named] = [accuracy, m.epoch];
  }
  for (const f of [RUN_FILES.last, RUN_FILES.partial]) {
    if (await exists(join(runDir, f))) {
      named = Math.max(named, (await loadCheckpoint(join(runDir, f))).trainer!.bestEpoch);
    }
  }
  if (named === 0) return;
  const bestPath = join(runDir, RUN_FILES.best);
  assert.ok(await exists(bestPath), `${where}: no ${RUN_FILES.best}, the run names epoch ${named}`);
  const epoch = (await loadCheckpoint(bestPath)).trainer!.epoch;
  assert.ok(epoch >= named, `${where}: ${RUN_FILES.best} holds epoch ${epoch}, the run names epoch ${named}`);
}

Deno.test("kill -9 at every point of a run folder's updates, and at random: each resume ends as the uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cache = join(dir, "cache");
    await ensureSynthetic(cache, { count: 40, seed: 0, size: 16, testFraction: 0.2 });
    const snapshots = join(dir, "reference-checkpoints");
    await Deno.mkdir(snapshots);
    const reference = join(dir, "reference");

    // The kill points in the order a run passes them: `epoch-1:best` (between the two checkpoint
    // writes) is always one, the first evaluated epoch being the best so far.
    const planned = [
      "start:config",
      ...Array.from({ length: KILL_TEST_EPOCHS }, (_, e) => [
        ...Array.from(
          { length: BATCHES / KILL_TEST_STEPS },
          (_, k) => `epoch-${e + 1}:batch-${(k + 1) * KILL_TEST_STEPS}`,
        ),
        ...(e === 0 ? [`epoch-1:best`] : []),
        `epoch-${e + 1}:last`,
        `epoch-${e + 1}:metrics`,
      ]).flat(),
      "run-end:last",
      "run-end:summary",
    ];
    const chains = [planned.filter((_, i) => i % 2 === 0), planned.filter((_, i) => i % 2 === 1)];
    const random = new Random(14);

    let resumes = 0;
    let randomResumes = 0;
    let identical = 0;
    const checks: (() => Promise<void>)[] = [];
    const kept = join(dir, "kept");
    await Deno.mkdir(kept);

    const runChain = async (c: number, kills: string[]) => {
      const runDir = join(dir, `chain-${c}`);
      let started = false;
      const log: string[] = [];
      for (const [i, point] of [...kills, "random", "none"].entries()) {
        const mode = started ? "resume" : "train";
        if (started && i === 1) {
          // Stale temporary files of a write cut short: removed by the resume.
          await Deno.writeTextFile(join(runDir, `.${RUN_FILES.last}.0badc0de.tmp`), "half a checkpoint");
        }
        const env: Record<string, string> = point === "random" || point === "none"
          ? {}
          : { ADA_DF_KILL_AT: point };
        const out = await child(
          [mode, runDir, cache],
          env,
          point === "random" ? 1500 + random.int(2500) : undefined,
        );
        started = true;
        log.push(`${mode} until ${point}: ${out.signal ?? out.code}`);
        if (point === "none") {
          assert.equal(out.code, 0, out.output);
        } else if (point !== "random") {
          assert.equal(out.signal, "SIGKILL", `not killed at ${point}:\n${out.output}`);
        }
        if (mode === "resume") resumes++;
        if (mode === "resume" && point === "random") randomResumes++;
        if (i === 1) assert.match(out.output, /removed 1 temporary file/, out.output);
        if (point === "start:config") {
          assert.deepEqual([...Deno.readDirSync(runDir)].map((e) => e.name), [RUN_FILES.config]);
          // Starting it again under the same name says how.
          const config = await resolveConfig({ preset: "synthetic", overrides: killTestOverrides(cache) });
          await assert.rejects(
            trainRun(config, { runDir, progress: false, log: () => {}, report: false }),
            /stopped before its first checkpoint .*start it again with --resume/,
          );
        }
        if (i > 0 && kills[i - 1] === "start:config") {
          assert.match(out.output, /stopped before its first checkpoint; starting it again from epoch 1/);
        }
        await assertConsistent(runDir, `chain ${c} after ${point}`);
        // What the killed process wrote last, kept to compare with the reference's once it has run.
        const m = /^epoch-(\d+):(batch-\d+|best|last|metrics)$/.exec(point);
        const resumed = mode === "resume";
        const keep = async (file: string, check: (copy: string) => Promise<void>) => {
          const copy = join(kept, `${c}-${i}-${file}`);
          await Deno.copyFile(join(runDir, file), copy);
          checks.push(async () => {
            await check(copy);
            if (resumed) identical++;
          });
        };
        if (m && m[2].startsWith("batch")) {
          await keep(
            RUN_FILES.partial,
            (copy) => assertSameCheckpoint(copy, join(snapshots, `epoch-${m[1]}-${m[2]}.safetensors`)),
          );
        } else if (m && (m[2] === "best" || m[2] === "last")) {
          const file = m[2] === "best" ? RUN_FILES.best : RUN_FILES.last;
          await keep(
            file,
            (copy) => assertSameCheckpoint(copy, join(snapshots, `epoch-${m[1]}-${m[2]}.safetensors`)),
          );
        } else if (m && m[2] === "metrics") {
          const lines = await metricsLines(runDir);
          checks.push(async () => {
            assert.deepEqual(lines, (await metricsLines(reference)).slice(0, Number(m[1])), point);
            if (resumed) identical++;
          });
        } else if (point === "run-end:last") {
          await keep(RUN_FILES.last, (copy) => assertSameCheckpoint(copy, join(reference, RUN_FILES.last)));
        } else if (point === "run-end:summary") {
          const written = untimed(JSON.parse(await Deno.readTextFile(join(runDir, RUN_FILES.summary))));
          checks.push(async () => {
            assert.deepEqual(
              written,
              untimed(JSON.parse(await Deno.readTextFile(join(reference, RUN_FILES.summary)))),
            );
            if (resumed) identical++;
          });
        } else if (point === "none") {
          checks.push(async () => {
            assert.deepEqual(await metricsLines(runDir), await metricsLines(reference));
            const summary = async (d: string) =>
              untimed(JSON.parse(await Deno.readTextFile(join(d, RUN_FILES.summary))));
            assert.deepEqual(await summary(runDir), await summary(reference));
            await assertSameCheckpoint(join(runDir, RUN_FILES.best), join(reference, RUN_FILES.best));
            await assertSameCheckpoint(join(runDir, RUN_FILES.last), join(reference, RUN_FILES.last));
            identical++;
          });
          const left = [...Deno.readDirSync(runDir)].map((e) => e.name);
          assert.deepEqual(left.filter((n) => n.endsWith(".tmp") || n === RUN_FILES.partial), [], `${left}`);
        }
      }
      return log;
    };

    const [ref, ...logs] = await Promise.all([
      child(["train", reference, cache, snapshots], {}),
      ...chains.map((kills, c) => runChain(c, kills)),
    ]);
    assert.equal(ref.code, 0, ref.output);
    for (const check of checks) await check();
    // Every resumed process is checked by the file it wrote last (a randomly killed one by the next).
    console.log(
      `kill points tried: ${planned.length + chains.length} (${planned.length} hooks, ${chains.length} ` +
        `random); resumed processes: ${resumes}, of which ${identical} checked identical to the ` +
        `uninterrupted run directly and ${randomResumes} killed at random\n` + logs.flat().join("\n"),
    );
    assert.equal(identical, resumes - randomResumes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
