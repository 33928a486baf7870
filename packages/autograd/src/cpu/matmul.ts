import type { TypedArray } from "../dtype.js";
import type { Shape } from "../shape.js";
import { broadcastStrides } from "./strided.js";

// Block sizes: a KC×NC panel of B (128×256 floats = 128 KiB in float32) stays in L2 while
// four rows of C (4×NC) and A's four K-slices stay in L1.
const KC = 128;
const NC = 256;

/**
 * C[m,n] += A[m,k]·B[k,n] on row-major slices at the given offsets: cache-blocked over k and n,
 * register-blocked four rows of C at a time so each loaded B element feeds four multiply-adds.
 */
function gemm(A: TypedArray, ao: number, B: TypedArray, bo: number, C: TypedArray, co: number, m: number, k: number, n: number): void {
  for (let j0 = 0; j0 < n; j0 += NC) {
    const j1 = Math.min(n, j0 + NC);
    for (let k0 = 0; k0 < k; k0 += KC) {
      const k1 = Math.min(k, k0 + KC);
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        const c0 = co + i * n;
        const c1 = c0 + n;
        const c2 = c1 + n;
        const c3 = c2 + n;
        const a0 = ao + i * k;
        const a1 = a0 + k;
        const a2 = a1 + k;
        const a3 = a2 + k;
        for (let p = k0; p < k1; p++) {
          const x0 = A[a0 + p]!;
          const x1 = A[a1 + p]!;
          const x2 = A[a2 + p]!;
          const x3 = A[a3 + p]!;
          const br = bo + p * n;
          for (let j = j0; j < j1; j++) {
            const b = B[br + j]!;
            C[c0 + j] += x0 * b;
            C[c1 + j] += x1 * b;
            C[c2 + j] += x2 * b;
            C[c3 + j] += x3 * b;
          }
        }
      }
      for (; i < m; i++) {
        const c0 = co + i * n;
        const a0 = ao + i * k;
        for (let p = k0; p < k1; p++) {
          const x0 = A[a0 + p]!;
          const br = bo + p * n;
          for (let j = j0; j < j1; j++) C[c0 + j] += x0 * B[br + j]!;
        }
      }
    }
  }
}

/** Batched matmul over broadcast batch dims; `out` is zero-filled. */
export function matmulKernel(a: TypedArray, aShape: Shape, b: TypedArray, bShape: Shape, out: TypedArray, outShape: Shape): void {
  const r = outShape.length;
  const m = outShape[r - 2]!;
  const n = outShape[r - 1]!;
  const k = aShape[aShape.length - 1]!;
  const batchShape = outShape.slice(0, r - 2);
  const aBatch = broadcastStrides(aShape.slice(0, -2), batchShape);
  const bBatch = broadcastStrides(bShape.slice(0, -2), batchShape);
  const nb = batchShape.reduce((x, y) => x * y, 1);
  const idx = new Array<number>(batchShape.length).fill(0);
  let ai = 0;
  let bi = 0;
  for (let t = 0; t < nb; t++) {
    gemm(a, ai * m * k, b, bi * k * n, out, t * m * n, m, k, n);
    for (let d = batchShape.length - 1; d >= 0; d--) {
      ai += aBatch[d]!;
      bi += bBatch[d]!;
      if (++idx[d]! < batchShape[d]!) break;
      ai -= aBatch[d]! * batchShape[d]!;
      bi -= bBatch[d]! * batchShape[d]!;
      idx[d] = 0;
    }
  }
}
