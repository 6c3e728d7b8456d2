import assert from "node:assert/strict";
import type { NamedTensor } from "../formats/safetensors.ts";
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

Deno.test("loadIntoParameters() assigns matching names and reports missing, unexpected and mismatched ones", () => {
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
  assert.deepEqual(report.unexpected, ["bn.num_batches_tracked"]);
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
