/**
 * Deferred elementwise chains on the wasm backend (src/wasm/lazy.ts): float32 unary ops,
 * add/mul/maximum, comparisons and where on operands of at least LAZY_MIN elements return a
 * deferred op, run as one fused kernel when a kernel or a read needs the values. Checked here: the
 * bits equal the ops run one by one (random chains with scalars on either side, shared operands,
 * tails that are not a multiple of four, one and two threads); nothing is allocated before the
 * read and one block after; a chain holds its operands (disposing them first is safe) and lets go
 * of them once run or released; a deferred op used twice; long chains; chains run op by op past
 * the cap on chain kernels; gradients; compile() taking a deferred input. Comparisons and where
 * (relu, sigmoid, …): the ops' bits with NaN, ±0 and ±∞, a mask stored as bool bytes or read,
 * gradients, a relu(matmul) loop storing nothing. Deferred products (large float32 matmuls):
 * matmul's bits read, reduced over any axes or taken by a chain, on 1 and 2 threads; a read or
 * sum loop leaves one block; read then stored computes once; a reduced chain over a product
 * stores nothing, and a later use or a backward takes the read's block; operands held; a product
 * of a product, the async read, compile() over one; gradients; what is not deferred.
 */
import { afterEach, describe, expect, test } from "vitest";
import fc from "fast-check";
import * as dg from "@deltagrad/autograd";
import { getBackend, manualSeed, rand, setBackend, type Tensor } from "@deltagrad/autograd";
import { LAZY_MIN, LazyView, dropLastRead, lazy } from "../src/wasm/lazy.js";
import { bits, firstDiff, firstValueDiff } from "./wasm-support.js";

const initial = getBackend().name;
const initialThreads = dg.getNumThreads();
afterEach(() => {
  lazy.enabled = true;
  setBackend(initial);
  dg.setNumThreads(initialThreads);
});

const deferred = (t: Tensor) => (t as unknown as { _raw: unknown })._raw instanceof LazyView;

/**
 * Blocks made since `before`, net of the ones let go: the resident count, with the blocks a sweep
 * took meanwhile (reclaimed from earlier tests' collected tensors, or evicted) counted back in —
 * any allocation may start a sweep, so the resident count alone can drop under a test's feet.
 */
const blocksSince = (before: dg.WasmMemoryStats) => {
  const now = dg.wasmMemoryStats();
  return now.residentBuffers - before.residentBuffers + (now.reclaimed - before.reclaimed) + (now.evictions - before.evictions);
};

/**
 * The values of `fn` run with deferral off, its result then disposed (a dropped one would be
 * freed by the collector in the middle of a test that counts memory).
 */
function undeferred(fn: () => Tensor): Buffer {
  lazy.enabled = false;
  const t = fn();
  lazy.enabled = true;
  const v = bits(t);
  t.dispose();
  return v;
}

/** Bytes in use since `before`, with what a sweep took meanwhile counted back in (see {@link blocksSince}). */
const bytesSince = (before: dg.WasmMemoryStats) => {
  const now = dg.wasmMemoryStats();
  return now.inUseBytes - before.inUseBytes + (now.reclaimedBytes - before.reclaimedBytes) + (now.evictedBytes - before.evictedBytes);
};

/** `fn` run with deferral on and off: the values of each, and whether the result was deferred. */
function both(fn: () => Tensor): { on: Buffer; off: Buffer; wasDeferred: boolean } {
  lazy.enabled = true;
  const y = fn();
  const wasDeferred = deferred(y);
  const on = bits(y);
  return { on, off: undeferred(fn), wasDeferred };
}

type Step = { kind: "unary"; op: "exp" | "neg" | "sqrt" | "reciprocal" | "log" | "erf" | "expm1" | "log1p" | "sign" } | { kind: "binary"; op: "add" | "mul" | "maximum" | "sub" | "div"; other: "x" | "prev" | "scalarLeft" | "scalarRight"; c: number };

