import type { TypedArray } from "../dtype.js";
import { batchMatrixIndices, type Shape } from "../shape.js";

// Blocking: a KC×NB block of B (KC·NB·8 = 128 KiB as float64) stays in L2 while every 4-row
// panel of A (4·KC·8 = 8 KiB) streams past it from L1.
const NB = 64;
const KC = 256;

// Packing buffers, reused across calls (gemm is synchronous and never re-entered): a fresh
// zero-filled buffer per call cost ~15% of a 64×64 product. Up to 4 Mi doubles (32 MiB) are kept.
const KEEP = 1 << 22;
const buffers = [new Float64Array(0), new Float64Array(0)];

function scratch(which: 0 | 1, size: number): Float64Array {
  if (size > KEEP) return new Float64Array(size);
  if (buffers[which]!.length < size) buffers[which] = new Float64Array(Math.min(KEEP, Math.max(size, 2 * buffers[which]!.length)));
  return buffers[which]!;
}

/**
 * C[m,n] += A[m,k]·B[k,n] on row-major slices at the given offsets. Both operands are packed so
 * that the micro-kernel reads two contiguous streams: A in 4-row panels (`Ap[p·4 + ii]`, once per
 * call) and B block by block in 4-column strips (`Bp[strip][p·4 + jj]`). The micro-kernel keeps
 * a 4×4 tile of C in sixteen local accumulators, so each eight loads feed sixteen multiply-adds.
 * Leftover rows and columns take a plain loop.
 */
function gemm(A: TypedArray, ao: number, B: TypedArray, bo: number, C: TypedArray, co: number, m: number, k: number, n: number): void {
  const m4 = m - (m % 4);
  const apack = scratch(0, m4 * k);
  for (let i = 0; i < m4; i += 4) {
    const r0 = ao + i * k;
    const d0 = i * k;
    for (let p = 0; p < k; p++) {
      const d = d0 + p * 4;
      apack[d] = A[r0 + p]!;
      apack[d + 1] = A[r0 + k + p]!;
      apack[d + 2] = A[r0 + 2 * k + p]!;
      apack[d + 3] = A[r0 + 3 * k + p]!;
    }
  }
  const bpack = scratch(1, Math.min(k, KC) * NB);
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = Math.min(KC, k - p0);
    for (let j0 = 0; j0 < n; j0 += NB) {
      const nb = Math.min(NB, n - j0);
      const nb4 = nb - (nb % 4);
      for (let s = 0; s < nb4; s += 4) {
        const dst = s * kc;
        for (let p = 0; p < kc; p++) {
          const src = bo + (p0 + p) * n + j0 + s;
          const d = dst + p * 4;
          bpack[d] = B[src]!;
          bpack[d + 1] = B[src + 1]!;
          bpack[d + 2] = B[src + 2]!;
          bpack[d + 3] = B[src + 3]!;
        }
      }
      for (let i = 0; i < m4; i += 4) {
        const abase = i * k + p0 * 4;
        for (let s = 0; s < nb4; s += 4) {
          let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
          let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
          let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
          let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
          let q = s * kc;
          let r = abase;
          for (let p = 0; p < kc; p++, q += 4, r += 4) {
            const b0 = bpack[q]!;
            const b1 = bpack[q + 1]!;
            const b2 = bpack[q + 2]!;
            const b3 = bpack[q + 3]!;
            const x0 = apack[r]!;
            const x1 = apack[r + 1]!;
            const x2 = apack[r + 2]!;
            const x3 = apack[r + 3]!;
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
    }
  }
  // Leftovers over the whole k: rows m4…m for every column, and each block's columns nb4…nb for rows 0…m4.
  edge(A, ao, B, bo, C, co, k, n, m4, m, 0, n);
  for (let j0 = 0; j0 < n; j0 += NB) {
    const nb = Math.min(NB, n - j0);
    edge(A, ao, B, bo, C, co, k, n, 0, m4, j0 + nb - (nb % 4), j0 + nb);
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
  const mats = batchMatrixIndices(aShape, bShape, outShape);
  for (let t = 0; t < mats.a.length; t++) gemm(a, mats.a[t]! * m * k, b, mats.b[t]! * k * n, out, t * m * n, m, k, n);
}
