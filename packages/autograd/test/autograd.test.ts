import { describe, expect, test } from "vitest";
import * as dg from "@deltagrad/autograd";
import { grad, hvp, noGrad, tensor, toDot, valueAndGrad, vjp, type Tensor } from "@deltagrad/autograd";

describe("lecture 004: automatic differentiation of the sigmoid, h1…h6", () => {
  // f(x; w, b) = 1 / (exp(−(w·x + b)) + 1) at x = 1, w = 0, b = 0
  const build = () => {
    const x = tensor(1, { name: "x" });
    const w = tensor(0, { requiresGrad: true, name: "w" });
    const b = tensor(0, { requiresGrad: true, name: "b" });
    const h1 = w.mul(x);
    const h2 = h1.add(b);
    const h3 = h2.neg();
    const h4 = h3.exp();
    const h5 = h4.add(1);
    const h6 = h5.reciprocal();
    return { x, w, b, f: h6, hs: [h1, h2, h3, h4, h5, h6] };
  };

  test("f = 0.5, ∂f/∂w = 0.25, ∂f/∂b = 0.25, and the intermediate values", () => {
    const { w, b, f, hs } = build();
    expect(hs.map((h) => h.itemSync())).toEqual([0, 0, -0, 1, 2, 0.5]);
    f.backward();
    expect(f.itemSync()).toBe(0.5);
    expect(w.grad!.itemSync()).toBe(0.25);
    expect(b.grad!.itemSync()).toBe(0.25);
  });

  test("the chain rule step by step: ∂f/∂h5 = −1/h5², ∂h5/∂h4 = 1, ∂h4/∂h3 = e^h3, ∂h3/∂h2 = −1, ∂h2/∂w = x", () => {
    const { f, hs } = build();
    hs.forEach((h) => h.retainGrad());
    f.backward();
    const g = hs.map((h) => h.grad!.itemSync());
    expect(g[4]).toBe(-0.25); // −1/2²
    expect(g[3]).toBe(-0.25);
    expect(g[2]).toBe(-0.25); // × e^0
    expect(g[1]).toBe(0.25); // × −1
    expect(g[0]).toBe(0.25);
  });

  test("sigmoid() computes the same function and gradient", () => {
    const w = tensor(0, { requiresGrad: true });
    dg.sigmoid(w.mul(1)).backward();
    expect(w.grad!.itemSync()).toBe(0.25);
  });

  test("toDot shows six ops h1…h6 with values and gradients", () => {
    const { f } = build();
    f.backward();
    const dot = toDot(f);
    expect(dot.match(/h\d = /g)).toEqual(["h1 = ", "h2 = ", "h3 = ", "h4 = ", "h5 = ", "h6 = "]);
    expect(dot).toMatchInlineSnapshot(`
      "digraph deltagrad {
        rankdir=TB;
        node [fontname="Helvetica", fontsize=11];
        n0 [shape=box, label="w\\n[] float32\\nvalue 0.0000\\ngrad 0.2500"];
        n1 [shape=box, label="x\\n[] float32\\nvalue 1.0000"];
        n2 [shape=ellipse, label="h1 = mul\\n[] float32\\nvalue 0.0000"];
        n3 [shape=box, label="b\\n[] float32\\nvalue 0.0000\\ngrad 0.2500"];
        n4 [shape=ellipse, label="h2 = add\\n[] float32\\nvalue 0.0000"];
        n5 [shape=ellipse, label="h3 = neg\\n[] float32\\nvalue 0.0000"];
        n6 [shape=ellipse, label="h4 = exp\\n[] float32\\nvalue 1.0000"];
        n7 [shape=box, label="1\\n[] float32\\nvalue 1.0000"];
        n8 [shape=ellipse, label="h5 = add\\n[] float32\\nvalue 2.0000"];
        n9 [shape=ellipse, label="h6 = reciprocal\\n[] float32\\nvalue 0.5000"];
        n0 -> n2;
        n1 -> n2;
        n2 -> n4;
        n3 -> n4;
        n4 -> n5;
        n5 -> n6;
        n6 -> n8;
        n7 -> n8;
        n8 -> n9;
      }"
    `);
  });
});

