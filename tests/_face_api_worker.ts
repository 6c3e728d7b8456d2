/**
 * face-api in a worker of its own: its browser ESM bundle, which carries its own copy of TensorFlow.js,
 * runs here on that copy's wasm backend (the .wasm binaries of the installed
 * `@tensorflow/tfjs-backend-wasm`, the version the bundle was built with), with its networks' weights read
 * from the installed package. A worker has its own globals, so none of face-api's TensorFlow.js (engine,
 * flags, kernel registry) touches the project's: the reference is independent down to the kernels.
 *
 * Messages in: `{ id, kind: "detect", pixels, width, height }` and `{ id, kind: "descriptor", pixels }`;
 * out: `{ id, result }` or `{ id, error }`, and `{ ready: backend }` once loaded.
 */
/// <reference lib="deno.worker" />
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const modelDir = dirname(
  fileURLToPath(import.meta.resolve("@vladmandic/face-api/model/face_recognition_model.bin")),
);

const g = globalThis as Record<string, unknown>;
/** Runs `f` with `process` hidden (face-api's bundle and its wasm loader would take Deno for Node). */
async function withoutProcess<T>(f: () => Promise<T>): Promise<T> {
  const saved = Object.getOwnPropertyDescriptor(g, "process");
  Object.defineProperty(g, "process", { value: undefined, configurable: true, writable: true });
  try {
    return await f();
  } finally {
    if (saved) Object.defineProperty(g, "process", saved);
    else delete g.process;
  }
}

// The bundle is evaluated as in a browser (as in Node it would need Node's `util`); face-api's own Node
// environment (file reads) is set up afterwards.
// deno-lint-ignore no-explicit-any
const api: any = await withoutProcess(() => import("@vladmandic/face-api/dist/face-api.esm.js"));
api.env.initialize();
const ftf = api.tf;
// The .wasm binaries of the installed package, fetched by file URL, one thread (no nested workers).
ftf.setWasmPaths(new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm")).href, true);
ftf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
const backend = (await withoutProcess(() => ftf.setBackend("wasm")).catch(() => false)) ? "wasm" : "cpu";
if (backend === "cpu") await ftf.setBackend("cpu");
await ftf.ready();

// deno-lint-ignore no-explicit-any
async function load(net: any, name: string) {
  const manifest = JSON.parse(await Deno.readTextFile(join(modelDir, `${name}-weights_manifest.json`)));
  const bytes = (await Deno.readFile(join(modelDir, `${name}.bin`))).slice().buffer;
  // deno-lint-ignore no-explicit-any
  net.loadFromWeightMap(ftf.io.decodeWeights(bytes, manifest.flatMap((m: any) => m.weights)));
}
await load(api.nets.faceRecognitionNet, "face_recognition_model");
await load(api.nets.ssdMobilenetv1, "ssd_mobilenetv1_model");

async function detect(pixels: Uint8Array, width: number, height: number) {
  const image = ftf.tensor3d(pixels, [height, width, 3], "int32");
  try {
    const found = await api.detectAllFaces(image, new api.SsdMobilenetv1Options({ minConfidence: 0.5 }));
    // deno-lint-ignore no-explicit-any
    return found.map((d: any) => ({
      x: d.box.x,
      y: d.box.y,
      width: d.box.width,
      height: d.box.height,
      score: d.score,
    }));
  } finally {
    image.dispose();
  }
}

async function descriptor(pixels: Uint8Array): Promise<Float32Array> {
  const crop = ftf.tensor3d(Float32Array.from(pixels), [150, 150, 3]);
  try {
    return Float32Array.from(await api.nets.faceRecognitionNet.computeFaceDescriptor(crop));
  } finally {
    crop.dispose();
  }
}

self.onmessage = async (event: MessageEvent) => {
  const { id, kind, pixels, width, height } = event.data;
  try {
    const result = kind === "detect" ? await detect(pixels, width, height) : await descriptor(pixels);
    self.postMessage({ id, result });
  } catch (error) {
    self.postMessage({ id, error: String((error as Error)?.stack ?? error) });
  }
};
self.postMessage({ ready: backend });
