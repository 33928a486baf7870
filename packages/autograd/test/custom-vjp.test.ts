/**
 * customVjp: a stable log1pexp against the plain composition, a straight-through estimator,
 * checked cotangents (count, shape, dtype), second order through a recorded VJP, broadcasting
 * inputs, lifetimes (fn's temporaries freed, inputs and returned inputs kept). Runs on the
 * active backend (DELTAGRAD_BACKEND=cpu|wasm).
 */
import { describe, expect, test as it } from "vitest";
import { test } from "@fast-check/vitest";
import * as dg from "@deltagrad/autograd";
import { customVjp, DeltagradError, grad, gradcheck, gradgradcheck, type Tensor } from "@deltagrad/autograd";
import { SHAPE_PAIRS, seedArb, shapeArb, t64, values } from "./helpers.js";
import fc from "fast-check";

const arr = (t: Tensor) => Array.from(t.dataSync());

/** log(1 + eˣ) evaluated stably; its gradient is σ(x), written by hand. */
const log1pexp = customVjp(
  function log1pexp(x: Tensor) {
    return dg.maximum(x, 0).add(dg.log1p(dg.exp(dg.abs(x).neg())));
  },
  (g, [x]) => [g.mul(dg.sigmoid(x))],
);
const plainLog1pexp = (x: Tensor) => dg.log(dg.exp(x).add(1));

describe("log1pexp", () => {
  test.prop([shapeArb, seedArb], { numRuns: 12 })("equals the plain composition (values and gradients) where that is finite", (shape, seed) => {
    const v = values(shape, seed, -8, 8);
    const [x1, x2] = [t64(v, shape), t64(v, shape)];
    const [y1, y2] = [log1pexp(x1), plainLog1pexp(x2)];
    expect(y1.shape).toEqual(shape);
    expect(y1.gradFn).toBe("customVjp");
    arr(y1).forEach((a, i) => expect(a).toBeCloseTo(arr(y2)[i]!, 13));
    y1.sum().backward();
    y2.sum().backward();
    arr(x1.grad!).forEach((a, i) => expect(a).toBeCloseTo(arr(x2.grad!)[i]!, 13));
    expect(gradcheck(log1pexp, [t64(v, shape)])).toBe(true);
    expect(gradgradcheck(log1pexp, [t64(v, shape)])).toBe(true);
  });
  it("stays finite where the plain composition's gradient is NaN (float32 eˣ overflows at x = 100)", () => {
    const x = dg.tensor([100, -100], { requiresGrad: true });
    log1pexp(x).sum().backward();
    expect(arr(x.grad!)).toEqual([1, Math.fround(1 / (1 + Math.exp(100)))]);
    const xp = dg.tensor([100], { requiresGrad: true });
    plainLog1pexp(xp).sum().backward();
    expect(Number.isNaN(xp.grad!.itemSync())).toBe(true);
    expect(log1pexp(dg.tensor([100])).itemSync()).toBe(100);
  });
  it("does not record fn's ops: the graph holds one node over x", () => {
    const x = dg.tensor([1, 2], { requiresGrad: true });
    const y = log1pexp(x);
    expect(y.node!.op).toBe("customVjp");
    expect(y.node!.inputs).toEqual([x]);
    expect(dg.noGrad(() => log1pexp(x)).requiresGrad).toBe(false);
  });
});

describe("straight-through estimator", () => {
  const roundSte = customVjp(
    function roundSte(x: Tensor) {
      return dg.where(dg.greaterEqual(x, 0), x.add(0.5).cast("int32"), x.sub(0.5).cast("int32")).cast(x.dtype); // half away from 0
    },
    (g) => [g],
  );
  it("rounds in the forward and passes the gradient through unchanged", () => {
    const x = dg.tensor([0.2, 0.7, -1.6, 2.5], { requiresGrad: true });
    const y = roundSte(x);
    expect(arr(y)).toEqual([0, 1, -2, 3]);
    y.mul(dg.tensor([1, 2, 3, 4])).sum().backward();
    expect(arr(x.grad!)).toEqual([1, 2, 3, 4]);
  });
  it("a returned input is kept (shares storage, not disposed)", () => {
    const id = customVjp((x: Tensor) => x, (g) => [g.mul(2)]);
    const x = dg.tensor([1, 2], { requiresGrad: true });
    const y = id(x);
    y.sum().backward();
    expect(arr(x)).toEqual([1, 2]);
    expect(arr(y)).toEqual([1, 2]);
    expect(arr(x.grad!)).toEqual([2, 2]);
    expect(x.isDisposed).toBe(false);
  });
});

