/**
 * Elementwise kernels: unary math, binary ops and comparisons with NumPy broadcasting, `where`,
 * casts, fills, and the strided "map" that also serves expand, permute and slice. Each is
 * generated per (op, dtypes, collapsed rank, access pattern) — an operand is read at the output's
 * index ("same"), at 0 ("scalar") or through strides ("strided") — and cached by that key.
 */
import type { BinaryKernel, CompareKernel, UnaryKernel } from "../backend.js";
import type { DType } from "../dtype.js";
import { sizeOf } from "../shape.js";
import type { GpuData, GpuRuntime } from "./device.js";
import { collapse, entry1d, offsetFn, PRELUDE, valueBits, WG, wgslType, type Wgsl } from "./wgsl.js";

/** float32 helpers: specials made explicit (WGSL leaves exp overflow, log(0), 1/0 … to the implementation). */
const MATH = /* wgsl */ `
fn f_exp(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (x > 88.72283) { return f_inf(); }
  if (x < -103.97208) { return 0.0; }
  return exp(x);
}
fn f_log(x: f32) -> f32 {
  if (is_nan(x) || x < 0.0) { return f_nan(); }
  if (x == 0.0) { return f_ninf(); }
  if (!is_finite(x)) { return x; }
  return log(x);
}
fn f_sqrt(x: f32) -> f32 {
  if (is_nan(x) || x < 0.0) { return f_nan(); }
  if (!is_finite(x)) { return x; }
  return sqrt(x);
}
fn f_recip(x: f32) -> f32 {
  if (x == 0.0) { return bitcast<f32>((bitcast<u32>(x) & 0x80000000u) | F_INF); }
  if (!is_finite(x) && !is_nan(x)) { return bitcast<f32>(bitcast<u32>(x) & 0x80000000u); }
  return 1.0 / x;
}
fn f_sign(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0);
}
// erf: |x| < 1: x + x·Q(x²); else 1 − e^(−x²)·R(min(|x|, 4) − 2.5) (the wasm backend's minimax fits, math.ts).
fn f_erf(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  let a = abs(x);
  var r: f32;
  if (a < 1.0) {
    let z = a * a;
    let q = 0.12837917 + z * (-0.37612635 + z * (0.11283744 + z * (-0.026863616 + z * (0.0052166167 + z * (-0.0008426422 + z * (0.00010881745 + z * -8.6413365e-6))))));
    r = a + a * q;
  } else {
    let c = min(a, 4.0);
    let u = c - 2.5;
    let p = 0.21080633 + u * (-0.07434751 + u * (0.024939278 + u * (-0.007994949 + u * (0.0024727567 + u * (-0.00074882 + u * (0.00017842648 + u * (-7.294785e-5 + u * (3.0971878e-5 + u * (1.3591913e-5 + u * 7.022374e-6)))))))));
    r = 1.0 - exp(-c * c) * p;
  }
  return select(r, -r, x < 0.0);
}
// log1p and expm1 by Goldberg's and Kahan's corrections: exact where 1 + x or eˣ rounds to 1.
fn f_log1p(x: f32) -> f32 {
  if (is_nan(x) || x < -1.0) { return f_nan(); }
  if (x == -1.0) { return f_ninf(); }
  if (!is_finite(x)) { return x; }
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  return log(u) * (x / (u - 1.0));
}
fn f_expm1(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (x > 88.72283) { return f_inf(); }
  if (x < -17.0) { return -1.0; }
  let u = exp(x);
  if (u == 1.0) { return x; }
  let um1 = u - 1.0;
  if (um1 == -1.0) { return -1.0; }
  return um1 * (x / log(u));
}
fn f_sin(x: f32) -> f32 { if (!is_finite(x)) { return f_nan(); } return sin(x); }
fn f_cos(x: f32) -> f32 { if (!is_finite(x)) { return f_nan(); } return cos(x); }
fn f_max(x: f32, y: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (is_nan(y)) { return y; }
  return select(y, x, x > y);
}
// Float → int32 truncates toward zero (the TypedArray conversion); NaN and ±∞ give 0.
fn f_to_i32(x: f32) -> i32 {
  if (!is_finite(x)) { return 0; }
  return i32(clamp(x, -2147483648.0, 2147483520.0));
}
`;

