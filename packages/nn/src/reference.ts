/**
 * The closed-form back-propagation of lecture 000 in matrix form, written with plain arrays of
 * float64 numbers and **no autograd**: a test oracle for the autograd engine, and a readable
 * statement of the δ formulas.
 *
 * Layout (DESIGN.md): weights `[in, out]`, a batch of rows X `[m, in]`, Z = X·W + b.
 * - forward: Zˡ = Aˡ⁻¹·Wˡ + bˡ, Aˡ = g(Zˡ), A⁰ = X;
 * - output error: δᴸ = (A − Y)/m for softmax + cross-entropy (mean over the batch), or
 *   δᴸ = A ⊙ (1 − A) ⊙ (A − Y) for sigmoid + squared error E = ½ Σ (A − Y)² (summed);
 * - back-propagation: δˡ = g′(Zˡ) ⊙ (δˡ⁺¹ · (Wˡ⁺¹)ᵀ);
 * - gradients: ∂J/∂Wˡ = (Aˡ⁻¹)ᵀ · δˡ, ∂J/∂bˡ = Σ over the batch of δˡ.
 *
 * @example
 * ```ts
 * import { reference } from "@deltagrad/nn";
 * const r = reference.mlpGradients({
 *   weights: [[[0.1, 0.2], [0.2, 0.3]], [[0.4, 0.5], [0.4, 0.5]]],
 *   biases: [[0.3, 0.3], [0.6, 0.6]],
 *   hidden: "sigmoid", output: "sigmoidSquaredError",
 *   x: [[0, 0]], y: [[0, 1]],
 * });
 * r.loss; // 0.3036 (lecture 001's E = 0.304)
 * ```
 */
import { DeltagradError } from "@deltagrad/autograd";

/** A dense matrix as rows of numbers. */
export type Matrix = number[][];

/** Hidden-layer activation g and its derivative g′ (relu′(0) = 0, as autograd). */
export type HiddenActivation = "sigmoid" | "tanh" | "relu";

/**
 * Output layer and loss: softmax + cross-entropy averaged over the batch, or sigmoid + the
 * squared error ½ Σ (a − y)² summed over outputs and batch.
 */
export type OutputLoss = "softmaxCrossEntropy" | "sigmoidSquaredError";

export interface MlpSpec {
  /** Wˡ for l = 1…L, each `[in, out]`. */
  weights: readonly Matrix[];
  /** bˡ for l = 1…L, each of length `out`. */
  biases: readonly (readonly number[])[];
  hidden: HiddenActivation;
  output: OutputLoss;
  /** Inputs, one row per sample: `[m, in]`. */
  x: Matrix;
  /**
   * Targets `[m, out]` (one-hot or probability rows for softmax; values for squared error), or
   * class indices `[m]` (softmax only), turned into one-hot rows.
   */
  y: Matrix | readonly number[];
}

export interface MlpForward {
  /** Zˡ for l = 1…L (net inputs). */
  z: Matrix[];
  /** Aˡ for l = 0…L (A⁰ = X; Aᴸ the softmax or sigmoid output). */
  a: Matrix[];
  /** The loss J. */
  loss: number;
}

export interface MlpGradients extends MlpForward {
  /** δˡ = ∂J/∂Zˡ for l = 1…L. */
  deltas: Matrix[];
  /** ∂J/∂Wˡ, shaped like the weights. */
  weights: Matrix[];
  /** ∂J/∂bˡ, shaped like the biases. */
  biases: number[][];
}

const g: Record<HiddenActivation, (z: number) => number> = {
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  tanh: Math.tanh,
  relu: (z) => (z > 0 ? z : 0),
};

/** g′ written in terms of z (the lecture's table: σ′ = σ(1 − σ), tanh′ = 1 − tanh²). */
const gPrime: Record<HiddenActivation, (z: number) => number> = {
  sigmoid: (z) => g.sigmoid(z) * (1 - g.sigmoid(z)),
  tanh: (z) => 1 - Math.tanh(z) ** 2,
  relu: (z) => (z > 0 ? 1 : 0),
};

const map = (m: Matrix, f: (v: number, i: number, j: number) => number): Matrix => m.map((row, i) => row.map((v, j) => f(v, i, j)));
const transpose = (m: Matrix): Matrix => (m.length === 0 ? [] : m[0]!.map((_, j) => m.map((row) => row[j]!)));

function matmul(a: Matrix, b: Matrix): Matrix {
  const n = b[0]?.length ?? 0;
  return a.map((row) => {
    const out = new Array<number>(n).fill(0);
    row.forEach((aik, k) => {
      const bk = b[k]!;
      for (let j = 0; j < n; j++) out[j]! += aik * bk[j]!;
    });
    return out;
  });
}

