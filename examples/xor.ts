/**
 * Lecture 001's 2-2-2 sigmoid network for XOR (labels one-hot: (0,1) for false, (1,0) for true).
 * First the lecture's worked step by hand — W1 = [[0.1, 0.2], [0.2, 0.3]], θ1 = [0.3, 0.3],
 * W2 = [[0.4, 0.5], [0.4, 0.5]], θ2 = [0.6, 0.6], sample (0, 0) with label (0, 1),
 * E = ½Σ(z − l)², α = 0.5 — with its printed numbers; then the lecture's training loop: 2,000
 * epochs of one gradient step per sample, in order, from the same starting weights, ending with
 * the outputs the lecture prints (0.07158904 0.92822515, …), reproduced to all eight digits.
 *
 *   pnpm tsx --conditions=source examples/xor.ts [--epochs 2000] [--lr 0.5]
 */
import { tensor, type Tensor } from "@deltagrad/autograd";
import { Linear, Sequential, Sigmoid, predict, sumSquaredError } from "@deltagrad/nn";
import { SGD } from "@deltagrad/optim";
import { isMain, parseFlags } from "./shared/cli.js";

/** The lecture's starting weights; Linear's weight layout [in, out] is the lecture's W[k][j] = w^(k,j). */
export const LECTURE_WEIGHTS = {
  "0.weight": [[0.1, 0.2], [0.2, 0.3]],
  "0.bias": [0.3, 0.3],
  "2.weight": [[0.4, 0.5], [0.4, 0.5]],
  "2.bias": [0.6, 0.6],
};

/**
 * The outputs the lecture prints for the four samples in the last of its 2,000 epochs (each
 * computed just before that sample's update); they reappear as rows a)–d) of its
 * cross-entropy discussion.
 */
export const LECTURE_TRAINED = [
  [0.07158904, 0.92822515],
  [0.9138734, 0.08633152],
  [0.91375259, 0.08644981],
  [0.11774177, 0.88200493],
];

/** XOR inputs and one-hot labels, in the lecture's order. */
export const XOR_X = [[0, 0], [0, 1], [1, 0], [1, 1]];
export const XOR_L = [[0, 1], [1, 0], [1, 0], [0, 1]];

/** The 2-2-2 net: hidden y1 = g(x·W1 + θ1), output z = g(y1·W2 + θ2), g the sigmoid. */
export function lectureNet(): Sequential {
  // float64, as the lecture's numpy, so 8,000 updates later the outputs still match its digits.
  const net = new Sequential(new Linear(2, 2, { dtype: "float64" }), new Sigmoid(), new Linear(2, 2, { dtype: "float64" }), new Sigmoid());
  net.loadStateDict(Object.fromEntries(Object.entries(LECTURE_WEIGHTS).map(([k, v]) => [k, tensor(v, { dtype: "float64" })])));
  return net;
}

const rows = (t: Tensor) => t.arraySync() as number[][];
const vec = (t: Tensor) => Array.from(t.dataSync());

export interface WorkedStep {
  hidden: number[];
  outputs: number[];
  error: number;
  W1: number[][];
  theta1: number[];
  W2: number[][];
  theta2: number[];
}

/** One forward pass, E = ½Σ(z − l)², backward and W ← W − α·∂E/∂W on the first sample. */
export function workedStep(lr = 0.5): WorkedStep {
  const net = lectureNet();
  const x = tensor([XOR_X[0]!], { dtype: "float64" });
  const hiddenT = net.at(1)!.call(net.at(0)!.call(x));
  const z = net.at(3)!.call(net.at(2)!.call(hiddenT));
  const e = sumSquaredError(z, tensor([XOR_L[0]!], { dtype: "float64" }));
  e.backward();
  new SGD(net.parameters(), { lr }).step();
  const sd = net.stateDict();
  return {
    hidden: vec(hiddenT),
    outputs: vec(z),
    error: e.itemSync(),
    W1: rows(sd["0.weight"]!),
    theta1: vec(sd["0.bias"]!),
    W2: rows(sd["2.weight"]!),
    theta2: vec(sd["2.bias"]!),
  };
}

