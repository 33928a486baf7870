/**
 * Vectorized float32 math for WebAssembly 128-bit SIMD, written with the emitter in emit.ts:
 * eˣ, eˣ − 1, ln x, ln(1 + x), erf x, tanh x and σ(x) = 1/(1 + e⁻ˣ) on the four f32 lanes of a v128, in plain
 * f32x4/i32x4 arithmetic (no FMA, no tables, no branches; every lane runs the same instructions).
 * Clamps use f32x4.pmin/pmax with x first (NaN passes through), which V8 lowers to one
 * instruction, where f32x4.min/max cost 6–9.
 *
 * Usage: each generator takes the function body being built and the index of a v128 local that
 * holds x, and appends instructions that leave f(x) (one v128) on the stack; x is not modified.
 *
 *   c.get(src).v128Load().set(x);
 *   c.get(dst); exp(c, x); c.v128Store();
 *
 * Scratch locals: a generator declares the v128 locals it needs the first time it is used in a
 * given `Code` and reuses them on every later call in that body (they are kept per Code in a
 * WeakMap), so a kernel can call `exp(c, x)` in its vector loop and again in its tail without
 * growing its locals. New locals per body, on first use: exp 11, log 10, erf 17, tanh 15,
 * sigmoid 17 (erf, tanh and sigmoid share exp's 11, so all five together declare 11 + 10 + 6 +
 * 4 + 6 = 37). The scratch is overwritten by the next call, so x must be a local of the caller's
 * own (to chain, store a result in your own local first: `exp(c, x); c.set(y); log(c, y)`).
 *
 * Accuracy, measured by packages/autograd/test/wasm-math.test.ts (every 4099th float32 bit
 * pattern of each sign, dense sweeps of [−1, 1] and of every range-reduction boundary,
 * thresholds ±1 step, fast-check inputs) and by denser one-off sweeps (every 521st bit pattern,
 * every float32 in [0.5, 2) for log, steps of 2⁻²¹…2⁻¹⁶ elsewhere). "ulp" = the float32 spacing
 * at the exact result, 2^(⌊log₂|y|⌋−23), and 2⁻¹⁴⁹ for subnormal results. Maximum error from the
 * exact value (the bound the test asserts), and from the correctly rounded float32 result:
 *
 *   exp      0.89 ulp (0.9)    ≤ 1 step   subnormal results (x ∈ [−103.97, −87.34]): 0.75 ulp
 *   log      0.84 ulp (0.85)   ≤ 1 step   subnormal inputs: 0.50 ulp
 *   erf      1.26 ulp (1.3)    ≤ 1 step   |x| < 1: 1.26 (near 1), |x| ≥ 1: 1.05, tiny/subnormal x: 0.76
 *   tanh     1.06 ulp (1.1)    ≤ 1 step   |x| < 0.75: 0.80, |x| ≥ 0.75: 1.06, subnormal x: exact
 *   sigmoid  1.16 ulp (1.2)    ≤ 1 step   x ≥ 0: 1.01, x < 0: 1.16, subnormal results: 0.75 ulp
 *   expm1    1.01 ulp          ≤ 1 step   (every 4099th bit pattern, [−2, 2] by 2⁻¹⁴; test/new-ops.test.ts)
 *   log1p    1.44 ulp          ≤ 1 step   (the worst near x = −9e-8; same sweeps)
 *
 * ("≤ 1 step": never more than one float32 away from the float64 reference rounded to float32.)
 * Special values: exp(NaN) = NaN, exp(+∞) = +∞, exp(−∞) = 0, overflow to +∞ from 88.72284;
 * log(x < 0) = log(NaN) = NaN, log(±0) = −∞, log(+∞) = +∞; erf and tanh are odd (the sign of ±0
 * kept), ±1 for large |x|, NaN → NaN; σ(+∞) = 1, σ(−∞) = 0, σ(NaN) = NaN.
 */
import { type Code, v128 } from "./emit.js";

const scratchByCode = new WeakMap<Code, Map<string, number[]>>();

