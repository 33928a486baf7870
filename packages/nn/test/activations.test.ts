import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { DeltagradError, Generator, gradcheck, gradgradcheck, reshape, tensor, type Tensor } from "@deltagrad/autograd";
import {
  elu, gelu, hardLogistic, hardSigmoid, hardTanh, leakyRelu, logistic, logSoftmax, maxout, prelu, relu, relu6,
  scaledTanh, sigmoid, sign, silu, softmax, softplus, step, swish, tanh,
} from "@deltagrad/nn";
import { erfRef } from "@deltagrad/autograd/testing";

// ---------- helpers ----------

type Shape = number[];
const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v as number]);

/** Float64 leaf of `shape` from plain values. */
function t64(values: number[], shape: Shape, requiresGrad = true): Tensor {
  return reshape(tensor(values, { dtype: "float64" }), shape).detach().requiresGrad_(requiresGrad);
}

/** Seeded values in [lo, hi], each at least `gap` away from every kink. */
function valuesAway(seed: number, n: number, { lo = -4, hi = 4, kinks = [] as number[], gap = 0.05 } = {}): number[] {
  const g = new Generator(seed);
  return Array.from({ length: n }, () => {
    let v = lo + (hi - lo) * g.uniform();
    for (const k of kinks) if (Math.abs(v - k) < gap) v = k + (v >= k ? gap : -gap);
    return v;
  });
}

/** d/dx of Σ f(x), elementwise for elementwise f. */
function gradOf(f: (x: Tensor) => Tensor, x: Tensor): number[] {
  const leaf = x.detach().requiresGrad_(true);
  f(leaf).sum().backward();
  return Array.from(leaf.grad!.dataSync());
}

/** |a − e| ≤ tol·max(1, |e|): absolute near zero, relative for large values. */
function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = "") {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`${what}: element ${i} is ${a}, expected ${e} (tol ${tol})`);
    }
  }
}

const shapeArb = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 });
const nonScalarShapeArb = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 });
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const RUNS = { numRuns: 15 };

// ---------- reference formulas (plain doubles, written independently of the composites) ----------

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const Phi = (x: number) => 0.5 * (1 + erfRef(x / Math.SQRT2));
const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);

interface Elementwise {
  name: string;
  f: (x: Tensor) => Tensor;
  /** Forward reference. */
  y: (x: number) => number;
  /** The lecture's derivative formula, in terms of x and y = f(x). */
  dy: (x: number, y: number) => number;
  kinks?: number[];
  lo?: number;
  hi?: number;
}

