import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Generator, getBackend, mean, randn, setBackend, tensor, variance, wasmMemoryStats, wasmSimdSupported, zeros, type Tensor } from "@deltagrad/autograd";
import { BatchNorm, BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, Linear, Module, Sequential } from "@deltagrad/nn";
import { expectClose, gradcheckModule, loadCases, runCase } from "./layers-support.js";

const LAYERS: Record<string, new (...a: never[]) => Module> = { BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm };
const RUNS = { numRuns: 12, seed: 7 };

/** A float64 input of `shape` with gradients, drawn from a seeded generator. */
const input = (shape: number[], seed: number) => randn(shape, { dtype: "float64", generator: new Generator(seed) }).requiresGrad_();

/** Random affine parameters, so the gradcheck does not sit at weight = 1, bias = 0. */
function randomAffine(m: { weight: Tensor | null; bias: Tensor | null }, seed: number): void {
  const g = new Generator(seed);
  m.weight?.assign(randn(m.weight.shape, { dtype: "float64", generator: g }));
  m.bias?.assign(randn(m.bias.shape, { dtype: "float64", generator: g }));
}

describe("PyTorch fixtures (float64, within 1e-6)", () => {
  for (const c of loadCases("norm")) {
    it(`${c.name}: ${c.layer} ${c.mode}`, () => {
      runCase(c, (args, o) => new (LAYERS[c.layer] as unknown as new (...a: unknown[]) => Module)(...args, o));
    });
  }
});

