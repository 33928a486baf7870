import type { WindowParams } from "../backend.js";
import type { TypedArray } from "../dtype.js";
import { windowOutSize, type Shape } from "../shape.js";

/** NCHW `shape` and window `p` unpacked, with the output size. */
function dims(shape: Shape, p: WindowParams) {
  const [n, c, h, w] = shape as [number, number, number, number];
  const [oh, ow] = windowOutSize(h, w, p);
  return { n, c, h, w, kh: p.kernel[0], kw: p.kernel[1], sh: p.stride[0], sw: p.stride[1], ph: p.padding[0], pw: p.padding[1], dh: p.dilation[0], dw: p.dilation[1], oh, ow };
}

/**
 * im2col and col2im share one walk over every (column row, output position) pair of NCHW
 * `shape` (columns `[N, C·kh·kw, L]`, or `[C·kh·kw, N, L]` with `p.batchInColumns`); positions
 * in the padding are skipped (their columns stay zero). For each (row, oy) the valid ox form one
 * interval, computed once, so the inner loop is a plain strided copy with no bounds tests and no
 * per-element callback (the callback version cost ~28% of a LeNet step).
 */
function walk(shape: Shape, p: WindowParams, cols: TypedArray, img: TypedArray, toCols: boolean): void {
  const { n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow } = dims(shape, p);
  const L = oh * ow;
  const rows = c * kh * kw;
  // Column row r of image b starts at b·imgStride + r·rowStride: [N, rows, L], or [rows, N, L].
  const [imgStride, rowStride] = p.batchInColumns ? [L, n * L] : [rows * L, L];
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const imgBase = (b * c + ch) * h * w;
      for (let ki = 0; ki < kh; ki++) {
        for (let kj = 0; kj < kw; kj++) {
          const colBase = b * imgStride + ((ch * kh + ki) * kw + kj) * rowStride;
          // x = ox·sw + dx must lie in [0, w): ox ∈ [ox0, ox1).
          const dx = kj * dw - pw;
          const ox0 = dx >= 0 ? 0 : Math.min(ow, Math.ceil(-dx / sw));
          const ox1 = Math.max(ox0, Math.min(ow, Math.floor((w - 1 - dx) / sw) + 1));
          for (let oy = 0; oy < oh; oy++) {
            const y = oy * sh - ph + ki * dh;
            if (y < 0 || y >= h) continue;
            const co = colBase + oy * ow;
            const io = imgBase + y * w + dx;
            if (toCols) {
              if (sw === 1) for (let ox = ox0; ox < ox1; ox++) cols[co + ox] = img[io + ox]!;
              else for (let ox = ox0; ox < ox1; ox++) cols[co + ox] = img[io + ox * sw]!;
            } else if (sw === 1) for (let ox = ox0; ox < ox1; ox++) img[io + ox] += cols[co + ox]!;
            else for (let ox = ox0; ox < ox1; ox++) img[io + ox * sw] += cols[co + ox]!;
          }
        }
      }
    }
  }
}

export function unfoldKernel(x: TypedArray, shape: Shape, p: WindowParams, out: TypedArray): void {
  walk(shape, p, out, x, true);
}

export function foldKernel(cols: TypedArray, outShape: Shape, p: WindowParams, out: TypedArray): void {
  walk(outShape, p, cols, out, false);
}

/**
 * Max pooling's argmax (Backend.windowArgmax): for each window of NCHW `x`, the flat index of its
 * first largest element, taps in the padding skipped; NaN wins, the first one.
 */
export function windowArgmaxKernel(x: TypedArray, shape: Shape, p: WindowParams, out: Int32Array): void {
  const { n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow } = dims(shape, p);
  let o = 0;
  for (let plane = 0; plane < n * c; plane++) {
    const base = plane * h * w;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let at = -1;
        let best = 0;
        for (let ki = 0; ki < kh; ki++) {
          const y = oy * sh - ph + ki * dh;
          if (y < 0 || y >= h) continue;
          for (let kj = 0; kj < kw; kj++) {
            const xx = ox * sw - pw + kj * dw;
            if (xx < 0 || xx >= w) continue;
            const i = base + y * w + xx;
            const v = x[i]!;
            if (at < 0 || v > best || (v !== v && best === best)) {
              at = i;
              best = v;
            }
          }
        }
        out[o++] = at;
      }
    }
  }
}