const ALPHA = 1.7;
const A = 1.7159;
const B = 2 / 3;
const ELEMENTWISE: Elementwise[] = [
  { name: "sigmoid", f: sigmoid, y: sig, dy: (_x, y) => y * (1 - y) }, // σ′ = σ(1 − σ)
  { name: "logistic slope 2.5", f: (x) => logistic(x, { slope: 2.5 }), y: (x) => sig(2.5 * x), dy: (_x, y) => 2.5 * y * (1 - y) }, // a·y(1 − y)
  { name: "tanh", f: tanh, y: Math.tanh, dy: (_x, y) => 1 - y * y }, // 1 − tanh²
  { name: "scaledTanh", f: (x) => scaledTanh(x), y: (x) => A * Math.tanh(B * x), dy: (_x, y) => (B / A) * (A - y) * (A + y) }, // (b/a)(a − y)(a + y)
  { name: "relu", f: relu, y: (x) => Math.max(0, x), dy: (x) => (x > 0 ? 1 : 0), kinks: [0] }, // I(x > 0)
  { name: "relu6", f: relu6, y: (x) => Math.min(Math.max(0, x), 6), dy: (x) => (x > 0 && x < 6 ? 1 : 0), kinks: [0, 6], lo: -3, hi: 9 },
  { name: "leakyRelu 0.1", f: (x) => leakyRelu(x, { slope: 0.1 }), y: (x) => (x > 0 ? x : 0.1 * x), dy: (x) => (x > 0 ? 1 : 0.1), kinks: [0] },
  { name: "elu α=1.7", f: (x) => elu(x, { alpha: ALPHA }), y: (x) => (x > 0 ? x : ALPHA * (Math.exp(x) - 1)), dy: (x) => (x > 0 ? 1 : 0) + (x <= 0 ? ALPHA * Math.exp(x) : 0), kinks: [0] }, // I(x>0) + I(x≤0)γeˣ
  { name: "softplus", f: (x) => softplus(x), y: (x) => Math.log1p(Math.exp(x)), dy: (x) => sig(x) }, // softplus′ = σ
  { name: "softplus β=3", f: (x) => softplus(x, { beta: 3 }), y: (x) => Math.log1p(Math.exp(3 * x)) / 3, dy: (x) => sig(3 * x) },
  { name: "swish β=1.5", f: (x) => swish(x, { beta: 1.5 }), y: (x) => x * sig(1.5 * x), dy: (x) => sig(1.5 * x) + 1.5 * x * sig(1.5 * x) * (1 - sig(1.5 * x)) },
  { name: "silu", f: silu, y: (x) => x * sig(x), dy: (x) => sig(x) + x * sig(x) * (1 - sig(x)) },
  { name: "gelu", f: (x) => gelu(x), y: (x) => x * Phi(x), dy: (x) => Phi(x) + x * phi(x) }, // Φ(x) + x·φ(x)
  {
    name: "gelu tanh",
    f: (x) => gelu(x, { approximate: "tanh" }),
    y: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
    dy: (x) => {
      const c = Math.sqrt(2 / Math.PI);
      const th = Math.tanh(c * (x + 0.044715 * x ** 3));
      return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * c * (1 + 3 * 0.044715 * x * x);
    },
  },
  { name: "hardTanh", f: (x) => hardTanh(x), y: (x) => Math.max(-1, Math.min(1, x)), dy: (x) => (x > -1 && x < 1 ? 1 : 0), kinks: [-1, 1] },
  { name: "hardTanh [-2,0.5]", f: (x) => hardTanh(x, { min: -2, max: 0.5 }), y: (x) => Math.max(-2, Math.min(0.5, x)), dy: (x) => (x > -2 && x < 0.5 ? 1 : 0), kinks: [-2, 0.5] },
  { name: "hardLogistic", f: hardLogistic, y: (x) => Math.max(0, Math.min(1, 0.25 * x + 0.5)), dy: (x) => (Math.abs(x) < 2 ? 0.25 : 0), kinks: [-2, 2] },
  { name: "hardSigmoid", f: hardSigmoid, y: (x) => Math.min(Math.max(0, x + 3), 6) / 6, dy: (x) => (Math.abs(x) < 3 ? 1 / 6 : 0), kinks: [-3, 3], lo: -5, hi: 5 },
  { name: "prelu shared 0.3", f: (x) => prelu(x, tensor([0.3], { dtype: "float64" })), y: (x) => (x > 0 ? x : 0.3 * x), dy: (x) => (x > 0 ? 1 : 0.3), kinks: [0] },
];

// ---------- the PyTorch fixture ----------

interface OpCase {
  name: string;
  op: string;
  attrs: Record<string, unknown>;
  x: unknown;
  weight?: unknown;
  cotangent: unknown;
  y: unknown;
  vjp: unknown;
  vjp_weight?: unknown;
  shapes: Record<string, number[]>;
}

const fixture = JSON.parse(readFileSync(new URL("./fixtures/ops.json", import.meta.url), "utf8")) as { dtype: string; cases: OpCase[] };

const FIXTURE_OPS: Record<string, (c: OpCase, x: Tensor, w?: Tensor) => Tensor> = {
  sigmoid: (_c, x) => sigmoid(x),
  tanh: (_c, x) => tanh(x),
  relu: (_c, x) => relu(x),
  leaky_relu: (c, x) => leakyRelu(x, { slope: c.attrs.negative_slope as number }),
  elu: (c, x) => elu(x, { alpha: c.attrs.alpha as number }),
  softplus: (c, x) => softplus(x, { beta: c.attrs.beta as number, threshold: c.attrs.threshold as number }),
  silu: (_c, x) => silu(x),
  gelu: (c, x) => gelu(x, { approximate: c.attrs.approximate as "none" | "tanh" }),
  hardtanh: (c, x) => hardTanh(x, { min: c.attrs.min_val as number, max: c.attrs.max_val as number }),
  hardsigmoid_torch: (_c, x) => hardSigmoid(x),
  hard_logistic: (_c, x) => hardLogistic(x),
  prelu: (_c, x, w) => prelu(x, w!),
  softmax: (c, x) => softmax(x, { axis: c.attrs.dim as number }),
  log_softmax: (c, x) => logSoftmax(x, { axis: c.attrs.dim as number }),
};

