/**
 * The wasm backend's kernels, written with the emitter in emit.ts and compiled once, on first
 * use. All pointers and strides are byte offsets into the one imported memory; sizes are i32
 * element counts. Every elementwise kernel takes a row count and per-operand row strides, so one
 * call covers a contiguous run, a broadcast row (stride 0) and the bias-add pattern alike; the
 * driver in ops.ts collapses any broadcast into at most two such levels plus a JS loop.
 *
 * Lanes. Elementwise kernels process four elements per f32x4 step and finish a row with the same
 * vector code on single lanes (`v128.load32_zero` … `v128.store32_lane`), so every element goes
 * through identical instructions wherever it sits; results never depend on alignment, row length
 * or how rows are split among threads.
 *
 * sgemm follows the GotoBLAS/BLIS structure: B is packed into NR-column strips (`Bp[strip][p][j]`),
 * A into MR-row strips (`Ap[strip][p][i]`), and a register-tiled micro-kernel keeps an MR×NR tile
 * of C in MR·NR/4 f32x4 accumulators: per step p it loads NR/4 vectors of B, splats MR scalars of
 * A and does MR·NR/4 vector multiply-adds. Packing clamps out-of-range rows/columns to the last
 * valid one, so every tile is full and no kernel branches on edges; the caller gives C a padded
 * leading dimension and discards the padding. Either operand may be given transposed in memory
 * (packAT/packBT read it that way), so the matmul VJPs' Ḡ·Bᵀ and Aᵀ·Ḡ never materialize a transpose.
 */
import type { UnaryKernel } from "../backend.js";
import { Code, ModuleBuilder, type ValType, f32, f64, i32, v128 } from "./emit.js";
import * as math from "./math.js";

/** Register tile: MR rows × NR columns of C (NR a multiple of 4). 4×8 = 8 accumulators. */
export const MR = 4;
export const NR = 8;

const I = (n: number): ValType[] => new Array<ValType>(n).fill(i32);

// ---------------------------------------------------------------- sgemm

/** packB(src, ldbBytes, kc, ncols, dst): B[0:kc, 0:ncols] (row stride ldbBytes) → NR-column strips. */
function packB(c: Code): void {
  const [src, ldb, kc, ncols, dst] = [0, 1, 2, 3, 4];
  const t = c.local(i32);
  const p = c.local(i32);
  const full = c.local(i32);
  const s = c.local(i32);
  const last = c.local(i32);
  const offs = Array.from({ length: NR }, () => c.local(i32));
  // full = ncols / NR strips copied with vector moves.
  c.get(ncols).i32Const(NR).i32Div().set(full);
  c.for(t, () => c.i32Const(0), () => c.get(full), 1, () => {
    c.get(src).get(t).i32Const(NR * 4).i32Mul().i32Add().set(s);
    c.for(p, () => c.i32Const(0), () => c.get(kc), 1, () => {
      for (let j = 0; j < NR / 4; j++) c.get(dst).get(s).v128Load(j * 16).v128Store(j * 16);
      c.get(dst).i32Const(NR * 4).i32Add().set(dst);
      c.get(s).get(ldb).i32Add().set(s);
    });
  });
  // A last, partial strip: column j reads min(full·NR + j, ncols − 1).
  c.get(ncols).get(full).i32Const(NR).i32Mul().i32Sub().if();
  {
    c.get(ncols).i32Const(1).i32Sub().i32Const(2).i32Shl().set(last);
    for (let j = 0; j < NR; j++) {
      // off_j = min((full·NR + j)·4, last)
      c.get(full).i32Const(NR).i32Mul().i32Const(j).i32Add().i32Const(2).i32Shl().tee(offs[j]!);
      c.get(last).get(offs[j]!).get(last).i32LtS().select().set(offs[j]!);
    }
    c.get(src).set(s);
    c.for(p, () => c.i32Const(0), () => c.get(kc), 1, () => {
      for (let j = 0; j < NR; j++) c.get(dst).get(s).get(offs[j]!).i32Add().f32Load().f32Store(j * 4);
      c.get(dst).i32Const(NR * 4).i32Add().set(dst);
      c.get(s).get(ldb).i32Add().set(s);
    });
  }
  c.end();
}

/**
 * Packing from rows: R-wide strips whose lane i at step p is `src[row i][p]`, rows clamped to
 * `count − 1`. It is both packA(src, ldaBytes, kc, mrows, dst) — A[0:mrows, 0:kc] → MR-row strips —
 * and packBT(src, ldBytes, kc, ncols, dst) — NR-column strips of B read from B stored transposed
 * (`Bt[j][p]`, row stride ldBytes).
 */
function packRows(R: number) {
  return (c: Code): void => {
    const [src, ld, kc, count, dst] = [0, 1, 2, 3, 4];
    const s = c.local(i32);
    const p = c.local(i32);
    const strips = c.local(i32);
    const lastRow = c.local(i32);
    const rows = Array.from({ length: R }, () => c.local(i32));
    c.get(count).i32Const(R - 1).i32Add().i32Const(R).i32Div().set(strips);
    c.get(count).i32Const(1).i32Sub().set(lastRow);
    c.for(s, () => c.i32Const(0), () => c.get(strips), 1, () => {
      for (let i = 0; i < R; i++) {
        // row_i = src + min(s·R + i, count − 1)·ld
        c.get(s).i32Const(R).i32Mul().i32Const(i).i32Add().tee(rows[i]!);
        c.get(lastRow).get(rows[i]!).get(lastRow).i32LtS().select();
        c.get(ld).i32Mul().get(src).i32Add().set(rows[i]!);
      }
      c.for(p, () => c.i32Const(0), () => c.get(kc), 1, () => {
        for (let i = 0; i < R; i++) {
          c.get(dst).get(rows[i]!).f32Load().f32Store(i * 4);
          c.get(rows[i]!).i32Const(4).i32Add().set(rows[i]!);
        }
        c.get(dst).i32Const(R * 4).i32Add().set(dst);
      });
    });
  };
}

/**
 * packAT(src, ldBytes, kc, mrows, dst): the same strips from A stored transposed (`At[p][i]`, row
 * stride ldBytes): a strip's MR values at step p are contiguous in At, so full strips move as one
 * vector; the last strip clamps its columns.
 */
