import { describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { DeltagradError, Generator, gradcheck, manualSeed, ones, randn, reshape, tensor, zeros, type Tensor } from "@deltagrad/autograd";
import * as nn from "@deltagrad/nn";
import {
  Dropout, ELU, Flatten, GELU, HardLogistic, HardSigmoid, HardTanh, Identity, LeakyReLU, Linear, LogSoftmax, Logistic, MLP,
  Maxout, PReLU, ReLU, ReLU6, ScaledTanh, Sequential, SiLU, Sigmoid, Sign, Softmax, Softplus, Step, Swish, Tanh, dropout, getActivation,
} from "@deltagrad/nn";

const arr = (t: Tensor) => Array.from(t.dataSync());

/** Plain row-major matrix product of number arrays. */
function matmulRef(a: number[], [n, k]: number[], b: number[], m: number): number[] {
  const out = new Array<number>(n! * m).fill(0);
  for (let i = 0; i < n!; i++) for (let j = 0; j < m; j++) for (let p = 0; p < k!; p++) out[i * m + j]! += a[i * k! + p]! * b[p * m + j]!;
  return out;
}
function transposeRef(a: number[], [r, c]: number[]): number[] {
  return Array.from({ length: r! * c! }, (_, i) => a[(i % r!) * c! + Math.floor(i / r!)]!);
}
function expectClose(actual: number[], expected: number[], tol: number) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    if (!(Math.abs(a - expected[i]!) <= tol * Math.max(1, Math.abs(expected[i]!)))) throw new Error(`element ${i}: ${a} vs ${expected[i]}`);
  });
}

describe("Linear", () => {
  it("weight is [in, out], bias [out]; Z = X·W + b", () => {
    manualSeed(0);
    const fc = new Linear(3, 2, { dtype: "float64" });
    expect(fc.weight.shape).toEqual([3, 2]);
    expect(fc.bias!.shape).toEqual([2]);
    const x = randn([4, 3], { dtype: "float64" });
    const z = fc.call(x);
    const xw = matmulRef(arr(x), [4, 3], arr(fc.weight), 2);
    expectClose(arr(z), xw.map((v, i) => v + arr(fc.bias!)[i % 2]!), 1e-14);
  });

  test.prop([fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1e6 })], { numRuns: 10 })(
    "∂J/∂W = Xᵀ·δ and ∂J/∂b = Σ δ (the lecture's closed form)",
    (n, inF, outF, seed) => {
      manualSeed(seed);
      const layer = new Linear(inF, outF, { dtype: "float64" });
      const x = randn([n, inF], { dtype: "float64" });
      const delta = randn([n, outF], { dtype: "float64" }); // δ = ∂J/∂Z for J = Σ Z ⊙ δ
      layer.call(x).mul(delta).sum().backward();
      expectClose(arr(layer.weight.grad!), matmulRef(transposeRef(arr(x), [n, inF]), [inF, n], arr(delta), outF), 1e-12);
      const colSums = Array.from({ length: outF }, (_, j) => arr(delta).filter((_, i) => i % outF === j).reduce((a, b) => a + b, 0));
      expectClose(arr(layer.bias!.grad!), colSums, 1e-12);
    },
  );

  it("gradcheck with respect to input, weight and bias (float64), batched and unbatched inputs", () => {
    manualSeed(5);
    const layer = new Linear(3, 2, { dtype: "float64" });
    for (const shape of [[3], [4, 3], [2, 2, 3]]) {
      const x = randn(shape, { dtype: "float64", requiresGrad: true });
      gradcheck((xx, w, b) => xx.matmul(w).add(b), [x, layer.weight, layer.bias!]);
      expect(layer.call(x).shape).toEqual([...shape.slice(0, -1), 2]);
    }
  });

  it("bias: false has no bias parameter", () => {
    const layer = new Linear(3, 2, { bias: false });
    expect(layer.bias).toBe(null);
    expect(layer.namedParameters().map(([n]) => n)).toEqual(["weight"]);
    const x = ones([1, 3]);
    expectClose(arr(layer.call(x)), [0, 1].map((j) => [0, 1, 2].reduce((s, i) => s + arr(layer.weight)[i * 2 + j]!, 0)), 1e-6);
  });

  it("default init is PyTorch's: W and b uniform in ±1/√in, spread over the range", () => {
    manualSeed(0);
    const layer = new Linear(100, 50);
    const bound = 1 / Math.sqrt(100);
    const w = arr(layer.weight);
    expect(w.every((v) => Math.abs(v) <= bound)).toBe(true);
    // 5,000 uniform draws: the extremes come within 1% of the bound (P(miss) < 1e-20).
    expect(Math.max(...w)).toBeGreaterThan(0.99 * bound);
    expect(Math.min(...w)).toBeLessThan(-0.99 * bound);
    expect(arr(layer.bias!).every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(new Set(arr(layer.bias!)).size).toBe(50);
  });

  it("init by name; the seed makes it reproducible", () => {
    manualSeed(7);
    const a = new Linear(4, 3, { init: "glorotUniform", biasInit: "zeros" });
    manualSeed(7);
    const b = new Linear(4, 3, { init: "glorot_uniform", biasInit: "zeros" });
    expect(arr(a.weight)).toEqual(arr(b.weight));
    expect(arr(a.bias!)).toEqual([0, 0, 0]);
    const limit = Math.sqrt(6 / 7);
    expect(arr(a.weight).every((v) => Math.abs(v) <= limit)).toBe(true);
    const g1 = new Linear(4, 3, { generator: new Generator(9) });
    const g2 = new Linear(4, 3, { generator: new Generator(9) });
    expect(arr(g1.weight)).toEqual(arr(g2.weight));
  });

  it("errors name the layer and the shapes", () => {
    const layer = new Linear(4, 8);
    expect(() => layer.call(zeros([2, 5]))).toThrow(DeltagradError);
    expect(() => layer.call(zeros([2, 5]))).toThrow("Linear(4 → 8): input of shape [2,5] has 5 features on its last axis, expected 4");
    expect(() => layer.call(zeros([]))).toThrow("Linear(4 → 8): input of shape [] has no axes, expected 4");
    expect(() => new Linear(0, 3)).toThrow("Linear: inFeatures must be a positive integer, got 0");
    expect(() => new Linear(2, 3, { dtype: "int32" as "float32" })).toThrow('Linear: dtype must be "float32" or "float64", got "int32"');
    expect(() => new Linear(2, 3, { init: "glorotish" })).toThrow(/init.getInitializer: unknown initializer "glorotish"/);
  });
});