/** `n` v128 locals of `c` reserved for generator `key`, declared on first use only. */
function scratch(c: Code, key: string, n: number): number[] {
  let m = scratchByCode.get(c);
  if (!m) scratchByCode.set(c, (m = new Map()));
  let ls = m.get(key);
  if (!ls) m.set(key, (ls = Array.from({ length: n }, () => c.local(v128))));
  return ls;
}

/** Pushes Σₖ coeffs[k]·tᵏ (Horner, highest degree first; t a local). */
function horner(c: Code, t: number, coeffs: readonly number[]): void {
  c.f32x4Const(coeffs[coeffs.length - 1]!);
  for (let k = coeffs.length - 2; k >= 0; k--) c.get(t).f32x4Mul().f32x4Const(coeffs[k]!).f32x4Add();
}

/** Pushes x with its sign bit replaced by that of `s` (x's sign bit must be clear). */
function copySign(c: Code, s: number): void {
  c.get(s).i32x4Const(0x80000000).v128And().v128Or();
}

// ---- exp ----

const LOG2E = 1.4426950408889634;
// ln 2 = LN2_HI + LN2_LO with LN2_HI = 0x3f317200 (15 significant bits), so n·LN2_HI is exact
// for |n| < 2⁹ and x − n·LN2_HI is exact (Sterbenz).
const LN2_HI = 0.693145751953125;
const LN2_LO = Math.fround(Math.LN2 - LN2_HI);
/**
 * eʳ = 1 + r + r²·q(r) on |r| ≤ ln2/2 + 0.002: q minimax of degree 4 with float32 coefficients,
 * relative error of the polynomial 3.3e-9 (0.06 ulp).
 */
const EXP_Q = [0.49999994, 0.1666652, 0.041668292, 0.0083689075, 0.0013819169];
// Outside [−110, 89] eˣ is 0 or +∞ in float32 (both ends are far past the thresholds −103.98
// and 88.73), and clamping keeps n, and so the exponent bits, in range.
const EXP_MIN = -110;
const EXP_MAX = 89;
// n = round(x·log2e) by adding and subtracting 1.5·2²³: the sum's spacing is 1, so the addition
// rounds to the nearest integer, ties to even, as f32x4.nearest does, and the sum's low bits are
// n's integer bits (sum bits − 0x4b400000). V8 lowers f32x4.min/max (NaN and ±0 rules) and
// i32x4.trunc_sat_f32x4_s to 6–9 x64 instructions each; this and the clamp with pmin/pmax (one
// instruction each; x NaN stays NaN, as x is their first operand) halved exp's time (4.2 → 2.3 ms
// per million floats, one thread) with the same results bit for bit (NaN payloads aside).
const ROUND = 1.5 * 2 ** 23;
const ROUND_BITS = 0x4b400000;

/**
 * eˣ, optionally as an unevaluated sum hi + lo (lo written to local `lo`) that carries about 28
 * bits: x = n·ln2 + r (Cody–Waite), eʳ = 1 + s with s = r + r²q(r) summed exactly as rh + t
 * (two-sum), and the scale 2ⁿ applied as 2^⌊n/2⌋·2^(n−⌊n/2⌋): the first product is exact (normal),
 * the second rounds once, which gives correctly scaled subnormals and overflows to +∞.
 */
