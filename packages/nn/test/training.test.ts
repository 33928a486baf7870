import { describe, expect, test } from "vitest";
import { manualSeed, randn, tensor, type Tensor } from "@deltagrad/autograd";
import { EarlyStopping, History, load, LearningRateScheduler, Linear, MLP, ModelCheckpoint, ProgressBar, crossEntropy, evaluate, fit, lineChartSvg, mseLoss, predict, type Callback } from "@deltagrad/nn";
import { Adam, SGD, StepLR } from "@deltagrad/optim";

/** Two Gaussian blobs, linearly separable. */
function blobs(n: number, seed: number) {
  manualSeed(seed);
  const x = randn([n, 2]);
  const lab = Array.from(x.dataSync()).filter((_, i) => i % 2 === 0).map((v, i) => (v + (x.dataSync()[2 * i + 1] ?? 0) > 0 ? 1 : 0));
  return { x, y: tensor(Int32Array.from(lab)) };
}

const snapshot = (ps: Tensor[]) => ps.map((p) => Array.from(p.dataSync()));
const optSnapshot = (opt: SGD) => {
  const sd = opt.stateDict();
  return JSON.stringify({ ...sd, tensors: Object.fromEntries(Object.entries(sd.tensors).map(([k, t]) => [k, Array.from(t.dataSync())])) });
};
const silent = { verbose: 0 as const };

describe("fit", () => {
  test("learns a separable problem; History records loss, metrics, validation, lr and time", async () => {
    const { x, y } = blobs(200, 0);
    const model = new MLP([2, 8, 2], { activation: "tanh" });
    const h = await fit(model, { x, y, loss: crossEntropy, optimizer: new Adam(model.parameters(), { lr: 0.05 }), epochs: 15, batchSize: 20, metrics: ["accuracy"], validationSplit: 0.25, seed: 1, ...silent });
    expect(h.epoch).toEqual([...Array(15).keys()].map((i) => i + 1));
    expect(h.loss[14]!).toBeLessThan(h.loss[0]!);
    expect(h.series.accuracy![14]!).toBeGreaterThan(0.9);
    expect(h.series.valAccuracy!.length).toBe(15);
    expect(h.lr.every((v) => v === 0.05)).toBe(true);
    expect(h.seconds.every((s) => s > 0)).toBe(true);
    const svg = h.toSvg();
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<path /g)!.length).toBe(4); // loss, val loss | accuracy, valAccuracy
  });

  test("is deterministic given a seed", async () => {
    const run = async () => {
      manualSeed(123);
      const model = new MLP([2, 4, 2], { dropout: 0.2 });
      const { x, y } = blobs(60, 2);
      const h = await fit(model, { x, y, loss: crossEntropy, optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: 3, batchSize: 8, seed: 5, ...silent });
      return [h.loss, snapshot(model.parameters())];
    };
    expect(await run()).toEqual(await run());
  });

  test("a NaN loss stops training naming epoch and batch; parameters, grads and optimizer untouched", async () => {
    const model = new Linear(2, 1);
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const x = tensor([[1, 2], [3, 4], [NaN, 0], [1, 1]]);
    const yv = tensor([[1], [2], [3], [4]]);
    let before: number[][] = [];
    let gradsBefore: (Tensor | null)[] = [];
    let optBefore: unknown;
    const watch: Callback = {
      onBatchEnd(b) {
        if (b === 1) {
          before = snapshot(model.parameters());
          gradsBefore = model.parameters().map((p) => p.grad);
          optBefore = optSnapshot(opt);
        }
      },
    };
    await expect(fit(model, { x, y: yv, loss: mseLoss, optimizer: opt, epochs: 1, batchSize: 2, shuffle: false, callbacks: [watch], ...silent })).rejects.toThrow(
      /fit: loss is NaN at epoch 1, batch 2; training stopped before this step, parameters unchanged/,
    );
    expect(snapshot(model.parameters())).toEqual(before);
    model.parameters().forEach((p, i) => expect(p.grad).toBe(gradsBefore[i]));
    expect(optSnapshot(opt)).toBe(optBefore);
    expect(optBefore).toContain("momentum_buffer");
  });

  test("bad options are clear errors", async () => {
    const model = new Linear(2, 1);
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    await expect(fit(model, { x: randn([4, 2]), y: randn([3, 1]), loss: mseLoss, optimizer: opt })).rejects.toThrow("fit: x and y need the same number of rows, got [4,2] and [3,1]");
    await expect(fit(model, { x: randn([4, 2]), y: randn([4, 1]), loss: mseLoss, optimizer: opt, epochs: 0 })).rejects.toThrow("fit: epochs must be a positive integer, got 0");
    await expect(fit(model, { x: randn([4, 2]), y: randn([4, 1]), loss: mseLoss, optimizer: opt, metrics: ["f2" as never] })).rejects.toThrow(/fit: unknown metric "f2"/);
  });
});

