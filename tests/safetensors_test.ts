import { writeFileAtomic } from "../engine/files.ts";
import assert from "node:assert/strict";
import {
  decodeSafetensors,
  type DType,
  encodeSafetensors,
  type NamedTensor,
  readSafetensors,
} from "../formats/safetensors.ts";

const f32 = (values: number[], shape = [values.length]): NamedTensor => ({
  dtype: "float32",
  shape,
  data: new Float32Array(values),
});

/** A safetensors file assembled by hand from a header object and a data section. */
function rawFile(header: unknown, data: Uint8Array, pad = true): Uint8Array {
  let json = header instanceof Uint8Array
    ? header
    : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  if (pad && json.length % 8) {
    const padded = new Uint8Array(json.length + 8 - (json.length % 8)).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function headerOf(bytes: Uint8Array): Record<string, unknown> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

Deno.test("encodeSafetensors() matches the reference writer byte for byte", () => {
  // Expected bytes from the reference implementation's own serialisation tests.
  const floats = [0, 1, 2, 3, 4, 5];
  const dataBytes = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64];
  const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
  assert.deepEqual(
    [...encodeSafetensors({ "attn.0": f32(floats, [1, 2, 3]) })],
    [64, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode(header), ...dataBytes],
  );
  const aligned = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
  assert.deepEqual(
    [...encodeSafetensors({ attn0: f32(floats, [1, 1, 2, 3]) })],
    [72, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode(aligned), ...dataBytes],
  );
  assert.deepEqual([...encodeSafetensors({})], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  assert.deepEqual(
    [...encodeSafetensors({}, { metadata: { framework: "pt" } })],
    [40, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode('{"__metadata__":{"framework":"pt"}}     ')],
  );
});

const SAMPLES: Record<DType, NamedTensor["data"]> = {
  float64: new Float64Array([0.1, -1e300, 5e-324, Infinity]),
  float32: new Float32Array([0.5, -3.25, 1e-40, -Infinity]),
  float16: new Uint16Array([0x3c00, 0xc100, 0x0001, 0x7bff]),
  bfloat16: new Uint16Array([0x3f80, 0xc020, 0x0001, 0x7f7f]),
  int64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, 42n]),
  int32: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, 7]),
  int16: new Int16Array([-32768, 32767, 0, -2]),
  int8: new Int8Array([-128, 127, 0, 3]),
  uint8: new Uint8Array([0, 255, 1, 128]),
  bool: new Uint8Array([1, 0, 0, 1]),
};

Deno.test("encodeSafetensors() then decodeSafetensors() round-trips every dtype exactly with keepDtypes", () => {
  const tensors = new Map<string, NamedTensor>();
  for (const [dtype, data] of Object.entries(SAMPLES)) {
    tensors.set(`t.${dtype}`, { dtype: dtype as DType, shape: [2, 2], data });
  }
  const { tensors: back, metadata } = decodeSafetensors(encodeSafetensors(tensors), { keepDtypes: true });
  assert.deepEqual(metadata, {});
  assert.equal(back.size, tensors.size);
  for (const [name, tensor] of tensors) {
    const got = back.get(name)!;
    assert.equal(got.dtype, tensor.dtype, name);
    assert.deepEqual(got.shape, [2, 2], name);
    assert.equal(got.data.constructor, tensor.data.constructor, name);
    assert.deepEqual([...got.data], [...tensor.data], name);
  }
});

Deno.test("decodeSafetensors() widens float16, bfloat16 and float64 to float32 and int64 to int32", () => {
  const all = new Map(
    Object.entries(SAMPLES).map(([d, data]) => [d, { dtype: d as DType, shape: [4], data }]),
  );
  const bytes = encodeSafetensors(all);
  all.delete("int64");
  const back = decodeSafetensors(encodeSafetensors(all)).tensors;
  const get = (name: string) => back.get(name)!;
  assert.equal(get("float64").dtype, "float32");
  assert.deepEqual([...get("float64").data], [Math.fround(0.1), -Infinity, 0, Infinity]);
  assert.deepEqual([...get("float16").data], [1, -2.5, 2 ** -24, 65504]);
  assert.deepEqual([...get("bfloat16").data], [1, -2.5, 2 ** -133, 3.3895313892515355e38]);
  assert.equal(get("float16").data.constructor, Float32Array);
  assert.equal(get("bool").dtype, "bool");
  assert.equal(get("uint8").data.constructor, Uint8Array);
  const int64 = {
    dtype: "int64" as const,
    shape: [3],
    data: new BigInt64Array([-(2n ** 31n), 2n ** 31n - 1n, 5n]),
  };
  const small = decodeSafetensors(encodeSafetensors({ n: int64 })).tensors.get("n")!;
  assert.equal(small.dtype, "int32");
  assert.deepEqual([...small.data], [-(2 ** 31), 2 ** 31 - 1, 5]);
  assert.throws(
    () => decodeSafetensors(bytes, { source: "big.safetensors" }),
    /big\.safetensors: tensor 'int64': int64 element 0 \(-9223372036854775808\) does not fit in int32; read with keepDtypes/,
  );
});