describe("BatchNorm", () => {
  const shapeArb = fc.tuple(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom([], [3], [2, 3]), fc.integer({ min: 0, max: 1000 }));

  it("gradchecks (input, weight, bias) in train and eval mode over random shapes", () => {
    fc.assert(fc.property(shapeArb, fc.boolean(), ([n, c, rest, seed], train) => {
      const shape = [n, c, ...rest];
      const bn = rest.length === 2 ? new BatchNorm2d(c, { dtype: "float64" }) : new BatchNorm1d(c, { dtype: "float64" });
      randomAffine(bn, seed);
      bn.call(input(shape, seed + 1)); // one training step, so eval uses non-trivial running statistics
      bn.train(train);
      gradcheckModule(bn, input(shape, seed + 2), ["weight", "bias"]);
    }), RUNS);
  });

  it("without affine or running statistics: gradcheck, and eval uses batch statistics", () => {
    const bn = new BatchNorm1d(3, { affine: false, trackRunningStats: false, dtype: "float64" });
    expect(bn.parameters()).toEqual([]);
    expect(bn.namedBuffers()).toEqual([]);
    expect(Object.keys(bn.stateDict())).toEqual([]);
    gradcheckModule(bn.eval(), input([5, 3, 2], 1), []);
    const y = bn.call(input([6, 3], 2));
    expectClose(mean(y, { axis: 0 }), [0, 0, 0], "eval mean", 1e-12);
  });

  it("training normalizes per channel; running stats follow momentum with the unbiased variance", () => {
    const bn = new BatchNorm1d(2, { momentum: 0.25, dtype: "float64" });
    const x = tensor([[1, 10], [3, 20], [8, 60]], { dtype: "float64" });
    const y = bn.call(x);
    expectClose(mean(y, { axis: 0 }), [0, 0], "batch mean", 1e-12);
    // mean [4, 30]; biased var [26/3, 1400/3] normalizes: var(y) = σ²/(σ² + ε)
    expectClose(variance(y, { axis: 0 }), [(26 / 3) / (26 / 3 + 1e-5), (1400 / 3) / (1400 / 3 + 1e-5)], "batch var", 1e-12);
    // unbiased var [13, 700] enters the running average: running = 0.75·init + 0.25·batch
    expectClose(bn.runningMean, [0.25 * 4, 0.25 * 30], "running_mean");
    expectClose(bn.runningVar, [0.75 + 0.25 * 13, 0.75 + 0.25 * 700], "running_var");
    expect(bn.numBatchesTracked!.itemSync()).toBe(1);
    expect(bn.numBatchesTracked!.dtype).toBe("int32");
    // eval: (x − running_mean)/√(running_var + ε)
    const z = bn.eval().call(tensor([[3, 7.5]], { dtype: "float64" }));
    expectClose(z, [[(3 - 1) / Math.sqrt(4 + 1e-5), 0]], "eval output");
    expect(bn.numBatchesTracked!.itemSync()).toBe(1); // eval leaves the buffers alone
  });

  it("momentum null keeps the cumulative average of the batch statistics", () => {
    const bn = new BatchNorm1d(1, { momentum: null, dtype: "float64" });
    bn.call(tensor([[0], [2]], { dtype: "float64" })); // mean 1
    bn.call(tensor([[4], [6]], { dtype: "float64" })); // mean 5
    bn.call(tensor([[9], [9]], { dtype: "float64" })); // mean 9
    expectClose(bn.runningMean, [5], "cumulative mean");
    // the batches' unbiased variances 2, 2, 0 averaged with the initial 1 dropped: 1 → 2 → 2 → 4/3
    expectClose(bn.runningVar, [4 / 3], "cumulative var");
  });

  it("buffers: names, stateDict, no gradients, and to() keeps num_batches_tracked int32", () => {
    const bn = new BatchNorm2d(4);
    expect(Object.keys(bn.stateDict())).toEqual(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    expect(bn.namedParameters().map(([n]) => n)).toEqual(["weight", "bias"]);
    bn.call(randn([2, 4, 3, 3])).sum().backward();
    for (const b of bn.buffers()) expect(b.grad).toBeNull();
    bn.to("float64");
    expect(bn.runningMean!.dtype).toBe("float64");
    expect(bn.numBatchesTracked!.dtype).toBe("int32");
    expect(bn.numBatchesTracked!.shape).toEqual([]);
    const net = new Sequential(new Linear(3, 4), new BatchNorm1d(4));
    expect(Object.keys(net.stateDict())).toEqual(["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"]);
  });

  it("rejects bad input and options with errors naming the layer", () => {
    const bn = new BatchNorm1d(3);
    expect(() => bn.call(zeros([2, 4]))).toThrow(/BatchNorm1d\(3\): input \[2,4\] has 4 channels on axis 1, expected 3/);
    expect(() => bn.call(zeros([2, 3, 4, 4]))).toThrow(/BatchNorm1d\(3\): expected \[N, C\] or \[N, C, L\] input, got shape \[2,3,4,4\]/);
    expect(() => new BatchNorm2d(3).call(zeros([2, 3]))).toThrow(/BatchNorm2d\(3\): expected \[N, C, H, W\] input, got shape \[2,3\]/);
    expect(() => bn.call(zeros([1, 3]))).toThrow(/BatchNorm1d\(3\): expected more than 1 value per channel in training mode/);
    expect(() => bn.call(zeros([2, 3], { dtype: "int32" }))).toThrow(/BatchNorm1d\(3\): input must be float32 or float64/);
    expect(() => new BatchNorm1d(0)).toThrow(/BatchNorm1d: numFeatures must be a positive integer, got 0/);
    expect(() => new BatchNorm1d(2, { momentum: 2 })).toThrow(/BatchNorm1d: momentum must be a number in \[0, 1\] or null, got 2/);
    expect(() => new BatchNorm1d(2, { eps: 0 })).toThrow(/BatchNorm1d: eps must be a finite number > 0/);
    // a failed forward leaves the running statistics untouched
    expect(bn.numBatchesTracked!.itemSync()).toBe(0);
    expect(new BatchNorm(2).call(zeros([2, 2, 1, 1, 3])).shape).toEqual([2, 2, 1, 1, 3]);
  });

  it.skipIf(!wasmSimdSupported())("running-stat updates do not leak wasm memory", () => {
    const prev = getBackend().name;
    setBackend("wasm");
    try {
      // 1024 channels: the [C] statistics are 4 KiB, large enough to live in wasm memory (smaller
      // tensors stay on the JS heap and would not show a leak here)
      const bn = new BatchNorm2d(1024);
      const x = randn([4, 1024, 2, 2]);
      const step = () => {
        const y = bn.call(x);
        const loss = y.sum();
        loss.backward();
        loss.dispose();
        y.dispose();
        bn.zeroGrad();
      };
      for (let i = 0; i < 3; i++) step();
      const before = wasmMemoryStats().residentBuffers;
      for (let i = 0; i < 20; i++) step();
      expect(wasmMemoryStats().residentBuffers).toBeLessThanOrEqual(before);
      expect(bn.numBatchesTracked!.itemSync()).toBe(23);
    } finally {
      setBackend(prev);
    }
  });
});

describe("LayerNorm", () => {
  it("gradchecks over random shapes and normalized shapes (one or two trailing axes)", () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }), fc.array(fc.integer({ min: 2, max: 4 }), { minLength: 1, maxLength: 2 }), fc.integer({ min: 0, max: 1000 }), fc.boolean(), (lead, norm, seed, train) => {
      const ln = new LayerNorm(norm.length === 1 ? norm[0]! : norm, { dtype: "float64" });
      randomAffine(ln, seed);
      ln.train(train);
      gradcheckModule(ln, input([...lead, ...norm], seed + 1), ["weight", "bias"]);
    }), RUNS);
  });

  it("normalizes each row; no affine gives no parameters; clear errors", () => {
    const ln = new LayerNorm([2, 3], { elementwiseAffine: false, dtype: "float64" });
    expect(ln.parameters()).toEqual([]);
    const y = ln.call(input([4, 2, 3], 3));
    expectClose(mean(y, { axis: [1, 2] }), [0, 0, 0, 0], "row means", 1e-12);
    expect(() => ln.call(zeros([4, 3, 2]))).toThrow(/LayerNorm\(\[2,3\]\): input \[4,3,2\] must end with the normalized shape \[2,3\]/);
    expect(() => ln.call(zeros([3]))).toThrow(/must end with the normalized shape/);
    expect(() => new LayerNorm([])).toThrow(/LayerNorm: normalizedShape must be a positive integer or a non-empty array/);
    expect(new LayerNorm(5).weight!.shape).toEqual([5]);
  });
});

