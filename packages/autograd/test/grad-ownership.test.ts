// The public gradient API nn and optim use (issue 18): `grad` (reading claims it; setting
// validates), `peekGrad` (a read that leaves it the library's), `replaceGrad` (a library-style
// write that frees an unclaimed predecessor) and `stashGrad` (set aside, then restore or release);
// and `isTensor`, the brand test modules outside the core use instead of `instanceof`.
import { describe, expect, it } from "vitest";
import { DeltagradError, isTensor, tensor, zeros } from "@deltagrad/autograd";

const leaf = () => tensor([1, 2], { dtype: "float64", requiresGrad: true });

describe("gradient ownership", () => {
  it("setting grad validates: null or a float Tensor of the tensor's shape", () => {
    const p = leaf();
    expect(() => (p.grad = tensor([1, 2, 3], { dtype: "float64" }))).toThrow(/grad: gradient \[3\] float64 does not fit the tensor's \[2\] \(same shape, a float dtype\)/);
    expect(() => (p.grad = tensor([1, 2], { dtype: "int32" }))).toThrow(/grad: gradient \[2\] int32 does not fit/);
    expect(() => (p.grad = [1, 2] as never)).toThrow(DeltagradError);
    expect(() => p.replaceGrad(zeros([2, 1], { dtype: "float64" }))).toThrow(/replaceGrad: gradient \[2,\s?1\] float64 does not fit/);
    p.grad = tensor([1, 2], { dtype: "float32" }); // the other float dtype: optimizers cast it
    p.grad = null;
    expect(p.peekGrad()).toBe(null);
    const g = tensor([3, 4], { dtype: "float64" });
    p.grad = g;
    expect(p.grad).toBe(g);
    p.grad = null;
    expect(p.grad).toBe(null);
    expect(g.isDisposed).toBe(false); // a gradient the caller set stays the caller's
  });

  it("replaceGrad frees a gradient no user code has read; one read through grad survives", () => {
    const p = leaf();
    p.mul(p).sum().backward();
    const unread = p.peekGrad()!; // peek does not claim it
    expect(Array.from(unread.dataSync())).toEqual([2, 4]);
    p.replaceGrad(null);
    expect(unread.isDisposed).toBe(true);

    p.mul(p).sum().backward();
    const read = p.grad!; // reading claims it
    p.replaceGrad(zeros([2], { dtype: "float64" }));
    expect(read.isDisposed).toBe(false);
    expect(Array.from(read.dataSync())).toEqual([2, 4]);
    expect(Array.from(p.peekGrad()!.dataSync())).toEqual([0, 0]);
  });

  it("stashGrad sets the gradient aside: restore puts it back, release frees it unless read", () => {
    const p = leaf();
    p.mul(p).sum().backward();
    const g = p.peekGrad()!;
    const s = p.stashGrad();
    expect(p.peekGrad()).toBe(null);
    p.mul(3).sum().backward(); // a step that then fails
    const failed = p.peekGrad()!;
    s.restore();
    expect(p.peekGrad()).toBe(g);
    expect(failed.isDisposed).toBe(true);
    expect(g.isDisposed).toBe(false);

    const s2 = p.stashGrad();
    s2.release();
    expect(g.isDisposed).toBe(true);

    p.mul(p).sum().backward();
    const seen = p.grad!;
    p.stashGrad().release();
    expect(seen.isDisposed).toBe(false); // user code holds it
  });

  it("isTensor is true for tensors only", () => {
    expect(isTensor(tensor(1))).toBe(true);
    expect(isTensor(leaf().mul(2))).toBe(true);
    for (const x of [null, undefined, 1, [1, 2], { shape: [2], dtype: "float32", backend: {} }, new Float32Array(2)]) expect(isTensor(x)).toBe(false);
  });
});
