import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { tf } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { exportInferenceModel } from "../experiments/export.ts";
import { loadExportedModel, predict } from "../experiments/inference.ts";
import { CHROMIUM_FLAGS, findChromium, removeWithRetries, startServer, withDeadline } from "./_web.ts";

const CLASSES = ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral"];

const CHROMIUM = findChromium();
if (!CHROMIUM) {
  console.log(
    "web_test.ts: skipping the browser test: Chromium not found ($CHROMIUM_BIN, /usr/bin/chromium, or " +
      "chromium on PATH); " +
      "install Debian's chromium package to run it.",
  );
}

/** Moves the BatchNorm statistics and the head away from their initial values. */
function perturb(model: AdaDfModel, seed: number): void {
  const rng = new Random(seed);
  for (const [name, v] of [...model.buffers, ...model.params]) {
    let f: (() => number) | null = null;
    if (name.endsWith("running_mean")) f = () => rng.normal(0, 0.3);
    else if (name.endsWith("running_var")) f = () => rng.uniform(0.4, 2.5);
    else if (name === "target.fc.weight") f = () => rng.normal(0, 0.15);
    else if (name === "target.attention.bias") f = () => 0.7;
    if (!f) continue;
    const t = tf.tensor(Float32Array.from({ length: v.size }, f), v.shape);
    v.assign(t);
    t.dispose();
  }
}

async function writePng(path: string, width: number, height: number, seed: number): Promise<void> {
  const rng = new Random(seed);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 128 + 90 * Math.sin(x * 0.35 + y * 0.25 * (c + 1) + c) + rng.normal(0, 15);
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  await Deno.writeFile(path, await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer());
}

/** Loads `url` in headless Chromium and returns the page's DOM once its scripts have settled. */
async function dumpDom(chromium: string, url: string, profile: string): Promise<string> {
  const child = new Deno.Command(chromium, {
    args: [
      ...CHROMIUM_FLAGS,
      "--disable-quic",
      `--user-data-dir=${profile}`,
      "--virtual-time-budget=20000",
      "--dump-dom",
      url,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = await withDeadline(child.output(), "Chromium", () => child.kill("SIGKILL"));
  return new TextDecoder().decode(output.stdout);
}

/** The JSON the page wrote into #result. */
function pageResult(
  dom: string,
): { probabilities: Record<string, number>; prediction: string; backend: string } {
  const title = dom.match(/<title>([^<]*)<\/title>/)?.[1] ?? "(no title)";
  const status = dom.match(/<div id="status"[^>]*>([^<]*)<\/div>/)?.[1] ?? "(no status)";
  const text = dom.match(/<pre id="result">([^<]*)<\/pre>/)?.[1];
  if (title !== "done" || !text) {
    throw new Error(`the page did not finish: title "${title}", status "${status}"`);
  }
  const unescaped = text.replaceAll("&quot;", '"').replaceAll("&lt;", "<").replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
  return JSON.parse(unescaped);
}

Deno.test({
  name: "examples/web in headless Chromium gives predict()'s probabilities",
  ignore: !CHROMIUM,
  sanitizeResources: true,
  sanitizeOps: true,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ada-df-web-" });
    const profile = join(dir, "profile");
    const model = new AdaDfModel("tiny", { numClasses: 7, seed: 21 });
    let server: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      perturb(model, 3);
      const out = join(dir, "model");
      await exportInferenceModel(model, { outDir: out, size: 32, classNames: CLASSES });
      // An image at the model's input size, so no resize happens (the browser's canvas resize and
      // sharp's differ slightly), and a larger one that the page resizes.
      await writePng(join(out, "exact.png"), 32, 32, 1);
      await writePng(join(out, "large.png"), 75, 60, 2);
      const loaded = await loadExportedModel(out);
      const [exact, large] = await predict(loaded, [join(out, "exact.png"), join(out, "large.png")]);
      loaded.dispose();

      server = await startServer(out);
      const page = (image: string) =>
        `${server!.url}index.html?model=model/&image=model/${image}&backend=cpu`;
      const browser = pageResult(await dumpDom(CHROMIUM!, page("exact.png"), profile));
      assert.equal(browser.backend, "cpu");
      assert.deepEqual(Object.keys(browser.probabilities), CLASSES);
      let diff = 0;
      for (const name of CLASSES) {
        diff = Math.max(diff, Math.abs(browser.probabilities[name] - exact.probabilities[name]));
      }
      console.log(`max |browser - predict()| on a 32x32 image: ${diff.toExponential(2)}`);
      assert.ok(diff < 1e-3, `max |browser - predict()| = ${diff}`);
      assert.equal(browser.prediction, exact.prediction);
      assert.ok(Math.max(...Object.values(exact.probabilities)) > 0.25, "a non-uniform distribution");

      // The resized image: the canvas resize is close to, not equal to, sharp's; report the gap.
      const resized = pageResult(await dumpDom(CHROMIUM!, page("large.png"), profile));
      const sum = Object.values(resized.probabilities).reduce((a, b) => a + b);
      assert.ok(Math.abs(sum - 1) < 1e-4);
      let gap = 0;
      for (const name of CLASSES) {
        gap = Math.max(gap, Math.abs(resized.probabilities[name] - large.probabilities[name]));
      }
      console.log(`max |browser - predict()| on a 75x60 image resized to 32x32: ${gap.toExponential(2)}`);
      assert.ok(gap < 0.05, `the resized image's distributions differ by ${gap}`);
    } finally {
      model.dispose();
      await server?.stop();
      await removeWithRetries(dir);
    }
  },
});
