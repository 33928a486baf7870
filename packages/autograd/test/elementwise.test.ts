import { describe, expect } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as dg from "@deltagrad/autograd";
import { gradcheck, gradgradcheck, type Tensor } from "@deltagrad/autograd";
import { broadcastPairArb, expectClose, ref, refMap, SHAPE_PAIRS, seedArb, shapeArb, t64, values, valuesAway, type Shape } from "./helpers.js";
import { erfRef } from "@deltagrad/autograd/testing";

const RUNS = { numRuns: 12 };

interface Unary {
  name: string;
  f: (x: Tensor) => Tensor;
  ref: (x: number) => number;
  /** Input range and kinks to stay away from. */
  lo?: number;
  hi?: number;
  kinks?: number[];
  /** Smooth enough for a second-order check. */
  smooth?: boolean;
}


const UNARY: Unary[] = [
  { name: "neg", f: dg.neg, ref: (x) => -x, smooth: true },
  { name: "reciprocal", f: dg.reciprocal, ref: (x) => 1 / x, kinks: [0], lo: -2, hi: 2, smooth: true },
  { name: "exp", f: dg.exp, ref: Math.exp, smooth: true },
  { name: "log", f: dg.log, ref: Math.log, lo: 0.2, hi: 3, smooth: true },
  { name: "sqrt", f: dg.sqrt, ref: Math.sqrt, lo: 0.2, hi: 3, smooth: true },
  { name: "erf", f: dg.erf, ref: erfRef, lo: -3, hi: 3, smooth: true },
  { name: "square", f: dg.square, ref: (x) => x * x, smooth: true },
  { name: "abs", f: dg.abs, ref: Math.abs, kinks: [0] },
  { name: "sigmoid", f: dg.sigmoid, ref: (x) => 1 / (1 + Math.exp(-x)), lo: -6, hi: 6, smooth: true },
  { name: "tanh", f: dg.tanh, ref: Math.tanh, lo: -4, hi: 4, smooth: true },
  { name: "relu", f: dg.relu, ref: (x) => Math.max(x, 0), kinks: [0] },
  { name: "softplus", f: dg.softplus, ref: (x) => Math.log1p(Math.exp(x)), lo: -6, hi: 6, smooth: true },
  { name: "pow 3", f: (x) => dg.pow(x, 3), ref: (x) => x ** 3, smooth: true },
  { name: "pow -2", f: (x) => dg.pow(x, -2), ref: (x) => x ** -2, kinks: [0], lo: -2, hi: 2, smooth: true },
  { name: "pow 0.5", f: (x) => dg.pow(x, 0.5), ref: Math.sqrt, lo: 0.2, hi: 3, smooth: true },
  { name: "pow 2.5", f: (x) => dg.pow(x, 2.5), ref: (x) => x ** 2.5, lo: 0.2, hi: 3, smooth: true },
  { name: "pow 0", f: (x) => dg.pow(x, 0), ref: () => 1 },
  { name: "clamp", f: (x) => dg.clamp(x, { min: -1, max: 0.5 }), ref: (x) => Math.min(Math.max(x, -1), 0.5), kinks: [-1, 0.5] },
  { name: "minimum 0", f: (x) => dg.minimum(x, 0), ref: (x) => Math.min(x, 0), kinks: [0] },
];

describe.each(UNARY)("$name", (op) => {
  test.prop([shapeArb, seedArb], RUNS)("forward matches the float64 reference", (shape, seed) => {
    const v = valuesAway(shape, seed, op.kinks ?? [], 0.05, op.lo, op.hi);
    const y = op.f(t64(v, shape, false));
    expect(y.shape).toEqual(shape);
    expectClose(y.dataSync(), refMap(op.ref, ref(v, shape)).values, 1e-12, op.name);
  });
  test.prop([shapeArb, seedArb], RUNS)("backward matches finite differences", (shape, seed) => {
    const x = t64(valuesAway(shape, seed, op.kinks ?? [], 0.05, op.lo, op.hi), shape);
    expect(gradcheck(op.f, [x])).toBe(true);
  });
  if (op.smooth) {
    test.prop([shapeArb, seedArb], { numRuns: 4 })("second order matches finite differences", (shape, seed) => {
      const x = t64(valuesAway(shape, seed, op.kinks ?? [], 0.1, op.lo, op.hi), shape);
      expect(gradgradcheck(op.f, [x])).toBe(true);
    });
  }
});

interface Binary {
  name: string;
  f: (a: Tensor, b: Tensor) => Tensor;
  ref: (a: number, b: number) => number;
  range?: { a?: [number, number]; b?: [number, number]; bAway?: number[] };
  smooth?: boolean;
}

