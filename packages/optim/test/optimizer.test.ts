import { describe, expect, it } from "vitest";
import { DeltagradError, tensor, zeros, type Tensor } from "@deltagrad/autograd";
import { Adagrad, Adam, AdamW, NAdam, RMSprop, SGD, type Optimizer, type OptimizerStateDict } from "@deltagrad/optim";
import { expectRelClose, makeOptimizer, OPTIMIZERS, type OptimizerName } from "./helpers.js";

const f64 = (v: number[]) => tensor(v, { dtype: "float64", requiresGrad: true });
const NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];
/** Options with momentum etc. on, so that every optimizer keeps state tensors. */
const STATEFUL: Record<OptimizerName, Record<string, unknown>> = {
  SGD: { lr: 0.1, momentum: 0.9 },
  Adagrad: { lr: 0.1 },
  RMSprop: { lr: 0.01, momentum: 0.5, centered: true },
  Adam: { lr: 0.01, amsgrad: true },
  AdamW: { lr: 0.01 },
  NAdam: { lr: 0.01 },
};

describe("constructor validation", () => {
  const bad: [OptimizerName, Record<string, unknown>, RegExp][] = [
    ["SGD", { lr: -0.1 }, /SGD: invalid lr -0.1: expected lr ≥ 0/],
    ["SGD", { lr: NaN }, /SGD: lr must be a finite number, got NaN/],
    ["SGD", { lr: "0.1" }, /SGD: lr must be a finite number/],
    ["SGD", { lr: 0.1, momentum: -0.5 }, /invalid momentum -0.5/],
    ["SGD", { lr: 0.1, nesterov: true }, /nesterov momentum requires momentum > 0 and dampening = 0/],
    ["SGD", { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }, /requires momentum > 0 and dampening = 0 \(got momentum 0.9, dampening 0.1\)/],
    ["SGD", { lr: 0.1, weightDecay: -1 }, /invalid weightDecay -1/],
    ["SGD", { lr: 0.1, nesterov: "yes" }, /nesterov must be a boolean/],
    ["SGD", { learningRate: 0.1 }, /SGD: unknown option "learningRate" \(expected one of lr, momentum/],
    ["SGD", { lr: 0.1, weight_decay: 0.1 }, /unknown option "weight_decay"/],
    ["Adagrad", { lrDecay: -0.1 }, /Adagrad: invalid lrDecay -0.1/],
    ["Adagrad", { eps: 0 }, /Adagrad: invalid eps 0: expected eps > 0/],
    ["Adagrad", { initialAccumulatorValue: -1 }, /invalid initialAccumulatorValue -1/],
    ["RMSprop", { alpha: 1.5 }, /RMSprop: invalid alpha 1.5: expected 0 ≤ alpha ≤ 1/],
    ["RMSprop", { eps: -1e-8 }, /invalid eps -1e-8/],
    ["RMSprop", { momentum: -0.1 }, /invalid momentum -0.1/],
    ["RMSprop", { centered: 1 }, /centered must be a boolean/],
    ["Adam", { betas: [1, 0.999] }, /Adam: invalid betas\[0\] 1: expected 0 ≤ beta1 < 1/],
    ["Adam", { betas: [0.9, -0.1] }, /Adam: invalid betas\[1\] -0.1: expected 0 ≤ beta2 < 1/],
    ["Adam", { betas: [0.9] }, /Adam: betas must be a pair \[beta1, beta2\], got \[0.9\]/],
    ["Adam", { eps: 0 }, /Adam: invalid eps 0: expected eps > 0/],
    ["Adam", { lr: -1e-3 }, /Adam: invalid lr -0.001/],
    ["Adam", { amsgrad: "true" }, /amsgrad must be a boolean/],
    ["AdamW", { weightDecay: -0.01 }, /AdamW: invalid weightDecay -0.01/],
    ["AdamW", { betas: [0.9, 1] }, /AdamW: invalid betas\[1\] 1/],
    ["NAdam", { momentumDecay: -1 }, /NAdam: invalid momentumDecay -1/],
    ["NAdam", { betas: [-0.1, 0.9] }, /NAdam: invalid betas\[0\] -0.1/],
  ];
  it.each(bad)("%s %j throws", (name, options, message) => {
    const p = f64([1, 2]);
    p.grad = tensor([0.5, 0.5], { dtype: "float64" });
    expect(() => makeOptimizer(name, [p], options)).toThrow(DeltagradError);
    expect(() => makeOptimizer(name, [p], options)).toThrow(message);
    // Nothing was touched: the parameter and its gradient are as before.
    expect(Array.from(p.dataSync())).toEqual([1, 2]);
    expect(Array.from(p.grad.dataSync())).toEqual([0.5, 0.5]);
  });

  it("rejects bad parameter lists and groups", () => {
    const p = f64([1]);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/SGD: got an empty parameter list/);
    expect(() => new SGD([p, 3 as unknown as Tensor], { lr: 0.1 })).toThrow(/params mixes tensors and parameter groups/);
    expect(() => new SGD([tensor([1], { dtype: "int32" })], { lr: 0.1 })).toThrow(/params\[0\] has dtype int32; only float32 and float64/);
    expect(() => new SGD([p.mul(2)], { lr: 0.1 })).toThrow(/params\[0\] was produced by mul; only leaf tensors/);
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/params\[1\] appears more than once/);
    expect(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 })).toThrow(/param group 1: params\[0\] appears more than once/);
    expect(() => new Adam([{ params: [p], lr: -1 }])).toThrow(/Adam: invalid lr -1/);
    expect(() => new Adam([{ params: [p], learningRate: 1 } as never])).toThrow(/param group 0: unknown option "learningRate"/);
    expect(() => new Adam(p as never)).toThrow(/params must be an array/);
  });

  it("has PyTorch's defaults", () => {
    const p = f64([1]);
    const hp = (o: Optimizer) => {
      const { params: _, ...rest } = o.paramGroups[0]!;
      return rest;
    };
    expect(hp(new SGD([p]))).toEqual({ lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false });
    expect(hp(new Adagrad([p]))).toEqual({ lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false });
    expect(hp(new RMSprop([p]))).toEqual({ lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false });
    expect(hp(new Adam([p]))).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false });
    expect(hp(new AdamW([p]))).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false });
    expect(hp(new NAdam([p]))).toEqual({ lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, maximize: false });
  });
});

