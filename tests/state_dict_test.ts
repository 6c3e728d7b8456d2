import assert from "node:assert/strict";
import { PYTHON, pythonSkipReason } from "./_python.ts";
import { join } from "node:path";
import { tf } from "../engine/tf.ts";
import { encodeSafetensors, type NamedTensor } from "../formats/safetensors.ts";
import { readStateDict } from "../formats/pytorch.ts";
import { AdaDfModel } from "../backbones/adadf.ts";
import { createResNet } from "../backbones/resnet.ts";
import { initFromPretrained, loadModelStateDict, modelStateDict } from "../training/checkpoint.ts";
import {
  formatLoadReport,
  loadIntoParameters,
  type ParameterTarget,
  permuteTensor,
  tfToTorchLayout,
  torchToTfLayout,
} from "../backbones/state_dict.ts";

/** A toy model: parameter shapes, and the values each `assign` stored. */
function model(shapes: Record<string, number[]>) {
  const values = new Map<string, number[]>();
  const params = new Map<string, ParameterTarget>(
    Object.entries(shapes).map((
      [name, shape],
    ) => [name, { shape, assign: (data) => values.set(name, [...data]) }]),
  );
  return { params, values };
}

const f32 = (shape: number[], values: number[]): NamedTensor => ({
  dtype: "float32",
  shape,
  data: new Float32Array(values),
});

Deno.test("loadIntoParameters() assigns matching names and reports missing, unexpected, mismatched and skipped ones", () => {
  const { params, values } = model({
    "conv.weight": [2, 1],
    "fc.weight": [3, 2],
    "fc.bias": [3],
    "bn.running_mean": [2],
  });
  const weights = new Map<string, NamedTensor>([
    ["conv.weight", f32([2, 1], [1, 2])],
    ["fc.weight", f32([1000, 2], new Array(2000).fill(0))],
    ["bn.running_mean", { dtype: "float16", shape: [2], data: new Uint16Array([0x3c00, 0xc000]) }],
    ["bn.num_batches_tracked", { dtype: "int32", shape: [], data: new Int32Array([5]) }],
  ]);
  const report = loadIntoParameters(params, weights);
  assert.deepEqual(report.loaded, ["conv.weight", "bn.running_mean"]);
  assert.deepEqual(report.missing, ["fc.bias"]);
  // PyTorch's BatchNorm step counter has no parameter here: skipped, not unexpected.
  assert.deepEqual(report.unexpected, []);
  assert.deepEqual(report.skipped, ["bn.num_batches_tracked"]);
  assert.deepEqual(report.mismatched, [{
    name: "fc.weight",
    source: "fc.weight",
    expected: [3, 2],
    got: [1000, 2],
  }]);
  assert.equal(report.fileTensors, 4);
  assert.deepEqual(values.get("conv.weight"), [1, 2]);
  assert.deepEqual(values.get("bn.running_mean"), [1, -2]); // float16 bits converted to float32
  assert.equal(values.has("fc.weight"), false); // a mismatched parameter is left unchanged
});

Deno.test("loadIntoParameters() with strict throws before assigning anything", () => {
  const { params, values } = model({ "a.weight": [2], "b.weight": [1] });
  assert.throws(
    () =>
      loadIntoParameters(params, { "a.weight": f32([2], [1, 2]), "c.weight": f32([1], [3]) }, {
        strict: true,
      }),
    (e: Error) =>
      e.message.includes("nothing was loaded") && e.message.includes("  b.weight") &&
      e.message.includes("  c.weight"),
  );
  assert.equal(values.size, 0);
  const report = loadIntoParameters(params, { "a.weight": f32([2], [1, 2]), "b.weight": f32([1], [3]) }, {
    strict: true,
  });
  assert.deepEqual(report.loaded, ["a.weight", "b.weight"]);
  assert.deepEqual(values.get("b.weight"), [3]);
});

