/**
 * Lecture 001's perceptron learning rule, y = u(W·x + θ) with the unit step u, trained sample
 * by sample: W ← W + η(y − ŷ)x, θ ← θ + η(y − ŷ), until an epoch has no misclassified point.
 * AND, OR and NOT are linearly separable and converge; XOR is not, so the rule never gets all
 * four points right and stops at the epoch limit — which is why the lecture moves on to a
 * network with a hidden layer (examples/xor.ts).
 *
 *   pnpm tsx --conditions=source examples/perceptron.ts [--eta 0.1] [--max-epochs 100] [--seed 0]
 */
import { Generator, rand, tensor, type Tensor } from "@deltagrad/autograd";
import { step } from "@deltagrad/nn";
import { isMain, parseFlags } from "./shared/cli.js";

/** The lecture's truth tables: inputs and the 0/1 label. */
export const GATES: Record<string, { x: number[][]; y: number[] }> = {
  AND: { x: [[0, 0], [0, 1], [1, 0], [1, 1]], y: [0, 0, 0, 1] },
  OR: { x: [[0, 0], [0, 1], [1, 0], [1, 1]], y: [0, 1, 1, 1] },
  NOT: { x: [[0], [1]], y: [1, 0] },
  XOR: { x: [[0, 0], [0, 1], [1, 0], [1, 1]], y: [0, 1, 1, 0] },
};

export interface PerceptronResult {
  gate: string;
  converged: boolean;
  /** Epochs run: the first error-free epoch when converged, else the limit. */
  epochs: number;
  weights: number[];
  threshold: number;
  /** Misclassified points in the last epoch. */
  errors: number;
  /** The trained perceptron's output for each row of the truth table. */
  predictions: number[];
}

/** ŷ = u(W·x + θ) for one sample. */
function predictOne(w: Tensor, theta: Tensor, x: Tensor): number {
  return step(x.mul(w).sum().add(theta)).itemSync();
}

/** Runs the perceptron rule on one truth table, starting from seeded random W, θ in [−1, 1). */
export function trainPerceptron(gate: string, { eta = 0.1, maxEpochs = 100, seed = 0 } = {}): PerceptronResult {
  const { x, y } = GATES[gate]!;
  const g = new Generator(seed);
  let w = rand([x[0]!.length], { generator: g }).mul(2).sub(1);
  let theta = rand([], { generator: g }).mul(2).sub(1);
  const xs = x.map((r) => tensor(r));
  let epochs = 0;
  let errors = 0;
  do {
    epochs++;
    errors = 0;
    xs.forEach((xi, i) => {
      const d = y[i]! - predictOne(w, theta, xi); // y − ŷ ∈ {−1, 0, 1}
      if (d === 0) return;
      errors++;
      w = w.add(xi.mul(eta * d));
      theta = theta.add(eta * d);
    });
  } while (errors > 0 && epochs < maxEpochs);
  return {
    gate,
    converged: errors === 0,
    epochs,
    weights: Array.from(w.dataSync()),
    threshold: theta.itemSync(),
    errors,
    predictions: xs.map((xi) => predictOne(w, theta, xi)),
  };
}

export interface PerceptronOptions {
  eta?: number;
  maxEpochs?: number;
  seed?: number;
  log?: (line: string) => void;
}

export function main({ eta = 0.1, maxEpochs = 100, seed = 0, log = console.log }: PerceptronOptions = {}): PerceptronResult[] {
  log(`Perceptron rule (lecture 001): η = ${eta}, at most ${maxEpochs} epochs, random start (seed ${seed})\n`);
  const results = Object.keys(GATES).map((gate) => trainPerceptron(gate, { eta, maxEpochs, seed }));
  for (const r of results) {
    const w = r.weights.map((v) => v.toFixed(3)).join(", ");
    const table = GATES[r.gate]!.x.map((xi, i) => `${xi.join("")}→${r.predictions[i]}`).join(" ");
    if (r.converged) {
      log(`${r.gate.padEnd(4)} converged after ${r.epochs} epochs: W = [${w}], θ = ${r.threshold.toFixed(3)}   ${table}`);
    } else {
      log(`${r.gate.padEnd(4)} did NOT converge in ${r.epochs} epochs (${r.errors} of ${r.predictions.length} points still misclassified in the last epoch): W = [${w}], θ = ${r.threshold.toFixed(3)}   ${table}`);
      log(`     ${r.gate} is not linearly separable: no line W·x + θ = 0 splits its classes, so a single perceptron cannot learn it.`);
    }
  }
  return results;
}

if (isMain(import.meta.url)) {
  const f = parseFlags(process.argv.slice(2), { eta: 0.1, maxEpochs: 100, seed: 0 });
  main({ eta: f.eta as number, maxEpochs: f.maxEpochs as number, seed: f.seed as number });
}