describe("the reverse sweep", () => {
  test("a chain of 100,000 ops backpropagates without overflowing the stack", () => {
    const x = tensor(1, { dtype: "float64", requiresGrad: true });
    let y: Tensor = x;
    for (let i = 0; i < 100_000; i++) y = y.add(1e-5);
    y.backward();
    expect(x.grad!.itemSync()).toBe(1);
    expect(y.itemSync()).toBeCloseTo(2, 9);
  });

  test("gradients accumulate over two backward calls, and zeroing by hand works", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.mul(3).sum().backward();
    x.mul(x).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([3 + 2, 3 + 4]);
    x.grad = null;
    x.sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([1, 1]);
  });

  test("a tensor used twice gets the sum of both paths (diamond graph)", () => {
    const x = tensor(3, { requiresGrad: true });
    const a = x.mul(2);
    const y = a.mul(a).add(a); // 4x² + 2x
    y.backward();
    expect(x.grad!.itemSync()).toBe(8 * 3 + 2);
  });

  test("noGrad records nothing", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => x.mul(2).exp());
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(dg.isGradEnabled()).toBe(true);
    expect(() => y.sum().backward()).toThrow(/backward: this tensor does not require gradients/);
  });

  test("noGrad restores the mode after an exception", () => {
    expect(() => noGrad(() => { throw new Error("boom"); })).toThrow("boom");
    expect(dg.isGradEnabled()).toBe(true);
  });

  test("a second backward through a freed graph is a clear error unless retainGraph", () => {
    const x = tensor(2, { requiresGrad: true });
    const y = x.mul(x);
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(x.grad!.itemSync()).toBe(8);
    expect(() => y.backward()).toThrow(/already freed.*retainGraph: true/);
  });

  test("non-scalar outputs need a cotangent of the same shape", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(2);
    expect(() => y.backward()).toThrow("backward: output of shape [3] is not a scalar; pass a gradient of the same shape");
    expect(() => y.backward(dg.ones([2]))).toThrow("backward: gradOutput shape [2] does not match output shape [3]");
    y.backward(tensor([1, 0, 2]));
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 0, 4]);
  });

  test("retainGrad keeps a non-leaf's gradient; leaves are leaves", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const h = x.mul(3).retainGrad();
    h.square().sum().backward();
    expect(Array.from(h.grad!.dataSync())).toEqual([6, 12]);
    expect(x.isLeaf).toBe(true);
    expect(h.isLeaf).toBe(false);
    expect(h.gradFn).toBe("mul");
  });

  test("detach cuts the graph", () => {
    const x = tensor(2, { requiresGrad: true });
    const y = x.mul(x.detach());
    y.backward();
    expect(x.grad!.itemSync()).toBe(2);
  });

  test("requiresGrad only on float leaves", () => {
    expect(() => tensor([1], { dtype: "int32", requiresGrad: true })).toThrow("tensor: only float tensors can require gradients, got dtype int32");
    const y = tensor(1, { requiresGrad: true }).mul(2);
    expect(() => (y.requiresGrad = false)).toThrow(/only be set on leaf tensors/);
  });

  test("integer paths carry no gradient; float paths through them are unaffected", () => {
    const x = tensor([1.5, 2.5], { requiresGrad: true });
    const i = dg.cast(x, "int32");
    expect(i.requiresGrad).toBe(false);
    x.mul(dg.cast(i, "float32")).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([1, 2]);
  });

  test("createGraph: the gradient is itself differentiable", () => {
    const x = tensor(3, { requiresGrad: true });
    x.pow(3).backward(undefined, { createGraph: true });
    const g = x.grad!;
    expect(g.itemSync()).toBe(27);
    x.grad = null;
    g.backward();
    expect(x.grad!.itemSync()).toBe(18);
  });

  test("unbroadcast sums gradients back to each input's shape", () => {
    const a = tensor([[1], [2]], { requiresGrad: true }); // [2,1]
    const b = tensor([10, 20, 30], { requiresGrad: true }); // [3]
    a.add(b).sum().backward();
    expect(a.grad!.arraySync()).toEqual([[3], [3]]);
    expect(b.grad!.arraySync()).toEqual([2, 2, 2]);
  });
});