describe("PyTorch fixture ops.json (float64)", () => {
  const cases = fixture.cases.filter((c) => c.op in FIXTURE_OPS);

  it("covers every activation the issue lists", () => {
    expect(fixture.dtype).toBe("float64");
    const names = cases.map((c) => c.name);
    for (const n of ["sigmoid", "tanh", "relu", "elu", "softplus", "silu", "gelu_erf", "gelu_tanh", "hardtanh", "hardsigmoid_torch", "hard_logistic", "prelu"]) {
      expect(names).toContain(n);
    }
    expect(names.filter((n) => n.startsWith("leaky_relu")).length).toBeGreaterThan(0);
    expect(names.filter((n) => n.startsWith("softmax")).length).toBeGreaterThan(0);
    expect(names.filter((n) => n.startsWith("log_softmax")).length).toBeGreaterThan(0);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s: y and vjp within 1e-6", (_name, c) => {
    const x = t64(flat(c.x), c.shapes.x!);
    const w = c.weight !== undefined ? t64(flat(c.weight), c.shapes.weight!) : undefined;
    const y = FIXTURE_OPS[c.op]!(c, x, w);
    expect(y.shape).toEqual(c.shapes.y);
    expectNear(y.dataSync(), flat(c.y), 1e-6, `${c.name} y`);
    y.backward(t64(flat(c.cotangent), c.shapes.y!, false));
    expectNear(x.grad!.dataSync(), flat(c.vjp), 1e-6, `${c.name} vjp`);
    if (w) expectNear(w.grad!.dataSync(), flat(c.vjp_weight), 1e-6, `${c.name} vjp_weight`);
  });
});

// ---------- properties ----------

describe.each(ELEMENTWISE.map((a) => [a.name, a] as const))("%s", (_name, a) => {
  const opts = { lo: a.lo ?? -4, hi: a.hi ?? 4, kinks: a.kinks ?? [] };

  test.prop([shapeArb, seedArb], RUNS)("gradcheck in float64 (scalars included, away from kinks)", (shape, seed) => {
    const x = t64(valuesAway(seed, sizeOf(shape), opts), shape);
    expect(a.f(x).shape).toEqual(shape);
    gradcheck(a.f, [x]);
  });

  test.prop([fc.array(fc.double({ min: opts.lo, max: opts.hi, noNaN: true }), { minLength: 1, maxLength: 12 })], RUNS)(
    "value and derivative match the lecture's formula table",
    (raw) => {
      const xs = raw.map((v) => {
        for (const k of opts.kinks) if (Math.abs(v - k) < 1e-6) return k + 1e-3;
        return v;
      });
      const x = t64(xs, [xs.length]);
      const ys = xs.map(a.y);
      expectNear(a.f(x).dataSync(), ys, 1e-12, "value");
      expectNear(gradOf(a.f, x), xs.map((v, i) => a.dy(v, ys[i]!)), 1e-11, "derivative");
    },
  );
});

describe("non-elementwise activations: gradcheck over generated shapes", () => {
  test.prop([nonScalarShapeArb, seedArb, fc.integer({ min: -1, max: 0 })], RUNS)("softmax and logSoftmax along an axis", (shape, seed, axis) => {
    const x = t64(valuesAway(seed, sizeOf(shape), { lo: -3, hi: 3 }), shape);
    gradcheck((t) => softmax(t, { axis }), [x]);
    gradcheck((t) => logSoftmax(t, { axis }), [x]);
  });

  test.prop([fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), seedArb], RUNS)(
    "maxout over pieces (random values have no ties)",
    (lead, units, pieces, seed) => {
      const shape = [...lead, units * pieces];
      const x = t64(valuesAway(seed, sizeOf(shape)), shape);
      expect(maxout(x, { pieces }).shape).toEqual([...lead, units]);
      gradcheck((t) => maxout(t, { pieces }), [x]);
    },
  );

  test.prop([fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 2 }), seedArb], RUNS)(
    "prelu with one weight per channel (axis 1): gradients for x and weight",
    (n, c, spatial, seed) => {
      const shape = [n, c, ...spatial];
      const x = t64(valuesAway(seed, sizeOf(shape), { kinks: [0] }), shape);
      const w = t64(valuesAway(seed + 1, c, { lo: 0.05, hi: 0.5 }), [c]);
      gradcheck(prelu, [x, w]);
    },
  );

  test.prop([shapeArb, seedArb], RUNS)("swish with a tensor β: gradients for x and β", (shape, seed) => {
    const x = t64(valuesAway(seed, sizeOf(shape)), shape);
    const beta = t64([0.7], [1]);
    expect(swish(x, { beta }).shape).toEqual(shape); // a one-element β adds no axis
    gradcheck((t, b) => swish(t, { beta: b }), [x, beta]);
  });

  it("second derivatives of the smooth ones (gradgradcheck)", () => {
    const x = t64(valuesAway(11, 6), [2, 3]);
    for (const f of [sigmoid, tanh, (t: Tensor) => softplus(t), silu, (t: Tensor) => gelu(t), (t: Tensor) => gelu(t, { approximate: "tanh" }), (t: Tensor) => scaledTanh(t), (t: Tensor) => softmax(t)]) {
      gradgradcheck(f, [x]);
    }
  });
});

