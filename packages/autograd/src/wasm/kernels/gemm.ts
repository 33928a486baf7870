/**
 * sgemm kernels (see ../kernels.ts for the GotoBLAS/BLIS structure): packing of A and B into
 * register-tile strips, the MR×NR micro-kernel loop (`macro`) and one panel of C (`gemmPanel`).
 */
import { Code, ModuleBuilder, f32, i32, v128, i32Params as I } from "../emit.js";

/** Register tile: MR rows × NR columns of C (NR a multiple of 4). 4×8 = 8 accumulators. */
export const MR = 4;
export const NR = 8;

/**
 * Packing from columns: W-wide strips whose lane j at step p is `src[p][strip·W + j]` (row
 * stride ldBytes), columns clamped to `count − 1`. A full strip's W values at step p are
 * contiguous, so they move as W/4 vectors; only the last, partial strip reads lane by lane. It is
 * both packB(src, ldbBytes, kc, ncols, dst) — B[0:kc, 0:ncols] → NR-column strips — and
 * packAT(src, ldBytes, kc, mrows, dst) — MR-row strips of A read from A stored transposed
 * (`At[p][i]`). Whole strips are copied PACK_STEPS k-steps at a time across all strips, not one
 * strip over all kc steps: a row of a wide B (a convolution's columns, 6,400 floats) is a page
 * apart from the next, and one strip's kc rows touched kc pages — more than the L1 TLB holds —
 * once per strip.
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
    const p0 = c.local(i32);
    const pe = c.local(i32);
    const d = c.local(i32);
    // full = count / W strips copied with vector moves.
    c.get(count).i32Const(W).i32Div().set(full);
    // Whole strips in blocks of PACK_STEPS k-steps: each block reads its rows across all strips,
    // so a few rows (pages) are live at a time rather than kc rows per strip.
    c.for(p0, () => c.i32Const(0), () => c.get(kc), PACK_STEPS, () => {
      c.get(p0).i32Const(PACK_STEPS).i32Add().tee(pe).get(kc).get(pe).get(kc).i32LtS().select().set(pe);
      c.for(t, () => c.i32Const(0), () => c.get(full), 1, () => {
        c.get(src).get(t).i32Const(W * 4).i32Mul().i32Add().get(p0).get(ld).i32Mul().i32Add().set(s);
        c.get(dst).get(t).get(kc).i32Mul().get(p0).i32Add().i32Const(W * 4).i32Mul().i32Add().set(d);
        c.for(p, () => c.get(p0), () => c.get(pe), 1, () => {
          for (let j = 0; j < W / 4; j++) c.get(d).get(s).v128Load(j * 16).v128Store(j * 16);
          c.get(d).i32Const(W * 4).i32Add().set(d);
          c.get(s).get(ld).i32Add().set(s);
        });
      });
    });
    c.get(dst).get(full).get(kc).i32Mul().i32Const(W * 4).i32Mul().i32Add().set(dst);
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
 * packBCols(desc, p0, kc, q0, count, dst): packB of rows [p0, p0 + kc) and columns [q0, q0 + count)
 * of a convolution's columns that are not written out (placement.ts's ColumnsView): `desc` holds
 * the image X and the row, column-group and lane offset tables (byte offsets; element (p, q) is
 * at X + rowTab[p] + groupTab[q >> 2] + (q & 3)·4, or for a group split across two output rows
 * (groupTab[g] = −1 − s) at X + rowTab[p] + laneTab[4s + (q & 3)]). q0 and count are multiples
 * of 4. A strip of two whole groups moves as two vectors a step, one with a split group lane by
 * lane; a last strip of 4 columns repeats its group in the other four lanes (the macro-kernel
 * never stores a partial tile's extra lanes). The strips hold the values packB would copy from
 * the written columns.
 */
