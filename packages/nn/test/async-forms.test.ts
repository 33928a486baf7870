/**
 * The asynchronous forms (evaluateAsync, predictAsync, serializeAsync) give what their synchronous
 * forms give on the synchronous backends; deno/webgpu_train_test.ts checks them on webgpu.
 */
import { describe, expect, it } from "vitest";
import { manualSeed, randint, randn } from "@deltagrad/autograd";
import { crossEntropy, evaluate, evaluateAsync, MLP, predict, predictAsync, serialize, serializeAsync } from "@deltagrad/nn";

function setup() {
  manualSeed(4);
  return { model: new MLP([6, 9, 4]), x: randn([23, 6]), y: randint(0, 3, [23]) };
}

describe("async forms", () => {
  it("evaluateAsync: the same loss and accuracy as evaluate, custom metrics may return tensors or promises", async () => {
    const { model, x, y } = setup();
    const sync = evaluate(model, x, y, { loss: crossEntropy, metrics: ["accuracy"] });
    const res = await evaluateAsync(model, x, y, { loss: crossEntropy, metrics: ["accuracy", function mean(p) { return p.mean(); }, async function one() { return 1; }] });
    expect(res.loss).toBe(sync.loss);
    expect(res.metrics.accuracy).toBe(sync.metrics.accuracy);
    expect(res.metrics.mean).toBeCloseTo(predict(model, x).mean().itemSync(), 6);
    expect(res.metrics.one).toBe(1);
    await expect(evaluateAsync(model, x, y, { loss: crossEntropy, metrics: ["f1" as never] })).rejects.toThrow(/evaluateAsync: unknown metric "f1"/);
  });

  it("predictAsync: predict's values over uneven batches", async () => {
    const { model, x } = setup();
    const p = await predictAsync(model, x, { batchSize: 5 });
    expect(p.shape).toEqual([23, 4]);
    expect(Array.from(p.dataSync())).toEqual(Array.from(predict(model, x).dataSync()));
    await expect(predictAsync(model, x, { batchSize: 0 })).rejects.toThrow(/predictAsync: batchSize must be a positive integer/);
  });

  it("serializeAsync: serialize's bytes", async () => {
    const { model } = setup();
    expect(Array.from(await serializeAsync(model.stateDict(), { metadata: { a: "1" } }))).toEqual(Array.from(serialize(model.stateDict(), { metadata: { a: "1" } })));
  });
});