/** The float32 expression of each unary kernel (of `x`). Kept total over UnaryKernel by the type. */
const UNARY_F32: Record<UnaryKernel, string> = {
  neg: "-x",
  reciprocal: "f_recip(x)",
  exp: "f_exp(x)",
  log: "f_log(x)",
  sqrt: "f_sqrt(x)",
  erf: "f_erf(x)",
  sign: "f_sign(x)",
  sin: "f_sin(x)",
  cos: "f_cos(x)",
  log1p: "f_log1p(x)",
  expm1: "f_expm1(x)",
};

/** The expression of a unary kernel on `x` of storage type `t`. */
function unaryExpr(op: UnaryKernel, t: Wgsl): string {
  const f = UNARY_F32[op];
  if (f === undefined) throw new Error(`webgpu: no WGSL for unary ${op}`);
  if (t === "f32") return f;
  if (t === "i32") return op === "neg" ? "-x" : op === "sign" ? "sign(x)" : `f_to_i32(${f.replace(/\bx\b/g, "f32(x)")})`;
  // bool (u32 words): the float result stored as a byte (Uint8Array semantics).
  return `(u32(f_to_i32(${f.replace(/\bx\b/g, "f32(x)")})) & 255u)`;
}

function binaryExpr(op: BinaryKernel, t: Wgsl): string {
  const wrap = (e: string) => (t === "u32" ? `((${e}) & 255u)` : e);
  switch (op) {
    case "add": return wrap("a + b");
    case "mul": return wrap("a * b");
    case "maximum": return t === "f32" ? "f_max(a, b)" : "max(a, b)";
  }
}

const COMPARE_OP: Record<CompareKernel, string> = { equal: "==", notEqual: "!=", greater: ">", greaterEqual: ">=", less: "<", lessEqual: "<=" };

type Access = "same" | "scalar" | "strided";

interface Operand {
  data: GpuData;
  type: Wgsl;
  /** Strides over the output shape (0 along broadcast axes). */
  strides: readonly number[];
  base?: number;
}

/**
 * Records `out[i] = expr(v0, v1, …)` over `outShape`, operand k read as `v{k}` through its
 * strides (collapsed, and specialised to "same"/"scalar" where they allow).
 */
export function map(rt: GpuRuntime, tag: string, expr: string, operands: readonly Operand[], outShape: readonly number[], outType: Wgsl, into?: GpuData): GpuData {
  const n = sizeOf(outShape);
  const out = into ?? rt.alloc(n * 4);
  if (n === 0) return out;
  const c = collapse(outShape, operands.map((o) => o.strides));
  const rank = c.shape.length;
  const contiguous = c.strides.map((s) => s.length === 1 && s[0] === 1);
  const access: Access[] = operands.map((o, k) =>
    (o.base ?? 0) !== 0 ? "strided" : rank === 0 || c.strides[k]!.every((s) => s === 0) ? "scalar" : rank === 1 && contiguous[k] ? "same" : "strided",
  );
  // Parameters: n, shape[rank], then per strided operand strides[rank] and a base offset.
  const params: number[] = [n, ...c.shape];
  const strideAt: number[] = [];
  operands.forEach((o, k) => {
    strideAt[k] = params.length;
    if (access[k] === "strided") params.push(...c.strides[k]!, o.base ?? 0);
  });
  const key = `map:${tag}:${operands.map((o, k) => `${o.type}${access[k]![1]}`).join(",")}:${outType}:${rank}`;
  rt.dispatch(
    key,
    () => {
      const decl = operands.map((o, k) => `@group(0) @binding(${k + 1}) var<storage, read> X${k}: array<${o.type}>;`);
      const fns = operands.map((_o, k) => (access[k] === "strided" ? offsetFn(`off${k}`, rank, 1, strideAt[k]!, strideAt[k]! + rank) : ""));
      const loads = operands.map((_o, k) => `  let v${k} = X${k}[${access[k] === "same" ? "i" : access[k] === "scalar" ? "0u" : `off${k}(i)`}];`);
      return `${PRELUDE}${MATH}
${decl.join("\n")}
@group(0) @binding(${operands.length + 1}) var<storage, read_write> Y: array<${outType}>;
${fns.join("\n")}
${entry1d()}
  if (i >= P[0]) { return; }
${loads.join("\n")}
  Y[i] = ${expr};
}`;
    },
    params,
    [...operands.map((o) => o.data.buffer), out.buffer],
    Math.ceil(n / WG),
  );
  return out;
}

const contiguousStrides = (shape: readonly number[]) => (shape.length === 0 ? [] : [1]);