function expParts(c: Code, x: number, lo?: number): void {
  const [xc, n, rh, nl, r, t, s, p, ni, half, sa] = scratch(c, "exp", 11);
  const sb = ni; // n's integer bits, then those of 2^(n − half)
  c.get(x).f32x4Const(EXP_MIN).f32x4Pmax().f32x4Const(EXP_MAX).f32x4Pmin().set(xc); // NaN stays NaN
  c.get(xc).f32x4Const(LOG2E).f32x4Mul().f32x4Const(ROUND).f32x4Add().tee(ni).f32x4Const(ROUND).f32x4Sub().set(n);
  c.get(xc).get(n).f32x4Const(LN2_HI).f32x4Mul().f32x4Sub().set(rh); // exact
  c.get(n).f32x4Const(LN2_LO).f32x4Mul().set(nl);
  c.get(rh).get(nl).f32x4Sub().set(r); // r = x − n·ln2, |r| ≤ 0.3466 + rounding
  // t = r²·q(r) − n·LN2_LO;  s = rh + t;  1 + s.
  horner(c, r, EXP_Q);
  c.get(r).get(r).f32x4Mul().f32x4Mul().get(nl).f32x4Sub().set(t);
  c.get(rh).get(t).f32x4Add().set(s);
  c.f32x4Const(1).get(s).f32x4Add().set(p);
  // sa = 2^half, sb = 2^(n − half) with half = ⌊n/2⌋, as float bits (e + 127) << 23;
  // n ∈ [−159, 128] so both are normal.
  c.get(ni).i32x4Const(ROUND_BITS).i32x4Sub().tee(ni).i32Const(1).i32x4ShrS().tee(half);
  c.i32x4Const(127).i32x4Add().i32Const(23).i32x4Shl().set(sa);
  c.get(ni).get(half).i32x4Sub().i32x4Const(127).i32x4Add().i32Const(23).i32x4Shl().set(sb);
  if (lo !== undefined) {
    // The rounding errors of 1 + s and of s = rh + t (Fast2Sum, exact as 1 ≥ |s| and, but for
    // |rh| below n·LN2_LO where both are negligible, |rh| ≥ |t|), scaled alike.
    c.f32x4Const(1).get(p).f32x4Sub().get(s).f32x4Add();
    c.get(rh).get(s).f32x4Sub().get(t).f32x4Add();
    c.f32x4Add().get(sa).f32x4Mul().get(sb).f32x4Mul().set(lo);
  }
  c.get(p).get(sa).f32x4Mul().get(sb).f32x4Mul();
}

/**
 * Pushes eˣ (f32x4) for the f32x4 in local `x`. Error ≤ 0.89 ulp, subnormal results included;
 * +∞ from 88.72284 up (exactly where eˣ rounds past the largest float32), 0 from −103.972084
 * down, NaN → NaN, exp(+∞) = +∞, exp(−∞) = 0.
 *
 * @example
 * // out[i] = exp(in[i]) for one vector
 * c.get(out).get(inp).v128Load().set(x); exp(c, x); c.v128Store();
 */
export function exp(c: Code, x: number): void {
  expParts(c, x);
}

// ---- expm1 ----

/**
 * Pushes eˣ − 1 (f32x4) for the f32x4 in local `x`, accurate in relative terms near 0: with eˣ as
 * the pair hi + lo from expParts, (hi − 1) + lo. For |x| < ln 2, hi ∈ [½, 2] and hi − 1 is exact
 * (Sterbenz), so the result is the pair's ~28 bits rounded once (near 0: x + x²·q, never 1 − 1);
 * elsewhere |eˣ − 1| ≥ ½ and the subtraction costs at most one more rounding. −1 for x ≤ −17.33,
 * +∞ from 88.72284, NaN → NaN, ±0 → ±0.
 *
 * @example
 * c.get(out).get(inp).v128Load().set(x); expm1(c, x); c.v128Store();
 */
export function expm1(c: Code, x: number): void {
  const [hi, lo] = scratch(c, "expm1", 2);
  expParts(c, x, lo);
  c.set(hi);
  c.get(hi).f32x4Const(1).f32x4Sub().get(lo).f32x4Add();
  c.get(x).get(x).v128Zero().f32x4Ne().v128Bitselect(); // ±0 lanes keep x (the sum gives +0 for −0)
}

// ---- log ----

/**
 * ln(1+f) = ln(1+s) − ln(1−s) with s = f/(2+f), and (ln(1+s) − ln(1−s))/s = 2 + Σₖ LGₖ·s^(2k)
 * (LGₖ ≈ 2/(2k+1)): FreeBSD's logf coefficients, error < 2⁻³⁴·²⁴ on |s| ≤ 0.1716.
 */
const LG = [0.6666666269302368, 0.40000972151756287, 0.2849878668785095, 0.24279078841209412];

