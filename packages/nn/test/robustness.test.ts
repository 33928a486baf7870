/**
 * Robustness of nn: a failing fit() batch, optimizer step or loadStateDict() leaves parameters,
 * `.grad` and optimizer state as they were; losses stay finite at extreme logits; anomaly mode
 * points at the user line through deep composites; 10,000 training steps keep the heap flat.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { DeltagradError, detectAnomaly, getBackend, tensor, type Tensor } from "@deltagrad/autograd";
import { Linear, MLP, binaryCrossEntropy, binaryCrossEntropyWithLogits, crossEntropy, fit, klDiv, logCoshLoss, mseLoss, type Callback } from "@deltagrad/nn";
import { Adam } from "@deltagrad/optim";

const values = (ps: Tensor[]) => ps.map((p) => Array.from(p.dataSync()));
const gradsOf = (ps: Tensor[]) => ps.map((p) => (p.grad ? Array.from(p.grad.dataSync()) : null));
const optState = (opt: Adam) => {
  const sd = opt.stateDict();
  return JSON.stringify({ g: sd.paramGroups, s: sd.scalars, t: Object.entries(sd.tensors).map(([k, t]) => [k, Array.from(t.dataSync())]) });
};

describe("fit: a failing batch changes nothing", () => {
  const x = tensor([[1, 2], [3, 4], [5, 6], [7, 8]]);
  const y = tensor([[1], [2], [3], [4]]);

  async function failAtBatch2(opt: Adam, model: Linear, options: Record<string, unknown>, pattern: RegExp): Promise<void> {
    let snap: unknown = null;
    const watch: Callback = {
      onBatchEnd(b) {
        if (b !== 1) return;
        (options.afterBatch1 as (() => void) | undefined)?.();
        snap = [values(model.parameters()), gradsOf(model.parameters()), optState(opt)];
      },
    };
    const { afterBatch1: _, ...fitOptions } = options;
    // Eager steps: these losses change behaviour between calls (a compiled step would replay batch 1's
    // trace); the compiled form of the NaN check is in compile-train.test.ts.
    await expect(fit(model, { x, y, loss: mseLoss, optimizer: opt, epochs: 1, batchSize: 2, shuffle: false, verbose: 0, callbacks: [watch], compile: false, ...fitOptions })).rejects.toThrow(pattern);
    expect([values(model.parameters()), gradsOf(model.parameters()), optState(opt)]).toEqual(snap);
  }

  test("a NaN gradient with a finite loss (√0 inside the loss)", async () => {
    const model = new Linear(2, 1);
    const opt = new Adam(model.parameters(), { lr: 0.01 });
    let calls = 0;
    const loss = (p: Tensor, t: Tensor) => (++calls === 2 ? mseLoss(p, t).add(p.sub(p).sqrt().sum()) : mseLoss(p, t));
    await failAtBatch2(opt, model, { loss }, /fit: a gradient at epoch 1, batch 2/);
  });

  test("the optimizer's step() throws (an invalid lr set between batches)", async () => {
    const model = new Linear(2, 1);
    const opt = new Adam(model.parameters(), { lr: 0.01 });
    await failAtBatch2(opt, model, { afterBatch1: () => (opt.paramGroups[0]!.lr = NaN) }, /Adam: lr must be a finite number/);
  });

  test("the user's loss throws", async () => {
    const model = new Linear(2, 1);
    const opt = new Adam(model.parameters(), { lr: 0.01 });
    let calls = 0;
    const loss = (p: Tensor, t: Tensor) => {
      if (++calls === 2) throw new DeltagradError("myLoss: bad batch");
      return mseLoss(p, t);
    };
    await failAtBatch2(opt, model, { loss }, /myLoss: bad batch/);
  });
});

describe("Module.loadStateDict: a bad dict changes nothing", () => {
  test("a wrong shape in the second tensor leaves the first untouched too", () => {
    const m = new MLP([2, 3, 1]);
    const before = values(m.parameters());
    const sd = m.stateDict();
    const keys = Object.keys(sd);
    const bad = { ...Object.fromEntries(keys.map((k) => [k, sd[k]!.add(1)])), [keys[1]!]: tensor([1, 2, 3, 4, 5]) };
    expect(() => m.loadStateDict(bad)).toThrow(DeltagradError);
    expect(values(m.parameters())).toEqual(before);
    const nan = { ...Object.fromEntries(keys.map((k) => [k, sd[k]!.add(1)])), extra: tensor([1]) };
    expect(() => m.loadStateDict(nan)).toThrow(DeltagradError);
    expect(values(m.parameters())).toEqual(before);
  });
});

describe("losses at extreme inputs: finite wherever the math is", () => {
  const finite = (t: Tensor) => Array.from(t.dataSync()).every(Number.isFinite);

  test("crossEntropy with logits ±1e4 and equal logits (float32): finite loss and gradient", () => {
    const logits = tensor([[1e4, -1e4, 0], [3, 3, 3], [-1e4, -1e4, 1e4]], { requiresGrad: true });
    const target = tensor([1, 0, 0], { dtype: "int32" });
    const l = crossEntropy(logits, target, { reduction: "none" });
    expect(Array.from(l.dataSync())).toEqual([2e4, Math.fround(Math.log(3)), 2e4]);
    l.sum().backward();
    expect(finite(logits.grad!)).toBe(true);
  });

  test("binaryCrossEntropyWithLogits and logCoshLoss at ±1e4: finite values and gradients", () => {
    const z = tensor([1e4, -1e4, 1e4, -1e4], { requiresGrad: true });
    const t = tensor([1, 0, 0, 1]);
    const bce = binaryCrossEntropyWithLogits(z, t, { reduction: "none" });
    expect(Array.from(bce.dataSync())).toEqual([0, 0, 1e4, 1e4]);
    const lc = logCoshLoss(z, tensor([0, 0, 0, 0]), { reduction: "none" });
    expect(Array.from(lc.dataSync())).toEqual([1e4 - Math.fround(Math.LN2), 1e4 - Math.fround(Math.LN2), 1e4 - Math.fround(Math.LN2), 1e4 - Math.fround(Math.LN2)].map(Math.fround));
    bce.sum().add(lc.sum()).backward();
    expect(finite(z.grad!)).toBe(true);
  });

  test("log of 0 inside losses: BCE on probabilities 0 and 1, klDiv with zero targets", () => {
    const p = tensor([0, 1, 0, 1], { requiresGrad: true });
    const bce = binaryCrossEntropy(p, tensor([0, 1, 1, 0]), { reduction: "none" });
    expect(Array.from(bce.dataSync(), (v) => v + 0)).toEqual([0, 0, 100, 100]); // log clamped at −100, as PyTorch
    bce.sum().backward();
    expect(Array.from(p.grad!.dataSync()).every((g) => !Number.isNaN(g))).toBe(true);
    const logq = tensor([[-1e4, 0]], { requiresGrad: true });
    const kl = klDiv(logq, tensor([[0, 1]]), { reduction: "sum" });
    expect(kl.itemSync()).toBe(0); // 0·log 0 = 0
    kl.backward();
    expect(finite(logq.grad!)).toBe(true);
  });
});

describe("anomaly mode through nn composites", () => {
  test("a NaN created deep inside crossEntropy names the op and points at this file", () => {
    const logits = tensor([[NaN, 0]], { requiresGrad: true });
    let message = "";
    try {
      detectAnomaly(() => crossEntropy(logits, tensor([0], { dtype: "int32" })));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/forward output produced NaN/);
    expect(message.split("recorded at:\n")[1]!.split("\n")[0]).toContain("robustness.test.ts");
  });
});

describe("memory", () => {
  type Snap = { heap: number; wasm: { memoryBytes: number; inUseBytes: number; evictions: number; budgetBytes: number } };
  const steps = (mode: string, n: number) => {
    const script = fileURLToPath(new URL("./fixtures/heap-steps.ts", import.meta.url));
    const tsx = fileURLToPath(new URL("../../../node_modules/tsx/dist/esm/index.mjs", import.meta.url));
    const r = spawnSync(process.execPath, ["--expose-gc", "--conditions=source", "--import", tsx, script, String(n), mode], {
      encoding: "utf8",
      timeout: 110_000,
      env: { ...process.env },
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { warm: Snap; end: Snap; gc: boolean; backend: string };
    expect(out.gc).toBe(true);
    return out;
  };

  test("10,000 small training steps keep the heap flat (child process with --expose-gc)", () => {
    const { warm, end } = steps("tiny", 10_000);
    // Loose bound, no timing: after warm-up the retained heap may not grow by more than 8 MiB
    // over 9,000 more steps (a leak of one small tensor per step would be ~9,000 × (tensor + graph)).
    expect(end.heap - warm.heap).toBeLessThan(8 * 1024 * 1024);
  });

  test("10,000 library training steps on wasm-resident tensors: JS heap flat, wasm bytes in use exactly flat, nothing evicted", () => {
    // (On the cpu backend the same loop runs 2,000 steps: there is no wasm memory to watch.)
    const { warm, end, backend } = steps("wasm", getBackend().name === "wasm" ? 10_000 : 2_000);
    expect(end.heap - warm.heap).toBeLessThan(8 * 1024 * 1024);
    if (backend === "wasm") {
      expect(warm.wasm.inUseBytes).toBeGreaterThan(100_000); // the weights and activations really live there
      expect(end.wasm.inUseBytes).toBe(warm.wasm.inUseBytes);
      expect(end.wasm.memoryBytes).toBe(warm.wasm.memoryBytes);
      expect(end.wasm.evictions).toBe(0);
    }
  });

  test("10,000 hand-written steps that drop tensors without dispose(): memory stays within the wasm budget", () => {
    const { warm, end, backend } = steps("user", getBackend().name === "wasm" ? 10_000 : 2_000);
    expect(end.heap - warm.heap).toBeLessThan(16 * 1024 * 1024);
    if (backend === "wasm") {
      expect(end.wasm.inUseBytes).toBeLessThanOrEqual(end.wasm.budgetBytes + 1024 * 1024);
      expect(end.wasm.memoryBytes).toBeLessThanOrEqual(2 * end.wasm.budgetBytes);
      expect(end.wasm.evictions).toBeGreaterThan(0);
    }
  });
});
