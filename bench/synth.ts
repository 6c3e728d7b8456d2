/**
 * Speed of the synthetic dataset generator: renders and writes `--count` faces of `--size` pixels into
 * a temporary folder and prints one JSON line:
 * `{"generator":"synthetic","count","size","seconds","imagesPerSecond"}`.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys bench/synth.ts \
 *   [--count 500] [--size 112] [--concurrency 4]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { generateSynthetic } from "../datasets/synthetic.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "500" },
    size: { type: "string", default: "112" },
    seed: { type: "string", default: "0" },
    concurrency: { type: "string", default: "4" },
  },
});
const count = Number(values.count);
const size = Number(values.size);
const seed = Number(values.seed);
const concurrency = Number(values.concurrency);
for (const [name, v] of Object.entries({ count, size, seed, concurrency })) {
  if (!Number.isInteger(v) || v < 0) {
    console.error(`bench/synth.ts: --${name} must be a non-negative integer`);
    Deno.exit(2);
  }
}

const dir = await Deno.makeTempDir({ prefix: "ada-df-synth-bench-" });
try {
  const summary = await generateSynthetic(dir, { count, size, seed, concurrency });
  console.log(JSON.stringify({
    generator: "synthetic",
    count,
    size,
    concurrency,
    seconds: Number(summary.seconds.toFixed(3)),
    imagesPerSecond: Number(summary.imagesPerSecond.toFixed(1)),
  }));
} finally {
  await Deno.remove(dir, { recursive: true });
}
