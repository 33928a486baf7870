import type { TypedArray } from "../dtype.js";
import type { Shape } from "../shape.js";
import { broadcastStrides } from "./strided.js";

// Columns of B per packed block: a K×64 panel (K·256 bytes in float32) stays in L2 while every
// 4-row slice of A streams past it.
const NB = 64;

/**
 * C[m,n] += A[m,k]·B[k,n] on row-major slices at the given offsets. B is packed block by block
 * into 4-column strips (`Bp[strip][p·4 + jj]`) so the micro-kernel reads it contiguously; the
 * micro-kernel keeps a 4×4 tile of C in sixteen local accumulators, so each pair of loads feeds
 * sixteen multiply-adds. Leftover rows and columns take a plain loop.
 */
function gemm(A: TypedArray, ao: number, B: TypedArray, bo: number, C: TypedArray, co: number, m: number, k: number, n: number): void {
  const m4 = m - (m % 4);
  const pack = new Float64Array(k * NB);
  for (let j0 = 0; j0 < n; j0 += NB) {
    const nb = Math.min(NB, n - j0);
    const nb4 = nb - (nb % 4);
    for (let s = 0; s < nb4; s += 4) {
      const dst = s * k;
      for (let p = 0; p < k; p++) {
        const src = bo + p * n + j0 + s;
        const d = dst + p * 4;
        pack[d] = B[src]!;
        pack[d + 1] = B[src + 1]!;
        pack[d + 2] = B[src + 2]!;
        pack[d + 3] = B[src + 3]!;
      }
    }
    for (let i = 0; i < m4; i += 4) {
      const a0 = ao + i * k;
      const a1 = a0 + k;
      const a2 = a1 + k;
      const a3 = a2 + k;
      for (let s = 0; s < nb4; s += 4) {
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        let q = s * k;
        for (let p = 0; p < k; p++, q += 4) {
          const b0 = pack[q]!;
          const b1 = pack[q + 1]!;
          const b2 = pack[q + 2]!;
          const b3 = pack[q + 3]!;
          const x0 = A[a0 + p]!;
          const x1 = A[a1 + p]!;
          const x2 = A[a2 + p]!;
          const x3 = A[a3 + p]!;
          c00 += x0 * b0; c01 += x0 * b1; c02 += x0 * b2; c03 += x0 * b3;
          c10 += x1 * b0; c11 += x1 * b1; c12 += x1 * b2; c13 += x1 * b3;
          c20 += x2 * b0; c21 += x2 * b1; c22 += x2 * b2; c23 += x2 * b3;
          c30 += x3 * b0; c31 += x3 * b1; c32 += x3 * b2; c33 += x3 * b3;
        }
        const c = co + i * n + j0 + s;
        C[c] += c00; C[c + 1] += c01; C[c + 2] += c02; C[c + 3] += c03;
        C[c + n] += c10; C[c + n + 1] += c11; C[c + n + 2] += c12; C[c + n + 3] += c13;
        C[c + 2 * n] += c20; C[c + 2 * n + 1] += c21; C[c + 2 * n + 2] += c22; C[c + 2 * n + 3] += c23;
        C[c + 3 * n] += c30; C[c + 3 * n + 1] += c31; C[c + 3 * n + 2] += c32; C[c + 3 * n + 3] += c33;
      }
    }
    // Leftovers: rows m4…m for every column of the block, and columns nb4…nb for rows 0…m4.
    edge(A, ao, B, bo, C, co, k, n, m4, m, j0, j0 + nb);
    edge(A, ao, B, bo, C, co, k, n, 0, m4, j0 + nb4, j0 + nb);
  }
}

function edge(A: TypedArray, ao: number, B: TypedArray, bo: number, C: TypedArray, co: number, k: number, n: number, i0: number, i1: number, j0: number, j1: number): void {
  for (let i = i0; i < i1; i++) {
    for (let j = j0; j < j1; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += A[ao + i * k + p]! * B[bo + p * n + j]!;
      C[co + i * n + j] += acc;
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
