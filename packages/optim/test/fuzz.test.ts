/**
 * Fuzzes @deltagrad/optim through the shared oracle (packages/autograd/test/fuzz-support.ts):
 * optimizer constructors with hostile params and options, step() with hostile gradients,
 * loadStateDict() with hostile state dicts, the pure update functions, schedulers and clipping.
 *
 * State safety: whenever step() or loadStateDict() throws, every parameter's value, every
 * `.grad` and the optimizer's state and hyperparameters are exactly what they were before.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import * as optim from "@deltagrad/optim";
import { DeltagradError, Tensor, tensor, type DType } from "@deltagrad/autograd";
import { check, counter, floatDTypeArb, junkArb, numberArb, optionsArb, params, shapeArb, tensorArb, tensorOrJunk } from "../../autograd/test/fuzz-support.js";

const OPTIMIZERS = {
  SGD: { C: optim.SGD, keys: { lr: numberArb, momentum: numberArb, dampening: numberArb, weightDecay: numberArb, nesterov: fc.oneof(fc.boolean(), junkArb), maximize: fc.oneof(fc.boolean(), junkArb) } },
  Adagrad: { C: optim.Adagrad, keys: { lr: numberArb, lrDecay: numberArb, weightDecay: numberArb, eps: numberArb, initialAccumulatorValue: numberArb } },
  RMSprop: { C: optim.RMSprop, keys: { lr: numberArb, alpha: numberArb, eps: numberArb, weightDecay: numberArb, momentum: numberArb, centered: fc.oneof(fc.boolean(), junkArb) } },
  Adam: { C: optim.Adam, keys: { lr: numberArb, betas: fc.oneof(fc.tuple(fc.double({ min: 0, max: 1 }), fc.double({ min: 0, max: 1 })), junkArb), eps: numberArb, weightDecay: numberArb, amsgrad: fc.oneof(fc.boolean(), junkArb) } },
  AdamW: { C: optim.AdamW, keys: { lr: numberArb, betas: fc.oneof(fc.tuple(fc.double({ min: 0, max: 1 }), fc.double({ min: 0, max: 1 })), junkArb), eps: numberArb, weightDecay: numberArb, amsgrad: fc.oneof(fc.boolean(), junkArb) } },
  NAdam: { C: optim.NAdam, keys: { lr: numberArb, betas: fc.oneof(fc.tuple(fc.double({ min: 0, max: 1 }), fc.double({ min: 0, max: 1 })), junkArb), eps: numberArb, weightDecay: numberArb, momentumDecay: numberArb } },
} as const;

const paramArb = tensorArb({ shape: shapeArb(0, 3), dtype: floatDTypeArb, grad: 1 });
/** A parameter list: mostly leaf float tensors, sometimes ints, duplicates, non-leaves or junk. */
const paramsArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.array(paramArb, { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(tensorOrJunk({ dtype: fc.constantFrom<DType>("float32", "int32") }), { maxLength: 3 }) },
  { weight: 1, arbitrary: paramArb.map((p) => [p, p]) },
  { weight: 1, arbitrary: paramArb.map((p) => [p.mul(2)]) },
  { weight: 1, arbitrary: fc.array(fc.record({ params: fc.array(paramArb, { maxLength: 2 }), lr: numberArb }, { requiredKeys: ["params"] }), { maxLength: 2 }) },
  { weight: 1, arbitrary: junkArb },
);

interface Snapshot {
  values: number[][];
  grads: (number[] | null)[];
  state: string;
  groups: string;
}

function snapshot(opt: optim.Optimizer, ps: Tensor[]): Snapshot {
  const sd = opt.stateDict();
  return {
    values: ps.map((p) => Array.from(p.dataSync())),
    grads: ps.map((p) => (p.grad ? Array.from(p.grad.dataSync()) : null)),
    state: JSON.stringify({ scalars: sd.scalars, tensors: Object.fromEntries(Object.entries(sd.tensors).map(([k, t]) => [k, [t.dtype, t.shape, Array.from(t.dataSync())]])) }, (_, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v)),
    groups: JSON.stringify(sd.paramGroups),
  };
}

/** Gradient for a parameter: its own shape (with hostile values), a wrong shape or dtype, or junk. */
const gradFor = (p: Tensor) =>
  fc.oneof(
    { weight: 6, arbitrary: tensorArb({ shape: fc.constant(p.shape.slice()), dtype: fc.constantFrom<DType>(p.dtype, "float64", "float32"), grad: 0 }) },
    { weight: 1, arbitrary: tensorArb({ shape: shapeArb(0, 3), grad: 0 }) },
    { weight: 1, arbitrary: fc.constant(null) },
  );

const RUNS = 120;

