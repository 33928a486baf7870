/**
 * The lectures' worked numbers (/work/shared/lectures, Chinese lecture notes) as exact tests.
 * Expected values are the numbers the lectures print, compared to the printed precision.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { Generator, add, argmax, matmul, sigmoid, softmax, tensor, type Tensor } from "@deltagrad/autograd";
import { crossEntropy, klDiv, nllLoss, reference, sumSquaredError } from "@deltagrad/nn";

type Matrix = number[][];
const f64 = (v: number[] | Matrix, requiresGrad = false) => tensor(v, { dtype: "float64", requiresGrad });

/** |actual − printed| ≤ half a unit in the printed value's last decimal place. */
function expectPrinted(actual: number, printed: string, what: string): void {
  const decimals = printed.split(".")[1]?.length ?? 0;
  const tol = 0.5 * 10 ** -decimals;
  expect(Math.abs(actual - Number(printed)), `${what}: ${actual} printed as ${printed}`).toBeLessThanOrEqual(tol + 1e-15);
}

describe("lecture 001: the XOR network, one BP step by hand", () => {
  // 001_*.txt, '误差反向传播 / 前向传播预测过程' and '反向传播学习过程'. Thresholds act as biases:
  // y1 = g(x·W1 + θ1), z = y2 = g(y1·W2 + θ2), E = ½ Σ (z − l)², α = 0.5; first sample x = (0, 0), l = (0, 1).
  const W1 = [[0.1, 0.2], [0.2, 0.3]];
  const theta1 = [0.3, 0.3];
  const W2 = [[0.4, 0.5], [0.4, 0.5]];
  const theta2 = [0.6, 0.6];
  const x = [[0, 0]];
  const l = [[0, 1]];
  const alpha = 0.5;

  function step() {
    const p = { W1: f64(W1, true), theta1: f64(theta1, true), W2: f64(W2, true), theta2: f64(theta2, true) };
    const y1 = sigmoid(add(matmul(f64(x), p.W1), p.theta1));
    const z = sigmoid(add(matmul(y1, p.W2), p.theta2));
    const E = sumSquaredError(z, f64(l));
    E.backward();
    const updated = (t: Tensor) => t.sub(t.grad!.mul(alpha)).arraySync() as number[] | Matrix;
    return { y1, z, E, p, updated };
  }

  it("forward: hidden 0.574, 0.574; outputs 0.743, 0.764; errors 0.743, −0.236; E = 0.304", () => {
    const { y1, z, E } = step();
    const [h, out] = [y1.dataSync(), z.dataSync()];
    expectPrinted(h[0]!, "0.574", "y1(1)");
    expectPrinted(h[1]!, "0.574", "y1(2)");
    expectPrinted(out[0]!, "0.743", "z(1)");
    expectPrinted(out[1]!, "0.764", "z(2)");
    expectPrinted(out[0]! - l[0]![0]!, "0.743", "E2^1");
    expectPrinted(out[1]! - l[0]![1]!, "-0.236", "E2^2");
    expectPrinted(E.itemSync(), "0.304", "E");
  });

  it("one step: W2 → [[0.359, 0.512], [0.359, 0.512]], θ2 → [0.529, 0.621], θ1 → [0.2957, 0.2957], W1 unchanged", () => {
    const { p, updated } = step();
    const w2 = updated(p.W2) as Matrix;
    [["0.359", "0.512"], ["0.359", "0.512"]].forEach((row, i) => row.forEach((v, j) => expectPrinted(w2[i]![j]!, v, `W2[${i}][${j}]`)));
    const t2 = updated(p.theta2) as number[];
    expectPrinted(t2[0]!, "0.529", "θ2(1)");
    expectPrinted(t2[1]!, "0.621", "θ2(2)");
    const t1 = updated(p.theta1) as number[];
    expectPrinted(t1[0]!, "0.2957", "θ1(1)");
    expectPrinted(t1[1]!, "0.2957", "θ1(2)");
    // The input is (0, 0), so ∂E/∂W1 = xᵀ·δ1 is exactly zero and W1 does not move.
    expect(p.W1.grad!.arraySync()).toEqual([[0, 0], [0, 0]]);
    expect(updated(p.W1)).toEqual(W1);
  });

  it("the lecture's own arithmetic for w2(1,1): 0.4 − 0.5 × 0.743 × 0.743 × (1 − 0.743) × 0.574 = 0.359", () => {
    expectPrinted(0.4 - 0.5 * 0.743 * 0.743 * (1 - 0.743) * 0.574, "0.359", "lecture arithmetic");
    // The lecture then writes "w1(1,2) 不变 … = w1(1,2) = 0.1", but W1 = [[0.1, 0.2], [0.2, 0.3]]
    // has w1(1,2) = 0.2 (0.1 is w1(1,1)): a slip in the lecture; what it shows — that w1(1,2)
    // keeps its value because x(1) = 0 — is what the test above checks.
  });

  it("the closed-form oracle gives the same step", () => {
    const r = reference.mlpGradients({ weights: [W1, W2], biases: [theta1, theta2], hidden: "sigmoid", output: "sigmoidSquaredError", x, y: l });
    expectPrinted(r.loss, "0.304", "oracle E");
    expectPrinted(W2[0]![0]! - alpha * r.weights[1]![0]![0]!, "0.359", "oracle W2[0][0]");
    expectPrinted(theta2[1]! - alpha * r.biases[1]![1]!, "0.621", "oracle θ2(2)");
    expectPrinted(theta1[0]! - alpha * r.biases[0]![0]!, "0.2957", "oracle θ1(1)");
  });
});