function checkSpec(spec: MlpSpec): Matrix {
  const { weights, biases, hidden, output, x, y } = spec;
  const fail = (msg: string): never => {
    throw new DeltagradError(`reference.mlp: ${msg}`);
  };
  if (!(hidden in g)) fail(`hidden must be "sigmoid", "tanh" or "relu", got ${JSON.stringify(hidden)}`);
  if (output !== "softmaxCrossEntropy" && output !== "sigmoidSquaredError") fail(`output must be "softmaxCrossEntropy" or "sigmoidSquaredError", got ${JSON.stringify(output)}`);
  if (weights.length === 0 || weights.length !== biases.length) fail(`need as many bias vectors as weight matrices (≥ 1), got ${weights.length} and ${biases.length}`);
  let width = x[0]?.length ?? 0;
  if (x.some((r) => r.length !== width)) fail("x rows differ in length");
  weights.forEach((w, l) => {
    if (w.length !== width) fail(`weights[${l}] has ${w.length} rows, expected ${width} (its layer's input width)`);
    const out = w[0]?.length ?? 0;
    if (w.some((r) => r.length !== out)) fail(`weights[${l}] rows differ in length`);
    if (biases[l]!.length !== out) fail(`biases[${l}] has length ${biases[l]!.length}, expected ${out}`);
    width = out;
  });
  if (y.length !== x.length) fail(`y has ${y.length} rows, x has ${x.length}`);
  if (y.every((r) => typeof r === "number")) {
    if (output !== "softmaxCrossEntropy") fail("class-index targets need the softmaxCrossEntropy output");
    return (y as readonly number[]).map((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c >= width) fail(`label ${c} at [${i}] is out of range for ${width} classes`);
      return Array.from({ length: width }, (_, j) => (j === c ? 1 : 0));
    });
  }
  const ym = y as Matrix;
  if (ym.some((r) => !Array.isArray(r) || r.length !== width)) fail(`y rows must have the output width ${width}`);
  return ym;
}

function forwardWith(spec: MlpSpec, y: Matrix): MlpForward {
  const L = spec.weights.length;
  const a: Matrix[] = [spec.x.map((r) => r.slice())];
  const z: Matrix[] = [];
  for (let l = 0; l < L; l++) {
    const b = spec.biases[l]!;
    const zl = map(matmul(a[l]!, spec.weights[l]!), (v, _, j) => v + b[j]!);
    z.push(zl);
    if (l < L - 1) a.push(map(zl, g[spec.hidden]));
    else if (spec.output === "sigmoidSquaredError") a.push(map(zl, g.sigmoid));
    else a.push(zl.map(softmax));
  }
  const m = spec.x.length;
  let loss = 0;
  const out = a[L]!;
  if (spec.output === "sigmoidSquaredError") {
    out.forEach((row, i) => row.forEach((v, j) => (loss += 0.5 * (v - y[i]![j]!) ** 2)));
  } else {
    // J = −(1/m) Σ y·log softmax(z), with log softmax = z − max − log Σ e^(z − max).
    z[L - 1]!.forEach((row, i) => {
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
      row.forEach((v, j) => (loss -= (y[i]![j]! * (v - lse)) / m));
    });
  }
  return { z, a, loss };
}

function softmax(row: number[]): number[] {
  const mx = Math.max(...row);
  const e = row.map((v) => Math.exp(v - mx));
  const s = e.reduce((p, v) => p + v, 0);
  return e.map((v) => v / s);
}

/**
 * The forward pass and the loss, no gradients.
 *
 * @example
 * ```ts
 * reference.mlpForward({ weights: [[[1]]], biases: [[0]], hidden: "relu", output: "sigmoidSquaredError", x: [[0]], y: [[1]] }).loss; // 0.125
 * ```
 */
export function mlpForward(spec: MlpSpec): MlpForward {
  return forwardWith(spec, checkSpec(spec));
}

/**
 * Loss and exact gradients of an MLP by lecture 000's matrix-form BP (see the module comment
 * for the formulas). For softmax + cross-entropy the output error is δᴸ = (A·Σⱼyⱼ − Y)/m, which
 * is the lecture's (A − Y)/m for one-hot or probability rows.
 *
 * @example
 * ```ts
 * const r = reference.mlpGradients({
 *   weights: [[[0.5, -0.5]], [[1, 0], [0, 1]]], biases: [[0, 0], [0, 0]],
 *   hidden: "tanh", output: "softmaxCrossEntropy", x: [[1], [2]], y: [0, 1],
 * });
 * r.weights[0]; // ∂J/∂W¹, shape [1, 2]
 * ```
 */
export function mlpGradients(spec: MlpSpec): MlpGradients {
  const y = checkSpec(spec);
  const fwd = forwardWith(spec, y);
  const L = spec.weights.length;
  const m = spec.x.length;
  const out = fwd.a[L]!;
  const deltas: Matrix[] = new Array(L);
  deltas[L - 1] =
    spec.output === "softmaxCrossEntropy"
      ? map(out, (a, i, j) => (a * y[i]!.reduce((s, v) => s + v, 0) - y[i]![j]!) / m)
      : map(out, (a, i, j) => a * (1 - a) * (a - y[i]![j]!));
  for (let l = L - 2; l >= 0; l--) {
    const back = matmul(deltas[l + 1]!, transpose(spec.weights[l + 1]!));
    deltas[l] = map(back, (v, i, j) => gPrime[spec.hidden](fwd.z[l]![i]![j]!) * v);
  }
  const weights = deltas.map((d, l) => matmul(transpose(fwd.a[l]!), d));
  const biases = deltas.map((d) => d[0]!.map((_, j) => d.reduce((s, row) => s + row[j]!, 0)));
  return { ...fwd, deltas, weights, biases };
}
