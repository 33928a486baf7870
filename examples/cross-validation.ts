/**
 * Lecture 000's homework 5: a three-layer BP network, compared with logistic regression and
 * softmax regression by 5-fold cross-validation on iris. All three are trained the same way
 * (Adam, full batch, features standardized with statistics from the training folds only):
 *   - BP network: 4 → 6 sigmoid → 3, softmax + cross-entropy (lecture 002's net);
 *   - softmax regression: one Linear(4, 3), softmax + cross-entropy;
 *   - logistic regression: one Linear(4, 3) read as three one-vs-rest logistic units, sigmoid +
 *     binary cross-entropy per class; predict the class with the largest logit.
 * Folds are stratified (10 of each class per fold), shuffled with a seed. Prints each fold's
 * accuracy and the mean ± sample standard deviation per model.
 *
 *   pnpm tsx --conditions=source examples/cross-validation.ts [--folds 5] [--epochs 300] [--lr 0.05] [--seed 0]
 */
import { manualSeed, oneHot, type Tensor } from "@deltagrad/autograd";
import { Linear, MLP, Standardizer, binaryCrossEntropyWithLogits, crossEntropy, evaluate, fit, stratifiedKFold, takeRows, type Module } from "@deltagrad/nn";
import { Adam } from "@deltagrad/optim";
import { isMain, parseFlags } from "./shared/cli.js";
import { loadIris } from "./shared/datasets.js";

interface ModelSpec {
  name: string;
  build: () => Module;
  /** (logits, int32 labels) → loss. */
  loss: (logits: Tensor, y: Tensor) => Tensor;
}

export const MODELS: ModelSpec[] = [
  { name: "BP network 4-6-3", build: () => new MLP([4, 6, 3], { activation: "sigmoid" }), loss: crossEntropy },
  // One-vs-rest: each column is its own logistic regression against a 0/1 target.
  { name: "logistic regression", build: () => new Linear(4, 3), loss: (z, y) => binaryCrossEntropyWithLogits(z, oneHot(y, 3)) },
  { name: "softmax regression", build: () => new Linear(4, 3), loss: crossEntropy },
];

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const sampleSd = (a: number[]) => Math.sqrt(a.reduce((s, v) => s + (v - mean(a)) ** 2, 0) / (a.length - 1));

export interface CrossValidationOptions {
  folds?: number;
  epochs?: number;
  lr?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface ModelScore {
  name: string;
  accuracies: number[];
  mean: number;
  sd: number;
}

export async function main({ folds = 5, epochs = 300, lr = 0.05, seed = 0, log = console.log }: CrossValidationOptions = {}): Promise<ModelScore[]> {
  const { x, y } = loadIris();
  const splits = stratifiedKFold(y, folds, { shuffle: true, seed });
  log(`Iris, ${folds}-fold stratified cross-validation (seed ${seed}); Adam lr ${lr}, full batch, ${epochs} epochs\n`);
  const scores: ModelScore[] = [];
  for (const spec of MODELS) {
    const accuracies: number[] = [];
    for (const [k, fold] of splits.entries()) {
      const scaler = new Standardizer().fit(takeRows(x, fold.train));
      const xTrain = scaler.transform(takeRows(x, fold.train));
      const xTest = scaler.transform(takeRows(x, fold.test));
      manualSeed(seed * 100 + k);
      const model = spec.build();
      await fit(model, {
        x: xTrain, y: takeRows(y, fold.train), loss: spec.loss, optimizer: new Adam(model.parameters(), { lr }),
        epochs, batchSize: fold.train.length, verbose: 0, seed,
      });
      accuracies.push(evaluate(model, xTest, takeRows(y, fold.test), { loss: spec.loss, metrics: ["accuracy"] }).metrics.accuracy!);
    }
    const s = { name: spec.name, accuracies, mean: mean(accuracies), sd: sampleSd(accuracies) };
    scores.push(s);
    log(`${s.name.padEnd(20)} ${(100 * s.mean).toFixed(1)} % ± ${(100 * s.sd).toFixed(1)} %   folds: ${accuracies.map((a) => (100 * a).toFixed(1)).join(", ")}`);
  }
  return scores;
}

if (isMain(import.meta.url)) {
  const f = parseFlags(process.argv.slice(2), { folds: 5, epochs: 300, lr: 0.05, seed: 0 });
  await main({ folds: f.folds as number, epochs: f.epochs as number, lr: f.lr as number, seed: f.seed as number });
}
