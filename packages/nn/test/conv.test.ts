import { describe, expect, it } from "vitest";
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Generator, gradcheck, tensor, type Tensor } from "@deltagrad/autograd";
import { AdaptiveAvgPool2d, AvgPool2d, Conv2d, LENET5_C3_TABLE, LeNet5, MaxPool2d, Module } from "@deltagrad/nn";
import { errorOf } from "@deltagrad/autograd/testing";

const randn64 = (shape: number[], seed: number) => ag.randn(shape, { dtype: "float64", generator: new Generator(seed) });


/** Swaps a module's parameter field for the duration of `f` (so gradcheck can vary it). */
function withField<T>(m: Module, key: string, value: Tensor, f: () => T): T {
  const self = m as unknown as Record<string, Tensor>;
  const saved = self[key]!;
  self[key] = value;
  try {
    return f();
  } finally {
    self[key] = saved;
  }
}

describe("Conv2d", () => {
  it("lecture 003: ten 5×5 filters, stride 1, padding 2 on 32×32×3 → 32×32×10 and 760 parameters", () => {
    const conv = new Conv2d(3, 10, 5, { stride: 1, padding: 2 });
    expect(conv.weight.shape).toEqual([10, 3, 5, 5]);
    expect(conv.bias!.shape).toEqual([10]);
    expect(conv.call(ag.zeros([4, 3, 32, 32])).shape).toEqual([4, 10, 32, 32]);
    expect(conv.numParameters()).toBe(10 * (5 * 5 * 3) + 10);
    expect(conv.numParameters()).toBe(760);
  });

  it("weight [K, C/groups, F, F]; no bias when asked; computes ag.conv2d with its parameters", () => {
    const conv = new Conv2d(4, 6, [3, 2], { groups: 2, stride: [2, 1], padding: 1, dilation: [1, 2], bias: false, dtype: "float64" });
    expect(conv.weight.shape).toEqual([6, 2, 3, 2]);
    expect(conv.bias).toBeNull();
    expect(conv.numParameters()).toBe(6 * 2 * 3 * 2);
    const x = randn64([2, 4, 7, 6], 1);
    const expected = ag.conv2d(x, conv.weight, null, { groups: 2, stride: [2, 1], padding: 1, dilation: [1, 2] });
    expect(conv.call(x).dataSync()).toEqual(expected.dataSync());
  });

  it("default initialization is PyTorch's U(±1/√fanIn), seeded", () => {
    const conv = new Conv2d(3, 8, 3, { generator: new Generator(7) });
    const bound = 1 / Math.sqrt(3 * 3 * 3);
    for (const p of [conv.weight, conv.bias!]) {
      const v = Array.from(p.dataSync());
      expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(bound / 2);
    }
    const again = new Conv2d(3, 8, 3, { generator: new Generator(7) });
    expect(again.weight.dataSync()).toEqual(conv.weight.dataSync());
    expect(new Conv2d(3, 8, 3, { init: "zeros" }).weight.dataSync().every((v) => v === 0)).toBe(true);
  });

  it("gradcheck through the module: input, weight and bias (float64)", () => {
    const conv = new Conv2d(2, 3, 3, { padding: 1, stride: 2, dtype: "float64" });
    const x = randn64([2, 2, 5, 4], 2).requiresGrad_();
    expect(gradcheck((t) => conv.call(t), [x])).toBe(true);
    const w = conv.weight.detach().requiresGrad_();
    const b = conv.bias!.detach().requiresGrad_();
    const xc = x.detach();
    expect(gradcheck((w, b) => withField(conv, "weight", w, () => withField(conv, "bias", b, () => conv.call(xc))), [w, b])).toBe(true);
  });

  it("errors name the layer and both shapes", () => {
    const conv = new Conv2d(3, 10, 5);
    const channels = errorOf(() => conv.call(ag.zeros([1, 4, 32, 32])));
    expect(channels).toBe("Conv2d(3 → 10, 5×5): input [1,4,32,32] has 4 channels, weight [10,3,5,5] expects 3");
    const small = errorOf(() => conv.call(ag.zeros([1, 3, 4, 4])));
    expect(small).toMatch(/^Conv2d\(3 → 10, 5×5\): conv2d: input 4×4 .*too small.*input \[1,3,4,4\], weight \[10,3,5,5\]/);
    expect(errorOf(() => conv.call(ag.zeros([3, 32, 32])))).toMatch(/^Conv2d\(3 → 10, 5×5\): expected NCHW input of rank 4, got shape \[3,32,32\]/);
    expect(errorOf(() => new Conv2d(3, 10, 5, { stride: 0 }))).toBe("Conv2d: stride must be an integer ≥ 1 or a pair of them, got 0");
    expect(errorOf(() => new Conv2d(3, 10, 5, { groups: 2 }))).toMatch(/^Conv2d: inChannels 3 and outChannels 10 must both be divisible by groups 2/);
    expect(errorOf(() => new Conv2d(6, 16, 5, { connections: [[true]] }))).toMatch(/^Conv2d: connections must be a boolean table \[outChannels=16\]\[inChannels=6\]/);
    expect(errorOf(() => new Conv2d(6, 16, 5, { connections: LENET5_C3_TABLE, groups: 2 }))).toMatch(/^Conv2d: a connections table needs groups 1/);
  });
});

