import { describe, expect, it } from "vitest";
import { DeltagradError, tensor, type Tensor } from "@deltagrad/autograd";
import { clipGradNorm, clipGradValue } from "@deltagrad/optim";

function withGrad(values: number[], grad: number[] | null, dtype: "float32" | "float64" = "float64"): Tensor {
  const p = tensor(values, { dtype, requiresGrad: true });
  if (grad) p.grad = tensor(grad, { dtype });
  return p;
}
const gradOf = (p: Tensor) => Array.from(p.grad!.dataSync());

describe("clipGradNorm", () => {
  it("returns the joint 2-norm and scales every gradient by maxNorm/(norm + 1e-6)", () => {
    const a = withGrad([0, 0], [3, 4]);
    const b = withGrad([0], [12]);
    const c = withGrad([0], null);
    const gradA = a.grad;
    const norm = clipGradNorm([a, b, c], 1);
    expect(norm.shape).toEqual([]); // a scalar tensor: the norm is never read on the host
    expect(norm.itemSync()).toBe(13); // √(9 + 16 + 144)
    const k = 1 / (13 + 1e-6);
    expect(gradOf(a)).toEqual([3 * k, 4 * k]);
    expect(gradOf(b)).toEqual([12 * k]);
    expect(a.grad).toBe(gradA); // rescaled in place, like PyTorch's mul_
    expect(c.grad).toBeNull();
  });

  it("leaves gradients alone when the norm is within maxNorm", () => {
    const b = withGrad([0, 0], [3, 4]);
    expect(clipGradNorm(b, 10).itemSync()).toBe(5);
    expect(gradOf(b)).toEqual([3, 4]);
  });

  it("clips at norm = maxNorm too: the coefficient maxNorm/(norm + 1e-6) is just below 1, as in PyTorch", () => {
    const a = withGrad([0, 0], [3, 4]);
    expect(clipGradNorm([a], 5).itemSync()).toBe(5);
    const k = 5 * (1 / (5 + 1e-6));
    expect(gradOf(a)).toEqual([3 * k, 4 * k]);
  });

  it("Infinity norm: the largest |g| over all gradients", () => {
    const a = withGrad([0, 0], [-7, 2]);
    const b = withGrad([0], [5]);
    expect(clipGradNorm([a, b], 3.5, { normType: Infinity }).itemSync()).toBe(7);
    const k = 3.5 * (1 / (7 + 1e-6)); // the coefficient is a kernel: div(a, b) is a·(1/b), one rounding more than a/b
    expect(gradOf(a)).toEqual([-7 * k, 2 * k]);
    expect(gradOf(b)).toEqual([5 * k]);
  });

  it("1-norm and 3-norm", () => {
    expect(clipGradNorm([withGrad([0, 0], [-3, 4]), withGrad([0], [1])], 100, { normType: 1 }).itemSync()).toBe(8);
    const n3 = clipGradNorm([withGrad([0, 0], [-3, 4]), withGrad([0], [1])], 100, { normType: 3 }).itemSync();
    expect(n3).toBeCloseTo((27 + 64 + 1) ** (1 / 3), 12);
  });

  it("float32 gradients, mixed with float64", () => {
    const a = withGrad([0, 0], [3, 4], "float32");
    const b = withGrad([0], [12]);
    expect(clipGradNorm([a, b], 6.5).itemSync()).toBeCloseTo(13, 5);
    expect(a.grad!.dtype).toBe("float32");
    expect(gradOf(a)[0]).toBeCloseTo(1.5, 5);
    expect(gradOf(b)[0]).toBeCloseTo(6, 5);
  });

  it("no gradients: 0", () => {
    expect(clipGradNorm([withGrad([1], null)], 1).itemSync()).toBe(0);
  });

  it("errorIfNonfinite throws and leaves the gradients unchanged", () => {
    const a = withGrad([0, 0], [NaN, 1]);
    const b = withGrad([0], [100]);
    expect(() => clipGradNorm([a, b], 1, { errorIfNonfinite: true })).toThrow(/clipGradNorm: the total norm of order 2 of the gradients is NaN/);
    expect(gradOf(b)).toEqual([100]);
    const c = withGrad([0], [Infinity]);
    expect(clipGradNorm([c], 1).itemSync()).toBe(Infinity); // without the flag, PyTorch's behaviour: no error…
    expect(gradOf(c)).toEqual([NaN]); // …and PyTorch's result: the coefficient 1/(∞ + 1e-6) = 0 times ∞
  });

  it("rejects bad arguments", () => {
    const a = withGrad([0], [1]);
    expect(() => clipGradNorm([a], -1)).toThrow(/clipGradNorm: invalid maxNorm -1/);
    expect(() => clipGradNorm([a], 1, { normType: 0 })).toThrow(/normType must be a positive number or Infinity, got 0/);
    expect(() => clipGradNorm([a, 3 as never], 1)).toThrow(DeltagradError);
    expect(gradOf(a)).toEqual([1]);
  });
});

describe("clipGradValue", () => {
  it("clamps each gradient to [−c, c], skipping parameters without one", () => {
    const a = withGrad([0, 0, 0], [-3, 0.5, 2]);
    const b = withGrad([0], null);
    const g = a.grad;
    clipGradValue([a, b], 1);
    expect(gradOf(a)).toEqual([-1, 0.5, 1]);
    expect(a.grad).toBe(g);
    expect(b.grad).toBeNull();
    expect(() => clipGradValue([a], -1)).toThrow(/clipGradValue: invalid clipValue -1/);
  });
});
