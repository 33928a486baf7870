/**
 * Property: over several steps with random hyperparameters and gradients, each optimizer matches
 * a second implementation written here coordinate by coordinate with plain numbers (the
 * micrograd way). This covers option combinations the PyTorch fixtures don't (Nesterov with
 * weight decay and maximize, AMSGrad with weight decay, …) and NAdam, which has no fixture.
 *
 * Tolerance 1e-11 relative to |p₀| + Σ|Δp| per coordinate: float64 rounding of two different
 * operation orders over ≤ 6 steps (each ~1e-16 relative), with margin; plus 1e-300 absolute,
 * because with gradients like 5e-324 the reference underflows to 0 where the tensor code keeps
 * a subnormal (found by fast-check: −lr·g/eps = −4.9e-319 vs 0).
 */
import { describe, expect } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { tensor } from "@deltagrad/autograd";
import { makeOptimizer, type OptimizerName } from "./helpers.js";

type Opts = Record<string, any>;
type Ref = (p: number, g: number, s: Opts, o: Opts) => number;

const REFS: Record<OptimizerName, Ref> = {
  SGD(p, g, s, o) {
    let d = (o.maximize ? -g : g) + o.weightDecay * p;
    if (o.momentum !== 0) {
      s.buf = s.buf === undefined ? d : o.momentum * s.buf + (1 - o.dampening) * d;
      d = o.nesterov ? d + o.momentum * s.buf : s.buf;
    }
    return p - o.lr * d;
  },
  Adagrad(p, g, s, o) {
    s.t = (s.t ?? 0) + 1;
    const d = (o.maximize ? -g : g) + o.weightDecay * p;
    s.sum = (s.sum ?? o.initialAccumulatorValue) + d * d;
    return p - (o.lr / (1 + (s.t - 1) * o.lrDecay)) * (d / (Math.sqrt(s.sum) + o.eps));
  },
  RMSprop(p, g, s, o) {
    const d = (o.maximize ? -g : g) + o.weightDecay * p;
    s.v = o.alpha * (s.v ?? 0) + (1 - o.alpha) * d * d;
    let a: number;
    if (o.centered) {
      s.m = o.alpha * (s.m ?? 0) + (1 - o.alpha) * d;
      a = Math.sqrt(s.v - s.m * s.m) + o.eps;
    } else a = Math.sqrt(s.v) + o.eps;
    if (o.momentum > 0) {
      s.buf = o.momentum * (s.buf ?? 0) + d / a;
      return p - o.lr * s.buf;
    }
    return p - (o.lr * d) / a;
  },
  Adam(p, g, s, o) {
    return adam(p, (o.maximize ? -g : g) + o.weightDecay * p, s, o);
  },
  AdamW(p, g, s, o) {
    return adam(p * (1 - o.lr * o.weightDecay), o.maximize ? -g : g, s, o);
  },
  NAdam(p, g, s, o) {
    const [b1, b2] = o.betas;
    s.t = (s.t ?? 0) + 1;
    const d = (o.maximize ? -g : g) + o.weightDecay * p;
    const mu = b1 * (1 - 0.5 * 0.96 ** (s.t * o.momentumDecay));
    const muNext = b1 * (1 - 0.5 * 0.96 ** ((s.t + 1) * o.momentumDecay));
    s.prod = (s.prod ?? 1) * mu;
    s.m = b1 * (s.m ?? 0) + (1 - b1) * d;
    s.v = b2 * (s.v ?? 0) + (1 - b2) * d * d;
    const denom = Math.sqrt(s.v / (1 - b2 ** s.t)) + o.eps;
    return p - (o.lr * (1 - mu) * d) / (1 - s.prod) / denom - (o.lr * muNext * s.m) / (1 - s.prod * muNext) / denom;
  },
};

function adam(p: number, d: number, s: Opts, o: Opts): number {
  const [b1, b2] = o.betas;
  s.t = (s.t ?? 0) + 1;
  s.m = b1 * (s.m ?? 0) + (1 - b1) * d;
  s.v = b2 * (s.v ?? 0) + (1 - b2) * d * d;
  s.vmax = o.amsgrad ? Math.max(s.vmax ?? 0, s.v) : s.v;
  const mHat = s.m / (1 - b1 ** s.t);
  const vHat = s.vmax / (1 - b2 ** s.t);
  return p - (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
}

const num = (min: number, max: number) => fc.double({ min, max, noNaN: true });
const bool = fc.boolean();
const lr = num(1e-3, 0.5);
const wd = fc.oneof(fc.constant(0), num(0, 0.3));
const betas = fc.tuple(num(0, 0.99), num(0.5, 0.9999));
const OPTIONS: Record<OptimizerName, fc.Arbitrary<Opts>> = {
  SGD: fc
    .record({ lr, momentum: fc.oneof(fc.constant(0), num(0, 0.99)), dampening: num(0, 1), nesterov: bool, weightDecay: wd, maximize: bool })
    .map((o) => (o.nesterov ? { ...o, momentum: o.momentum || 0.9, dampening: 0 } : o)),
  Adagrad: fc.record({ lr, lrDecay: num(0, 0.5), weightDecay: wd, initialAccumulatorValue: num(0, 1), eps: num(1e-10, 1e-3), maximize: bool }),
  RMSprop: fc.record({ lr: num(1e-3, 0.05), alpha: num(0.5, 0.999), eps: num(1e-8, 1e-3), weightDecay: wd, momentum: fc.oneof(fc.constant(0), num(0, 0.9)), centered: bool, maximize: bool }),
  Adam: fc.record({ lr, betas, eps: num(1e-8, 1e-3), weightDecay: wd, amsgrad: bool, maximize: bool }),
  AdamW: fc.record({ lr, betas, eps: num(1e-8, 1e-3), weightDecay: wd, amsgrad: bool, maximize: bool }),
  NAdam: fc.record({ lr, betas, eps: num(1e-8, 1e-3), weightDecay: wd, momentumDecay: num(0, 0.05), maximize: bool }),
};

const trajectory = fc.integer({ min: 1, max: 4 }).chain((n) =>
  fc.record({
    p0: fc.array(num(-3, 3), { minLength: n, maxLength: n }),
    grads: fc.array(fc.array(num(-3, 3), { minLength: n, maxLength: n }), { minLength: 1, maxLength: 6 }),
  }),
);

describe("several steps = a scalar reference implementation (fast-check)", () => {
  for (const name of Object.keys(REFS) as OptimizerName[]) {
    test.prop([OPTIONS[name], trajectory])(name, (opts, { p0, grads }) => {
      const p = tensor(p0, { dtype: "float64", requiresGrad: true });
      const opt = makeOptimizer(name, [p], opts);
      const ref = p0.slice();
      const states = p0.map(() => ({}));
      const travelled = p0.map((x) => Math.abs(x));
      grads.forEach((g, t) => {
        p.grad = tensor(g, { dtype: "float64" });
        opt.step();
        const got = p.dataSync();
        ref.forEach((x, i) => {
          ref[i] = REFS[name](x, g[i]!, states[i]!, opts);
          travelled[i]! += Math.abs(ref[i]! - x);
          // + 1e-300: in the subnormal range the two operation orders underflow differently.
          const bound = 1e-11 * travelled[i]! + 1e-300;
          if (!(Math.abs(got[i]! - ref[i]!) <= bound)) expect.fail(`step ${t}, element ${i}: got ${got[i]}, reference ${ref[i]}`);
        });
      });
    });
  }
});