export function packBCols(c: Code): void {
  const [desc, p0, kc, q0, count, dst] = [0, 1, 2, 3, 4, 5];
  const X = c.local(i32);
  const rowTab = c.local(i32);
  const groupTab = c.local(i32);
  const laneTab = c.local(i32);
  const t = c.local(i32);
  const g = c.local(i32);
  const gLast = c.local(i32);
  const split = c.local(i32);
  const r = c.local(i32);
  const rEnd = c.local(i32);
  const off = c.local(i32);
  const go = c.local(i32);
  // The strip's eight lanes: X + each column's offset (a whole group: its first column's + 4·lane).
  const la = Array.from({ length: NR }, () => c.local(i32));
  c.get(desc).i32Load(0).set(X);
  c.get(desc).i32Load(4).get(p0).i32Const(2).i32Shl().i32Add().set(rowTab);
  c.get(desc).i32Load(8).set(groupTab);
  c.get(desc).i32Load(12).set(laneTab);
  c.get(rowTab).get(kc).i32Const(2).i32Shl().i32Add().set(rEnd);
  // Groups [q0/4, (q0 + count)/4): the last one's index.
  c.get(q0).get(count).i32Add().i32Const(2).i32ShrU().i32Const(1).i32Sub().set(gLast);
  c.for(t, () => c.get(q0).i32Const(2).i32ShrU(), () => c.get(gLast).i32Const(1).i32Add(), NR / 4, () => {
    c.i32Const(0).set(split);
    for (let h = 0; h < 2; h++) {
      // This strip's groups: t and min(t + 1, gLast).
      if (h === 0) c.get(t).set(g);
      else c.get(t).i32Const(1).i32Add().tee(g).get(gLast).get(g).get(gLast).i32LeS().select().set(g);
      c.get(g).i32Const(2).i32Shl().get(groupTab).i32Add().i32Load().tee(go).i32Const(0).i32GeS().if();
      for (let l = 0; l < 4; l++) c.get(X).get(go).i32Add().i32Const(4 * l).i32Add().set(la[4 * h + l]!);
      c.else();
      c.i32Const(1).set(split);
      for (let l = 0; l < 4; l++) c.i32Const(-1).get(go).i32Sub().i32Const(4).i32Shl().get(laneTab).i32Add().i32Load(4 * l).get(X).i32Add().set(la[4 * h + l]!);
      c.end();
    }
    c.get(rowTab).set(r);
    c.get(split).i32Eqz().if();
    c.loop();
    c.get(r).i32Load().set(off);
    c.get(dst).get(la[0]!).get(off).i32Add().v128Load().v128Store(0);
    c.get(dst).get(la[4]!).get(off).i32Add().v128Load().v128Store(16);
    c.get(dst).i32Const(NR * 4).i32Add().set(dst);
    c.get(r).i32Const(4).i32Add().tee(r).get(rEnd).i32LtU().brIf(0);
    c.end();
    c.else();
    c.loop();
    c.get(r).i32Load().set(off);
    for (let l = 0; l < NR; l++) c.get(dst).get(la[l]!).get(off).i32Add().f32Load().f32Store(4 * l);
    c.get(dst).i32Const(NR * 4).i32Add().set(dst);
    c.get(r).i32Const(4).i32Add().tee(r).get(rEnd).i32LtU().brIf(0);
    c.end();
    c.end();
  });
}

/** Cache blocking: a KC×NC panel of packed B sits in L2/L3, an MC×KC block of packed A (128 KiB) in L2. */
export const KC = 256;
export const MC = MR * 32;
export const NC = NR * 256;
/**
 * B is read in place (not packed) for m up to SMALL_M and k up to IN_PLACE_K: each of its strips
 * then serves at most four row strips, so packing it costs about as much as it saves. Over a
 * longer k, a strip read in place walks more rows (pages) than the L1 TLB and the prefetchers
 * follow, and packing wins: LeNet's conv2 forward, [16, 150]·[150, 6400], took 0.68–0.73× the time
 * packed (B in blocks, see packCols); [16, 64]·[64, 4900] and [6, 25]·[25, 4900] stay faster in place.
 * So do row strides that are a multiple of 4 KiB (rows that share an L1 set): with at most 64 rows
 * per strip, LeNet's conv1 forward [6, 25]·[25, 50176] took 0.79–0.85× the time in place.
 */
export const SMALL_M = 16;
export const IN_PLACE_K = 64;
/** k-steps per block when whole strips are packed (packCols). */
const PACK_STEPS = 16;
/**
 * macro walks row strips outside for k blocks up to this long (see macro); the packed B panel is
 * then at most ROWS_OUTER_KC·NC floats (256 KiB), which the L2 holds while every row strip reads it.
 */
