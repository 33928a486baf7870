import { describe, expect, test } from "vitest";
import { DeltagradError, arange, tensor } from "@deltagrad/autograd";
import { batches, confusionMatrix, kFold, minMaxScale, MinMaxScaler, oneHot, permutation, Standardizer, standardize, stratifiedKFold, trainTestSplit } from "@deltagrad/nn";
import { Generator } from "@deltagrad/autograd";

const x = arange(20).reshape([10, 2]);
const y = arange(10, undefined, 1, { dtype: "int32" });

describe("batches", () => {
  test("cover every row once, in order without shuffle, last batch smaller", () => {
    const bs = [...batches(x, y, { batchSize: 4 })];
    expect(bs.map((b) => b.indices)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(bs[2]!.x.arraySync()).toEqual([[16, 17], [18, 19]]);
    expect(Array.from(bs[1]!.y.dataSync())).toEqual([4, 5, 6, 7]);
  });
  test("dropLast and seeded shuffle (deterministic, a permutation, x and y stay paired)", () => {
    expect([...batches(x, y, { batchSize: 4, dropLast: true })].length).toBe(2);
    const a = [...batches(x, y, { batchSize: 3, shuffle: true, seed: 7 })];
    const b = [...batches(x, y, { batchSize: 3, shuffle: true, seed: 7 })];
    expect(a.map((q) => q.indices)).toEqual(b.map((q) => q.indices));
    expect(a.flatMap((q) => q.indices).sort((p, q) => p - q)).toEqual([...Array(10).keys()]);
    for (const q of a) expect((q.x.arraySync() as number[][]).map((r) => r[0]! / 2)).toEqual(Array.from(q.y.dataSync()));
  });
  test("bad input is a clear error", () => {
    expect(() => [...batches(x, y, { batchSize: 0 })]).toThrow("batches: batchSize must be a positive integer, got 0");
    expect(() => [...batches(x, arange(3), { batchSize: 2 })]).toThrow("batches: x has 10 rows but y has shape [3]");
  });
});

describe("splits and folds", () => {
  test("trainTestSplit partitions the rows", () => {
    const s = trainTestSplit(x, y, { testSize: 0.3, seed: 1 });
    expect([s.xTrain.shape[0], s.xTest.shape[0]]).toEqual([7, 3]);
    expect([...s.trainIndices, ...s.testIndices].sort((p, q) => p - q)).toEqual([...Array(10).keys()]);
  });
  test("kFold: sizes like scikit-learn, folds disjoint and covering", () => {
    const folds = kFold(11, 3, { shuffle: true, seed: 3 });
    expect(folds.map((f) => f.test.length)).toEqual([4, 4, 3]);
    expect(folds.flatMap((f) => f.test).sort((p, q) => p - q)).toEqual([...Array(11).keys()]);
    for (const f of folds) expect(f.train.length + f.test.length).toBe(11);
    expect(() => kFold(3, 5)).toThrow("kFold: k must be an integer in [2, 3], got 5");
  });
  test("stratifiedKFold keeps class proportions", () => {
    const labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
    for (const f of stratifiedKFold(labels, 4, { shuffle: true, seed: 0 })) {
      expect(f.test.map((i) => labels[i]).sort()).toEqual([0, 1, 2]);
    }
  });
  test("permutation is a seeded Fisher–Yates", () => {
    const p = permutation(50, new Generator(1));
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
    expect(permutation(50, new Generator(1))).toEqual(p);
  });
});

describe("scaling", () => {
  test("Standardizer fits on train and applies the same statistics to test", () => {
    const train = tensor([[1, 10], [3, 10], [5, 10]]);
    const s = new Standardizer().fit(train);
    const z = s.transform(train).dataSync();
    [-Math.sqrt(1.5), 0, 0, 0, Math.sqrt(1.5), 0].forEach((e, i) => expect(z[i]).toBeCloseTo(e, 6)); // float32
    expect((s.transform(tensor([[3, 12]])).arraySync() as number[][])[0]![0]).toBe(0);
    expect(s.inverseTransform(s.transform(train)).arraySync()).toEqual(train.arraySync());
    expect(standardize(train).shape).toEqual([3, 2]);
    expect(() => new Standardizer().transform(train)).toThrow(DeltagradError);
  });
  test("minMaxScale maps columns to [0, 1] (or a given range)", () => {
    expect(minMaxScale(tensor([[0, 5], [2, 5], [4, 5]])).arraySync()).toEqual([[0, 0], [0.5, 0], [1, 0]]);
    expect(new MinMaxScaler({ min: -1, max: 1 }).fitTransform(tensor([[0], [4]])).arraySync()).toEqual([[-1], [1]]);
  });
});

describe("oneHot and confusionMatrix", () => {
  test("oneHot is re-exported from autograd", () => {
    expect(oneHot(tensor([1], { dtype: "int32" }), 3).arraySync()).toEqual([[0, 1, 0]]);
  });
  test("confusionMatrix from logits or labels", () => {
    const logits = tensor([[2, 1, 0], [0, 3, 1], [0, 1, 5], [4, 0, 0]]);
    const labels = tensor([0, 1, 1, 2], { dtype: "int32" });
    expect(confusionMatrix(logits, labels, 3)).toEqual([[1, 0, 0], [0, 1, 1], [1, 0, 0]]);
    expect(() => confusionMatrix(logits, tensor([0, 1], { dtype: "int32" }))).toThrow("confusionMatrix: 4 predictions but 2 labels");
  });
});
