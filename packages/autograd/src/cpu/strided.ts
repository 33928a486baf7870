import type { TypedArray } from "../dtype.js";
import type { Shape } from "../shape.js";

/** Strides of `shape` aligned to `outShape`'s rank, 0 where the dim is broadcast. */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const rank = outShape.length;
  const s = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = rank - shape.length + i;
    s[o] = shape[i] === 1 && outShape[o] !== 1 ? 0 : acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * out[i] = src[offset + Σ idx_d · strides_d] for every index of `outShape`, in row-major order.
 * One loop serves permute (permuted strides), expand (zero strides) and slice (an offset).
 */
export function gatherStrided(src: TypedArray, out: TypedArray, outShape: Shape, strides: readonly number[], offset: number): void {
  const rank = outShape.length;
  if (out.length === 0) return;
  if (rank === 0) {
    out[0] = src[offset]!;
    return;
  }
  const last = outShape[rank - 1]!;
  const sl = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let base = offset;
  for (let o = 0; o < out.length; o += last) {
    if (sl === 1) for (let j = 0; j < last; j++) out[o + j] = src[base + j]!;
    else for (let j = 0; j < last; j++) out[o + j] = src[base + j * sl]!;
    for (let d = rank - 2; d >= 0; d--) {
      base += strides[d]!;
      if (++idx[d]! < outShape[d]!) break;
      base -= strides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

/** dst[offset + Σ idx_d · strides_d] = src[i]: the inverse of {@link gatherStrided} (pad, concat). */
export function scatterStrided(src: TypedArray, shape: Shape, dst: TypedArray, strides: readonly number[], offset: number): void {
  const rank = shape.length;
  if (src.length === 0) return;
  if (rank === 0) {
    dst[offset] = src[0]!;
    return;
  }
  const last = shape[rank - 1]!;
  const sl = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let base = offset;
  for (let o = 0; o < src.length; o += last) {
    for (let j = 0; j < last; j++) dst[base + j * sl] = src[o + j]!;
    for (let d = rank - 2; d >= 0; d--) {
      base += strides[d]!;
      if (++idx[d]! < shape[d]!) break;
      base -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

type Binary = (x: number, y: number) => number;

/**
 * Builds a broadcasting binary loop for `f`. Each kernel gets its own closure so V8 sees one
 * monomorphic call of `f` per loop and can inline it.
 */
export function makeBinaryLoop(f: Binary) {
  return (a: TypedArray, aShape: Shape, b: TypedArray, bShape: Shape, out: TypedArray, outShape: Shape): void => {
    const n = out.length;
    if (n === 0) return;
    if (a.length === n && b.length === n) {
      for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i]!);
      return;
    }
    if (b.length === 1 && a.length === n) {
      const y = b[0]!;
      for (let i = 0; i < n; i++) out[i] = f(a[i]!, y);
      return;
    }
    if (a.length === 1 && b.length === n) {
      const x = a[0]!;
      for (let i = 0; i < n; i++) out[i] = f(x, b[i]!);
      return;
    }
    const rank = outShape.length;
    const as = broadcastStrides(aShape, outShape);
    const bs = broadcastStrides(bShape, outShape);
    const last = outShape[rank - 1]!;
    const sa = as[rank - 1]!;
    const sb = bs[rank - 1]!;
    const idx = new Array<number>(rank).fill(0);
    let ai = 0;
    let bi = 0;
    for (let o = 0; o < n; o += last) {
      for (let j = 0; j < last; j++) out[o + j] = f(a[ai + j * sa]!, b[bi + j * sb]!);
      for (let d = rank - 2; d >= 0; d--) {
        ai += as[d]!;
        bi += bs[d]!;
        if (++idx[d]! < outShape[d]!) break;
        ai -= as[d]! * outShape[d]!;
        bi -= bs[d]! * outShape[d]!;
        idx[d] = 0;
      }
    }
  };
}

/**
 * Reduces `x` over `axes` into `out` (same rank, size 1 at the axes) with `f`, starting from `init`.
 * Odometer over the input with the output strides zeroed at the reduced axes.
 */
export function makeReduceLoop(f: Binary, init: number) {
  return (x: TypedArray, shape: Shape, axes: readonly number[], out: TypedArray): void => {
    out.fill(init);
    const rank = shape.length;
    if (x.length === 0) return;
    if (rank === 0) {
      out[0] = f(init, x[0]!);
      return;
    }
    const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const os = broadcastStrides(outShape, shape);
    const last = shape[rank - 1]!;
    const sl = os[rank - 1]!;
    const idx = new Array<number>(rank).fill(0);
    let oi = 0;
    for (let i = 0; i < x.length; i += last) {
      if (sl === 0) {
        let acc = out[oi]!;
        for (let j = 0; j < last; j++) acc = f(acc, x[i + j]!);
        out[oi] = acc;
      } else {
        for (let j = 0; j < last; j++) out[oi + j] = f(out[oi + j]!, x[i + j]!);
      }
      for (let d = rank - 2; d >= 0; d--) {
        oi += os[d]!;
        if (++idx[d]! < shape[d]!) break;
        oi -= os[d]! * shape[d]!;
        idx[d] = 0;
      }
    }
  };
}