const ROWS_OUTER_KC = 32;
/** Bytes of scratch one matmul task (gemmBlock) needs: packed A block, packed B panel, one MR×NR edge tile. */
export const GEMM_SCRATCH = KC * MC * 4 + KC * NC * 4 + MR * NR * 4;

/**
 * macro(Ap, Bp, bStep, bStrip, C, mc, nc, kc, ldc, first, tile): C[0:mc, 0:nc] (+)= Ap·Bp — stores
 * when `first` is nonzero (the first k-block: no zero-fill of C needed), adds otherwise. B's
 * strip t starts at Bp + t·bStrip and advances bStep bytes per k-step (packed: kc·NR·4 and NR·4;
 * read in place: NR·4 and ldb). Column strips outside, row strips inside, so one kc×NR strip of B
 * stays in L1 while the packed A block streams from L2 — except for a short k block (kc ≤
 * ROWS_OUTER_KC), where writing C is most of the work: then row strips go outside, so C is written
 * tile after tile along its rows instead of NR columns of every row of the block at a time — rows
 * a wide C's stride apart, which share a few L1 sets (a 6,400-float row is 6.25 pages: 4 sets), so
 * each line was evicted before its second half was written. LeNet's conv2 input gradient
 * [150, 16]·[16, 6400] takes 0.56–0.65× the time. The order of tiles changes no element's sum. Edges go straight into C: the last row
 * strip runs a micro-kernel of its mc % MR rows only, and a tile narrower than NR is written
 * through `tile` (MR·NR floats) element by element with the same additions — so every element's
 * value is the same whether its tile is whole or partial. With `fma` each step is one relaxed SIMD
 * multiply-add per accumulator (fused where the hardware has FMA) instead of a multiply and an add.
 */
export function macro(fma: boolean) {
  return (c: Code): void => macroBody(c, fma);
}

