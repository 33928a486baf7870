/**
 * Robustness beyond the fuzz suite: state safety of a failing backward(), anomaly mode pointing at
 * user code, numerically extreme inputs, size-0 semantics, and deep/wide graphs.
 */
import { describe, expect, test } from "vitest";
import * as dg from "@deltagrad/autograd";
import { DeltagradError, detectAnomaly, tensor, type Tensor } from "@deltagrad/autograd";

const grads = (ts: Tensor[]) => ts.map((t) => (t.grad ? Array.from(t.grad.dataSync()) : null));

describe("a failing backward() leaves every .grad as it was", () => {
  test("freed graph: the leaf visited before the failure is not touched", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const w = tensor([3, 4], { requiresGrad: true });
    const y = x.mul(2); // shared, freed by the first backward
    y.sum().backward();
    const before = grads([x, w]);
    // Reverse topological order visits w (through w·3) before reaching the freed y.
    const l2 = y.add(w.mul(3)).sum();
    expect(() => l2.backward()).toThrow(/already freed/);
    expect(grads([x, w])).toEqual(before);
    expect(w.grad).toBeNull();
  });

  test("anomaly in a VJP part-way through the sweep: no leaf gradient is committed", () => {
    const x = tensor([0, 1], { requiresGrad: true }); // √0 has an infinite derivative
    const w = tensor([1, 1], { requiresGrad: true });
    w.grad = tensor([5, 5]);
    const before = grads([x, w]);
    expect(() => detectAnomaly(() => x.sqrt().add(w.mul(2)).sum().backward())).toThrow(DeltagradError);
    expect(grads([x, w])).toEqual(before);
  });

  test("the graph is still usable after a failed sweep (nothing was marked freed)", () => {
    const x = tensor([0, 4], { requiresGrad: true });
    const loss = x.sqrt().sum();
    expect(() => detectAnomaly(() => loss.backward())).toThrow(/sqrt: backward gradient/);
    loss.backward(); // outside anomaly mode the same graph backpropagates (with an Infinity, as math says)
    expect(Array.from(x.grad!.dataSync())).toEqual([Infinity, 0.25]);
  });
});

