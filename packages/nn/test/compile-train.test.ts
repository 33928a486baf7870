/**
 * compile() on whole training steps (forward, backward, .grad, opt.step(), opt.zeroGrad()):
 * 50 steps of an MLP (with dropout), LeNet-5 and the lecture's cubic fit, compiled against eager,
 * on cpu and wasm, and compiled on 1 and 2 wasm threads. The bound is 1e-4 relative on
 * the loss trajectory; the replay runs the very kernels eager code runs, in the same order (no
 * fusion reorders a sum), so the trajectories are asserted equal bit for bit — stronger.
 */
import { afterEach, describe, expect, it, test } from "vitest";
import * as dg from "@deltagrad/autograd";
import { compile, getBackend, manualSeed, randint, randn, setBackend, tensor, type Tensor } from "@deltagrad/autograd";
import { Dropout, LeNet5, ReLU, Linear, MLP, Sequential, Sigmoid, crossEntropy, fit, mseLoss, type Module } from "@deltagrad/nn";
import { Adam, AdamW, SGD, StepLR, type Optimizer } from "@deltagrad/optim";
import { LECTURE_X, LECTURE_Y, Y_RANGE } from "../../../examples/cubic-fit.js";

const initial = getBackend().name;
const initialThreads = dg.getNumThreads();
afterEach(() => {
  setBackend(initial);
  dg.setNumThreads(initialThreads);
});

const BACKENDS = ["cpu", "wasm"].filter((b) => dg.listBackends().includes(b));

interface Setup {
  model: Module;
  opt: Optimizer;
  x: Tensor;
  y: Tensor;
  loss: (p: Tensor, y: Tensor) => Tensor;
  sched?: StepLR;
}

const SETUPS: Record<string, () => Setup> = {
  "MLP (relu, dropout 0.2, AdamW, StepLR)": () => {
    const model = new Sequential(new Linear(12, 32), new ReLU(), new Dropout(0.2), new Linear(32, 16), new ReLU(), new Linear(16, 4));
    const opt = new AdamW(model.parameters(), { lr: 0.01 });
    return { model, opt, x: randn([16, 12]), y: randint(0, 4, [16]), loss: crossEntropy, sched: new StepLR(opt, { stepSize: 10, gamma: 0.5 }) };
  },
  "MLP (sigmoid, SGD momentum)": () => {
    const model = new MLP([12, 24, 4], { activation: "sigmoid" });
    return { model, opt: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true }), x: randn([16, 12]), y: randint(0, 4, [16]), loss: crossEntropy };
  },
  // Plain SGD: no host state, so a replay reuses the last host capture until StepLR changes lr.
  "MLP (tanh, plain SGD, StepLR every 7 steps)": () => {
    const model = new MLP([12, 24, 4], { activation: "tanh" });
    const opt = new SGD(model.parameters(), { lr: 0.2 });
    return { model, opt, x: randn([16, 12]), y: randint(0, 4, [16]), loss: crossEntropy, sched: new StepLR(opt, { stepSize: 7, gamma: 0.5 }) };
  },
  "LeNet-5": () => {
    const model = new LeNet5();
    return { model, opt: new Adam(model.parameters(), { lr: 1e-3 }), x: randn([4, 1, 32, 32]), y: randint(0, 10, [4]), loss: crossEntropy };
  },
  "cubic fit (1-5-5-1 sigmoid, Adam)": () => {
    const model = new Sequential(new Linear(1, 5, { init: "randomUniform", biasInit: "zeros" }), new Sigmoid(), new Linear(5, 5, { init: "randomUniform", biasInit: "zeros" }), new Sigmoid(), new Linear(5, 1, { init: "randomUniform", biasInit: "zeros" }), new Sigmoid());
    const scale = (v: number) => (v - Y_RANGE[0]) / (Y_RANGE[1] - Y_RANGE[0]);
    return { model, opt: new Adam(model.parameters(), { lr: 0.01 }), x: tensor(LECTURE_X).reshape([20, 1]), y: tensor(LECTURE_Y.map(scale)).reshape([20, 1]), loss: mseLoss };
  },
};

/** Losses of `steps` training steps, each step compiled or not; also the final parameters. */
function trajectory(name: string, steps: number, compiled: boolean): { losses: number[]; params: number[][]; traces: number } {
  manualSeed(0);
  const s = SETUPS[name]!();
  s.model.train();
  const step = (x: Tensor, y: Tensor) => {
    s.opt.zeroGrad();
    const l = s.loss(s.model.call(x), y);
    l.backward();
    s.opt.step();
    return l;
  };
  const f = compiled ? compile(step) : step;
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    losses.push(f(s.x, s.y).itemSync());
    s.sched?.step();
  }
  const traces = compiled ? (f as ReturnType<typeof compile>).stats().traces : 0;
  return { losses, params: s.model.parameters().map((p) => Array.from(p.dataSync())), traces };
}