function packAT(c: Code): void {
  const [src, ld, kc, mrows, dst] = [0, 1, 2, 3, 4];
  const s = c.local(i32);
  const p = c.local(i32);
  const full = c.local(i32);
  const row = c.local(i32);
  const last = c.local(i32);
  const offs = Array.from({ length: MR }, () => c.local(i32));
  c.get(mrows).i32Const(MR).i32Div().set(full);
  c.for(s, () => c.i32Const(0), () => c.get(full), 1, () => {
    c.get(src).get(s).i32Const(MR * 4).i32Mul().i32Add().set(row);
    c.for(p, () => c.i32Const(0), () => c.get(kc), 1, () => {
      c.get(dst).get(row).v128Load().v128Store();
      c.get(dst).i32Const(MR * 4).i32Add().set(dst);
      c.get(row).get(ld).i32Add().set(row);
    });
  });
  c.get(mrows).get(full).i32Const(MR).i32Mul().i32Sub().if();
  {
    c.get(mrows).i32Const(1).i32Sub().i32Const(2).i32Shl().set(last);
    for (let i = 0; i < MR; i++) {
      c.get(full).i32Const(MR).i32Mul().i32Const(i).i32Add().i32Const(2).i32Shl().tee(offs[i]!);
      c.get(last).get(offs[i]!).get(last).i32LtS().select().set(offs[i]!);
    }
    c.get(src).set(row);
    c.for(p, () => c.i32Const(0), () => c.get(kc), 1, () => {
      for (let i = 0; i < MR; i++) c.get(dst).get(row).get(offs[i]!).i32Add().f32Load().f32Store(i * 4);
      c.get(dst).i32Const(MR * 4).i32Add().set(dst);
      c.get(row).get(ld).i32Add().set(row);
    });
  }
  c.end();
}

/**
 * macro(Ap, Bp, C, mStrips, nStrips, kc, ldcBytes, first): C[mStrips·MR, nStrips·NR] (+)= Ap·Bp —
 * stores when `first` is nonzero (the first k-block: no zero-fill of C needed), adds otherwise.
 * Column strips outside, row strips inside, so one kc×NR strip of B (8 KiB at kc = 256) stays in
 * L1 while the packed A block streams from L2.
 */
function macro(c: Code): void {
  const [Ap, Bp, C, mStrips, nStrips, kc, ldc, first] = [0, 1, 2, 3, 4, 5, 6, 7];
  const t = c.local(i32);
  const s = c.local(i32);
  const pa = c.local(i32);
  const pb = c.local(i32);
  const pbEnd = c.local(i32);
  const bStrip = c.local(i32);
  const cRow = c.local(i32);
  const acc = Array.from({ length: MR * (NR / 4) }, () => c.local(v128));
  const bv = Array.from({ length: NR / 4 }, () => c.local(v128));
  const av = c.local(v128);
  c.for(t, () => c.i32Const(0), () => c.get(nStrips), 1, () => {
    c.get(Bp).get(t).get(kc).i32Mul().i32Const(NR * 4).i32Mul().i32Add().set(bStrip);
    c.for(s, () => c.i32Const(0), () => c.get(mStrips), 1, () => {
      for (const a of acc) c.v128Zero().set(a);
      c.get(Ap).get(s).get(kc).i32Mul().i32Const(MR * 4).i32Mul().i32Add().set(pa);
      c.get(bStrip).tee(pb).get(kc).i32Const(NR * 4).i32Mul().i32Add().set(pbEnd);
      // The micro-kernel: kc ≥ 1, so a do-while loop.
      c.loop();
      for (let j = 0; j < NR / 4; j++) c.get(pb).v128Load(j * 16).set(bv[j]!);
      for (let i = 0; i < MR; i++) {
        c.get(pa).v128Load32Splat(i * 4).set(av);
        for (let j = 0; j < NR / 4; j++) {
          const k = i * (NR / 4) + j;
          c.get(acc[k]!).get(av).get(bv[j]!).f32x4Mul().f32x4Add().set(acc[k]!);
        }
      }
      c.get(pa).i32Const(MR * 4).i32Add().set(pa);
      c.get(pb).i32Const(NR * 4).i32Add().tee(pb).get(pbEnd).i32LtS().brIf(0);
      c.end();
      // C tile (+)= accumulators.
      c.get(C).get(s).i32Const(MR).i32Mul().get(ldc).i32Mul().i32Add().get(t).i32Const(NR * 4).i32Mul().i32Add().set(cRow);
      c.get(first).if();
      for (let i = 0; i < MR; i++) {
        for (let j = 0; j < NR / 4; j++) c.get(cRow).get(acc[i * (NR / 4) + j]!).v128Store(j * 16);
        if (i < MR - 1) c.get(cRow).get(ldc).i32Add().set(cRow);
      }
      c.else();
      for (let i = 0; i < MR; i++) {
        for (let j = 0; j < NR / 4; j++) {
          c.get(cRow).get(cRow).v128Load(j * 16).get(acc[i * (NR / 4) + j]!).f32x4Add().v128Store(j * 16);
        }
        if (i < MR - 1) c.get(cRow).get(ldc).i32Add().set(cRow);
      }
      c.end();
    });
  });
}

/** Cache blocking: a KC×NC panel of packed B sits in L2/L3, an MC×KC block of packed A (128 KiB) in L2. */
export const KC = 256;
export const MC = MR * 32;
export const NC = NR * 256;
/** Bytes of packing scratch one gemmBlock task needs (packed A block, then packed B panel). */
export const GEMM_SCRATCH = KC * MC * 4 + KC * NC * 4;

/**
 * gemmBlock(A, aT, aRows, B, bT, k, m, n, C, ldc, jc, nc, scratch): columns [jc, jc + nc) (nc ≤ NC)
 * of C = A·B for C of leading dimension ldc (bytes = ldc·4), the whole k loop, every row block.
 * aT/bT ≠ 0: the operand is stored transposed (A as [k, aRows], B as [n, k]). One call is one
 * thread task: it packs into its own `scratch` (GEMM_SCRATCH bytes).
 */