describe("Sequential and MLP", () => {
  it("Sequential composes in order and names children 0, 1, …", () => {
    manualSeed(1);
    const a = new Linear(3, 4);
    const b = new Linear(4, 2);
    const seq = new Sequential(a, new ReLU(), b);
    expect(seq.length).toBe(3);
    expect(seq.at(-1)).toBe(b);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(["0.weight", "0.bias", "2.weight", "2.bias"]);
    const x = randn([5, 3]);
    expect(arr(seq.call(x))).toEqual(arr(b.call(a.call(x).relu())));
    expect(seq.append(new Sigmoid())).toBe(seq);
    expect(seq.length).toBe(4);
    expect(() => new Sequential(new ReLU(), 3 as unknown as nn.Module)).toThrow("Sequential: element 1 is not a Module (got number)");
  });

  it("MLP builds Linear / activation / dropout / output activation layers", () => {
    const m = new MLP([4, 5, 6, 2], { activation: "tanh", dropout: 0.2, outputActivation: "softmax" });
    expect(m.layers.children().map((c) => c.constructor.name)).toEqual(["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear", "Softmax"]);
    expect(m.sizes).toEqual([4, 5, 6, 2]);
    m.eval();
    const y = m.call(randn([3, 4]));
    expect(y.shape).toEqual([3, 2]);
    const rows = arr(y);
    expect(rows[0]! + rows[1]!).toBeCloseTo(1, 6);
  });

  it("MLP activation by module (shared), by factory (one per layer) and float64", () => {
    const shared = new PReLU();
    const m1 = new MLP([2, 3, 3, 1], { activation: shared });
    expect(m1.layers.at(1)).toBe(shared);
    expect(m1.numParameters()).toBe(9 + 12 + 4 + 1);
    const m2 = new MLP([2, 3, 3, 1], { activation: () => new PReLU() });
    expect(m2.numParameters()).toBe(9 + 12 + 4 + 2);
    const m3 = new MLP([2, 3, 1], { dtype: "float64" });
    expect(m3.parameters().every((p) => p.dtype === "float64")).toBe(true);
    gradcheck((x) => m3.call(x), [randn([2, 2], { dtype: "float64", requiresGrad: true })]);
  });

  it("MLP validates its arguments", () => {
    expect(() => new MLP([3])).toThrow("MLP: sizes must list at least an input and an output size, got [3]");
    expect(() => new MLP([3, 0])).toThrow("MLP: sizes[1] must be a positive integer, got 0");
    expect(() => new MLP([3, 2], { dropout: 1 })).toThrow("MLP: p must be a number in [0, 1), got 1");
    expect(() => new MLP([3, 2, 1], { activation: "sigmoidish" as "relu" })).toThrow(/getActivation: unknown activation "sigmoidish"/);
  });
});

