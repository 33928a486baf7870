import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Generator, concat, grad, gradcheck, randint, slice, tensor, type Tensor } from "@deltagrad/autograd";
import { Embedding, type Module } from "@deltagrad/nn";
import { SGD } from "@deltagrad/optim";
import { expectClose, gradcheckModule, loadCases, runCase } from "./layers-support.js";

describe("PyTorch fixtures (float64, within 1e-6)", () => {
  for (const c of loadCases("embedding")) {
    it(`${c.name}: ${c.layer}`, () => {
      runCase(c, (args, o) => new (Embedding as unknown as new (...a: unknown[]) => Module)(...args, o));
    });
  }
});

describe("Embedding", () => {
  it("gradchecks the weight over random index shapes, with and without a padding row", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }), fc.option(fc.integer({ min: -6, max: 5 })), fc.integer({ min: 0, max: 1000 }), (num, dim, idxShape, pad, seed) => {
      const paddingIdx = pad === null || pad < -num || pad >= num ? undefined : pad;
      const emb = new Embedding(num, dim, { paddingIdx, dtype: "float64", generator: new Generator(seed) });
      const idx = randint(0, num, idxShape, { generator: new Generator(seed + 1) });
      expect(emb.call(idx).shape).toEqual([...idxShape, dim]);
      if (emb.paddingIdx === null) {
        gradcheckModule(emb, idx, ["weight"]);
        return;
      }
      // The padding row gets no gradient by design (finite differences would see it), so the
      // check varies the other rows, with the padding row a constant spliced back in.
      const p = emb.paddingIdx;
      const w = emb.weight;
      const padRow = slice(w, [p, 0], [1, dim]).detach();
      const others = concat([slice(w, [0, 0], [p, dim]), slice(w, [p + 1, 0], [num - p - 1, dim])], 0).detach().requiresGrad_();
      const self = emb as unknown as { weight: Tensor };
      const f = (rest: Tensor) => {
        self.weight = concat([slice(rest, [0, 0], [p, dim]), padRow, slice(rest, [p, 0], [num - p - 1, dim])], 0);
        try {
          return emb.call(idx);
        } finally {
          self.weight = w;
        }
      };
      if (num > 1) expect(gradcheck(f, [others], { atol: 1e-6, rtol: 1e-4 })).toBe(true);
      const g = grad((ww: Tensor) => { self.weight = ww; try { return emb.call(idx).mul(emb.call(idx)).sum(); } finally { self.weight = w; } })(w.detach());
      expectClose(slice(g, [p, 0], [1, dim]), new Array(dim).fill(0), "padding row gradient", 0);
    }), { numRuns: 15, seed: 3 });
  });

  it("sums gradients of repeated indices; the padding row gets none and starts at zero", () => {
    const emb = new Embedding(4, 2, { paddingIdx: -1, dtype: "float64" });
    expect(emb.paddingIdx).toBe(3);
    expectClose(emb.call(tensor([3], { dtype: "int32" })), [[0, 0]], "padding row");
    const ids = tensor([[1, 3, 1], [3, 0, 1]], { dtype: "int32" });
    emb.call(ids).sum().backward();
    expectClose(emb.weight.grad, [[1, 1], [3, 3], [0, 0], [0, 0]], "weight grad");
    // an optimizer step leaves the padding row alone, even after it was set to a non-zero vector
    emb.zeroGrad();
    emb.weight.assign(tensor([[1, 1], [2, 2], [3, 3], [9, 9]], { dtype: "float64" }));
    const opt = new SGD(emb.parameters(), { lr: 0.5 });
    const out = emb.call(ids);
    expectClose(out, [[[2, 2], [9, 9], [2, 2]], [[9, 9], [1, 1], [2, 2]]], "forward returns the padding row's values");
    out.sum().backward();
    opt.step();
    expectClose(emb.weight, [[0.5, 0.5], [0.5, 0.5], [3, 3], [9, 9]], "after a step");
  });

  it("init: N(0, 1) from the generator, reproducible; dtype option", () => {
    const a = new Embedding(50, 40, { generator: new Generator(5) });
    const b = new Embedding(50, 40, { generator: new Generator(5) });
    expect(Array.from(a.weight.dataSync())).toEqual(Array.from(b.weight.dataSync()));
    const v = Array.from(a.weight.dataSync());
    const m = v.reduce((s, x) => s + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
    expect(Math.abs(m)).toBeLessThan(0.1); // 2000 draws: the mean's sd is 0.022
    expect(Math.abs(sd - 1)).toBeLessThan(0.1);
    expect(new Embedding(3, 2, { dtype: "float64" }).weight.dtype).toBe("float64");
  });

  it("out-of-range and non-int32 indices → errors naming the layer, the index and the range", () => {
    const emb = new Embedding(10, 3);
    expect(() => emb.call(tensor([[1, 2], [10, 0]], { dtype: "int32" }))).toThrow(/Embedding\(10, 3\): index 10 at position 2 \(flat\) of indices \[2,2\] is out of range \[0, 10\)/);
    expect(() => emb.call(tensor([-1], { dtype: "int32" }))).toThrow(/Embedding\(10, 3\): index -1 at position 0/);
    expect(() => emb.call(tensor([1.5]))).toThrow(/Embedding\(10, 3\): indices must be int32, got float32/);
    expect(() => emb.call(3 as never)).toThrow(/Embedding\(10, 3\): expected a Tensor of indices/);
    expect(() => new Embedding(4, 2, { paddingIdx: 4 })).toThrow(/Embedding: paddingIdx must be an integer in \[-4, 4\), got 4/);
    expect(() => new Embedding(0, 2)).toThrow(/Embedding: numEmbeddings must be a positive integer/);
    expect(emb.call(tensor([], { dtype: "int32" })).shape).toEqual([0, 3]);
  });
});
