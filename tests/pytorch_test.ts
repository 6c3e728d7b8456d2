import assert from "node:assert/strict";
import { decodeStateDict, readStateDict } from "../formats/pytorch.ts";
import { encodeSafetensors, type StateDict } from "../formats/safetensors.ts";
import { ZipReader } from "../formats/_zip.ts";
import { makeZip, P, torchZip } from "./_pth.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const fixture = (name: string): string => new URL(name, FIXTURES).pathname;

interface Expected {
  dtype: string;
  shape: number[];
  values: number[];
}
const EXPECTED = JSON.parse(await Deno.readTextFile(fixture("pth_expected.json"))) as Record<
  string,
  { state_dict: Record<string, Expected> }
>;

function assertMatches(got: StateDict, expected: Record<string, Expected>): void {
  assert.deepEqual([...got.keys()], Object.keys(expected));
  for (const [name, want] of Object.entries(expected)) {
    const tensor = got.get(name)!;
    assert.equal(tensor.dtype, want.dtype, name);
    assert.deepEqual(tensor.shape, want.shape, name);
    // Values written by Python from float32 are exact, so equality is exact.
    assert.deepEqual([...tensor.data].map(Number), want.values, name);
  }
}

Deno.test("readStateDict() reads a torch.save checkpoint's nested state_dict with the exact values", async () => {
  const got = await readStateDict(fixture("pth_checkpoint.pth"));
  assertMatches(got, EXPECTED["pth_checkpoint.pth"].state_dict);
  // The transposed view comes back in row-major order; the two views of one storage are separate copies.
  assert.deepEqual([...got.get("fc.weight")!.data], [-1, 1, 3, -0.5, 1.5, 3.5, 0, 2, 4, 0.5, 2.5, 4.5]);
  assert.notEqual(got.get("shared.a")!.data.buffer, got.get("shared.b")!.data.buffer);
  assert.equal(got.get("bn.num_batches_tracked")!.data.constructor, Int32Array);
});

Deno.test("readStateDict() reads a flat state_dict saved with pickle protocol 4", async () => {
  assertMatches(await readStateDict(fixture("pth_flat.pth")), EXPECTED["pth_flat.pth"].state_dict);
});

Deno.test("readStateDict() keeps prefixes and dtypes when asked", async () => {
  const got = await readStateDict(fixture("pth_checkpoint.pth"), { stripPrefixes: [], keepDtypes: true });
  assert.equal([...got.keys()][0], "module.conv.weight");
  const half = got.get("module.half")!;
  assert.equal(half.dtype, "float16");
  assert.deepEqual([...half.data], [0x3c00, 0xc100, 0x7bff, 0x0400, 0x0001, 0x2e66]);
  assert.equal(got.get("module.bf16")!.dtype, "bfloat16");
  assert.equal(got.get("module.double")!.data.constructor, Float64Array);
  assert.deepEqual([...got.get("module.double")!.data], [0.1, -0.2, 1e-3, 123456.789]);
  assert.deepEqual([...got.get("module.long")!.data], [-(2n ** 31n), 2n ** 31n - 1n, 0n, 42n]);
  const stripped = await readStateDict(fixture("pth_checkpoint.pth"), { stripPrefixes: ["module.conv."] });
  assert.ok(stripped.has("weight") && stripped.has("module.fc.weight"));
});

Deno.test("readStateDict() selects a nested dict by key and explains what the file holds", async () => {
  const path = fixture("pth_checkpoint.pth");
  await assert.rejects(
    () => readStateDict(path, { select: "optimizer" }),
    (e: Error) =>
      e.message.startsWith(`${path}: no tensors under 'optimizer'`) &&
      e.message.includes("state (dict), param_groups (list)") && e.message.includes("select"),
  );
  await assert.rejects(
    () => readStateDict(path, { select: "weights" }),
    (e: Error) => e.message.includes("no dict under the key 'weights'") && e.message.includes("epoch (int)"),
  );
  assert.equal((await readStateDict(path, { select: "state_dict" })).size, 16);
});

Deno.test("readStateDict() rejects the legacy format with the command that converts it", async () => {
  const path = fixture("pth_legacy.pth");
  await assert.rejects(() => readStateDict(path), (e: Error) => {
    assert.ok(
      e.message.startsWith(`${path}: this checkpoint uses PyTorch's legacy serialization`),
      e.message,
    );
    assert.ok(e.message.includes(`torch.save(torch.load('${path}', map_location='cpu'), `), e.message);
    assert.ok(e.message.includes("_use_new_zipfile_serialization=True"), e.message);
    return true;
  });
});

Deno.test("readStateDict() refuses a pickle that names os.system and never runs it", async () => {
  const path = fixture("pth_malicious.pth");
  await assert.rejects(
    () => readStateDict(path),
    (e: Error) => e.message.startsWith(`${path} (pth_malicious/data.pkl): refuses the global 'os.system'`),
  );
});

