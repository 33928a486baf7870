/**
 * The wasm backend's kernels, written with the emitter in emit.ts and compiled once, on first
 * use. All pointers are byte offsets into the one imported memory; all sizes are i32.
 *
 * sgemm follows the GotoBLAS/BLIS structure: B is packed into NR-column strips (`Bp[strip][p][j]`),
 * A into MR-row strips (`Ap[strip][p][i]`), and a register-tiled micro-kernel keeps an MR×NR tile
 * of C in MR·NR/4 f32x4 accumulators: per step p it loads NR/4 vectors of B, splats MR scalars of
 * A and does MR·NR/4 vector multiply-adds. Packing clamps out-of-range rows/columns to the last
 * valid one, so every tile is full and no kernel branches on edges; the caller gives C a padded
 * leading dimension and discards the padding.
 */
import { Code, ModuleBuilder, type ValType, f32, i32, v128 } from "./emit.js";

/** Register tile: MR rows × NR columns of C (NR a multiple of 4). 4×8 = 8 accumulators. */
export const MR = 4;
export const NR = 8;

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

/** packA(src, ldaBytes, kc, mrows, dst): A[0:mrows, 0:kc] → MR-row strips, rows clamped to mrows − 1. */
function packA(c: Code): void {
  const [src, lda, kc, mrows, dst] = [0, 1, 2, 3, 4];
  const s = c.local(i32);
  const p = c.local(i32);
  const strips = c.local(i32);
  const lastRow = c.local(i32);
  const rows = Array.from({ length: MR }, () => c.local(i32));
  c.get(mrows).i32Const(MR - 1).i32Add().i32Const(MR).i32Div().set(strips);
  c.get(mrows).i32Const(1).i32Sub().set(lastRow);
  c.for(s, () => c.i32Const(0), () => c.get(strips), 1, () => {
    for (let i = 0; i < MR; i++) {
      // row_i = src + min(s·MR + i, mrows − 1)·lda
      c.get(s).i32Const(MR).i32Mul().i32Const(i).i32Add().tee(rows[i]!);
      c.get(lastRow).get(rows[i]!).get(lastRow).i32LtS().select();
      c.get(lda).i32Mul().get(src).i32Add().set(rows[i]!);
    }
    c.for(p, () => c.i32Const(0), () => c.get(kc), 1, () => {
      for (let i = 0; i < MR; i++) {
        c.get(dst).get(rows[i]!).f32Load().f32Store(i * 4);
        c.get(rows[i]!).i32Const(4).i32Add().set(rows[i]!);
      }
      c.get(dst).i32Const(MR * 4).i32Add().set(dst);
    });
  });
}

/**
 * macro(Ap, Bp, C, mStrips, nStrips, kc, ldcBytes): C[mStrips·MR, nStrips·NR] += Ap·Bp. Column
 * strips outside, row strips inside, so one kc×NR strip of B (8 KiB at kc = 256) stays in L1
 * while the packed A block streams from L2.
 */
function macro(c: Code): void {
  const [Ap, Bp, C, mStrips, nStrips, kc, ldc] = [0, 1, 2, 3, 4, 5, 6];
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
      // C tile += accumulators.
      c.get(C).get(s).i32Const(MR).i32Mul().get(ldc).i32Mul().i32Add().get(t).i32Const(NR * 4).i32Mul().i32Add().set(cRow);
      for (let i = 0; i < MR; i++) {
        for (let j = 0; j < NR / 4; j++) {
          c.get(cRow).get(cRow).v128Load(j * 16).get(acc[i * (NR / 4) + j]!).f32x4Add().v128Store(j * 16);
        }
        if (i < MR - 1) c.get(cRow).get(ldc).i32Add().set(cRow);
      }
    });
  });
}

/**
 * Elementwise f32 `out[r·q + i] = x[r·q + i] ∘ y[r·yStride + i]` for r < rows, i < q: same-size
 * operands (rows = 1) and a y repeated along leading dims (yStride = 0, the bias-add pattern).
 * Vector body plus a scalar tail per row.
 */
