/**
 * im2col (unfold) and col2im (fold) over NCHW data. unfold: one invocation per column element
 * `[n, (c·kh + ki)·kw + kj, oy·ow + ox]`, reading image pixel (oy·sh − ph + ki·dh, ox·sw − pw +
 * kj·dw) or 0 in the padding. fold, its adjoint, inverts the map instead of scattering: one
 * invocation per image pixel sums the column elements that read it (for each (ki, kj) the output
 * position is fixed when the stride divides the offset), so no atomics are needed and the sum
 * order is fixed.
 */
import type { WindowParams } from "../backend.js";
import type { DType } from "../dtype.js";
import { sizeOf, windowOutSize } from "../shape.js";
import type { GpuData, GpuRuntime } from "./device.js";
import { entry1d, PRELUDE, WG, wgslType } from "./wgsl.js";

/**
 * Parameters shared by both: total, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, and NB, the
 * images sharing a column row: 1 for columns `[N, C·kh·kw, L]`, N for `[C·kh·kw, N, L]`
 * (`p.batchInColumns`).
 */
function params(total: number, shape: readonly number[], p: WindowParams): number[] {
  const [oh, ow] = windowOutSize(shape[2]!, shape[3]!, p);
  return [total, shape[1]!, shape[2]!, shape[3]!, ...p.kernel, ...p.stride, ...p.padding, ...p.dilation, oh, ow, p.batchInColumns ? shape[0]! : 1];
}

const NAMES = `
  let C = P[1]; let H = i32(P[2]); let W = i32(P[3]);
  let kh = P[4]; let kw = P[5]; let sh = i32(P[6]); let sw = i32(P[7]);
  let ph = i32(P[8]); let pw = i32(P[9]); let dh = i32(P[10]); let dw = i32(P[11]);
  let oh = P[12]; let ow = P[13]; let NB = P[14];`;

/** im2col: NCHW `x` → `[N, C·kh·kw, oh·ow]` (or `[C·kh·kw, N, oh·ow]`), zero padding. */
export function unfold(rt: GpuRuntime, x: GpuData, shape: readonly number[], p: WindowParams, dtype: DType): GpuData {
  const t = wgslType(dtype);
  const [oh, ow] = windowOutSize(shape[2]!, shape[3]!, p);
  const total = shape[0]! * shape[1]! * p.kernel[0] * p.kernel[1] * oh * ow;
  const out = rt.alloc(total * 4);
  rt.dispatch(
    `unfold:${t}`,
    () => `${PRELUDE}
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> Y: array<${t}>;
${entry1d()}
  if (i >= P[0]) { return; }${NAMES}
  let L = oh * ow;
  let l = i % L;
  // i = ((n₁·R + row)·NB + n₀)·L + l, where one of n₁ (NB = 1) and n₀ (NB = N) is the image.
  let rest = i / (L * NB);
  let row = rest % (C * kh * kw);
  let n = rest / (C * kh * kw) + (i / L) % NB;
  let kj = row % kw;
  let ki = (row / kw) % kh;
  let c = row / (kw * kh);
  let y = i32(l / ow) * sh - ph + i32(ki) * dh;
  let x = i32(l % ow) * sw - pw + i32(kj) * dw;
  var v = ${t}(0);
  if (y >= 0 && y < H && x >= 0 && x < W) { v = X[((n * C + c) * u32(H) + u32(y)) * u32(W) + u32(x)]; }
  Y[i] = v;
}`,
    params(total, shape, p),
    [x.buffer, out.buffer],
    Math.ceil(total / WG),
  );
  return out;
}

/** col2im: `[N, C·kh·kw, oh·ow]` (or `[C·kh·kw, N, oh·ow]`) → NCHW `outShape`, summing overlaps. */
export function fold(rt: GpuRuntime, cols: GpuData, outShape: readonly number[], p: WindowParams, dtype: DType): GpuData {
  const t = wgslType(dtype);
  const total = sizeOf(outShape);
  const out = rt.alloc(total * 4);
  rt.dispatch(
    `fold:${t}`,
    () => `${PRELUDE}
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> Y: array<${t}>;
${entry1d()}
  if (i >= P[0]) { return; }${NAMES}
  let x = i32(i % u32(W));
  let y = i32((i / u32(W)) % u32(H));
  let nc = i / (u32(W) * u32(H));
  let L = oh * ow;
  // Column row r of image n starts at n·imgStride + r·rowStride.
  let rowStride = NB * L;
  let imgStride = select(L, C * kh * kw * L, NB == 1u);
  let n = nc / C;
  let c = nc % C;
  var acc = ${t}(0);
  for (var ki = 0u; ki < kh; ki++) {
    let ty = y + ph - i32(ki) * dh;
    if (ty < 0 || ty % sh != 0) { continue; }
    let oy = u32(ty / sh);
    if (oy >= oh) { continue; }
    for (var kj = 0u; kj < kw; kj++) {
      let tx = x + pw - i32(kj) * dw;
      if (tx < 0 || tx % sw != 0) { continue; }
      let ox = u32(tx / sw);
      if (ox >= ow) { continue; }
      acc += X[n * imgStride + ((c * kh + ki) * kw + kj) * rowStride + oy * ow + ox];
    }
  }
  Y[i] = acc;
}`,
    params(total, outShape, p),
    [cols.buffer, out.buffer],
    Math.ceil(total / WG),
  );
  return out;
}

/**
 * Max pooling's argmax: one invocation per window of NCHW `x`, the flat index of its first
 * largest element (taps in the padding skipped; the first NaN wins).
 */
export function windowArgmax(rt: GpuRuntime, x: GpuData, shape: readonly number[], p: WindowParams, dtype: DType): GpuData {
  const t = wgslType(dtype);
  const [oh, ow] = windowOutSize(shape[2]!, shape[3]!, p);
  const total = shape[0]! * shape[1]! * oh * ow;
  const out = rt.alloc(total * 4);
  if (total === 0) return out;
  const nan = t === "f32" ? "is_nan" : "no_nan";
  rt.dispatch(
    `windowArgmax:${t}`,
    () => `${PRELUDE}
fn no_nan(x: ${t}) -> bool { return false; }
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> Y: array<i32>;
${entry1d()}
  if (i >= P[0]) { return; }${NAMES}
  let ox = i32(i % ow);
  let oy = i32((i / ow) % oh);
  let base = (i / (oh * ow)) * u32(H) * u32(W);
  var at = -1;
  var b = ${t}(0);
  for (var ki = 0u; ki < kh; ki++) {
    let y = oy * sh - ph + i32(ki) * dh;
    if (y < 0 || y >= H) { continue; }
    for (var kj = 0u; kj < kw; kj++) {
      let x = ox * sw - pw + i32(kj) * dw;
      if (x < 0 || x >= W) { continue; }
      let j = base + u32(y) * u32(W) + u32(x);
      let v = X[j];
      if (at < 0 || (!${nan}(b) && (${nan}(v) || v > b))) { b = v; at = i32(j); }
    }
  }
  Y[i] = at;
}`,
    params(total, shape, p),
    [x.buffer, out.buffer],
    Math.ceil(total / WG),
  );
  return out;
}
