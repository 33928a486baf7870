/**
 * Elementwise kernels: the shared row loop, binary/compare/where over vector or splatted
 * operands, the unary SIMD kernels (math.ts) and casts. The op lists here are the ones the
 * module builds a kernel for.
 */
import { Code, i32, v128 } from "../emit.js";
import { BINARY_KERNELS, COMPARE_KERNELS, type BinaryKernel, type CompareKernel, type UnaryKernel } from "../../backend.js";
import * as math from "../math.js";

/** How one operand of an elementwise kernel is read along a row: a vector per 4 elements, or one value splatted. */
export type Mode = "v" | "s";

/**
 * The row loop shared by every elementwise kernel. `operands` are (pointer param, row-stride
 * param, mode, element bytes); the body gets, for each operand, a local holding its f32x4 (or
 * i32x4 for bytes, 0/−1 masks) and must leave the result vector on the stack; `store` writes it
 * (4 or 1 bytes per element). Rows: `out` advances by n elements, each operand by its stride.
 */
export function elementwise(
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

// The op lists are backend.ts's, declared once; every binary and comparison kernel has a SIMD form here.
export type BinaryOp = BinaryKernel;
export type CompareOp = CompareKernel;
export type UnaryOp = (typeof UNARY_OPS)[number];
export const MODES: [Mode, Mode][] = [["v", "v"], ["v", "s"], ["s", "v"]];

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
export function binaryKernel(op: BinaryOp | CompareOp, xm: Mode, ym: Mode, compare: boolean, int = false) {
  return (c: Code) => {
    const [x, y, out, rows, n, xs, ys] = [0, 1, 2, 3, 4, 5, 6];
    elementwise(c, [{ ptr: x, stride: xs, mode: xm, bytes: 4 }, { ptr: y, stride: ys, mode: ym, bytes: 4 }], out, rows, n, compare ? 1 : 4, ([a, b]) => {
      if (compare) compareOp(c, op as CompareOp, a!, b!, int);
      else binaryOp(c, op as BinaryOp, a!, b!);
    });
  };
}

/** where_<cm><xm><ym>(cond, x, y, out, rows, n, cRowStride, xRowStride, yRowStride): out = cond ? x : y (cond bytes). */
export function whereKernel(cm: Mode, xm: Mode, ym: Mode) {
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
export function unaryKernel(op: UnaryOp) {
  return (c: Code) => {
    const [x, out, rows, n, xs] = [0, 1, 2, 3, 4];
    elementwise(c, [{ ptr: x, stride: xs, mode: "v", bytes: 4 }], out, rows, n, 4, ([a]) => unaryOp(c, op, a!));
  };
}

/** castF32ToBool / castBoolToF32 (x, out, rows, n, xRowStride): nonzero and not NaN → 1; bytes → 0/1 floats. */
export function castKernel(to: "bool" | "float32") {
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

/** The unary kernels (backend.ts's UNARY_KERNELS) with a SIMD kernel here; the others (sin, cos) run the cpu kernel over a view of the same storage (dispatch/elementwise.ts). */
export const UNARY_OPS = ["neg", "reciprocal", "sqrt", "sign", "exp", "log", "erf", "expm1", "log1p"] as const satisfies readonly UnaryKernel[];
export const BINARY_OPS: readonly BinaryOp[] = BINARY_KERNELS;
export const COMPARE_OPS: readonly CompareOp[] = COMPARE_KERNELS;
