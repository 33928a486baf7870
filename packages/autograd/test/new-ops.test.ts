/**
 * The ops of issue 21 (sin, cos, log1p, expm1, tril, triu, maskedFill, customVjp) and its gradient
 * edge fixes (std of a constant slice, pow at 0 and with negative bases, softplus far left, tanh
 * near 0): forward against float64 references written independently of the kernels, gradcheck
 * and gradgradcheck over fast-check shapes (scalars and broadcasting included), the PyTorch
 * fixtures (test/fixtures/layers-ops.json), float32 accuracy near 0. Runs on the active backend
 * (DELTAGRAD_BACKEND=cpu|wasm).
 */
import { readFileSync } from "node:fs";
import { describe, expect, test as it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as dg from "@deltagrad/autograd";
import { customVjp, DeltagradError, gradcheck, gradgradcheck, type Tensor } from "@deltagrad/autograd";
import { broadcastPairArb, ravel, ref, refMap, SHAPE_PAIRS, seedArb, shapeArb, size, t64, unravel, values, type Shape } from "./helpers.js";

const RUNS = { numRuns: 12 };
const F32_STEP = 2 ** -23; // float32 machine epsilon: one step at 1

/** |a − e| ≤ rtol·|e| for every element (relative, so tiny values count); NaN matches NaN, e = 0 needs a = 0. */
function expectRel(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) ? Number.isNaN(a) : a === e || Math.abs(a - e) <= rtol * Math.abs(e)) continue;
    throw new Error(`${what}[${i}] = ${a}, expected ${e} (relative error ${Math.abs(a - e) / Math.abs(e)}, rtol ${rtol})`);
  }
}

// ---- independent float64 references for the new unary primitives ----

/** Goldberg's log1p: with u = fl(1 + x), log(u)·x/(u − 1) cancels the rounding of 1 + x. */
const log1pRef = (x: number) => {
  const u = 1 + x;
  return u === 1 ? x : (Math.log(u) * x) / (u - 1);
};
/** Kahan's expm1: with u = fl(eˣ), (u − 1)·x/log u. */
const expm1Ref = (x: number) => {
  const u = Math.exp(x);
  if (u === 1) return x;
  if (u - 1 === -1) return -1;
  return ((u - 1) * x) / Math.log(u);
};
/**
 * sin and cos by their Taylor series after reduction to [−π/4, π/4] (|x| ≤ 4 here). π/2 is taken
 * in two parts (Cody–Waite): fl(π/2) alone is 6.1e-17 off, which near a zero of the result (cos
 * at x ≈ π/2, where |cos x| may be 3e-4) made the reference itself 2e-13 off in relative terms,
 * worse than the Math.cos it checks (CI found it: cos[14] = 3.1746521533737e-4).
 */
const PIO2_HI = Math.PI / 2;
const PIO2_LO = 6.123233995736766e-17; // π/2 − fl(π/2)
function sinCosRef(x: number): [number, number] {
  const k = Math.round(x / PIO2_HI);
  const r = x - k * PIO2_HI - k * PIO2_LO; // k ≤ 3: k·PIO2_HI and the first difference are exact
  let s = 0;
  let c = 0;
  let term = r;
  for (let n = 1; n < 40; n += 2) {
    s += term;
    term *= -(r * r) / ((n + 1) * (n + 2));
  }
  term = 1;
  for (let n = 0; n < 40; n += 2) {
    c += term;
    term *= -(r * r) / ((n + 1) * (n + 2));
  }
  const q = ((k % 4) + 4) % 4;
  return [[s, c, -s, -c][q]!, [c, -s, -c, s][q]!];
}

interface Unary {
  name: "sin" | "cos" | "log1p" | "expm1";
  ref: (x: number) => number;
  lo: number;
  hi: number;
}
const UNARY: Unary[] = [
  { name: "sin", ref: (x) => sinCosRef(x)[0], lo: -4, hi: 4 },
  { name: "cos", ref: (x) => sinCosRef(x)[1], lo: -4, hi: 4 },
  { name: "log1p", ref: log1pRef, lo: -0.9, hi: 3 },
  { name: "expm1", ref: expm1Ref, lo: -3, hi: 3 },
];

