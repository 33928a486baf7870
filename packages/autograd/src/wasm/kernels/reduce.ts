/**
 * Reduction kernels: sums and maxima over an outer or the last axis, arg-max/min.
 */
import type { ReduceKernel } from "../../backend.js";
import { Code, f32, f64, i32, v128 } from "../emit.js";

/**
 * sumOuter(x, out, outer, n, inner, acc): out[o][i] = Σ_j x[o][j][i] for inner ≥ 1, accumulated
 * in float64 in the scratch row `acc` (inner doubles) and rounded once, so the result is the
 * float32 rounding of a float64 sum in index order — as the cpu kernel's row sums, and the same
 * for any thread split. j walks rows of x in memory order.
 */
export function sumOuter(c: Code): void {
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
export function maxOuter(c: Code): void {
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
 * A row sum's accumulation, shared by sumRows and the fused chain+sum kernels (fuse.ts) so both
 * add in one order: a vector `v` of 4 floats goes into two float64 pairs (lanes 0, 1 into `a0`,
 * lanes 2, 3 into `a1`); {@link sumPairs} then combines them into `s` ((a0 + a1) lane 0 + lane 1),
 * and the row's tail adds one float at a time with {@link sumLane}.
 */
export function sumVector(c: Code, a0: number, a1: number, v: number): void {
  c.get(a0).get(v).f64x2PromoteLowF32x4().f64x2Add().set(a0);
  c.get(a1).get(v).get(v).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]).f64x2PromoteLowF32x4().f64x2Add().set(a1);
}

/** `s` = the pairs' sum (see {@link sumVector}). */
export function sumPairs(c: Code, a0: number, a1: number, s: number): void {
  c.get(a0).get(a1).f64x2Add().set(a0);
  c.get(a0).f64x2ExtractLane(0).get(a0).f64x2ExtractLane(1).f64Add().set(s);
}

/** `s` += the float32 that `push` puts on the stack (a row's tail, see {@link sumVector}). */
export function sumLane(c: Code, s: number, push: () => void): void {
  c.get(s);
  push();
  c.f64PromoteF32().f64Add().set(s);
}

/**
 * `m` = max(m, e) by the cpu kernel's rule, one element at a time (NaN wins — the last one seen —
 * otherwise the larger; ties keep the first): shared by maxRows and the fused chain+max kernels.
 */
export function maxLane(c: Code, m: number, e: number): void {
  c.get(e).get(m).get(e).get(m).f32Gt().get(e).get(e).f32Ne().i32Or().select().set(m);
}

/**
 * sumRows(x, out, rows, n) / maxRows: one value per contiguous row of n floats (the last axis).
 * sum accumulates in float64 pairs, lane order fixed ((x0+x2+…) and (x1+x3+…) per f64x2, combined
 * at the end), so it is deterministic and within the float64 summation bound of the exact sum.
 */
export function rowsKernel(kind: ReduceKernel) {
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
          sumVector(c, a0, a1, v);
        });
        sumPairs(c, a0, a1, s);
        c.for(i, () => c.get(n4), () => c.get(n), 1, () => {
          sumLane(c, s, () => c.get(x).get(i).i32Const(2).i32Shl().i32Add().f32Load());
        });
        c.get(out).get(r).i32Const(2).i32Shl().i32Add().get(s).f32DemoteF64().f32Store();
      } else {
        // Sequential (the rule is order-dependent only for NaN payloads and ±0; keep the first).
        c.f32Const(-Infinity).set(m);
        c.for(i, () => c.i32Const(0), () => c.get(n), 1, () => {
          c.get(x).get(i).i32Const(2).i32Shl().i32Add().f32Load().set(e);
          maxLane(c, m, e);
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
export function argOuter(cmp: ">" | "<") {
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