function macroBody(c: Code, fma: boolean): void {
  const [Ap, Bp, bStep, bStrip, C, mc, nc, kc, ldc, first, tile] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const t = c.local(i32);
  const s = c.local(i32);
  const pa = c.local(i32);
  const pb = c.local(i32);
  const pbEnd = c.local(i32);
  const bS = c.local(i32);
  const cRow = c.local(i32);
  const mr = c.local(i32);
  const i = c.local(i32);
  const j = c.local(i32);
  const q = c.local(i32);
  const x = c.local(f32);
  const acc = Array.from({ length: MR * (NR / 4) }, () => c.local(v128));
  const bv = Array.from({ length: NR / 4 }, () => c.local(v128));
  const av = c.local(v128);
  const V = NR / 4;
  /** The micro-kernel and the tile's store for R rows (R < MR: the last, partial row strip). */
  const tileOf = (R: number) => {
    for (let a = 0; a < R * V; a++) c.v128Zero().set(acc[a]!);
    c.get(bS).tee(pb).get(kc).get(bStep).i32Mul().i32Add().set(pbEnd);
    c.loop();
    for (let jj = 0; jj < V; jj++) c.get(pb).v128Load(jj * 16).set(bv[jj]!);
    for (let ii = 0; ii < R; ii++) {
      c.get(pa).v128Load32Splat(ii * 4).set(av);
      for (let jj = 0; jj < V; jj++) {
        const a = acc[ii * V + jj]!;
        if (fma) c.get(av).get(bv[jj]!).get(a).f32x4RelaxedMadd().set(a);
        else c.get(a).get(av).get(bv[jj]!).f32x4Mul().f32x4Add().set(a);
      }
    }
    c.get(pa).i32Const(MR * 4).i32Add().set(pa);
    c.get(pb).get(bStep).i32Add().tee(pb).get(pbEnd).i32LtS().brIf(0);
    c.end();
    c.get(nc).get(t).i32Sub().i32Const(NR).i32GeS().if();
    {
      c.get(first).if();
      for (let ii = 0; ii < R; ii++) {
        for (let jj = 0; jj < V; jj++) c.get(cRow).get(acc[ii * V + jj]!).v128Store(jj * 16);
        if (ii < R - 1) c.get(cRow).get(ldc).i32Add().set(cRow);
      }
      c.else();
      for (let ii = 0; ii < R; ii++) {
        for (let jj = 0; jj < V; jj++) c.get(cRow).get(cRow).v128Load(jj * 16).get(acc[ii * V + jj]!).f32x4Add().v128Store(jj * 16);
        if (ii < R - 1) c.get(cRow).get(ldc).i32Add().set(cRow);
      }
      c.end();
    }
    c.else();
    {
      // Narrower than NR: through `tile`, then element by element with the same additions.
      for (let ii = 0; ii < R; ii++) for (let jj = 0; jj < V; jj++) c.get(tile).get(acc[ii * V + jj]!).v128Store((ii * NR + jj * 4) * 4);
      c.for(i, () => c.i32Const(0), () => c.i32Const(R), 1, () => {
        c.for(j, () => c.i32Const(0), () => c.get(nc).get(t).i32Sub(), 1, () => {
          c.get(cRow).get(j).i32Const(2).i32Shl().i32Add().set(q);
          c.get(tile).get(i).i32Const(NR).i32Mul().get(j).i32Add().i32Const(2).i32Shl().i32Add().f32Load().set(x);
          c.get(first).i32Eqz().if();
          c.get(q).f32Load().get(x).f32Add().set(x);
          c.end();
          c.get(q).get(x).f32Store();
        });
        c.get(cRow).get(ldc).i32Add().set(cRow);
      });
    }
    c.end();
  };
  const tileAt = () => {
    c.get(Ap).get(s).get(kc).i32Mul().i32Const(4).i32Mul().i32Add().set(pa);
    c.get(C).get(s).get(ldc).i32Mul().i32Add().get(t).i32Const(2).i32Shl().i32Add().set(cRow);
    c.get(mc).get(s).i32Sub().set(mr);
    // if mr ≥ MR: tileOf(MR) else if mr == MR − 1: … else tileOf(1)
    for (let R = MR; R > 1; R--) {
      c.get(mr).i32Const(R).i32GeS().if();
      tileOf(R);
      c.else();
    }
    tileOf(1);
    for (let R = MR; R > 1; R--) c.end();
  };
  c.get(kc).i32Const(ROWS_OUTER_KC).i32LeS().if();
  c.for(s, () => c.i32Const(0), () => c.get(mc), MR, () => {
    c.get(Bp).set(bS);
    c.for(t, () => c.i32Const(0), () => c.get(nc), NR, () => {
      tileAt();
      c.get(bS).get(bStrip).i32Add().set(bS);
    });
  });
  c.else();
  c.get(Bp).set(bS);
  c.for(t, () => c.i32Const(0), () => c.get(nc), NR, () => {
    c.for(s, () => c.i32Const(0), () => c.get(mc), MR, () => {
      tileAt();
    });
    c.get(bS).get(bStrip).i32Add().set(bS);
  });
  c.end();
}

/**
 * gemmPanel(A, aT, aRows, B, bT, k, m, n, C, ldc, jc, nc, scratch): a panel — columns [jc, jc + nc) (nc ≤ NC)
 * of C = A·B straight into C (row stride ldc; any m, n), every row block, the k loop in blocks of
 * KC. aT/bT = 1: the operand is stored transposed (A as [k, aRows], B as [n, k]); bT = 2: B is
 * a convolution's columns never written out, `B` their description (see packBCols). With B
 * row-major, m ≤ SMALL_M and k ≤ IN_PLACE_K, B's whole strips are read in place and only a last, partial strip is packed. One call is one
 * thread task (see gemmBlock in gemm-dot.ts): it packs into its own `scratch` (GEMM_SCRATCH bytes).
 */
