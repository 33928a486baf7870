import { describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { DeltagradError, Generator, add, matmul, relu, sigmoid, tanh, tensor, type Tensor } from "@deltagrad/autograd";
import { crossEntropy, reference, sumSquaredError } from "@deltagrad/nn";

type Matrix = number[][];
type Hidden = reference.HiddenActivation;
type Output = reference.OutputLoss;

const HIDDEN: Record<Hidden, (x: Tensor) => Tensor> = { sigmoid, tanh, relu };

interface Net {
  widths: number[];
  batch: number;
  hidden: Hidden;
  output: Output;
  /** For softmax: class indices (true) or probability rows (false). */
  indexTargets: boolean;
  seed: number;
}

const netArb: fc.Arbitrary<Net> = fc.record({
  // 2–4 weight layers, every width 1–6.
  widths: fc.integer({ min: 2, max: 4 }).chain((layers) => fc.array(fc.integer({ min: 1, max: 6 }), { minLength: layers + 1, maxLength: layers + 1 })),
  batch: fc.integer({ min: 1, max: 5 }),
  hidden: fc.constantFrom<Hidden>("sigmoid", "tanh", "relu"),
  output: fc.constantFrom<Output>("softmaxCrossEntropy", "sigmoidSquaredError"),
  indexTargets: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

function build(net: Net): reference.MlpSpec {
  const g = new Generator(net.seed);
  const mat = (r: number, c: number, scale: number): Matrix => Array.from({ length: r }, () => Array.from({ length: c }, () => scale * g.normal()));
  const L = net.widths.length - 1;
  const out = net.widths[L]!;
  const weights = Array.from({ length: L }, (_, l) => mat(net.widths[l]!, net.widths[l + 1]!, 1 / Math.sqrt(net.widths[l]!)));
  const biases = Array.from({ length: L }, (_, l) => mat(1, net.widths[l + 1]!, 0.5)[0]!);
  const x = mat(net.batch, net.widths[0]!, 1);
  let y: Matrix | number[];
  if (net.output === "sigmoidSquaredError") y = mat(net.batch, out, 1).map((r) => r.map((v) => 1 / (1 + Math.exp(-v))));
  else if (net.indexTargets) y = Array.from({ length: net.batch }, () => g.int(0, out));
  else {
    y = mat(net.batch, out, 1).map((r) => {
      const e = r.map(Math.exp);
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    });
  }
  return { weights, biases, hidden: net.hidden, output: net.output, x, y };
}

/** The same network built directly from autograd ops; returns the loss and the parameter gradients. */
function autogradGradients(spec: reference.MlpSpec): { loss: number; weights: Matrix[]; biases: number[][] } {
  const f64 = (v: number[] | Matrix, requiresGrad = false) => tensor(v, { dtype: "float64", requiresGrad });
  const W = spec.weights.map((w) => f64(w, true));
  const b = spec.biases.map((v) => f64([...v], true));
  let a = f64(spec.x);
  let z = a;
  W.forEach((w, l) => {
    z = add(matmul(a, w), b[l]!);
    a = l < W.length - 1 ? HIDDEN[spec.hidden](z) : z;
  });
  let loss: Tensor;
  if (spec.output === "sigmoidSquaredError") loss = sumSquaredError(sigmoid(z), f64(spec.y as Matrix));
  else if (typeof spec.y[0] === "number") loss = crossEntropy(z, tensor(spec.y as number[], { dtype: "int32" }));
  else loss = crossEntropy(z, f64(spec.y as Matrix));
  loss.backward();
  return {
    loss: loss.itemSync(),
    weights: W.map((w) => w.grad!.arraySync() as Matrix),
    biases: b.map((v) => v.grad!.arraySync() as number[]),
  };
}

function maxDiff(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b);
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return Infinity;
    return a.reduce((m: number, v, i) => Math.max(m, maxDiff(v, b[i])), 0);
  }
  return Infinity;
}

describe("closed-form BP oracle (lecture 000) vs autograd", () => {
  let runs = 0;
  let nonTrivial = 0;
  test.prop([netArb], { numRuns: 200 })("loss and every gradient agree within 1e-9 (float64)", (net) => {
    const spec = build(net);
    const oracle = reference.mlpGradients(spec);
    const auto = autogradGradients(spec);
    expect(maxDiff(auto.loss, oracle.loss), "loss").toBeLessThanOrEqual(1e-9);
    expect(maxDiff(auto.weights, oracle.weights), "∂J/∂W").toBeLessThanOrEqual(1e-9);
    expect(maxDiff(auto.biases, oracle.biases), "∂J/∂b").toBeLessThanOrEqual(1e-9);
    runs++;
    if (oracle.weights.flat(2).some((v) => Math.abs(v) > 1e-6)) nonTrivial++;
  });

  it("compared non-zero gradients in most runs (dead relu nets and 1-class softmax give zeros legitimately)", () => {
    expect(runs).toBe(200);
    expect(nonTrivial).toBeGreaterThan(150);
  });
});

describe("the oracle on its own (no autograd)", () => {
  test.prop([netArb], { numRuns: 40 })("gradients match central finite differences of mlpForward's loss", (net) => {
    const spec = build({ ...net, hidden: net.hidden === "relu" ? "tanh" : net.hidden }); // smooth, so differences are exact to O(ε²)
    const r = reference.mlpGradients(spec);
    const eps = 1e-6;
    const lossAt = (mutate: (s: reference.MlpSpec) => void) => {
      const s = structuredClone(spec) as reference.MlpSpec;
      mutate(s);
      return reference.mlpForward(s).loss;
    };
    spec.weights.forEach((w, l) =>
      w.forEach((row, i) =>
        row.forEach((_, j) => {
          const num = (lossAt((s) => (s.weights[l]![i]![j]! += eps)) - lossAt((s) => (s.weights[l]![i]![j]! -= eps))) / (2 * eps);
          expect(Math.abs(num - r.weights[l]![i]![j]!), `W${l + 1}[${i}][${j}]`).toBeLessThan(1e-7);
        }),
      ),
    );
    spec.biases.forEach((bv, l) =>
      bv.forEach((_, j) => {
        const num = (lossAt((s) => ((s.biases[l] as number[])[j]! += eps)) - lossAt((s) => ((s.biases[l] as number[])[j]! -= eps))) / (2 * eps);
        expect(Math.abs(num - r.biases[l]![j]!), `b${l + 1}[${j}]`).toBeLessThan(1e-7);
      }),
    );
  });

  it("δᴸ is (a − y)/m for softmax + CE and a(1 − a)(a − y) for sigmoid + SE", () => {
    const base = { weights: [[[1, -1]]], biases: [[0.5, 0]], hidden: "sigmoid" as const, x: [[2], [0]] };
    const ce = reference.mlpGradients({ ...base, output: "softmaxCrossEntropy", y: [1, 0] });
    ce.a[1]!.forEach((row, i) => row.forEach((a, j) => expect(ce.deltas[0]![i]![j]).toBeCloseTo((a - (j === [1, 0][i] ? 1 : 0)) / 2, 15)));
    const se = reference.mlpGradients({ ...base, output: "sigmoidSquaredError", y: [[1, 0], [0, 1]] });
    const y = [[1, 0], [0, 1]];
    se.a[1]!.forEach((row, i) => row.forEach((a, j) => expect(se.deltas[0]![i]![j]).toBeCloseTo(a * (1 - a) * (a - y[i]![j]!), 15)));
    // ∂J/∂W = Xᵀδ: the second sample has x = 0, so only the first row of δ counts.
    expect(se.weights[0]![0]![0]).toBeCloseTo(2 * se.deltas[0]![0]![0]!, 15);
    expect(se.biases[0]![1]).toBeCloseTo(se.deltas[0]![0]![1]! + se.deltas[0]![1]![1]!, 15);
  });

  it("rejects malformed specs with a DeltagradError", () => {
    const ok = { weights: [[[1, 2]]], biases: [[0, 0]], hidden: "relu" as const, output: "softmaxCrossEntropy" as const, x: [[1]], y: [1] };
    expect(() => reference.mlpGradients(ok)).not.toThrow();
    const bad: [Partial<reference.MlpSpec>, RegExp][] = [
      [{ weights: [[[1, 2], [3, 4]]] }, /weights\[0\] has 2 rows, expected 1/],
      [{ biases: [[0]] }, /biases\[0\] has length 1, expected 2/],
      [{ y: [2] }, /label 2 at \[0\] is out of range for 2 classes/],
      [{ y: [[1, 0], [0, 1]] }, /y has 2 rows, x has 1/],
      [{ hidden: "gelu" as Hidden }, /hidden must be/],
      [{ output: "sigmoidSquaredError", y: [1] }, /class-index targets need the softmaxCrossEntropy output/],
    ];
    for (const [patch, msg] of bad) {
      const f = () => reference.mlpGradients({ ...ok, ...patch });
      expect(f).toThrow(DeltagradError);
      expect(f).toThrow(msg);
    }
  });
});
