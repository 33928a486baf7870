/**
 * Gradient edges found by a differential comparison against PyTorch (float64), each decided as
 * PyTorch decides it: std of a constant slice, pow at 0 and with a negative base, softplus far
 * left of 0, float32 tanh near 0. Runs on the active backend (DELTAGRAD_BACKEND=cpu|wasm).
 */
import { describe, expect, test as it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as dg from "@deltagrad/autograd";
import { gradcheck, gradgradcheck } from "@deltagrad/autograd";
import { SHAPE_PAIRS, seedArb, t64, values } from "./helpers.js";

const F32_STEP = 2 ** -23;
const f64 = (v: number[], requiresGrad = true) => dg.tensor(Float64Array.from(v), { dtype: "float64", requiresGrad });
const arr = (t: dg.Tensor) => Array.from(t.dataSync());

describe("std of a constant slice", () => {
  it("has gradient 0 there (PyTorch), not NaN; other slices keep their gradient", () => {
    const x = dg.tensor([[1, 2, 4], [1.5, 1.5, 1.5]], { dtype: "float64", requiresGrad: true });
    const y = dg.std(x, { axis: 1, correction: 1 });
    expect(arr(y)[1]).toBe(0);
    y.sum().backward();
    const g = arr(x.grad!);
    expect(g.slice(3)).toEqual([0, 0, 0]);
    // d std/dx_i = (x_i − mean)/((n − 1)·std) for the first row
    const m = 7 / 3;
    const s = Math.sqrt(((1 - m) ** 2 + (2 - m) ** 2 + (4 - m) ** 2) / 2);
    g.slice(0, 3).forEach((gi, i) => expect(gi).toBeCloseTo(([1, 2, 4][i]! - m) / (2 * s), 14));
  });
  it("all-constant input, keepDims and float32 too; second order stays finite", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const x = dg.full([2, 3], 0.25, { dtype, requiresGrad: true });
      dg.std(x, { keepDims: true }).sum().backward();
      expect(arr(x.grad!)).toEqual([0, 0, 0, 0, 0, 0]);
    }
    expect(gradgradcheck((t) => dg.std(t, { axis: 0 }), [t64(values([3, 2], 3), [3, 2])])).toBe(true);
  });
  it("a NaN variance (n − correction = 0) is still NaN", () => {
    expect(Number.isNaN(dg.std(f64([1]), { correction: 1 }).itemSync())).toBe(true);
  });
});