/**
 * Pushes ln x (f32x4) for the f32x4 in local `x`. Error ≤ 0.84 ulp, subnormal inputs included.
 * x = 2ᵏ·m with m ∈ [√½, √2) (subnormals are first scaled by 2²⁵), f = m − 1, s = f/(2+f),
 * ln x = k·ln2 + f − f²/2 + s·(f²/2 + R(s²)) (the FreeBSD/musl logf reduction, branch-free).
 * log(x < 0) = log(NaN) = NaN, log(±0) = −∞, log(+∞) = +∞.
 *
 * @example
 * c.get(out).get(inp).v128Load().set(x); log(c, x); c.v128Store();
 */
export function log(c: Code, x: number): void {
  const [xs, k, m, f, s, z, w, hfsq, sub, y] = scratch(c, "log", 10);
  // Subnormal inputs (and 0 and negatives, fixed up below) are scaled by 2²⁵ first, exactly.
  c.get(x).i32x4Const(0x00800000).i32x4LtS().set(sub);
  c.get(x).f32x4Const(2 ** 25).f32x4Mul().get(x).get(sub).v128Bitselect().set(xs);
  // Adding the bits of 1 − √½ carries m ≥ √2 into the next exponent: k = that exponent − 127
  // (− 25 if scaled), and the mantissa bits plus those of √½ give m ∈ [√½, √2).
  c.get(xs).i32x4Const(0x3f800000 - 0x3f3504f3).i32x4Add().tee(m);
  c.i32Const(23).i32x4ShrS().i32x4Const(127).i32x4Sub();
  c.i32x4Const(-25).get(sub).v128And().i32x4Add().f32x4ConvertI32x4S().set(k);
  c.get(m).i32x4Const(0x007fffff).v128And().i32x4Const(0x3f3504f3).i32x4Add().set(m);
  c.get(m).f32x4Const(1).f32x4Sub().set(f);
  c.get(f).f32x4Const(2).get(f).f32x4Add().f32x4Div().set(s);
  c.get(s).get(s).f32x4Mul().tee(z).get(z).f32x4Mul().set(w);
  // hfsq + R, R = z·(LG1 + w·LG3) + w·(LG2 + w·LG4), hfsq = f²/2
  c.f32x4Const(0.5).get(f).f32x4Mul().get(f).f32x4Mul().tee(hfsq);
  c.get(z).get(w).f32x4Const(LG[2]!).f32x4Mul().f32x4Const(LG[0]!).f32x4Add().f32x4Mul();
  c.get(w).get(w).f32x4Const(LG[3]!).f32x4Mul().f32x4Const(LG[1]!).f32x4Add().f32x4Mul();
  c.f32x4Add().f32x4Add();
  // (((s·(hfsq + R) + k·LN2_LO) − hfsq) + f) + k·LN2_HI: small terms first, k·LN2_HI exact.
  c.get(s).f32x4Mul();
  c.get(k).f32x4Const(LN2_LO).f32x4Mul().f32x4Add();
  c.get(hfsq).f32x4Sub().get(f).f32x4Add();
  c.get(k).f32x4Const(LN2_HI).f32x4Mul().f32x4Add().set(y);
  // Special values, in this order: +∞ → +∞; ±0 → −∞; x < 0 or NaN → NaN (x ≥ 0 is false).
  c.f32x4Const(Infinity).get(y).get(x).f32x4Const(Infinity).f32x4Eq().v128Bitselect().set(y);
  c.f32x4Const(-Infinity).get(y).get(x).v128Zero().f32x4Eq().v128Bitselect().set(y);
  c.get(y).f32x4Const(NaN).get(x).v128Zero().f32x4Ge().v128Bitselect();
}

// ---- log1p ----

/**
 * Pushes ln(1 + x) (f32x4) for the f32x4 in local `x`, accurate in relative terms near 0: with
 * u = fl(1 + x), ln(1 + x) = ln u + ln(1 + (x − (u − 1))/u) ≈ ln u + (x − (u − 1))/u (the
 * correction is below one rounding of u, so its square is negligible; u − 1 is exact for
 * x ∈ [−½, 1], and where it is not the correction is tiny against ln u ≥ ln 2). u = 1 gives x.
 * log1p(−1) = −∞, log1p(+∞) = +∞ (where the correction is 0/0 or ∞ − ∞ it is dropped),
 * x < −1 or NaN → NaN, ±0 → ±0.
 *
 * @example
 * c.get(out).get(inp).v128Load().set(x); log1p(c, x); c.v128Store();
 */
