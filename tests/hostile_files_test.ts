/**
 * Loading untrusted weights files is bounded in time and memory: each hostile file below gets a clear
 * error naming it in well under a second, and seeded mutations of valid files end in a clear error or
 * a valid result.
 */
import assert from "node:assert/strict";
import { decodeStateDict, readStateDict } from "../formats/pytorch.ts";
import { decodeSafetensors, encodeSafetensors, readSafetensors } from "../formats/safetensors.ts";
import { Random } from "../engine/random.ts";
import { makeZip, P, torchZip } from "./_pth.ts";

/** Runs `fn`, which must throw an error matching `pattern`, within `seconds`. */
function rejectsQuickly(fn: () => unknown, pattern: RegExp, seconds = 1): void {
  const started = performance.now();
  assert.throws(fn, pattern);
  const took = (performance.now() - started) / 1000;
  assert.ok(took < seconds, `took ${took.toFixed(2)} s`);
}

/** A pickle whose tensor size is L_44, where L_0 = [] and L_i = [L_(i-1), L_(i-1)] (shared). */
function sharedListPickle(depth: number): Uint8Array {
  const ops: number[] = [0x5d, 0x71, 0, 0x30]; // EMPTY_LIST, BINPUT 0, POP
  for (let i = 1; i <= depth; i++) {
    // MARK, BINGET i-1, BINGET i-1, LIST, BINPUT i, and POP but for the last
    ops.push(0x28, 0x68, i - 1, 0x68, i - 1, 0x6c, 0x71, i, ...(i < depth ? [0x30] : []));
  }
  const size = ops;
  const tensor = [
    ...P.global("torch._utils", "_rebuild_tensor_v2"),
    0x28,
    ...P.tuple(P.str("storage"), P.global("torch", "FloatStorage"), P.str("0"), P.str("cpu"), P.int(1)),
    0x51,
    ...P.int(0),
    ...size,
    ...P.tuple(P.int(1)),
    0x89,
    ...P.global("collections", "OrderedDict"),
    0x29,
    0x52,
    0x74,
    0x52,
  ];
  return P.dict([["w", tensor]]);
}

Deno.test("a pickle of shared nested lists (2^44 leaves as a tree) is refused at once", () => {
  const file = torchZip(sharedListPickle(44), { "0": new Float32Array(1) });
  assert.ok(file.length < 1200, `${file.length} bytes`);
  rejectsQuickly(
    () => decodeStateDict(file, { source: "nested.pth" }),
    /nested\.pth.*tensor size .{0,90}is invalid/,
  );
});

Deno.test("a zip bomb is refused before it is inflated", () => {
  // The pickle claims a storage of 3 floats; the archive's entry inflates to 64 MiB of zeros.
  const pickle = P.dict([["w", P.tensor("0", "FloatStorage", 3, 0, [3], [1])]]);
  const zeros = new Uint8Array(64 * 2 ** 20);
  const bomb = makeZip(
    [["archive/data.pkl", pickle], ["archive/data/0", zeros], ["archive/version", "3\n"]],
    true,
  );
  assert.ok(bomb.length < 200_000);
  rejectsQuickly(
    () => decodeStateDict(bomb, { source: "bomb.pth" }),
    /bomb\.pth: zip entry 'archive\/data\/0' declares 67108864 bytes, more than the 12 expected/,
  );
  // The same entry declaring 12 bytes: inflation stops past 12.
  const lying = bomb.slice();
  const at = centralEntry(lying, "archive/data/0");
  new DataView(lying.buffer).setUint32(at + 24, 12, true);
  rejectsQuickly(
    () => decodeStateDict(lying, { source: "bomb.pth" }),
    /bomb\.pth: zip entry 'archive\/data\/0' (inflates to more than its declared 12 bytes|declares)/,
  );
  // An entry that declares more than deflate can produce from its compressed bytes.
  const impossible = bomb.slice();
  new DataView(impossible.buffer).setUint32(centralEntry(impossible, "archive/data.pkl") + 24, 2 ** 31, true);
  rejectsQuickly(() => decodeStateDict(impossible, { source: "bomb.pth" }), /more than deflate can produce/);
  // Storages that claim more than maxBytes in all are refused before any is read.
  const big = P.dict([["w", P.tensor("0", "FloatStorage", 2 ** 30, 0, [2 ** 30], [1])]]);
  rejectsQuickly(
    () => decodeStateDict(torchZip(big, { "0": new Float32Array(4) }), { source: "big.pth" }),
    /big\.pth: its storages claim more than the 2147483648 bytes accepted/,
  );
});

/** The offset of `name`'s central-directory record in a zip archive. */
function centralEntry(zip: Uint8Array, name: string): number {
  const view = new DataView(zip.buffer);
  const bytes = new TextEncoder().encode(name);
  for (let at = zip.length - 46; at >= 0; at--) {
    if (view.getUint32(at, true) !== 0x02014b50 || view.getUint16(at + 28, true) !== bytes.length) continue;
    if (bytes.every((b, i) => zip[at + 46 + i] === b)) return at;
  }
  throw new Error(`no central entry ${name}`);
}

