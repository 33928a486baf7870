/**
 * Data utilities: batching, splits, k-fold, scaling, one-hot, confusion matrices. Index
 * bookkeeping happens on the host (it is data, not computation); tensors are cut with `gather`.
 */
import { describeValue, optionsOf } from "./options.js";
import { DeltagradError, Generator as Rng, Tensor, defaultGenerator, gather, tensor, fmtShape } from "@deltagrad/autograd";

export { oneHot } from "@deltagrad/autograd";

/** One mini-batch. */
export interface Batch {
  x: Tensor;
  y: Tensor;
  /** Row indices of this batch in the full data set. */
  indices: number[];
}

export interface BatchOptions {
  batchSize: number;
  /** Shuffle rows each time the iterator is created. Default false. */
  shuffle?: boolean;
  /** Seed for the shuffle; without one the default generator (see `manualSeed`) is used. */
  seed?: number;
  /** Drop a last batch smaller than `batchSize`. Default false. */
  dropLast?: boolean;
}

function checkRows(op: string, x: Tensor, y?: Tensor): number {
  if (!x || typeof x !== "object" || !("shape" in x)) throw new DeltagradError(`${op}: x must be a Tensor`);
  if (x.rank === 0) throw new DeltagradError(`${op}: x must have a batch axis, got a scalar`);
  const n = x.shape[0]!;
  if (n === 0 && op.endsWith(".fit")) throw new DeltagradError(`${op}: x has no rows to learn statistics from (shape ${fmtShape(x.shape)})`);
  if (y && (y.rank === 0 || y.shape[0] !== n)) {
    throw new DeltagradError(`${op}: x has ${n} rows but y has shape ${fmtShape(y.shape)}`);
  }
  return n;
}

/**
 * A seeded Fisher–Yates permutation of 0…n−1.
 *
 * @example
 * ```ts
 * permutation(5, new Rng(0)); // e.g. [3, 0, 4, 1, 2]
 * ```
 */
