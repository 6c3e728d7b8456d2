/**
 * face-api (`@vladmandic/face-api`, the project's dependency that ships dlib's face-recognition weights)
 * as an independent reference, run in a worker of its own (`_face_api_worker.ts`): its browser bundle
 * with its own copy of TensorFlow.js on that copy's wasm backend. Nothing of it shares state with the
 * project's TensorFlow.js, so the tests keep whatever backend they chose.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** A face box in pixels, with the detector's score. */
export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
}

/** The part of face-api's API the tests use. */
export interface FaceApi {
  /** The backend face-api's TensorFlow.js runs on in its worker (`wasm`, or `cpu` if wasm failed). */
  backend: string;
  /** Face boxes (pixels) of an RGB image given as [height, width, 3] 0..255 values. */
  detect(pixels: Uint8Array, width: number, height: number): Promise<FaceBox[]>;
  /** face-api's `computeFaceDescriptor` of a 150x150 RGB crop (0..255 values). */
  descriptor(pixels: Uint8Array): Promise<Float32Array>;
  /** Stops the worker. */
  close(): void;
}

/** The installed package's `model/` folder. */
export function faceApiModelDir(): string {
  return dirname(fileURLToPath(import.meta.resolve("@vladmandic/face-api/model/face_recognition_model.bin")));
}

/** Starts face-api in its worker (detector and face-recognition net loaded). */
export async function loadFaceApi(): Promise<FaceApi> {
  const worker = new Worker(new URL("./_face_api_worker.ts", import.meta.url), { type: "module" });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let next = 0;
  let failed: Error | null = null;
  const backend = await new Promise<string>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent) => {
      const { ready, id, result, error } = event.data;
      if (ready !== undefined) return resolve(ready);
      const call = pending.get(id);
      pending.delete(id);
      if (error !== undefined) call?.reject(new Error(`face-api: ${error}`));
      else call?.resolve(result);
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      failed = new Error(`face-api's worker failed: ${event.message}`);
      reject(failed);
      for (const call of pending.values()) call.reject(failed);
      pending.clear();
    };
  });
  const call = <T>(message: Record<string, unknown>) =>
    new Promise<T>((resolve, reject) => {
      if (failed) return reject(failed);
      const id = next++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ id, ...message });
    });
  return {
    backend,
    detect: (pixels, width, height) => call<FaceBox[]>({ kind: "detect", pixels, width, height }),
    descriptor: (pixels) => call<Float32Array>({ kind: "descriptor", pixels }),
    close: () => worker.terminate(),
  };
}
