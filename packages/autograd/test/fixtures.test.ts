/**
 * PyTorch reference values (float64, ../shared/fixtures copied into test/fixtures): every case
 * within 1e-6 relative or absolute, forward and VJP.
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import * as dg from "@deltagrad/autograd";
import { grad, gradients, hvp, type Tensor } from "@deltagrad/autograd";

const load = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));
const ops = load("ops.json");
const higher = load("higher_order.json");

type Nested = number | Nested[];
const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);
const flat = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);
const t64 = (v: Nested, requiresGrad = true) => dg.tensor(Float64Array.from(flat(v)), { dtype: "float64" }).reshape(shapeOf(v)).detach().requiresGrad_(requiresGrad);

function close(actual: Tensor, expected: Nested, what: string): void {
  expect(actual.shape, `${what} shape`).toEqual(shapeOf(expected));
  const a = actual.dataSync();
  flat(expected).forEach((e, i) => {
    const err = Math.abs(a[i]! - e);
    if (!(err <= 1e-6 || err <= 1e-6 * Math.abs(e))) throw new Error(`${what}[${i}] = ${a[i]}, PyTorch ${e}`);
  });
}

/**
 * Ops of ops.json that are not autograd-core functions. Each is an nn activation, tested against
 * this same fixture in packages/nn/test/activations.test.ts.
 */
const IN_NN: Record<string, string> = {
  leaky_relu: "nn activation leakyRelu",
  elu: "nn activation elu",
  silu: "nn activation silu (swish with beta 1)",
  gelu: "nn activation gelu (both approximations)",
  hardtanh: "nn activation hardTanh",
  hardsigmoid_torch: "nn activation hardSigmoid",
  hard_logistic: "nn activation hardLogistic",
  prelu: "nn activation prelu (learnable weight)",
};

const axisOf = (attrs: { dim?: number | null }) => (attrs.dim === null || attrs.dim === undefined ? undefined : attrs.dim);

const UNARY: Record<string, (x: Tensor, attrs: Record<string, any>) => Tensor> = {
  sigmoid: (x) => dg.sigmoid(x),
  tanh: (x) => dg.tanh(x),
  relu: (x) => dg.relu(x),
  // torch.nn.functional.softplus(beta=1, threshold=20) is linear above 20; inputs here are in ±3, where it equals the exact function.
  softplus: (x) => dg.softplus(x),
  softmax: (x, a) => dg.softmax(x, { axis: a.dim }),
  log_softmax: (x, a) => dg.logSoftmax(x, { axis: a.dim }),
  logsumexp: (x, a) => dg.logSumExp(x, { axis: a.dim, keepDims: a.keepdim }),
  exp: (x) => dg.exp(x),
  log: (x) => dg.log(x),
  sqrt: (x) => dg.sqrt(x),
  reciprocal: (x) => dg.reciprocal(x),
  neg: (x) => dg.neg(x),
  pow: (x, a) => dg.pow(x, a.exponent),
  sum: (x, a) => dg.sum(x, { axis: axisOf(a), keepDims: a.keepdim }),
  mean: (x, a) => dg.mean(x, { axis: axisOf(a), keepDims: a.keepdim }),
  max: (x, a) => dg.max(x, { axis: axisOf(a), keepDims: a.keepdim }),
  var: (x, a) => dg.variance(x, { axis: axisOf(a), keepDims: a.keepdim, correction: a.unbiased ? 1 : 0 }),
  clamp: (x, a) => dg.clamp(x, { min: a.min, max: a.max }),
  cumsum: (x, a) => dg.cumsum(x, { axis: a.dim }),
};

const BINARY: Record<string, (a: Tensor, b: Tensor) => Tensor> = {
  pow: dg.pow,
  matmul: dg.matmul,
  add: dg.add,
  sub: dg.sub,
  mul: dg.mul,
  div: dg.div,
  maximum: dg.maximum,
};

