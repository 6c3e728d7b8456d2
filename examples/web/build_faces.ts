/**
 * Prepares an export folder for the faces page (`faces.html`): bundles `faces.ts` (the library's face
 * detector, landmark network and alignment geometry, with TensorFlow.js) into `faces.bundle.js` and copies
 * the detector and landmark weights of the installed `@vladmandic/face-api` package into `face-models/`.
 *
 * ```sh
 * deno task export runs/x --out examples/web/model
 * deno run --allow-read --allow-write --allow-env --allow-run examples/web/build_faces.ts examples/web/model
 * deno run --allow-net=127.0.0.1 --allow-read examples/web/serve.ts --port 8000   # then open /faces.html
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { packagedModelDir } from "../../datasets/faces/weights.ts";

/** The `.wasm` binaries of TensorFlow.js's wasm backend, copied into `wasm/` for `?backend=wasm`. */
export const WASM_FILES: readonly string[] = Object.freeze([
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
]);

/** The files of face-api's `model/` folder that the page needs. */
export const FACE_MODEL_FILES: readonly string[] = Object.freeze([
  "ssd_mobilenetv1_model-weights_manifest.json",
  "ssd_mobilenetv1_model.bin",
  "face_landmark_68_model-weights_manifest.json",
  "face_landmark_68_model.bin",
]);

/**
 * Writes `faces.bundle.js`, `face-models/` and `wasm/` into `outDir` (created when missing).
 *
 * @example
 * ```ts ignore
 * import { buildFaces } from "./build_faces.ts";
 * await buildFaces("examples/web/model");
 * ```
 */
export async function buildFaces(outDir: string): Promise<void> {
  await Deno.mkdir(join(outDir, "face-models"), { recursive: true });
  const entry = fileURLToPath(new URL("./faces.ts", import.meta.url));
  const config = fileURLToPath(new URL("../../deno.json", import.meta.url));
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--config",
      config,
      "--platform",
      "browser",
      "--minify",
      "--output",
      join(outDir, "faces.bundle.js"),
      entry,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(out.stderr)}`);
  const models = packagedModelDir();
  for (const f of FACE_MODEL_FILES) await Deno.copyFile(join(models, f), join(outDir, "face-models", f));
  const wasm = fileURLToPath(new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm")));
  await Deno.mkdir(join(outDir, "wasm"), { recursive: true });
  for (const f of WASM_FILES) await Deno.copyFile(join(wasm, f), join(outDir, "wasm", f));
}

if (import.meta.main) {
  const outDir = Deno.args[0] ?? fileURLToPath(new URL("./model", import.meta.url));
  await buildFaces(outDir);
  console.log(
    `wrote ${join(outDir, "faces.bundle.js")}, ${join(outDir, "face-models")}/ and ${join(outDir, "wasm")}/`,
  );
}
