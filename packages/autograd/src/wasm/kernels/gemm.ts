/**
 * sgemm kernels (see ../kernels.ts for the GotoBLAS/BLIS structure): packing of A and B into
 * register-tile strips, the MR×NR micro-kernel loop (`macro`) and one cache block (`gemmBlock`).
 */
import { Code, ModuleBuilder, i32, v128, i32Params as I } from "../emit.js";

/** Register tile: MR rows × NR columns of C (NR a multiple of 4). 4×8 = 8 accumulators. */
export const MR = 4;
export const NR = 8;

/**
 * Packing from columns: W-wide strips whose lane j at step p is `src[p][strip·W + j]` (row
 * stride ldBytes), columns clamped to `count − 1`. A full strip's W values at step p are
 * contiguous, so they move as W/4 vectors; only the last, partial strip reads lane by lane. It is
 * both packB(src, ldbBytes, kc, ncols, dst) — B[0:kc, 0:ncols] → NR-column strips — and
 * packAT(src, ldBytes, kc, mrows, dst) — MR-row strips of A read from A stored transposed
 * (`At[p][i]`).
 */
export function packCols(W: number) {
  return (c: Code): void => {
    const [src, ld, kc, count, dst] = [0, 1, 2, 3, 4];
    const t = c.local(i32);
    const p = c.local(i32);
    const full = c.local(i32);
    const s = c.local(i32);
    const last = c.local(i32);
    const offs = Array.from({ length: W }, () => c.local(i32));
    // full = count / W strips copied with vector moves.
    c.get(count).i32Const(W).i32Div().set(full);
    c.for(t, () => c.i32Const(0), () => c.get(full), 1, () => {
      c.get(src).get(t).i32Const(W * 4).i32Mul().i32Add().set(s);
      c.for(p, () => c.i32Const(0), () => c.get(kc), 1, () => {
        for (let j = 0; j < W / 4; j++) c.get(dst).get(s).v128Load(j * 16).v128Store(j * 16);
        c.get(dst).i32Const(W * 4).i32Add().set(dst);
        c.get(s).get(ld).i32Add().set(s);
      });
    });
    // A last, partial strip: lane j reads column min(full·W + j, count − 1).
    c.get(count).get(full).i32Const(W).i32Mul().i32Sub().if();
    {
      c.get(count).i32Const(1).i32Sub().i32Const(2).i32Shl().set(last);
      for (let j = 0; j < W; j++) {
        // off_j = min((full·W + j)·4, last)
        c.get(full).i32Const(W).i32Mul().i32Const(j).i32Add().i32Const(2).i32Shl().tee(offs[j]!);
        c.get(last).get(offs[j]!).get(last).i32LtS().select().set(offs[j]!);
      }
      c.get(src).set(s);
      c.for(p, () => c.i32Const(0), () => c.get(kc), 1, () => {
        for (let j = 0; j < W; j++) c.get(dst).get(s).get(offs[j]!).i32Add().f32Load().f32Store(j * 4);
        c.get(dst).i32Const(W * 4).i32Add().set(dst);
        c.get(s).get(ld).i32Add().set(s);
      });
    }
    c.end();
  };
}

/**
 * Packing from rows: R-wide strips whose lane i at step p is `src[row i][p]`, rows clamped to
 * `count − 1`. It is both packA(src, ldaBytes, kc, mrows, dst) — A[0:mrows, 0:kc] → MR-row strips —
 * and packBT(src, ldBytes, kc, ncols, dst) — NR-column strips of B read from B stored transposed
 * (`Bt[j][p]`, row stride ldBytes).
 */
export function packRows(R: number) {
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
 * macro(Ap, Bp, C, mStrips, nStrips, kc, ldcBytes, first): C[mStrips·MR, nStrips·NR] (+)= Ap·Bp —
 * stores when `first` is nonzero (the first k-block: no zero-fill of C needed), adds otherwise.
 * Column strips outside, row strips inside, so one kc×NR strip of B (8 KiB at kc = 256) stays in
 * L1 while the packed A block streams from L2.
 */
export function macro(c: Code): void {
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
export function gemmBlock(m0: ModuleBuilder) {
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