describe("function transforms", () => {
  test("grad of x³ and its second derivative", () => {
    const f = (x: Tensor) => x.pow(3).sum();
    expect(grad(f)(tensor(2)).itemSync()).toBe(12);
    expect(grad(grad(f))(tensor(2)).itemSync()).toBe(12);
    expect(grad(grad(grad(f)))(tensor(2)).itemSync()).toBe(6);
  });

  test("grad with argnums returns an array; argnums: 0 returns a tensor", () => {
    const f = (a: Tensor, b: Tensor, c: Tensor) => a.mul(b).mul(c).sum();
    const [ga, gc] = grad(f, { argnums: [0, 2] })(tensor(2), tensor(3), tensor(5)) as unknown as Tensor[];
    expect(ga!.itemSync()).toBe(15);
    expect(gc!.itemSync()).toBe(6);
    expect(grad(f, { argnums: 1 })(tensor(2), tensor(3), tensor(5)).itemSync()).toBe(10);
  });

  test("grad does not touch the caller's .grad", () => {
    const x = tensor(2, { requiresGrad: true });
    grad((t) => t.square())(x);
    expect(x.grad).toBeNull();
  });

  test("valueAndGrad", () => {
    const [v, g] = valueAndGrad((x) => x.square().sum())(tensor([1, 2]));
    expect(v.itemSync()).toBe(5);
    expect(Array.from((g as Tensor).dataSync())).toEqual([2, 4]);
  });

  test("vjp returns the output and a reusable pullback", () => {
    const [y, back] = vjp((a, b) => a.mul(b), tensor([1, 2]), tensor([3, 4]));
    expect(Array.from(y.dataSync())).toEqual([3, 8]);
    const [ga, gb] = back(tensor([1, 1]));
    expect(Array.from(ga!.dataSync())).toEqual([3, 4]);
    expect(Array.from(gb!.dataSync())).toEqual([1, 2]);
    expect(Array.from(back(tensor([2, 0]))[0]!.dataSync())).toEqual([6, 0]);
  });

  test("hvp equals the Hessian times v", () => {
    // f = Σ x₀²x₁ + x₁³: H = [[2x₁, 2x₀], [2x₀, 6x₁]]
    const f = (x: Tensor) => dg.slice(x, [0], [1]).square().mul(dg.slice(x, [1], [1])).add(dg.slice(x, [1], [1]).pow(3)).sum();
    const x = tensor([1, 2], { dtype: "float64" });
    const r = hvp(f, x, tensor([1, -1], { dtype: "float64" }));
    expect(Array.from(r.dataSync())).toEqual([2 * 2 * 1 + 2 * 1 * -1, 2 * 1 * 1 + 6 * 2 * -1]);
  });

  test("grad demands a scalar output and tensor arguments", () => {
    expect(() => grad((x: Tensor) => x.mul(2))(tensor([1, 2]))).toThrow(/grad: the function must return a scalar, got shape \[2\]/);
    expect(() => grad((x: Tensor) => x)(3 as unknown as Tensor)).toThrow(/grad: argument 0 must be a Tensor/);
    expect(() => grad((x: Tensor) => x.sum())(tensor([1], { dtype: "int32" }))).toThrow(/must be float32 or float64/);
  });
});

describe("anomaly mode", () => {
  test("names the op whose forward output is NaN and where it was recorded", () => {
    const x = tensor([-1, 1], { requiresGrad: true });
    expect(() => dg.detectAnomaly(() => dg.log(x))).toThrow(/log: forward output produced NaN at flat index 0 \(shape \[2\]\)[\s\S]*recorded at/);
  });
  test("names the op whose backward gradient is not finite", () => {
    const x = tensor([0, 1], { requiresGrad: true });
    expect(() => dg.detectAnomaly(() => x.sqrt().sum().backward())).toThrow(/sqrt: backward gradient for input 0 produced Infinity/);
  });
  test("is off by default and restored after", () => {
    expect(() => dg.log(tensor([-1]))).not.toThrow();
  });
});