describe("lecture 000: the 5-4-3 example (sigmoid hidden, softmax output, cross-entropy)", () => {
  // 000_*.txt '例题': p_l = Σ_i x_i v_il, h_l = f(p_l) (sigmoid); o_j = Σ_l h_l w_lj, ŷ = softmax(o);
  // J = −log ŷ_y. So V = W⁽¹⁾ ∈ R^{5×4} (v_il: input i → hidden l) and W = W⁽²⁾ ∈ R^{4×3}
  // (w_lj: hidden l → output j), no biases. Indices are 1-based in the lecture: w₃₂ is W[2][1],
  // v₄₃ is V[3][2], x₄ is x[3], h₃ is h[2].
  test.prop([fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 2 })], { numRuns: 50 })(
    "∂J/∂w₃₂ = h₃(ŷ₂ − y₂) and ∂J/∂v₄₃ = x₄h₃(1 − h₃)Σⱼ w₃ⱼ(ŷⱼ − yⱼ) equal autograd (and so do all the other entries)",
    (seed, label) => {
      const g = new Generator(seed);
      const rnd = (r: number, c: number) => Array.from({ length: r }, () => Array.from({ length: c }, () => g.normal()));
      const xv = rnd(1, 5)[0]!;
      const Vv = rnd(5, 4);
      const Wv = rnd(4, 3);
      const y = [0, 1, 2].map((j) => (j === label ? 1 : 0));

      // Autograd.
      const V = f64(Vv, true);
      const W = f64(Wv, true);
      const J = crossEntropy(matmul(sigmoid(matmul(f64([xv]), V)), W), tensor([label], { dtype: "int32" }));
      J.backward();
      const dW = W.grad!.arraySync() as Matrix;
      const dV = V.grad!.arraySync() as Matrix;

      // The lecture's formulas in plain arithmetic.
      const h = [0, 1, 2, 3].map((l) => 1 / (1 + Math.exp(-xv.reduce((s, xi, i) => s + xi * Vv[i]![l]!, 0))));
      const o = [0, 1, 2].map((j) => h.reduce((s, hl, l) => s + hl * Wv[l]![j]!, 0));
      const e = o.map((v) => Math.exp(v - Math.max(...o)));
      const yhat = e.map((v) => v / e.reduce((a, b) => a + b, 0));
      const dWlj = (l: number, j: number) => h[l]! * (yhat[j]! - y[j]!);
      const dVil = (i: number, l: number) => xv[i]! * h[l]! * (1 - h[l]!) * [0, 1, 2].reduce((s, j) => s + Wv[l]![j]! * (yhat[j]! - y[j]!), 0);

      expect(Math.abs(dW[2]![1]! - dWlj(2, 1)), "∂J/∂w₃₂").toBeLessThan(1e-12);
      expect(Math.abs(dV[3]![2]! - dVil(3, 2)), "∂J/∂v₄₃").toBeLessThan(1e-12);
      for (let l = 0; l < 4; l++) for (let j = 0; j < 3; j++) expect(Math.abs(dW[l]![j]! - dWlj(l, j)), `w${l + 1}${j + 1}`).toBeLessThan(1e-12);
      for (let i = 0; i < 5; i++) for (let l = 0; l < 4; l++) expect(Math.abs(dV[i]![l]! - dVil(i, l)), `v${i + 1}${l + 1}`).toBeLessThan(1e-12);
    },
  );
});