const unaryOps = ["exp", "neg", "sqrt", "reciprocal", "log", "erf", "expm1", "log1p", "sign"] as const;
const binaryOps = ["add", "mul", "maximum", "sub", "div"] as const;
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("unary" as const), op: fc.constantFrom(...unaryOps) }),
  fc.record({
    kind: fc.constant("binary" as const),
    op: fc.constantFrom(...binaryOps),
    other: fc.constantFrom("x" as const, "prev" as const, "scalarLeft" as const, "scalarRight" as const),
    c: fc.constantFrom(0.5, -2, 3.25, 1e-3),
  }),
);

function chain(x: Tensor, steps: Step[]): Tensor {
  let h = x;
  for (const s of steps) {
    if (s.kind === "unary") h = h[s.op]();
    else if (s.other === "x") h = h[s.op](x);
    else if (s.other === "prev") h = h[s.op](h);
    else if (s.other === "scalarRight") h = h[s.op](s.c);
    else h = dg[s.op](dg.tensor(s.c), h);
  }
  return h;
}

describe.skipIf(!dg.listBackends().includes("wasm"))("deferred elementwise chains", () => {
  test("random chains (scalars on either side, shared operands, odd lengths): the bits of the ops one by one", () => {
    setBackend("wasm");
    dg.setNumThreads(1);
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 24 }), fc.constantFrom(LAZY_MIN, LAZY_MIN + 3, 300_001), fc.integer({ min: 1, max: 1000 }), (steps, n, seed) => {
        manualSeed(seed);
        const x = rand([n]).mul(4).sub(2);
        const r = both(() => chain(x, steps));
        expect(firstDiff(r.on, r.off)).toBe(-1);
        x.dispose();
      }),
      { numRuns: 25 },
    );
  });

  test("past the cap on chain kernels a new chain runs op by op (one-op kernels): the same bits", () => {
    setBackend("wasm");
    dg.setNumThreads(1);
    const cap = lazy.maxKernels;
    lazy.maxKernels = 0;
    try {
      const before = lazy.stepwise;
      fc.assert(
        fc.property(fc.array(stepArb, { minLength: 2, maxLength: 12 }), fc.integer({ min: 1, max: 1000 }), (steps, seed) => {
          manualSeed(seed);
          const x = rand([LAZY_MIN + 1]).mul(4).sub(2);
          const r = both(() => chain(x, steps));
          expect(firstDiff(r.on, r.off)).toBe(-1);
          x.dispose();
        }),
        { numRuns: 15 },
      );
      expect(lazy.stepwise).toBeGreaterThan(before);
    } finally {
      lazy.maxKernels = cap;
    }
  });

  test("exp(x)·x + 1 is deferred, and on two threads gives one thread's bits", async () => {
    setBackend("wasm");
    manualSeed(3);
    const x = rand([1_048_583]).mul(4).sub(2);
    dg.setNumThreads(1);
    const one = both(() => x.exp().mul(x).add(1));
    expect(one.wasDeferred).toBe(true);
    expect(firstDiff(one.on, one.off)).toBe(-1);
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    const two = both(() => x.exp().mul(x).add(1));
    expect(firstDiff(two.on, one.on)).toBe(-1);
    expect(firstDiff(two.off, one.on)).toBe(-1);
  });

  test("nothing is stored until a kernel needs the values: a sum or a read runs the chain without keeping it", () => {
    setBackend("wasm");
    dg.setNumThreads(1);
    const x = rand([1 << 20]);
    dropLastRead(); // an earlier test's
    const before = dg.wasmMemoryStats();
    const y = x.exp().mul(x).add(1);
    expect(deferred(y)).toBe(true);
    expect(blocksSince(before)).toBe(0);
    expect(dg.wasmMemoryStats().inUseBytes).toBe(before.inUseBytes);
    const forced = lazy.forced;
    const read = lazy.read;
    // A sum over it runs the chain in the sum's kernel: nothing stored, the chain still deferred.
    const s = y.sum().itemSync();
    expect(lazy.forced).toBe(forced);
    expect(blocksSince(before)).toBe(0);
    // A read runs it into a block no tensor keeps (let go at the next chain run or read).
    const v = y.dataSync();
    expect([lazy.read, lazy.forced]).toEqual([read + 1, forced]);
    expect(blocksSince(before)).toBe(1);
    // Read again at once: the same block (nothing computed twice).
    expect(firstDiff(Buffer.from(y.dataSync().buffer), Buffer.from(v.buffer))).toBe(-1);
    expect(lazy.read).toBe(read + 1);
    // Another chain read in between lets the block go: y is computed again, the same bits.
    const z = x.add(2);
    z.dataSync();
    expect(firstDiff(Buffer.from(y.dataSync().buffer), Buffer.from(v.buffer))).toBe(-1);
    expect(lazy.read).toBe(read + 3);
    expect(blocksSince(before)).toBe(1); // the last read's block only
    // A kernel that needs it as an operand stores it: the last read's block becomes its own.
    y.slice([0], [1000]); // 4,000 bytes: a host array
    expect([lazy.read, lazy.forced]).toEqual([read + 3, forced + 1]);
    expect(blocksSince(before)).toBe(1);
    expect(firstDiff(Buffer.from(y.dataSync().buffer), Buffer.from(v.buffer))).toBe(-1);
    expect([lazy.read, lazy.forced]).toEqual([read + 3, forced + 1]); // read from its block
    expect(y.sum().itemSync()).toBe(s); // the stored values' sum (sumRows): the same bits
    const stored = dg.wasmMemoryStats().inUseBytes;
    y.dispose();
    expect(stored - dg.wasmMemoryStats().inUseBytes).toBe(4 << 20); // its block, freed
    x.dispose();
  });

  test("a chain reduced by sum or max (over all axes or the last): the values of the chain run and then reduced, never stored", () => {
    setBackend("wasm");
    dg.setNumThreads(1);
    const shapes = [[LAZY_MIN], [LAZY_MIN + 3], [3, 87_383], [4099, 67], [512, 513], [2, 3, 43_691]];
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 12 }), fc.constantFrom(...shapes), fc.constantFrom("sum" as const, "max" as const), fc.boolean(), fc.integer({ min: 1, max: 1000 }), (steps, shape, op, all, seed) => {
        manualSeed(seed);
        const x = rand(shape).mul(4).sub(2);
        const before = lazy.reduced;
        const r = both(() => {
          const y = chain(x, steps);
          return all ? y[op]() : y[op]({ axis: -1 });
        });
        expect(lazy.reduced).toBe(before + 1);
        // Bit for bit; a NaN sum may differ in its sign (the engine orders a NaN + NaN).
        expect(firstValueDiff(r.on, r.off)).toBe(-1);
        x.dispose();
      }),
      { numRuns: 40 },
    );
  });

  test("max over a chain with NaNs and signed zeros keeps maxRows' rule (the last NaN, the first of ±0)", () => {
    setBackend("wasm");
    dg.setNumThreads(1);
    // log of negatives and sqrt of them: NaNs of two kinds; neg of zeros: −0 beside +0.
    const n = LAZY_MIN + 5;
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = [0, -1, 2, -0.5, 0][i % 5]! * (i % 7 === 0 ? -1 : 1);
    const x = dg.tensor(v);
    for (const fn of [(t: Tensor) => t.log().max({ axis: -1 }), (t: Tensor) => t.neg().mul(0).max(), (t: Tensor) => t.sqrt().add(t.log()).max()]) {
      const r = both(() => fn(x));
      expect(firstDiff(r.on, r.off)).toBe(-1);
    }
  });

  test("a chain summed over rows on two threads gives one thread's bits, and stores nothing", async () => {
    setBackend("wasm");
    manualSeed(9);
    const x = rand([4099, 257]).mul(4).sub(2);
    dg.setNumThreads(1);
    const one = both(() => x.exp().mul(x).add(1).sum({ axis: 1 }));
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    dropLastRead();
    const [before, forced, reduced] = [dg.wasmMemoryStats(), lazy.forced, lazy.reduced];
    const y = x.exp().mul(x).add(1).sum({ axis: 1 }); // 4099 sums: one 16 KB block, no chain block
    expect(blocksSince(before)).toBe(1);
    expect([lazy.forced, lazy.reduced]).toEqual([forced, reduced + 1]);
    expect(firstDiff(bits(y), one.on)).toBe(-1);
    expect(firstDiff(one.on, one.off)).toBe(-1);
  });

  test("a chain holds its operands: disposing them first is safe; releasing it frees them", () => {
    setBackend("wasm");
    // The chains' kernels made once before (each keeps a small argument block for good).
    const warm = rand([LAZY_MIN]);
    dg.scoped(() => [warm.mul(2).add(1).dataSync(), warm.exp().mul(warm).dataSync()]);
    warm.dispose();
    const base = dg.wasmMemoryStats();
    const x = rand([LAZY_MIN]);
    const xv = x.dataSync();
    // The intermediate disposed too: a dropped one, never run, would hold x's block until the
    // collector took it (as in eager mode its own block until then).
    const m = x.mul(2);
    const y = m.add(1);
    x.dispose();
    m.dispose();
    expect(bytesSince(base)).toBeGreaterThan(0); // y still holds x's block
    const yv = y.dataSync();
    for (let i = 0; i < 1000; i++) expect(yv[i]).toBe(Math.fround(Math.fround(xv[i]! * 2) + 1));
    y.dispose();
    expect(bytesSince(base)).toBe(0);
    // Released before it ever ran: its operands are let go all the same.
    const z = rand([LAZY_MIN]);
    const e = z.exp();
    const w = e.mul(z);
    z.dispose();
    e.dispose();
    w.dispose();
    expect(bytesSince(base)).toBe(0);
    expect(() => w.dataSync()).toThrow(/disposed/);
  });

  test("a deferred op used by two chains, and read itself: each value right, the shared op not run twice once read", () => {
    setBackend("wasm");
    manualSeed(5);
    const x = rand([LAZY_MIN + 7]).mul(2);
    const run = () => {
      const a = x.exp();
      const b = a.mul(2);
      const c = a.add(b).sqrt();
      return [a, b, c].map((t) => bits(t));
    };
    lazy.enabled = true;
    const on = run();
    lazy.enabled = false;
    const off = run();
    on.forEach((v, i) => expect(firstDiff(v, off[i]!)).toBe(-1));
  });

  test("a long chain (200 ops) runs its operands first past the bound; values right", () => {
    setBackend("wasm");
    manualSeed(6);
    const x = rand([LAZY_MIN]);
    const r = both(() => {
      let h = x;
      for (let i = 0; i < 200; i++) h = h.mul(0.99).add(x);
      return h;
    });
    expect(firstDiff(r.on, r.off)).toBe(-1);
  });

  test("gradients through deferred ops equal the ops one by one", () => {
    setBackend("wasm");
    manualSeed(7);
    const x = rand([LAZY_MIN], { requiresGrad: true });
    const grads = [true, false].map((on) => {
      lazy.enabled = on;
      x.grad = null;
      x.exp().mul(x).add(x.mul(x).neg()).sum().backward();
      return bits(x.grad!);
    });
    expect(firstDiff(grads[0]!, grads[1]!)).toBe(-1);
  });

  test("compile() takes a deferred input, and its result equals eager", () => {
    setBackend("wasm");
    manualSeed(8);
    const x = rand([LAZY_MIN]);
    const f = dg.compile((t: Tensor) => t.mul(t).sum());
    const y = x.exp();
    expect(deferred(y)).toBe(true);
    const compiled = f(y).itemSync();
    lazy.enabled = false;
    const eager = x.exp().mul(x.exp()).sum().itemSync();
    expect(Math.abs(compiled - eager)).toBeLessThanOrEqual(1e-6 * Math.abs(eager));
  });

  test("not deferred: small tensors, float64, broadcasts other than against one element", () => {
    setBackend("wasm");
    expect(deferred(rand([LAZY_MIN - 1]).exp())).toBe(false);
    expect(deferred(rand([512, 512]).add(rand([512])))).toBe(false);
    expect(deferred(rand([512, 512]).add(rand([1, 1])))).toBe(true);
    expect(deferred(rand([512, 512]).sin())).toBe(false); // no SIMD kernel
  });
});

