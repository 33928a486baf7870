/**
 * Every example, run through its exported `main` on reduced data (the fast ones at full size),
 * checking the numbers it returns and the lines it prints.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as perceptron from "./perceptron.js";
import * as xor from "./xor.js";
import * as iris from "./iris.js";
import * as cubicFit from "./cubic-fit.js";
import * as crossValidation from "./cross-validation.js";
import * as lenet5 from "./lenet5.js";
import * as mnistMlp from "./mnist-mlp.js";
import * as tinyGpt from "./tiny-gpt.js";

/** A `log` option that keeps the printed lines. */
function capture() {
  const lines: string[] = [];
  return { lines, log: (s: string) => void lines.push(...s.split("\n")), text: () => lines.join("\n") };
}

/**
 * A small XML well-formedness check: one root, every tag closed in order, attributes quoted,
 * no stray `&` or `<` in text.
 */
function checkWellFormed(xml: string): void {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, "").trim();
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/y;
  while (i < body.length) {
    const lt = body.indexOf("<", i);
    const text = body.slice(i, lt === -1 ? body.length : lt);
    if (/&(?!amp;|lt;|gt;|quot;|apos;|#\d+;|#x[\da-fA-F]+;)/.test(text)) throw new Error(`unescaped & in text near ${i}`);
    if (text.trim() && stack.length === 0) throw new Error(`text outside the root near ${i}`);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    if (!m) throw new Error(`malformed tag at ${lt}: ${body.slice(lt, lt + 60)}`);
    const [, close, name, , selfClose] = m;
    if (close) {
      if (stack.pop() !== name) throw new Error(`</${name}> at ${lt} does not close the open element`);
    } else {
      if (stack.length === 0) roots++;
      if (!selfClose) stack.push(name!);
    }
    i = tag.lastIndex;
  }
  if (stack.length) throw new Error(`unclosed <${stack.join("> <")}>`);
  if (roots !== 1) throw new Error(`expected one root element, found ${roots}`);
}

describe("checkWellFormed (the test's own helper)", () => {
  it("accepts nested SVG and rejects broken markup", () => {
    expect(() => checkWellFormed('<svg a="1"><g><text>a &amp; b</text><circle r="2"/></g></svg>')).not.toThrow();
    expect(() => checkWellFormed("<svg><g></svg>")).toThrow(/does not close/);
    expect(() => checkWellFormed("<svg><text>a & b</text></svg>")).toThrow(/unescaped/);
    expect(() => checkWellFormed("<svg x=1></svg>")).toThrow(/malformed/);
    expect(() => checkWellFormed("<svg></svg><svg></svg>")).toThrow(/one root/);
  });
});

describe("perceptron", () => {
  it("learns AND, OR and NOT and fails on XOR, saying so", () => {
    const out = capture();
    const results = perceptron.main({ maxEpochs: 50, log: out.log });
    const by = Object.fromEntries(results.map((r) => [r.gate, r]));
    for (const gate of ["AND", "OR", "NOT"]) {
      expect(by[gate]!.converged).toBe(true);
      expect(by[gate]!.epochs).toBeLessThan(50);
      expect(by[gate]!.predictions).toEqual(perceptron.GATES[gate]!.y);
      expect(out.text()).toMatch(new RegExp(`${gate}\\s+converged after ${by[gate]!.epochs} epochs: W = \\[`));
    }
    expect(by.XOR!.converged).toBe(false);
    expect(by.XOR!.epochs).toBe(50);
    expect(by.XOR!.predictions).not.toEqual(perceptron.GATES.XOR!.y);
    expect(out.text()).toContain("XOR  did NOT converge in 50 epochs");
    expect(out.text()).toContain("not linearly separable");
  });

  it("runs as a script", () => {
    const stdout = execFileSync(process.execPath, ["--import", "tsx", "--conditions=source", "examples/perceptron.ts", "--max-epochs", "30"], { encoding: "utf8" });
    expect(stdout).toMatch(/AND\s+converged/);
    expect(stdout).toContain("XOR  did NOT converge in 30 epochs");
  });
});

describe("xor", () => {
  it("reproduces the lecture's worked step and, after 2,000 epochs, its printed outputs", async () => {
    const out = capture();
    const r = await xor.main({ log: out.log });
    const s = r.worked;
    // The lecture's numbers, to its printed precision.
    s.hidden.forEach((v) => expect(v).toBeCloseTo(0.574, 3));
    expect(s.outputs[0]).toBeCloseTo(0.743, 3);
    expect(s.outputs[1]).toBeCloseTo(0.764, 3);
    expect(s.error).toBeCloseTo(0.304, 3);
    expect(s.W2).toEqual([[expect.closeTo(0.359, 3), expect.closeTo(0.512, 3)], [expect.closeTo(0.359, 3), expect.closeTo(0.512, 3)]]);
    expect(s.theta2[0]).toBeCloseTo(0.529, 3);
    expect(s.theta2[1]).toBeCloseTo(0.621, 3);
    s.theta1.forEach((v) => expect(v).toBeCloseTo(0.2957, 4));
    expect(s.W1).toEqual([[0.1, 0.2], [0.2, 0.3]]); // x = (0, 0): no gradient reaches W1
    expect(out.text()).toContain("E = ½Σ(z − l)²   0.304");
    // The lecture prints each sample's outputs in the last epoch to eight digits.
    r.lastEpoch.forEach((z, i) => z.forEach((v, j) => expect(v).toBeCloseTo(xor.LECTURE_TRAINED[i]![j]!, 8)));
    expect(out.text()).toContain("(0, 0) → z = [0.07158904, 0.92822515]");
    // And the trained net gets XOR right: the true class's output is above 0.5.
    r.predictions.forEach((p, i) => {
      const truth = xor.XOR_L[i]!.indexOf(1);
      expect(p[truth]).toBeGreaterThan(0.5);
      expect(p[1 - truth]).toBeLessThan(0.5);
    });
    expect(r.meanError.at(-1)).toBeLessThan(r.meanError[0]! / 10);
  });
});

describe("iris", () => {
  it("reproduces the lecture's printed probabilities from its printed weights", async () => {
    const r = await iris.main({ epochs: 1, log: () => {} });
    r.lectureProbabilities.forEach((row, i) => {
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      row.forEach((p, j) => {
        // The lecture's 9.9998450e-01 dropped a digit (see iris.ts): compare it as 9.99998450e-01.
        const printed = i === 0 && j === 0 ? 0.9999845 : iris.LECTURE_PROBABILITIES[i]![j]!;
        expect(Math.abs(p - printed) / printed).toBeLessThan(2e-5);
      });
    });
  });

  it("trains 4-6-3 on 120 rows and scores at least 90 % on the 30 held-out rows", async () => {
    const out = capture();
    const r = await iris.main({ log: out.log });
    expect(r.accuracy).toBeGreaterThanOrEqual(0.9);
    const m = r.confusionMatrix;
    expect(m.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([10, 10, 10]);
    expect(m[0]![0]! + m[1]![1]! + m[2]![2]!).toBe(Math.round(30 * r.accuracy));
    expect(out.text()).toMatch(/test accuracy \d+\.\d % \(\d+\/30\)/);
    expect(out.text()).toMatch(/setosa\s+\d+\s+\d+\s+\d+/);
  });

  it("splits the first 40 rows of each class for training", () => {
    const { train, test } = iris.lectureSplit();
    expect(train).toHaveLength(120);
    expect(test).toEqual([...Array(10).keys()].flatMap((i) => [40 + i, 90 + i, 140 + i]).sort((a, b) => a - b));
  });
});

describe("cubic-fit", () => {
  it("trains the chosen variants, prints the error table and writes a well-formed SVG", async () => {
    const svg = join(mkdtempSync(join(tmpdir(), "cubic-fit-")), "cubic.svg");
    const out = capture();
    const variants = ["1-2-1", "softplus", "standardized", "l2", "early-stopping", "dropout-0.5"];
    const r = await cubicFit.main({ epochs: 300, variants, svg, log: out.log });
    expect(r.results.map((v) => v.name)).toEqual(variants);
    for (const v of r.results) {
      expect(v.epochs).toBeGreaterThan(0);
      expect(v.epochs).toBeLessThanOrEqual(300);
      expect(v.loss).toHaveLength(v.epochs);
      expect(v.valLoss).toHaveLength(v.epochs);
      expect(v.loss.at(-1)!).toBeLessThan(v.loss[0]!);
      for (const x of [v.trainMse, v.testMse, v.testRmse]) expect(Number.isFinite(x) && x >= 0).toBe(true);
      expect(v.fit).toHaveLength(100);
      expect(out.text()).toMatch(new RegExp(`^${v.name.replace(".", "\\.")}\\s+${v.epochs}\\s+\\d+\\.\\d{6}\\s+\\d+\\.\\d{6}\\s+\\d+\\.\\d{2}$`, "m"));
    }
    const text = readFileSync(svg, "utf8");
    expect(() => checkWellFormed(text)).not.toThrow();
    // These variants touch all three groups: the outer SVG, two rows, 3 fit and 3 loss panels.
    expect(text.match(/<svg /g)).toHaveLength(1 + 2 + 6);
    expect(text.match(/<circle /g)).toHaveLength(3 * cubicFit.LECTURE_Y.length); // the data as points, once per fit panel
    for (const name of variants) {
      expect(text).toContain(`>${name}</text>`);
      expect(text).toContain(`>${name} test</text>`);
    }
  });

  it("uses the lecture's target and data", () => {
    expect(cubicFit.cubic(-3)).toBe(-131); // the fixed scaling range [−131, 223] is [f(−3), f(3)]
    expect(cubicFit.cubic(3)).toBe(223);
    // The noisy samples stay within ±50 of f, as y = f(x) + U(−50, 50).
    cubicFit.LECTURE_X.forEach((x, i) => expect(Math.abs(cubicFit.LECTURE_Y[i]! - cubicFit.cubic(x))).toBeLessThan(50));
  });

  it("rejects an unknown variant", async () => {
    await expect(cubicFit.main({ epochs: 1, variants: ["1-3-1"], svg: null, log: () => {} })).rejects.toThrow(/unknown variant "1-3-1"/);
  });
});

describe("cross-validation", () => {
  it("scores three models over 5 stratified folds", async () => {
    const out = capture();
    const scores = await crossValidation.main({ epochs: 60, log: out.log });
    expect(scores.map((s) => s.name)).toEqual(["BP network 4-6-3", "logistic regression", "softmax regression"]);
    for (const s of scores) {
      expect(s.accuracies).toHaveLength(5);
      // Each test fold holds 30 rows, so every accuracy is k/30.
      s.accuracies.forEach((a) => expect(Math.abs(a * 30 - Math.round(a * 30))).toBeLessThan(1e-9));
      expect(s.mean).toBeCloseTo(s.accuracies.reduce((a, b) => a + b) / 5, 12);
      expect(s.mean).toBeGreaterThanOrEqual(0);
      expect(s.mean).toBeLessThanOrEqual(1);
      expect(s.sd).toBeGreaterThanOrEqual(0);
      // Well above chance (1/3) even after 60 epochs.
      expect(s.mean).toBeGreaterThan(0.6);
      expect(out.text()).toContain(`${s.name.padEnd(20)} ${(100 * s.mean).toFixed(1)} % ± ${(100 * s.sd).toFixed(1)} %`);
    }
  });
});

describe("lenet5", () => {
  it("runs one short epoch and reports accuracy and time", async () => {
    const out = capture();
    const r = await lenet5.main({ epochs: 1, trainSize: 256, testSize: 128, batchSize: 64, verbose: 0, log: out.log });
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.accuracy).toBeLessThanOrEqual(1);
    expect(Math.abs(r.accuracy * 128 - Math.round(r.accuracy * 128))).toBeLessThan(1e-9);
    expect(r.secondsPerEpoch).toHaveLength(1);
    expect(r.secondsPerEpoch[0]).toBeGreaterThan(0);
    expect(Number.isFinite(r.testLoss)).toBe(true);
    expect(out.text()).toContain("60,806 parameters");
    expect(out.text()).toMatch(/test accuracy \d+\.\d\d %/);
    expect(out.text()).toMatch(/time: \d+\.\d s for 1 epoch/);
  });
});

describe("mnist-mlp", () => {
  it("trains one epoch on 600 digits and beats chance on 200 held-out digits", async () => {
    const r = await mnistMlp.main({ epochs: 1, batchSize: 50, trainSize: 600, testSize: 200, hidden: 64, verbose: 0, svg: null });
    expect(r.history.epoch).toEqual([1]);
    expect(r.testAccuracy).toBeGreaterThan(0.3); // chance is 0.1
    expect(r.samplesPerSecond).toBeGreaterThan(0);
  });
});

describe("tiny-gpt", () => {
  it("makes sorting data: targets are the sorted digits, inputs the digits and all sorted ones but the last; held-out excluded", () => {
    const train = tinyGpt.sortData(300, { seed: 1 });
    const test = tinyGpt.sortData(100, { seed: 2, exclude: train.keys });
    const x = train.x.arraySync() as number[][];
    const y = train.y.arraySync() as number[][];
    expect(train.x.shape).toEqual([300, 11]);
    expect(train.y.shape).toEqual([300, 6]);
    x.forEach((row, i) => {
      expect(y[i]).toEqual(row.slice(0, 6).sort((a, b) => a - b));
      expect(row.slice(6)).toEqual(y[i]!.slice(0, 5));
    });
    for (const k of test.keys) expect(train.keys.has(k)).toBe(false);
    expect(test.keys.size).toBe(100);
  });

  it("trains a reduced model, beats chance on held-out sequences, and draws causal attention maps", async () => {
    const out = capture();
    const svg = join(mkdtempSync(join(tmpdir(), "tiny-gpt-")), "attention.svg");
    const r = await tinyGpt.main({ epochs: 3, trainSize: 2000, testSize: 200, batchSize: 100, dModel: 16, heads: 2, lr: 1e-2, verbose: 0, svg, log: out.log });
    const loss = r.history.loss;
    expect(loss).toHaveLength(3);
    expect(loss[2]!).toBeLessThan(loss[1]!);
    expect(loss[1]!).toBeLessThan(loss[0]!);
    // Guessing a sorted sequence of six digits right is ~1e-6 likely; the reduced run gets a few percent.
    expect(r.accuracy).toBeGreaterThan(0.02);
    expect(out.text()).toMatch(/held-out exact-sequence accuracy \(greedy generation\): \d+\.\d\d % \(\d+\/200\)/);
    const text = readFileSync(svg, "utf8");
    checkWellFormed(text);
    expect(text).toBe(r.svg);
    expect(text.match(/layer \d, head \d/g)).toEqual(["layer 1, head 1", "layer 1, head 2", "layer 2, head 1", "layer 2, head 2"]);
    // The maps themselves: rows are distributions over the keys at or before the query.
    const maps = r.model.attentionMaps(tinyGpt.sortData(3, { seed: 5 }).x);
    expect(maps.map((m) => m.shape)).toEqual([[3, 2, 11, 11], [3, 2, 11, 11]]);
    for (const m of maps) {
      const w = m.arraySync() as number[][][][];
      for (const row of w.flat(2)) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      w.flat(1).forEach((head) => head.forEach((row, i) => row.slice(i + 1).forEach((v) => expect(v).toBe(0))));
    }
  });
});