export function log1p(c: Code, x: number): void {
  const [u, d, l] = scratch(c, "log1p", 3);
  c.get(x).f32x4Const(1).f32x4Add().set(u);
  c.get(x).get(u).f32x4Const(1).f32x4Sub().f32x4Sub().get(u).f32x4Div().set(d);
  log(c, u);
  c.tee(l).get(d).f32x4Add().get(l).get(d).get(d).f32x4Eq().v128Bitselect();
  c.get(x).get(x).v128Zero().f32x4Ne().v128Bitselect(); // ±0 lanes keep x
}

// ---- erf ----

/** Below this |x| erf is the odd polynomial, from it on 1 − erfc. */
const ERF_SPLIT = 1;
/**
 * erf(x) = x + x·Q(x²) on |x| < 1: Q minimax of degree 7 (float32 coefficients) for the
 * relative error of erf, 1e-9 (0.02 ulp). Q(0) = 2/√π − 1: adding x last keeps erf(x) ≈ 1.128x
 * correctly rounded near 0.
 */
const ERF_Q = [0.12837917, -0.37612635, 0.11283744, -0.026863616, 0.0052166167, -0.0008426422, 0.00010881745, -8.6413365e-6];
/** erf rounds to 1 from 3.919206 on (erfc < 2⁻²⁵); the large-|x| branch clamps its argument to 4. */
const ERF_ONE = 4;
/**
 * erfc(x) = e^(−x²)·R(x) on [1, 4] (R = erfcx, from 0.43 down to 0.14): R a polynomial of degree
 * 10 in x − 2.5 (well conditioned: terms decrease), minimax for the absolute error of erfc,
 * 8.9e-11 (0.0015 ulp of erf).
 */
const ERF_R = [
  0.21080633, -0.07434751, 0.024939278, -0.007994949, 0.0024727567, -0.00074882, 0.00017842648, -7.294785e-5,
  3.0971878e-5, 1.3591913e-5, 7.022374e-6,
];

/**
 * Pushes erf x (f32x4) for the f32x4 in local `x`. Relative error ≤ 1.26 ulp everywhere (tiny
 * and subnormal x included). Odd (erf(−0) = −0); ±1 for |x| ≥ 3.919206; NaN → NaN.
 *
 * |x| < 1: x + x·Q(x²). |x| ≥ 1: 1 − e^(−x²)·R(|x|). Both are computed for every lane and the
 * lane's own is selected.
 *
 * @example
 * c.get(out).get(inp).v128Load().set(x); erf(c, x); c.v128Store();
 */
export function erf(c: Code, x: number): void {
  const [a, z, ys, t, arg, r] = scratch(c, "erf", 6);
  c.get(x).f32x4Abs().set(a);
  // Small: a + a·Q(a²).
  c.get(a).get(a).f32x4Mul().set(z);
  c.get(a).get(a);
  horner(c, z, ERF_Q);
  c.f32x4Mul().f32x4Add().set(ys);
  // Large: 1 − e^(−a²)·R(a), a clamped to 4 (NaN stays NaN). The errors of e^(−a²) and of a²
  // reach the result scaled by erfc(a) ≤ 0.16 (carrying e^(−a²) as a hi + lo pair, as sigmoid
  // does, was measured to gain only 0.005 ulp).
  c.get(a).f32x4Const(ERF_ONE).f32x4Pmin().tee(t).get(t).f32x4Mul().f32x4Neg().set(arg);
  c.get(t).f32x4Const(2.5).f32x4Sub().set(t);
  horner(c, t, ERF_R);
  c.set(r);
  c.get(ys).f32x4Const(1);
  expParts(c, arg);
  c.get(r).f32x4Mul().f32x4Sub();
  c.get(a).f32x4Const(ERF_SPLIT).f32x4Lt().v128Bitselect();
  copySign(c, x);
}

// ---- tanh ----