// ---------- kinks, decided and tested ----------

describe("kinks", () => {
  const at = (f: (x: Tensor) => Tensor, xs: number[]) => gradOf(f, t64(xs, [xs.length]));

  it("relu′(0) = 0 (the lecture's I(x > 0)); relu6′ is 0 at both corners", () => {
    expect(at(relu, [0, 1e-9, -1e-9])).toEqual([0, 1, 0]);
    expect(at(relu6, [0, 6, 5.999, 0.001])).toEqual([0, 0, 1, 1]);
  });

  it("leakyRelu′(0) = slope, prelu′(0) = weight and ∂prelu/∂w = x (0 at 0): the x ≤ 0 piece", () => {
    expect(at((x) => leakyRelu(x, { slope: 0.2 }), [0])).toEqual([0.2]);
    const x = t64([0, -2], [2]);
    const w = t64([0.3], [1]);
    prelu(x, w).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([0.3, 0.3]);
    expect(w.grad!.dataSync()[0]).toBe(-2); // 0 (from x = 0) + (−2)
  });

  it("elu′(0) = α (the lecture's I(x ≤ 0)·γ·eˣ), not 1", () => {
    expect(at((x) => elu(x, { alpha: 2 }), [0])).toEqual([2]);
  });

  it("hardTanh, hardLogistic and hardSigmoid have derivative 0 at their corners and the slope just inside", () => {
    expect(at((x) => hardTanh(x), [-1, 1, -0.999, 0.999])).toEqual([0, 0, 1, 1]);
    expect(at(hardLogistic, [-2, 2, -1.999, 1.999])).toEqual([0, 0, 0.25, 0.25]);
    expect(at(hardSigmoid, [-3, 3, -2.999, 2.999])).toEqual([0, 0, 1 / 6, 1 / 6]);
  });

  it("smooth functions at exactly 0 (a regression test for the stable σ and softplus)", () => {
    expect(at(sigmoid, [0])).toEqual([0.25]);
    expect(at(tanh, [0])).toEqual([1]);
    expect(at((x) => softplus(x), [0])).toEqual([0.5]);
    expect(at(silu, [0])).toEqual([0.5]);
    expect(at((x) => gelu(x), [0])).toEqual([0.5]);
    expect(at((x) => elu(x, { alpha: 1 }), [0])).toEqual([1]);
  });

  it("softplus switches to x above the threshold (βx > 20), as PyTorch", () => {
    const x = t64([20, 20.5, 10], [3]);
    const y = softplus(x, { threshold: 20 }).dataSync();
    expect(y[0]).toBe(20 + Math.log1p(Math.exp(-20)));
    expect(y[1]).toBe(20.5);
    expect(at((t) => softplus(t), [20.5])).toEqual([1]);
    expect(softplus(t64([4], [1]), { beta: 6 }).dataSync()[0]).toBe(4); // 6·4 = 24 > 20
  });

  it("maxout ties share the gradient evenly", () => {
    expect(at((x) => maxout(x, { pieces: 2 }), [3, 3, 1, 2])).toEqual([0.5, 0.5, 0, 1]);
  });

  it("step: u(0) = 1, NaN stays NaN; sign(0) = 0; neither has a gradient", () => {
    const x = t64([-2, 0, 3, NaN], [4]);
    expect(Array.from(step(x).dataSync())).toEqual([0, 1, 1, NaN]);
    expect(Array.from(sign(x).dataSync())).toEqual([-1, 0, 1, NaN]);
    expect(step(x).requiresGrad).toBe(false);
    expect(sign(x).requiresGrad).toBe(false);
    expect(step(x).dtype).toBe("float64");
  });
});