function gemmBlock(m0: ModuleBuilder) {
  return (c: Code) => {
    const [A, aT, aRows, B, bT, k, m, n, C, ldc, jc, nc, scratch] = I(13).map((_, i) => i);
    const p0 = c.local(i32);
    const kc = c.local(i32);
    const ic = c.local(i32);
    const mc = c.local(i32);
    const pBp = c.local(i32);
    const min = (a: () => void, b: () => void) => {
      a(); b(); a(); b(); c.i32LtS().select();
    };
    c.get(scratch).i32Const(KC * MC * 4).i32Add().set(pBp);
    c.for(p0, () => c.i32Const(0), () => c.get(k), KC, () => {
      min(() => c.i32Const(KC), () => c.get(k).get(p0).i32Sub());
      c.set(kc);
      c.get(bT).if();
      c.get(B).get(jc).get(k).i32Mul().get(p0).i32Add().i32Const(2).i32Shl().i32Add();
      c.get(k).i32Const(2).i32Shl().get(kc).get(nc).get(pBp).call(m0.indexOf("packBT"));
      c.else();
      c.get(B).get(p0).get(n).i32Mul().get(jc).i32Add().i32Const(2).i32Shl().i32Add();
      c.get(n).i32Const(2).i32Shl().get(kc).get(nc).get(pBp).call(m0.indexOf("packB"));
      c.end();
      c.for(ic, () => c.i32Const(0), () => c.get(m), MC, () => {
        min(() => c.i32Const(MC), () => c.get(m).get(ic).i32Sub());
        c.set(mc);
        c.get(aT).if();
        c.get(A).get(p0).get(aRows).i32Mul().get(ic).i32Add().i32Const(2).i32Shl().i32Add();
        c.get(aRows).i32Const(2).i32Shl().get(kc).get(mc).get(scratch).call(m0.indexOf("packAT"));
        c.else();
        c.get(A).get(ic).get(k).i32Mul().get(p0).i32Add().i32Const(2).i32Shl().i32Add();
        c.get(k).i32Const(2).i32Shl().get(kc).get(mc).get(scratch).call(m0.indexOf("packA"));
        c.end();
        // macro(Ap, Bp, C + (ic·ldc + jc)·4, ⌈mc/MR⌉, ⌈nc/NR⌉, kc, ldc·4, p0 == 0)
        c.get(scratch).get(pBp);
        c.get(C).get(ic).get(ldc).i32Mul().get(jc).i32Add().i32Const(2).i32Shl().i32Add();
        c.get(mc).i32Const(MR - 1).i32Add().i32Const(MR).i32Div();
        c.get(nc).i32Const(NR - 1).i32Add().i32Const(NR).i32Div();
        c.get(kc).get(ldc).i32Const(2).i32Shl().get(p0).i32Eqz().call(m0.indexOf("macro"));
      });
    });
  };
}

// ---------------------------------------------------------------- copies

/** copyRows(src, srcStride, dst, dstStride, rows, rowBytes): row-by-row memory.copy (strides in bytes). */
function copyRows(c: Code): void {
  const [src, ss, dst, ds, rows, nb] = [0, 1, 2, 3, 4, 5];
  const r = c.local(i32);
  c.for(r, () => c.i32Const(0), () => c.get(rows), 1, () => {
    c.get(dst).get(src).get(nb).memoryCopy();
    c.get(src).get(ss).i32Add().set(src);
    c.get(dst).get(ds).i32Add().set(dst);
  });
}

/**
 * gather{4,1}(src, dst, rows, cols, rowStride, colStride): dst (contiguous) ← src walked by (row,
 * col) byte strides (permute, expand with stride 0, slice); scatter{4,1}: the adjoint walk, src
 * contiguous and dst strided (pad, concat). A column stride equal to the element size is one
 * memory.copy per row, otherwise an element loop. Elements of 4 or 1 bytes.
 */
function strided2d(size: 4 | 1, gather: boolean) {
  return (c: Code) => {
    const [src, dst, rows, cols, rs, cs] = [0, 1, 2, 3, 4, 5];
    // The strided side advances by rs per row and cs per element; the contiguous side by the element size.
    const [strided, dense] = gather ? [src, dst] : [dst, src];
    const r = c.local(i32);
    const j = c.local(i32);
    const s = c.local(i32);
    const nb = c.local(i32);
    c.get(cols).i32Const(size === 4 ? 2 : 0).i32Shl().set(nb);
    c.for(r, () => c.i32Const(0), () => c.get(rows), 1, () => {
      c.get(cs).i32Const(size).i32Eq().if();
      c.get(dst).get(src).get(nb).memoryCopy();
      c.get(dense).get(nb).i32Add().set(dense);
      c.else();
      c.get(strided).set(s);
      c.for(j, () => c.i32Const(0), () => c.get(cols), 1, () => {
        c.get(gather ? dst : s);
        const from = gather ? s : src;
        if (size === 4) c.get(from).i32Load().i32Store();
        else c.get(from).i32Load8U().i32Store8();
        c.get(dense).i32Const(size).i32Add().set(dense);
        c.get(s).get(cs).i32Add().set(s);
      });
      c.end();
      c.get(strided).get(rs).i32Add().set(strided);
    });
  };
}

/**
 * transpose(src, dst, rows, cols): dst[j][i] = src[i][j] for one 4-byte-element matrix. Whole
 * 4×4 blocks move through registers (four row loads, an 8-shuffle transpose, four column
 * stores), visited in 32×32 tiles so the rows read and written stay in L1; the ragged right and
 * bottom strips are copied element by element.
 */
function transpose(c: Code): void {
  const [src, dst, rows, cols] = [0, 1, 2, 3];
  const T = 32;
  const [i0, j0, i, j, i1, j1, rs, cs, rows4, cols4, s, d] = Array.from({ length: 12 }, () => c.local(i32));
  const r = Array.from({ length: 4 }, () => c.local(v128));
  const t = Array.from({ length: 4 }, () => c.local(v128));
  const lanes = (a: number, b: number) => [...[0, 1, 2, 3].map((x) => a * 4 + x), ...[0, 1, 2, 3].map((x) => 16 + a * 4 + x), ...[0, 1, 2, 3].map((x) => b * 4 + x), ...[0, 1, 2, 3].map((x) => 16 + b * 4 + x)];
  const LO = lanes(0, 1); // (a0 b0 a1 b1)
  const HI = lanes(2, 3); // (a2 b2 a3 b3)
  const LO64 = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
  const HI64 = [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31];
  const min = (a: () => void, b: () => void) => {
    a(); b(); a(); b(); c.i32LtS().select();
  };
  const scalarCopy = () => {
    // dst[j][i] = src[i][j]
    c.get(dst).get(j).get(cs).i32Mul().i32Add().get(i).i32Const(2).i32Shl().i32Add();
    c.get(src).get(i).get(rs).i32Mul().i32Add().get(j).i32Const(2).i32Shl().i32Add().i32Load();
    c.i32Store();
  };
  c.get(cols).i32Const(2).i32Shl().set(rs); // src row stride
  c.get(rows).i32Const(2).i32Shl().set(cs); // dst row stride
  c.get(rows).i32Const(-4).i32And().set(rows4);
  c.get(cols).i32Const(-4).i32And().set(cols4);
  c.for(i0, () => c.i32Const(0), () => c.get(rows4), T, () => {
    min(() => c.get(i0).i32Const(T).i32Add(), () => c.get(rows4));
    c.set(i1);
    c.for(j0, () => c.i32Const(0), () => c.get(cols4), T, () => {
      min(() => c.get(j0).i32Const(T).i32Add(), () => c.get(cols4));
      c.set(j1);
      c.for(i, () => c.get(i0), () => c.get(i1), 4, () => {
        c.for(j, () => c.get(j0), () => c.get(j1), 4, () => {
          c.get(src).get(i).get(rs).i32Mul().i32Add().get(j).i32Const(2).i32Shl().i32Add().set(s);
          for (let k = 0; k < 4; k++) {
            c.get(s).v128Load().set(r[k]!);
            if (k < 3) c.get(s).get(rs).i32Add().set(s);
          }
          c.get(r[0]!).get(r[1]!).i8x16Shuffle(LO).set(t[0]!);
          c.get(r[0]!).get(r[1]!).i8x16Shuffle(HI).set(t[1]!);
          c.get(r[2]!).get(r[3]!).i8x16Shuffle(LO).set(t[2]!);
          c.get(r[2]!).get(r[3]!).i8x16Shuffle(HI).set(t[3]!);
          c.get(dst).get(j).get(cs).i32Mul().i32Add().get(i).i32Const(2).i32Shl().i32Add().set(d);
          const outs: [number, number, number[]][] = [[0, 2, LO64], [0, 2, HI64], [1, 3, LO64], [1, 3, HI64]];
          outs.forEach(([a, b, sh], k) => {
            c.get(d).get(t[a]!).get(t[b]!).i8x16Shuffle(sh).v128Store();
            if (k < 3) c.get(d).get(cs).i32Add().set(d);
          });
        });
      });
    });
  });
  // Right strip (columns cols4…cols, every row) and bottom strip (rows rows4…rows, columns < cols4).
  c.for(i, () => c.i32Const(0), () => c.get(rows), 1, () => c.for(j, () => c.get(cols4), () => c.get(cols), 1, scalarCopy));
  c.for(i, () => c.get(rows4), () => c.get(rows), 1, () => c.for(j, () => c.i32Const(0), () => c.get(cols4), 1, scalarCopy));
}