Deno.test("a stride-0 view of 2^32 elements is refused before anything is allocated", () => {
  const pickle = P.dict([["w", P.tensor("0", "FloatStorage", 1, 0, [65536, 65536], [0, 0])]]);
  rejectsQuickly(
    () => decodeStateDict(torchZip(pickle, { "0": new Float32Array(1) }), { source: "stride0.pth" }),
    /stride0\.pth: tensor 'w' expands a storage of 1 elements to 4294967296/,
  );
  // A view that reads past its storage, and a 200,000-dimension shape (with a short message).
  const past = P.dict([["w", P.tensor("0", "FloatStorage", 4, 2, [3], [1])]]);
  rejectsQuickly(
    () => decodeStateDict(torchZip(past, { "0": new Float32Array(4) }), { source: "past.pth" }),
    /past\.pth: tensor 'w': reads element 4 of a storage of 4 elements/,
  );
  const deep = P.dict([[
    "w",
    P.tensor("0", "FloatStorage", 1, 0, new Array(200).fill(1), new Array(200).fill(1)),
  ]]);
  const error = (() => {
    try {
      decodeStateDict(torchZip(deep, { "0": new Float32Array(1) }), { source: "deep.pth" });
    } catch (e) {
      return (e as Error).message;
    }
  })();
  assert.match(error ?? "", /deep\.pth: tensor 'w': 200 dimensions, more than 64/);
  const header = JSON.stringify({
    w: { dtype: "F32", shape: new Array(200_000).fill(1), data_offsets: [0, 4] },
  });
  const st = new Uint8Array(8 + header.length + 4);
  new DataView(st.buffer).setBigUint64(0, BigInt(header.length), true);
  st.set(new TextEncoder().encode(header), 8);
  let message = "";
  try {
    decodeSafetensors(st, { source: "deep.safetensors" });
  } catch (e) {
    message = (e as Error).message;
  }
  assert.match(message, /deep\.safetensors: .*200000 dimensions, more than 64/);
  assert.ok(message.length < 300, `${message.length} characters`);
});

Deno.test("whole-file reads refuse directories, FIFOs, devices and files over the size cap, naming them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => readStateDict(dir),
      new RegExp(`${dir}: expected a regular file, found a directory`),
    );
    await assert.rejects(
      () => readSafetensors("/dev/zero"),
      /\/dev\/zero: expected a regular file, found a character device/,
    );
    const fifo = `${dir}/weights.pth`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output().catch(() => null);
    if (made?.success) {
      await assert.rejects(() => readStateDict(fifo), /weights\.pth: expected a regular file, found a FIFO/);
    } else {
      console.log("mkfifo is not available: the FIFO case is not checked");
    }
    const file = `${dir}/w.safetensors`;
    await Deno.writeFile(
      file,
      encodeSafetensors({ w: { dtype: "float32", shape: [64], data: new Float32Array(64) } }),
    );
    await assert.rejects(
      () => readSafetensors(file, { maxBytes: 100 }),
      /w\.safetensors: the safetensors file is larger/,
    );
    await assert.rejects(() => readStateDict(`${dir}/missing.pth`), /cannot read .*missing\.pth/);
    assert.equal((await readSafetensors(file)).tensors.get("w")!.shape[0], 64);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Flips, overwrites, truncates or duplicates a few bytes of `bytes`. */
function mutate(bytes: Uint8Array, random: Random): Uint8Array {
  let out = bytes.slice();
  const edits = 1 + Math.floor(random.next() * 4);
  for (let e = 0; e < edits; e++) {
    const kind = Math.floor(random.next() * 4);
    const at = Math.floor(random.next() * out.length);
    if (kind === 0) out[at] ^= 1 << Math.floor(random.next() * 8);
    else if (kind === 1) out[at] = [0, 0xff, 0x7f, 0x80][Math.floor(random.next() * 4)];
    else if (kind === 2) out = out.slice(0, at);
    else {out = new Uint8Array([
        ...out.subarray(0, at),
        ...out.subarray(at, Math.min(out.length, at + 16)),
        ...out.subarray(at),
      ]);}
  }
  return out;
}

function fuzz(name: string, valid: Uint8Array, decode: (bytes: Uint8Array) => unknown): void {
  const random = new Random(17);
  let errors = 0;
  for (let i = 0; i < 300; i++) {
    const bytes = mutate(valid, random);
    const started = performance.now();
    try {
      decode(bytes);
    } catch (e) {
      errors++;
      assert.ok(e instanceof Error, `mutation ${i}: threw ${String(e)}`);
      assert.ok(e.message.includes(name), `mutation ${i}: the error does not name the file: ${e.message}`);
      assert.ok(e.message.length < 2000, `mutation ${i}: a ${e.message.length}-character error`);
    }
    const took = performance.now() - started;
    assert.ok(took < 1000, `mutation ${i} took ${took.toFixed(0)} ms`);
  }
  assert.ok(errors > 30, `only ${errors} of 300 mutations were refused`);
}

Deno.test("seeded mutations of a .pth file end in a clear error or a valid result", async () => {
  const valid = await Deno.readFile(new URL("./fixtures/pth_checkpoint.pth", import.meta.url));
  fuzz("mutated.pth", valid, (bytes) => decodeStateDict(bytes, { source: "mutated.pth" }));
  const handmade = torchZip(P.dict([["w", P.tensor("0", "FloatStorage", 6, 0, [2, 3], [3, 1])]]), {
    "0": new Float32Array(6),
  });
  fuzz("mutated.pth", handmade, (bytes) => decodeStateDict(bytes, { source: "mutated.pth" }));
});

Deno.test("seeded mutations of a safetensors file end in a clear error or a valid result", () => {
  const valid = encodeSafetensors({
    a: { dtype: "float32", shape: [2, 3], data: new Float32Array(6) },
    b: { dtype: "int64", shape: [1], data: new BigInt64Array([3n]) },
  }, { metadata: { epoch: "2" } });
  fuzz("mutated.safetensors", valid, (bytes) => decodeSafetensors(bytes, { source: "mutated.safetensors" }));
});
