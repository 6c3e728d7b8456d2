/**
 * `deno task ablate FILE --slurm --submit` against a real Slurm: a tiny two-variant ablation as a job
 * array plus its collect job, waited for, then its tables checked. Uses the cluster `sinfo` answers for;
 * where none does, starts the one-node cluster of `.ci/slurm.sh` (as root, with Debian's `slurm-wlm` and
 * `munge`), and otherwise skips with the reason.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ABLATION_FILES } from "../experiments/ablation.ts";
import { SLURM_FILES, submitSlurm } from "../experiments/slurm.ts";

const ROOT = new URL("../", import.meta.url).pathname;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (or `timeoutMs`); null where it is not installed. */
async function run(command: string, args: string[], timeoutMs = 20_000): Promise<Ran | null> {
  try {
    const out = await new Deno.Command(command, {
      args,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Whether `sinfo` shows a node that can take jobs. */
async function nodeUp(): Promise<boolean> {
  const sinfo = await run("sinfo", ["--noheader", "--format=%T"], 10_000);
  return sinfo !== null && sinfo.code === 0 && /^(idle|mixed|allocated|completing)/m.test(sinfo.stdout);
}

/** Why the test cannot run, or null when a cluster answers (started here if need be). */
async function slurmMissing(): Promise<string | null> {
  if (Deno.build.os !== "linux") return "Slurm runs on Linux";
  if (await nodeUp()) return null;
  if (Deno.uid() !== 0) return "no Slurm node answers sinfo, and starting one (.ci/slurm.sh) needs root";
  const started = await run("bash", [join(ROOT, ".ci/slurm.sh"), "start"], 90_000);
  if (started === null) return "bash not found";
  if (started.code !== 0) {
    return `.ci/slurm.sh start failed: ${started.stderr.trim().split("\n").slice(-3).join(" / ")}`;
  }
  return await nodeUp() ? null : "the cluster .ci/slurm.sh started shows no idle node";
}

const missing = await slurmMissing();
if (missing) console.log(`slurm_test.ts: skipping the Slurm test: ${missing}`);

/** `scontrol show job -o ID` as one record per job (array task), or [] once Slurm forgot the job. */
async function jobRecords(id: string): Promise<Record<string, string>[]> {
  const shown = await run("scontrol", ["show", "job", "--oneliner", id]);
  if (!shown || shown.code !== 0) return [];
  return shown.stdout.trim().split("\n").filter((line) => line.trim()).map((line) =>
    Object.fromEntries(
      line.trim().split(/\s+/).map((pair) => {
        const at = pair.indexOf("=");
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
    )
  );
}

/** The last lines of every log in `dir`, for failure messages. */
async function logs(dir: string): Promise<string> {
  const parts: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const text = await Deno.readTextFile(join(dir, entry.name));
      parts.push(`--- ${entry.name}\n${text.split("\n").slice(-15).join("\n")}`);
    }
  } catch (error) {
    parts.push(`(${dir}: ${(error as Error).message})`);
  }
  return parts.join("\n");
}

Deno.test({
  name: "deno task ablate --slurm --submit: a job array of two runs and its collect job on a real Slurm",
  ignore: missing !== null,
  fn: async () => {
    // The cluster's nodes must see the folder: under the project rather than /tmp.
    await Deno.mkdir(join(ROOT, ".cache"), { recursive: true });
    const dir = await Deno.makeTempDir({ dir: join(ROOT, ".cache"), prefix: "slurm-test-" });
    const output = join(dir, "out");
    const jobs: string[] = [];
    try {
      const file = join(dir, "ablation.yaml");
      await Deno.writeTextFile(
        file,
        [
          "name: slurm test",
          "base: synthetic",
          "set:",
          "  backend: wasm",
          "  model.backbone: tiny",
          "  data.size: 16",
          `  data.synthetic: { count: 24, seed: 0, size: 16, testFraction: 0.25, cacheDir: ${
            JSON.stringify(join(dir, "cache"))
          } }`,
          "  trainer.batchSize: 8",
          "  trainer.epochs: 1",
          "seeds: [0]",
          `output: ${JSON.stringify(output)}`,
          "variants:",
          "  - { name: baseline, set: { method.distribution: onehot } }",
          "  - { name: Ada-DF, set: { method.distribution: fused } }",
          "",
        ].join("\n"),
      );
      // The task exactly as a user runs it (deno.json's permissions), an sbatch option after `--`.
      const submitted = await run(Deno.execPath(), [
        "task",
        "--config",
        join(ROOT, "deno.json"),
        "ablate",
        file,
        "--slurm",
        "--submit",
        "--json",
        "--cpus-per-task",
        "1",
        "--time",
        "00:05:00",
        "--",
        "--comment=ada-df-slurm-test",
      ], 60_000);
      assert.ok(submitted, "deno runs");
      assert.equal(submitted.code, 0, submitted.stderr);
      const result = JSON.parse(submitted.stdout);
      assert.match(result.jobs.runs, /^\d+$/);
      assert.match(result.jobs.collect, /^\d+$/);
      jobs.push(result.jobs.runs, result.jobs.collect);
      const script = await Deno.readTextFile(join(output, SLURM_FILES.dir, SLURM_FILES.runs));
      assert.match(script, /^#SBATCH --array=1-2$/m);
      assert.match(script, /^#SBATCH --comment=ada-df-slurm-test$/m);
      const collectScript = await Deno.readTextFile(join(output, SLURM_FILES.dir, SLURM_FILES.collect));
      console.log(`${SLURM_FILES.runs}:\n${script}\n${SLURM_FILES.collect}:\n${collectScript}`);

      // Both jobs are in the queue now; wait until neither is (the whole test stays under a minute).
      const ids = jobs.join(",");
      const queued = await run("squeue", ["--jobs", ids, "--format=%.12i %.9P %.22j %.8T %.10M %R"]);
      console.log(`squeue right after submitting:\n${queued?.stdout.trimEnd()}`);
      const deadline = Date.now() + 55_000;
      let seenRunning = /RUNNING/.test(queued?.stdout ?? "") ? "seen" : "";
      while (true) {
        const now = await run("squeue", ["--noheader", "--jobs", ids, "--format=%i %T"]);
        const lines = now && now.code === 0 ? now.stdout.trim() : "";
        if (lines === "") break;
        if (!seenRunning && /RUNNING/.test(lines)) {
          seenRunning = (await run("squeue", ["--jobs", ids, "--format=%.12i %.9P %.22j %.8T %.10M %R"]))
            ?.stdout.trimEnd() ?? "";
          console.log(`squeue while the array runs:\n${seenRunning}`);
        }
        if (Date.now() > deadline) {
          assert.fail(
            `the jobs did not end within 55 s:\n${lines}\n${await logs(join(output, "slurm", "logs"))}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }

      // Every array task and the collect job completed, the collect job after the array.
      const tasks = await jobRecords(result.jobs.runs);
      const [collect] = await jobRecords(result.jobs.collect);
      const logText = await logs(result.logs);
      assert.deepEqual(tasks.map((t) => t.ArrayTaskId).sort(), ["1", "2"], logText);
      for (const record of [...tasks, collect]) {
        assert.equal(record.JobState, "COMPLETED", `job ${record.JobId}: ${record.JobState}\n${logText}`);
        assert.equal(record.ExitCode, "0:0");
        assert.equal(record.Comment, "ada-df-slurm-test", "the option after -- reached Slurm");
      }
      assert.equal(collect.Dependency, "(null)"); // afterany:<array>, satisfied and cleared
      const arrayEnd = Math.max(...tasks.map((t) => Date.parse(t.EndTime)));
      assert.ok(Date.parse(collect.StartTime) >= arrayEnd, "the collect job started after the array ended");
      const sacct = await run("sacct", [
        "--completion",
        `--jobs=${[...tasks.map((t) => t.JobId), collect.JobId].join(",")}`,
        "--format=JobID,JobName%26,Partition,State,ExitCode,Start,End,Elapsed",
      ]);
      // sacct without an accounting database (--completion) names array tasks by their own job ids.
      if (sacct && sacct.code === 0 && sacct.stdout.includes("COMPLETED")) {
        console.log(`sacct --completion:\n${sacct.stdout.trimEnd()}`);
      }
      const fields = [
        "JobId",
        "ArrayJobId",
        "ArrayTaskId",
        "JobName",
        "JobState",
        "ExitCode",
        "RunTime",
        "Dependency",
      ];
      console.log(
        `scontrol show job:\n${
          [...tasks, collect].map((r) => fields.filter((f) => f in r).map((f) => `${f}=${r[f]}`).join(" "))
            .join("\n")
        }`,
      );

      // The collect job's tables: both variants, one run each, none missing.
      const markdown = await Deno.readTextFile(join(output, ABLATION_FILES.markdown));
      assert.match(markdown, /^\| baseline \| method\.distribution="onehot" \| 1 \| /m, markdown);
      assert.match(markdown, /^\| Ada-DF \| method\.distribution="fused" \| 1 \| /m, markdown);
      assert.doesNotMatch(markdown, /Missing runs/);
      const csv = (await Deno.readTextFile(join(output, ABLATION_FILES.csv))).trim().split("\n");
      assert.deepEqual(csv.slice(1).map((row) => row.split(",").slice(0, 2)), [["baseline", "1"], [
        "Ada-DF",
        "1",
      ]]);
      for (const row of csv.slice(1)) {
        for (const cell of row.split(",").slice(2)) {
          const x = Number(cell);
          assert.ok(x >= 0 && x <= 1, row);
        }
      }
      const collectLog = await Deno.readTextFile(join(result.logs, `collect-${result.jobs.collect}.out`));
      assert.match(collectLog, /results: .*results\.md/);
      for (const task of ["1", "2"]) {
        const taskLog = await Deno.readTextFile(join(result.logs, `run-${task}-${result.jobs.runs}.out`));
        assert.match(taskLog, new RegExp(`run ${task} of 2 \\(.*\\): trained;`));
      }
    } finally {
      if (jobs.length > 0) await run("scancel", jobs);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("submitSlurm(): the array's id from sbatch --parsable, the collect job after it, failures named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A stand-in for sbatch: logs its arguments; the collect job fails when FAIL_COLLECT is in the folder.
    const fake = join(dir, "sbatch");
    await Deno.writeTextFile(
      fake,
      [
        "#!/bin/bash",
        `echo "$*" >> ${JSON.stringify(join(dir, "calls"))}`,
        'case "$*" in',
        `  *collect*) if [ -e ${JSON.stringify(join(dir, "FAIL_COLLECT"))} ]; then`,
        '      echo "sbatch: error: Batch job submission failed: Invalid qos specification" >&2; exit 1; fi',
        '    echo "42;cluster" ;;',
        '  *) echo "41;cluster" ;;',
        "esac",
        "",
      ].join("\n"),
    );
    await Deno.chmod(fake, 0o755);
    const files = { runs: join(dir, "runs.sbatch"), collect: join(dir, "collect.sbatch") };
    assert.deepEqual(await submitSlurm(files, fake), { runs: "41", collect: "42" });
    assert.deepEqual((await Deno.readTextFile(join(dir, "calls"))).trim().split("\n"), [
      `--parsable ${files.runs}`,
      `--parsable --dependency=afterany:41 ${files.collect}`,
    ]);
    await Deno.writeTextFile(join(dir, "FAIL_COLLECT"), "");
    await assert.rejects(
      () => submitSlurm(files, fake),
      /submitted the runs as job array 41, but not the collect job: .*Invalid qos specification.*sbatch --dependency=afterany:41 /,
    );
    await assert.rejects(
      () => submitSlurm(files, join(dir, "no-sbatch")),
      /not found: submitting needs Slurm's sbatch/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