describe("step", () => {
  it.each(NAMES)("%s keeps parameter identity, leaves no graph, and changes values in place", (name) => {
    const w = f64([1, -2, 3]);
    const model = { w };
    const opt = makeOptimizer(name, [w], STATEFUL[name]);
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      w.mul(w).sum().backward();
      opt.step();
    }
    expect(opt.paramGroups[0]!.params[0]).toBe(w);
    expect(model.w).toBe(w);
    expect(w.isLeaf).toBe(true);
    expect(w.requiresGrad).toBe(true);
    expect(Array.from(w.dataSync()).every((v, i) => Math.abs(v) < Math.abs([1, -2, 3][i]!))).toBe(true);
    // The parameter still trains: a new graph through it reaches it.
    opt.zeroGrad();
    w.sum().backward();
    expect(Array.from(w.grad!.dataSync())).toEqual([1, 1, 1]);
  });

  it.each(NAMES)("%s skips parameters whose grad is null (no update, no state)", (name) => {
    const a = f64([1, 2]);
    const b = f64([3, 4]);
    const opt = makeOptimizer(name, [a, b], STATEFUL[name]);
    a.grad = tensor([1, 1], { dtype: "float64" });
    opt.step();
    expect(Array.from(b.dataSync())).toEqual([3, 4]);
    expect(Array.from(a.dataSync())).not.toEqual([1, 2]);
    expect(opt.state.has(b)).toBe(false);
    expect(Object.keys(opt.stateDict().tensors).every((k) => k.startsWith("state.0."))).toBe(true);
  });

  it.each(NAMES)("%s works in float32: values, gradient and state stay float32 and track float64", (name) => {
    const p32 = tensor([0.5, -1.5, 2], { requiresGrad: true });
    const p64 = f64([0.5, -1.5, 2]);
    const o32 = makeOptimizer(name, [p32], STATEFUL[name]);
    const o64 = makeOptimizer(name, [p64], STATEFUL[name]);
    const grads = [[0.3, -0.2, 1], [0.1, 0.4, -0.5], [-0.25, 0.5, 0.75]];
    for (const g of grads) {
      p32.grad = tensor(g);
      p64.grad = tensor(g, { dtype: "float64" });
      o32.step();
      o64.step();
    }
    expect(p32.dtype).toBe("float32");
    for (const t of Object.values(o32.stateDict().tensors)) expect(t.dtype).toBe("float32");
    for (const t of Object.values(o64.stateDict().tensors)) expect(t.dtype).toBe("float64");
    // float32 rounding (ε ≈ 6e-8) over three steps.
    expectRelClose(p32.dataSync(), p64.dataSync(), 1e-5, name);
  });

  it("casts a gradient of another float dtype to the parameter's", () => {
    const p = f64([1]);
    p.grad = tensor([0.5]); // float32
    new SGD([p], { lr: 1 }).step();
    expect(p.dtype).toBe("float64");
    expect(p.itemSync()).toBe(0.5);
  });

  it("a gradient of the wrong shape is refused when set (Tensor.grad validates), before changing any parameter", () => {
    const a = f64([1, 2]);
    const b = f64([3, 4]);
    const opt = new Adam([a, b], { lr: 0.1 });
    a.grad = tensor([1, 1], { dtype: "float64" });
    expect(() => (b.grad = tensor([1, 1, 1], { dtype: "float64" }))).toThrow(/grad: gradient \[3\] float64 does not fit the tensor's \[2\]/);
    expect(b.grad).toBe(null);
    expect(Array.from(a.dataSync())).toEqual([1, 2]);
    expect(opt.state.size).toBe(0);
  });

  it("uses each group's hyperparameters, and a changed lr from the next step on", () => {
    const a = f64([1]);
    const b = f64([1]);
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    a.grad = tensor([1], { dtype: "float64" });
    b.grad = tensor([1], { dtype: "float64" });
    opt.step();
    expect([a.itemSync(), b.itemSync()]).toEqual([0.9, 0.5]);
    opt.paramGroups[0]!.lr = 0.2;
    opt.step();
    expect(a.itemSync()).toBeCloseTo(0.7, 15);
    opt.paramGroups[0]!.lr = -1;
    expect(() => opt.step()).toThrow(/SGD: invalid lr -1/);
  });

  it("addParamGroup adds a validated group", () => {
    const a = f64([1]);
    const b = f64([1]);
    const opt = new SGD([a], { lr: 0.1, momentum: 0.9 });
    expect(() => opt.addParamGroup({ params: [a] })).toThrow(/appears more than once/);
    expect(() => opt.addParamGroup({ params: [b], momentum: -1 })).toThrow(/invalid momentum -1/);
    expect(opt.paramGroups.length).toBe(1);
    opt.addParamGroup({ params: [b], lr: 1 });
    expect(opt.paramGroups[1]).toMatchObject({ lr: 1, momentum: 0.9 });
  });

  it("step(closure) evaluates the closure with gradients enabled and returns its result", () => {
    const w = f64([2]);
    const opt = new SGD([w], { lr: 0.25 });
    const loss = opt.step(() => {
      opt.zeroGrad();
      const l = w.mul(w).sum();
      l.backward();
      return l.itemSync();
    });
    expect(loss).toBe(4);
    expect(w.itemSync()).toBe(1);
  });

  it("zeroGrad sets gradients to null, or to zeros with setToNone: false", () => {
    const a = f64([1, 2]);
    const b = f64([3]);
    const opt = new SGD([a, b], { lr: 0.1 });
    a.grad = tensor([5, 6], { dtype: "float64" });
    opt.zeroGrad({ setToNone: false });
    expect(a.grad!.shape).toEqual([2]);
    expect(a.grad!.dtype).toBe("float64");
    expect(Array.from(a.grad!.dataSync())).toEqual([0, 0]);
    expect(b.grad).toBeNull();
    opt.zeroGrad();
    expect(a.grad).toBeNull();
  });

  it("the TSDoc examples of the update functions compute what they say", async () => {
    const { sgdUpdate, adagradUpdate, rmspropUpdate, adamUpdate, adamwUpdate } = await import("@deltagrad/optim");
    const sgdHp = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };
    const s1 = sgdUpdate(tensor([1]), tensor([0.5]), undefined, sgdHp);
    expect(s1.param.itemSync()).toBeCloseTo(0.95, 6);
    expect(sgdUpdate(s1.param, tensor([0.5]), s1.state, sgdHp).param.itemSync()).toBeCloseTo(0.855, 6);
    const ada = { lr: 0.1, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false };
    expect(adagradUpdate(tensor([1]), tensor([2]), undefined, ada).param.itemSync()).toBeCloseTo(0.9, 6);
    const rms = { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false };
    expect(rmspropUpdate(tensor([1]), tensor([2]), undefined, rms).param.itemSync()).toBeCloseTo(0.9, 6);
    const adam = { lr: 0.01, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
    expect(adamUpdate(tensor([1]), tensor([3]), undefined, adam).param.itemSync()).toBeCloseTo(0.99, 6);
    expect(adamwUpdate(tensor([1]), tensor([3]), undefined, { ...adam, weightDecay: 0.01 }).param.itemSync()).toBeCloseTo(0.9899, 6);
    const w = tensor([1, 2], { requiresGrad: true });
    const opt = new SGD([w], { lr: 0.1 });
    w.mul(w).sum().backward();
    opt.step();
    expect(Array.from(w.dataSync()).map((v) => +v.toFixed(6))).toEqual([0.8, 1.6]);
  });

  it("pure update functions return new tensors and leave their inputs alone", async () => {
    const { adamUpdate } = await import("@deltagrad/optim");
    const p = tensor([1, 2], { dtype: "float64" });
    const g = tensor([0.5, -0.5], { dtype: "float64" });
    const hp = { lr: 0.1, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
    const r1 = adamUpdate(p, g, undefined, hp);
    const r2 = adamUpdate(r1.param, g, r1.state, hp);
    expect(Array.from(p.dataSync())).toEqual([1, 2]);
    expect(r1.state.step).toBe(1);
    expect(r2.state.step).toBe(2);
    expect(r2.state.exp_avg).not.toBe(r1.state.exp_avg);
  });
});

/** Everything observable about an optimizer, as plain data. */
function snapshot(opt: Optimizer) {
  const sd = opt.stateDict();
  return {
    groups: JSON.parse(JSON.stringify(sd.paramGroups)),
    scalars: { ...sd.scalars },
    tensors: Object.fromEntries(Object.entries(sd.tensors).map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) }])),
  };
}