describe("Flatten and Identity", () => {
  it("Flatten keeps the batch axis by default", () => {
    expect(new Flatten().call(zeros([8, 1, 28, 28])).shape).toEqual([8, 784]);
    expect(new Flatten({ startAxis: 0 }).call(zeros([2, 3, 4])).shape).toEqual([24]);
    expect(new Flatten({ startAxis: 1, endAxis: 2 }).call(zeros([2, 3, 4, 5])).shape).toEqual([2, 12, 5]);
  });

  it("Identity returns its input", () => {
    const x = randn([3]);
    expect(new Identity().call(x)).toBe(x);
  });
});

describe("Dropout", () => {
  it("drops about p of the elements and scales the rest by 1/(1 − p)", () => {
    manualSeed(123);
    const p = 0.3;
    const n = 100_000;
    const y = arr(new Dropout(p).call(ones([n])));
    const zeros_ = y.filter((v) => v === 0).length;
    // Binomial(n, p): σ = √(n·p·(1−p)) ≈ 145; allow 5σ.
    expect(Math.abs(zeros_ - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    const kept = y.filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / (1 - p))]));
  });

  it("is deterministic under manualSeed and with its own generator", () => {
    manualSeed(5);
    const a = arr(new Dropout(0.5).call(ones([64])));
    manualSeed(5);
    const b = arr(new Dropout(0.5).call(ones([64])));
    expect(a).toEqual(b);
    expect(new Set(a)).toEqual(new Set([0, 2]));
    const d1 = new Dropout(0.5, { generator: new Generator(42) });
    const d2 = new Dropout(0.5, { generator: new Generator(42) });
    manualSeed(1);
    const c = arr(d1.call(ones([64])));
    manualSeed(2);
    expect(arr(d2.call(ones([64])))).toEqual(c); // the default generator's state does not matter
    expect(arr(d1.call(ones([64])))).not.toEqual(c); // the stream moves on
  });

  it("is the identity in eval mode and for p = 0", () => {
    const x = randn([10]);
    const d = new Dropout(0.9);
    d.eval();
    expect(d.call(x)).toBe(x);
    expect(new Dropout(0).call(x)).toBe(x);
    expect(dropout(x, { p: 0.5, training: false })).toBe(x);
  });

  it("its gradient is the mask scaled by 1/(1 − p)", () => {
    manualSeed(9);
    const x = tensor(new Float64Array(200).fill(3), { requiresGrad: true });
    const y = dropout(x, { p: 0.25 });
    y.sum().backward();
    arr(x.grad!).forEach((g, i) => expect(g).toBe(arr(y)[i]! / 3));
  });

  it("validates p in [0, 1)", () => {
    for (const p of [-0.1, 1, 1.5, NaN]) expect(() => new Dropout(p)).toThrow(`Dropout: p must be a number in [0, 1), got ${p}`);
    expect(() => dropout(ones([2]), { p: 2 })).toThrow("dropout: p must be a number in [0, 1), got 2");
  });
});

