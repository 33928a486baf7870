/**
 * fit's progress for pages and apps (issue 19): the `onProgress` event stream, and the browser
 * stand-ins that nn's package.json picks under the `browser` condition (no TTY bar, no file paths).
 * The stand-ins are imported by path here; the bundle and browser tests check that bundlers pick them.
 */
import { describe, expect, test } from "vitest";
import { DeltagradError, manualSeed, randn, tensor } from "@deltagrad/autograd";
import { MLP, ProgressBar, crossEntropy, fit, type ProgressEvent } from "@deltagrad/nn";
import { SGD } from "@deltagrad/optim";
import { liveBar } from "../src/training/progress-browser.js";
import { readBytes, writeAtomic } from "../src/checkpoint/file-io-browser.js";

function data(n: number) {
  manualSeed(0);
  return { x: randn([n, 3]), y: tensor(Int32Array.from({ length: n }, (_, i) => i % 2)) };
}

describe("fit: onProgress", () => {
  test("reports every batch (running means), every epoch (the History's logs) and the end", async () => {
    const { x, y } = data(20);
    const model = new MLP([3, 4, 2]);
    const events: ProgressEvent[] = [];
    const h = await fit(model, { x, y, loss: crossEntropy, optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: 2, batchSize: 8, metrics: ["accuracy"], verbose: 0, seed: 1, onProgress: (e) => void events.push(e) });
    expect(events.map((e) => (e.type === "batch" ? `b${e.epoch}.${e.batch}/${e.steps}` : e.type === "epoch" ? `e${e.epoch}/${e.epochs}` : e.type))).toEqual([
      "b1.1/3", "b1.2/3", "b1.3/3", "e1/2", "b2.1/3", "b2.2/3", "b2.3/3", "e2/2", "end",
    ]);
    for (const epoch of [1, 2]) {
      const lastBatch = events.filter((e): e is Extract<ProgressEvent, { type: "batch" }> => e.type === "batch" && e.epoch === epoch).at(-1)!;
      const ep = events.find((e): e is Extract<ProgressEvent, { type: "epoch" }> => e.type === "epoch" && e.epoch === epoch)!;
      // The running mean after the last batch is the epoch's loss (both weighted by batch size).
      expect(lastBatch.loss).toBeCloseTo(h.loss[epoch - 1]!, 12);
      expect(lastBatch.metrics.accuracy).toBeCloseTo(h.series.accuracy![epoch - 1]!, 12);
      expect(lastBatch.samplesPerSecond).toBeGreaterThan(0);
      expect(ep.logs.loss).toBe(h.loss[epoch - 1]);
    }
    expect((events.at(-1) as Extract<ProgressEvent, { type: "end" }>).history).toBe(h);
  });

  test("an async listener is awaited before training goes on", async () => {
    const { x, y } = data(8);
    const model = new MLP([3, 2]);
    const order: string[] = [];
    await fit(model, {
      x, y, loss: crossEntropy, optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: 1, batchSize: 4, verbose: 0,
      onProgress: async (e) => {
        await new Promise((r) => setTimeout(r, 5));
        order.push(e.type);
      },
      callbacks: [{ onBatchEnd: (b) => void order.push(`cb${b}`) }],
    });
    expect(order).toEqual(["cb1", "batch", "cb2", "batch", "epoch", "end"]);
  });

  test("a non-function onProgress is a DeltagradError naming it", async () => {
    const { x, y } = data(4);
    const model = new MLP([3, 2]);
    await expect(fit(model, { x, y, loss: crossEntropy, optimizer: new SGD(model.parameters(), { lr: 0.1 }), verbose: 0, onProgress: 3 as never })).rejects.toThrow(/fit: onProgress must be a function, got number/);
  });

  test("verbose 0 writes nothing; a non-TTY ProgressBar writes one line per epoch", async () => {
    const { x, y } = data(8);
    const model = new MLP([3, 2]);
    const lines: string[] = [];
    const stream = { write: (s: string) => void lines.push(s) };
    await fit(model, { x, y, loss: crossEntropy, optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: 3, batchSize: 4, verbose: 0, callbacks: [new ProgressBar({ stream })] });
    expect(lines.length).toBe(3);
    expect(lines[2]).toMatch(/^epoch 3\/3 - loss \d\.\d{4} - lr 0\.100 - \d+ samples\/s - \d+\.\d\ds\n$/);
  });
});

describe("browser stand-ins (nn's package.json, `browser` condition)", () => {
  test("no live terminal bar", () => {
    expect(liveBar({ title: "epoch 1/1", stream: { write: () => {} } })).toBeNull();
  });

  test("checkpoint files: clear errors naming serialize and deserialize", async () => {
    const write = writeAtomic("save", "m.safetensors", async () => {});
    await expect(write).rejects.toBeInstanceOf(DeltagradError);
    await expect(writeAtomic("save", "m.safetensors", async () => {})).rejects.toThrow(/^save: cannot open "m\.safetensors": there are no file paths in a browser\. Use serialize\(stateDict\)/);
    await expect(readBytes("load", "m.safetensors")).rejects.toThrow(/^load: cannot open "m\.safetensors": .*deserialize\(bytes\)/);
  });
});