describe.skipIf(!dg.listBackends().includes("wasm"))("deferred comparisons and where", () => {
  const n = LAZY_MIN + 5; // a tail that is not a multiple of four

  /** Values in [−1, 1) with zeros, −0, NaN and ±∞ sprinkled in (comparisons' edge cases). */
  const edgy = () => {
    const x = rand([n]).mul(2).sub(1);
    const v = x.dataSync().slice();
    for (let i = 0; i < n; i += 97) v[i] = [0, -0, NaN, Infinity, -Infinity][(i / 97) % 5]!;
    return dg.tensor(v);
  };

  test("every comparison, where over chains, relu, sigmoid, tanh, softplus: the ops' bits, on 1 and 2 threads", () => {
    setBackend("wasm");
    manualSeed(31);
    const [x, y] = [edgy(), edgy()];
    const ops = ["greater", "greaterEqual", "less", "lessEqual", "equal", "notEqual"] as const;
    for (const threads of [1, 2]) {
      dg.setNumThreads(threads);
      for (const op of ops) {
        for (const [a, b] of [[x, y], [x, 0.25], [0.25, x]] as const) {
          const r = both(() => dg[op](a, b));
          expect(r.wasDeferred).toBe(true);
          expect(firstDiff(r.on, r.off)).toBe(-1);
        }
      }
      const fs = [
        (t: Tensor) => dg.relu(t),
        (t: Tensor) => dg.where(dg.less(t, 0.2), t.exp(), t.mul(2)),
        (t: Tensor) => dg.where(dg.greater(t, y), 1, t),
        (t: Tensor) => dg.sigmoid(t),
        (t: Tensor) => dg.tanh(t),
        (t: Tensor) => dg.softplus(t),
        (t: Tensor) => dg.relu(t).sum(),
        (t: Tensor) => dg.where(dg.lessEqual(t, 0), t.neg(), t).max({ axis: 0 }),
      ];
      for (const f of fs) {
        const r = both(() => f(x));
        expect(firstDiff(r.on, r.off)).toBe(-1);
      }
      expect(both(() => dg.relu(x)).wasDeferred).toBe(true);
    }
  });

  test("a deferred mask stored by a kernel that takes it (bool bytes), read as bools, and gradients through where", () => {
    setBackend("wasm");
    manualSeed(32);
    const x = edgy();
    const mask = dg.greater(x, 0);
    expect(deferred(mask)).toBe(true);
    const wide = dg.where(mask.reshape([1, n]), x.reshape([1, n]), dg.zeros([2, n])); // a broadcast: runs at once, the mask stored
    const want = undeferred(() => dg.where(dg.greater(x, 0).reshape([1, n]), x.reshape([1, n]), dg.zeros([2, n])));
    expect(firstDiff(bits(wide), want)).toBe(-1);
    const read = dg.less(x, 0).dataSync();
    expect(read).toBeInstanceOf(Uint8Array);
    expect(firstDiff(Buffer.from(read), undeferred(() => dg.less(x, 0)))).toBe(-1);
    const a = rand([n], { requiresGrad: true });
    const grads = [true, false].map((on) => {
      lazy.enabled = on;
      a.grad = null;
      dg.relu(a.sub(0.5)).mul(dg.sigmoid(a)).sum().backward();
      return bits(a.grad!);
    });
    expect(firstDiff(grads[0]!, grads[1]!)).toBe(-1);
  });

  test("plain relu(matmul(a, b)).sum() in a loop stores nothing: the product read from the last read's block", () => {
    setBackend("wasm");
    dg.setNumThreads(1);
    manualSeed(33);
    const [a, b] = [rand([512, 64]).sub(0.5), rand([64, 512]).sub(0.5)];
    dropLastRead();
    const before = dg.wasmMemoryStats();
    const [forced, runs] = [lazy.forced, lazy.productRuns];
    for (let i = 0; i < 5; i++) dg.relu(dg.matmul(a, b)).sum().itemSync();
    expect(blocksSince(before)).toBe(1);
    expect([lazy.forced, lazy.productRuns]).toEqual([forced, runs + 5]);
    const r = both(() => dg.relu(dg.matmul(a, b)).sum());
    expect(firstDiff(r.on, r.off)).toBe(-1);
    dropLastRead();
  });
});

