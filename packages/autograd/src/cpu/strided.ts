import type { TypedArray } from "../dtype.js";
import { broadcastStrides, type Shape } from "../shape.js";

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

/**
 * A batch of row-major `rows`×`cols` matrices transposed, `out[b][j][i] = src[b][i][j]`, through
 * the generic strided gather: the closure fallback for {@link transposeLast2Body} where code
 * generation is forbidden (same values; it is a copy).
 */
export function transposeLast2(src: TypedArray, out: TypedArray, batch: number, rows: number, cols: number): void {
  gatherStrided(src, out, [batch, cols, rows], [rows * cols, 1, cols], 0);
}

/**
 * The compiled transpose (a permute that swaps the last two axes, as the matmul VJPs g·Bᵀ and
 * Aᵀ·g materialise): it walks TILE×TILE blocks so both the rows read and the rows written stay in
 * L1, where the strided gather touches a new cache line for every element once a matrix is wider
 * than L1. Parameters (src, out, batch, rows, cols) as {@link transposeLast2}.
 */
export const transposeLast2Body = `
  const TILE = 32;
  const mat = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * mat;
    for (let i0 = 0; i0 < rows; i0 += TILE) {
      const i1 = Math.min(i0 + TILE, rows);
      for (let j0 = 0; j0 < cols; j0 += TILE) {
        const j1 = Math.min(j0 + TILE, cols);
        for (let j = j0; j < j1; j++) {
          const o = base + j * rows;
          for (let i = i0; i < i1; i++) out[o + i] = src[base + i * cols + j];
        }
      }
    }
  }`;

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
type BinaryLoop = (a: TypedArray, aShape: Shape, b: TypedArray, bShape: Shape, out: TypedArray, outShape: Shape) => void;

/**
 * Compiles a loop whose body is the expression `expr` in `x` and `y`, so each kernel has its own
 * monomorphic, inlined loop. A closure calling `f` shares one call site across every kernel built
 * from the same literal, which V8 then cannot inline (add ran 7× slower that way). The
 * expressions are constants of this file, never user input. Where code generation is forbidden
 * (a strict Content-Security-Policy), the closure version runs instead: slower, same results.
 */
export function compile<F>(params: string[], body: string, fallback: F): F {
  try {
    return new Function(...params, body) as F;
  } catch {
    return fallback;
  }
}

const BINARY_BODY = (expr: string) => `
  const n = out.length;
  if (n === 0) return;
  if (a.length === n && b.length === n) { for (let i = 0; i < n; i++) { const x = a[i], y = b[i]; out[i] = ${expr}; } return; }
  if (b.length === 1 && a.length === n) { const y = b[0]; for (let i = 0; i < n; i++) { const x = a[i]; out[i] = ${expr}; } return; }
  if (a.length === 1 && b.length === n) { const x = a[0]; for (let i = 0; i < n; i++) { const y = b[i]; out[i] = ${expr}; } return; }
  const rank = outShape.length;
  const as = broadcastStrides(aShape, outShape);
  const bs = broadcastStrides(bShape, outShape);
  const last = outShape[rank - 1];
  const sa = as[rank - 1];
  const sb = bs[rank - 1];
  const idx = new Array(rank).fill(0);
  let ai = 0, bi = 0;
  for (let o = 0; o < n; o += last) {
    for (let j = 0; j < last; j++) { const x = a[ai + j * sa], y = b[bi + j * sb]; out[o + j] = ${expr}; }
    for (let d = rank - 2; d >= 0; d--) {
      ai += as[d]; bi += bs[d];
      if (++idx[d] < outShape[d]) break;
      ai -= as[d] * outShape[d]; bi -= bs[d] * outShape[d]; idx[d] = 0;
    }
  }`;

/**
 * Builds a broadcasting binary loop computing `expr` (in `x` and `y`); `f` is the same function
 * as a closure, used only where code generation is unavailable.
 */
export function makeBinaryLoop(expr: string, f: Binary): BinaryLoop {
  const compiled = compile<(bs: typeof broadcastStrides) => BinaryLoop>(["broadcastStrides"], `return function (a, aShape, b, bShape, out, outShape) {${BINARY_BODY(expr)}};`, () => closureBinaryLoop(f));
  return compiled(broadcastStrides);
}

