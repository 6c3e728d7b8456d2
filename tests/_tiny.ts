/**
 * Test helper: the config overrides of a tiny, fast training run on the built-in synthetic set (the tiny
 * backbone at 16 px, batches of 8), its faces generated into a folder of the test's own.
 *
 * @module
 */

/** Options of {@linkcode tinySyntheticOverrides}. */
export interface TinyOptions {
  /** The backend (default `wasm`, on every machine). */
  backend?: string;
  /** The side of the generated faces (default 16, the training size). */
  faceSize?: number;
}

/** Overrides for a tiny run on `count` synthetic faces generated into `cacheDir`; add the test's own. */
export function tinySyntheticOverrides(cacheDir: string, count: number, options: TinyOptions = {}): string[] {
  return [
    `backend=${options.backend ?? "wasm"}`,
    "model.backbone=tiny",
    "data.size=16",
    `data.synthetic.count=${count}`,
    `data.synthetic.size=${options.faceSize ?? 16}`,
    `data.synthetic.cacheDir=${JSON.stringify(cacheDir)}`,
    "trainer.batchSize=8",
  ];
}