/**
 * fill8(dst, bytes, value): `bytes` bytes set to `value` (memory.fill). Zeroing wasm memory from
 * JavaScript (`Uint8Array.fill` on the shared buffer) runs ~30× slower than this: V8 fills shared
 * memory a byte at a time.
 */
function fill8(c: Code): void {
  c.get(0).get(2).get(1).memoryFill();
}

/** fill32(dst, n, bits): n 4-byte elements set to the 32-bit pattern `bits`. */
function fill32(c: Code): void {
  const [dst, n, bits] = [0, 1, 2];
  const i = c.local(i32);
  const n4 = c.local(i32);
  const v = c.local(v128);
  c.get(bits).i32x4Splat().set(v);
  c.get(n).i32Const(-4).i32And().i32Const(2).i32Shl().set(n4);
  c.get(n).i32Const(2).i32Shl().set(n);
  c.for(i, () => c.i32Const(0), () => c.get(n4), 16, () => c.get(dst).get(i).i32Add().get(v).v128Store());
  c.for(i, () => c.get(n4), () => c.get(n), 4, () => c.get(dst).get(i).i32Add().get(bits).i32Store());
}

// ---------------------------------------------------------------- elementwise

/** How one operand of an elementwise kernel is read along a row: a vector per 4 elements, or one value splatted. */
type Mode = "v" | "s";

/**
 * The row loop shared by every elementwise kernel. `operands` are (pointer param, row-stride
 * param, mode, element bytes); the body gets, for each operand, a local holding its f32x4 (or
 * i32x4 for bytes, 0/−1 masks) and must leave the result vector on the stack; `store` writes it
 * (4 or 1 bytes per element). Rows: `out` advances by n elements, each operand by its stride.
 */
function elementwise(
  c: Code,
  operands: { ptr: number; stride: number; mode: Mode; bytes: 4 | 1 }[],
  out: number,
  rows: number,
  n: number,
  outBytes: 4 | 1,
  body: (vals: number[]) => void,
): void {
  const r = c.local(i32);
  const i = c.local(i32);
  const o = c.local(i32);
  const n4 = c.local(i32);
  const vals = operands.map(() => c.local(v128));
  const cur = operands.map(() => c.local(i32));
  const res = c.local(v128);
  c.get(n).i32Const(-4).i32And().set(n4);
  // Loads of one operand at element index i (vector of 4 or lane 0 only).
  const load = (k: number, lane: boolean) => {
    const op = operands[k]!;
    if (op.mode === "s") return; // loaded once per row
    if (op.bytes === 4) {
      c.get(cur[k]!).get(i).i32Const(2).i32Shl().i32Add();
      if (lane) c.v128Load32Zero();
      else c.v128Load();
    } else {
      c.get(cur[k]!).get(i).i32Add();
      if (lane) c.i32Load8U().i32x4Splat();
      else c.v128Load32Zero().i16x8ExtendLowI8x16U().i32x4ExtendLowI16x8U();
      c.v128Zero().i32x4Ne();
    }
    c.set(vals[k]!);
  };
  const store = (lane: boolean) => {
    // The result is on the stack: stash it, then address + value.
    c.set(res);
    if (outBytes === 4) {
      c.get(o).get(i).i32Const(2).i32Shl().i32Add().get(res);
      if (lane) c.v128Store32Lane(0);
      else c.v128Store();
    } else {
      c.get(o).get(i).i32Add();
      c.get(res).i32x4Const(1).v128And();
      if (lane) c.i32x4ExtractLane(0).i32Store8();
      else {
        c.set(res);
        c.get(res).get(res).i16x8NarrowI32x4U().set(res);
        c.get(res).get(res).i8x16NarrowI16x8U().set(res);
        c.get(res).v128Store32Lane(0);
      }
    }
  };
  c.for(r, () => c.i32Const(0), () => c.get(rows), 1, () => {
    operands.forEach((op, k) => {
      c.get(op.ptr).get(r).get(op.stride).i32Mul().i32Add().set(cur[k]!);
      if (op.mode === "s") {
        if (op.bytes === 4) c.get(cur[k]!).v128Load32Splat();
        else c.get(cur[k]!).i32Load8U().i32x4Splat().v128Zero().i32x4Ne();
        c.set(vals[k]!);
      }
    });
    c.get(out).get(r).get(n).i32Mul().i32Const(outBytes === 4 ? 2 : 0).i32Shl().i32Add().set(o);
    c.for(i, () => c.i32Const(0), () => c.get(n4), 4, () => {
      operands.forEach((_, k) => load(k, false));
      body(vals);
      store(false);
    });
    c.for(i, () => c.get(n4), () => c.get(n), 1, () => {
      operands.forEach((_, k) => load(k, true));
      body(vals);
      store(true);
    });
  });
}

export type BinaryOp = "add" | "mul" | "maximum";
export type CompareOp = "equal" | "notEqual" | "greater" | "greaterEqual" | "less" | "lessEqual";
export type UnaryOp = (typeof UNARY_OPS)[number];
const MODES: [Mode, Mode][] = [["v", "v"], ["v", "s"], ["s", "v"]];