describe("fuzz: @deltagrad/optim", () => {
  afterAll(() => console.log(`optim fuzz: ${counter.calls} calls (${counter.returned} returned, ${counter.threw} threw DeltagradError)`));

  it("has an entry for every exported function and class", () => {
    const covered = new Set([...Object.keys(OPTIMIZERS), "Optimizer", "LRScheduler", "sgdUpdate", "adagradUpdate", "rmspropUpdate", "adamUpdate", "adamwUpdate", "nadamUpdate",
      "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR", "LinearLR", "LinearWarmup", "ReduceLROnPlateau", "clipGradNorm", "clipGradValue"]);
    const missing = Object.entries(optim).filter(([k, v]) => typeof v === "function" && !covered.has(k)).map(([k]) => k);
    expect(missing).toEqual([]);
  });

  for (const [name, { C, keys }] of Object.entries(OPTIMIZERS)) {
    it(`${name}: constructor, step() and loadStateDict(); a failure changes nothing`, () => {
      const opts = optionsArb(keys as Record<string, fc.Arbitrary<unknown>>);
      fc.assert(
        fc.property(paramsArb, opts, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.nat(), junkArb, (ps, o, steps, seed, pick, junk) => {
          const opt = check(name, (a: unknown, b: unknown) => new (C as unknown as new (...x: unknown[]) => optim.Optimizer)(a, b), [ps, o], { result: (r) => expect(r).toBeInstanceOf(optim.Optimizer) });
          if (!opt) return;
          const all = opt.paramGroups.flatMap((g) => g.params);
          const rnd = fc.sample(fc.tuple(...all.map(gradFor)), { seed, numRuns: steps + 1 });
          for (let s = 0; s <= steps; s++) {
            // Setting .grad validates (same shape, a float dtype): a refused gradient leaves null.
            all.forEach((p, i) => {
              p.grad = null;
              check("grad", (g: Tensor | null) => void (p.grad = g), [(rnd[s]![i] as Tensor | null) ?? null], { result: () => {} });
            });
            const before = snapshot(opt, all);
            const ok = check(`${name}`, () => (opt.step(), true), [], { result: () => {} }) === true;
            const after = snapshot(opt, all);
            if (!ok) expect(after).toEqual(before); // a failing step changes nothing
            else expect(after.grads).toEqual(before.grads); // step never touches .grad
            all.forEach((p) => expect(p.isLeaf && p.requiresGrad).toBe(true));
          }
          // loadStateDict with its own dict (must work), a mutated one, and junk: a failure changes nothing.
          const sd = opt.stateDict();
          check(`${name}.loadStateDict`, (d: unknown) => opt.loadStateDict(d as never), [sd], { result: () => {} });
          const mutated = mutate(sd, pick, junk);
          const before = snapshot(opt, all);
          const res = check(`${name}.loadStateDict`, (d: unknown) => (opt.loadStateDict(d as never), true), [mutated], { result: () => {} });
          if (res === undefined) expect(snapshot(opt, all)).toEqual(before);
          check(`${name}.loadStateDict`, (d: unknown) => opt.loadStateDict(d as never), [junk], { result: () => {} });
          expect(snapshot(opt, all).values).toEqual(before.values);
          check(`${name}`, (z: unknown) => opt.zeroGrad(z as never), [junk], { result: () => {}, alsoNamed: ["zeroGrad"] });
        }),
        params(name, RUNS),
      );
    });
  }

  it("pure update functions", () => {
    const fns = { sgdUpdate: optim.sgdUpdate, adagradUpdate: optim.adagradUpdate, rmspropUpdate: optim.rmspropUpdate, adamUpdate: optim.adamUpdate, adamwUpdate: optim.adamwUpdate, nadamUpdate: optim.nadamUpdate };
    const defaults = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, lrDecay: 0, eps: 1e-8, initialAccumulatorValue: 0, alpha: 0.99, centered: false, betas: [0.9, 0.999], amsgrad: false, momentumDecay: 0.004 };
    fc.assert(
      fc.property(paramArb, tensorOrJunk({ shape: shapeArb(0, 3) }), // The pure functions take hyperparameters the classes have validated (a full set); junk
      // where the object is due must still be a clear error.
      fc.oneof(fc.constant(defaults), junkArb.filter((j) => j === null || typeof j !== "object" || Array.isArray(j))), (p, g, hp) => {
        for (const [n, f] of Object.entries(fns)) {
          check(n, (a: unknown, b: unknown, c: unknown) => (f as (...x: unknown[]) => unknown)(a, b, undefined, c), [p, g, hp], {
            result: (r) => expect((r as { param: unknown }).param).toBeInstanceOf(Tensor),
            alsoNamed: ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam"],
          });
        }
      }),
      params("update functions", RUNS),
    );
  });

  it("schedulers", () => {
    const num = numberArb;
    const specs: [string, (o: optim.SGD, x: unknown) => unknown, fc.Arbitrary<unknown>][] = [
      ["StepLR", (o, x) => new optim.StepLR(o, x as never), optionsArb({ stepSize: num, gamma: num })],
      ["MultiStepLR", (o, x) => new optim.MultiStepLR(o, x as never), optionsArb({ milestones: fc.oneof(fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 3 }), junkArb), gamma: num })],
      ["ExponentialLR", (o, x) => new optim.ExponentialLR(o, x as never), optionsArb({ gamma: num })],
      ["CosineAnnealingLR", (o, x) => new optim.CosineAnnealingLR(o, x as never), optionsArb({ tMax: num, etaMin: num })],
      ["LambdaLR", (o, x) => new optim.LambdaLR(o, x as never), optionsArb({ lrLambda: fc.oneof(fc.constant((e: number) => 1 / (e + 1)), fc.constant(() => NaN), fc.constant(() => "x"), junkArb) })],
      ["LinearLR", (o, x) => new optim.LinearLR(o, x as never), optionsArb({ startFactor: num, endFactor: num, totalIters: num })],
      ["LinearWarmup", (o, x) => new optim.LinearWarmup(o, x as never), optionsArb({ warmupSteps: num, startFactor: num })],
      ["ReduceLROnPlateau", (o, x) => new optim.ReduceLROnPlateau(o, x as never), optionsArb({ mode: fc.oneof(fc.constantFrom("min", "max"), junkArb), factor: num, patience: num, threshold: num, cooldown: num, minLr: num })],
    ];
    fc.assert(
      fc.property(fc.oneof(fc.constant(undefined), junkArb), fc.array(fc.oneof(fc.double(), junkArb), { maxLength: 4 }), ...specs.map((s) => s[2]), (badOpt, metrics, ...opts) => {
        specs.forEach(([n, make], i) => {
          const opt = new optim.SGD([tensor([1], { requiresGrad: true })], { lr: 0.1 });
          const parent = n === "LinearWarmup" ? ["LambdaLR"] : []; // a LambdaLR subclass
          const s = check(n, make, [opt, opts[i]], { result: () => {}, alsoNamed: parent }) as { step(m?: unknown): void } | undefined;
          check(n, make, [badOpt, opts[i]], { result: () => {}, alsoNamed: parent });
          if (!s) return;
          for (const m of metrics) {
            check(n, (mm: unknown) => s.step(mm), [n === "ReduceLROnPlateau" ? m : undefined], { result: () => {}, alsoNamed: ["step"] });
            const lr = opt.paramGroups[0]!.lr;
            expect(typeof lr === "number" && Number.isFinite(lr) && lr >= 0).toBe(true);
          }
        });
      }),
      params("schedulers", RUNS),
    );
  });

  it("gradient clipping: a failure leaves .grad unchanged", () => {
    fc.assert(
      fc.property(fc.array(paramArb, { minLength: 1, maxLength: 3 }), fc.array(fc.oneof(tensorArb({ shape: shapeArb(0, 2) }), fc.constant(null)), { minLength: 3, maxLength: 3 }), numberArb, optionsArb({ normType: numberArb, errorIfNonfinite: fc.oneof(fc.boolean(), junkArb) }), junkArb, (ps, gs, maxNorm, o, junk) => {
        ps.forEach((p, i) => (p.grad = gs[i] && gs[i]!.size === p.size ? gs[i]!.reshape(p.shape).cast(p.dtype) : null));
        const before = ps.map((p) => (p.grad ? Array.from(p.grad.dataSync()) : null));
        const r = check("clipGradNorm", optim.clipGradNorm, [ps, maxNorm, o], { result: (x) => expect((x as { shape: unknown }).shape).toEqual([]) });
        if (r === undefined) expect(ps.map((p) => (p.grad ? Array.from(p.grad.dataSync()) : null))).toEqual(before);
        check("clipGradValue", optim.clipGradValue, [ps, maxNorm], { result: () => {} });
        check("clipGradNorm", optim.clipGradNorm, [junk, 1], { result: () => {} });
        check("clipGradValue", optim.clipGradValue, [[junk], 1], { result: () => {} });
      }),
      params("clip", RUNS),
    );
  });

  it("ran the calls it was meant to", () => {
    expect(counter.calls).toBeGreaterThan(2000);
    expect(new DeltagradError("x")).toBeInstanceOf(Error);
  });
});

/** A state dict with one part replaced by junk, a wrong shape, a NaN or a missing key. */
function mutate(sd: optim.OptimizerStateDict, pick: number, junk: unknown): unknown {
  const copy = { ...sd, paramGroups: sd.paramGroups.map((g) => ({ ...g })), tensors: { ...sd.tensors }, scalars: { ...sd.scalars } };
  const tk = Object.keys(copy.tensors);
  const sk = Object.keys(copy.scalars);
  switch (pick % 8) {
    case 0: return { ...copy, type: junk };
    case 1: if (tk.length) copy.tensors[tk[pick % tk.length]!] = tensor([1, 2, 3, 4, 5, 6, 7]); return copy;
    case 2: if (sk.length) copy.scalars[sk[pick % sk.length]!] = NaN; return copy;
    case 3: if (tk.length) delete copy.tensors[tk[pick % tk.length]!]; return copy;
    case 4: (copy.paramGroups[0] as Record<string, unknown>).lr = junk; return copy;
    case 5: (copy.paramGroups[0] as Record<string, unknown>).params = [0, 0]; return copy;
    case 6: (copy.tensors as Record<string, unknown>)["state.0.bogus"] = junk; return copy;
    default: return { ...copy, paramGroups: junk };
  }
}