function closureBinaryLoop(f: Binary): BinaryLoop {
  return (a, aShape, b, bShape, out, outShape) => {
    const rank = outShape.length;
    const as = broadcastStrides(aShape, outShape);
    const bs = broadcastStrides(bShape, outShape);
    for (let o = 0; o < out.length; o++) {
      let ai = 0;
      let bi = 0;
      for (let d = rank - 1, rem = o; d >= 0; d--) {
        const i = rem % outShape[d]!;
        rem = Math.floor(rem / outShape[d]!);
        ai += i * as[d]!;
        bi += i * bs[d]!;
      }
      out[o] = f(a[ai]!, b[bi]!);
    }
  };
}

/** Builds an elementwise loop computing `expr` (in `x`), with `f` as the no-codegen fallback. */
export function makeUnaryLoop(expr: string, f: (x: number) => number, helpers: Record<string, unknown> = {}): (src: TypedArray, out: TypedArray) => void {
  const names = Object.keys(helpers);
  const factory = compile<(...h: unknown[]) => (src: TypedArray, out: TypedArray) => void>(
    names,
    `return function (src, out) { for (let i = 0, n = out.length; i < n; i++) { const x = src[i]; out[i] = ${expr}; } };`,
    () => (src: TypedArray, out: TypedArray) => {
      for (let i = 0; i < out.length; i++) out[i] = f(src[i]!);
    },
  );
  return factory(...names.map((k) => helpers[k]));
}

type ReduceLoop = (x: TypedArray, shape: Shape, axes: readonly number[], out: TypedArray) => void;

/**
 * Reduces `x` over `axes` into `out` (same rank, size 1 at the axes) with `acc = expr` (in `acc`
 * and `x`), starting from `init`. Odometer over the input with the output strides zeroed at the
 * reduced axes. Compiled like the elementwise loops (a shared closure calling `f` left sum and
 * max one megamorphic call per element); `f` is the no-codegen fallback.
 */
export function makeReduceLoop(expr: string, f: Binary, init: number): ReduceLoop {
  const body = `
    out.fill(init);
    const rank = shape.length;
    if (src.length === 0) return;
    if (rank === 0) { const acc = init, x = src[0]; out[0] = ${expr}; return; }
    const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const os = broadcastStrides(outShape, shape);
    const last = shape[rank - 1];
    const sl = os[rank - 1];
    const idx = new Array(rank).fill(0);
    let oi = 0;
    for (let i = 0; i < src.length; i += last) {
      if (sl === 0) {
        let acc = out[oi];
        for (let j = 0; j < last; j++) { const x = src[i + j]; acc = ${expr}; }
        out[oi] = acc;
      } else {
        for (let j = 0; j < last; j++) { const acc = out[oi + j], x = src[i + j]; out[oi + j] = ${expr}; }
      }
      for (let d = rank - 2; d >= 0; d--) {
        oi += os[d];
        if (++idx[d] < shape[d]) break;
        oi -= os[d] * shape[d];
        idx[d] = 0;
      }
    }`;
  const factory = compile<(bs: typeof broadcastStrides, init: number) => ReduceLoop>(
    ["broadcastStrides", "init"],
    `return function (src, shape, axes, out) {${body}};`,
    () => closureReduceLoop(f, init),
  );
  return factory(broadcastStrides, init);
}

function closureReduceLoop(f: Binary, init: number): ReduceLoop {
  return (x, shape, axes, out) => {
    out.fill(init);
    if (x.length === 0) return;
    const rank = shape.length;
    const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const os = broadcastStrides(outShape, shape);
    for (let i = 0; i < x.length; i++) {
      let oi = 0;
      for (let d = rank - 1, rem = i; d >= 0; d--) {
        oi += (rem % shape[d]!) * os[d]!;
        rem = Math.floor(rem / shape[d]!);
      }
      out[oi] = f(out[oi]!, x[i]!);
    }
  };
}