describe("GroupNorm", () => {
  it("gradchecks over random groups, channels and spatial shapes", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom([], [3], [2, 2]), fc.integer({ min: 0, max: 1000 }), (n, g, perGroup, rest, seed) => {
      const c = g * perGroup;
      if (perGroup * rest.reduce((a, b) => a * b, 1) < 2) return; // a one-value group has variance 0 exactly
      const gn = new GroupNorm(g, c, { dtype: "float64" });
      randomAffine(gn, seed);
      gradcheckModule(gn, input([n, c, ...rest], seed + 1), ["weight", "bias"]);
    }), RUNS);
  });

  it("GroupNorm(1, C) equals LayerNorm over [C, …] without affine; clear errors", () => {
    const x = input([2, 4, 3], 5);
    expectClose(new GroupNorm(1, 4, { dtype: "float64" }).call(x), new LayerNorm([4, 3], { dtype: "float64" }).call(x).arraySync() as number[][][], "GroupNorm(1) vs LayerNorm", 1e-12);
    expect(() => new GroupNorm(3, 4)).toThrow(/GroupNorm: numChannels 4 must be divisible by numGroups 3/);
    expect(() => new GroupNorm(2, 4).call(zeros([2, 6, 3]))).toThrow(/GroupNorm\(2, 4\): input \[2,6,3\] has 6 channels on axis 1, expected 4/);
    expect(() => new GroupNorm(2, 4).call(zeros([4]))).toThrow(/GroupNorm\(2, 4\): expected \[N, C, …\] input \(rank ≥ 2\)/);
    expect(new GroupNorm(2, 4, { affine: false }).parameters()).toEqual([]);
  });
});

it("every norm layer takes { dtype, generator } and ones/zeros defaults", () => {
  const g = new Generator(1);
  for (const m of [new BatchNorm1d(3, { dtype: "float64", generator: g }), new LayerNorm(3, { dtype: "float64", generator: g }), new GroupNorm(1, 3, { dtype: "float64", generator: g })]) {
    expectClose(m.weight, [1, 1, 1], "weight init");
    expectClose(m.bias, [0, 0, 0], "bias init");
    expect(m.weight!.dtype).toBe("float64");
  }
});