describe("activation modules", () => {
  const x = reshape(tensor([-3, -1.5, -0.2, 0.3, 1.2, 2.5, 4, 7], { dtype: "float64" }), [2, 4]);
  const pairs: [nn.Module, (t: Tensor) => Tensor][] = [
    [new ReLU(), nn.relu], [new ReLU6(), nn.relu6], [new Sigmoid(), nn.sigmoid], [new Tanh(), nn.tanh],
    [new Logistic({ slope: 2 }), (t) => nn.logistic(t, { slope: 2 })], [new ScaledTanh({ a: 2, b: 0.5 }), (t) => nn.scaledTanh(t, { a: 2, b: 0.5 })],
    [new LeakyReLU({ slope: 0.2 }), (t) => nn.leakyRelu(t, { slope: 0.2 })], [new ELU({ alpha: 0.5 }), (t) => nn.elu(t, { alpha: 0.5 })],
    [new Softplus({ beta: 2 }), (t) => nn.softplus(t, { beta: 2 })], [new GELU({ approximate: "tanh" }), (t) => nn.gelu(t, { approximate: "tanh" })],
    [new SiLU(), nn.silu], [new HardTanh({ min: -2, max: 2 }), (t) => nn.hardTanh(t, { min: -2, max: 2 })], [new HardSigmoid(), nn.hardSigmoid],
    [new HardLogistic(), nn.hardLogistic], [new Softmax({ axis: 0 }), (t) => nn.softmax(t, { axis: 0 })], [new LogSoftmax(), (t) => nn.logSoftmax(t)],
    [new Step(), nn.step], [new Sign(), nn.sign], [new Swish({ learnable: false, beta: 2 }), (t) => nn.swish(t, { beta: 2 })],
  ];
  it.each(pairs.map(([m, f]) => [m.constructor.name, m, f] as const))("%s wraps its function", (_n, m, f) => {
    expect(arr(m.call(x))).toEqual(arr(f(x)));
    expect(m.numParameters()).toBe(0);
  });

  it("PReLU learns one slope per channel on axis 1", () => {
    const p = new PReLU(4, { dtype: "float64" });
    expect(arr(p.weight)).toEqual([0.25, 0.25, 0.25, 0.25]);
    p.call(x).sum().backward();
    expect(arr(p.weight.grad!)).toEqual([-3, -1.5, -0.2, 0]); // Σ over the batch of x where x ≤ 0
    gradcheck((t, w) => nn.prelu(t, w), [x.detach().requiresGrad_(), p.weight]);
  });

  it("Swish learns β", () => {
    const s = new Swish({ beta: 1.5, dtype: "float64" });
    expect(s.namedParameters().map(([n, t]) => `${n} [${t.shape}]`)).toEqual(["beta [1]"]);
    s.call(x).sum().backward();
    expect((s.beta as Tensor).grad).not.toBe(null);
    gradcheck((t, b) => nn.swish(t, { beta: b }), [x.detach().requiresGrad_(), s.beta as Tensor]);
  });

  it("Maxout = Linear to out·pieces, then the max of each unit's pieces", () => {
    manualSeed(2);
    const m = new Maxout(4, 3, 2, { dtype: "float64" });
    expect(m.linear.weight.shape).toEqual([4, 6]);
    const input = randn([5, 4], { dtype: "float64" });
    const y = m.call(input);
    expect(y.shape).toEqual([5, 3]);
    const z = arr(m.linear.call(input));
    expect(arr(y)).toEqual(Array.from({ length: 15 }, (_, i) => Math.max(z[2 * i]!, z[2 * i + 1]!)));
    expect(m.numParameters()).toBe(4 * 6 + 6);
  });

  it("getActivation resolves names (Keras spellings too), factories and modules", () => {
    expect(getActivation("leaky_relu")).toBeInstanceOf(LeakyReLU);
    expect(getActivation("LogSoftmax")).toBeInstanceOf(LogSoftmax);
    expect(getActivation("hard-sigmoid")).toBeInstanceOf(HardSigmoid);
    expect(getActivation("linear")).toBeInstanceOf(Identity);
    const r = new ReLU();
    expect(getActivation(r)).toBe(r);
    expect(getActivation(() => new Tanh())).toBeInstanceOf(Tanh);
    expect(getActivation("relu")).not.toBe(getActivation("relu"));
  });
});