/** @internal Leaves op(x, y) (f32x4 locals) on the stack; compile/'s fused kernels (wasm/fuse.ts) share it. */
export function binaryOp(c: Code, op: BinaryOp, x: number, y: number): void {
  if (op === "add") c.get(x).get(y).f32x4Add();
  else if (op === "mul") c.get(x).get(y).f32x4Mul();
  else {
    // maximum as the cpu kernel: NaN from either side, else x > y ? x : y (ties, ±0: y).
    c.get(x).get(y).get(x).get(y).f32x4Gt().get(x).get(x).f32x4Ne().v128Or().v128Bitselect();
  }
}

/** @internal Leaves the 0/−1 lane mask of x op y on the stack; shared with wasm/fuse.ts. */
export function compareOp(c: Code, op: CompareOp, x: number, y: number, int: boolean): void {
  c.get(x).get(y);
  if (int) ({ equal: () => c.i32x4Eq(), notEqual: () => c.i32x4Ne(), greater: () => c.i32x4GtS(), greaterEqual: () => c.simdOp(0x3f), less: () => c.i32x4LtS(), lessEqual: () => c.simdOp(0x3d) })[op]();
  else ({ equal: () => c.f32x4Eq(), notEqual: () => c.f32x4Ne(), greater: () => c.f32x4Gt(), greaterEqual: () => c.f32x4Ge(), less: () => c.f32x4Lt(), lessEqual: () => c.f32x4Le() })[op]();
}

/**
 * bin_<op>_<xm><ym>(x, y, out, rows, n, xRowStride, yRowStride): f32 out = x op y; cmp_/cmpi_:
 * a bool out of float32/int32 operands.
 */
function binaryKernel(op: BinaryOp | CompareOp, xm: Mode, ym: Mode, compare: boolean, int = false) {
  return (c: Code) => {
    const [x, y, out, rows, n, xs, ys] = [0, 1, 2, 3, 4, 5, 6];
    elementwise(c, [{ ptr: x, stride: xs, mode: xm, bytes: 4 }, { ptr: y, stride: ys, mode: ym, bytes: 4 }], out, rows, n, compare ? 1 : 4, ([a, b]) => {
      if (compare) compareOp(c, op as CompareOp, a!, b!, int);
      else binaryOp(c, op as BinaryOp, a!, b!);
    });
  };
}

/** where_<cm><xm><ym>(cond, x, y, out, rows, n, cRowStride, xRowStride, yRowStride): out = cond ? x : y (cond bytes). */
function whereKernel(cm: Mode, xm: Mode, ym: Mode) {
  return (c: Code) => {
    const [cond, x, y, out, rows, n, cs, xs, ys] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    elementwise(
      c,
      [{ ptr: x, stride: xs, mode: xm, bytes: 4 }, { ptr: y, stride: ys, mode: ym, bytes: 4 }, { ptr: cond, stride: cs, mode: cm, bytes: 1 }],
      out, rows, n, 4,
      ([a, b, m]) => c.get(a!).get(b!).get(m!).v128Bitselect(),
    );
  };
}

/** @internal Leaves op(x) (an f32x4 local) on the stack; compile/'s fused kernels (wasm/fuse.ts) share it. */
export function unaryOp(c: Code, op: UnaryOp, x: number): void {
  switch (op) {
    case "neg": c.get(x).f32x4Neg(); return;
    case "sqrt": c.get(x).f32x4Sqrt(); return;
    case "reciprocal": c.f32x4Const(1).get(x).f32x4Div(); return;
    case "exp": math.exp(c, x); return;
    case "log": math.log(c, x); return;
    case "erf": math.erf(c, x); return;
    case "expm1": math.expm1(c, x); return;
    case "log1p": math.log1p(c, x); return;
    case "sign": {
      // sign(x): 1, −1, ±0 → 0, NaN → NaN: (x > 0) & 1.0 | (x < 0) & −1.0, then NaN lanes keep x.
      c.f32x4Const(1).get(x).v128Zero().f32x4Gt().v128And();
      c.f32x4Const(-1).get(x).v128Zero().f32x4Lt().v128And().v128Or();
      c.get(x).get(x).get(x).f32x4Eq().v128Bitselect(); // bitselect(a, b, m) = m ? a : b: NaN lanes keep x
      return;
    }
  }
}

/** un_<op>(x, out, rows, n, xRowStride): f32 out = op(x). */
function unaryKernel(op: UnaryOp) {
  return (c: Code) => {
    const [x, out, rows, n, xs] = [0, 1, 2, 3, 4];
    elementwise(c, [{ ptr: x, stride: xs, mode: "v", bytes: 4 }], out, rows, n, 4, ([a]) => unaryOp(c, op, a!));
  };
}

/** castF32ToBool / castBoolToF32 (x, out, rows, n, xRowStride): nonzero and not NaN → 1; bytes → 0/1 floats. */
function castKernel(to: "bool" | "float32") {
  return (c: Code) => {
    const [x, out, rows, n, xs] = [0, 1, 2, 3, 4];
    if (to === "bool") {
      elementwise(c, [{ ptr: x, stride: xs, mode: "v", bytes: 4 }], out, rows, n, 1, ([a]) => {
        // x ≠ 0 and x = x: (x != 0) & (x == x)
        c.get(a!).v128Zero().f32x4Ne().get(a!).get(a!).f32x4Eq().v128And();
      });
    } else {
      elementwise(c, [{ ptr: x, stride: xs, mode: "v", bytes: 1 }], out, rows, n, 4, ([m]) => {
        c.f32x4Const(1).get(m!).v128And();
      });
    }
  };
}

// ---------------------------------------------------------------- reductions

/**
 * sumOuter(x, out, outer, n, inner, acc): out[o][i] = Σ_j x[o][j][i] for inner ≥ 1, accumulated
 * in float64 in the scratch row `acc` (inner doubles) and rounded once, so the result is the
 * float32 rounding of a float64 sum in index order — as the cpu kernel's row sums, and the same
 * for any thread split. j walks rows of x in memory order.
 */
