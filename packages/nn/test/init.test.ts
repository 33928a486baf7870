import { describe, expect, it } from "vitest";
import { DeltagradError, Generator, manualSeed, tensor, zeros, type Tensor } from "@deltagrad/autograd";
import { init } from "@deltagrad/nn";

const arr = (t: Tensor) => Array.from(t.dataSync());
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const variance = (v: number[]) => {
  const m = mean(v);
  return v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
};

// Statistical checks use fixed seeds and 5-standard-error bounds, so they pass for a correct
// distribution and fail for a wrong scale (a factor √2 or √3 is dozens of standard errors away).
// For n draws: se(mean) = σ/√n; se(variance) = σ²·√((κ − 1)/n) with kurtosis κ = 9/5 (uniform), 3 (normal).
function expectUniform(v: number[], a: number) {
  const n = v.length;
  expect(v.every((x) => x >= -a && x < a)).toBe(true);
  expect(Math.abs(mean(v))).toBeLessThan((5 * a) / Math.sqrt(3 * n));
  expect(Math.abs(variance(v) / (a * a / 3) - 1)).toBeLessThan(5 * Math.sqrt(0.8 / n));
}
function expectNormal(v: number[], std: number, mu = 0) {
  const n = v.length;
  expect(Math.abs(mean(v) - mu)).toBeLessThan((5 * std) / Math.sqrt(n));
  expect(Math.abs(variance(v) / (std * std) - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
}

describe("computeFans", () => {
  it("[in, out] for linear weights, [K, C, F, F] for conv filters", () => {
    expect(init.computeFans([784, 10])).toEqual({ fanIn: 784, fanOut: 10 });
    expect(init.computeFans([6, 3, 5, 5])).toEqual({ fanIn: 75, fanOut: 150 });
    expect(() => init.computeFans([5])).toThrow("init.computeFans: fan-in and fan-out need a weight of rank ≥ 2, got shape [5]");
  });
});

describe("distributions", () => {
  it("uniform in [low, high)", () => {
    manualSeed(1);
    const t = init.uniform(zeros([200, 100]), { low: 1, high: 3 });
    expectUniform(arr(t).map((v) => v - 2), 1);
  });

  it("normal(mean, std)", () => {
    manualSeed(2);
    expectNormal(arr(init.normal(zeros([200, 100], { dtype: "float64" }), { mean: 0.5, std: 2 })), 2, 0.5);
  });

  it("xavierUniform: U(±√(6/(fanIn+fanOut))), gain scales it", () => {
    manualSeed(3);
    expectUniform(arr(init.xavierUniform(zeros([300, 100]))), Math.sqrt(6 / 400));
    expectUniform(arr(init.xavierUniform(zeros([300, 100]), { gain: 2 })), 2 * Math.sqrt(6 / 400));
  });

  it("xavierNormal: std √(2/(fanIn+fanOut))", () => {
    manualSeed(4);
    expectNormal(arr(init.xavierNormal(zeros([300, 100]))), Math.sqrt(2 / 400));
  });

  it("heUniform: U(±√(6/fanIn)); fanOut mode", () => {
    manualSeed(5);
    expectUniform(arr(init.heUniform(zeros([300, 100]))), Math.sqrt(6 / 300));
    expectUniform(arr(init.heUniform(zeros([300, 100]), { mode: "fanOut" })), Math.sqrt(6 / 100));
  });

  it("heNormal on a conv filter [K, C, F, F]: std √(2/(C·F·F))", () => {
    manualSeed(6);
    expectNormal(arr(init.heNormal(zeros([64, 8, 5, 5]))), Math.sqrt(2 / 200));
  });

  it("lecunUniform / lecunNormal: variance 1/fanIn", () => {
    manualSeed(7);
    expectUniform(arr(init.lecunUniform(zeros([200, 100]))), Math.sqrt(3 / 200));
    expectNormal(arr(init.lecunNormal(zeros([200, 100]))), Math.sqrt(1 / 200));
  });

  it("constant, zeros, ones", () => {
    expect(arr(init.constant(zeros([3]), 0.25))).toEqual([0.25, 0.25, 0.25]);
    expect(arr(init.ones(zeros([2])))).toEqual([1, 1]);
    expect(arr(init.zeros(tensor([4, 5])))).toEqual([0, 0]);
  });
});

describe("in place, seeded, validated", () => {
  it("fills in place: same tensor, still a leaf, requiresGrad kept, dtype kept", () => {
    const w = zeros([4, 3], { requiresGrad: true, dtype: "float64" });
    const out = init.heNormal(w);
    expect(out).toBe(w);
    expect(w.isLeaf).toBe(true);
    expect(w.requiresGrad).toBe(true);
    expect(w.dtype).toBe("float64");
    expect(arr(w).some((v) => v !== 0)).toBe(true);
  });

  it("manualSeed makes every initializer reproducible; a generator option is independent of it", () => {
    for (const f of [init.uniform, init.normal, init.xavierUniform, init.xavierNormal, init.heUniform, init.heNormal]) {
      manualSeed(11);
      const a = arr(f(zeros([5, 4])));
      manualSeed(11);
      expect(arr(f(zeros([5, 4])))).toEqual(a);
      manualSeed(12);
      expect(arr(f(zeros([5, 4])))).not.toEqual(a);
      manualSeed(1);
      const g = arr(f(zeros([5, 4]), { generator: new Generator(3) }));
      manualSeed(2);
      expect(arr(f(zeros([5, 4]), { generator: new Generator(3) }))).toEqual(g);
    }
  });

  it.each([
    ["int tensor", () => init.uniform(zeros([2], { dtype: "int32" })), "init.uniform: can only fill float tensors, got int32"],
    ["low ≥ high", () => init.uniform(zeros([2]), { low: 1, high: 1 }), "init.uniform: need low < high, got low 1, high 1"],
    ["negative std", () => init.normal(zeros([2]), { std: -1 }), "init.normal: std must be ≥ 0, got -1"],
    ["rank-1 xavier", () => init.xavierUniform(zeros([3])), "init.computeFans: fan-in and fan-out need a weight of rank ≥ 2, got shape [3]"],
    ["bad mode", () => init.heNormal(zeros([3, 3]), { mode: "avg" as "fanIn" }), 'init.heNormal: mode must be "fanIn" or "fanOut", got "avg"'],
    ["non-leaf", () => init.zeros(tensor([1], { requiresGrad: true }).mul(2)), "init.zeros: can only fill leaf tensors (this one was produced by mul)"],
    ["NaN constant", () => init.constant(zeros([1]), NaN), "init.constant: value must be a finite number, got NaN"],
  ])("rejects %s", (_n, f, message) => {
    expect(f).toThrow(DeltagradError);
    expect(f).toThrow(message);
  });
});

describe("getInitializer", () => {
  it("resolves Keras-style names, ignoring case and underscores", () => {
    for (const name of ["glorotUniform", "glorot_uniform", "GlorotUniform", "xavierUniform"]) {
      manualSeed(1);
      const a = arr(init.getInitializer(name)(zeros([6, 4])));
      manualSeed(1);
      expect(a).toEqual(arr(init.xavierUniform(zeros([6, 4]))));
    }
    manualSeed(2);
    const h = arr(init.getInitializer("he_normal")(zeros([6, 4])));
    manualSeed(2);
    expect(h).toEqual(arr(init.heNormal(zeros([6, 4]))));
    expect(arr(init.getInitializer("zeros")(tensor([1, 2])))).toEqual([0, 0]);
  });

  it("Keras's 'normal' is N(0, 0.05²) and 'uniform' U(±0.05)", () => {
    manualSeed(3);
    expectNormal(arr(init.getInitializer("normal")(zeros([200, 100]))), 0.05);
    expectUniform(arr(init.getInitializer("random_uniform")(zeros([200, 100]))), 0.05);
  });

  it("passes functions through and names the known ones on error", () => {
    const f = (t: Tensor) => t;
    expect(init.getInitializer(f)).toBe(f);
    expect(() => init.getInitializer("glorot")).toThrow(/init.getInitializer: unknown initializer "glorot" \(known: zeros, ones, glorotUniform/);
    for (const n of init.initializerNames) expect(typeof init.getInitializer(n)).toBe("function");
  });
});