Deno.test("encodeSafetensors() rounds float32 values to float16 and bfloat16 to nearest even", () => {
  // Expected bits from numpy (float16) and PyTorch (bfloat16) for the same float32 inputs.
  const values = [
    0.1,
    -2.5,
    65504,
    65519,
    65520,
    1e6,
    2 ** -24,
    2 ** -25,
    2 ** -25 * 1.5,
    2 ** -14,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    -0,
    3.14159265,
    1e-8,
    -1e-5,
  ];
  const f16 = [11878, 49408, 31743, 31743, 31744, 31744, 1, 0, 1, 1024, 15360, 15362, 32768, 16968, 0, 32936];
  const bf16 = [
    15821,
    49184,
    18304,
    18304,
    18304,
    18804,
    13184,
    13056,
    13120,
    14464,
    16256,
    16256,
    32768,
    16457,
    12844,
    46888,
  ];
  const bytes = encodeSafetensors({
    h: { dtype: "float16", shape: [values.length], data: new Float32Array(values) },
    b: { dtype: "bfloat16", shape: [values.length], data: new Float32Array(values) },
    n: { dtype: "float16", shape: [2], data: new Float32Array([NaN, -NaN]) },
  });
  const raw = decodeSafetensors(bytes, { keepDtypes: true }).tensors;
  assert.deepEqual([...raw.get("h")!.data], f16);
  assert.deepEqual([...raw.get("b")!.data], bf16);
  assert.ok([...decodeSafetensors(bytes).tensors.get("n")!.data].every(Number.isNaN));
});

Deno.test("encodeSafetensors() sorts by alignment then name and keeps every tensor aligned", () => {
  const bytes = encodeSafetensors(
    new Map<string, NamedTensor>([
      ["z.mask", { dtype: "bool", shape: [3], data: new Uint8Array([1, 0, 1]) }],
      ["b.half", { dtype: "float16", shape: [1], data: new Float32Array([1]) }],
      ["a.weight", f32([1, 2, 3])],
      ["c.steps", { dtype: "int64", shape: [1], data: new Int32Array([9]) }],
      ["a.bias", f32([4])],
      ["d.double", { dtype: "float64", shape: [1], data: new Float64Array([2]) }],
    ]),
    { metadata: { b: "2", a: "1" } },
  );
  const header = headerOf(bytes);
  assert.deepEqual(Object.keys(header), [
    "__metadata__",
    "c.steps",
    "d.double",
    "a.bias",
    "a.weight",
    "b.half",
    "z.mask",
  ]);
  const dataStart = bytes.length - 8 - 8 - 4 - 12 - 2 - 3;
  assert.equal(dataStart % 8, 0);
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, data_offsets: [begin] } = info as { dtype: string; data_offsets: number[] };
    const size = { I64: 8, F64: 8, F32: 4, F16: 2, BOOL: 1 }[dtype]!;
    assert.equal((dataStart + begin) % size, 0, name);
  }
  const { tensors, metadata } = decodeSafetensors(bytes);
  assert.deepEqual(metadata, { b: "2", a: "1" });
  assert.deepEqual([...tensors.get("a.weight")!.data], [1, 2, 3]);
  assert.deepEqual([...tensors.get("z.mask")!.data], [1, 0, 1]);
});

Deno.test("encodeSafetensors() rejects inconsistent tensors with the tensor's name", () => {
  assert.throws(
    () => encodeSafetensors({ w: f32([1, 2, 3], [2, 2]) }),
    /tensor 'w': shape \[2,2\] has 4 elements but data has 3/,
  );
  assert.throws(() => encodeSafetensors({ __metadata__: f32([1]) }), /reserved/);
  assert.throws(
    () => encodeSafetensors({ i: { dtype: "int8", shape: [1], data: new Int32Array([300]) } }),
    /tensor 'i': element 0 \(300\) is not an int8 value/,
  );
  assert.throws(
    () => encodeSafetensors({ w: { dtype: "float32", shape: [-1], data: new Float32Array() } }),
    /non-negative/,
  );
  assert.throws(
    () => encodeSafetensors({}, { metadata: { epoch: 3 as unknown as string } }),
    /metadata 'epoch' must be a string/,
  );
});