describe("pow at 0 and with negative bases", () => {
  it("d xᵉ/dx at x = 0 is 0 for e > 1, 1 for e = 1, ∞ for 0 < e < 1 (PyTorch)", () => {
    const at0 = (e: number) => {
      const x = f64([0]);
      dg.pow(x, e).sum().backward();
      return x.grad!.itemSync();
    };
    for (const e of [1.5, 2, 2.5, 3, 7.25, 100]) expect(at0(e), `e = ${e}`).toBe(0);
    expect(at0(1)).toBe(1);
    expect(at0(0.3)).toBe(Infinity);
    expect(at0(0.5)).toBe(Infinity);
    expect(at0(0)).toBe(0);
  });
  it("non-integer exponents keep their values and gradients elsewhere; second order", () => {
    const v = [0.25, 1, 2.5];
    const x = f64(v);
    const y = dg.pow(x, 1.5);
    y.sum().backward();
    arr(y).forEach((yi, i) => expect(yi).toBeCloseTo(v[i]! ** 1.5, 14));
    arr(x.grad!).forEach((gi, i) => expect(gi).toBeCloseTo(1.5 * Math.sqrt(v[i]!), 14));
    expect(gradgradcheck((t) => dg.pow(t, 1.7), [t64([0.3, 1.2, 2], [3])])).toBe(true);
    expect(gradgradcheck((t) => dg.pow(t, -2.5), [t64([0.3, 1.2, 2], [3])])).toBe(true);
    expect(Number.isNaN(dg.pow(f64([-1]), 1.5).itemSync())).toBe(true);
  });
  it("[-2] ** [2] = 4 with ∂/∂a = −4 and ∂/∂b NaN (PyTorch)", () => {
    const a = f64([-2]);
    const b = f64([2]);
    const y = dg.pow(a, b);
    expect(y.itemSync()).toBe(4);
    y.backward(dg.ones([1], { dtype: "float64" }));
    expect(a.grad!.itemSync()).toBe(-4);
    expect(Number.isNaN(b.grad!.itemSync())).toBe(true);
  });
  it("negative bases: odd integer exponents negate, even ones do not, non-integers give NaN; 0⁰ = 1", () => {
    const a = f64([-2, -2, -2, -0.5, -3, 0, 0, 0, 2]);
    const b = f64([3, -1, 0.5, -2, 1e20, 0, 2, -1, -0.5]);
    // exp(b·log|a|) then the sign: within a few float64 ulps of C's pow (PyTorch's values).
    const y = arr(dg.pow(a, b));
    const want = [-8, -0.5, NaN, 4, Infinity, 1, 0, Infinity, 2 ** -0.5];
    y.forEach((yi, i) => expect(Number.isFinite(want[i]!) ? Math.abs(yi - want[i]!) <= 1e-15 * Math.abs(want[i]!) : Object.is(yi, want[i]), `${i}: ${yi}`).toBe(true));
    expect(arr(dg.pow(f64([-1.01, -1]), 65))).toEqual([(-1.01) ** 65, -1]); // integer exponents past intPow's 64
  });
  it("at a = 0: ∂/∂a is 0 where b = 0, ∂/∂b is 0 where b ≥ 0 (PyTorch's masks)", () => {
    const a = f64([0, 0, 0]);
    const b = f64([0, 2, 1]);
    dg.pow(a, b).sum().backward();
    expect(arr(a.grad!)).toEqual([0, 0, 1]);
    expect(arr(b.grad!)).toEqual([0, 0, 0]);
  });
  test.prop([fc.constantFrom(...SHAPE_PAIRS), seedArb], { numRuns: 8 })("negative bases with integer exponents: gradcheck of ∂/∂a with broadcasting, to second order", (pair, seed) => {
    const a = t64(values(pair[0], seed, -2, -0.5), pair[0]);
    const b = t64(values(pair[1], seed + 1, -3, 3).map(Math.round), pair[1], false);
    expect(gradcheck((t) => dg.pow(t, b), [a])).toBe(true);
    expect(gradgradcheck((t) => dg.pow(t, b), [a])).toBe(true);
  });
});

describe("softplus far left of 0", () => {
  it("is eˣ (not 0) for x ≪ −36, with gradient σ(x) ≈ eˣ", () => {
    const v = [-37, -40, -100, -700];
    const x = f64(v);
    const y = dg.softplus(x);
    y.sum().backward();
    arr(y).forEach((yi, i) => expect(Math.abs(yi / Math.exp(v[i]!) - 1)).toBeLessThan(1e-15));
    arr(x.grad!).forEach((gi, i) => expect(Math.abs(gi / Math.exp(v[i]!) - 1)).toBeLessThan(1e-14));
    const y32 = dg.softplus(dg.tensor([-20, -50, -80]));
    Array.from(y32.dataSync()).forEach((yi, i) => expect(Math.abs(yi / Math.exp([-20, -50, -80][i]!) - 1)).toBeLessThan(4 * F32_STEP));
  });
});