describe("ops.json (PyTorch 1.13, float64)", () => {
  const cases = ops.cases as any[];
  test("every case is either checked here or listed with its reason", () => {
    for (const c of cases) expect(c.op in IN_NN || c.op in UNARY || c.op in BINARY || c.op === "where", c.op).toBe(true);
  });
  test.each(cases.filter((c) => !(c.op in IN_NN)).map((c) => [c.name, c]))("%s", (_name, c) => {
    if ("x" in c) {
      const x = t64(c.x);
      const y = UNARY[c.op]!(x, c.attrs);
      close(y, c.y, "y");
      y.backward(t64(c.cotangent, false));
      close(x.grad!, c.vjp, "vjp");
      return;
    }
    const a = t64(c.a);
    const b = t64(c.b);
    const y = c.op === "where" ? dg.where(dg.tensor(c.cond, { dtype: "bool" }), a, b) : BINARY[c.op]!(a, b);
    close(y, c.y, "y");
    y.backward(t64(c.cotangent, false));
    close(a.grad!, c.vjp_a, "vjp_a");
    close(b.grad!, c.vjp_b, "vjp_b");
  });
});

describe("higher_order.json", () => {
  const FNS: Record<string, (x: Tensor) => Tensor> = { sigmoid: dg.sigmoid, tanh: dg.tanh, softplus: dg.softplus };
  test.each((higher.cases as any[]).filter((c) => c.kind === "second_derivative").map((c) => [c.name, c]))("%s: first, second and third derivatives", (_n, c) => {
    const f = FNS[c.fn]!;
    // Elementwise f, so the derivative of sum(f) is f′ elementwise; nesting grad gives f″ and f‴.
    const d1 = grad((x) => f(x).sum());
    const d2 = grad((x) => d1(x).sum());
    const d3 = grad((x) => d2(x).sum());
    const x = t64(c.x, false);
    close(f(x), c.y, "y");
    close(d1(x), c.d1, "d1");
    close(d2(x), c.d2, "d2");
    close(d3(x), c.d3, "d3");
  });

  test("hvp of f(x) = Σ tanh(Wx)², and the full Hessian column by column", () => {
    const c = (higher.cases as any[]).find((k) => k.kind === "hvp");
    const W = t64(c.W, false);
    const f = (x: Tensor) => dg.matmul(W, x).tanh().square().sum();
    const x = t64(c.x, false);
    expect(Math.abs(f(x).itemSync() - c.value)).toBeLessThan(1e-12);
    close(grad(f)(x), c.grad, "grad");
    close(hvp(f, x, t64(c.v, false)), c.hvp, "hvp");
    const cols = [0, 1, 2, 3].map((j) => hvp(f, x, dg.oneHot(dg.tensor([j], { dtype: "int32" }), 4, { dtype: "float64" }).reshape([4])));
    close(dg.stack(cols, 1), c.hessian, "hessian");
  });

  test("gradient of the squared gradient norm of an MLP loss (double backward)", () => {
    const c = (higher.cases as any[]).find((k) => k.kind === "grad_of_grad_norm_sq");
    const X = t64(c.X, false);
    const Y = t64(c.Y, false);
    const names = ["W1", "b1", "W2", "b2"] as const;
    const p = Object.fromEntries(names.map((n) => [n, t64(c.params[n])])) as Record<(typeof names)[number], Tensor>;
    const loss = X.matmul(p.W1).add(p.b1).sigmoid().matmul(p.W2).add(p.b2).sub(Y).square().mean();
    expect(Math.abs(loss.itemSync() - c.loss)).toBeLessThan(1e-12);
    const gs = gradients(loss, names.map((n) => p[n]), undefined, { createGraph: true });
    names.forEach((n, i) => close(gs[i]!, c.grads[n], `grad ${n}`));
    const R = gs.map((g) => g.square().sum()).reduce((a, b) => a.add(b));
    expect(Math.abs(R.itemSync() - c.grad_norm_sq)).toBeLessThan(1e-9);
    R.backward();
    names.forEach((n) => close(p[n].grad!, c.grad_of_grad_norm_sq[n], `dR/d${n}`));
  });
});