Deno.test("writeFileAtomic() replaces a safetensors file atomically and readSafetensors() reads it back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/model.safetensors`;
    await writeFileAtomic(path, encodeSafetensors({ w: f32([1, 2]) }, { metadata: { epoch: "1" } }));
    await writeFileAtomic(
      path,
      encodeSafetensors(new Map([["w", f32([3, 4])]]), { metadata: { epoch: "2" } }),
    );
    const { tensors, metadata } = await readSafetensors(path);
    assert.deepEqual([...tensors.get("w")!.data], [3, 4]);
    assert.deepEqual(metadata, { epoch: "2" });
    // A failed write (here the rename onto a folder) names the file, leaves what was there as it was
    // and no temporary file behind.
    await Deno.mkdir(`${dir}/taken/inner`, { recursive: true });
    await assert.rejects(() => writeFileAtomic(`${dir}/taken`, encodeSafetensors({ w: f32([1]) })), /taken/);
    assert.deepEqual([...(await readSafetensors(path)).tensors.get("w")!.data], [3, 4]);
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["model.safetensors", "taken"]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/taken`)].map((e) => e.name), ["inner"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readSafetensors() rejects malformed files with errors that name the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = encodeSafetensors({ a: f32([1, 2]), b: f32([3]) });
    const f32x2 = new Uint8Array(new Float32Array([1, 2]).buffer);
    const cases: [string, Uint8Array, RegExp][] = [
      ["short", good.subarray(0, 5), /truncated: 5 bytes/],
      [
        "header-beyond",
        good.subarray(0, 40),
        /header length \d+ goes beyond the end of the file \(40 bytes\)/,
      ],
      [
        "truncated-data",
        good.subarray(0, good.length - 2),
        /tensor 'b': data_offsets \[8, 12\] go beyond the data section/,
      ],
      ["bad-json", rawFile('{"a": {"dtype": "F32",', f32x2), /the header is not valid JSON/],
      ["not-object", rawFile("[1, 2]", new Uint8Array()), /does not start with '\{'/],
      [
        "not-utf8",
        rawFile(new Uint8Array([0x7b, 0xff, 0x7d]), new Uint8Array()),
        /the header is not valid UTF-8/,
      ],
      [
        "unknown-dtype",
        rawFile({ a: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2)),
        /tensor 'a': unknown or unsupported dtype 'F8_E4M3'/,
      ],
      [
        "size-mismatch",
        rawFile({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32x2),
        /tensor 'a': data_offsets \[0, 8\] span 8 bytes, but shape \[3\] of F32 needs 12/,
      ],
      [
        "overlap",
        rawFile({
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
        }, f32x2),
        /tensors 'a' and 'b' overlap/,
      ],
      [
        "out-of-range",
        rawFile({ a: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, f32x2),
        /tensor 'a': data_offsets \[8, 16\] go beyond the data section \(8 bytes\)/,
      ],
      [
        "gap",
        rawFile({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, f32x2),
        /tensor 'a' starts at byte 4 of the data, leaving bytes 0\.\.4 unused/,
      ],
      [
        "trailing",
        rawFile({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32x2),
        /the tensors cover 4 bytes of data but the data section holds 8/,
      ],
      [
        "bad-offsets",
        rawFile({ a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, f32x2),
        /tensor 'a': data_offsets must be \[begin, end\]/,
      ],
      [
        "bad-shape",
        rawFile({ a: { dtype: "F32", shape: [2.5], data_offsets: [0, 8] } }, f32x2),
        /tensor 'a': shape must be an array of non-negative integers/,
      ],
      [
        "bad-metadata",
        rawFile({ __metadata__: { epoch: 3 } }, new Uint8Array()),
        /__metadata__ 'epoch' must be a string/,
      ],
    ];
    for (const [name, bytes, pattern] of cases) {
      const path = `${dir}/${name}.safetensors`;
      await Deno.writeFile(path, bytes);
      const error = await readSafetensors(path).then(() => null, (e: Error) => e);
      assert.ok(error, `${name} was accepted`);
      assert.ok(error.message.startsWith(`${path}: `), `${name}: ${error.message}`);
      assert.match(error.message, pattern, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