describe.each(UNARY)("$name", (op) => {
  const f = dg[op.name];
  test.prop([shapeArb, seedArb], RUNS)("forward matches the float64 reference (relative 1e-13)", (shape, seed) => {
    const v = values(shape, seed, op.lo, op.hi);
    const y = f(t64(v, shape, false));
    expect(y.shape).toEqual(shape);
    expect(y.dtype).toBe("float64");
    expectRel(y.dataSync(), v.map(op.ref), 1e-13, op.name);
  });
  test.prop([shapeArb, seedArb], RUNS)("backward matches finite differences", (shape, seed) => {
    expect(gradcheck(f, [t64(values(shape, seed, op.lo, op.hi), shape)])).toBe(true);
  });
  test.prop([shapeArb, seedArb], { numRuns: 4 })("second order matches finite differences", (shape, seed) => {
    expect(gradgradcheck(f, [t64(values(shape, seed, op.lo, op.hi), shape)])).toBe(true);
  });
  it("keeps full relative precision near 0 in float64 and float32", () => {
    const tiny = [1e-300, -1e-200, 1e-30, -1e-20, 1e-15, -1e-12, 1e-9, -1e-7, 1e-5, -1e-3, 0.01, 0];
    const y64 = f(dg.tensor(Float64Array.from(tiny), { dtype: "float64" }));
    expectRel(y64.dataSync(), tiny.map(op.ref), 1e-15, `${op.name} float64`);
    // float32 inputs (no subnormals): within one float32 step of the float64 value of the same input.
    const small = tiny.filter((v) => v === 0 || Math.abs(v) > 1e-37);
    const x32 = Float32Array.from(small);
    const y32 = f(dg.tensor(x32));
    expect(y32.dtype).toBe("float32");
    expectRel(y32.dataSync(), Array.from(x32, op.ref), F32_STEP, `${op.name} float32`);
  });
  it("int32 input computes in float32; specials follow Math", () => {
    expect(f(dg.tensor([1, 2], { dtype: "int32" })).dtype).toBe("float32");
    const sp = [Infinity, -Infinity, NaN, -0];
    const y = f(dg.tensor(Float64Array.from(sp), { dtype: "float64" }));
    expect(Array.from(y.dataSync())).toEqual(sp.map((v) => Math[op.name](v)));
  });
}, 60_000);

it("log1p and expm1 are primitives because the compositions lose everything near 0 (float32)", () => {
  const x = dg.tensor([1e-10]);
  expect(dg.log(x.add(1)).itemSync()).toBe(0); // 1 + 1e-10 rounds to 1
  expect(dg.exp(x).sub(1).itemSync()).toBe(0);
  expectRel(dg.log1p(x).dataSync(), [Math.fround(1e-10)], F32_STEP, "log1p");
  expectRel(dg.expm1(x).dataSync(), [Math.fround(1e-10)], F32_STEP, "expm1");
});

it("UNARY_KERNELS: every listed kernel has a rule and runs on the active backend in float32 and float64", () => {
  for (const k of dg.UNARY_KERNELS) {
    expect(dg.RULES[k], k).toBeDefined();
    for (const dtype of ["float32", "float64"] as const) {
      const b = dg.getBackend();
      const x = b.upload(dtype === "float32" ? Float32Array.from([0.5, 2]) : Float64Array.from([0.5, 2]), dtype);
      expect(b.readSync(b.unary(k, x, dtype, 2), dtype, 2).length, `${k} ${dtype}`).toBe(2);
    }
  }
});

// ---- tril, triu ----

function refTriangle(v: number[], shape: Shape, keep: (i: number, j: number) => boolean): number[] {
  return v.map((x, flat) => {
    const idx = unravel(flat, shape);
    return keep(idx[idx.length - 2]!, idx[idx.length - 1]!) ? x : 0;
  });
}

const matrixShapeArb = fc.tuple(fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })).map(([b, m, n]) => [...b, m, n]);