// ---------- stability ----------

describe("stability for |x| = 1e4", () => {
  const ALL: [string, (x: Tensor) => Tensor][] = [
    ...ELEMENTWISE.map((a) => [a.name, a.f] as [string, (x: Tensor) => Tensor]),
    ["softmax", (x) => softmax(x)],
    ["logSoftmax", (x) => logSoftmax(x)],
    ["maxout", (x) => maxout(x, { pieces: 2 })],
    ["swish β=-2", (x) => swish(x, { beta: -2 })],
    ["logistic slope 0.5", (x) => logistic(x, { slope: 0.5 })],
  ];

  it.each(ALL.flatMap(([n, f]) => (["float32", "float64"] as const).map((d) => [n, d, f] as const)))("%s in %s: finite values and gradients", (_n, dtype, f) => {
    const x = tensor([-1e4, 1e4, 0.5, -0.5], { dtype, requiresGrad: true });
    const y = f(x);
    expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
    y.sum().backward();
    expect(Array.from(x.grad!.dataSync()).every(Number.isFinite)).toBe(true);
  });

  it("the limits are the right ones", () => {
    const x = tensor([-1e4, 1e4], { dtype: "float64" });
    expect(Array.from(sigmoid(x).dataSync())).toEqual([0, 1]);
    expect(Array.from(tanh(x).dataSync())).toEqual([-1, 1]);
    expect(Array.from(softplus(x).dataSync())).toEqual([0, 1e4]);
    expect(Array.from(elu(x, { alpha: 2 }).dataSync())).toEqual([-2, 1e4]);
    expect(Array.from(gelu(x).dataSync())).toEqual([-0, 1e4]);
    expect(Array.from(gelu(x, { approximate: "tanh" }).dataSync())).toEqual([-0, 1e4]);
    expect(Array.from(silu(x).dataSync())).toEqual([-0, 1e4]);
    expect(Array.from(softmax(tensor([0, 1e4], { dtype: "float64" })).dataSync())).toEqual([0, 1]);
    expect(logSoftmax(tensor([0, 1e4], { dtype: "float64" })).dataSync()[0]).toBe(-1e4);
    expect(gradOf(sigmoid, x)).toEqual([0, 0]);
    expect(gradOf((t) => softplus(t), x)).toEqual([0, 1]);
  });
});

// ---------- validation ----------

describe("errors name the function and the bad value", () => {
  const x = tensor([1, 2, 3, 4]);
  it.each([
    ["leakyRelu", () => leakyRelu(x, { slope: NaN }), /leakyRelu: slope must be a finite number, got NaN/],
    ["softplus", () => softplus(x, { beta: 0 }), /softplus: beta must be a finite positive number, got 0/],
    ["hardTanh", () => hardTanh(x, { min: 1, max: 1 }), /hardTanh: min must be less than max, got min 1, max 1/],
    ["maxout", () => maxout(x, { pieces: 3 }), /maxout: the last axis of shape \[4\] must be a multiple of pieces = 3/],
    ["maxout pieces", () => maxout(x, { pieces: 0 }), /maxout: pieces must be a positive integer, got 0/],
    ["prelu", () => prelu(reshape(x, [2, 2]), tensor([0.1, 0.2, 0.3])), /prelu: weight of shape \[3\] needs 1 element or one per channel on axis 1 of the input, got input shape \[2,2\]/],
    ["gelu", () => gelu(x, { approximate: "fast" as "tanh" }), /gelu: approximate must be "none" or "tanh", got "fast"/],
    ["swish", () => swish(x, { beta: tensor([1, 2]) }), /swish: a tensor beta must have one element, got shape \[2\]/],
    ["relu of a number", () => relu(3 as unknown as Tensor), /relu: expected a Tensor, got number/],
  ])("%s", (_n, f, message) => {
    expect(f).toThrow(DeltagradError);
    expect(f).toThrow(message);
  });

  it("integer inputs are lifted to float32", () => {
    const y = relu(tensor([-1, 2], { dtype: "int32" }));
    expect(y.dtype).toBe("float32");
    expect(Array.from(y.dataSync())).toEqual([0, 2]);
  });
});