/** Below this |x| tanh is the odd polynomial, from it on 1 − 2/(e^(2|x|) + 1). */
const TANH_SPLIT = 0.75;
/**
 * tanh x = x + x³·P(x²) on |x| < 0.75: P minimax of degree 6 (float32 coefficients) for the
 * relative error, 1.5e-10 (0.003 ulp). Near 0 the result is x plus a small correction, so it is
 * accurate in relative terms (unlike 2σ(2x) − 1).
 */
const TANH_P = [-0.3333333, 0.13333249, -0.05395607, 0.021784874, -0.00854233, 0.0028955855, -0.0005934348];

/**
 * Pushes tanh x (f32x4) for the f32x4 in local `x`. Error ≤ 1.06 ulp. Odd (tanh(−0) = −0);
 * ±1 for |x| ≥ 9.010914 (2/(e^(2|x|) + 1) < 2⁻²⁵; from 44.4 on e^(2|x|) = +∞ and it is 0);
 * NaN → NaN.
 *
 * @example
 * c.get(out).get(inp).v128Load().set(x); tanh(c, x); c.v128Store();
 */
export function tanh(c: Code, x: number): void {
  const [a, z, ys, arg] = scratch(c, "tanh", 4);
  c.get(x).f32x4Abs().set(a);
  // Small: a + (a·a²)·P(a²).
  c.get(a).get(a).f32x4Mul().set(z);
  c.get(a).get(a).get(z).f32x4Mul();
  horner(c, z, TANH_P);
  c.f32x4Mul().f32x4Add().set(ys);
  // Large: 1 − 2/(e^(2a) + 1). From a = 0.75 on 2/(e^(2a) + 1) ≤ 0.37, so its relative error
  // (that of e^(2a) and two roundings) reaches the result shrunk by that factor.
  c.get(a).get(a).f32x4Add().set(arg);
  c.get(ys).f32x4Const(1).f32x4Const(2);
  expParts(c, arg);
  c.f32x4Const(1).f32x4Add().f32x4Div().f32x4Sub();
  c.get(a).f32x4Const(TANH_SPLIT).f32x4Lt().v128Bitselect();
  copySign(c, x);
}

// ---- sigmoid ----

/**
 * Pushes σ(x) = 1/(1 + e⁻ˣ) (f32x4) for the f32x4 in local `x`. Error ≤ 1.16 ulp, subnormal
 * results included (σ(−100) = 3.72e-44); 1 from x = 17.32868 on. Never overflows: with
 * d = e^(−|x|) ≤ 1,
 * σ(−|x|) = d/(1 + d) and σ(|x|) = 1 − σ(−|x|). d is the hi + lo pair from exp and the rounding
 * error e of 1 + hi is carried (two-sum), so q = hi/(1 + hi) is corrected to
 * q + (lo − q·e)·(1 − q), using 1/(1 + d) = 1 − q; otherwise the relative error of d
 * (up to 1.8·2⁻²⁴) would reach 2.3 ulp where q falls a binade below d.
 * σ(+∞) = 1, σ(−∞) = 0, σ(NaN) = NaN.
 *
 * @example
 * c.get(out).get(inp).v128Load().set(x); sigmoid(c, x); c.v128Store();
 */
export function sigmoid(c: Code, x: number): void {
  const [arg, hi, lo, den, e, q] = scratch(c, "sigmoid", 6);
  c.get(x).f32x4Abs().f32x4Neg().set(arg);
  expParts(c, arg, lo);
  c.set(hi);
  c.f32x4Const(1).get(hi).f32x4Add().set(den);
  c.get(hi).get(den).f32x4Const(1).f32x4Sub().f32x4Sub().get(lo).f32x4Add().set(e);
  c.get(hi).get(den).f32x4Div().set(q);
  c.get(q).get(lo).get(q).get(e).f32x4Mul().f32x4Sub().f32x4Const(1).get(q).f32x4Sub().f32x4Mul().f32x4Add().set(q);
  c.f32x4Const(1).get(q).f32x4Sub().get(q).get(x).v128Zero().f32x4Ge().v128Bitselect();
}
