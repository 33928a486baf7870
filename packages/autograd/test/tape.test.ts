/**
 * The tape's bookkeeping (engine.ts): the backward sweep finds tensors by a stamp and an index
 * kept on each tensor instead of a Set and a Map. A sweep nested inside a VJP (a customVjp that
 * calls `gradients`) takes the stamps over; the outer sweep must still route every cotangent.
 * Also the scalar graph's fast paths (operands of one dtype, a float tensor and a number, itemSync
 * without a copy). Runs on the active backend (DELTAGRAD_BACKEND=cpu|wasm). And, in a fresh process,
 * that graphs keep no young object alive through V8's pretenuring (tape-gc-child.ts).
 */
import { describe, expect, test as it } from "vitest";
import * as dg from "@deltagrad/autograd";
import { customVjp, gradients, type Tensor } from "@deltagrad/autograd";
import { runChild } from "./child-support.js";

/** x² with a VJP that also runs a whole backward sweep of its own over the caller's graph. */
function nestingSquare(probe: () => Tensor) {
  return customVjp(
    function sq(x: Tensor) {
      return x.mul(x);
    },
    (g, [x]) => {
      const p = dg.enableGrad(probe); // VJPs run under noGrad
      // A nested sweep through tensors the outer sweep has stamped (retainGraph: the outer still needs them).
      const [inner] = gradients(p, [x], undefined, { retainGraph: true });
      expect(inner!.itemSync()).toBeCloseTo(2 * x.itemSync() * 3, 5); // d(3·x²)/dx — the probe's gradient
      return [g.mul(x).mul(2)];
    },
  );
}

describe("backward sweep", () => {
  it("routes every cotangent when a VJP runs a nested sweep over the same graph", () => {
    // loss = sq(a) + exp(a), a = 2w: dloss/dw = 2·(2a + eᵃ)
    const w = dg.tensor(0.5, { dtype: "float64", requiresGrad: true });
    const a = w.mul(2);
    const sq = nestingSquare(() => a.mul(a).mul(3));
    const loss = sq(a).add(a.exp());
    loss.backward();
    const av = 1;
    expect(w.grad!.itemSync()).toBeCloseTo(2 * (2 * av + Math.exp(av)), 12);
  });

  it("gives the same gradients for the scalar sigmoid graph on every call (no stale stamps)", () => {
    const x = dg.tensor(1);
    const w = dg.tensor(0, { requiresGrad: true });
    const b = dg.tensor(0, { requiresGrad: true });
    for (let i = 0; i < 3; i++) {
      w.grad = null;
      b.grad = null;
      w.mul(x).add(b).neg().exp().add(1).reciprocal().backward();
      expect(w.grad!.itemSync()).toBeCloseTo(0.25, 6); // σ′(0)·x
      expect(b.grad!.itemSync()).toBeCloseTo(0.25, 6);
    }
  });

  it("gradients() of reachable and unreachable tensors", () => {
    const x = dg.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(3);
    const z = y.mul(y).sum(); // dz/dy = 2y, dz/dx = 18x
    const u = dg.tensor([5, 6], { requiresGrad: true }); // not on z's graph: zeros
    const [gx, gu] = gradients(z, [x, u], undefined, { retainGraph: true });
    expect(Array.from(gx!.dataSync())).toEqual([18, 36]);
    expect(Array.from(gu!.dataSync())).toEqual([0, 0]);
    const [gy] = gradients(z, [y]);
    expect(Array.from(gy!.dataSync())).toEqual([6, 12]);
  });
});

describe("scalar fast paths", () => {
  it("a float tensor and a number take the tensor's dtype; an int tensor and a fraction become float32", () => {
    expect(dg.tensor(1, { dtype: "float64" }).add(0.5).dtype).toBe("float64");
    expect(dg.tensor(1).mul(3).dtype).toBe("float32");
    expect(dg.tensor(1, { dtype: "int32" }).add(0.5).dtype).toBe("float32");
    expect(dg.tensor(1, { dtype: "int32" }).add(2).dtype).toBe("int32");
    expect(dg.tensor(true).add(dg.tensor(true)).dtype).toBe("int32"); // add lifts bool to int32
    expect(dg.tensor(1, { dtype: "float64" }).add(dg.tensor(1)).dtype).toBe("float64");
  });

  it("itemSync reads the value without a copy and leaves the storage intact", () => {
    const t = dg.tensor([2.5]);
    expect(t.itemSync()).toBe(2.5);
    expect(Array.from(t.dataSync())).toEqual([2.5]);
    expect(() => dg.tensor([1, 2]).itemSync()).toThrow(/only one-element tensors/);
  });
});

const SIMD = dg.wasmSimdSupported();
if (!SIMD) console.log("skipped: tape.test.ts's pretenuring check on the wasm backend needs WebAssembly SIMD (the cpu one runs)");

describe("the tape and V8's allocation-site pretenuring", () => {
  /** tape-gc-child.ts in a fresh process on `backend`: the old generation's growth over 20,000 scalar graphs. */
  function growth(backend: string): number {
    const out = runChild<{ oldSpaceGrowthBytes: number; sink: boolean }>("tape-gc-child.ts", [backend]);
    expect(out.sink).toBe(true);
    return out.oldSpaceGrowthBytes;
  }

  // After long-lived graphs taught V8 to pretenure, a node or inputs array made by a literal kept
  // every later graph alive through each scavenge: 27–42 MB promoted over this loop (measured
  // with the node as an object literal, or with the caller's inputs array kept), ~0.1 MB without.
  it.each(["cpu", ...(SIMD ? ["wasm"] : [])])("scalar graphs stay young after long-lived graphs (%s)", (backend) => {
    expect(growth(backend)).toBeLessThan(4 * 2 ** 20);
  });
});
