/**
 * compile(): replays equal eager execution. Without fusion the replay runs the same kernels in
 * the same order as eager code, so the bound is exact equality (bit for bit), on cpu (float64)
 * and wasm (float32). Every PyTorch ops.json case goes through a compiled forward + backward.
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import * as dg from "@deltagrad/autograd";
import { compile, DeltagradError, getBackend, grad, manualSeed, rand, setBackend, Tensor, tensor, vjp } from "@deltagrad/autograd";

const initial = getBackend().name;
afterEach(() => setBackend(initial));

const BACKENDS = ["cpu", "wasm"].filter((b) => dg.listBackends().includes(b));

const bits = (t: Tensor | null) => (t === null ? null : Array.from(t.dataSync(), (v) => (Object.is(v, -0) ? "-0" : String(v))));

describe.each(BACKENDS)("compile on %s", (backend) => {
  const dtype = backend === "cpu" ? "float64" : "float32";
  const T = (v: number[], shape?: number[]) => {
    const t = tensor(v, { dtype });
    return shape ? t.reshape(shape) : t;
  };

  test("a pure function traces once per signature and replays", () => {
    setBackend(backend);
    const f = compile((x: Tensor, y: Tensor) => x.mul(y).add(1).exp().sum({ axis: 0 }));
    const a = T([1, 2, 3, 4], [2, 2]);
    const b = T([0.5, -1]);
    expect(bits(f(a, b))).toEqual(bits(a.mul(b).add(1).exp().sum({ axis: 0 })));
    const a2 = T([0.1, 0.2, 0.3, 0.4], [2, 2]);
    expect(bits(f(a2, b))).toEqual(bits(a2.mul(b).add(1).exp().sum({ axis: 0 })));
    expect(f.stats()).toMatchObject({ calls: 2, traces: 1, hits: 1, eagerCalls: 0, cacheSize: 1 });
    const a3 = T([1, 2, 3, 4, 5, 6], [3, 2]); // a new shape traces again
    expect(bits(f(a3, b))).toEqual(bits(a3.mul(b).add(1).exp().sum({ axis: 0 })));
    expect(f.stats()).toMatchObject({ traces: 2, cacheSize: 2 });
    expect(f.describe()).toMatch(/exp\(/);
  });

  test("the cache keeps at most maxCacheSize signatures (least recently used dropped)", () => {
    setBackend(backend);
    const f = compile((x: Tensor) => x.square(), { maxCacheSize: 2 });
    const xs = [1, 2, 3].map((n) => T(Array.from({ length: n }, (_, i) => i)));
    f(xs[0]!);
    f(xs[1]!);
    f(xs[0]!); // hit: xs[0]'s signature becomes the most recent
    f(xs[2]!); // drops xs[1]'s
    expect(f.stats()).toMatchObject({ traces: 3, hits: 1, cacheSize: 2 });
    f(xs[0]!);
    expect(f.stats().hits).toBe(2);
    f(xs[1]!);
    expect(f.stats().traces).toBe(4);
    expect(() => compile((x: Tensor) => x, { maxCacheSize: 0 })).toThrow(/maxCacheSize/);
  });

  test("non-tensor arguments are part of the signature; results may be arrays and objects", () => {
    setBackend(backend);
    const f = compile((x: Tensor, k: number) => ({ y: x.mul(k), parts: [x.add(k), k] }));
    const x = T([1, 2]);
    const r1 = f(x, 2);
    const r2 = f(T([3, 4]), 2);
    const r3 = f(x, 3);
    expect(bits(r1.y)).toEqual(bits(x.mul(2)));
    expect(bits(r2.y)).toEqual(bits(T([3, 4]).mul(2)));
    expect(bits(r3.parts[0] as Tensor)).toEqual(bits(x.add(3)));
    expect(r3.parts[1]).toBe(3);
    expect(f.stats()).toMatchObject({ traces: 2, hits: 1 });
    expect(() => f(x, { k: 1 } as unknown as number)).toThrow(DeltagradError);
  });

  test("a host read of a traced value throws naming the read and the fix; constants may be read", () => {
    setBackend(backend);
    for (const read of ["itemSync", "dataSync", "arraySync"] as const) {
      const f = compile((x: Tensor) => {
        const s = x.sum();
        return s[read]() as unknown as number > 0 ? x : x.neg();
      });
      expect(() => f(T([1, 2]))).toThrow(DeltagradError);
      expect(() => f(T([1, 2]))).toThrow(new RegExp(`${read}\\(\\) reads the result of \\w+ .*Return the tensor`));
    }
    // A read into a caller's array is a host read too.
    const into = compile((x: Tensor) => {
      const s = x.sum();
      return s.dataSync(s.dtype === "float64" ? new Float64Array(1) : new Float32Array(1))[0]! > 0 ? x : x.neg();
    });
    expect(() => into(T([1, 2]))).toThrow(/dataSync\(\) reads the result of \w+ .*Return the tensor/);
    // Hooks are gone after a failed trace: eager reads work.
    expect(T([1, 2]).sum().itemSync()).toBe(3);
    // A parameter's value changes between calls: reading it throws too.
    const w = T([1, 2]).requiresGrad_(true);
    expect(() => compile((x: Tensor) => (w.dataSync(), x))(T([1]))).toThrow(/parameter, optimizer state or gradient/);
    // A tensor made inside the function is a constant: reading it is fine.
    const g = compile((x: Tensor) => x.mul(tensor([2, 3], { dtype }).dataSync()[1]!));
    expect(bits(g(T([1, 2])))).toEqual(bits(T([3, 6])));
  });

  test("random draws advance the generator exactly as eager code (fresh numbers at every replay)", () => {
    setBackend(backend);
    const fn = (x: Tensor) => x.mul(rand(x.shape, { dtype })).add(rand([1], { dtype }));
    const x = T([1, 2, 3]);
    manualSeed(7);
    const eager = [0, 1, 2].map(() => bits(fn(x)));
    const f = compile(fn);
    manualSeed(7);
    const compiled = [0, 1, 2].map(() => bits(f(x)));
    expect(compiled).toEqual(eager);
    expect(compiled[1]).not.toEqual(compiled[2]);
    expect(f.stats().hits).toBe(2);
  });

  test("forward + backward of every ops.json case, replayed on new values, equals eager", () => {
    setBackend(backend);
    const ops = JSON.parse(readFileSync(new URL("./fixtures/ops.json", import.meta.url), "utf8")).cases as any[];
    type Nested = number | Nested[];
    const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);
    const flat = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);
    const mk = (v: Nested, scale: number, rg: boolean) => T(flat(v).map((e) => e * scale), shapeOf(v)).detach().requiresGrad_(rg);
    const axisOf = (a: { dim?: number | null }) => (a.dim === null || a.dim === undefined ? undefined : a.dim);
    const UNARY: Record<string, (x: Tensor, a: Record<string, any>) => Tensor> = {
      sigmoid: (x) => dg.sigmoid(x), tanh: (x) => dg.tanh(x), relu: (x) => dg.relu(x), softplus: (x) => dg.softplus(x),
      softmax: (x, a) => dg.softmax(x, { axis: a.dim }), log_softmax: (x, a) => dg.logSoftmax(x, { axis: a.dim }),
      logsumexp: (x, a) => dg.logSumExp(x, { axis: a.dim, keepDims: a.keepdim }), exp: (x) => dg.exp(x), log: (x) => dg.log(x),
      sqrt: (x) => dg.sqrt(x), reciprocal: (x) => dg.reciprocal(x), neg: (x) => dg.neg(x), pow: (x, a) => dg.pow(x, a.exponent),
      sum: (x, a) => dg.sum(x, { axis: axisOf(a), keepDims: a.keepdim }), mean: (x, a) => dg.mean(x, { axis: axisOf(a), keepDims: a.keepdim }),
      max: (x, a) => dg.max(x, { axis: axisOf(a), keepDims: a.keepdim }),
      var: (x, a) => dg.variance(x, { axis: axisOf(a), keepDims: a.keepdim, correction: a.unbiased ? 1 : 0 }),
      clamp: (x, a) => dg.clamp(x, { min: a.min, max: a.max }), cumsum: (x, a) => dg.cumsum(x, { axis: a.dim }),
    };
    const BINARY: Record<string, (a: Tensor, b: Tensor) => Tensor> = { pow: dg.pow, matmul: dg.matmul, add: dg.add, sub: dg.sub, mul: dg.mul, div: dg.div, maximum: dg.maximum };
    let checked = 0;
    const NN = new Set(["leaky_relu", "elu", "silu", "gelu", "hardtanh", "hardsigmoid_torch", "hard_logistic", "prelu"]);
    for (const c of ops) {
      if ("x" in c) {
        const op = UNARY[c.op];
        if (NN.has(c.op)) continue; // nn activations: packages/nn/test/compile-train.test.ts
        if (op === undefined) throw new Error(`no function for ${c.op}`);
        const step = (x: Tensor, ct: Tensor) => {
          const y = op(x, c.attrs);
          y.backward(ct);
          return [y, x.grad!];
        };
        const f = compile(step);
        f(mk(c.x, 1, true), mk(c.cotangent, 1, false));
        const scale = c.op === "log" || c.op === "sqrt" || c.op === "pow" ? 1.25 : 0.9;
        const [y, gx] = f(mk(c.x, scale, true), mk(c.cotangent, 1.1, false));
        const [ye, gxe] = step(mk(c.x, scale, true), mk(c.cotangent, 1.1, false));
        expect(bits(y!), c.name).toEqual(bits(ye!));
        expect(bits(gx!), c.name).toEqual(bits(gxe!));
        expect(f.stats().hits, c.name).toBe(1);
      } else {
        const cond = c.op === "where" ? tensor(c.cond, { dtype: "bool" }) : null;
        const step = (a: Tensor, b: Tensor, ct: Tensor) => {
          const y = cond ? dg.where(cond, a, b) : BINARY[c.op]!(a, b);
          y.backward(ct);
          return [y, a.grad!, b.grad!];
        };
        const f = compile(step);
        f(mk(c.a, 1, true), mk(c.b, 1, true), mk(c.cotangent, 1, false));
        const args = () => [mk(c.a, 1.1, true), mk(c.b, 0.95, true), mk(c.cotangent, 0.8, false)] as const;
        const got = f(...args());
        const want = step(...args());
        got.forEach((t, i) => expect(bits(t!), `${c.name} output ${i}`).toEqual(bits(want[i]!)));
        expect(f.stats().hits, c.name).toBe(1);
      }
      checked++;
    }
    expect(checked).toBe(ops.filter((c) => !NN.has(c.op)).length);
  });

  test("a compiled pure function inside grad and vjp gives eager's gradients", () => {
    setBackend(backend);
    const fn = (x: Tensor) => x.tanh().mul(x).sum();
    const f = compile(fn);
    const x = T([0.3, -1.2, 2]);
    expect(bits(grad(f)(x))).toEqual(bits(grad(fn)(x)));
    expect(bits(grad(f)(T([1, 2, 3])))).toEqual(bits(grad(fn)(T([1, 2, 3]))));
    const [, pull] = vjp((t: Tensor) => compile((u: Tensor) => u.exp())(t), x);
    expect(bits(pull(T([1, 1, 1]))[0]!)).toEqual(bits(x.exp()));
    // Inside grad: the forward replays (traced under noGrad) and the VJP is rematerialized eagerly.
    const before = f.stats();
    expect(bits(grad(f)(T([0.1, 0.2, 0.3])))).toEqual(bits(grad(fn)(T([0.1, 0.2, 0.3]))));
    expect(f.stats().hits).toBeGreaterThan(before.hits);
    expect(f.stats().eagerCalls).toBe(0);
    // Second order through the rematerialized VJP.
    const g2 = grad((t: Tensor) => grad(f)(t).sum());
    expect(bits(g2(x))).toEqual(bits(grad((t: Tensor) => grad(fn)(t).sum())(x)));
    // A function reading a parameter that requires grad runs eagerly inside grad (its gradient must reach w).
    const w = T([2, 3, 4]).requiresGrad_(true);
    const h = compile((t: Tensor) => t.mul(w).sum());
    const z = T([1, 1, 1]).requiresGrad_(true);
    h(z).backward();
    h(z).backward();
    expect(bits(w.grad)).toEqual(bits(T([2, 2, 2])));
    expect(h.stats().eagerCalls).toBe(1);
  });

  test("in-place writes and .grad accumulation replay; a .grad set or cleared since the trace re-traces", () => {
    setBackend(backend);
    const mkW = () => T([0.5, -0.25, 1]).requiresGrad_(true);
    const step = (w: Tensor) => (x: Tensor) => {
      const loss = x.mul(w).square().sum();
      loss.backward();
      dg.noGrad(() => w.assign(w.sub(w.grad!.mul(0.1))));
      return loss;
    };
    const we = mkW();
    const wc = mkW();
    const se = step(we);
    const sc = compile(step(wc));
    const xs = [T([1, 2, 3]), T([0.5, 1, -1]), T([2, 0, 1]), T([1, 1, 1])];
    for (const x of xs) {
      expect(bits(sc(x))).toEqual(bits(se(x)));
      expect(bits(wc)).toEqual(bits(we));
      expect(bits(wc.grad)).toEqual(bits(we.grad)); // accumulates: no zeroGrad
    }
    // Call 1 traced with .grad null; call 2 traced with .grad set; calls 3 and 4 replayed.
    expect(sc.stats()).toMatchObject({ traces: 2, hits: 2 });
    wc.grad = null;
    we.grad = null;
    expect(bits(sc(xs[0]!))).toEqual(bits(se(xs[0]!)));
    expect(bits(wc)).toEqual(bits(we));
  });

  test("a replay that throws leaves parameters and gradients untouched", () => {
    setBackend(backend);
    const table = T([1, 2, 3, 4], [4, 1]);
    const w = T([0]);
    const f = compile((i: Tensor) => {
      dg.noGrad(() => w.assign(w.add(dg.gather(table, i, 0).sum())));
      return w.mul(1);
    });
    f(tensor([1, 2], { dtype: "int32" }));
    f(tensor([0, 3], { dtype: "int32" }));
    const before = bits(w);
    expect(() => f(tensor([0, 9], { dtype: "int32" }))).toThrow(DeltagradError);
    expect(bits(w)).toEqual(before);
    expect(bits(f(tensor([0, 0], { dtype: "int32" })))).toEqual(bits(T([before!.map(Number)[0]! + 2])));
  });
});

describe.each(BACKENDS)("scalar graphs on %s", (backend) => {
  test("the lecture's h1…h6 graph and its gradients run as one generated function, bit for bit eager's", () => {
    setBackend(backend);
    const fn = (x: Tensor, w: Tensor, b: Tensor) =>
      grad((w: Tensor, b: Tensor) => w.mul(x).add(b).neg().exp().add(1).reciprocal().maximum(w.sign()).sqrt().erf(), { argnums: [0, 1] })(w, b) as unknown as Tensor[];
    const f = compile(fn);
    for (const [x, w, b] of [[1, 0, 0], [2, -0.5, 0.25], [-3, 1.5, -0], [0.5, 2, 1]]) {
      const args = [tensor(x!), tensor(w!), tensor(b!)] as const;
      expect(f(...args).map(bits)).toEqual(fn(...args).map(bits));
    }
    expect(f.stats()).toMatchObject({ hits: 3, singleFunction: true });
    // compare, where, cast and float64 (cpu) in a scalar program.
    const dt = backend === "cpu" ? "float64" : "float32";
    const g = (x: Tensor) => dg.where(x.mul(3).exp().cast("float32").add(1).greater(2), x, x.neg()).cast(dt);
    const cg = compile(g);
    for (const v of [0.3, -0.7, 0.1]) expect(bits(cg(tensor(v, { dtype: dt })))).toEqual(bits(g(tensor(v, { dtype: dt }))));
    expect(cg.stats()).toMatchObject({ hits: 2, singleFunction: true });
  });
});

describe.skipIf(!BACKENDS.includes("wasm"))("fusion on wasm", () => {
  const big = (seed: number, shape = [64, 40]) => {
    manualSeed(seed);
    return rand(shape).mul(2).sub(0.5);
  };

  test("an elementwise chain with scalars becomes one generated kernel with eager's bits", () => {
    setBackend("wasm");
    const fn = (x: Tensor, y: Tensor) => {
      const a = x.exp().mul(y).add(1).maximum(x.neg()).sqrt();
      return [a, a.mul(0.5).add(y).log1p(), x.add(y).reciprocal().sign()];
    };
    const f = compile(fn);
    f(big(1), big(2));
    const [x, y] = [big(3), big(4)];
    const got = f(x, y);
    const want = fn(x, y);
    got.forEach((t, i) => expect(bits(t), `output ${i}`).toEqual(bits(want[i]!)));
    expect(f.stats().fusedKernels).toBeGreaterThanOrEqual(1);
    expect(f.stats().fusedOps).toBeGreaterThanOrEqual(8);
    expect(f.describe()).toMatch(/fused#\d+ \(\d+ ops, one pass over 64×40\)/);
    // A row broadcast ([40], a bias, on the JS heap, against [64, 40]) fuses too.
    const g = (x: Tensor, b: Tensor) => x.add(b).exp().mul(2).add(x);
    const cg = compile(g);
    cg(big(5), big(6, [40]));
    expect(bits(cg(big(7), big(8, [40])))).toEqual(bits(g(big(7), big(8, [40]))));
    expect(cg.stats()).toMatchObject({ fusedKernels: 1, fusedOps: 4 });
    // A per-channel operand ([C, 1, 1] over [N, C, H, W]: a convolution's bias) fuses too.
    const cb = (x: Tensor, b: Tensor) => x.add(b).maximum(x.mul(0.1)).exp();
    const ccb = compile(cb);
    ccb(big(1, [4, 6, 9, 7]), big(2, [6, 1, 1]));
    expect(bits(ccb(big(3, [4, 6, 9, 7]), big(4, [6, 1, 1])))).toEqual(bits(cb(big(3, [4, 6, 9, 7]), big(4, [6, 1, 1]))));
    expect(ccb.stats()).toMatchObject({ fusedKernels: 1, fusedOps: 4 });
    // Another broadcast (a column, [64, 1]) does not: the ops run one by one, still eager's bits.
    const h = (x: Tensor, c: Tensor) => x.add(c).exp().mul(2);
    const ch = compile(h);
    ch(big(5), big(6, [64, 1]));
    expect(bits(ch(big(7), big(8, [64, 1])))).toEqual(bits(h(big(7), big(8, [64, 1]))));
  });

  test("a sum or max over the trailing axes of a run's value is done by the run's kernel, with eager's bits: sums of squares, log-softmax rows, a loss and its gradient", () => {
    setBackend("wasm");
    const cases: [string, (x: Tensor) => Tensor][] = [
      ["a sum of squares", (x) => x.mul(x).sum()],
      ["log-softmax rows (the sums of e^(x−m))", (x) => dg.logSoftmax(x, { axis: 1 })],
      ["the row max of a chain", (x) => x.exp().neg().max({ axis: -1 })],
      ["a sum over the last two axes", (x) => x.reshape([4, 16, 40]).mul(0.5).add(x.reshape([4, 16, 40])).sum({ axis: [1, 2] })],
    ];
    for (const [name, fn] of cases) {
      const f = compile(fn);
      f(big(1));
      const x = big(2);
      expect(bits(f(x)), name).toEqual(bits(fn(x)));
      expect(f.describe(), name).toMatch(/its (sum|max) in the same pass/);
    }
    // A sum over a leading axis (a bias gradient's) is not a row reduction: its own kernel.
    const lead = compile((x: Tensor) => x.mul(x).sum({ axis: 0 }));
    lead(big(3));
    expect(lead.describe()).not.toMatch(/in the same pass/);
    expect(bits(lead(big(4)))).toEqual(bits(big(4).mul(big(4)).sum({ axis: 0 })));
    // A loss and its gradient: the squared error's mean reads it in the run's kernel.
    const step = (w: Tensor, x: Tensor, y: Tensor) => {
      const d = x.matmul(w).sub(y);
      const loss = d.mul(d).mean();
      loss.backward();
      return [loss, w.grad!];
    };
    const args = (k: number) => [big(k, [40, 8]).requiresGrad_(true), big(k + 1, [256, 40]), big(k + 2, [256, 8])] as const;
    const f = compile(step);
    f(...args(5));
    const got = f(...args(15));
    const want = step(...args(15));
    got.forEach((t, i) => expect(bits(t), `output ${i}`).toEqual(bits(want[i]!)));
    expect(f.describe()).toMatch(/its sum in the same pass/);
  });

  test("bias + relu forward and backward: compare, where, bool masks and casts fuse with eager's bits", () => {
    setBackend("wasm");
    const fn = (x: Tensor, b: Tensor, g: Tensor) => {
      const pre = x.add(b);
      const mask = pre.greater(0);
      const y = pre.relu();
      y.backward(g);
      const clipped = dg.noGrad(() => dg.where(pre.less(-0.25), pre.mul(0), pre).add(mask.cast("float32")));
      return [y, mask, clipped, clipped.cast("bool"), b.grad!, x.grad!];
    };
    const args = (k: number) => [big(k).requiresGrad_(true), big(k + 1, [40]).requiresGrad_(true), big(k + 2)] as const;
    const f = compile(fn);
    f(...args(11));
    const got = f(...args(21));
    const want = fn(...args(21));
    got.forEach((t, i) => expect(bits(t), `output ${i}`).toEqual(bits(want[i]!)));
    expect(f.stats()).toMatchObject({ eagerCalls: 0, hits: 1 });
    expect(f.stats().fusedOps).toBeGreaterThanOrEqual(6);
  });

  test("a run over small tensors (on the JS heap) becomes one generated loop with the cpu kernels' bits", () => {
    setBackend("wasm");
    // An Adam-like update of a 784-element bias (under 4 KiB: host arrays, cpu kernels), with a
    // mask and a cast; each value's chain of float32 roundings must be the kernels'.
    const fn = (p: Tensor, g: Tensor, m: Tensor, v: Tensor) => {
      const m2 = m.mul(0.9).add(g.mul(0.1));
      const v2 = v.mul(0.999).add(g.mul(g).mul(0.001));
      const step = m2.mul(v2.sqrt().mul(1.2).add(1e-8).reciprocal()).mul(-1e-3);
      const pos = p.greater(0);
      return [p.add(step), m2, v2, pos, dg.where(pos, p.exp(), p.neg().log1p()).add(pos.cast("float32"))];
    };
    const args = (k: number) => [big(k, [784]), big(k + 1, [784]), big(k + 2, [784]), big(k + 3, [784]).abs()] as const;
    const f = compile(fn);
    f(...args(1));
    const got = f(...args(11));
    const want = fn(...args(11));
    got.forEach((t, i) => expect(bits(t), `output ${i}`).toEqual(bits(want[i]!)));
    expect(f.stats().fusedKernels).toBeLessThanOrEqual(2);
    expect(f.stats().kernels).toBeLessThan(f.stats().recordedOps / 3);
    expect(f.describe()).toMatch(/fused#\d+ \(\d+ ops, one pass over 784\)/);
  });

  test("a convolution's bias + relu and the permutes around them: one pass forward, one backward, eager's bits on 1 and 2 threads", async () => {
    setBackend("wasm");
    // [64, 6, 28, 28] outputs: big enough (2²⁰ element-ops) for the fused kernels to split over the threads.
    const step = (x: Tensor, w: Tensor, b: Tensor) => {
      w.grad = null;
      b.grad = null;
      const y = dg.conv2d(x, w, b, { padding: 2 }).relu();
      y.mul(y).sum().backward();
      return [y, w.grad!, b.grad!];
    };
    const args = (seed: number) => {
      manualSeed(seed);
      return [rand([64, 1, 28, 28]).sub(0.5), rand([6, 1, 5, 5]).sub(0.5).requiresGrad_(true), rand([6]).sub(0.5).requiresGrad_(true)] as const;
    };
    const f = compile(step);
    f(...args(1));
    // Forward: the [K, N, L] product read through the permute, the bias added per channel after it,
    // relu and its mask in the same kernel; backward: relu's mask applied and the result stored permuted.
    const plan = f.describe();
    expect(plan).toMatch(/fused#\d+ \(5 ops, one pass over 64×6×28×28\)[^\n]*\n\s+v\d+ = permute\(v\d+\) \[64×6×784\]\n\s+v\d+ = reshape\(v\d+\) \[64×6×28×28\]\n\s+v\d+ = add\(v\d+, v\d+\) \[64×6×28×28\]\n\s+v\d+ = greater/);
    expect(plan).toMatch(/v\d+ = where\(v\d+, v\d+, const\d+\) \[64×6×28×28\]\n\s+v\d+ = reshape\(v\d+\) \[64×6×784\]\n\s+v\d+ = permute\(v\d+\) \[6×64×784\]/);
    expect(plan).not.toMatch(/^  v\d+ = permute\(v\d+\) \[(64×6|6×64)×784\]/m); // no permute left as its own pass
    const eager = step(...args(2)).map(bits);
    const threads = dg.getNumThreads();
    try {
      for (const n of [1, 2]) {
        dg.setNumThreads(n);
        await dg.threadsReady();
        f(...args(2)).forEach((t, i) => expect(bits(t), `output ${i} on ${n} thread(s)`).toEqual(eager[i]));
      }
    } finally {
      dg.setNumThreads(threads);
    }
  });

  test("a convolution's bias moved after its permute is freed at every replay like any intermediate (no relu after it to fuse with)", () => {
    setBackend("wasm");
    const step = (x: Tensor, w: Tensor, b: Tensor) => {
      w.grad = null;
      b.grad = null;
      const y = dg.maxPool2d(dg.conv2d(x, w, b), { kernel: 2 });
      y.sum().backward();
      return [y, w.grad!, b.grad!];
    };
    const args = (seed: number) => {
      manualSeed(seed);
      return [rand([16, 1, 12, 12]), rand([4, 1, 3, 3]).requiresGrad_(true), rand([4]).requiresGrad_(true)] as const;
    };
    const f = compile(step);
    const inUse = () => dg.wasmMemoryStats().inUseBytes;
    const a = args(1);
    f(...a);
    expect(f.describe()).toMatch(/fused#\d+ \(3 ops[^\n]*\n\s+v\d+ = permute/); // permute, reshape, add
    const replay = () => f(...a)[0]!.dispose(); // the pooled result; the grads replace the last ones
    for (let i = 0; i < 3; i++) replay();
    const before = inUse();
    for (let i = 0; i < 20; i++) replay();
    expect(inUse()).toBe(before);
    expect(f(...args(2)).map(bits)).toEqual(step(...args(2)).map(bits));
  });

  test("max pooling's window choice and values are one kernel pass, its gradient one pass writing every element, with eager's bits (NaN, −0, padding, strides, small tensors)", () => {
    setBackend("wasm");
    const cases: { shape: number[]; pool: dg.MaxPool2dOptions; joint: boolean }[] = [
      { shape: [16, 6, 28, 28], pool: { kernel: 2 }, joint: true }, // LeNet's (the unrolled 2×2 kernel)
      { shape: [8, 3, 17, 13], pool: { kernel: 3, stride: 2, padding: 1 }, joint: true }, // border windows on the scalar path
      { shape: [4, 2, 12, 12], pool: { kernel: [2, 3], stride: [1, 2], dilation: 2 }, joint: true },
      { shape: [1, 1, 6, 6], pool: { kernel: 2 }, joint: true }, // a small input: the ops run one by one, on the host
      { shape: [6, 4, 10, 14], pool: { kernel: 2 }, joint: true }, // 5 and 7 windows a row: the four-window step and the one-window tail
      { shape: [6, 4, 11, 9], pool: { kernel: 2 }, joint: true }, // odd sides: the last row and column in no window, so scatterAdd
    ];
    for (const { shape, pool, joint } of cases) {
      const step = (x: Tensor) => {
        x.grad = null;
        const y = dg.maxPool2d(x, pool);
        y.mul(y).sum().backward();
        return [y, x.grad!];
      };
      const args = (seed: number) => {
        manualSeed(seed);
        const v = rand(shape).sub(0.5).dataSync();
        // Ties (whole windows of zeros, as after a relu), a NaN and −∞ taps.
        for (let i = 0; i < v.length; i += 7) v[i] = 0;
        for (let i = 3; i < v.length; i += 11) v[i] = -0; // a window of −0 and negatives pools to −0, its gradient 2·(−0)
        v[5] = NaN;
        v[11] = -Infinity;
        return tensor(Array.from(v)).reshape(shape).requiresGrad_(true);
      };
      const f = compile(step);
      f(args(1));
      const plan = f.describe();
      expect(plan, JSON.stringify(pool)).toMatch(joint ? /joint#\d+ \(max pooling: indices and values in one pass\):\n\s+v\d+ = windowArgmax\(input0\)[^\n]*\n\s+v\d+ = gather\(v\d+, v\d+\)/ : /./);
      expect(plan).not.toMatch(/^  v\d+ = (windowArgmax|gather)\(/m); // neither left as a step of its own
      // The gradient: one pass writing every element where the 2×2 windows tile the input; else scatterAdd.
      const tiles = pool.kernel === 2 && shape[2]! % 2 === 0 && shape[3]! % 2 === 0;
      expect(plan).toMatch(tiles ? /^  v\d+ = maxUnpool\(v\d+, v\d+\) \[\d+\]$/m : /^  v\d+ = scatterAdd\(/m);
      expect(f(args(2)).map(bits), JSON.stringify({ shape, pool })).toEqual(step(args(2)).map(bits));
    }
  });

  test("a per-channel add before a permute moves after it only where the channel axis stays aligned", () => {
    setBackend("wasm");
    // [K, N, L] with K = N: after the permute, a [K, 1, 1] operand would broadcast along N instead.
    const fn = (x: Tensor, b: Tensor) => x.add(b).permute([1, 0, 2]).exp().mul(2);
    const f = compile(fn);
    const b = big(14, [8, 1, 1]);
    f(big(15, [8, 8, 200]), b);
    expect(bits(f(big(16, [8, 8, 200]), b))).toEqual(bits(fn(big(16, [8, 8, 200]), b)));
  });

  test("a permute between two fused runs is done by one of them (stored in place by the first, read as stored by the second)", () => {
    setBackend("wasm");
    const fn = (x: Tensor) => x.exp().mul(2).permute([1, 0, 2]).exp().mul(3);
    const f = compile(fn);
    f(big(12, [32, 16, 64]));
    const plan = f.describe();
    expect(plan).toMatch(/fused#\d+ \(3 ops[^\n]*\n\s+v\d+ = exp\(input0\) \[32×16×64\]\n\s+v\d+ = mul\(v\d+, const\d+\) \[32×16×64\]\n\s+v\d+ = permute/);
    expect(plan).toMatch(/fused#\d+ \(2 ops, one pass over 16×32×64\)/);
    expect(bits(f(big(13, [32, 16, 64])))).toEqual(bits(fn(big(13, [32, 16, 64]))));
  });

  test("a transposed operand (a lazy view) is materialized once and read by the fused kernel, with the same bits", () => {
    setBackend("wasm");
    const fn = (x: Tensor) => {
      const t = x.transpose(); // on wasm a lazy view of x: matmul reads it as it is, other kernels materialize it
      return t.exp().add(1).mul(t);
    };
    const f = compile(fn);
    f(big(9));
    expect(f.describe()).toMatch(/fused#\d+ \(3 ops/);
    const x = big(10);
    // The replay runs no elementwise op one by one (the fallback would call the backend's unary and binary).
    const backend = dg.wasmBackend as unknown as Record<string, (...a: unknown[]) => unknown>;
    const calls: string[] = [];
    const saved = { unary: backend.unary!, binary: backend.binary! };
    for (const k of ["unary", "binary"] as const) backend[k] = (...a: unknown[]) => (calls.push(`${k} ${String(a[0])}`), saved[k].apply(backend, a));
    let got: Tensor;
    try {
      got = f(x);
    } finally {
      Object.assign(backend, saved);
    }
    expect(calls).toEqual([]);
    expect(bits(got)).toEqual(bits(fn(big(10))));
  });
});

test("a compiled function called inside a trace (ONNX export's, another compile's) runs inline", () => {
  const inner = compile((x: Tensor) => x.exp().add(1));
  const g = dg.trace((x: Tensor) => inner(x).mul(2), [tensor([1, 2])]);
  expect(g.nodes.map((n) => n.op)).toEqual(["exp", "add", "mul"]);
  const outer = compile((x: Tensor) => inner(x).mul(2));
  outer(tensor([1, 2]));
  expect(bits(outer(tensor([3, 4])))).toEqual(bits(tensor([3, 4]).exp().add(1).mul(2)));
  expect(inner.stats()).toMatchObject({ traces: 0, calls: 2 });
});

test("compile checks its arguments", () => {
  expect(() => compile(3 as unknown as () => void)).toThrow(/compile: expected a function/);
  expect(() => compile(() => 1, null as unknown as {})).toThrow(/options must be an object/);
});