function binaryRows(op: "add" | "mul") {
  return (c: Code) => {
    const [x, y, out, rows, q, yStride] = [0, 1, 2, 3, 4, 5];
    const r = c.local(i32);
    const i = c.local(i32);
    const q4 = c.local(i32);
    const yr = c.local(i32);
    const vop = () => (op === "add" ? c.f32x4Add() : c.f32x4Mul());
    const sop = () => (op === "add" ? c.f32Add() : c.f32Mul());
    c.get(q).i32Const(-4).i32And().i32Const(2).i32Shl().set(q4);
    c.get(q).i32Const(2).i32Shl().set(q);
    c.for(r, () => c.i32Const(0), () => c.get(rows), 1, () => {
      c.get(y).get(r).get(yStride).i32Mul().i32Const(2).i32Shl().i32Add().set(yr);
      c.for(i, () => c.i32Const(0), () => c.get(q4), 16, () => {
        c.get(out).get(i).i32Add();
        c.get(x).get(i).i32Add().v128Load();
        c.get(yr).get(i).i32Add().v128Load();
        vop();
        c.v128Store();
      });
      c.for(i, () => c.get(q4), () => c.get(q), 4, () => {
        c.get(out).get(i).i32Add();
        c.get(x).get(i).i32Add().f32Load();
        c.get(yr).get(i).i32Add().f32Load();
        sop();
        c.f32Store();
      });
      c.get(x).get(q).i32Add().set(x);
      c.get(out).get(q).i32Add().set(out);
    });
  };
}

/** `out[i] = x[i] ∘ s` for a scalar s (f32 param). */
function binaryScalar(op: "add" | "mul") {
  return (c: Code) => {
    const [x, s, out, n] = [0, 1, 2, 3];
    const i = c.local(i32);
    const n4 = c.local(i32);
    const sv = c.local(v128);
    c.get(s).f32x4Splat().set(sv);
    c.get(n).i32Const(-4).i32And().i32Const(2).i32Shl().set(n4);
    c.get(n).i32Const(2).i32Shl().set(n);
    c.for(i, () => c.i32Const(0), () => c.get(n4), 16, () => {
      c.get(out).get(i).i32Add().get(x).get(i).i32Add().v128Load().get(sv);
      if (op === "add") c.f32x4Add();
      else c.f32x4Mul();
      c.v128Store();
    });
    c.for(i, () => c.get(n4), () => c.get(n), 4, () => {
      c.get(out).get(i).i32Add().get(x).get(i).i32Add().f32Load().get(s);
      if (op === "add") c.f32Add();
      else c.f32Mul();
      c.f32Store();
    });
  };
}

/** The kernel module's exports, typed. */
export interface KernelExports {
  packA(src: number, lda: number, kc: number, mrows: number, dst: number): void;
  packB(src: number, ldb: number, kc: number, ncols: number, dst: number): void;
  macro(Ap: number, Bp: number, C: number, mStrips: number, nStrips: number, kc: number, ldc: number): void;
  addRows(x: number, y: number, out: number, rows: number, q: number, yStride: number): void;
  mulRows(x: number, y: number, out: number, rows: number, q: number, yStride: number): void;
  addScalar(x: number, s: number, out: number, n: number): void;
  mulScalar(x: number, s: number, out: number, n: number): void;
}

/** The kernel module's binary (about 2.2 KB). */
export function kernelModule(): Uint8Array<ArrayBuffer> {
  const I5: ValType[] = [i32, i32, i32, i32, i32];
  return new ModuleBuilder()
    .func("packA", I5, [], packA)
    .func("packB", I5, [], packB)
    .func("macro", [i32, i32, i32, i32, i32, i32, i32], [], macro)
    .func("addRows", [i32, i32, i32, i32, i32, i32], [], binaryRows("add"))
    .func("mulRows", [i32, i32, i32, i32, i32, i32], [], binaryRows("mul"))
    .func("addScalar", [i32, f32, i32, i32], [], binaryScalar("add"))
    .func("mulScalar", [i32, f32, i32, i32], [], binaryScalar("mul"))
    .encode();
}
