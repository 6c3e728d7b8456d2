/**
 * `deno task synth`: generates the synthetic FER dataset (RAF-DB layout plus `distributions.csv`).
 *
 * ```sh
 * deno task synth --out data/synthetic --count 5000 --seed 1 [--size 112] [--test-fraction 0.2]
 *                 [--annotators 10] [--nuisance 1] [--concurrency 4] [--force]
 * ```
 *
 * Prints the summary as JSON. Bad arguments exit with code 2, a refused or failed generation with 1.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { generateSynthetic, type SyntheticOptions } from "../datasets/synthetic.ts";
import { runMain } from "./_main.ts";

const USAGE = `Usage: deno task synth --out DIR --count N --seed S [options]

Generates the synthetic FER dataset in RAF-DB's layout (EmoLabel/list_patition_label.txt,
Image/aligned/*_aligned.jpg) plus distributions.csv (ground-truth distributions) and synthetic.json.

Options:
  --out DIR             folder to write (required)
  --count N             number of images, train and test together (required, >= 2)
  --seed S              random seed, integer >= 0 (required)
  --size PX             image side in pixels, 16..1024 (default 112)
  --test-fraction F     fraction of images in the test split, 0 <= F < 1 (default 0.2)
  --annotators K        simulated annotators voting for each label (default 10)
  --nuisance X          nuisance variation, 0 (plain faces) to 1 (default 1)
  --concurrency C       images rendered at the same time (default 4; the output does not change)
  --force               overwrite a folder that holds other files or another dataset
  --quiet               no progress on stderr
  -h, --help            show this help`;

/** A command-line error: printed with the usage, exit code 2. */
class UsageError extends Error {}

function integerArg(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  if (!/^\d+$/.test(value.trim())) {
    throw new UsageError(`--${name} must be a non-negative integer, got "${value}"`);
  }
  return Number(value);
}

/**
 * Parses the command line into generation options and the output folder; throws a usage error
 * (exit code 2) on bad arguments.
 */
function parseSynthArgs(args: string[]): { out: string; options: SyntheticOptions; quiet: boolean } {
  let values;
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        out: { type: "string" },
        count: { type: "string" },
        seed: { type: "string" },
        size: { type: "string" },
        "test-fraction": { type: "string" },
        annotators: { type: "string" },
        concurrency: { type: "string" },
        nuisance: { type: "string" },
        force: { type: "boolean" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) throw new UsageError("");
  if (!values.out) throw new UsageError("--out is required");
  const count = integerArg("count", values.count);
  const seed = integerArg("seed", values.seed);
  const size = integerArg("size", values.size, 112);
  const annotators = integerArg("annotators", values.annotators, 10);
  const concurrency = integerArg("concurrency", values.concurrency, 4);
  let testFraction = 0.2;
  if (values["test-fraction"] !== undefined) {
    testFraction = Number(values["test-fraction"]);
    if (values["test-fraction"].trim() === "" || !(testFraction >= 0 && testFraction < 1)) {
      throw new UsageError(`--test-fraction must be a number in [0, 1), got "${values["test-fraction"]}"`);
    }
  }
  let nuisance = 1;
  if (values.nuisance !== undefined) {
    nuisance = Number(values.nuisance);
    if (values.nuisance.trim() === "" || !(nuisance >= 0 && nuisance <= 1)) {
      throw new UsageError(`--nuisance must be a number in [0, 1], got "${values.nuisance}"`);
    }
  }
  if (count < 2) throw new UsageError(`--count must be at least 2, got ${count}`);
  if (count - Math.round(count * testFraction) < 1) {
    throw new UsageError(`--count ${count} with --test-fraction ${testFraction} leaves no training image`);
  }
  if (seed > 4294967295) throw new UsageError(`--seed must be at most 4294967295, got ${seed}`);
  if (size < 16 || size > 1024) throw new UsageError(`--size must be in [16, 1024], got ${size}`);
  if (annotators < 1 || annotators > 1000) {
    throw new UsageError(`--annotators must be in [1, 1000], got ${annotators}`);
  }
  if (concurrency < 1 || concurrency > 256) {
    throw new UsageError(`--concurrency must be in [1, 256], got ${concurrency}`);
  }
  return {
    out: values.out,
    options: {
      count,
      seed,
      size,
      testFraction,
      annotators,
      nuisance,
      concurrency,
      force: values.force === true,
    },
    quiet: values.quiet === true,
  };
}

/** Where {@linkcode main} writes. */
export interface SynthMainOptions {
  /** Receives the summary (one JSON line) and `--help`. @default {console.log} */
  log?: (line: string) => void;
  /** Receives usage errors and a refused or failed generation. @default {console.error} */
  error?: (line: string) => void;
  /** Receives the progress text (without newlines between updates). @default {stderr on a terminal} */
  progress?: (text: string) => void;
}

/**
 * Parses arguments and generates; returns the exit code (0 done, 1 refused or failed, 2 usage error).
 *
 * @example
 * ```ts ignore
 * import { main } from "./synth.ts";
 * Deno.exit(await main(["--out", "data/synthetic", "--count", "100", "--seed", "1"]));
 * ```
 */
export async function main(args: string[], output: SynthMainOptions = {}): Promise<number> {
  const log = output.log ?? console.log;
  const error = output.error ?? console.error;
  let parsed;
  try {
    parsed = parseSynthArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message === "") {
      log(USAGE);
      return 0;
    }
    error(`synth: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  const { out, options, quiet } = parsed;
  const encoder = new TextEncoder();
  const write = output.progress ??
    (Deno.stderr.isTerminal() ? (text: string) => Deno.stderr.writeSync(encoder.encode(text)) : undefined);
  let last = 0;
  try {
    const summary = await generateSynthetic(out, {
      ...options,
      onProgress: !quiet && write
        ? (done, total) => {
          const now = performance.now();
          if (done === total || now - last > 250) {
            last = now;
            write(`\rsynth: ${done}/${total} images${done === total ? "\n" : ""}`);
          }
        }
        : undefined,
    });
    log(JSON.stringify({
      out: summary.dir,
      train: summary.train,
      test: summary.test,
      size: summary.size,
      seconds: Number(summary.seconds.toFixed(2)),
      imagesPerSecond: Number(summary.imagesPerSecond.toFixed(1)),
      labelAgreement: Number(summary.labelAgreement.toFixed(4)),
      labelCounts: summary.labelCounts,
    }));
    return 0;
  } catch (e) {
    error(`synth: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) await runMain(main);