Deno.test("loadIntoParameters() maps names: one tensor into several parameters, null to skip", () => {
  const { params, values } = model({ "target.layer2.w": [1], "aux.layer2.w": [1], "stem.w": [1] });
  const weights = { "layer2.w": f32([1], [7]), "conv1.w": f32([1], [8]), "fc.w": f32([1], [9]) };
  const report = loadIntoParameters(params, weights, {
    map: (name) =>
      name.startsWith("layer2.")
        ? [`target.${name}`, `aux.${name}`]
        : name === "fc.w"
        ? null
        : `stem.${name.slice(6)}`,
  });
  assert.deepEqual(report.loaded, ["target.layer2.w", "aux.layer2.w", "stem.w"]);
  assert.deepEqual(report.skipped, ["fc.w"]);
  assert.deepEqual([...values.values()], [[7], [7], [8]]);
  const byRecord = loadIntoParameters(params, weights, { map: { "conv1.w": "stem.w", "fc.w": null } });
  assert.deepEqual(byRecord.unexpected, ["layer2.w"]);
  assert.throws(
    () => loadIntoParameters(params, weights, { map: () => "stem.w" }),
    /both 'layer2\.w' and 'conv1\.w' map to the parameter 'stem\.w'/,
  );
});

Deno.test("formatLoadReport() prints counts, then names grouped by module", () => {
  const text = formatLoadReport({
    loaded: ["conv1.weight", "bn1.weight"],
    missing: ["fc.weight", "fc.bias", "attention.weight"],
    unexpected: [
      "bn1.num_batches_tracked",
      "layer1.0.bn1.num_batches_tracked",
      "layer1.0.bn2.num_batches_tracked",
    ],
    mismatched: [{ name: "head.weight", source: "fc.weight", expected: [7, 512], got: [1000, 512] }],
    skipped: [],
    fileTensors: 6,
  });
  assert.equal(
    text,
    [
      "Loaded 2 of 6 model parameters from 6 file tensors (3 missing, 3 unexpected, 1 shape mismatch).",
      "Missing: model parameters the file does not have (3):",
      "  fc.{weight, bias} (2)",
      "  attention.weight",
      "Unexpected: file tensors the model does not have (3):",
      "  {bn1, layer1.0.bn1, layer1.0.bn2}.num_batches_tracked (3)",
      "Shape mismatches, left unchanged (1):",
      "  head.weight: model [7, 512], file [1000, 512] (from 'fc.weight')",
    ].join("\n"),
  );
});

Deno.test("torchToTfLayout() moves [out, in, kh, kw] to [kh, kw, in, out] and tfToTorchLayout() undoes it", () => {
  const [O, I, H, W] = [3, 2, 2, 4];
  const conv = f32([O, I, H, W], Array.from({ length: O * I * H * W }, (_, i) => i));
  const tf = torchToTfLayout(conv);
  assert.deepEqual(tf.shape, [H, W, I, O]);
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < I; i++) {
      for (let h = 0; h < H; h++) {
        for (let w = 0; w < W; w++) {
          assert.equal(tf.data[((h * W + w) * I + i) * O + o], conv.data[((o * I + i) * H + h) * W + w]);
        }
      }
    }
  }
  assert.deepEqual(tfToTorchLayout(tf), conv);
  const linear = torchToTfLayout(f32([2, 3], [1, 2, 3, 4, 5, 6]));
  assert.deepEqual([linear.shape, [...linear.data]], [[3, 2], [1, 4, 2, 5, 3, 6]]);
  const bias = f32([3], [1, 2, 3]);
  assert.equal(torchToTfLayout(bias), bias);
  const ints = permuteTensor(
    { dtype: "int64", shape: [2, 1, 2], data: new BigInt64Array([1n, 2n, 3n, 4n]) },
    [2, 1, 0],
  );
  assert.deepEqual([ints.shape, [...ints.data]], [[2, 1, 2], [1n, 3n, 2n, 4n]]);
  assert.throws(() => permuteTensor(bias, [1]), /not a permutation/);
});

Deno.test("loadIntoParameters() compares shapes after the transform", () => {
  const { params, values } = model({ "conv1.weight": [1, 1, 2, 2], "fc.weight": [2, 3] });
  const report = loadIntoParameters(params, {
    "conv1.weight": f32([2, 2, 1, 1], [1, 2, 3, 4]),
    "fc.weight": f32([3, 2], [1, 2, 3, 4, 5, 6]),
  }, { transform: torchToTfLayout, strict: true });
  assert.deepEqual(report.loaded, ["conv1.weight", "fc.weight"]);
  assert.deepEqual(values.get("conv1.weight"), [1, 3, 2, 4]);
  assert.deepEqual(values.get("fc.weight"), [1, 3, 5, 2, 4, 6]);
});