/** Elementwise unary kernel over `size` elements. */
export function unary(rt: GpuRuntime, op: UnaryKernel, x: GpuData, dtype: DType, size: number): GpuData {
  const t = wgslType(dtype);
  return map(rt, `u_${op}`, unaryExpr(op, t).replace(/\bx\b/g, "v0"), [{ data: x, type: t, strides: contiguousStrides([size]) }], [size], t);
}

/** Broadcasting binary kernel. */
export function binary(rt: GpuRuntime, op: BinaryKernel, a: GpuData, aShape: readonly number[], b: GpuData, bShape: readonly number[], outShape: readonly number[], dtype: DType): GpuData {
  const t = wgslType(dtype);
  const expr = binaryExpr(op, t).replace(/\ba\b/g, "v0").replace(/\bb\b/g, "v1");
  return map(rt, `b_${op}`, expr, [operand(a, t, aShape, outShape), operand(b, t, bShape, outShape)], outShape, t);
}

/** Broadcasting comparison; bool (u32 0/1) result. NaN compares unequal to everything, by its bits. */
export function compare(rt: GpuRuntime, op: CompareKernel, a: GpuData, aShape: readonly number[], b: GpuData, bShape: readonly number[], outShape: readonly number[], dtype: DType): GpuData {
  const t = wgslType(dtype);
  let expr = `select(0u, 1u, v0 ${COMPARE_OP[op]} v1)`;
  if (t === "f32") {
    const nanResult = op === "notEqual" ? "1u" : "0u";
    expr = `select(${expr}, ${nanResult}, is_nan(v0) || is_nan(v1))`;
  }
  return map(rt, `c_${op}`, expr, [operand(a, t, aShape, outShape), operand(b, t, bShape, outShape)], outShape, "u32");
}

/** Broadcasting `cond ? a : b`. */
export function where(rt: GpuRuntime, c: GpuData, cShape: readonly number[], a: GpuData, aShape: readonly number[], b: GpuData, bShape: readonly number[], outShape: readonly number[], dtype: DType): GpuData {
  const t = wgslType(dtype);
  return map(rt, "where", "select(v2, v1, v0 != 0u)", [operand(c, "u32", cShape, outShape), operand(a, t, aShape, outShape), operand(b, t, bShape, outShape)], outShape, t);
}

/** Casts between float32, int32 and bool (float → int truncates toward zero; to bool: x ≠ 0 and not NaN). */
export function cast(rt: GpuRuntime, x: GpuData, from: DType, to: DType, size: number): GpuData {
  const [s, d] = [wgslType(from), wgslType(to)];
  let expr: string;
  if (d === "u32") expr = s === "f32" ? "select(0u, 1u, v0 != 0.0 && !is_nan(v0))" : s === "i32" ? "select(0u, 1u, v0 != 0)" : "v0";
  else if (d === "i32") expr = s === "f32" ? "f_to_i32(v0)" : s === "u32" ? "i32(v0)" : "v0";
  else expr = s === "f32" ? "v0" : "f32(v0)";
  return map(rt, `cast_${s}_${d}`, expr, [{ data: x, type: s, strides: contiguousStrides([size]) }], [size], d);
}

/** A buffer of `size` elements all equal to `value` (stored as `dtype`). */
export function fill(rt: GpuRuntime, dtype: DType, size: number, value: number): GpuData {
  const t = wgslType(dtype);
  const out = rt.alloc(size * 4);
  fillInto(rt, out, t, size, valueBits(value, dtype));
  return out;
}

/** Writes the bit pattern `bits` into the first `size` words of `out`. */
export function fillInto(rt: GpuRuntime, out: GpuData, _t: Wgsl, size: number, bits: number): void {
  rt.dispatch(
    "fill",
    () => `${PRELUDE}
@group(0) @binding(1) var<storage, read_write> Y: array<u32>;
${entry1d()}
  if (i >= P[0]) { return; }
  Y[i] = P[1];
}`,
    [size, bits],
    [out.buffer],
    Math.ceil(size / WG),
  );
}

/** An operand broadcast from `shape` to `outShape`. */
export function operand(data: GpuData, type: Wgsl, shape: readonly number[], outShape: readonly number[]): Operand {
  const k = outShape.length - shape.length;
  const own = shape.map((_, d) => shape.slice(d + 1).reduce((p, q) => p * q, 1));
  return { data, type, strides: outShape.map((_, d) => (d < k || shape[d - k] === 1 ? 0 : own[d - k]!)) };
}
