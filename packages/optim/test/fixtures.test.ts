import { describe, expect, it } from "vitest";
import { tensor } from "@deltagrad/autograd";
import { CosineAnnealingLR, SGD, StepLR } from "@deltagrad/optim";
import { camelOptions, expectRelClose, fixture, makeOptimizer, type OptimizerCase, type SchedulerCase } from "./helpers.js";

const optimizerCases = fixture.cases.filter((c): c is OptimizerCase => c.kind === "optimizer");
const schedulerCases = fixture.cases.filter((c): c is SchedulerCase => c.kind === "scheduler");

describe("PyTorch trajectories (fixtures/optim.json, float64, 1e-9 relative)", () => {
  it("has the cases this suite expects", () => {
    expect(optimizerCases.length).toBe(20);
    expect(schedulerCases.map((c) => c.scheduler).sort()).toEqual(["CosineAnnealingLR", "StepLR"]);
  });

  it.each(optimizerCases.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const p = tensor(c.p0, { dtype: "float64", requiresGrad: true });
    // all_options, not options: every PyTorch default is passed explicitly, so a default of ours
    // that differed from PyTorch's could not hide here (defaults are tested separately).
    const opt = makeOptimizer(c.optimizer, [p], camelOptions(c.all_options));
    for (let t = 0; t < c.T; t++) {
      p.grad = tensor(c.grads[t]!, { dtype: "float64" });
      opt.step();
      expectRelClose(p.dataSync(), c.params[t]!, 1e-9, `${c.name} step ${t}`);
    }
  });

  it.each(optimizerCases.map((c) => [c.name, c] as const))("%s with only the given options (our defaults = PyTorch's)", (_, c) => {
    const p = tensor(c.p0, { dtype: "float64", requiresGrad: true });
    const opt = makeOptimizer(c.optimizer, [p], camelOptions(c.options));
    const { params: _ids, ...hp } = opt.paramGroups[0]!;
    expect(hp).toEqual(camelOptions(c.all_options));
    p.grad = tensor(c.grads[0]!, { dtype: "float64" });
    opt.step();
    expectRelClose(p.dataSync(), c.params[0]!, 1e-9, c.name);
  });

  it.each(schedulerCases.map((c) => [c.name, c] as const))("scheduler %s", (_, c) => {
    const p = tensor([0], { dtype: "float64", requiresGrad: true });
    const opt = new SGD([p], { lr: c.base_lr });
    const o = camelOptions(c.options) as never;
    const sched = c.scheduler === "StepLR" ? new StepLR(opt, o) : new CosineAnnealingLR(opt, o);
    const lrs: number[] = [];
    for (let t = 0; t < c.T; t++) {
      lrs.push(opt.paramGroups[0]!.lr);
      expect(sched.getLastLr()).toEqual([opt.paramGroups[0]!.lr]);
      p.grad = tensor([1], { dtype: "float64" });
      opt.step();
      sched.step();
    }
    expectRelClose(lrs, c.lrs, 1e-9, c.name);
  });
});
