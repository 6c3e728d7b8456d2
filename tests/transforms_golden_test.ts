/**
 * The image operations equal Pillow 9.4 byte for byte on a wide golden set: every operation at many
 * magnitudes, with nearest, bilinear and bicubic resampling, on seeded images of several sizes and
 * kinds of content. `tests/fixtures/make_transform_golden.py` wrote the set with Debian's Pillow.
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import {
  autoContrast,
  brightness,
  color,
  contrast,
  equalize,
  type Interpolation,
  invert,
  posterize,
  type RgbImage,
  rgbImage,
  rotate,
  sharpness,
  shearX,
  shearY,
  solarize,
  solarizeAdd,
  translateX,
  translateY,
} from "../datasets/transforms.ts";

interface Golden {
  pillow: string;
  fill: [number, number, number];
  images: { kind: string; width: number; height: number; offset: number }[];
  cases: { image: number; op: string; args: (number | string)[]; offset: number }[];
}

const fixtures = new URL("./fixtures/", import.meta.url);
const golden = JSON.parse(await Deno.readTextFile(new URL("transforms_golden.json", fixtures))) as Golden;
const blob = new Uint8Array(gunzipSync(await Deno.readFile(new URL("transforms_golden.bin.gz", fixtures))));

type Op = (image: RgbImage, args: (number | string)[]) => RgbImage;
const fill = golden.fill;
const geometric = (f: typeof rotate): Op => (image, [amount, interpolation]) =>
  f(image, amount as number, { fill, interpolation: interpolation as Interpolation });
const OPS: Record<string, Op> = {
  invert: (image) => invert(image),
  solarize: (image, [t]) => solarize(image, t as number),
  solarizeAdd: (image, [a]) => solarizeAdd(image, a as number),
  posterize: (image, [b]) => posterize(image, b as number),
  autoContrast: (image) => autoContrast(image),
  equalize: (image) => equalize(image),
  color: (image, [f]) => color(image, f as number),
  contrast: (image, [f]) => contrast(image, f as number),
  brightness: (image, [f]) => brightness(image, f as number),
  sharpness: (image, [f]) => sharpness(image, f as number),
  rotate: geometric(rotate),
  shearX: geometric(shearX),
  shearY: geometric(shearY),
  translateX: geometric(translateX),
  translateY: geometric(translateY),
};

Deno.test("the golden set covers every operation, image and resampling filter", () => {
  assert.equal(golden.pillow, "9.4.0");
  assert.ok(golden.cases.length >= 900, `${golden.cases.length} cases`);
  assert.deepEqual([...new Set(golden.cases.map((c) => c.op))].sort(), Object.keys(OPS).sort());
  assert.equal(new Set(golden.cases.map((c) => c.image)).size, golden.images.length);
  const filters = new Set(golden.cases.filter((c) => c.op === "rotate").map((c) => c.args[1]));
  assert.deepEqual([...filters].sort(), ["bicubic", "bilinear", "nearest"]);
});

for (const op of Object.keys(OPS)) {
  Deno.test(`${op}() equals Pillow 9.4 on every golden case`, () => {
    const failures: string[] = [];
    let checked = 0;
    for (const c of golden.cases.filter((c) => c.op === op)) {
      const { width, height, offset, kind } = golden.images[c.image];
      const n = width * height * 3;
      const input = rgbImage(blob.slice(offset, offset + n), width, height);
      const expected = blob.subarray(c.offset, c.offset + n);
      const got = OPS[op](input, c.args).data;
      let differ = 0;
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const d = Math.abs(got[i] - expected[i]);
        if (d) differ++;
        worst = Math.max(worst, d);
      }
      if (differ) {
        failures.push(
          `${op}(${
            c.args.join(", ")
          }) on the ${kind} ${width}x${height} image: ${differ} values differ, by up to ${worst}`,
        );
      }
      checked++;
    }
    assert.ok(checked > 0);
    assert.deepEqual(failures, []);
  });
}