export function permutation(n: number, g: Rng = defaultGenerator): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) throw new DeltagradError(`permutation: n must be a non-negative integer, got ${describeValue(n)}`);
  if (!(g instanceof Rng)) throw new DeltagradError(`permutation: g must be a Generator, got ${describeValue(g)}`);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = g.int(0, i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** Rows of `t` at `rows` (axis 0). @example `takeRows(x, [0, 2])` */
export function takeRows(t: Tensor, rows: readonly number[]): Tensor {
  if (!(t instanceof Tensor) || t.rank === 0) throw new DeltagradError(`takeRows: expected a Tensor with a row axis, got ${t instanceof Tensor ? "a scalar" : describeValue(t)}`);
  if (!Array.isArray(rows)) throw new DeltagradError(`takeRows: rows must be an array of row indices, got ${describeValue(rows)}`);
  const n = t.shape[0]!;
  rows.forEach((r, i) => {
    if (!Number.isInteger(r) || r < 0 || r >= n) throw new DeltagradError(`takeRows: rows[${i}] = ${describeValue(r)} is not a row index of a tensor with ${n} rows`);
  });
  return gather(t, tensor(Int32Array.from(rows)), 0);
}

/**
 * Iterates mini-batches of `(x, y)` along axis 0.
 *
 * @example
 * ```ts
 * for (const { x: xb, y: yb } of batches(x, y, { batchSize: 32, shuffle: true, seed: 0 })) {
 *   // train on xb, yb
 * }
 * ```
 */
export function* batches(x: Tensor, y: Tensor, opts: BatchOptions): Generator<Batch> {
  const n = checkRows("batches", x, y);
  const { batchSize, shuffle = false, seed, dropLast = false } = opts ?? ({} as BatchOptions);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DeltagradError(`batches: batchSize must be a positive integer, got ${describeValue(batchSize)}`);
  const order = shuffle ? permutation(n, seed === undefined ? defaultGenerator : new Rng(seed)) : Array.from({ length: n }, (_, i) => i);
  for (let start = 0; start < n; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    if (dropLast && indices.length < batchSize) break;
    yield { x: takeRows(x, indices), y: takeRows(y, indices), indices };
  }
}

/** Number of batches {@link batches} yields. @example `batchCount(1000, 200) // 5` */
export function batchCount(n: number, batchSize: number, dropLast = false): number {
  if (!Number.isInteger(n) || n < 0) throw new DeltagradError(`batchCount: n must be a non-negative integer, got ${describeValue(n)}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DeltagradError(`batchCount: batchSize must be a positive integer, got ${describeValue(batchSize)}`);
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

export interface SplitOptions {
  /** Fraction (0–1) or count of test rows. Default 0.25. */
  testSize?: number;
  shuffle?: boolean;
  seed?: number;
}

/**
 * Splits rows into train and test sets (shuffled by default, seeded).
 *
 * @example
 * ```ts
 * const { xTrain, yTrain, xTest, yTest } = trainTestSplit(x, y, { testSize: 0.2, seed: 0 });
 * ```
 */
export function trainTestSplit(x: Tensor, y: Tensor, options?: SplitOptions) {
  const { testSize = 0.25, shuffle = true, seed } = optionsOf("trainTestSplit", options);
  const n = checkRows("trainTestSplit", x, y);
  const nTest = typeof testSize !== "number" ? NaN : testSize < 1 ? Math.round(n * testSize) : testSize;
  if (!Number.isInteger(nTest) || nTest < 0 || nTest > n) throw new DeltagradError(`trainTestSplit: testSize ${describeValue(testSize)} does not fit ${n} rows`);
  const order = shuffle ? permutation(n, seed === undefined ? defaultGenerator : new Rng(seed)) : Array.from({ length: n }, (_, i) => i);
  const test = order.slice(0, nTest);
  const train = order.slice(nTest);
  return { xTrain: takeRows(x, train), yTrain: takeRows(y, train), xTest: takeRows(x, test), yTest: takeRows(y, test), trainIndices: train, testIndices: test };
}

/** One fold: row indices for training and for testing. */
export interface Fold {
  train: number[];
  test: number[];
}

function checkFolds(op: string, n: number, k: number): void {
  if (!Number.isInteger(n) || n < 0) throw new DeltagradError(`${op}: n must be a non-negative integer, got ${describeValue(n)}`);
  if (!Number.isInteger(k) || k < 2 || k > n) throw new DeltagradError(`${op}: k must be an integer in [2, ${n}], got ${describeValue(k)}`);
}

/**
 * k-fold cross-validation indices (scikit-learn's KFold: the first n mod k folds get one extra row).
 *
 * @example
 * ```ts
 * kFold(10, 5, { shuffle: true, seed: 0 }).map((f) => f.test.length); // [2, 2, 2, 2, 2]
 * ```
 */
export function kFold(n: number, k: number, options?: { shuffle?: boolean; seed?: number }): Fold[] {
  const { shuffle = false, seed } = optionsOf("kFold", options);
  checkFolds("kFold", n, k);
  const order = shuffle ? permutation(n, seed === undefined ? defaultGenerator : new Rng(seed)) : Array.from({ length: n }, (_, i) => i);
  const folds: Fold[] = [];
  let start = 0;
  for (let f = 0; f < k; f++) {
    const size = Math.floor(n / k) + (f < n % k ? 1 : 0);
    const test = order.slice(start, start + size);
    const inTest = new Set(test);
    folds.push({ test, train: order.filter((i) => !inTest.has(i)) });
    start += size;
  }
  return folds;
}

/**
 * Stratified k-fold: each fold keeps the class proportions of `labels` (rows of each class are
 * dealt round-robin to the folds).
 *
 * @example
 * ```ts
 * stratifiedKFold([0, 0, 1, 1], 2).map((f) => f.test); // [[0, 2], [1, 3]]
 * ```
 */
export function stratifiedKFold(labels: readonly number[] | Tensor, k: number, options?: { shuffle?: boolean; seed?: number }): Fold[] {
  const { shuffle = false, seed } = optionsOf("stratifiedKFold", options);
  const ys = Array.isArray(labels) ? (labels as number[]) : Array.from((labels as Tensor).dataSync());
  checkFolds("stratifiedKFold", ys.length, k);
  const g = seed === undefined ? defaultGenerator : new Rng(seed);
  const byClass = new Map<number, number[]>();
  ys.forEach((c, i) => byClass.set(c, [...(byClass.get(c) ?? []), i]));
  const tests: number[][] = Array.from({ length: k }, () => []);
  let next = 0;
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    let rows = byClass.get(c)!;
    if (shuffle) rows = permutation(rows.length, g).map((i) => rows[i]!);
    for (const r of rows) tests[next++ % k]!.push(r);
  }
  return tests.map((test) => {
    const inTest = new Set(test);
    return { test: test.sort((a, b) => a - b), train: ys.map((_, i) => i).filter((i) => !inTest.has(i)) };
  });
}

/**
 * Standardizes features to zero mean and unit variance, with statistics fitted on training data
 * and reused on test data (lecture 003's input normalization). Constant columns are left centered
 * (their std is treated as 1).
 *
 * @example
 * ```ts
 * const s = new Standardizer().fit(xTrain);
 * const a = s.transform(xTrain), b = s.transform(xTest);
 * ```
 */
export class Standardizer {
  mean: Tensor | null = null;
  std: Tensor | null = null;

  /** Learns per-column mean and std (population, correction 0) over axis 0. */
  fit(x: Tensor): this {
    checkRows("Standardizer.fit", x);
    this.mean = x.mean({ axis: 0, keepDims: true }).detach();
    const std = x.std({ axis: 0, keepDims: true });
    this.std = std.add(std.equal(0).cast(std.dtype)).detach();
    return this;
  }

  /** (x − mean) / std with the fitted statistics. */
  transform(x: Tensor): Tensor {
    if (!this.mean || !this.std) throw new DeltagradError("Standardizer.transform: call fit() first");
    return x.sub(this.mean).div(this.std);
  }

  /** `fit(x)` then `transform(x)`. */
  fitTransform(x: Tensor): Tensor {
    return this.fit(x).transform(x);
  }

  /** Maps standardized values back. */
  inverseTransform(z: Tensor): Tensor {
    if (!this.mean || !this.std) throw new DeltagradError("Standardizer.inverseTransform: call fit() first");
    return z.mul(this.std).add(this.mean);
  }
}

/** Standardizes `x` with its own statistics. @example `standardize(x)` */
export function standardize(x: Tensor): Tensor {
  return new Standardizer().fitTransform(x);
}

/**
 * Scales each column linearly to [min, max] (default [0, 1]) with statistics fitted on training data.
 *
 * @example
 * ```ts
 * const s = new MinMaxScaler().fit(xTrain); s.transform(xTest);
 * ```
 */
export class MinMaxScaler {
  lo: Tensor | null = null;
  range: Tensor | null = null;
  constructor(readonly options: { min?: number; max?: number } = {}) {
    const { min = 0, max = 1 } = optionsOf("MinMaxScaler", options);
    if (typeof min !== "number" || typeof max !== "number" || !(min < max)) {
      throw new DeltagradError(`MinMaxScaler: min ${describeValue(min)} must be a number below max ${describeValue(max)}`);
    }
  }
  fit(x: Tensor): this {
    checkRows("MinMaxScaler.fit", x);
    this.lo = x.min({ axis: 0, keepDims: true }).detach();
    const r = x.max({ axis: 0, keepDims: true }).sub(this.lo);
    this.range = r.add(r.equal(0).cast(r.dtype)).detach();
    return this;
  }
  transform(x: Tensor): Tensor {
    if (!this.lo || !this.range) throw new DeltagradError("MinMaxScaler.transform: call fit() first");
    const { min = 0, max = 1 } = this.options;
    return x.sub(this.lo).div(this.range).mul(max - min).add(min);
  }
  fitTransform(x: Tensor): Tensor {
    return this.fit(x).transform(x);
  }
}

/** Scales `x`'s columns to [min, max] with its own statistics. @example `minMaxScale(x)` */
export function minMaxScale(x: Tensor, options: { min?: number; max?: number } = {}): Tensor {
  if (!(x instanceof Tensor)) throw new DeltagradError(`minMaxScale: expected a Tensor, got ${describeValue(x)}`);
  return new MinMaxScaler(optionsOf("minMaxScale", options)).fitTransform(x);
}

/**
 * Class indices from logits/probabilities (argmax of the last axis) or from int labels as they are.
 *
 * @example
 * ```ts
 * toClasses(tensor([[0.1, 0.9], [2, 1]])); // Int32Array [1, 0]
 * ```
 */
export function toClasses(t: Tensor): Int32Array {
  const c = t.dtype === "int32" ? t : t.argmax({ axis: -1 });
  return Int32Array.from(c.dataSync());
}

/**
 * `m[i][j]` counts rows with true class i predicted as j. Predictions may be logits (argmax is
 * taken) or int labels.
 *
 * @example
 * ```ts
 * confusionMatrix(tensor([1, 0], { dtype: "int32" }), tensor([1, 1], { dtype: "int32" }), 2); // [[0, 0], [1, 1]]
 * ```
 */
export function confusionMatrix(predictions: Tensor, labels: Tensor, numClasses?: number): number[][] {
  const p = toClasses(predictions);
  const y = toClasses(labels);
  if (p.length !== y.length) throw new DeltagradError(`confusionMatrix: ${p.length} predictions but ${y.length} labels`);
  if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 0 || numClasses > 65536)) {
    throw new DeltagradError(`confusionMatrix: numClasses must be a non-negative integer (at most 65536), got ${describeValue(numClasses)}`);
  }
  const k = numClasses ?? Math.max(0, ...p, ...y) + 1;
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  y.forEach((c, i) => {
    const q = p[i]!;
    if (c < 0 || c >= k || q < 0 || q >= k) throw new DeltagradError(`confusionMatrix: class ${c < 0 || c >= k ? c : q} is outside 0…${k - 1}`);
    m[c]![q]!++;
  });
  return m;
}