describe.skipIf(!dg.listBackends().includes("wasm"))("deferred products", () => {
  // Products with at least LAZY_MIN outputs: plain, batched, a broadcast batch, odd edges, host operands.
  const cases: [number[], number[]][] = [
    [[512, 64], [64, 512]],
    [[515, 33], [33, 511]],
    [[2, 256, 17], [2, 17, 600]],
    [[3, 300, 8], [8, 300]],
    [[512, 1], [1, 512]], // operands small enough to stay host arrays
  ];

  test("a large matmul is deferred; read, summed (any axes), or taken by a chain: matmul's bits, on 1 and 2 threads", () => {
    setBackend("wasm");
    manualSeed(21);
    for (const threads of [1, 2]) {
      dg.setNumThreads(threads);
      for (const [as, bs] of cases) {
        const a = rand(as).sub(0.5);
        const b = rand(bs).sub(0.5);
        const r = both(() => dg.matmul(a, b));
        expect(r.wasDeferred).toBe(true);
        expect(firstDiff(r.on, r.off)).toBe(-1);
        const last = bs.length - 1;
        for (const f of [(t: Tensor) => t.sum(), (t: Tensor) => t.sum({ axis: last }), (t: Tensor) => t.sum({ axis: 0 }), (t: Tensor) => t.max({ axis: last }), (t: Tensor) => t.add(1).exp(), (t: Tensor) => dg.relu(t)]) {
          const s = both(() => f(dg.matmul(a, b)));
          expect(firstDiff(s.on, s.off)).toBe(-1);
        }
      }
    }
  });

  test("a product read or summed and dropped leaves one block at most (the last read's); a kernel operand stores it once", () => {
    setBackend("wasm");
    dg.setNumThreads(1);
    manualSeed(22);
    const a = rand([512, 128]);
    const b = rand([128, 512]);
    dropLastRead();
    const before = dg.wasmMemoryStats();
    const [read, forced, products] = [lazy.read, lazy.forced, lazy.products];
    for (let i = 0; i < 5; i++) dg.matmul(a, b).dataSync();
    expect(blocksSince(before)).toBe(1);
    for (let i = 0; i < 5; i++) dg.matmul(a, b).sum().itemSync();
    expect(blocksSince(before)).toBe(1);
    expect([lazy.read, lazy.forced, lazy.products]).toEqual([read + 10, forced, products + 10]);
    // Read, then read again and stored: computed once, the read's block becomes its own.
    const y = dg.matmul(a, b);
    const v = y.dataSync();
    expect(firstDiff(Buffer.from(y.dataSync().buffer), Buffer.from(v.buffer))).toBe(-1);
    const z = y.add(y.slice([0, 0], [1, 512])); // a broadcast: not deferred, y stored
    expect([lazy.read, lazy.forced]).toEqual([read + 11, forced + 1]);
    expect(blocksSince(before)).toBe(2); // y's block and z's
    expect(z.dataSync()[0]).toBe(Math.fround(v[0]! * 2));
    dropLastRead();
  });

  test("a chain over a product, reduced: the product read from the last read's block, never stored; used again, computed once", () => {
    setBackend("wasm");
    manualSeed(26);
    const [a, b, y] = [rand([512, 64]).sub(0.5), rand([64, 520]).sub(0.5), rand([512, 520])];
    for (const threads of [1, 2]) {
      dg.setNumThreads(threads);
      for (const f of [(t: Tensor) => t.sub(y).mul(t.sub(y)).sum(), (t: Tensor) => t.mul(0.5).exp().sum({ axis: 1 }), (t: Tensor) => t.maximum(0).max({ axis: -1 })]) {
        const r = both(() => f(dg.matmul(a, b)));
        expect(firstDiff(r.on, r.off)).toBe(-1);
      }
    }
    dropLastRead();
    const before = dg.wasmMemoryStats();
    const [forced, runs] = [lazy.forced, lazy.productRuns];
    for (let i = 0; i < 5; i++) dg.matmul(a, b).sub(y).square().mean().itemSync();
    expect(blocksSince(before)).toBe(1); // the last read's: the last product
    expect([lazy.forced, lazy.productRuns]).toEqual([forced, runs + 5]);
    // Stored after the reduction (another kernel takes it): from that block, not computed again.
    const p = dg.matmul(a, b);
    const s = p.exp().sum().itemSync();
    const q = p.add(p.slice([0, 0], [1, 520])); // a broadcast: not deferred, p stored
    expect([lazy.forced, lazy.productRuns]).toEqual([forced + 1, runs + 6]);
    expect(q.dataSync()[1]).toBe(Math.fround(2 * p.dataSync()[1]!));
    expect(Number.isFinite(s)).toBe(true);
    // Two products in one reduced chain: both stored, as before.
    const two = both(() => dg.matmul(a, b).mul(dg.matmul(a, b)).sum());
    expect(firstDiff(two.on, two.off)).toBe(-1);
    dropLastRead();
  });

  test("a chain over a product, read: the product beside the read's block, never stored; another chain over it or a kernel takes that block", () => {
    setBackend("wasm");
    dg.setNumThreads(1);
    manualSeed(28);
    const [a, b] = [rand([512, 64]).sub(0.5), rand([64, 520]).sub(0.5)];
    const r = both(() => dg.relu(dg.matmul(a, b)));
    expect(firstDiff(r.on, r.off)).toBe(-1);
    dropLastRead();
    const before = dg.wasmMemoryStats();
    const [forced, runs] = [lazy.forced, lazy.productRuns];
    for (let i = 0; i < 5; i++) dg.relu(dg.matmul(a, b)).dataSync();
    expect(blocksSince(before)).toBe(2); // the last read's and its product's
    expect([lazy.forced, lazy.productRuns]).toEqual([forced, runs + 5]);
    // The product read by two chains in turn, then stored: computed once, the right values.
    const p = dg.matmul(a, b);
    const relu = dg.relu(p).dataSync();
    const exp = p.mul(0.1).exp().dataSync();
    const q = p.add(p.slice([0, 0], [1, 520])); // a broadcast: not deferred, p stored from the held block
    expect([lazy.forced, lazy.productRuns]).toEqual([forced + 1, runs + 6]);
    const asBytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    expect(firstDiff(asBytes(relu), undeferred(() => dg.relu(dg.matmul(a, b))))).toBe(-1);
    expect(firstDiff(asBytes(exp), undeferred(() => dg.matmul(a, b).mul(0.1).exp()))).toBe(-1);
    expect(firstDiff(bits(q), undeferred(() => { const u = dg.matmul(a, b); return u.add(u.slice([0, 0], [1, 520])); }))).toBe(-1);
    expect(firstDiff(bits(p), undeferred(() => dg.matmul(a, b)))).toBe(-1);
    dropLastRead();
  });

  test("gradients through a reduced chain over a product: the backward takes the forward's block (computed once)", () => {
    setBackend("wasm");
    manualSeed(27);
    const a = rand([512, 30], { requiresGrad: true });
    const b = rand([30, 520], { requiresGrad: true });
    const runs = lazy.productRuns;
    const grads = [true, false].map((on) => {
      lazy.enabled = on;
      a.grad = b.grad = null;
      dg.matmul(a, b).mul(0.1).exp().sum().backward();
      return [bits(a.grad!), bits(b.grad!)];
    });
    expect(lazy.productRuns).toBe(runs + 1);
    expect(firstDiff(grads[0]![0]!, grads[1]![0]!)).toBe(-1);
    expect(firstDiff(grads[0]![1]!, grads[1]![1]!)).toBe(-1);
  });

  test("a product holds its operands: disposing them first is safe; releasing it frees them", () => {
    setBackend("wasm");
    manualSeed(23);
    const a = rand([512, 40]);
    const b = rand([40, 512]);
    const want = undeferred(() => dg.matmul(a, b));
    dropLastRead();
    const base = dg.wasmMemoryStats();
    const [a2, b2] = [a.mul(1), b.mul(1)]; // copies, then disposed before the product runs
    const y = dg.matmul(a2, b2);
    expect(deferred(y)).toBe(true);
    a2.dispose();
    b2.dispose();
    expect(firstDiff(bits(y), want)).toBe(-1);
    y.dispose(); // the last read's block too
    expect(bytesSince(base)).toBe(0);
    const w = dg.matmul(a.exp(), b); // a deferred chain as operand: stored when the product runs
    expect(deferred(w)).toBe(true);
    expect(firstDiff(bits(w), undeferred(() => dg.matmul(a.exp(), b)))).toBe(-1);
    w.dispose();
  });

  test("a product of a deferred product, the async read, and compile() over a large product: matmul's values", async () => {
    setBackend("wasm");
    manualSeed(25);
    const [a, b, c] = [rand([512, 48]).sub(0.5), rand([48, 512]).sub(0.5), rand([512, 520]).sub(0.5)];
    const r = both(() => dg.matmul(dg.matmul(a, b), c)); // the inner product stored as the outer one's operand
    expect(r.wasDeferred).toBe(true);
    expect(firstDiff(r.on, r.off)).toBe(-1);
    const want = undeferred(() => dg.matmul(a, b));
    const p = dg.matmul(a, b);
    const v = await p.data(); // the async read stores it
    expect(firstDiff(Buffer.from(v.buffer, v.byteOffset, v.byteLength), want)).toBe(-1);
    expect(deferred(p)).toBe(true); // its storage is still the view, now run
    const f = dg.compile((x: Tensor, y: Tensor) => dg.relu(dg.matmul(x, y)).sum());
    const compiled = f(a, b).itemSync();
    expect(f(a, b).itemSync()).toBe(compiled); // the replay
    lazy.enabled = false;
    const eager = dg.relu(dg.matmul(a, b)).sum().itemSync();
    expect(Math.abs(compiled - eager)).toBeLessThanOrEqual(1e-6 * Math.abs(eager));
  });

  test("gradients through a deferred product equal matmul run at once", () => {
    setBackend("wasm");
    manualSeed(24);
    const a = rand([512, 30], { requiresGrad: true });
    const b = rand([30, 520], { requiresGrad: true });
    const grads = [true, false].map((on) => {
      lazy.enabled = on;
      a.grad = b.grad = null;
      dg.matmul(a, b).exp().sum().backward();
      return [bits(a.grad!), bits(b.grad!)];
    });
    expect(firstDiff(grads[0]![0]!, grads[1]![0]!)).toBe(-1);
    expect(firstDiff(grads[0]![1]!, grads[1]![1]!)).toBe(-1);
  });

  test("not deferred: small products, transposed operands, float64", () => {
    setBackend("wasm");
    const products = lazy.products;
    expect(deferred(dg.matmul(rand([511, 8]), rand([8, 512])))).toBe(false);
    expect(deferred(dg.matmul(rand([512, 8]), rand([512, 8]).transpose()))).toBe(false);
    expect(deferred(dg.matmul(rand([512, 8], { dtype: "float64" }), rand([8, 512], { dtype: "float64" })))).toBe(false);
    expect(lazy.products).toBe(products);
  });
});