describe.each(["tril", "triu"] as const)("%s", (name) => {
  const f = dg[name];
  const keep = (k: number) => (i: number, j: number) => (name === "tril" ? j - i <= k : j - i >= k);
  test.prop([matrixShapeArb, fc.integer({ min: -6, max: 6 }), seedArb], RUNS)("keeps entries by j − i against the diagonal; gradient only there", (shape, k, seed) => {
    const v = values(shape, seed);
    const x = t64(v, shape);
    const y = f(x, { diagonal: k });
    expect(y.shape).toEqual(shape);
    expect(Array.from(y.dataSync())).toEqual(refTriangle(v, shape, keep(k)));
    expect(gradcheck((t) => f(t, { diagonal: k }), [x])).toBe(true);
    expect(gradgradcheck((t) => f(t, { diagonal: k }).square(), [t64(v, shape)])).toBe(true);
    y.backward(dg.ones(shape, { dtype: "float64" }));
    expect(Array.from(x.grad!.dataSync())).toEqual(refTriangle(v.map(() => 1), shape, keep(k)));
  });
  it("default diagonal 0; works on int32 and bool; the Tensor method delegates", () => {
    const ones = dg.ones([3, 3]);
    expect(f(ones).arraySync()).toEqual(name === "tril" ? [[1, 0, 0], [1, 1, 0], [1, 1, 1]] : [[1, 1, 1], [0, 1, 1], [0, 0, 1]]);
    expect(f(dg.ones([2, 2], { dtype: "int32" })).dtype).toBe("int32");
    expect(f(dg.ones([2, 2], { dtype: "bool" })).dtype).toBe("bool");
    expect(ones[name]({ diagonal: 1 }).arraySync()).toEqual(f(ones, { diagonal: 1 }).arraySync());
    expect(f(dg.zeros([2, 0, 3])).shape).toEqual([2, 0, 3]);
  });
  it("rejects rank < 2 and a non-integer diagonal, naming the op", () => {
    expect(() => f(dg.ones([3]))).toThrow(new RegExp(`^${name}: .*rank ≥ 2.*\\[3\\]`));
    expect(() => f(dg.ones([2, 2]), { diagonal: 0.5 })).toThrow(DeltagradError);
    expect(() => f(dg.ones([2, 2]), { diagonal: 0.5 })).toThrow(`${name}: diagonal must be an integer`);
  });
});

// ---- maskedFill ----

describe("maskedFill", () => {
  test.prop([fc.oneof(broadcastPairArb, fc.constantFrom(...SHAPE_PAIRS)), seedArb, fc.double({ min: -3, max: 3, noNaN: true })], RUNS)(
    "fills where the broadcast mask is true; x's gradient only where it is false",
    (pair, seed, value) => {
      const [xs, ms] = pair;
      const vx = values(xs, seed);
      const vm = values(ms, seed + 1).map((v) => (v > 0 ? 1 : 0));
      const mask = dg.tensor(vm.map((v) => v === 1), { dtype: "bool" }).reshape(ms);
      const x = t64(vx, xs);
      const expected = refMap((xv, mv) => (mv ? value : xv), ref(vx, xs), ref(vm, ms));
      const y = dg.maskedFill(x, mask, value);
      expect(y.shape).toEqual(expected.shape);
      expect(Array.from(y.dataSync())).toEqual(expected.values);
      expect(gradcheck((t) => dg.maskedFill(t, mask, value), [x])).toBe(true);
      // d/dx: the number of output positions broadcast from each x element where the mask is false.
      y.backward(dg.ones(y.shape, { dtype: "float64" }));
      const want = new Array<number>(size(xs)).fill(0);
      const lead = expected.shape.length - xs.length;
      expected.values.forEach((_, o) => {
        const idx = unravel(o, expected.shape);
        const mIdx = idx.slice(expected.shape.length - ms.length).map((d, i) => (ms[i] === 1 ? 0 : d));
        if (vm[ravel(mIdx, ms)] === 0) want[ravel(idx.slice(lead).map((d, i) => (xs[i] === 1 ? 0 : d)), xs)]! += 1;
      });
      expect(Array.from(x.grad!.dataSync())).toEqual(want);
    },
  );
  it("a 0-d tensor value gets the gradient of the filled positions; the result keeps x's dtype", () => {
    const x = dg.tensor([1, 2, 3], { dtype: "float64", requiresGrad: true });
    const v = dg.tensor(5, { dtype: "float64", requiresGrad: true });
    const mask = dg.tensor([true, false, true], { dtype: "bool" });
    const y = x.maskedFill(mask, v);
    expect(Array.from(y.dataSync())).toEqual([5, 2, 5]);
    y.mul(dg.tensor([1, 10, 100], { dtype: "float64" })).sum().backward();
    expect(v.grad!.itemSync()).toBe(101);
    expect(Array.from(x.grad!.dataSync())).toEqual([0, 10, 0]);
    expect(gradgradcheck((a, b) => dg.maskedFill(a, mask, b).mul(a), [t64([1, 2, 3], [3]), t64([0.5], [])])).toBe(true);
    expect(dg.maskedFill(dg.tensor([1, 2], { dtype: "int32" }), dg.tensor([true, false], { dtype: "bool" }), -1.5).arraySync()).toEqual([-1, 2]);
    expect(dg.maskedFill(dg.tensor([1, 2]), dg.tensor([true, false], { dtype: "bool" }), -Infinity).arraySync()).toEqual([-Infinity, 2]);
  });
  it("rejects a non-bool mask, shapes that do not broadcast and a value that is not a number or 0-d tensor", () => {
    const x = dg.ones([2, 3]);
    expect(() => dg.maskedFill(x, dg.ones([2, 3]), 0)).toThrow("maskedFill: mask must be a bool tensor, got float32");
    expect(() => dg.maskedFill(x, dg.ones([4], { dtype: "bool" }), 0)).toThrow(/^maskedFill: .*\[2,3\].*\[4\]/);
    expect(() => dg.maskedFill(x, dg.ones([3], { dtype: "bool" }), dg.ones([2]))).toThrow("maskedFill: a tensor value must be 0-d, got shape [2]");
    expect(() => dg.maskedFill(x, dg.ones([3], { dtype: "bool" }), "1" as never)).toThrow(DeltagradError);
  });
});

