import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../engine/tf.ts";
import { type BackendName, initBackend } from "../engine/backend.ts";

const ROOT = new URL("..", import.meta.url);
const CONFIG = new URL("deno.json", ROOT).pathname;
const TENSORFLOW_MODULE_ENV = "ADA_DF_TFJS_NODE";

Deno.test("importing the engine or the library chooses no backend; TensorFlow.js then picks cpu", async () => {
  const engine = [...Deno.readDirSync(new URL("engine/", ROOT))]
    .filter((entry) => entry.isFile && entry.name.endsWith(".ts"))
    .map((entry) => new URL(`engine/${entry.name}`, ROOT).href);
  assert.ok(
    engine.some((url) => url.endsWith("/tf.ts")) && engine.some((url) => url.endsWith("/backend.ts")),
  );
  const dir = Deno.makeTempDirSync({ prefix: "ada-df-backend-" });
  try {
    const script = join(dir, "import.ts");
    Deno.writeTextFileSync(
      script,
      [
        `const { tf } = await import(${JSON.stringify(new URL("engine/tf.ts", ROOT).href)});`,
        `const created = () => Object.keys(tf.engine().registry);`,
        ...engine.map((url) => `await import(${JSON.stringify(url)});`),
        `const afterEngine = { backend: tf.getBackend() ?? null, created: created() };`,
        `await import(${JSON.stringify(new URL("mod.ts", ROOT).href)});`,
        `const afterLibrary = { backend: tf.getBackend() ?? null, created: created() };`,
        `const sum = Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync());`,
        `console.log(JSON.stringify({ afterEngine, afterLibrary, lazy: tf.getBackend(), sum }));`,
      ].join("\n"),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--no-check", "--config", CONFIG, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    assert.deepEqual(result.afterEngine, { backend: null, created: [] }, "importing engine/ sets no backend");
    assert.deepEqual(result.afterLibrary, { backend: null, created: [] }, "importing mod.ts sets no backend");
    // Without initBackend, TensorFlow.js's own lazy choice: cpu, the only backend registered on import.
    assert.equal(result.lazy, "cpu");
    assert.deepEqual(result.sum, [2, 3]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("initBackend() switches between cpu and wasm and says what runs", async () => {
  const wasm = await initBackend("wasm");
  assert.equal(wasm.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.match(wasm.reason, /XNNPACK/);
  assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"), "the training kernels are registered");
  const cpu = await initBackend("cpu");
  assert.equal(cpu.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.equal((tf.backend() as unknown as { firstUse: boolean }).firstUse, false, "no tfjs-node greeting");
});

Deno.test("initBackend('auto') picks an available backend and gives the reason", async () => {
  const info = await initBackend("auto");
  assert.ok(["wasm", "webgpu", "tensorflow", "native"].includes(info.name));
  assert.equal(tf.getBackend(), info.name);
  assert.match(info.reason, /^auto: /);
  await initBackend("cpu");
});

Deno.test("initBackend() explains how to get a backend that is not installed", async () => {
  await withoutEnv(async () => {
    await assert.rejects(
      () => initBackend("tensorflow"),
      /tfjs-node at version 4\.22\.0.*"nodeModulesDir": "auto".*deno install --allow-scripts=npm:@tensorflow\/tfjs-node.*--backend wasm/s,
    );
  });
  await assert.rejects(() => initBackend("nope" as BackendName), /Unknown backend 'nope'.*wasm/);
  await initBackend("cpu");
});

/**
 * A stand-in for `@tensorflow/tfjs-node`, registering its backend the way tfjs-node's `dist/index.js` does:
 * its kernels first, then (once libtensorflow has loaded) the backend `tensorflow` with priority 3 on the
 * `@tensorflow/tfjs` it imports, switching to it, and re-exporting TensorFlow.js with a `version` that adds
 * its own. Its kernels are the cpu backend's, counted.
 */
function standIn(
  options: { coreVersion?: string; register?: boolean; ownRegisterBackend?: boolean; failToLoad?: boolean } =
    {},
) {
  const { coreVersion, register = true, ownRegisterBackend = false, failToLoad = false } = options;
  const version = `{ ...tf.version, "tfjs-node": "${tf.version_core}"` +
    (coreVersion ? `, "tfjs-core": "${coreVersion}"` : "") + ` }`;
  return [
    `import * as tf from "npm:@tensorflow/tfjs@${tf.version_core}";`,
    `export * from "npm:@tensorflow/tfjs@${tf.version_core}";`,
    `let calls = 0;`,
    `/** How many kernels of the stand-in backend have run. */`,
    `export function kernelCalls(): number {`,
    `  return calls;`,
    `}`,
    `export const version = ${version};`,
    ...(ownRegisterBackend ? [`export function registerBackend(): boolean {`, `  return false;`, `}`] : []),
    ...(register
      ? [
        `for (const kernel of tf.getKernelsForBackend("cpu")) {`,
        `  const run = kernel.kernelFunc;`,
        `  tf.registerKernel({ ...kernel, backendName: "tensorflow", kernelFunc: (args) => {`,
        `    calls++;`,
        `    return run(args);`,
        `  } });`,
        `}`,
        ...(failToLoad
          ? [`throw new Error("The Node.js native addon module (tfjs_binding.node) can not be found");`]
          : []),
        // tfjs-node's backend has no greeting; the cpu backend's is turned off.
        `tf.registerBackend("tensorflow", () => Object.assign(new tf.MathBackendCPU(), { firstUse: false }), 3);`,
        `await tf.setBackend("tensorflow");`,
      ]
      : []),
  ].join("\n");
}

/** Runs `body` with a temporary directory, the environment variable unset, and the backend reset after. */
async function withStandIn(body: (dir: string) => Promise<void>) {
  const dir = Deno.makeTempDirSync({ prefix: "ada-df-tfjs-node-" });
  try {
    await withoutEnv(() => body(dir));
  } finally {
    forgetTensorflow();
    await initBackend("cpu");
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Removes the `tensorflow` backend and its kernels, as if no module had registered them. */
function forgetTensorflow() {
  if (tf.findBackendFactory("tensorflow") != null) tf.removeBackend("tensorflow");
  for (const kernel of tf.getKernelsForBackend("tensorflow")) {
    tf.unregisterKernel(kernel.kernelName, "tensorflow");
  }
}

async function withoutEnv(body: () => Promise<void>) {
  const saved = Deno.env.get(TENSORFLOW_MODULE_ENV);
  Deno.env.delete(TENSORFLOW_MODULE_ENV);
  try {
    await body();
  } finally {
    if (saved === undefined) Deno.env.delete(TENSORFLOW_MODULE_ENV);
    else Deno.env.set(TENSORFLOW_MODULE_ENV, saved);
  }
}

Deno.test("initBackend('tensorflow') loads a module that registers on the library's TensorFlow.js", async () => {
  await withStandIn(async (dir) => {
    const path = join(dir, "tfjs_node.ts");
    Deno.writeTextFileSync(path, standIn());
    const info = await initBackend("tensorflow", { tensorflowModule: path });
    assert.deepEqual(info, { name: "tensorflow", reason: `the tensorflow backend of ${path}` });
    assert.equal(tf.getBackend(), "tensorflow");
    const module = await import(new URL(`file://${path}`).href);
    assert.equal(module.registerBackend, tf.registerBackend, "one TensorFlow.js for both");
    const before = module.kernelCalls();
    const product = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]]));
    assert.deepEqual(Array.from(product.dataSync()), [17, 39]);
    assert.ok(module.kernelCalls() > before, "the op ran on the tensorflow backend's kernels");
  });
});

/**
 * Runs `code` (TypeScript that may import `tf`, `initBackend` and `assert`, given as imports) in a child
 * Deno with working directory `cwd` and the extra environment `env`: the working directory and the
 * environment belong to the whole process, which the other test modules share when they run in parallel.
 */
async function inChild(cwd: string, env: Record<string, string>, code: string): Promise<void> {
  const script = join(cwd, `child-${crypto.randomUUID().slice(0, 8)}.ts`);
  Deno.writeTextFileSync(
    script,
    [
      `import assert from "node:assert/strict";`,
      `import { tf } from "${new URL("../engine/tf.ts", import.meta.url).href}";`,
      `import { initBackend } from "${new URL("../engine/backend.ts", import.meta.url).href}";`,
      code,
    ].join("\n"),
  );
  const config = new URL("../deno.json", import.meta.url).pathname;
  const { code: exit, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", config, script],
    cwd,
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(exit, 0, new TextDecoder().decode(stderr));
}

Deno.test("initBackend('auto') prefers the tensorflow backend named by $ADA_DF_TFJS_NODE", async () => {
  await withStandIn(async (dir) => {
    Deno.writeTextFileSync(join(dir, "tfjs_node.ts"), standIn());
    await inChild(
      dir,
      { [TENSORFLOW_MODULE_ENV]: "./tfjs_node.ts" },
      String.raw`const info = await initBackend("auto");
assert.equal(info.name, "tensorflow");
assert.match(info.reason, /^auto: native TensorFlow is installed \(the tensorflow backend of \.\/tfjs_node\.ts\)/);
assert.deepEqual(Array.from(tf.square(tf.tensor1d([3])).dataSync()), [9]);`,
    );
  });
});

Deno.test("initBackend('tensorflow') rejects a module that is missing, of another version or not registering", async () => {
  await withStandIn(async (dir) => {
    const missing = join(dir, "absent.ts");
    await assert.rejects(
      () => initBackend("tensorflow", { tensorflowModule: missing }),
      new RegExp(`could not import ${RegExp.escape(missing)}: .*\\n.*deno install --allow-scripts`),
    );
    // A named module that fails is an error with auto too, not a silent fallback.
    await assert.rejects(() => initBackend("auto", { tensorflowModule: missing }), /could not import/);

    // Installed without its install script: no libtensorflow, after its kernels were registered.
    const unbuilt = join(dir, "unbuilt.ts");
    Deno.writeTextFileSync(unbuilt, standIn({ failToLoad: true }));
    await assert.rejects(
      () => initBackend("tensorflow", { tensorflowModule: unbuilt }),
      /could not import .*unbuilt\.ts: The Node\.js native addon module \(tfjs_binding\.node\) can not be found\n/,
    );
    assert.deepEqual(tf.getKernelsForBackend("tensorflow"), [], "its kernels are unregistered again");

    const older = join(dir, "older.ts");
    Deno.writeTextFileSync(older, standIn({ coreVersion: "4.21.0" }));
    await assert.rejects(
      () => initBackend("tensorflow", { tensorflowModule: older }),
      /built on tfjs-core 4\.21\.0, but the library uses 4\.22\.0\.\n.*tfjs-node at version 4\.22\.0/,
    );
    assert.equal(tf.findBackendFactory("tensorflow"), null, "the mismatched backend is removed again");
    assert.deepEqual(tf.getKernelsForBackend("tensorflow"), [], "and its kernels");
    assert.notEqual(tf.getBackend(), "tensorflow");
    await initBackend("cpu");

    const copy = join(dir, "copy.ts");
    Deno.writeTextFileSync(copy, standIn({ ownRegisterBackend: true }));
    await assert.rejects(
      () => initBackend("tensorflow", { tensorflowModule: copy }),
      /loaded its own copy of TensorFlow\.js/,
    );
    assert.equal(tf.findBackendFactory("tensorflow"), null);
    await initBackend("cpu");

    const silent = join(dir, "silent.ts");
    Deno.writeTextFileSync(silent, standIn({ register: false }));
    await assert.rejects(
      () => initBackend("tensorflow", { tensorflowModule: silent }),
      /registered no backend named 'tensorflow'/,
    );
    await assert.rejects(() => initBackend("tensorflow", { tensorflowModule: " " }), /module name is empty/);
  });
});

Deno.test("an installed tfjs-node is checked before import; auto reports a broken one and falls back", async () => {
  await withStandIn(async (dir) => {
    const pkg = join(dir, "node_modules", "@tensorflow", "tfjs-node");
    Deno.mkdirSync(pkg, { recursive: true });
    const work = join(dir, "project", "src"); // found in a parent folder's node_modules
    Deno.mkdirSync(work, { recursive: true });
    Deno.writeTextFileSync(join(pkg, "package.json"), JSON.stringify({ version: "4.21.0" }));
    await inChild(
      work,
      {},
      String.raw`await assert.rejects(
  () => initBackend("tensorflow"),
  /tfjs-node[/\\]package\.json is version "4\.21\.0", but the library's @tensorflow\/tfjs is 4\.22\.0.*\n.*deno add npm:@tensorflow\/tfjs-node@4\.22\.0/,
);
const auto = await initBackend("auto");
assert.notEqual(auto.name, "tensorflow");
assert.match(auto.reason, /^auto: @tensorflow\/tfjs-node@4\.21\.0 is installed but unusable \(.*4\.21\.0/);`,
    );
    // The right version, but with "nodeModulesDir": "none" (this project's setting) Deno never reads
    // node_modules: said before importing anything.
    Deno.writeTextFileSync(join(pkg, "package.json"), JSON.stringify({ version: tf.version_core }));
    await inChild(
      work,
      {},
      String.raw`await assert.rejects(
  () => initBackend("tensorflow"),
  /resolves npm:@tensorflow\/tfjs-node@4\.22\.0 to .*outside node_modules.*"nodeModulesDir" to "auto"/,
);`,
    );
  });
});

Deno.test("the README's tensorflow install names the tfjs-node version the library needs", () => {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const version = tf.version_core;
  assert.ok(readme.includes(`deno add npm:@tensorflow/tfjs-node@${version}`), `README: tfjs-node@${version}`);
  assert.ok(readme.includes("deno install --allow-scripts=npm:@tensorflow/tfjs-node"));
  const config = JSON.parse(Deno.readTextFileSync(CONFIG));
  assert.equal(
    config.imports["@tensorflow/tfjs"],
    `npm:@tensorflow/tfjs@${version}`,
    "one TensorFlow.js version",
  );
});
