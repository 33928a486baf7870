import type { WindowParams } from "../backend.js";
import type { TypedArray } from "../dtype.js";
import type { Shape } from "../shape.js";

/** Output spatial size ⌊(N + 2P − D·(F−1) − 1)/S⌋ + 1 per axis. */
export function windowOutSize(h: number, w: number, p: WindowParams): [number, number] {
  const oh = Math.floor((h + 2 * p.padding[0] - p.dilation[0] * (p.kernel[0] - 1) - 1) / p.stride[0]) + 1;
  const ow = Math.floor((w + 2 * p.padding[1] - p.dilation[1] * (p.kernel[1] - 1) - 1) / p.stride[1]) + 1;
  return [oh, ow];
}

/**
 * Walks every (column row, output position) pair of an im2col over NCHW `shape` and calls
 * `visit(colIndex, imageIndex)` for positions inside the image (padding positions are skipped).
 * unfold copies image → column, fold accumulates column → image: one walk, two directions.
 */
function walk(shape: Shape, p: WindowParams, visit: (col: number, img: number) => void): void {
  const [n, c, h, w] = shape as [number, number, number, number];
  const [kh, kw] = p.kernel;
  const [oh, ow] = windowOutSize(h, w, p);
  const L = oh * ow;
  const rows = c * kh * kw;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const imgBase = (b * c + ch) * h * w;
      for (let ki = 0; ki < kh; ki++) {
        for (let kj = 0; kj < kw; kj++) {
          const row = (ch * kh + ki) * kw + kj;
          const colBase = (b * rows + row) * L;
          for (let oy = 0; oy < oh; oy++) {
            const y = oy * p.stride[0] - p.padding[0] + ki * p.dilation[0];
            if (y < 0 || y >= h) continue;
            for (let ox = 0; ox < ow; ox++) {
              const x = ox * p.stride[1] - p.padding[1] + kj * p.dilation[1];
              if (x < 0 || x >= w) continue;
              visit(colBase + oy * ow + ox, imgBase + y * w + x);
            }
          }
        }
      }
    }
  }
}

export function unfoldKernel(x: TypedArray, shape: Shape, p: WindowParams, out: TypedArray): void {
  walk(shape, p, (col, img) => {
    out[col] = x[img]!;
  });
}

export function foldKernel(cols: TypedArray, outShape: Shape, p: WindowParams, out: TypedArray): void {
  walk(outShape, p, (col, img) => {
    out[img] += cols[col]!;
  });
}
