import { describe, expect } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as dg from "@deltagrad/autograd";
import { gradcheck, gradgradcheck, type Tensor } from "@deltagrad/autograd";
import { axesArb, expectClose, ref, refLanes, refReduce, seedArb, shapeArb, t64, values, type Ref } from "./helpers.js";

const RUNS = { numRuns: 12 };

const sumOf = (g: number[]) => g.reduce((a, b) => a + b, 0);
const meanOf = (g: number[]) => sumOf(g) / g.length;
const varOf = (c: number) => (g: number[]) => {
  const m = meanOf(g);
  return sumOf(g.map((v) => (v - m) ** 2)) / (g.length - c);
};
const lse = (g: number[]) => {
  const m = Math.max(...g);
  return m + Math.log(sumOf(g.map((v) => Math.exp(v - m))));
};

interface Reduction {
  name: string;
  f: (x: Tensor, o: { axis?: number[]; keepDims: boolean }) => Tensor;
  ref: (g: number[]) => number;
  smooth?: boolean;
  /** Needs at least this many elements per group. */
  minGroup?: number;
}

const REDUCTIONS: Reduction[] = [
  { name: "sum", f: dg.sum, ref: sumOf, smooth: true },
  { name: "mean", f: dg.mean, ref: meanOf, smooth: true },
  { name: "max", f: dg.max, ref: (g) => Math.max(...g) },
  { name: "min", f: dg.min, ref: (g) => Math.min(...g) },
  { name: "variance", f: dg.variance, ref: varOf(0), smooth: true },
  { name: "variance correction 1", f: (x, o) => dg.variance(x, { ...o, correction: 1 }), ref: varOf(1), minGroup: 2, smooth: true },
  { name: "std", f: dg.std, ref: (g) => Math.sqrt(varOf(0)(g)), minGroup: 2 },
  { name: "logSumExp", f: dg.logSumExp, ref: lse, smooth: true },
];

/** A shape with its random reduction axes (some negative), filtered for the group size. */
const caseArb = shapeArb.chain((shape) => fc.tuple(fc.constant(shape), axesArb(shape.length), fc.boolean(), fc.boolean(), seedArb));

describe.each(REDUCTIONS)("$name", (op) => {
  test.prop([caseArb], RUNS)("forward and backward over random axes, keepDims both ways", ([shape, axes, keepDims, negative, seed]) => {
    const all = axes ?? shape.map((_, i) => i);
    const group = all.reduce((n, a) => n * shape[a]!, 1);
    fc.pre(group >= (op.minGroup ?? 1));
    const axis = axes?.map((a) => (negative ? a - shape.length : a));
    const v = values(shape, seed);
    const expected = refReduce(ref(v, shape), all, keepDims, op.ref);
    const x = t64(v, shape);
    const y = op.f(x, { axis, keepDims });
    expect(y.shape).toEqual(expected.shape);
    expectClose(y.dataSync(), expected.values, 1e-12, op.name);
    expect(gradcheck((t) => op.f(t, { axis, keepDims }), [x])).toBe(true);
  });
  if (op.smooth) {
    test.prop([caseArb], { numRuns: 4 })("second order", ([shape, axes, keepDims, , seed]) => {
      const group = (axes ?? shape.map((_, i) => i)).reduce((n, a) => n * shape[a]!, 1);
      fc.pre(group >= (op.minGroup ?? 1));
      expect(gradgradcheck((t) => op.f(t, { axis: axes, keepDims }), [t64(values(shape, seed), shape)])).toBe(true);
    });
  }
});

const softmaxRef = (lane: number[]) => {
  const m = Math.max(...lane);
  const e = lane.map((v) => Math.exp(v - m));
  const s = sumOf(e);
  return e.map((v) => v / s);
};

const LANE_OPS: [string, (x: Tensor, axis: number) => Tensor, (lane: number[]) => number[]][] = [
  ["softmax", (x, axis) => dg.softmax(x, { axis }), softmaxRef],
  ["logSoftmax", (x, axis) => dg.logSoftmax(x, { axis }), (l) => softmaxRef(l).map(Math.log)],
  ["cumsum", (x, axis) => dg.cumsum(x, { axis }), (l) => l.map((_, i) => sumOf(l.slice(0, i + 1)))],
];

describe.each(LANE_OPS)("%s", (_name, f, laneRef) => {
  const arb = shapeArb.filter((s) => s.length > 0).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length, max: s.length - 1 }), seedArb));
  test.prop([arb], RUNS)("forward, backward and second order along any axis", ([shape, axis, seed]) => {
    const v = values(shape, seed, -3, 3);
    const a = axis < 0 ? axis + shape.length : axis;
    const expected: Ref = refLanes(ref(v, shape), a, laneRef);
    const x = t64(v, shape);
    expectClose(f(x, axis).dataSync(), expected.values, 1e-12, _name);
    expect(gradcheck((t) => f(t, axis), [x])).toBe(true);
    expect(gradgradcheck((t) => f(t, axis), [x])).toBe(true);
  });
});

