/**
 * The compiled kernel module, its memory arena and the JavaScript drivers that copy operands in,
 * call the kernels and copy results out (stage 1: tensors stay TypedArrays; see WASM.md).
 *
 * The arena is one WebAssembly.Memory that grows on demand to the largest call seen and is
 * reused by every later call (a bump allocator reset per call), so nothing leaks; its size is
 * the high-water mark of one kernel call's operands, packing buffers and output.
 */
import { batchMatrixIndices, sizeOf, type Shape } from "../shape.js";
import { ModuleBuilder, v128 } from "./emit.js";
import { type KernelExports, MR, NR, kernelModule } from "./kernels.js";

const PAGE = 65536;

/**
 * Whether this engine validates a module using 128-bit SIMD (Node ≥ 16.4, Deno, current browsers).
 *
 * @example
 * ```ts
 * wasmSimdSupported(); // true on Node ≥ 16.4, Deno and current browsers
 * ```
 */
export function wasmSimdSupported(): boolean {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.validate !== "function") return false;
  try {
    const probe = new ModuleBuilder().func("probe", [], [v128], (c) => c.v128Zero()).encode();
    return WebAssembly.validate(probe);
  } catch {
    return false;
  }
}

class Runtime {
  readonly mem: WebAssembly.Memory;
  readonly k: KernelExports;
  f32: Float32Array;
  private top = 0;

  constructor() {
    this.mem = new WebAssembly.Memory({ initial: 16 });
    const module = new WebAssembly.Module(kernelModule());
    const instance = new WebAssembly.Instance(module, { env: { mem: this.mem } });
    this.k = instance.exports as unknown as KernelExports;
    this.f32 = new Float32Array(this.mem.buffer);
  }

  /** Starts a call: every earlier allocation is free again. */
  reset(): void {
    this.top = 0;
  }

  /** Reserves `floats` float32s (64-byte aligned) and returns the byte offset; grows the memory if needed. */
  alloc(floats: number): number {
    const at = this.top;
    this.top = (at + floats * 4 + 63) & ~63;
    if (this.top > this.mem.buffer.byteLength) {
      this.mem.grow(Math.ceil((this.top - this.mem.buffer.byteLength) / PAGE));
      this.f32 = new Float32Array(this.mem.buffer); // growing detaches the old buffer
    }
    return at;
  }

  /** The current top, to {@link release} back to (allocations made since are freed). */
  mark(): number {
    return this.top;
  }

  release(top: number): void {
    this.top = top;
  }

  /** Bytes the arena holds now (its high-water mark; wasm memory never shrinks). */
  get bytes(): number {
    return this.mem.buffer.byteLength;
  }
}

let rt: Runtime | undefined;

/** The runtime, compiling the kernels on first use (about a millisecond). */
export function runtime(): Runtime {
  return (rt ??= new Runtime());
}

// Cache blocking: a KC×NC panel of packed B (2 MiB) sits in L2/L3, an MC×KC block of packed A
// (128 KiB) in L2, and one KC×NR strip of B (8 KiB) in L1 during a micro-kernel sweep.
const KC = 256;
const MC = MR * 32;
const NC = NR * 256;

/** Products sharing A are folded into one only below this many columns per batch (see sgemm). */
const FOLD_N = 2 * NR;

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/**
 * Batched float32 matmul in wasm: `out[b] = a[b] · y[b]` over broadcast batch dims, with the
 * same contract as the cpu kernel (`out` zero-filled, operands contiguous row-major).
 * Accumulates in float32 (the cpu kernel accumulates in float64), so results differ by at most
 * the summation-order bound (k + 2)·2⁻²⁴·Σₚ|aᵢₚ·bₚⱼ| from the exactly rounded product.
 *
 * A batch that shares one operand is folded into a single product (each element's sum runs over
 * p in the same order either way, so folding changes no value): B shared → the A matrices are
 * stacked rows, `[nb·m, k]·[k, n]`, with the same output layout; A shared with narrow B
 * (n < 2·NR) → the B matrices side by side, `[m, k]·[k, nb·n]`, which packs A once instead of nb
 * times and keeps narrow products (n = 1 per batch) from padding every micro-tile to NR columns.
 */