const BINARY: Binary[] = [
  { name: "add", f: dg.add, ref: (a, b) => a + b, smooth: true },
  { name: "sub", f: dg.sub, ref: (a, b) => a - b, smooth: true },
  { name: "mul", f: dg.mul, ref: (a, b) => a * b, smooth: true },
  { name: "div", f: dg.div, ref: (a, b) => a / b, range: { bAway: [0] }, smooth: true },
  // Inputs on disjoint ranges: no ties, so the gradient is defined.
  { name: "maximum", f: dg.maximum, ref: Math.max, range: { a: [-2, 2], b: [-2, 2] } },
  { name: "minimum", f: dg.minimum, ref: Math.min, range: { a: [-2, 2], b: [-2, 2] } },
  { name: "pow", f: dg.pow, ref: (a, b) => a ** b, range: { a: [0.5, 2], b: [-2, 2] }, smooth: true },
];

function binaryInputs(op: Binary, [sa, sb]: [Shape, Shape], seed: number): [number[], number[]] {
  const a = values(sa, seed, ...(op.range?.a ?? [-2, 2]));
  let b = op.range?.bAway ? valuesAway(sb, seed + 1, op.range.bAway, 0.3) : values(sb, seed + 1, ...(op.range?.b ?? [-2, 2]));
  if (op.name === "maximum" || op.name === "minimum") b = b.map((v) => v + 0.01 * Math.sign(v || 1)); // break exact ties
  return [a, b];
}

describe.each(BINARY)("$name", (op) => {
  test.prop([fc.oneof(broadcastPairArb, fc.constantFrom(...SHAPE_PAIRS)), seedArb], RUNS)("forward and backward with broadcasting", (pair, seed) => {
    const [va, vb] = binaryInputs(op, pair, seed);
    const a = t64(va, pair[0]);
    const b = t64(vb, pair[1]);
    const expected = refMap(op.ref, ref(va, pair[0]), ref(vb, pair[1]));
    const y = op.f(a, b);
    expect(y.shape).toEqual(expected.shape);
    expectClose(y.dataSync(), expected.values, 1e-12, op.name);
    expect(gradcheck(op.f, [a, b])).toBe(true);
  });
  if (op.smooth) {
    test.prop([fc.constantFrom(...SHAPE_PAIRS), seedArb], { numRuns: 4 })("second order", (pair, seed) => {
      const [va, vb] = binaryInputs(op, pair, seed);
      expect(gradgradcheck(op.f, [t64(va, pair[0]), t64(vb, pair[1])])).toBe(true);
    });
  }
});

describe("where", () => {
  test.prop([broadcastPairArb, seedArb], RUNS)("selects with broadcasting; gradient flows to the chosen side only", (pair, seed) => {
    const cShape = pair[0].map((d, i) => (i % 2 ? 1 : d)); // a third broadcast partner
    const va = values(pair[0], seed);
    const vb = values(pair[1], seed + 1);
    const vc = values(cShape, seed + 2).map((v) => (v > 0 ? 1 : 0));
    const cond = dg.tensor(vc.map((v) => v === 1), { dtype: "bool" }).reshape(cShape);
    const a = t64(va, pair[0]);
    const b = t64(vb, pair[1]);
    const expected = refMap((c, x, y) => (c ? x : y), ref(vc, cShape), ref(va, pair[0]), ref(vb, pair[1]));
    const y = dg.where(cond, a, b);
    expectClose(y.dataSync(), expected.values, 0, "where");
    expect(gradcheck((x, z) => dg.where(cond, x, z), [a, b])).toBe(true);
  });
});

describe("comparisons and sign carry no gradient", () => {
  const x = dg.tensor([1, 2, 3], { requiresGrad: true });
  test.each(["equal", "notEqual", "greater", "greaterEqual", "less", "lessEqual"] as const)("%s", (name) => {
    const r = dg[name](x, 2);
    expect(r.dtype).toBe("bool");
    expect(r.requiresGrad).toBe(false);
    const expected = { equal: [0, 1, 0], notEqual: [1, 0, 1], greater: [0, 0, 1], greaterEqual: [0, 1, 1], less: [1, 0, 0], lessEqual: [1, 1, 0] }[name];
    expect(Array.from(r.dataSync())).toEqual(expected);
  });
  test("sign", () => {
    const s = dg.sign(dg.tensor([-3, -0, 0, 2, NaN]));
    expect(Array.from(s.dataSync())).toEqual([-1, 0, 0, 1, NaN]);
    expect(dg.sign(x).requiresGrad).toBe(false);
  });
});