export function gemmPanel(m0: ModuleBuilder) {
  return (c: Code) => {
    const [A, aT, aRows, B, bT, k, m, n, C, ldc, jc, nc, scratch] = I(13).map((_, i) => i);
    const p0 = c.local(i32);
    const kc = c.local(i32);
    const ic = c.local(i32);
    const mc = c.local(i32);
    const pBp = c.local(i32);
    const tile = c.local(i32);
    const inPlace = c.local(i32);
    const nFull = c.local(i32);
    const cBlk = c.local(i32);
    const macro = m0.indexOf("macro");
    c.get(scratch).i32Const(KC * MC * 4).i32Add().tee(pBp).i32Const(KC * NC * 4).i32Add().set(tile);
    c.get(bT).i32Eqz().get(m).i32Const(SMALL_M).i32LeS().i32And().get(k).i32Const(IN_PLACE_K).i32LeS().i32And().set(inPlace);
    c.get(nc).i32Const(-NR).i32And().set(nFull);
    c.i32Const(0).set(p0);
    c.loop();
    {
      // kc = min(KC, k − p0)
      c.i32Const(KC).get(k).get(p0).i32Sub().i32Const(KC).get(k).get(p0).i32Sub().i32LtS().select().set(kc);
      c.get(bT).i32Const(2).i32Eq().if();
      // B is a convolution's columns never written out: B points at their description.
      c.get(B).get(p0).get(kc).get(jc).get(nc).get(pBp).call(m0.indexOf("packBCols"));
      c.else();
      c.get(bT).if();
      c.get(B).get(jc).get(k).i32Mul().get(p0).i32Add().i32Const(2).i32Shl().i32Add();
      c.get(k).i32Const(2).i32Shl().get(kc).get(nc).get(pBp).call(m0.indexOf("packBT"));
      c.else();
      c.get(inPlace).if();
      // Only a last, partial strip is packed.
      c.get(nc).get(nFull).i32Ne().if();
      c.get(B).get(p0).get(n).i32Mul().get(jc).i32Add().get(nFull).i32Add().i32Const(2).i32Shl().i32Add();
      c.get(n).i32Const(2).i32Shl().get(kc).get(nc).get(nFull).i32Sub().get(pBp).call(m0.indexOf("packB"));
      c.end();
      c.else();
      c.get(B).get(p0).get(n).i32Mul().get(jc).i32Add().i32Const(2).i32Shl().i32Add();
      c.get(n).i32Const(2).i32Shl().get(kc).get(nc).get(pBp).call(m0.indexOf("packB"));
      c.end();
      c.end();
      c.end();
      c.for(ic, () => c.i32Const(0), () => c.get(m), MC, () => {
        c.get(m).get(ic).i32Sub().set(mc);
        c.i32Const(MC).get(mc).get(mc).i32Const(MC).i32GtS().select().set(mc);
        c.get(aT).if();
        c.get(A).get(p0).get(aRows).i32Mul().get(ic).i32Add().i32Const(2).i32Shl().i32Add();
        c.get(aRows).i32Const(2).i32Shl().get(kc).get(mc).get(scratch).call(m0.indexOf("packAT"));
        c.else();
        c.get(A).get(ic).get(k).i32Mul().get(p0).i32Add().i32Const(2).i32Shl().i32Add();
        c.get(k).i32Const(2).i32Shl().get(kc).get(mc).get(scratch).call(m0.indexOf("packA"));
        c.end();
        c.get(C).get(ic).get(ldc).i32Mul().get(jc).i32Add().i32Const(2).i32Shl().i32Add().set(cBlk);
        c.get(inPlace).if();
        {
          c.get(nFull).if();
          c.get(scratch).get(B).get(p0).get(n).i32Mul().get(jc).i32Add().i32Const(2).i32Shl().i32Add();
          c.get(n).i32Const(2).i32Shl().i32Const(NR * 4).get(cBlk).get(mc).get(nFull).get(kc).get(ldc).i32Const(2).i32Shl();
          c.get(p0).i32Eqz().get(tile).call(macro);
          c.end();
          c.get(nc).get(nFull).i32Ne().if();
          c.get(scratch).get(pBp).i32Const(NR * 4).get(kc).i32Const(NR * 4).i32Mul();
          c.get(cBlk).get(nFull).i32Const(2).i32Shl().i32Add().get(mc).get(nc).get(nFull).i32Sub().get(kc).get(ldc).i32Const(2).i32Shl();
          c.get(p0).i32Eqz().get(tile).call(macro);
          c.end();
        }
        c.else();
        c.get(scratch).get(pBp).i32Const(NR * 4).get(kc).i32Const(NR * 4).i32Mul();
        c.get(cBlk).get(mc).get(nc).get(kc).get(ldc).i32Const(2).i32Shl();
        c.get(p0).i32Eqz().get(tile).call(macro);
        c.end();
      });
      c.get(p0).get(kc).i32Add().tee(p0).get(k).i32LtS().brIf(0);
    }
    c.end();
  };
}