export function sgemm(a: Float32Array, aShape: Shape, b: Float32Array, bShape: Shape, out: Float32Array, outShape: Shape): void {
  const r = outShape.length;
  const m = outShape[r - 2]!;
  const n = outShape[r - 1]!;
  const k = aShape[aShape.length - 1]!;
  if (m === 0 || n === 0) return;
  if (k === 0) return; // an empty sum: out stays zero
  const batchShape = outShape.slice(0, r - 2);
  const nb = sizeOf(batchShape);
  const aMats = a.length / (m * k);
  const bMats = b.length / (k * n);

  const R = runtime();
  R.reset();
  if (nb > 1 && bMats === 1 && aMats === nb) {
    // B shared: one [nb·m, k]·[k, n] product, rows of out in the same order.
    const pa = R.alloc(a.length);
    const pb = R.alloc(b.length);
    R.f32.set(a, pa >>> 2);
    R.f32.set(b, pb >>> 2);
    gemm(R, pa, k, pb, n, nb * m, n, k, out, 0);
    return;
  }
  if (nb > 1 && aMats === 1 && bMats === nb && n < FOLD_N) {
    // A shared and narrow B (n = 1 for a conv layer's input gradient against [N, C·k·k, 1]
    // columns): B matrices side by side, Bcat[p][t·n + j] = b[t][p][j], one [m, k]·[k, nb·n].
    // Per batch, such a product packs all of A again and pads every micro-tile to NR columns.
    const pa = R.alloc(a.length);
    const pb = R.alloc(b.length);
    R.f32.set(a, pa >>> 2);
    const mem = R.f32;
    const w = nb * n;
    const b0 = pb >>> 2;
    for (let t = 0, src = 0; t < nb; t++) {
      for (let p = 0; p < k; p++) {
        const d = b0 + p * w + t * n;
        for (let j = 0; j < n; j++) mem[d + j] = b[src++]!;
      }
    }
    gemm(R, pa, k, pb, w, m, w, k, out, 0, (c0, ldc) => {
      const C = R.f32;
      for (let t = 0, o = 0; t < nb; t++) {
        for (let i = 0; i < m; i++) {
          const c = c0 + i * ldc + t * n;
          for (let j = 0; j < n; j++) out[o++] = C[c + j]!;
        }
      }
    });
    return;
  }

  const mats = batchMatrixIndices(aShape, bShape, outShape);
  const pa = R.alloc(a.length);
  const pb = R.alloc(b.length);
  R.f32.set(a, pa >>> 2);
  R.f32.set(b, pb >>> 2);
  const mark = R.mark();
  for (let t = 0; t < nb; t++) {
    R.release(mark);
    gemm(R, pa + mats.a[t]! * m * k * 4, k, pb + mats.b[t]! * k * n * 4, n, m, n, k, out, t * m * n);
  }
}

/**
 * One product C = A·B of operands already in the arena (byte offsets; lda/ldb in elements),
 * through packing buffers and a padded C allocated after them. The valid m×n corner of C is
 * copied to `out` at element `o` (row stride n), or handed to `copyOut` (C's float index and
 * padded row stride) when the caller lays the result out itself.
 */
function gemm(R: Runtime, A: number, lda: number, B: number, ldb: number, m: number, n: number, k: number, out: Float32Array, o: number, copyOut?: (c0: number, ldc: number) => void): void {
  const ldc = roundUp(n, NR);
  const mp = roundUp(m, MR);
  const pAp = R.alloc(Math.min(KC, k) * Math.min(MC, mp));
  const pBp = R.alloc(Math.min(KC, k) * Math.min(NC, ldc));
  const pc = R.alloc(mp * ldc);
  const K = R.k;
  R.f32.fill(0, pc >>> 2, (pc >>> 2) + mp * ldc);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let p0 = 0; p0 < k; p0 += KC) {
      const kc = Math.min(KC, k - p0);
      K.packB(B + (p0 * ldb + jc) * 4, ldb * 4, kc, nc, pBp);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        K.packA(A + (ic * lda + p0) * 4, lda * 4, kc, mc, pAp);
        K.macro(pAp, pBp, pc + (ic * ldc + jc) * 4, Math.ceil(mc / MR), Math.ceil(nc / NR), kc, ldc * 4);
      }
    }
  }
  const mem = R.f32; // read after the allocations above (growing replaces the view)
  const c0 = pc >>> 2;
  if (copyOut) copyOut(c0, ldc);
  else if (ldc === n) out.set(mem.subarray(c0, c0 + m * n), o);
  else for (let i = 0; i < m; i++) out.set(mem.subarray(c0 + i * ldc, c0 + i * ldc + n), o + i * n);
}

/**
 * Float32 add/mul in wasm for the broadcasting patterns that dominate training: equal shapes,
 * a scalar on either side, and one operand equal to a trailing slice of the other's shape
 * (bias add `[m, n] + [n]`). Returns false (nothing written) for any other pattern; the caller
 * falls back to the cpu kernel.
 */
export function binaryF32(op: "add" | "mul", x: Float32Array, xs: Shape, y: Float32Array, ys: Shape, out: Float32Array, outShape: Shape): boolean {
  const n = out.length;
  if (n === 0) return true;
  let big = x;
  let bigShape = xs;
  let small = y;
  let smallShape = ys;
  if (x.length < y.length) [big, bigShape, small, smallShape] = [y, ys, x, xs];
  if (big.length !== n || !sameShape(bigShape, outShape)) return false;
  const R = runtime();
  R.reset();
  const px = R.alloc(n);
  const K = R.k;
  if (small.length === 1) {
    const po = R.alloc(n);
    R.f32.set(big, px >>> 2);
    (op === "add" ? K.addScalar : K.mulScalar)(px, small[0]!, po, n);
    out.set(R.f32.subarray(po >>> 2, (po >>> 2) + n));
    return true;
  }
  // small must equal a trailing slice of the output shape (leading 1s allowed).
  const trimmed = smallShape.slice(smallShape.findIndex((d) => d !== 1));
  const tail = outShape.slice(outShape.length - trimmed.length);
  if (!sameShape(trimmed, tail)) return false;
  const q = small.length;
  const py = R.alloc(q);
  const po = R.alloc(n);
  R.f32.set(big, px >>> 2);
  R.f32.set(small, py >>> 2);
  if (q === n) (op === "add" ? K.addRows : K.mulRows)(px, py, po, 1, n, 0);
  else (op === "add" ? K.addRows : K.mulRows)(px, py, po, n / q, q, 0);
  out.set(R.f32.subarray(po >>> 2, (po >>> 2) + n));
  return true;
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
