/**
 * face-api (`@vladmandic/face-api`, the project's dependency that ships dlib's face-recognition weights)
 * loaded in Deno as an independent reference: its browser ESM bundle, which carries its own copy of
 * TensorFlow.js, on the cpu backend, with its networks' weights read from the installed package. Its
 * bundle takes Deno for Node (it has `process`) and then needs Node's `util`, so `process` is hidden
 * while the bundle is evaluated and face-api's Node environment is set up afterwards.
 *
 * TensorFlow.js keeps one engine and one set of flags per process (globals), so face-api's tensors and
 * the project's share them (and the platform the project's TensorFlow.js set up); face-api's graph (its
 * own layers, padding and shortcut code) is what is independent.
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { tf } from "../engine/tf.ts";

/** The part of face-api's API the tests use. */
export interface FaceApi {
  /** face-api's TensorFlow.js. */
  // deno-lint-ignore no-explicit-any
  tf: any;
  /** Face boxes (pixels) of an RGB image given as [height, width, 3] 0..255 values. */
  detect(
    pixels: Uint8Array,
    width: number,
    height: number,
  ): Promise<{ x: number; y: number; width: number; height: number; score: number }[]>;
  /** face-api's `computeFaceDescriptor` of a 150x150 RGB crop (0..255 values). */
  descriptor(pixels: Uint8Array): Promise<Float32Array>;
}

/** The installed package's `model/` folder. */
export function faceApiModelDir(): string {
  return join(
    dirname(fileURLToPath(import.meta.resolve("@vladmandic/face-api/model/face_recognition_model.bin"))),
  );
}

let loaded: Promise<FaceApi> | undefined;

/** Loads face-api once per process (detector and face-recognition net). */
export function loadFaceApi(): Promise<FaceApi> {
  loaded ??= (async () => {
    const g = globalThis as Record<string, unknown>;
    const saved = Object.getOwnPropertyDescriptor(g, "process");
    // The flags live in the shared environment: the project's TensorFlow.js may have set IS_NODE already.
    const flags = tf.env();
    const wasNode = flags.getBool("IS_NODE");
    flags.set("IS_NODE", false);
    Object.defineProperty(g, "process", { value: undefined, configurable: true, writable: true });
    // deno-lint-ignore no-explicit-any
    let api: any;
    try {
      api = await import("@vladmandic/face-api/dist/face-api.esm.js");
    } finally {
      if (saved) Object.defineProperty(g, "process", saved);
      else delete g.process;
      flags.set("IS_NODE", wasNode);
    }
    api.env.initialize();
    const ftf = api.tf;
    const dir = faceApiModelDir();
    // deno-lint-ignore no-explicit-any
    const load = async (net: any, name: string) => {
      const manifest = JSON.parse(await Deno.readTextFile(join(dir, `${name}-weights_manifest.json`)));
      const bytes = (await Deno.readFile(join(dir, `${name}.bin`))).slice().buffer;
      // deno-lint-ignore no-explicit-any
      net.loadFromWeightMap(ftf.io.decodeWeights(bytes, manifest.flatMap((g: any) => g.weights)));
    };
    await load(api.nets.faceRecognitionNet, "face_recognition_model");
    await load(api.nets.ssdMobilenetv1, "ssd_mobilenetv1_model");
    return {
      tf: ftf,
      async detect(pixels, width, height) {
        const image = ftf.tensor3d(pixels, [height, width, 3], "int32");
        try {
          const found = await api.detectAllFaces(
            image,
            new api.SsdMobilenetv1Options({ minConfidence: 0.5 }),
          );
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
      },
      async descriptor(pixels) {
        const crop = ftf.tensor3d(Float32Array.from(pixels), [150, 150, 3]);
        try {
          return await api.nets.faceRecognitionNet.computeFaceDescriptor(crop) as Float32Array;
        } finally {
          crop.dispose();
        }
      },
    };
  })();
  return loaded;
}