function trained(name: OptimizerName, options: Record<string, unknown>, steps: number): { opt: Optimizer; params: Tensor[] } {
  const a = f64([1, -2, 3]);
  const b = f64([0.5, 0.25]);
  const opt = makeOptimizer(name, [{ params: [a] }, { params: [b] }] as never, options);
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    a.mul(a).sum().add(b.mul(a.slice([0], [2])).sum()).backward();
    opt.step();
  }
  return { opt, params: [a, b] };
}

describe("stateDict / loadStateDict", () => {
  it("has the documented layout", () => {
    const { opt } = trained("Adam", { lr: 0.01, amsgrad: true }, 2);
    const sd = opt.stateDict();
    expect(sd.type).toBe("Adam");
    expect(sd.paramGroups).toEqual([
      { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: true, maximize: false, params: [0] },
      { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: true, maximize: false, params: [1] },
    ]);
    expect(Object.keys(sd.tensors).sort()).toEqual([
      "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq",
      "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.max_exp_avg_sq",
    ]);
    expect(sd.tensors["state.1.exp_avg"]!.shape).toEqual([2]);
    expect(sd.scalars).toEqual({ "state.0.step": 2, "state.1.step": 2 });
    expect(JSON.parse(JSON.stringify({ paramGroups: sd.paramGroups, scalars: sd.scalars }))).toEqual({ paramGroups: sd.paramGroups, scalars: sd.scalars });
  });

  it("is a snapshot: later steps do not change a dict already taken", () => {
    const { opt, params } = trained("RMSprop", STATEFUL.RMSprop, 2);
    const sd = opt.stateDict();
    const before = Array.from(sd.tensors["state.0.square_avg"]!.dataSync());
    params[0]!.grad = tensor([1, 1, 1], { dtype: "float64" });
    opt.step();
    expect(Array.from(sd.tensors["state.0.square_avg"]!.dataSync())).toEqual(before);
    expect(sd.scalars["state.0.step"]).toBe(2);
  });

  it.each(NAMES)("%s: save, load into a fresh optimizer, and the trajectory continues exactly", (name) => {
    const options = STATEFUL[name];
    const full = trained(name, options, 5);
    const half = trained(name, options, 3);
    // A fresh optimizer over fresh parameters holding the 3-step values, with other hyperparameters.
    const sd = half.opt.stateDict();
    const sdJson = JSON.parse(JSON.stringify({ type: sd.type, paramGroups: sd.paramGroups, scalars: sd.scalars }));
    const [a, b] = half.params.map((p) => f64(Array.from(p.dataSync())));
    const fresh = makeOptimizer(name, [{ params: [a] }, { params: [b] }] as never, { lr: 0.5 });
    fresh.loadStateDict({ ...sdJson, tensors: sd.tensors });
    expect(fresh.paramGroups[0]!.lr).toBe(options.lr);
    for (let i = 0; i < 2; i++) {
      fresh.zeroGrad();
      a!.mul(a!).sum().add(b!.mul(a!.slice([0], [2])).sum()).backward();
      fresh.step();
    }
    expect(Array.from(a!.dataSync())).toEqual(Array.from(full.params[0]!.dataSync()));
    expect(Array.from(b!.dataSync())).toEqual(Array.from(full.params[1]!.dataSync()));
  });

  const mismatches: [string, (sd: OptimizerStateDict) => void, RegExp][] = [
    ["another optimizer type", (sd) => void (sd.type = "SGD"), /state dict is for "SGD", not Adam/],
    ["a missing group", (sd) => void sd.paramGroups.pop(), /has 1 parameter groups, the optimizer has 2/],
    ["an extra parameter", (sd) => void sd.paramGroups[1]!.params.push(2), /param group 1 has 2 parameters in the state dict, 1 in the optimizer/],
    ["a missing hyperparameter", (sd) => void delete sd.paramGroups[1]!.amsgrad, /param group 1: hyperparameters \{.*\} do not match Adam's/],
    ["an unknown hyperparameter", (sd) => void (sd.paramGroups[1]!.momentum = 0.9), /do not match Adam's/],
    ["an invalid hyperparameter", (sd) => void (sd.paramGroups[1]!.betas = [0.9, 1.5]), /param group 1: Adam: invalid betas\[1\] 1.5/],
    ["a duplicated index", (sd) => void (sd.paramGroups[1]!.params = [0]), /parameter index 0 appears twice/],
    ["a tensor of the wrong shape", (sd) => void (sd.tensors["state.1.exp_avg"] = zeros([3], { dtype: "float64" })), /"state.1.exp_avg" has shape \[3\], its parameter \[2\]/],
    ["a tensor of the wrong dtype", (sd) => void (sd.tensors["state.1.exp_avg"] = zeros([2])), /"state.1.exp_avg" has dtype float32, its parameter float64/],
    ["a missing state tensor", (sd) => void delete sd.tensors["state.1.max_exp_avg_sq"], /state of parameter 1 lacks "state.1.max_exp_avg_sq"/],
    ["an unknown state tensor", (sd) => void (sd.tensors["state.1.momentum_buffer"] = zeros([2], { dtype: "float64" })), /unexpected state tensor "state.1.momentum_buffer"/],
    ["state for a parameter no group lists", (sd) => void (sd.tensors["state.7.exp_avg"] = zeros([2], { dtype: "float64" })), /refers to parameter 7, which no group lists/],
    ["a malformed key", (sd) => void (sd.tensors["state.one.exp_avg"] = zeros([2], { dtype: "float64" })), /bad state key "state.one.exp_avg"/],
    ["a non-tensor", (sd) => void (sd.tensors["state.1.exp_avg"] = [0, 0] as never), /"state.1.exp_avg" is not a Tensor/],
    ["a fractional step", (sd) => void (sd.scalars["state.1.step"] = 1.5), /"state.1.step" must be a non-negative integer, got 1.5/],
    ["a missing step", (sd) => void delete sd.scalars["state.1.step"], /state of parameter 1 lacks "state.1.step"/],
    ["state that amsgrad off does not keep", (sd) => sd.paramGroups.forEach((g) => (g.amsgrad = false)), /unexpected state tensor "state.\d.max_exp_avg_sq"/],
  ];
  it.each(mismatches)("rejects %s and leaves the optimizer unchanged", (_, corrupt, message) => {
    const source = trained("Adam", { lr: 0.5, amsgrad: true }, 3).opt.stateDict();
    corrupt(source);
    const { opt: target } = trained("Adam", { lr: 0.01, amsgrad: true, betas: [0.8, 0.99] }, 2);
    const before = snapshot(target);
    expect(() => target.loadStateDict(source)).toThrow(DeltagradError);
    expect(() => target.loadStateDict(source)).toThrow(message);
    expect(snapshot(target)).toEqual(before);
  });

  it("the uncorrupted source does load (so the rejections above are about the corruption)", () => {
    const source = trained("Adam", { lr: 0.5, amsgrad: true }, 3).opt.stateDict();
    const { opt: target } = trained("Adam", { lr: 0.01, amsgrad: true, betas: [0.8, 0.99] }, 2);
    target.loadStateDict(source);
    expect(snapshot(target)).toEqual(snapshot({ stateDict: () => source } as Optimizer));
  });
});