function sumOuter(c: Code): void {
  const [x, out, outer, n, inner, acc] = [0, 1, 2, 3, 4, 5];
  const o = c.local(i32);
  const j = c.local(i32);
  const i = c.local(i32);
  const in4 = c.local(i32);
  const v = c.local(v128);
  const a = c.local(i32);
  c.get(inner).i32Const(-4).i32And().set(in4);
  c.for(o, () => c.i32Const(0), () => c.get(outer), 1, () => {
    c.get(acc).i32Const(0).get(inner).i32Const(3).i32Shl().memoryFill();
    c.for(j, () => c.i32Const(0), () => c.get(n), 1, () => {
      c.for(i, () => c.i32Const(0), () => c.get(in4), 4, () => {
        c.get(x).get(i).i32Const(2).i32Shl().i32Add().v128Load().set(v);
        c.get(acc).get(i).i32Const(3).i32Shl().i32Add().tee(a);
        c.get(a).v128Load().get(v).f64x2PromoteLowF32x4().f64x2Add().v128Store();
        c.get(a).get(a).v128Load(16).get(v).get(v).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]).f64x2PromoteLowF32x4().f64x2Add().v128Store(16);
      });
      c.for(i, () => c.get(in4), () => c.get(inner), 1, () => {
        c.get(acc).get(i).i32Const(3).i32Shl().i32Add().tee(a);
        c.get(a).f64Load().get(x).get(i).i32Const(2).i32Shl().i32Add().f32Load().f64PromoteF32().f64Add().f64Store();
      });
      c.get(x).get(inner).i32Const(2).i32Shl().i32Add().set(x);
    });
    c.for(i, () => c.i32Const(0), () => c.get(inner), 1, () => {
      c.get(out).get(i).i32Const(2).i32Shl().i32Add();
      c.get(acc).get(i).i32Const(3).i32Shl().i32Add().f64Load().f32DemoteF64().f32Store();
    });
    c.get(out).get(inner).i32Const(2).i32Shl().i32Add().set(out);
  });
}

/**
 * maxOuter(x, out, outer, n, inner): out[o][i] = max_j x[o][j][i] with the cpu kernel's rule
 * (NaN wins, otherwise the larger; ties keep the first), vectorized across i.
 */
function maxOuter(c: Code): void {
  const [x, out, outer, n, inner] = [0, 1, 2, 3, 4];
  const o = c.local(i32);
  const j = c.local(i32);
  const i = c.local(i32);
  const p = c.local(i32);
  const row = c.local(i32);
  const best = c.local(v128);
  const v = c.local(v128);
  const lanes = (lane: boolean) => {
    // best = −∞; for j: v = x[o][j][i]; best = (v > best | v ≠ v) ? v : best
    c.f32x4Const(-Infinity).set(best);
    c.get(row).get(i).i32Const(2).i32Shl().i32Add().set(p);
    c.for(j, () => c.i32Const(0), () => c.get(n), 1, () => {
      c.get(p);
      if (lane) c.v128Load32Zero();
      else c.v128Load();
      c.set(v);
      c.get(v).get(best).get(v).get(best).f32x4Gt().get(v).get(v).f32x4Ne().v128Or().v128Bitselect().set(best);
      c.get(p).get(inner).i32Const(2).i32Shl().i32Add().set(p);
    });
    c.get(out).get(i).i32Const(2).i32Shl().i32Add().get(best);
    if (lane) c.v128Store32Lane(0);
    else c.v128Store();
  };
  const in4 = c.local(i32);
  c.get(inner).i32Const(-4).i32And().set(in4);
  c.get(x).set(row);
  c.for(o, () => c.i32Const(0), () => c.get(outer), 1, () => {
    c.for(i, () => c.i32Const(0), () => c.get(in4), 4, () => lanes(false));
    c.for(i, () => c.get(in4), () => c.get(inner), 1, () => lanes(true));
    c.get(row).get(n).get(inner).i32Mul().i32Const(2).i32Shl().i32Add().set(row);
    c.get(out).get(inner).i32Const(2).i32Shl().i32Add().set(out);
  });
}

/**
 * sumRows(x, out, rows, n) / maxRows: one value per contiguous row of n floats (the last axis).
 * sum accumulates in float64 pairs, lane order fixed ((x0+x2+…) and (x1+x3+…) per f64x2, combined
 * at the end), so it is deterministic and within the float64 summation bound of the exact sum.
 */
function rowsKernel(kind: "sum" | "max") {
  return (c: Code) => {
    const [x, out, rows, n] = [0, 1, 2, 3];
    const r = c.local(i32);
    const i = c.local(i32);
    const n4 = c.local(i32);
    const v = c.local(v128);
    const a0 = c.local(v128);
    const a1 = c.local(v128);
    const s = c.local(f64);
    const m = c.local(f32);
    const e = c.local(f32);
    c.get(n).i32Const(-4).i32And().set(n4);
    c.for(r, () => c.i32Const(0), () => c.get(rows), 1, () => {
      if (kind === "sum") {
        c.v128Zero().set(a0);
        c.v128Zero().set(a1);
        c.for(i, () => c.i32Const(0), () => c.get(n4), 4, () => {
          c.get(x).get(i).i32Const(2).i32Shl().i32Add().v128Load().set(v);
          c.get(a0).get(v).f64x2PromoteLowF32x4().f64x2Add().set(a0);
          c.get(a1).get(v).get(v).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]).f64x2PromoteLowF32x4().f64x2Add().set(a1);
        });
        c.get(a0).get(a1).f64x2Add().set(a0);
        c.get(a0).f64x2ExtractLane(0).get(a0).f64x2ExtractLane(1).f64Add().set(s);
        c.for(i, () => c.get(n4), () => c.get(n), 1, () => {
          c.get(s).get(x).get(i).i32Const(2).i32Shl().i32Add().f32Load().f64PromoteF32().f64Add().set(s);
        });
        c.get(out).get(r).i32Const(2).i32Shl().i32Add().get(s).f32DemoteF64().f32Store();
      } else {
        // Sequential (the rule is order-dependent only for NaN payloads and ±0; keep the first).
        c.f32Const(-Infinity).set(m);
        c.for(i, () => c.i32Const(0), () => c.get(n), 1, () => {
          c.get(x).get(i).i32Const(2).i32Shl().i32Add().f32Load().set(e);
          c.get(e).get(m).get(e).get(m).f32Gt().get(e).get(e).f32Ne().i32Or().select().set(m);
        });
        c.get(out).get(r).i32Const(2).i32Shl().i32Add().get(m).f32Store();
      }
      c.get(x).get(n).i32Const(2).i32Shl().i32Add().set(x);
    });
  };
}

/**
 * argOuter(x, out, outer, n, inner) for argmax (">") / argmin ("<"): int32 index of the first
 * extreme along j of x[o][j][i]; the first NaN wins over everything (the cpu rule), vectorized
 * across i with an index vector.
 */