describe("numerically extreme inputs", () => {
  test("softmax, logSoftmax and logSumExp with logits ±1e4 and equal logits", () => {
    const x = dg.tensor([[1e4, -1e4, 0], [5, 5, 5]], { dtype: "float64", requiresGrad: true });
    expectClose(dg.softmax(x).dataSync(), [1, 0, 0, 1 / 3, 1 / 3, 1 / 3], 1e-15, "softmax");
    expectClose(dg.logSoftmax(x).dataSync(), [0, -2e4, -1e4, -Math.log(3), -Math.log(3), -Math.log(3)], 1e-15, "logSoftmax");
    expectClose(dg.logSumExp(x, { axis: 1 }).dataSync(), [1e4, 5 + Math.log(3)], 1e-15, "logSumExp");
    dg.logSoftmax(x).sum().backward();
    for (const g of x.grad!.dataSync()) expect(Number.isFinite(g)).toBe(true);
  });
  test("logSumExp of an all −∞ slice is −∞, not NaN", () => {
    expect(dg.logSumExp(dg.tensor([-Infinity, -Infinity])).itemSync()).toBe(-Infinity);
  });
});

describe("ties in max and argmax", () => {
  test("max shares the gradient evenly among equal maxima", () => {
    const x = dg.tensor([[3, 1, 3], [2, 2, 2]], { requiresGrad: true });
    dg.max(x, { axis: 1 }).sum().backward();
    expectClose(x.grad!.dataSync(), [0.5, 0, 0.5, 1 / 3, 1 / 3, 1 / 3], 1e-7, "grad");
  });
  test("argmax and argmin return the first of equal elements", () => {
    expect(dg.argmax(dg.tensor([1, 3, 3, 0])).itemSync()).toBe(1);
    expect(dg.argmin(dg.tensor([2, 0, 5, 0])).itemSync()).toBe(1);
    expect(Array.from(dg.argmax(dg.tensor([[1, 1], [0, 2]]), { axis: 1 }).dataSync())).toEqual([0, 1]);
    expect(Array.from(dg.argmax(dg.tensor([[1, 1], [0, 2]]), { axis: 0 }).dataSync())).toEqual([0, 1]);
  });
  test("argmax is int32, carries no gradient, and keeps dims on request", () => {
    const x = dg.tensor([[1, 5, 2]], { requiresGrad: true });
    const i = dg.argmax(x, { axis: -1, keepDims: true });
    expect(i.dtype).toBe("int32");
    expect(i.requiresGrad).toBe(false);
    expect(i.shape).toEqual([1, 1]);
  });
  test("max and argmax propagate NaN (the first NaN wins)", () => {
    expect(dg.max(dg.tensor([1, NaN, 3])).itemSync()).toBeNaN();
    expect(dg.argmax(dg.tensor([1, NaN, 3])).itemSync()).toBe(1);
  });
});

describe("reduction errors name the op and the axis", () => {
  test.each([
    ["sum", () => dg.sum(dg.zeros([2, 3]), { axis: 2 }), /sum: axis 2 is out of range for a tensor of rank 2/],
    ["mean", () => dg.mean(dg.zeros([2]), { axis: [0, 0] }), /mean: repeated axis/],
    ["max", () => dg.max(dg.zeros([0])), /max: cannot reduce an empty axis/],
    ["softmax", () => dg.softmax(dg.zeros([2]), { axis: 1.5 }), /softmax: axis 1.5/],
  ])("%s", (_n, f, msg) => {
    expect(f).toThrow(dg.DeltagradError);
    expect(f).toThrow(msg);
  });
  test("sum of an empty axis is 0, mean of it is NaN (NumPy)", () => {
    expect(dg.sum(dg.zeros([0])).itemSync()).toBe(0);
    expect(dg.mean(dg.zeros([0])).itemSync()).toBeNaN();
  });
  test("sum of bool counts as int32", () => {
    const s = dg.sum(dg.tensor([true, false, true]));
    expect(s.dtype).toBe("int32");
    expect(s.itemSync()).toBe(2);
  });
});

describe("integer max", () => {
  // The cpu loop started from −∞ stored in an Int32Array, i.e. 0: all-negative rows gave 0.
  test.prop([fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: 1, maxLength: 12 })])(
    "max of int32 values is the largest value, negative ones included",
    (xs) => {
      const x = dg.tensor(xs, { dtype: "int32" });
      expect(dg.max(x).itemSync()).toBe(Math.max(...xs));
      expect(dg.max(x.reshape([1, xs.length]), { axis: 1 }).arraySync()).toEqual([Math.max(...xs)]);
    },
  );
});