describe("callbacks", () => {
  test("EarlyStopping stops after `patience` epochs without improvement and restores the best weights", async () => {
    const model = new Linear(1, 1);
    const x = tensor([[1], [2], [3], [4]]);
    const y = tensor([[2], [4], [6], [8]]);
    // lr so large the loss diverges after the first step: the best epoch is the first.
    const es = new EarlyStopping({ monitor: "loss", patience: 2, restoreBestWeights: true });
    let bestWeights: number[][] = [];
    const spy: Callback = { onEpochEnd: (e) => { if (e === 1) bestWeights = snapshot(model.parameters()); } };
    const h = await fit(model, { x, y, loss: mseLoss, optimizer: new SGD(model.parameters(), { lr: 0.3 }), epochs: 20, batchSize: 4, callbacks: [spy, es], ...silent });
    expect(h.epoch.length).toBe(4); // epoch 1 best, then 2, 3, 4 without improvement (patience 2 → stop at the third)
    expect(es.bestEpoch).toBe(1);
    expect(es.stoppedEpoch).toBe(4);
    expect(snapshot(model.parameters())).toEqual(bestWeights);
  });

  test("LearningRateScheduler steps an optim scheduler each epoch", async () => {
    const model = new Linear(1, 1);
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    const h = await fit(model, { x: randn([4, 1]), y: randn([4, 1]), loss: mseLoss, optimizer: opt, epochs: 5, callbacks: [new LearningRateScheduler(new StepLR(opt, { stepSize: 2, gamma: 0.5 }))], ...silent });
    expect(h.lr).toEqual([0.1, 0.1, 0.05, 0.05, 0.025].map((v, i) => (i === 0 ? 0.1 : v)));
  });

  test("ModelCheckpoint saves only on improvement, through the given save function", async () => {
    const model = new Linear(1, 1);
    const saved: [string, string[]][] = [];
    const ckpt = new ModelCheckpoint({ path: "w-{epoch}.safetensors", monitor: "loss" }, async (sd, path) => void saved.push([path, Object.keys(sd)]));
    const { x, y } = { x: tensor([[1], [2]]), y: tensor([[1], [2]]) };
    await fit(model, { x, y, loss: mseLoss, optimizer: new SGD(model.parameters(), { lr: 0.01 }), epochs: 3, callbacks: [ckpt], ...silent });
    expect(saved.map((s) => s[0])).toEqual(["w-1.safetensors", "w-2.safetensors", "w-3.safetensors"]);
    expect(saved[0]![1]).toEqual(["weight", "bias"]);
  });

  test("ModelCheckpoint without a save function writes a safetensors file that load() reads back", async () => {
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "dg-ckpt-"));
    const model = new Linear(1, 1);
    const path = join(dir, "best.safetensors");
    await fit(model, { x: tensor([[1], [2]]), y: tensor([[1], [2]]), loss: mseLoss, optimizer: new SGD(model.parameters(), { lr: 0.01 }), epochs: 2, callbacks: [new ModelCheckpoint({ path, monitor: "loss" })], ...silent });
    const saved = await load(path);
    expect(Object.keys(saved)).toEqual(["weight", "bias"]);
    expect(Array.from(saved.weight!.dataSync())).toEqual(Array.from(model.parameters()[0]!.dataSync()));
    await rm(dir, { recursive: true });
  });

  test("ProgressBar prints one clean line per epoch when not a TTY", async () => {
    const lines: string[] = [];
    const model = new Linear(2, 2);
    const { x, y } = blobs(20, 3);
    await fit(model, { x, y, loss: crossEntropy, optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: 2, batchSize: 5, metrics: ["accuracy"], verbose: 0, callbacks: [new ProgressBar({ stream: { write: (s: string) => lines.push(s) }, tty: false })] });
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(/^epoch 1\/2 - loss \d\.\d{4} - accuracy \d\.\d{4} - lr 0\.100 - \d+ samples\/s - \d+\.\d\ds\n$/);
  });

  test("ProgressBar on a TTY draws a bar (cli-progress) and still ends each epoch with a summary line", async () => {
    let out = "";
    const model = new Linear(2, 2);
    const { x, y } = blobs(20, 3);
    await fit(model, { x, y, loss: crossEntropy, optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: 1, batchSize: 5, metrics: ["accuracy"], verbose: 0, callbacks: [new ProgressBar({ stream: { write: (s: string) => (out += s), isTTY: true } as never, tty: true })] });
    expect(out).toMatch(/\| loss \d\.\d{4} \| accuracy \d\.\d{4} \| \d+ samples\/s \| ETA/); // the live bar, with the running metric
    expect(out).toMatch(/epoch 1\/1 - loss/);
  });
});