describe("ties and kinks are decided", () => {
  test("relu'(0) = 0", () => {
    const x = dg.tensor([0, -0, 1e-30, -1e-30], { dtype: "float64", requiresGrad: true });
    dg.relu(x).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([0, 0, 1, 0]);
  });
  test("abs'(0) = 0", () => {
    const x = dg.tensor([0, -2, 3], { dtype: "float64", requiresGrad: true });
    dg.abs(x).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([0, -1, 1]);
  });
  test("maximum with equal inputs splits the gradient evenly", () => {
    const a = dg.tensor([1, 2], { requiresGrad: true });
    const b = dg.tensor([1, 3], { requiresGrad: true });
    dg.maximum(a, b).sum().backward();
    expect(Array.from(a.grad!.dataSync())).toEqual([0.5, 0]);
    expect(Array.from(b.grad!.dataSync())).toEqual([0.5, 1]);
  });
  test("clamp passes the gradient at its bounds (closed interval, as PyTorch)", () => {
    const x = dg.tensor([-1, 0.5, 2, -3], { dtype: "float64", requiresGrad: true });
    dg.clamp(x, { min: -1, max: 0.5 }).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([1, 1, 0, 0]);
  });
});

describe("composites equal their primitive decompositions", () => {
  const plainSigmoid = (x: Tensor) => x.neg().exp().add(1).reciprocal(); // the lecture's h3…h6
  const cases: [string, (x: Tensor) => Tensor, (x: Tensor) => Tensor][] = [
    ["sigmoid", dg.sigmoid, plainSigmoid],
    ["tanh", dg.tanh, (x) => x.mul(2).exp().sub(1).div(x.mul(2).exp().add(1))],
    ["softplus", dg.softplus, (x) => x.exp().add(1).log()],
  ];
  test.each(cases)("%s (values and gradients, where the plain composition is finite)", (_name, f, plain) => {
    const v = values([50], 7, -30, 30);
    const x1 = t64(v, [50]);
    const x2 = t64(v, [50]);
    const y1 = f(x1);
    const y2 = plain(x2);
    expectClose(y1.dataSync(), y2.dataSync(), 1e-12, "value");
    y1.sum().backward();
    y2.sum().backward();
    expectClose(x1.grad!.dataSync(), x2.grad!.dataSync(), 1e-10, "grad");
  });
  test("the stable forms stay finite where the plain ones overflow", () => {
    const x = dg.tensor([-1e4, -800, 800, 1e4], { dtype: "float64", requiresGrad: true });
    for (const f of [dg.sigmoid, dg.tanh, dg.softplus]) {
      x.grad = null;
      const y = f(x);
      y.sum().backward();
      for (const v of [...y.dataSync(), ...x.grad!.dataSync()]) expect(Number.isFinite(v)).toBe(true);
    }
    expect(Array.from(dg.sigmoid(x).dataSync())).toEqual([0, 0, 1, 1]);
    expect(Array.from(dg.softplus(x).dataSync())).toEqual([0, 0, 800, 1e4]);
  });
  test("float32 sigmoid at ±1e4 is finite with finite gradients", () => {
    const x = dg.tensor([-1e4, 1e4], { requiresGrad: true });
    dg.sigmoid(x).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([0, 0]);
  });
});

describe("dtype promotion", () => {
  test("numbers adopt the tensor's dtype; mixed floats promote to float64", () => {
    expect(dg.add(dg.tensor([1], { dtype: "float64" }), 1).dtype).toBe("float64");
    expect(dg.add(dg.tensor([1], { dtype: "int32" }), 1).dtype).toBe("int32");
    expect(dg.add(dg.tensor([1], { dtype: "int32" }), 0.5).dtype).toBe("float32");
    expect(dg.add(dg.tensor([1]), dg.tensor([1], { dtype: "float64" })).dtype).toBe("float64");
    expect(dg.div(dg.tensor([1], { dtype: "int32" }), 2).dtype).toBe("float32");
    expect(dg.exp(dg.tensor([0], { dtype: "int32" })).dtype).toBe("float32");
  });
  test("gradients come back in the input's dtype through a promotion", () => {
    const a = dg.tensor([1, 2], { requiresGrad: true });
    const b = dg.tensor([3, 4], { dtype: "float64", requiresGrad: true });
    dg.mul(a, b).sum().backward();
    expect(a.grad!.dtype).toBe("float32");
    expect(b.grad!.dtype).toBe("float64");
    expect(Array.from(a.grad!.dataSync())).toEqual([3, 4]);
  });
});