describe.each(BACKENDS)("compiled training steps on %s", (backend) => {
  for (const name of Object.keys(SETUPS)) {
    it(`${name}: 50 steps compiled equal eager`, () => {
      setBackend(backend);
      if (backend === "wasm") dg.setNumThreads(1);
      const steps = name === "LeNet-5" && backend === "cpu" ? 20 : 50;
      const eager = trajectory(name, steps, false);
      const comp = trajectory(name, steps, true);
      expect(comp.losses).toEqual(eager.losses);
      expect(comp.params).toEqual(eager.params);
      // Step 1 creates the optimizer state, step 2 traces with it; the rest replay (lr changes included).
      expect(comp.traces).toBe(2);
      expect(eager.losses[steps - 1]!).toBeLessThan(eager.losses[0]!);
    });
  }
});

/** A compiled training step of a small MLP (6 samples, 4 features, 2 classes) with the optimizer `make` builds. */
function compiledMlpStep<O extends Optimizer>(make: (params: Tensor[]) => O) {
  const model = new MLP([4, 8, 2]);
  const opt = make(model.parameters());
  const x = randn([6, 4]);
  const y = tensor([0, 1, 1, 0, 1, 0], { dtype: "int32" });
  const step = compile(() => {
    opt.zeroGrad();
    const loss = crossEntropy(model.call(x), y);
    loss.backward();
    opt.step();
    return loss;
  });
  return { model, opt, step };
}

test("a replay reuses the optimizer's last host capture while its hyperparameters and step counts are unchanged", () => {
  setBackend("cpu");
  manualSeed(4);
  let updates = 0;
  class CountingSGD extends SGD {
    protected override update(...args: Parameters<SGD["update"]>): ReturnType<SGD["update"]> {
      updates++;
      return super.update(...args);
    }
  }
  const { model, opt, step } = compiledMlpStep((params) => new CountingSGD(params, { lr: 0.1 }));
  for (let i = 0; i < 3; i++) step();
  const params = model.parameters().length;
  const before = updates;
  for (let i = 0; i < 5; i++) step();
  expect(updates, "no host logic rerun while nothing it reads changed").toBe(before);
  opt.paramGroups[0]!.lr = 0.05;
  step();
  expect(updates, "rerun once per parameter after lr changed").toBe(before + params);
  step();
  expect(updates).toBe(before + params);
  expect(step.stats().traces).toBe(2);
});

