/**
 * Convolution geometry shared by the wasm training kernels and the native kernels: TensorFlow.js's
 * `computeConv2DInfo` read into plain fields.
 *
 * @module
 */
import { tf } from "./tf.ts";

/** A stride or dilation attribute (`n` or `[h, w]`) as `[h, w]`. */
function toPair(v: unknown): [number, number] {
  if (typeof v === "number") return [v, v];
  const a = v as number[];
  return [a[0], a[1] ?? a[0]];
}

/** The shapes, strides, dilations and explicit paddings of an NHWC convolution. */
export interface ConvGeometry {
  n: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  top: number;
  left: number;
  bottom: number;
  right: number;
}

/** The geometry of a convolution of `xShape` (NHWC) by `filterShape` (HWIO) with these attributes. */
export function convGeometry(
  xShape: number[],
  filterShape: number[],
  strides: unknown,
  dilations: unknown,
  pad: unknown,
  dimRoundingMode: unknown,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    toPair(strides),
    dilations == null ? 1 : toPair(dilations),
    pad as "same",
    dimRoundingMode as "floor" | undefined,
  );
  const p = info.padInfo;
  return {
    n: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    top: p.top,
    left: p.left,
    bottom: p.bottom,
    right: p.right,
  };
}
