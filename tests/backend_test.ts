import assert from "node:assert/strict";
import { tf } from "../engine/tf.ts";
import { type BackendName, initBackend } from "../engine/backend.ts";

Deno.test("initBackend() switches between cpu and wasm and says what runs", async () => {
  const wasm = await initBackend("wasm");
  assert.equal(wasm.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.match(wasm.reason, /XNNPACK/);
  assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"), "the training kernels are registered");
  const cpu = await initBackend("cpu");
  assert.equal(cpu.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
});

Deno.test("initBackend('auto') picks an available backend and gives the reason", async () => {
  const info = await initBackend("auto");
  assert.ok(["wasm", "webgpu", "tensorflow"].includes(info.name));
  assert.match(info.reason, /^auto: /);
  await initBackend("cpu");
});

Deno.test("initBackend() explains how to get a backend that is not installed", async () => {
  await assert.rejects(() => initBackend("tensorflow"), /tfjs-node.*--backend wasm/s);
  await assert.rejects(() => initBackend("nope" as BackendName), /Unknown backend 'nope'.*wasm/);
  await initBackend("cpu");
});
