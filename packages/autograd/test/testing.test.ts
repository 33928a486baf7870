import { describe, expect, test } from "vitest";
import { GradcheckError, gradcheck, randn, tensor, type Tensor, RULES } from "@deltagrad/autograd";
import { allClose, matchers } from "@deltagrad/autograd/testing";

expect.extend(matchers);

describe("vitest matchers from @deltagrad/autograd/testing", () => {
  test("toBeAllClose passes and fails with the worst element", () => {
    expect(tensor([1, 2])).toBeAllClose([1, 2.0000001]);
    expect(tensor([1, 2])).not.toBeAllClose([1, 2.1]);
    expect(allClose(tensor([1, 2]), [1, 2.1]).message).toContain("element 1 is 2, expected 2.1");
    expect(tensor([NaN, Infinity])).toBeAllClose([NaN, Infinity]);
    expect(tensor([1, 2])).not.toBeAllClose(tensor([[1, 2]]));
    expect(tensor([1, 1.05])).toBeAllClose([1, 1], { atol: 0.1 });
  });

  test("toHaveValidGradients runs gradcheck", () => {
    const x = randn([3], { dtype: "float64", requiresGrad: true });
    expect((t: Tensor) => t.sigmoid()).toHaveValidGradients([x]);
  });
});

describe("gradcheck catches wrong VJPs and reports the worst element", () => {
  test("a deliberately wrong VJP fails with a GradcheckError", () => {
    const original = RULES.exp.vjp;
    RULES.exp.vjp = (g, _x, y) => [g.mul(y).mul(1.5)];
    try {
      const x = tensor([0.1, 0.2, 0.3], { dtype: "float64", requiresGrad: true });
      let err: unknown;
      try {
        gradcheck((t) => t.exp(), [x]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GradcheckError);
      const r = (err as GradcheckError).report;
      expect(r.index).toEqual([2]); // the largest value has the largest error
      expect(r.analytic / r.numeric).toBeCloseTo(1.5, 5);
      expect((t: Tensor) => t.exp()).not.toHaveValidGradients([x]);
    } finally {
      RULES.exp.vjp = original;
    }
  });

  test("inputs must be float64 and at least one must require gradients", () => {
    expect(() => gradcheck((t) => t, [tensor([1], { requiresGrad: true })])).toThrow("gradcheck: input 0 is float32; finite differences need float64");
    expect(() => gradcheck((t) => t, [tensor([1], { dtype: "float64" })])).toThrow("gradcheck: no input has requiresGrad: true");
  });

  test("does not touch the inputs' .grad", () => {
    const x = tensor([1, 2], { dtype: "float64", requiresGrad: true });
    gradcheck((t) => t.square(), [x]);
    expect(x.grad).toBeNull();
  });
});