Deno.test("decodeStateDict() refuses every global outside the state_dict allowlist", () => {
  const cases: [string, number[]][] = [
    ["builtins.eval", P.global("builtins", "eval")],
    ["posix.system", P.global("posix", "system")],
    ["subprocess.Popen", P.global("subprocess", "Popen")],
    ["torchvision.models.resnet.ResNet", P.global("torchvision.models.resnet", "ResNet")],
    // STACK_GLOBAL (protocol 4) takes the module and name from the stack.
    ["builtins.exec", [
      0x8c,
      8,
      ...new TextEncoder().encode("builtins"),
      0x8c,
      4,
      ...new TextEncoder().encode("exec"),
      0x93,
    ]],
  ];
  for (const [name, opcodes] of cases) {
    const pickle = P.dict([["w", [...opcodes, ...P.tuple(P.str("id")), 0x52]]]);
    assert.throws(
      () => decodeStateDict(torchZip(pickle), { source: "evil.pth" }),
      (e: Error) => e.message.startsWith(`evil.pth (archive/data.pkl): refuses the global '${name}'`),
      name,
    );
  }
});

Deno.test("decodeStateDict() honours storage offsets and strides of views sharing a storage", () => {
  const storage = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const pickle = P.dict([
    ["t", P.tensor("0", "FloatStorage", 12, 0, [4, 3], [1, 4])], // transpose of a 3x4 matrix
    ["col", P.tensor("0", "FloatStorage", 12, 1, [3], [4])], // column 1
    ["block", P.tensor("0", "FloatStorage", 12, 5, [2, 2], [4, 1])], // rows 1..2, columns 1..2
    ["bcast", P.tensor("0", "FloatStorage", 12, 2, [2, 3], [0, 1])], // expand(): stride 0
    ["scalar", P.tensor("0", "FloatStorage", 12, 11, [], [])],
    ["empty", P.tensor("0", "FloatStorage", 12, 0, [0, 3], [3, 1])],
  ]);
  const got = decodeStateDict(torchZip(pickle, { "0": storage }));
  const values = (name: string) => [...got.get(name)!.data];
  assert.deepEqual(values("t"), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  assert.deepEqual(got.get("t")!.shape, [4, 3]);
  assert.deepEqual(values("col"), [1, 5, 9]);
  assert.deepEqual(values("block"), [5, 6, 9, 10]);
  assert.deepEqual(values("bcast"), [2, 3, 4, 2, 3, 4]);
  assert.deepEqual(values("scalar"), [11]);
  assert.deepEqual(got.get("scalar")!.shape, []);
  assert.deepEqual(values("empty"), []);
});

Deno.test("decodeStateDict() rejects malformed archives and pickles with clear errors", async () => {
  const good = await Deno.readFile(fixture("pth_checkpoint.pth"));
  const storage = new Float32Array([1, 2, 3]);
  const okPickle = P.dict([["w", P.tensor("0", "FloatStorage", 3, 0, [3], [1])]]);
  const corrupt = good.slice();
  corrupt[new ZipReader(good, "x").entries.get("pth_checkpoint/data/0")!.localHeaderOffset + 100] ^= 0xff;
  const cases: [string, Uint8Array, RegExp][] = [
    ["truncated zip", good.subarray(0, 3000), /no end-of-central-directory record: the file is truncated/],
    ["corrupt storage", corrupt, /zip entry 'pth_checkpoint\/data\/0' fails its CRC-32 check/],
    ["bad opcode", torchZip(new Uint8Array([0x80, 0x02, 0x7d, 0xff])), /unsupported pickle opcode 0xff/],
    [
      "INST opcode",
      torchZip(new Uint8Array([0x80, 0x02, 0x28, 0x69, 0x6f, 0x73, 0x0a])),
      /unsupported pickle opcode 0x69 \(INST\)/,
    ],
    ["truncated pickle", torchZip(okPickle.subarray(0, 40), { "0": storage }), /the pickle is truncated/],
    ["no data.pkl", makeZip([["archive/version", "3\n"]]), /a zip archive without data\.pkl/],
    ["missing storage", torchZip(okPickle), /tensor 'w' refers to storage '0', which the archive lacks/],
    [
      "short storage",
      torchZip(okPickle, { "0": storage.subarray(0, 2) }),
      /storage archive\/data\/0 holds 8 bytes, but 3 float32 elements need 12/,
    ],
    [
      "view beyond storage",
      torchZip(P.dict([["w", P.tensor("0", "FloatStorage", 3, 2, [2], [1])]]), { "0": storage }),
      /tensor 'w': reads element 3 of a storage of 3 elements/,
    ],
    [
      "int64 out of range",
      torchZip(P.dict([["n", P.tensor("0", "LongStorage", 1, 0, [1], [1])]]), {
        "0": new BigInt64Array([2n ** 40n]),
      }),
      /tensor 'n': int64 element 0 \(1099511627776\) does not fit in int32/,
    ],
    [
      "unsupported storage",
      torchZip(P.dict([["c", P.tensor("0", "ComplexFloatStorage", 1, 0, [1], [1])]])),
      /refuses the global 'torch\.ComplexFloatStorage'/,
    ],
    [
      "TorchScript",
      makeZip([["m/data.pkl", okPickle], ["m/constants.pkl", okPickle], ["m/code/__torch__.py", "x"]]),
      /a TorchScript archive \(torch\.jit\.save\)/,
    ],
    [
      "single tensor",
      torchZip(new Uint8Array([0x80, 0x02, ...P.tensor("0", "FloatStorage", 3, 0, [3], [1]), 0x2e]), {
        "0": storage,
      }),
      /a single tensor, not a dict/,
    ],
    [
      "no tensors",
      torchZip(P.dict([["epoch", P.int(3)]])),
      /no tensors at the top level; its entries are: epoch \(int\)/,
    ],
    [
      "bare pickle",
      new Uint8Array([0x80, 0x04, 0x4b, 0x01, 0x2e]),
      /a bare pickle stream, not a file written by torch\.save/,
    ],
    [
      "random bytes",
      new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
      /neither a PyTorch checkpoint \(zip\) nor a safetensors file \(first bytes: 01 02/,
    ],
  ];
  for (const [name, bytes, pattern] of cases) {
    assert.throws(
      () => decodeStateDict(bytes, { source: "bad.pth" }),
      (e: Error) => e.message.startsWith("bad.pth") && pattern.test(e.message),
      name,
    );
  }
});

Deno.test("decodeStateDict() reads deflated and zip64 archives too", async () => {
  const original = await Deno.readFile(fixture("pth_checkpoint.pth"));
  const zip = new ZipReader(original, "x");
  const entries = [...zip.entries.keys()].map((name): [string, Uint8Array] => [name, zip.read(name)]);
  const deflated = makeZip(entries, true);
  assert.equal(new ZipReader(deflated, "y").entries.get("pth_checkpoint/data.pkl")!.method, 8);
  assertMatches(decodeStateDict(deflated), EXPECTED["pth_checkpoint.pth"].state_dict);
  assertMatches(decodeStateDict(makeZip(entries, false, true)), EXPECTED["pth_checkpoint.pth"].state_dict);
});

Deno.test("decodeStateDict() swaps the bytes of storages saved on a big-endian machine", () => {
  const pickle = P.dict([
    ["f", P.tensor("0", "FloatStorage", 2, 0, [2], [1])],
    ["h", P.tensor("1", "HalfStorage", 1, 0, [1], [1])],
    ["n", P.tensor("2", "LongStorage", 1, 0, [1], [1])],
  ]);
  const f = new Uint8Array(new Float32Array([1.5, -2]).buffer).reverse(); // big-endian [-2, 1.5]
  const zip = makeZip([
    ["archive/data.pkl", pickle],
    ["archive/byteorder", "big"],
    ["archive/data/0", f],
    ["archive/data/1", new Uint8Array([0x3c, 0x00])],
    ["archive/data/2", new Uint8Array([0, 0, 0, 0, 0, 0, 1, 2])],
  ]);
  const got = decodeStateDict(zip);
  assert.deepEqual([...got.get("f")!.data], [-2, 1.5]);
  assert.deepEqual([...got.get("h")!.data], [1]);
  assert.deepEqual([...got.get("n")!.data], [258]);
});

Deno.test("readStateDict() reads safetensors by extension or by content, stripping module. prefixes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = encodeSafetensors({
      "module.fc.weight": { dtype: "float16", shape: [2], data: new Float32Array([0.5, -1]) },
    });
    for (const name of ["w.safetensors", "w.bin"]) {
      await Deno.writeFile(`${dir}/${name}`, bytes);
      const got = await readStateDict(`${dir}/${name}`);
      assert.deepEqual([...got.keys()], ["fc.weight"]);
      assert.deepEqual([...got.get("fc.weight")!.data], [0.5, -1]);
    }
    await Deno.writeFile(`${dir}/bad.safetensors`, bytes.subarray(0, 20));
    await assert.rejects(
      () => readStateDict(`${dir}/bad.safetensors`),
      new RegExp(`^Error: ${dir}/bad\\.safetensors: header length`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeStateDict() refuses names that collide once prefixes are stripped", () => {
  const bytes = encodeSafetensors({
    "module.w": { dtype: "float32", shape: [1], data: new Float32Array([1]) },
    w: { dtype: "float32", shape: [1], data: new Float32Array([2]) },
  });
  assert.throws(
    () => decodeStateDict(bytes, { source: "c.safetensors" }),
    /'module\.w' and 'w' both become 'w'|'w' and 'module\.w' both become 'w'/,
  );
  assert.equal(decodeStateDict(bytes, { stripPrefixes: [] }).size, 2);
});