function argOuter(cmp: ">" | "<") {
  return (c: Code) => {
    const [x, out, outer, n, inner] = [0, 1, 2, 3, 4];
    const o = c.local(i32);
    const j = c.local(i32);
    const i = c.local(i32);
    const p = c.local(i32);
    const row = c.local(i32);
    const in4 = c.local(i32);
    const best = c.local(v128);
    const idx = c.local(v128);
    const v = c.local(v128);
    const mask = c.local(v128);
    const lanes = (lane: boolean) => {
      c.get(row).get(i).i32Const(2).i32Shl().i32Add().tee(p);
      if (lane) c.v128Load32Zero();
      else c.v128Load();
      c.set(best);
      c.v128Zero().set(idx);
      c.for(j, () => c.i32Const(1), () => c.get(n), 1, () => {
        c.get(p).get(inner).i32Const(2).i32Shl().i32Add().tee(p);
        if (lane) c.v128Load32Zero();
        else c.v128Load();
        c.set(v);
        // take = best == best & (v ≠ v | v cmp best)
        c.get(best).get(best).f32x4Eq();
        c.get(v).get(v).f32x4Ne().get(v).get(best);
        if (cmp === ">") c.f32x4Gt();
        else c.f32x4Lt();
        c.v128Or().v128And().set(mask);
        c.get(v).get(best).get(mask).v128Bitselect().set(best);
        c.get(j).i32x4Splat().get(idx).get(mask).v128Bitselect().set(idx);
      });
      c.get(out).get(i).i32Const(2).i32Shl().i32Add().get(idx);
      if (lane) c.v128Store32Lane(0);
      else c.v128Store();
    };
    c.get(inner).i32Const(-4).i32And().set(in4);
    c.get(x).set(row);
    c.for(o, () => c.i32Const(0), () => c.get(outer), 1, () => {
      c.for(i, () => c.i32Const(0), () => c.get(in4), 4, () => lanes(false));
      c.for(i, () => c.get(in4), () => c.get(inner), 1, () => lanes(true));
      c.get(row).get(n).get(inner).i32Mul().i32Const(2).i32Shl().i32Add().set(row);
      c.get(out).get(inner).i32Const(2).i32Shl().i32Add().set(out);
    });
  };
}

// ---------------------------------------------------------------- im2col / col2im

/**
 * window(img, cols, oh, ow, h, w, sh, sw, yOff, dx, ox0, ox1, toCols): one (image channel, kernel
 * tap) pair of im2col (toCols ≠ 0: cols row ← image) or col2im (image += cols row). For output
 * row oy the image row is y = oy·sh + yOff (skipped outside [0, h)); output columns [ox0, ox1)
 * read image column ox·sw + dx (the driver computes the valid interval once per tap).
 */
function windowKernel(c: Code): void {
  const [img, cols, oh, ow, h, w, sh, sw, yOff, dx, ox0, ox1, toCols] = I(13).map((_, k) => k);
  const oy = c.local(i32);
  const ox = c.local(i32);
  const y = c.local(i32);
  const cp = c.local(i32);
  const ip = c.local(i32);
  const swb = c.local(i32);
  c.get(sw).i32Const(2).i32Shl().set(swb);
  c.for(oy, () => c.i32Const(0), () => c.get(oh), 1, () => {
    c.get(oy).get(sh).i32Mul().get(yOff).i32Add().set(y);
    c.get(y).i32Const(0).i32GeS().get(y).get(h).i32LtS().i32And().if();
    // cp = cols + (oy·ow + ox0)·4; ip = img + (y·w + dx + ox0·sw)·4
    c.get(cols).get(oy).get(ow).i32Mul().get(ox0).i32Add().i32Const(2).i32Shl().i32Add().set(cp);
    c.get(img).get(y).get(w).i32Mul().get(dx).i32Add().get(ox0).get(sw).i32Mul().i32Add().i32Const(2).i32Shl().i32Add().set(ip);
    // One row of one direction (im2col copies cols ← image; col2im adds image += cols), chosen
    // once per row rather than per element. Stride 1: the run is contiguous on both sides, four
    // floats a step (runs are short, 8–32 floats in LeNet, where a memory.copy call per run
    // costs more than the copy); then the rest (every column when the stride is not 1).
    const row = (add: boolean) => {
      c.get(ox0).set(ox);
      c.get(sw).i32Const(1).i32Eq().if();
      c.for(ox, () => c.get(ox0), () => c.get(ox1).i32Const(3).i32Sub(), 4, () => {
        if (add) c.get(ip).get(ip).v128Load().get(cp).v128Load().f32x4Add().v128Store();
        else c.get(cp).get(ip).v128Load().v128Store();
        c.get(cp).i32Const(16).i32Add().set(cp);
        c.get(ip).i32Const(16).i32Add().set(ip);
      });
      c.end();
      c.block();
      c.get(ox).get(ox1).i32GeS().brIf(0);
      c.loop();
      if (add) c.get(ip).get(ip).f32Load().get(cp).f32Load().f32Add().f32Store();
      else c.get(cp).get(ip).f32Load().f32Store();
      c.get(cp).i32Const(4).i32Add().set(cp);
      c.get(ip).get(swb).i32Add().set(ip);
      c.get(ox).i32Const(1).i32Add().tee(ox).get(ox1).i32LtS().brIf(0);
      c.end();
      c.end();
    };
    c.get(toCols).if();
    row(false);
    c.else();
    row(true);
    c.end();
    c.end();
  });
}

/**
 * windowImage(img, cols, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, toCols, scratch): im2col
 * (or col2im) of one image: every (channel, kernel tap) with its valid output-column interval
 * [ox0, ox1) — x = ox·SW + dx must lie in [0, W) — then {@link windowKernel} for the rows. One
 * thread task per image (images write disjoint outputs); `scratch` is unused.
 */
function windowImage(m0: ModuleBuilder) {
  return (c: Code) => {
    const [img, cols, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, toCols] = I(16).map((_, i) => i);
    const ch = c.local(i32);
    const ki = c.local(i32);
    const kj = c.local(i32);
    const dx = c.local(i32);
    const ox0 = c.local(i32);
    const ox1 = c.local(i32);
    const t = c.local(i32);
    const imgBase = c.local(i32);
    const colBase = c.local(i32);
    const L4 = c.local(i32);
    c.get(OH).get(OW).i32Mul().i32Const(2).i32Shl().set(L4);
    c.get(cols).set(colBase);
    c.for(ch, () => c.i32Const(0), () => c.get(C), 1, () => {
      c.get(img).get(ch).get(H).i32Mul().get(W).i32Mul().i32Const(2).i32Shl().i32Add().set(imgBase);
      c.for(ki, () => c.i32Const(0), () => c.get(KH), 1, () => {
        c.for(kj, () => c.i32Const(0), () => c.get(KW), 1, () => {
          c.get(kj).get(DW).i32Mul().get(PW).i32Sub().set(dx);
          // ox0 = dx ≥ 0 ? 0 : min(OW, ⌈−dx / SW⌉)
          c.i32Const(0);
          c.i32Const(0).get(dx).i32Sub().get(SW).i32Add().i32Const(1).i32Sub().get(SW).i32Div().tee(t);
          c.get(OW).get(t).get(OW).i32LtS().select();
          c.get(dx).i32Const(0).i32GeS().select().set(ox0);
          // ox1 = W − 1 − dx < 0 ? ox0 : max(ox0, min(OW, ⌊(W − 1 − dx) / SW⌋ + 1))
          c.get(W).i32Const(1).i32Sub().get(dx).i32Sub().tee(t).i32Const(0).i32LtS().if();
          c.get(ox0).set(ox1);
          c.else();
          c.get(t).get(SW).i32Div().i32Const(1).i32Add().tee(t);
          c.get(OW).get(t).get(OW).i32LtS().select().tee(t);
          c.get(ox0).get(t).get(ox0).i32GtS().select().set(ox1);
          c.end();
          c.get(ox1).get(ox0).i32GtS().if();
          c.get(imgBase).get(colBase).get(OH).get(OW).get(H).get(W).get(SH).get(SW);
          c.get(ki).get(DH).i32Mul().get(PH).i32Sub().get(dx).get(ox0).get(ox1).get(toCols).call(m0.indexOf("window"));
          c.end();
          c.get(colBase).get(L4).i32Add().set(colBase);
        });
      });
    });
  };
}