test("a first step that creates the optimizer's state is traced but not planned; the second is", () => {
  setBackend("cpu");
  manualSeed(3);
  const { step } = compiledMlpStep((params) => new Adam(params, { lr: 0.01 }));
  step();
  // Its plan could never replay (the next call finds the state made inside the trace), so none is made.
  expect(step.stats()).toMatchObject({ traces: 1, kernels: 0, cacheSize: 0 });
  expect(step.describe()).toMatch(/^\(not planned yet/);
  step();
  step();
  expect(step.stats()).toMatchObject({ traces: 2, hits: 1, cacheSize: 1 });
  expect(step.stats().kernels).toBeGreaterThan(0);
});

describe("float64 on the cpu backend", () => {
  it("a float64 MLP (tanh, dropout, Adam) trains 50 compiled steps equal to eager", () => {
    setBackend("cpu");
    const run = (compiled: boolean) => {
      manualSeed(6);
      const model = new MLP([5, 16, 3], { activation: "tanh", dropout: 0.1, dtype: "float64" });
      const opt = new Adam(model.parameters(), { lr: 0.01 });
      const x = randn([24, 5], { dtype: "float64" });
      const y = randint(0, 3, [24]);
      const step = (x: Tensor, y: Tensor) => {
        opt.zeroGrad();
        const l = crossEntropy(model.call(x), y);
        l.backward();
        opt.step();
        return l;
      };
      const f = compiled ? compile(step) : step;
      expect(model.parameters()[0]!.dtype).toBe("float64");
      return Array.from({ length: 50 }, () => f(x, y).itemSync());
    };
    const eager = run(false);
    expect(run(true)).toEqual(eager);
    expect(eager[49]!).toBeLessThan(eager[0]!);
  });
});

describe.skipIf(!BACKENDS.includes("wasm"))("fused optimizer updates", () => {
  it.each([
    ["Adam", (ps: Tensor[]) => new Adam(ps, { lr: 1e-3 })],
    ["AdamW (amsgrad)", (ps: Tensor[]) => new AdamW(ps, { lr: 1e-3, amsgrad: true })],
    ["SGD (momentum, weight decay)", (ps: Tensor[]) => new SGD(ps, { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 })],
  ] as const)("%s: each large parameter's update is one fused kernel, bit for bit eager's", (_name, make) => {
    setBackend("wasm");
    const run = (compiled: boolean) => {
      manualSeed(4);
      const model = new Sequential(new Linear(64, 64), new ReLU(), new Linear(64, 48));
      const opt = make(model.parameters());
      const x = randn([32, 64]);
      const y = randn([32, 48]);
      const step = (x: Tensor, y: Tensor) => {
        opt.zeroGrad();
        const l = mseLoss(model.call(x), y);
        l.backward();
        opt.step();
        return l;
      };
      const f = compiled ? compile(step) : step;
      const losses = Array.from({ length: 8 }, () => f(x, y).itemSync());
      return { losses, params: model.parameters().map((p) => Array.from(p.dataSync())), stats: compiled ? (f as ReturnType<typeof compile>).stats() : null };
    };
    const eager = run(false);
    const comp = run(true);
    expect(comp.losses).toEqual(eager.losses);
    expect(comp.params).toEqual(eager.params);
    // Two weight matrices of ≥ 1024 elements: at least their two updates fuse.
    expect(comp.stats!.fusedKernels).toBeGreaterThanOrEqual(2);
  });
});

describe.skipIf(!BACKENDS.includes("wasm"))("memory", () => {
  it("replays release every intermediate: wasm memory in use stays flat over 100 compiled steps", () => {
    setBackend("wasm");
    manualSeed(8);
    const model = new Sequential(new Linear(128, 128), new ReLU(), new Linear(128, 10));
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    const x = randn([64, 128]);
    const y = randint(0, 10, [64]);
    const step = compile((x: Tensor, y: Tensor) => {
      opt.zeroGrad();
      const l = crossEntropy(model.call(x), y);
      l.backward();
      opt.step();
      return l;
    });
    const run = (n: number) => {
      for (let i = 0; i < n; i++) step(x, y).dispose();
    };
    run(5);
    const before = dg.wasmMemoryStats().inUseBytes;
    run(100);
    expect(dg.wasmMemoryStats().inUseBytes).toBe(before);
    expect(step.stats()).toMatchObject({ traces: 2, hits: 103 });
  });
});

describe.skipIf(!BACKENDS.includes("wasm"))("threads", () => {
  it("a compiled MLP and LeNet-5 train bit-identically on 1 and 2 wasm threads", async () => {
    setBackend("wasm");
    dg.setNumThreads(2);
    for (let i = 0; i < 500 && dg.activeThreads() < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(dg.activeThreads()).toBe(2);
    for (const name of ["MLP (relu, dropout 0.2, AdamW, StepLR)", "LeNet-5"]) {
      dg.setNumThreads(1);
      const one = trajectory(name, 30, true);
      dg.setNumThreads(2);
      const two = trajectory(name, 30, true);
      expect(two.losses).toEqual(one.losses);
      expect(two.params).toEqual(one.params);
    }
  });
});

describe("fit({ compile })", () => {
  const run = async (compileSteps: boolean, warn: string[] = []) => {
    manualSeed(3);
    const model = new Sequential(new Linear(6, 16), new Dropout(0.1), new Linear(16, 3));
    const x = randn([50, 6]);
    const y = randint(0, 3, [50]);
    const orig = console.warn;
    console.warn = (m: string) => warn.push(m);
    try {
      const h = await fit(model, { x, y, loss: crossEntropy, optimizer: new Adam(model.parameters(), { lr: 0.02 }), epochs: 4, batchSize: 16, verbose: 0, seed: 1, compile: compileSteps });
      return { loss: h.series.loss, params: model.parameters().map((p) => Array.from(p.dataSync())) };
    } finally {
      console.warn = orig;
    }
  };

  it.each(BACKENDS)("on %s gives eager's history and parameters (ragged last batch included)", async (backend) => {
    setBackend(backend);
    const a = await run(false);
    const b = await run(true);
    expect(b.loss).toEqual(a.loss);
    expect(b.params).toEqual(a.params);
  });

  it("a compiled step still stops before the update on a non-finite loss, parameters and state unchanged", async () => {
    manualSeed(2);
    const model = new Linear(2, 1);
    const opt = new Adam(model.parameters(), { lr: 0.01 });
    const x = tensor([[1, 2], [3, 4], [5, 6], [7, 8], [1, 1], [NaN, 0]]);
    const y = tensor([[1], [2], [3], [4], [5], [6]]);
    let snap: unknown = null;
    const values = () => model.parameters().map((p) => Array.from(p.dataSync()));
    const cb = { onBatchEnd: (b: number) => void (b === 2 && (snap = values())) };
    await expect(fit(model, { x, y, loss: mseLoss, optimizer: opt, epochs: 1, batchSize: 2, shuffle: false, verbose: 0, callbacks: [cb], compile: true })).rejects.toThrow(/fit: loss is NaN at epoch 1, batch 3/);
    expect(values()).toEqual(snap);
  });

  it("falls back to eager steps with one warning when the loss reads a value on the host", async () => {
    manualSeed(3);
    const model = new Linear(4, 2);
    const warn: string[] = [];
    const orig = console.warn;
    console.warn = (m: string) => warn.push(m);
    const hostLoss = (p: Tensor, t: Tensor) => (p.sum().itemSync() > 1e9 ? p.sum() : mseLoss(p, t));
    try {
      const h = await fit(model, { x: randn([12, 4]), y: randn([12, 2]), loss: hostLoss, optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: 3, batchSize: 4, verbose: 0, compile: true });
      expect(h.series.loss!.length).toBe(3);
    } finally {
      console.warn = orig;
    }
    expect(warn.length).toBe(1);
    expect(warn[0]).toMatch(/does not compile, training eagerly.*itemSync/);
  });
});