describe("several inputs, broadcasting and null cotangents", () => {
  /** a·b with hand-written cotangents summed back to each input's shape (the VJP's job). */
  const product = customVjp(
    function product(a: Tensor, b: Tensor) {
      return a.mul(b);
    },
    (g, [a, b]) => [dg.unbroadcast(g.mul(b), a.shape), dg.unbroadcast(g.mul(a), b.shape)],
  );
  test.prop([fc.constantFrom(...SHAPE_PAIRS), seedArb], { numRuns: 9 })("gradcheck and gradgradcheck over the HIPS shape pairs", (pair, seed) => {
    const a = t64(values(pair[0], seed), pair[0]);
    const b = t64(values(pair[1], seed + 1), pair[1]);
    expect(gradcheck(product, [a, b])).toBe(true);
    expect(gradgradcheck(product, [a, b])).toBe(true);
  });
  it("null means no gradient for that input", () => {
    const f = customVjp((a: Tensor, b: Tensor) => a.add(b), (g) => [g, null]);
    const a = dg.tensor([1], { requiresGrad: true });
    const b = dg.tensor([2], { requiresGrad: true });
    f(a, b).sum().backward();
    expect(arr(a.grad!)).toEqual([1]);
    expect(b.grad).toBe(null);
  });
});

describe("second order through a recorded VJP", () => {
  const cube = customVjp((x: Tensor) => x.mul(x).mul(x), (g, [x]) => [g.mul(x.mul(x).mul(3))]);
  it("grad(grad(f)) uses the VJP's own derivative: (x³)″ = 6x", () => {
    const d2 = grad((x) => grad((t) => cube(t).sum())(x).sum());
    expect(arr(d2(dg.tensor([1, -2], { dtype: "float64" })))).toEqual([6, -12]);
    expect(gradgradcheck(cube, [t64([0.5, -1.5, 2], [3])])).toBe(true);
  });
  it("a wrong VJP is used as written (the gradient is the user's rule, not the derivative of fn)", () => {
    const lying = customVjp((x: Tensor) => x.mul(x), (g) => [g.mul(7)]);
    const x = dg.tensor([3], { requiresGrad: true });
    lying(x).sum().backward();
    expect(x.grad!.itemSync()).toBe(7);
  });
});

describe("checks", () => {
  const x = () => dg.tensor([1, 2], { requiresGrad: true });
  const backwardOf = (vjp: (g: Tensor, xs: Tensor[]) => unknown) => {
    const t = x();
    const f = customVjp(function shapeCheck(a: Tensor) { return a.mul(2); }, vjp as never);
    expect(() => f(t).sum().backward()).toThrow(DeltagradError);
    expect(t.grad).toBe(null); // a failed backward leaves .grad as it was
    try {
      f(t).sum().backward();
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  it("the cotangent count must match the inputs", () => {
    expect(backwardOf(() => [])).toBe("customVjp(shapeCheck): vjp returned 0 cotangents for 1 input");
    expect(backwardOf((g) => [g, g])).toBe("customVjp(shapeCheck): vjp returned 2 cotangents for 1 input");
    expect(backwardOf(() => null)).toMatch(/^customVjp\(shapeCheck\): vjp must return an array of 1 cotangents/);
  });
  it("each cotangent must be a tensor shaped and typed like its input", () => {
    expect(backwardOf(() => [dg.ones([3])])).toBe("customVjp(shapeCheck): cotangent 0 is [3] float32, expected [2] float32 (the shape and dtype of input 0)");
    expect(backwardOf(() => [dg.ones([1])])).toMatch(/cotangent 0 is \[1\] float32, expected \[2\] float32/);
    expect(backwardOf(() => [dg.ones([2], { dtype: "float64" })])).toMatch(/cotangent 0 is \[2\] float64, expected \[2\] float32/);
    expect(backwardOf(() => [[1, 2]])).toMatch(/^customVjp\(shapeCheck\): cotangent 0 must be a Tensor or null/);
  });
  it("fn, vjp and the inputs are validated up front", () => {
    expect(() => customVjp(1 as never, () => [])).toThrow("customVjp: fn must be a function");
    expect(() => customVjp((a: Tensor) => a, "no" as never)).toThrow("customVjp: vjp must be a function");
    const f = customVjp(function f(a: Tensor) { return a; }, (g) => [g]);
    expect(() => f([1, 2] as never)).toThrow("customVjp(f): input 0 must be a Tensor");
    expect(() => customVjp(function g() { return 3 as never; }, () => [])()).toThrow("customVjp(g): fn must return a Tensor");
  });
});

describe("lifetimes", () => {
  it.skipIf(dg.getBackend().name !== "wasm")("fn's temporaries are freed; repeated calls do not grow wasm memory", () => {
    const x = dg.randn([4096], { requiresGrad: true }); // 16 KB: in wasm memory, not host storage
    const step = () => {
      const y = log1pexp(x);
      y.sum().backward();
      y.dispose();
      x.grad = null;
    };
    step();
    const before = dg.wasmMemoryStats().inUseBytes;
    for (let i = 0; i < 50; i++) step();
    expect(dg.wasmMemoryStats().inUseBytes).toBeLessThanOrEqual(before + 4096);
  });
  if (dg.getBackend().name !== "wasm") it("prints why the wasm memory test is skipped", () => console.log("skipped: wasm memory check needs DELTAGRAD_BACKEND=wasm"));
});