export interface XorOptions {
  epochs?: number;
  lr?: number;
  log?: (line: string) => void;
}

export async function main({ epochs = 2000, lr = 0.5, log = console.log }: XorOptions = {}) {
  const f3 = (v: number) => v.toFixed(3);
  const f4 = (v: number) => v.toFixed(4);
  const m = (a: number[][], f: (v: number) => string) => `[${a.map((r) => `[${r.map(f).join(", ")}]`).join(", ")}]`;
  const v = (a: number[], f: (v: number) => string) => `[${a.map(f).join(", ")}]`;

  const s = workedStep(lr);
  log("Lecture 001's worked step: input (0, 0), label (0, 1), α = " + lr);
  log(`  hidden y1        ${v(s.hidden, f3)}            (lecture: 0.574, 0.574)`);
  log(`  outputs z        ${v(s.outputs, f3)}            (lecture: 0.743, 0.764)`);
  log(`  E = ½Σ(z − l)²   ${f3(s.error)}                     (lecture: 0.304)`);
  log(`  new W2           ${m(s.W2, f3)}  (lecture: 0.359, 0.512, 0.359, 0.512)`);
  log(`  new θ2           ${v(s.theta2, f3)}            (lecture: θ2(1) = 0.529)`);
  log(`  new W1           ${m(s.W1, f4)}  (x = 0: unchanged, as the lecture's w1(1,2) = 0.1)`);
  log(`  new θ1           ${v(s.theta1, f4)}`);

  // The lecture's loop: every epoch visits the four samples in order, one update each. Like the
  // lecture's code, remember the outputs z each sample gets in the last epoch (before its update):
  // those are the numbers the lecture prints.
  const net = lectureNet();
  const optimizer = new SGD(net.parameters(), { lr });
  const samples = XOR_X.map((xi, i) => ({ x: tensor([xi], { dtype: "float64" }), l: tensor([XOR_L[i]!], { dtype: "float64" }) }));
  const meanError: number[] = [];
  let lastEpoch: number[][] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    let e = 0;
    lastEpoch = samples.map(({ x, l }) => {
      optimizer.zeroGrad();
      const z = net.call(x);
      const err = sumSquaredError(z, l);
      err.backward();
      optimizer.step();
      e += err.itemSync();
      return vec(z);
    });
    meanError.push(e / samples.length);
  }
  const predictions = rows(predict(net, tensor(XOR_X, { dtype: "float64" })));
  const atLecture = epochs === 2000 && lr === 0.5;
  log(`\nTraining, ${epochs} epochs: mean E per sample ${meanError[0]!.toFixed(5)} in epoch 1, ${meanError.at(-1)!.toFixed(5)} in epoch ${epochs}.`);
  log(`Outputs z in the last epoch, as the lecture's loop prints them${atLecture ? " (lecture's printed values alongside)" : ""}:`);
  XOR_X.forEach((xi, i) => {
    const lecture = atLecture ? `   (lecture: ${v(LECTURE_TRAINED[i]!, (t) => t.toFixed(8))})` : "";
    log(`  (${xi.join(", ")}) → z = ${v(lastEpoch[i]!, (t) => t.toFixed(8))}${lecture}`);
  });
  log("Predictions of the trained net:");
  XOR_X.forEach((xi, i) => {
    const p = predictions[i]!;
    const xor = p[0]! > p[1]! ? 1 : 0; // l = (1, 0) means true
    log(`  (${xi.join(", ")}) → z = ${v(p, f4)}   label ${v(XOR_L[i]!, String)}   XOR = ${xor}`);
  });
  return { worked: s, lastEpoch, predictions, meanError };
}

if (isMain(import.meta.url)) {
  const f = parseFlags(process.argv.slice(2), { epochs: 2000, lr: 0.5 });
  await main({ epochs: f.epochs as number, lr: f.lr as number });
}