describe("Conv2d with a connections table", () => {
  const conv = new Conv2d(6, 16, 5, { connections: LENET5_C3_TABLE, dtype: "float64" });

  it("the classic C3 table: 60 of 96 connections (6 maps × 3 inputs, 9 × 4, 1 × 6)", () => {
    const counts = LENET5_C3_TABLE.map((row) => row.filter(Boolean).length);
    expect(counts).toEqual([3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6]);
    expect(counts.reduce((a, b) => a + b)).toBe(6 * 3 + 9 * 4 + 6);
    // Row 0 of the paper's Table I (input map 0 feeds these C3 maps): X . . . X X X . . X X X X . X X
    expect(LENET5_C3_TABLE.map((row) => (row[0] ? "X" : "."))).toEqual("X...XXX..XXXX.XX".split(""));
  });

  it("only connected filters are parameters: 60·25 + 16 = 1,516", () => {
    expect(conv.weight.shape).toEqual([60, 5, 5]);
    expect(conv.numParameters()).toBe(60 * 25 + 16);
    const full = conv.fullWeight();
    expect(full.shape).toEqual([16, 6, 5, 5]);
    const f = full.dataSync();
    LENET5_C3_TABLE.forEach((row, k) => row.forEach((on, c) => {
      const filter = f.slice((k * 6 + c) * 25, (k * 6 + c + 1) * 25);
      expect(filter.some((v) => v !== 0)).toBe(on);
    }));
    expect(String(conv)).toContain("connections=60/96");
  });

  it("an output map ignores the input maps it is not connected to", () => {
    const x = randn64([1, 6, 10, 10], 3);
    const y = conv.call(x).dataSync();
    // Change input map 5 only: C3 maps 0, 1, 2, 6, 7, 12 do not read it.
    const bump = ag.concat([ag.slice(x, [0, 0], [1, 5]), ag.add(ag.slice(x, [0, 5], [1, 1]), 1)], 1);
    const y2 = conv.call(bump).dataSync();
    const per = 6 * 6;
    for (let k = 0; k < 16; k++) {
      const same = y.slice(k * per, (k + 1) * per).every((v, i) => v === y2[k * per + i]);
      expect(same).toBe(!LENET5_C3_TABLE[k]![5]);
    }
  });

  it("gradients: the packed weight gets the dense gradient's connected filters; gradcheck", () => {
    const x = randn64([2, 6, 7, 7], 4);
    const g = randn64([2, 16, 3, 3], 5);
    const dense = conv.fullWeight().detach().requiresGrad_();
    ag.conv2d(x, dense, conv.bias!.detach(), {}).backward(g);
    conv.zeroGrad();
    conv.call(x).backward(g);
    const kept = LENET5_C3_TABLE.flatMap((row, k) => row.flatMap((on, c) => (on ? [k * 6 + c] : [])));
    const expected = ag.gather(ag.reshape(dense.grad!, [96, 5, 5]), tensor(kept, { dtype: "int32" }), 0);
    expect(conv.weight.grad!.shape).toEqual([60, 5, 5]);
    const a = conv.weight.grad!.dataSync();
    expected.dataSync().forEach((v, i) => expect(a[i]).toBeCloseTo(v, 12));

    const small = new Conv2d(3, 2, 2, { connections: [[true, false, true], [false, true, false]], dtype: "float64" });
    expect(small.numParameters()).toBe(3 * 4 + 2);
    const xs = randn64([1, 3, 4, 4], 6).requiresGrad_();
    const w = small.weight.detach().requiresGrad_();
    expect(gradcheck((xs, w) => withField(small, "weight", w, () => small.call(xs)), [xs, w])).toBe(true);
  });

  it("default init uses each map's real fan-in: U(±1/√(inputs·25))", () => {
    const c = new Conv2d(6, 16, 5, { connections: LENET5_C3_TABLE, generator: new Generator(1) });
    const w = c.weight.dataSync();
    let row = 0;
    LENET5_C3_TABLE.forEach((r) => {
      const n = r.filter(Boolean).length;
      const vals = w.slice(row * 25, (row + n) * 25);
      expect(Math.max(...Array.from(vals, Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(n * 25));
      row += n;
    });
  });

  it("Module.to keeps the table working", () => {
    const c = new Conv2d(6, 16, 5, { connections: LENET5_C3_TABLE }).to("float64");
    expect(c.weight.dtype).toBe("float64");
    expect(c.call(randn64([1, 6, 5, 5], 7)).shape).toEqual([1, 16, 1, 1]);
  });
});

describe("pooling modules", () => {
  const x = randn64([2, 3, 7, 6], 8);

  it("MaxPool2d / AvgPool2d / AdaptiveAvgPool2d compute the functional ops; no parameters", () => {
    const mp = new MaxPool2d(3, { stride: 2, padding: 1 });
    expect(mp.call(x).dataSync()).toEqual(ag.maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }).dataSync());
    expect(new MaxPool2d(2).call(x).shape).toEqual([2, 3, 3, 3]); // stride defaults to the kernel; floor mode
    const ap = new AvgPool2d([2, 3], { padding: 1, countIncludePad: false });
    expect(ap.call(x).dataSync()).toEqual(ag.avgPool2d(x, { kernel: [2, 3], padding: 1, countIncludePad: false }).dataSync());
    expect(new AdaptiveAvgPool2d([2, 3]).call(x).shape).toEqual([2, 3, 2, 3]);
    expect(mp.numParameters() + ap.numParameters()).toBe(0);
  });

  it("errors name the layer", () => {
    expect(errorOf(() => new MaxPool2d(2).call(ag.zeros([1, 1, 1, 1])))).toMatch(/^MaxPool2d\(2×2\): maxPool2d: input 1×1 .*too small.*input \[1,1,1,1\]/);
    expect(errorOf(() => new AvgPool2d(2, { padding: 2 }))).toBe("AvgPool2d: padding 2 must be at most half of kernel 2×2");
    expect(errorOf(() => new MaxPool2d(2, { stride: 0 }))).toBe("MaxPool2d: stride must be an integer ≥ 1 or a pair of them, got 0");
  });
});