describe("tanh near 0", () => {
  it("float32 tanh keeps relative precision for tiny |x| (against float64 Math.tanh of the same float32 input)", () => {
    const xs: number[] = [];
    for (let e = -37; e <= 1; e += 0.25) xs.push(Math.fround(10 ** e), Math.fround(-(10 ** e) * 1.37));
    const x32 = Float32Array.from(xs);
    const y = dg.tanh(dg.tensor(x32)).dataSync();
    let worst = 0;
    x32.forEach((x, i) => (worst = Math.max(worst, Math.abs(y[i]! - Math.tanh(x)) / Math.abs(Math.tanh(x)))));
    // A handful of float32 roundings (expm1, neg, add, div): measured ≤ 2 float32 steps here.
    expect(worst).toBeLessThanOrEqual(2 * F32_STEP);
    // The old composition 2σ(2x) − 1 was off by thousands of float32 steps at 1e-5 (every digit at 1e-8).
    const old = dg.sigmoid(dg.tensor([1e-5, 1e-8]).mul(2)).mul(2).sub(1).dataSync();
    expect(Math.abs(old[0]! / Math.tanh(Math.fround(1e-5)) - 1)).toBeGreaterThan(1000 * F32_STEP);
    expect(old[1]).toBe(0);
  });
  it("float64 tanh is within a few ulps everywhere, ±1 far out, odd, NaN in NaN out, tanh′(0) = 1", () => {
    const v = values([400], 11, -20, 20).concat([1e-300, -1e-12, 1e-8, 0.3, 700, -800]);
    const y = arr(dg.tanh(f64(v, false)));
    y.forEach((yi, i) => expect(Math.abs(yi - Math.tanh(v[i]!)) <= 4e-16 * Math.abs(Math.tanh(v[i]!))).toBe(true));
    expect(arr(dg.tanh(f64([NaN, -0, Infinity, -Infinity], false)))).toEqual([NaN, -0, 1, -1]);
    const x = f64([0, -0]);
    dg.tanh(x).sum().backward();
    expect(arr(x.grad!)).toEqual([1, 1]);
  });
});

it("pow(a, b) differentiates twice at a = 0 without NaN from the masked branches", () => {
  const a = f64([0, 0]);
  const b = f64([2, 3]);
  const [ga, gb] = dg.gradients(dg.pow(a, b).sum(), [a, b], undefined, { createGraph: true });
  expect(arr(ga!)).toEqual([0, 0]);
  expect(arr(gb!)).toEqual([0, 0]);
  const [gaa] = dg.gradients(ga!.sum(), [a]);
  expect(arr(gaa!)).toEqual([2, 0]); // d²(a²)/da² = 2, d²(a³)/da² = 6a = 0
  const [gbb] = dg.gradients(gb!.sum(), [b]);
  expect(arr(gbb!)).toEqual([0, 0]);
});

describe("gradients() with a target that depends on another target", () => {
  it("passes the cotangent through the upper target (torch.autograd.grad(z, [x, y]), y = f(x))", () => {
    const x = dg.tensor([1, 2, 3], { requiresGrad: true, dtype: "float64" });
    const y = x.mul(3); // dz/dy = 2y, dz/dx = 2y·3 = 18x
    const z = y.mul(y).sum();
    const [gx, gy] = dg.gradients(z, [x, y]);
    expect(Array.from(gx!.dataSync())).toEqual([18, 36, 54]);
    expect(Array.from(gy!.dataSync())).toEqual([6, 12, 18]);
    // The target order does not matter, and a lone upper target still prunes the rest.
    const w = dg.tensor([1, 2, 3], { requiresGrad: true, dtype: "float64" });
    const y2 = x.mul(w);
    const [gy2, gx2] = dg.gradients(y2.sum(), [y2, x]);
    expect(Array.from(gy2!.dataSync())).toEqual([1, 1, 1]);
    expect(Array.from(gx2!.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(dg.gradients(y2.sum(), [y2])[0]!.dataSync())).toEqual([1, 1, 1]);
    expect(x.grad).toBeNull();
  });
  test.prop([seedArb])("x's gradient with [x, f(x)] as targets equals its gradient alone", (seed) => {
    const x = t64(values([2, 3], seed), [2, 3]);
    const f = (v: dg.Tensor) => v.exp().mul(v);
    const alone = dg.gradients(f(x).tanh().sum(), [x])[0]!;
    const y = f(x);
    const both = dg.gradients(y.tanh().sum(), [x, y])[0]!;
    expect(Array.from(both.dataSync())).toEqual(Array.from(alone.dataSync()));
  });
});