Deno.test("loadIntoParameters() strict: optional parameters may stay missing, the error names the source", () => {
  const { params, values } = model({ "stem.w": [2], "head.w": [1], "head.b": [1] });
  const report = loadIntoParameters(params, { "stem.w": f32([2], [1, 2]) }, {
    strict: true,
    optional: (name) => name.startsWith("head."),
    source: "weights.pth",
  });
  assert.deepEqual([report.loaded, report.missing], [["stem.w"], ["head.w", "head.b"]]);
  assert.deepEqual(values.get("stem.w"), [1, 2]);
  values.clear();
  assert.throws(
    () =>
      loadIntoParameters(params, { "stem.w": f32([3], [1, 2, 3]), "other.w": f32([1], [0]) }, {
        strict: true,
        optional: (name) => name.startsWith("head."),
        source: "weights.pth",
      }),
    (e: Error) =>
      e.message.startsWith("weights.pth: the weights do not match the model; nothing was loaded") &&
      e.message.includes("stem.w: model [2], file [3]") && e.message.includes("  other.w"),
  );
  assert.equal(values.size, 0);
});

Deno.test("formatLoadReport() caps each section, saying how much it left out", () => {
  const missing = Array.from({ length: 300 }, (_, i) => `block${i}.conv.weight`);
  const mismatched = Array.from({ length: 50 }, (_, i) => ({
    name: `m${i}.weight`,
    source: `m${i}.weight`,
    expected: [i + 1],
    got: [i + 2],
  }));
  const text = formatLoadReport({
    loaded: [],
    missing,
    unexpected: [],
    mismatched,
    skipped: [],
    fileTensors: 50,
  });
  const lines = text.split("\n");
  assert.ok(lines.length < 50, `${lines.length} lines`);
  assert.ok(lines.every((line) => line.length <= 110), "no line is longer than 110 characters");
  assert.match(text, /Missing: model parameters the file does not have \(300\):/);
  assert.match(text, / {2}\.\.\. \d+ more lines\n/);
  assert.match(text, /Shape mismatches, left unchanged \(50\):\n {2}m0\.weight: model \[1\], file \[2\]/);
  assert.match(text, / {2}\.\.\. 30 more$/);
});

// ---------------------------------------------------------------------------------------------------
// Real PyTorch state_dicts, written by Debian's PyTorch (tests/fixtures/make_torch_state_dicts.py)
// ---------------------------------------------------------------------------------------------------

const SCRIPT = new URL("./fixtures/make_torch_state_dicts.py", import.meta.url).pathname;

const SKIPPED = pythonSkipReason("torch", "torchvision");

interface TorchExpected {
  resnet18: {
    tensors: Record<string, { shape: number[]; values: number[] }>;
    count: number;
    counters: number;
  };
  adadf_tiny: {
    count: number;
    input: number[];
    auxLogits: number[];
    targetLogits: number[];
    scores1: number[];
    scores2: number[];
  };
}

/** Runs the script once into a temporary folder; the tests share its files. */
let written: Promise<{ dir: string; expected: TorchExpected }> | undefined;
function torchFiles(): Promise<{ dir: string; expected: TorchExpected }> {
  written ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "ada_df_torch_sd_" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const out = await new Deno.Command(PYTHON, { args: [SCRIPT, dir], stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) throw new Error(`${SCRIPT} failed:\n${new TextDecoder().decode(out.stderr)}`);
    const expected = JSON.parse(await Deno.readTextFile(join(dir, "expected.json"))) as TorchExpected;
    return { dir, expected };
  })();
  return written;
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= tolerance, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