describe("predict, evaluate, charts", () => {
  test("predict runs in eval mode without a graph and restores training mode", () => {
    const model = new MLP([2, 3, 2], { dropout: 0.5 });
    const x = randn([5, 2]);
    const a = predict(model, x, { batchSize: 2 });
    const b = predict(model, x);
    expect(a.requiresGrad).toBe(false);
    expect(a.arraySync()).toEqual(b.arraySync()); // dropout off in eval
    expect(model.training).toBe(true);
  });
  test("evaluate returns loss and metrics", () => {
    const model = new Linear(2, 2);
    const r = evaluate(model, randn([6, 2]), tensor([0, 1, 0, 1, 0, 1], { dtype: "int32" }), { loss: crossEntropy, metrics: ["accuracy"] });
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.metrics.accuracy! >= 0 && r.metrics.accuracy! <= 1).toBe(true);
  });
  test("lineChartSvg draws one path per series, skips non-finite values, escapes text", () => {
    const svg = lineChartSvg([{ name: "a<b", values: [1, 2, NaN, 3] }, { name: "c", values: [3, 2, 1] }], { title: "t&t" });
    expect(svg.match(/<path /g)!.length).toBe(2);
    expect(svg).toContain("a&lt;b");
    expect(svg).toContain("t&amp;t");
    expect(svg).not.toContain("NaN");
    // Every opened tag closes.
    const open = (svg.match(/<(svg|text)\b/g) ?? []).length;
    const close = (svg.match(/<\/(svg|text)>/g) ?? []).length;
    expect(open).toBe(close);
  });
  test("History renders in Jupyter as SVG and Vega-Lite", () => {
    const h = new History();
    h.push(1, { loss: 1, accuracy: 0.5 });
    h.push(2, { loss: 0.5, accuracy: 0.8 });
    const bundle = (h as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for("Jupyter.display")]!();
    expect(Object.keys(bundle).sort()).toEqual(["application/vnd.vegalite.v5+json", "image/svg+xml", "text/plain"]);
    expect(((bundle["application/vnd.vegalite.v5+json"] as { data: { values: unknown[] } }).data.values).length).toBe(4);
  });
});