describe("lecture 002: the trained Iris 4-6-3 network", () => {
  interface Iris {
    W1: Matrix; b1: number[]; W2: Matrix; b2: number[];
    inputs: Matrix; labels_onehot: Matrix;
    predictions_printed: Matrix; predictions_corrected: Matrix;
    typo: { row: number; column: number; printed: number; corrected: number };
  }
  const iris = JSON.parse(readFileSync(new URL("./fixtures/iris-lecture.json", import.meta.url), "utf8")) as Iris;
  // H = sigmoid(x·W1 + b1), y_pred = softmax(H·W2 + b2), as the lecture's '运算关系'.
  const predict = () => softmax(add(matmul(sigmoid(add(matmul(f64(iris.inputs), f64(iris.W1)), f64(iris.b1))), f64(iris.W2)), f64(iris.b2)));
  const maxAbsDiff = (a: Matrix, b: Matrix) => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i]![j]!))));

  it("reproduces the printed predictions within 1e-4 and classifies all six test flowers correctly", () => {
    const p = predict();
    expect(p.shape).toEqual([6, 3]);
    expect(maxAbsDiff(p.arraySync() as Matrix, iris.predictions_printed)).toBeLessThanOrEqual(1e-4);
    expect(Array.from(argmax(p, { axis: 1 }).dataSync())).toEqual(iris.labels_onehot.map((r) => r.indexOf(1)));
  });

  it("matches every printed value to ~1e-7 once the one typo is corrected", () => {
    // The printed weights have 8 decimals and the predictions 9 significant digits, computed in
    // float32 by the lecture's framework; recomputing in float64 from the rounded weights lands
    // within ~1.1e-7 of every printed value (measured), so 5e-7 is the honest tolerance here.
    const p = predict().arraySync() as Matrix;
    expect(maxAbsDiff(p, iris.predictions_corrected)).toBeLessThanOrEqual(5e-7);
  });

  it("the typo: row 1 column 1 is printed 9.9998450e-01; it is 9.99998450e-01", () => {
    // Reasoning: (a) it is the only printed number with 7 mantissa decimals instead of 8 — one '9'
    // was dropped; (b) the printed row sums to 0.99998609, not 1 (every other row sums to 1 within
    // 1.1e-7); (c) the forward pass gives 0.99999841, and 9.99998450e-01 is exactly how NumPy prints
    // the float32 number 1 − 26·2⁻²⁴ = 0.9999984503, the float32 neighbour of 0.99999841.
    const { row, column, printed, corrected } = iris.typo;
    expect(iris.predictions_printed[row]![column]).toBe(printed);
    const computed = (predict().arraySync() as Matrix)[row]![column]!;
    expect(Math.abs(computed - printed)).toBeGreaterThan(1e-5);
    expect(Math.abs(computed - corrected)).toBeLessThan(1e-7);
    const rowSum = (r: number[]) => r.reduce((a, b) => a + b, 0);
    expect(Math.abs(rowSum(iris.predictions_printed[row]!) - 1)).toBeGreaterThan(1e-5);
    expect(Math.abs(rowSum(iris.predictions_corrected[row]!) - 1)).toBeLessThan(1e-7);
    iris.predictions_printed.forEach((r, i) => i !== row && expect(Math.abs(rowSum(r) - 1), `row ${i}`).toBeLessThan(2e-7));
    expect(Math.fround(1 - 26 * 2 ** -24).toExponential(8)).toBe("9.99998450e-1");
  });
});

describe("lecture 001 and 002: loss examples", () => {
  it("relative entropy of outputs a and d against their one-hot labels (lecture: D_a = 0.07447962, D_d = 0.12555622)", () => {
    // 001_*.txt '相对熵损失函数': a) [0.07158904 0.92822515] → [0, 1], d) [0.11774177 0.88200493] → [0, 1].
    // klDiv takes log q and p (PyTorch's order).
    const D = (q: number[], p: Tensor) => klDiv(f64([q]).log(), p, { reduction: "sum" }).itemSync();
    const onehot = f64([[0, 1]]);
    const qa = [0.07158904, 0.92822515];
    const qd = [0.11774177, 0.88200493];
    // The lecture's formula, with its own 0 × log(0/q) = 0, gives exactly −log q₂:
    expect(D(qa, onehot)).toBeCloseTo(-Math.log(qa[1]!), 15); // 0.07448096
    expect(D(qd, onehot)).toBeCloseTo(-Math.log(qd[1]!), 15); // 0.12555763
    expect(D(qa, onehot)).toBeLessThan(D(qd, onehot)); // "a 和 d 哪个更准确": a, the smaller divergence
    // The printed 0.07447962 and 0.12555622 differ from that by 1.3e-6: they are what Keras's
    // KLD prints, which clips the target to [1e-7, 1] first, so the 0 × log 0 term becomes
    // 1e-7 × log(1e-7/q₁) ≈ −1.35e-6 — the lecture's numbers came from code, not from its formula.
    // Reproducing that clipping reproduces the printed digits (to 2e-8: Keras computes in float32,
    // a few ulps of 7.5e-9 at these magnitudes):
    const clipped = onehot.clamp({ min: 1e-7, max: 1 });
    expect(Math.abs(D(qa, clipped) - 0.07447962)).toBeLessThan(2e-8);
    expect(Math.abs(D(qd, clipped) - 0.12555622)).toBeLessThan(2e-8);
  });

  it("cross-entropy of y = [0, 0, 1] and f = [0.3, 0.3, 0.4] is −log 0.4 (lecture 002)", () => {
    const ce = nllLoss(f64([[0.3, 0.3, 0.4]]).log(), tensor([2], { dtype: "int32" }));
    expect(ce.itemSync()).toBeCloseTo(-Math.log(0.4), 15);
  });
});