describe("anomaly mode names the op, the shapes and the user code line", () => {
  test("forward NaN: message names log, the shape and this test file", () => {
    const x = tensor([[1, -1]], { requiresGrad: true });
    let message = "";
    try {
      detectAnomaly(() => x.log());
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^log: forward output produced NaN at flat index 1 \(shape \[1,2\]\)/);
    expect(message).toContain("robustness.test.ts");
    // The first recorded frame is user code, not deltagrad's own sources.
    const first = message.split("recorded at:\n")[1]!.split("\n")[0]!;
    expect(first).toContain("robustness.test.ts");
  });

  test("backward Inf through a deep composite still points at the user line", () => {
    const x = tensor([0, 1, 2], { requiresGrad: true });
    let message = "";
    try {
      detectAnomaly(() => {
        const y = dg.logSoftmax(x.sqrt().mul(3)).mean(); // √0 → infinite derivative in backward
        y.backward();
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^sqrt: backward gradient for input 0 produced Infinity/);
    expect(message.split("recorded at:\n")[1]!.split("\n")[0]).toContain("robustness.test.ts");
  });

  test("setAnomalyMode(true) turns it on globally and validates its argument", () => {
    dg.setAnomalyMode(true);
    try {
      expect(() => tensor([0]).log()).toThrow(/^log: forward output produced -Infinity at flat index 0 \(shape \[1\]\)/);
    } finally {
      dg.setAnomalyMode(false);
    }
    expect(tensor([0]).log().itemSync()).toBe(-Infinity);
    expect(() => dg.setAnomalyMode("yes" as never)).toThrow("setAnomalyMode: expected true or false");
  });
});

describe("numerically extreme inputs", () => {
  test("float32 softmax / logSoftmax at ±1e4 and equal logits: finite values and gradients", () => {
    const x = tensor([[1e4, -1e4, 0], [7, 7, 7]], { requiresGrad: true });
    const p = dg.softmax(x);
    expect(Array.from(p.dataSync())).toEqual([1, 0, 0, 1 / 3, 1 / 3, 1 / 3].map(Math.fround));
    const lp = dg.logSoftmax(x);
    lp.mul(tensor([[1, 2, 3], [1, 2, 3]])).sum().backward();
    for (const v of [...lp.dataSync(), ...x.grad!.dataSync()]) expect(Number.isFinite(v)).toBe(true);
  });

  test("float32 matmul of 1e20-scale values reports Infinity, not garbage", () => {
    const a = tensor([[1e20, 1e20]]);
    const b = tensor([[1e20], [1e20]]);
    expect(dg.matmul(a, b).itemSync()).toBe(Infinity);
    expect(dg.matmul(a, b.neg()).itemSync()).toBe(-Infinity);
    // Cancellation: the cpu kernel accumulates float32 products in float64, so 1e40 − 1e40 = 0
    // exactly; the wasm sgemm accumulates in float32 (as PyTorch and TF.js). With a multiply then
    // an add each product overflows: ∞ − ∞ = NaN. With the fused multiply-add (wasmFma(): relaxed
    // SIMD) the first product overflows into the accumulator and the second is never rounded on
    // its own: ∞ + (−1e40) = ∞. Tiny operands on the wasm backend take the cpu kernel (they stay
    // on the JS heap), so the float32 path is exercised with operands of 4 KiB (1024 floats).
    expect(dg.matmul(tensor([[1e20, -1e20]]), b).itemSync()).toBe(0);
    const wide = new Float32Array(1024);
    wide.set([1e20, -1e20]);
    const col = new Float32Array(1024);
    col.set([1e20, 1e20]);
    const cancel = dg.matmul(tensor(wide).reshape([1, 1024]), tensor(col).reshape([1024, 1])).itemSync();
    if (dg.getBackend().name === "cpu") expect(cancel).toBe(0);
    else if (dg.wasmFma()) expect(cancel).toBe(Infinity);
    else expect(cancel).toBeNaN();
  });

  test("sigmoid and softplus at ±1e4 in float64: exact limits, finite gradients", () => {
    const x = tensor([-1e4, 1e4], { dtype: "float64", requiresGrad: true });
    dg.sigmoid(x).add(dg.softplus(x)).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([0, 1]);
  });
});

describe("size-0 semantics", () => {
  const empty = tensor([[], []]); // shape [2, 0]
  test("sum of empty = 0, mean = NaN, variance = NaN", () => {
    expect(Array.from(dg.sum(empty, { axis: 1 }).dataSync())).toEqual([0, 0]);
    expect(dg.sum(empty).itemSync()).toBe(0);
    expect(dg.mean(empty).itemSync()).toBeNaN();
    expect(dg.variance(empty, { axis: 1 }).dataSync().every(Number.isNaN)).toBe(true);
  });
  test("max / min / argmax of an empty axis throw; over a non-empty axis they give an empty result", () => {
    expect(() => dg.max(empty, { axis: 1 })).toThrow("max: cannot reduce an empty axis");
    expect(() => dg.min(empty)).toThrow(/^min: /);
    expect(() => dg.argmax(empty, { axis: 1 })).toThrow("argmax: cannot reduce an empty axis");
    expect(dg.max(empty, { axis: 0 }).shape).toEqual([0]);
  });
  test("logSumExp of an empty axis = −∞; softmax / logSoftmax / cumsum of an empty axis are empty", () => {
    expect(Array.from(dg.logSumExp(empty, { axis: 1 }).dataSync())).toEqual([-Infinity, -Infinity]);
    expect(dg.softmax(empty).shape).toEqual([2, 0]);
    expect(dg.logSoftmax(empty).shape).toEqual([2, 0]);
    expect(dg.cumsum(empty).shape).toEqual([2, 0]);
  });
  test("gradients through empty tensors are empty and well-formed", () => {
    const x = tensor([[], []], { requiresGrad: true });
    dg.softmax(x).sum().add(dg.sum(x)).backward();
    expect(x.grad!.shape).toEqual([2, 0]);
  });
  test("unfold over an input that is only padding backpropagates (fold to a 0×0 image)", () => {
    const x = dg.zeros([1, 1, 0, 0], { requiresGrad: true });
    dg.unfold(x, { kernel: 1, padding: 1 }).sum().backward();
    expect(x.grad!.shape).toEqual([1, 1, 0, 0]);
  });
});

describe("deep and wide graphs", () => {
  test("a 100,000-op chain backpropagates without a stack overflow", () => {
    const x = tensor(1, { dtype: "float64", requiresGrad: true });
    let y: Tensor = x;
    for (let i = 0; i < 100_000; i++) y = y.add(1e-6);
    y.backward();
    expect(x.grad!.itemSync()).toBe(1);
  });

  test("a sum of 10,000 separate inputs backpropagates to every one", () => {
    const xs = Array.from({ length: 10_000 }, (_, i) => tensor(i, { requiresGrad: true }));
    const total = dg.stack(xs).mul(2).sum();
    total.backward();
    expect(xs.every((x) => x.grad!.itemSync() === 2)).toBe(true);
    // …and as a left-deep chain of 10,000 adds.
    let acc: Tensor = xs[0]!;
    for (let i = 1; i < xs.length; i++) acc = acc.add(xs[i]!);
    acc.backward();
    expect(xs.every((x) => x.grad!.itemSync() === 3)).toBe(true);
  });
});