describe("LeNet5", () => {
  // Weights and biases per layer, as the arithmetic in LeNet5's TSDoc.
  const C1 = 6 * (1 * 5 * 5) + 6; // 156
  const C3_FULL = 16 * (6 * 5 * 5) + 16; // 2,416
  const C3_TABLE = 60 * (5 * 5) + 16; // 1,516: 36 of the 96 filters dropped
  const C5 = 120 * (16 * 5 * 5) + 120; // 48,120
  const F6 = 120 * 84 + 84; // 10,164
  const OUT = 84 * 10 + 10; // 850

  it("61,706 parameters with a full C3, 60,806 with the classic C3 table", () => {
    expect(C1 + C3_FULL + C5 + F6 + OUT).toBe(61706);
    expect(C1 + C3_TABLE + C5 + F6 + OUT).toBe(60806);
    expect(61706 - 60806).toBe((96 - 60) * 25);
    const full = new LeNet5();
    const table = new LeNet5({ c3Table: true });
    expect(full.numParameters()).toBe(61706);
    expect(table.numParameters()).toBe(60806);
    expect([full.c1, full.c3, full.c5, full.f6, full.output].map((m) => m.numParameters())).toEqual([C1, C3_FULL, C5, F6, OUT]);
    expect(table.c3.numParameters()).toBe(C3_TABLE);
    expect(full.namedParameters().map(([n]) => n)).toEqual([
      "c1.weight", "c1.bias", "c3.weight", "c3.bias", "c5.weight", "c5.bias", "f6.weight", "f6.bias", "output.weight", "output.bias",
    ]);
  });

  it("forward and backward on a batch of 2 (28×28 padded by 2, and 32×32)", () => {
    for (const opts of [{}, { c3Table: true, pool: "max" as const, activation: "relu" as const }]) {
      const net = new LeNet5({ ...opts, generator: new Generator(0) });
      const labels = tensor([3, 7], { dtype: "int32" });
      for (const size of [28, 32]) {
        net.zeroGrad();
        const logits = net.call(ag.randn([2, 1, size, size], { generator: new Generator(size) }));
        expect(logits.shape).toEqual([2, 10]);
        const loss = ag.neg(ag.mean(ag.sum(ag.mul(ag.logSoftmax(logits), ag.oneHot(labels, 10)), { axis: 1 })));
        loss.backward();
        expect(Number.isFinite(loss.itemSync())).toBe(true);
        for (const [name, p] of net.namedParameters()) {
          expect(p.grad, name).not.toBeNull();
          expect(p.grad!.shape, name).toEqual(p.shape);
          const g = p.grad!.dataSync();
          expect(g.every(Number.isFinite), name).toBe(true);
          expect(g.some((v) => v !== 0), name).toBe(true);
        }
      }
    }
  });

  it("28×28 input equals the same digits zero-padded to 32×32 by hand", () => {
    const net = new LeNet5({ generator: new Generator(2) });
    const x = ag.randn([2, 1, 28, 28], { generator: new Generator(3) });
    const padded = ag.pad(x, [[0, 0], [0, 0], [2, 2], [2, 2]]);
    expect(net.call(x).dataSync()).toEqual(net.call(padded).dataSync());
  });

  it("rejects other input sizes, naming the shape", () => {
    expect(errorOf(() => new LeNet5().call(ag.zeros([2, 1, 30, 30])))).toBe("LeNet5: expected input [N, 1, 32, 32] or [N, 1, 28, 28], got [2,1,30,30]");
    expect(errorOf(() => new LeNet5().call(ag.zeros([2, 3, 32, 32])))).toMatch(/got \[2,3,32,32\]/);
  });
});