Deno.test({
  name:
    `initFromPretrained() loads torchvision's resnet18 state_dict() and the authors' layout strictly${SKIPPED}`,
  ignore: SKIPPED !== "",
  sanitizeResources: false,
  fn: async () => {
    const { dir, expected } = await torchFiles();
    // Every tensor compared below is loaded: no need to draw the initial weights.
    const model = new AdaDfModel("resnet18", { numClasses: 7, initialize: false });
    try {
      for (const file of ["resnet18.pth", "resnet18_msceleb.pth"]) {
        const report = await initFromPretrained(model, join(dir, file));
        assert.equal(report.fileTensors, expected.resnet18.count, file);
        assert.deepEqual(report.unexpected, [], file);
        // Every stem and branch tensor loaded; only the new heads are left as initialised.
        assert.ok(report.missing.every((n) => /^(aux|target)\.(fc|attention)\./.test(n)), file);
        assert.equal(report.missing.length, 8, file);
        assert.equal(report.skipped.length, expected.resnet18.counters + 2, file); // counters and fc
        for (const [name, want] of Object.entries(expected.resnet18.tensors)) {
          const copies = name.startsWith("layer4.") ? [`aux.${name}`, `target.${name}`] : [name];
          for (const copy of copies) {
            const v = (model.params.get(copy) ?? model.buffers.get(copy))!;
            const got = tfToTorchLayout({
              dtype: "float32",
              shape: v.shape,
              data: v.dataSync() as Float32Array,
            });
            assert.deepEqual(got.shape, want.shape, `${file}: ${copy}`);
            close(
              got.data.subarray(0, want.values.length) as Float32Array,
              want.values,
              0,
              `${file}: ${copy}`,
            );
          }
        }
      }
    } finally {
      model.dispose();
    }
  },
});

Deno.test({
  name:
    `loadModelStateDict() loads a PyTorch model's own state_dict() strictly, with the same outputs${SKIPPED}`,
  ignore: SKIPPED !== "",
  sanitizeResources: false,
  fn: async () => {
    const { dir, expected } = await torchFiles();
    const e = expected.adadf_tiny;
    const stateDict = await readStateDict(join(dir, "adadf_tiny.pth"));
    const model = new AdaDfModel("tiny", { numClasses: 7, seed: 9 });
    try {
      const report = loadModelStateDict(model, stateDict, { strict: true });
      assert.equal(report.fileTensors, e.count);
      assert.equal(report.loaded.length, model.params.size + model.buffers.size);
      assert.ok(report.skipped.length > 0 && report.skipped.every((n) => n.endsWith(".num_batches_tracked")));
      const out = model.forward(tf.tensor4d(e.input, [2, 32, 32, 3]), { training: false });
      close(out.auxLogits.dataSync(), e.auxLogits, 1e-4, "auxLogits");
      close(out.targetLogits.dataSync(), e.targetLogits, 1e-4, "targetLogits");
      close(out.scores1.dataSync(), e.scores1, 1e-4, "scores1");
      close(out.scores2.dataSync(), e.scores2, 1e-4, "scores2");
      tf.dispose(Object.values(out));
    } finally {
      model.dispose();
    }
  },
});

Deno.test("initFromPretrained() refuses a file with other names, listing them and naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const model = new AdaDfModel("tiny", { numClasses: 7 });
  try {
    // A ResNet saved under other module names (features.*) in a checkpoint dict, as DataParallel does.
    const resnet = createResNet("tiny", { numClasses: 7 });
    const renamed = new Map([...(await modelStateDict(resnet))].map(([k, v]) => [`module.features.${k}`, v]));
    tf.dispose([...resnet.params.values(), ...resnet.buffers.values()]);
    const path = join(dir, "other-names.safetensors");
    await Deno.writeFile(path, encodeSafetensors(renamed));
    const before = model.params.get("conv1.weight")!.dataSync().slice();
    await assert.rejects(initFromPretrained(model, path), (error: Error) => {
      const lines = error.message.split("\n");
      assert.ok(
        lines[0].startsWith(`${path}: the weights do not match the model; nothing was loaded`),
        lines[0],
      );
      assert.match(error.message, /Loaded 0 of \d+ model parameters/);
      assert.match(error.message, /Missing: model parameters the file does not have/);
      assert.match(error.message, /Unexpected: file tensors the model does not have/);
      assert.match(error.message, /features\.layer1\.0\.conv1\.weight|features\.conv1/);
      assert.ok(lines.length < 70, `${lines.length} lines`);
      return true;
    });
    assert.deepEqual(model.params.get("conv1.weight")!.dataSync(), before, "nothing was assigned");
    const partial = await initFromPretrained(model, path, { strict: false });
    assert.equal(partial.loaded.length, 0);
    // A shape that differs is refused too, naming both shapes.
    const wide = createResNet("small", { numClasses: 7 });
    const widePath = join(dir, "small.safetensors");
    await Deno.writeFile(widePath, encodeSafetensors(await modelStateDict(wide)));
    tf.dispose([...wide.params.values(), ...wide.buffers.values()]);
    await assert.rejects(
      initFromPretrained(model, widePath),
      /conv1\.weight: model \[7, 7, 3, 8\], file \[7, 7, 3, 32\]/,
    );
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