// ---------------------------------------------------------------- the module

/** The kernel module's exports, typed. */
export interface KernelExports {
  packA(src: number, lda: number, kc: number, mrows: number, dst: number): void;
  packAT(src: number, ld: number, kc: number, mrows: number, dst: number): void;
  packB(src: number, ldb: number, kc: number, ncols: number, dst: number): void;
  packBT(src: number, ld: number, kc: number, ncols: number, dst: number): void;
  macro(Ap: number, Bp: number, C: number, mStrips: number, nStrips: number, kc: number, ldc: number, first: number): void;
  gemmBlock(A: number, aT: number, aRows: number, B: number, bT: number, k: number, m: number, n: number, C: number, ldc: number, jc: number, nc: number, scratch: number): void;
  copyRows(src: number, srcStride: number, dst: number, dstStride: number, rows: number, rowBytes: number): void;
  gather4(src: number, dst: number, rows: number, cols: number, srcRowStride: number, srcColStride: number): void;
  gather1(src: number, dst: number, rows: number, cols: number, srcRowStride: number, srcColStride: number): void;
  scatter4(src: number, dst: number, rows: number, cols: number, dstRowStride: number, dstColStride: number): void;
  scatter1(src: number, dst: number, rows: number, cols: number, dstRowStride: number, dstColStride: number): void;
  transpose(src: number, dst: number, rows: number, cols: number): void;
  fill8(dst: number, bytes: number, value: number): void;
  fill32(dst: number, n: number, bits: number): void;
  sumOuter(x: number, out: number, outer: number, n: number, inner: number, acc: number): void;
  maxOuter(x: number, out: number, outer: number, n: number, inner: number): void;
  sumRows(x: number, out: number, rows: number, n: number): void;
  maxRows(x: number, out: number, rows: number, n: number): void;
  argmaxOuter(x: number, out: number, outer: number, n: number, inner: number): void;
  argminOuter(x: number, out: number, outer: number, n: number, inner: number): void;
  window(img: number, cols: number, oh: number, ow: number, h: number, w: number, sh: number, sw: number, yOff: number, dx: number, ox0: number, ox1: number, toCols: number): void;
  windowImage(img: number, cols: number, C: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, DH: number, DW: number, OH: number, OW: number, toCols: number, scratch: number): void;
  castF32ToBool(x: number, out: number, rows: number, n: number, xs: number): void;
  castBoolToF32(x: number, out: number, rows: number, n: number, xs: number): void;
  [elementwise: string]: (...args: number[]) => void;
}

/** The unary kernels (backend.ts's UNARY_KERNELS) with a SIMD kernel here; the others (sin, cos) run the cpu kernel over a view of the same storage (ops.ts). */
export const UNARY_OPS = ["neg", "reciprocal", "sqrt", "sign", "exp", "log", "erf", "expm1", "log1p"] as const satisfies readonly UnaryKernel[];
export const BINARY_OPS: readonly BinaryOp[] = ["add", "mul", "maximum"];
export const COMPARE_OPS: readonly CompareOp[] = ["equal", "notEqual", "greater", "greaterEqual", "less", "lessEqual"];

/** The kernel module's binary; `sharedMaxPages` makes it import a shared memory (worker threads). */
export function kernelModule(sharedMaxPages?: number): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder(sharedMaxPages === undefined ? {} : { sharedMaxPages });
  m.func("packA", I(5), [], packRows(MR))
    .func("packAT", I(5), [], packAT)
    .func("packB", I(5), [], packB)
    .func("packBT", I(5), [], packRows(NR))
    .func("macro", I(8), [], macro)
    .func("gemmBlock", I(13), [], gemmBlock(m))
    .func("copyRows", I(6), [], copyRows)
    .func("gather4", I(6), [], strided2d(4, true))
    .func("gather1", I(6), [], strided2d(1, true))
    .func("scatter4", I(6), [], strided2d(4, false))
    .func("scatter1", I(6), [], strided2d(1, false))
    .func("transpose", I(4), [], transpose)
    .func("fill8", I(3), [], fill8)
    .func("fill32", I(3), [], fill32)
    .func("sumOuter", I(6), [], sumOuter)
    .func("maxOuter", I(5), [], maxOuter)
    .func("sumRows", I(4), [], rowsKernel("sum"))
    .func("maxRows", I(4), [], rowsKernel("max"))
    .func("argmaxOuter", I(5), [], argOuter(">"))
    .func("argminOuter", I(5), [], argOuter("<"))
    .func("window", I(13), [], windowKernel)
    .func("windowImage", I(17), [], windowImage(m))
    .func("castF32ToBool", I(5), [], castKernel("bool"))
    .func("castBoolToF32", I(5), [], castKernel("float32"));
  for (const op of UNARY_OPS) m.func(`un_${op}`, I(5), [], unaryKernel(op));
  for (const [xm, ym] of MODES) {
    for (const op of BINARY_OPS) m.func(`bin_${op}_${xm}${ym}`, I(7), [], binaryKernel(op, xm, ym, false));
    for (const op of COMPARE_OPS) m.func(`cmp_${op}_${xm}${ym}`, I(7), [], binaryKernel(op, xm, ym, true));
    for (const op of COMPARE_OPS) m.func(`cmpi_${op}_${xm}${ym}`, I(7), [], binaryKernel(op, xm, ym, true, true));
  }
  for (const cm of ["v", "s"] as Mode[]) {
    for (const [xm, ym] of [...MODES, ["s", "s"]] as [Mode, Mode][]) {
      if (cm === "s" && xm === "s" && ym === "s") continue;
      m.func(`where_${cm}${xm}${ym}`, I(9), [], whereKernel(cm, xm, ym));
    }
  }
  return m.encode();
}
