import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tensor, type Tensor } from "@deltagrad/autograd";
import { Adam, SGD } from "@deltagrad/optim";
import { Linear, Sequential, Sigmoid, crossEntropy, reference } from "@deltagrad/nn";

type Matrix = number[][];
interface Params { W1: Matrix; b1: number[]; W2: Matrix; b2: number[] }
interface TrainCase {
  name: string;
  optimizer: "SGD" | "Adam";
  options: Record<string, number>;
  steps: number;
  layers: number[];
  hidden_activation: string;
  init: Params;
  X: Matrix;
  labels: number[];
  losses: number[];
  final_loss: number;
  grads_step1: Params;
  params: Params[];
}

// Notes of the fixture: H = sigmoid(X·W1 + b1); logits = H·W2 + b2; mean softmax cross-entropy with
// int labels; weights stored [in, out] (PyTorch's nn.Linear weight transposed). losses[t] is the
// loss before step t, params[t] the parameters after step t, grads_step1 the gradients at init.
const fixture = JSON.parse(readFileSync(new URL("./fixtures/mlp_train.json", import.meta.url), "utf8")) as { dtype: string; notes: string; cases: TrainCase[] };

const f64 = (v: number[] | Matrix) => tensor(v, { dtype: "float64" });
const KEYS = ["W1", "b1", "W2", "b2"] as const;

function maxDiff(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b);
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) return a.reduce((m: number, v, i) => Math.max(m, maxDiff(v, b[i])), 0);
  return Infinity;
}

/** nn's Sequential(Linear, Sigmoid, Linear) in float64, loaded with the fixture's init. */
function buildModel(c: TrainCase) {
  const [nIn, nHidden, nOut] = c.layers as [number, number, number];
  const fc1 = new Linear(nIn, nHidden, { dtype: "float64" });
  const fc2 = new Linear(nHidden, nOut, { dtype: "float64" });
  const model = new Sequential(fc1, new Sigmoid(), fc2);
  const p: Record<(typeof KEYS)[number], Tensor> = { W1: fc1.weight, b1: fc1.bias!, W2: fc2.weight, b2: fc2.bias! };
  for (const k of KEYS) p[k].assign(f64(c.init[k]));
  const snapshot = (): Params => ({ W1: p.W1.arraySync() as Matrix, b1: p.b1.arraySync() as number[], W2: p.W2.arraySync() as Matrix, b2: p.b2.arraySync() as number[] });
  return { model, p, snapshot };
}

describe("PyTorch fixture mlp_train.json: a 4-6-3 sigmoid MLP trained with real optimizers (float64)", () => {
  it("has the float64 cases this file expects", () => {
    expect(fixture.dtype).toBe("float64");
    expect(fixture.cases.map((c) => c.name)).toEqual(["sgd_lr0.5", "sgd_momentum0.9_lr0.1", "adam_lr0.01"]);
  });

  it.each(fixture.cases.map((c) => [c.name, c] as const))("%s: losses per step, gradients at init and parameters after every step within 1e-6", (_, c) => {
    expect(c.hidden_activation).toBe("sigmoid");
    const { model, p, snapshot } = buildModel(c);
    const opt = c.optimizer === "SGD" ? new SGD(model.parameters(), c.options) : new Adam(model.parameters(), c.options);
    const x = f64(c.X);
    const y = tensor(c.labels, { dtype: "int32" });
    const loss = () => crossEntropy(model.call(x), y);

    for (let t = 0; t < c.steps; t++) {
      opt.zeroGrad();
      const l = loss();
      expect(Math.abs(l.itemSync() - c.losses[t]!), `loss before step ${t}`).toBeLessThanOrEqual(1e-6);
      l.backward();
      if (t === 0) {
        for (const k of KEYS) expect(maxDiff(p[k].grad!.arraySync(), c.grads_step1[k]), `grad ${k} at init`).toBeLessThanOrEqual(1e-6);
      }
      opt.step();
      const now = snapshot();
      for (const k of KEYS) expect(maxDiff(now[k], c.params[t]![k]), `${k} after step ${t}`).toBeLessThanOrEqual(1e-6);
    }
    expect(Math.abs(loss().itemSync() - c.final_loss), "final loss").toBeLessThanOrEqual(1e-6);
  });

  it("the closed-form oracle reproduces PyTorch's gradients at init too", () => {
    const c = fixture.cases[0]!;
    const r = reference.mlpGradients({
      weights: [c.init.W1, c.init.W2], biases: [c.init.b1, c.init.b2],
      hidden: "sigmoid", output: "softmaxCrossEntropy", x: c.X, y: c.labels,
    });
    expect(Math.abs(r.loss - c.losses[0]!)).toBeLessThanOrEqual(1e-12);
    expect(maxDiff(r.weights, [c.grads_step1.W1, c.grads_step1.W2])).toBeLessThanOrEqual(1e-12);
    expect(maxDiff(r.biases, [c.grads_step1.b1, c.grads_step1.b2])).toBeLessThanOrEqual(1e-12);
  });
});