// ---- PyTorch fixtures ----

type Nested = number | null | boolean | Nested[];
const fixtures = JSON.parse(readFileSync(new URL("./fixtures/layers-ops.json", import.meta.url), "utf8")) as { cases: FixtureCase[] };
interface FixtureCase {
  name: string;
  op: string;
  attrs: Record<string, any>;
  inputs: Record<string, Nested>;
  input_dtypes?: Record<string, string>;
  outputs: { y: Nested };
  cotangents: { y: Nested };
  grads: { inputs: Record<string, Nested> };
}
const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);
const flat = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v === null ? NaN : Number(v)]);
const f64 = (v: Nested, requiresGrad = true) => t64(flat(v), shapeOf(v), requiresGrad);

const FIXTURE_OPS: Record<string, (ins: Record<string, Tensor>, attrs: Record<string, any>) => Tensor> = {
  sin: ({ x }) => dg.sin(x!),
  cos: ({ x }) => dg.cos(x!),
  log1p: ({ x }) => dg.log1p(x!),
  expm1: ({ x }) => dg.expm1(x!),
  tril: ({ x }, a) => dg.tril(x!, { diagonal: a.diagonal }),
  triu: ({ x }, a) => dg.triu(x!, { diagonal: a.diagonal }),
  masked_fill: ({ x, mask }, a) => dg.maskedFill(x!, mask!, a.value),
  std: ({ x }, a) => dg.std(x!, { axis: a.dim, correction: a.unbiased ? 1 : 0, keepDims: a.keepdim }),
  pow: ({ x, a, b }, attrs) => (x ? dg.pow(x, attrs.exponent) : dg.pow(a!, b!)),
};

describe("PyTorch fixtures (layers.json, kind op)", () => {
  it("has the nine ops of issue 21", () => {
    expect(new Set(fixtures.cases.map((c) => c.op))).toEqual(new Set(Object.keys(FIXTURE_OPS)));
  });
  it.each(fixtures.cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const ins: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(c.inputs)) {
      ins[k] = c.input_dtypes?.[k] === "bool" ? dg.tensor(flat(v).map(Boolean), { dtype: "bool" }).reshape(shapeOf(v)) : f64(v);
    }
    const y = FIXTURE_OPS[c.op]!(ins, c.attrs);
    // log1p/expm1 reach |x| = 1e-12 (values ~1e-12): compared relatively, as tightly as float64 allows.
    const rtol = c.op === "log1p" || c.op === "expm1" ? 1e-13 : 1e-6;
    expect(y.shape).toEqual(shapeOf(c.outputs.y));
    if (rtol < 1e-6) expectRel(y.dataSync(), flat(c.outputs.y), rtol, `${c.name} y`);
    else expectNear(y.dataSync(), flat(c.outputs.y), `${c.name} y`);
    y.backward(f64(c.cotangents.y, false));
    for (const [k, g] of Object.entries(c.grads.inputs)) {
      if (rtol < 1e-6) expectRel(ins[k]!.grad!.dataSync(), flat(g), rtol, `${c.name} d/d${k}`);
      else expectNear(ins[k]!.grad!.dataSync(), flat(g), `${c.name} d/d${k}`);
    }
  });
});

/** Within 1e-6 absolute or relative (the fixtures' bar); NaN (PyTorch's null) must be NaN. */
function expectNear(actual: ArrayLike<number>, expected: number[], what: string): void {
  expected.forEach((e, i) => {
    const a = actual[i]!;
    const err = Math.abs(a - e);
    if (Number.isNaN(e) ? !Number.isNaN(a) : !(err <= 1e-6 || err <= 1e-6 * Math.abs(e))) throw new Error(`${what}[${i}] = ${a}, PyTorch ${e}`);
  });
}

// ---- the wasm SIMD kernels of log1p and expm1 (sin and cos run the cpu kernel there) ----

describe.skipIf(!dg.wasmSimdSupported())("wasm f32x4 log1p and expm1", () => {
  const bits = new DataView(new ArrayBuffer(4));
  /** The float32's position on the number line in steps. */
  const ord = (v: number) => {
    bits.setFloat32(0, v);
    const b = bits.getInt32(0);
    return b < 0 ? -(b & 0x7fffffff) : b;
  };
  function onWasm(op: "log1p" | "expm1", xs: Float32Array): Float32Array {
    const w = dg.wasmBackend;
    const h = w.upload(xs, "float32"); // ≥ 4 KiB: in wasm memory, so the SIMD kernel runs
    const o = w.unary(op, h, "float32", xs.length);
    const y = w.readSync(o, "float32", xs.length).slice() as Float32Array;
    for (const d of [h, o]) if (w.retain!(d)) w.release!(d);
    return y;
  }
  const patterns: number[] = [];
  for (let b = 0; b < 0x7f800000; b += 65_537) {
    bits.setInt32(0, b);
    patterns.push(bits.getFloat32(0));
    bits.setInt32(0, b | 0x80000000);
    patterns.push(bits.getFloat32(0));
  }
  const dense = Array.from({ length: 4096 }, (_, i) => -2 + i / 1024);
  const specials = [NaN, 0, -0, Infinity, -Infinity, -1, -1.0000001, 88.72284, 88.7229, -17.33, -104, 1e-45, -1e-45, 3.4e38, -3.4e38];
  it.each(["log1p", "expm1"] as const)("%s: within one float32 step of the float64 value, bit patterns over the whole range, specials exact", (op) => {
    const xs = Float32Array.from([...patterns, ...dense, ...specials]);
    const y = onWasm(op, xs);
    xs.forEach((x, i) => {
      const r = Math.fround(Math[op](x));
      if (Number.isNaN(r) || !Number.isFinite(r) || r === 0) expect(Object.is(y[i], r), `${op}(${x}) = ${y[i]}, expected ${r}`).toBe(true);
      else if (Math.abs(ord(y[i]!) - ord(r)) > 1) throw new Error(`${op}(${x}) = ${y[i]}, float64 ${Math[op](x)}`);
    });
  });
});

// ---- Tensor methods: one-line delegates to the free functions ----

describe("Tensor methods", () => {
  const x = dg.tensor([[0.5, -1], [2, 0.25]], { dtype: "float64" });
  const same = (a: Tensor, b: Tensor) => {
    expect(a.shape).toEqual(b.shape);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
  };
  it("sin, cos, log1p, expm1, tril, triu, maskedFill", () => {
    same(x.sin(), dg.sin(x));
    same(x.cos(), dg.cos(x));
    same(x.abs().log1p(), dg.log1p(dg.abs(x)));
    same(x.expm1(), dg.expm1(x));
    same(x.tril({ diagonal: -1 }), dg.tril(x, { diagonal: -1 }));
    same(x.triu(), dg.triu(x));
    const m = dg.tensor([true, false], { dtype: "bool" });
    same(x.maskedFill(m, 9), dg.maskedFill(x, m, 9));
  });
  it("where (PyTorch's x.where(condition, other)), concat, stack, scatterAdd, oneHot, unfold, fold", () => {
    const c = dg.tensor([[true, false], [false, true]], { dtype: "bool" });
    same(x.where(c, 0), dg.where(c, x, 0));
    expect(x.where(c, 0).arraySync()).toEqual([[0.5, 0], [0, 0.25]]);
    const y = dg.ones([2, 2], { dtype: "float64" });
    same(x.concat([y], 1), dg.concat([x, y], 1));
    same(x.stack([y, y]), dg.stack([x, y, y]));
    const idx = dg.tensor([1, 0], { dtype: "int32" });
    same(x.scatterAdd(idx, [3, 2]), dg.scatterAdd(x, idx, [3, 2]));
    same(idx.oneHot(3), dg.oneHot(idx, 3));
    const img = dg.arange(16, undefined, 1, { dtype: "float64" }).reshape([1, 1, 4, 4]);
    const cols = img.unfold({ kernel: 2 });
    same(cols, dg.unfold(img, { kernel: 2 }));
    same(cols.fold([4, 4], { kernel: 2 }), dg.fold(cols, [4, 4], { kernel: 2 }));
  });
  it("a non-array for concat/stack is the free function's error", () => {
    expect(() => x.concat(x as never)).toThrow(DeltagradError);
    expect(() => x.stack(3 as never)).toThrow(DeltagradError);
  });
});
