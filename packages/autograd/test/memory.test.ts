/**
 * Memory without tidy() on the wasm backend (issue 20): `using` frees exactly once; plain code
 * that never disposes stays within the budget, never evicts the live tensors it uses every step,
 * and has its dropped tensors reclaimed without a copy once the event loop has turned; a stress
 * run holding random subsets of results finds every kept tensor's values intact.
 *
 * The budget tests run in a fresh child process (memory-child.ts): WebAssembly memory never
 * shrinks, so only a fresh process can show that it never grew past the budget.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as dg from "@deltagrad/autograd";
import { wasmBackend, wasmSimdSupported, type WasmMemoryStats } from "@deltagrad/autograd";
import { runChild } from "./child-support.js";

const SIMD = wasmSimdSupported();
if (!SIMD) console.log("skipped: memory.test.ts needs WebAssembly SIMD for the wasm backend");

interface ChildResult {
  mode: string;
  stats: WasmMemoryStats;
  maxMemory: number;
  maxInUse: number;
  liveIntact?: boolean;
  reads?: boolean;
  kept?: number;
  disposedKept?: number;
  views?: number;
  mismatches?: number;
  gc?: boolean;
  /** first-job: the resident target before the loop, after it, and after the event loop turned. */
  targets?: number[];
  /** The most JavaScript-heap array buffer bytes seen during the loop (plain modes). */
  maxHost?: number;
  /** stress-lazy: sources disposed, chains run; lazy-holders: the most holders of the live block, and its sum finite. */
  disposedSources?: number;
  forced?: number;
  read?: number;
  most?: number;
  sum?: boolean;
}

function child(mode: string, n: number): ChildResult {
  return runChild<ChildResult>("memory-child.ts", [mode, String(n)], { flags: ["--expose-gc"], timeoutMs: 170_000 });
}

describe.skipIf(!SIMD)("using and dispose on the wasm backend", () => {
  const release = wasmBackend.release!;
  afterEach(() => {
    wasmBackend.release = release;
    dg.setBackend(process.env.DELTAGRAD_BACKEND ?? "wasm");
  });

  /** Counts the backend's release calls (each storage reference is given back once). */
  function countReleases(): { n: number } {
    const count = { n: 0 };
    wasmBackend.release = (d, token) => {
      count.n++;
      release(d, token);
    };
    return count;
  }

  it("`using` disposes at block end, exactly once, even when the block throws", () => {
    dg.setBackend("wasm");
    const x = dg.ones([4096]); // 16 KiB: wasm memory
    const before = dg.wasmMemoryStats().inUseBytes;
    const count = countReleases();
    let seen: dg.Tensor | null = null;
    {
      using y = x.exp();
      seen = y;
      expect(dg.wasmMemoryStats().inUseBytes).toBe(before + 16384);
      expect(y.isDisposed).toBe(false);
    }
    expect(seen.isDisposed).toBe(true);
    expect(count.n).toBe(1);
    expect(dg.wasmMemoryStats().inUseBytes).toBe(before);
    seen.dispose(); // idempotent: no second release
    expect(count.n).toBe(1);
    expect(() => {
      using z = x.mul(2);
      seen = z;
      throw new Error("inside");
    }).toThrow("inside");
    expect(seen.isDisposed).toBe(true);
    expect(count.n).toBe(2);
    expect(dg.wasmMemoryStats().inUseBytes).toBe(before);
    x.dispose();
  });

  it("`using` on a tensor a recorded graph needs defers the release until backward frees it", () => {
    dg.setBackend("wasm");
    const w = dg.ones([2048]).requiresGrad_();
    const count = countReleases();
    let loss: dg.Tensor;
    {
      using h = w.mul(3); // an input of the square node below
      loss = h.square().sum();
    }
    expect(count.n).toBe(0); // still needed by loss's graph
    loss.backward();
    expect(count.n).toBeGreaterThanOrEqual(1);
    expect(w.grad!.dataSync()[0]).toBe(18); // d/dw Σ(3w)² = 18w
  });

  it("Symbol.dispose is the method `using` calls", () => {
    const t = dg.tensor([1, 2, 3]);
    expect(typeof t[Symbol.dispose]).toBe("function");
    t[Symbol.dispose]();
    expect(t.isDisposed).toBe(true);
  });
});

describe.skipIf(!SIMD)("plain code on the wasm backend (fresh process)", () => {
  it("2,000 iterations that drop every result stay within the budget, never evict the live tensors, and reclaim dropped ones without copying", () => {
    const r = child("plain", 2000);
    const budget = r.stats.budgetBytes;
    expect(budget).toBe(32 * 2 ** 20);
    expect(r.maxMemory).toBeLessThanOrEqual(budget);
    expect(r.maxInUse).toBeLessThanOrEqual(budget);
    expect(r.stats.refaults).toBe(0); // the two tensors used every step were never evicted
    expect(r.liveIntact).toBe(true);
    expect(r.reads).toBe(true);
    // 6,000 dropped results of 256 KiB: the event loop turned every 100 steps, so the collector's
    // verdicts reached the heap and some blocks were freed with no copy.
    expect(r.stats.reclaimed).toBeGreaterThan(0);
    expect(r.stats.reclaimed + r.stats.evictions).toBeGreaterThan(5000);
  }, 180_000);

  // 1,000 dropped 64 KiB images or matrices (~62 MiB through an 8 MiB budget), each held only by
  // a dropped view: the view holds its storage through a token, as a tensor holds its block, so a
  // collected view frees it with no copy (a plain reference count kept ~all of them alive until
  // evicted: 0 reclaimed and ~930 evicted, for either kind).
  it.each([
    ["views", "convolution-column views dropped unreleased: their images"],
    ["transposes", "lazy transposes dropped unreleased: their matrices"],
  ])("%s: %s are freed by the collector's verdict, not copied", (mode) => {
    const r = child(mode, 1000);
    expect(r.views).toBe(1000);
    expect(r.maxMemory).toBeLessThanOrEqual(r.stats.budgetBytes);
    expect(r.stats.refaults).toBe(0);
    expect(r.liveIntact).toBe(true);
    expect(r.reads).toBe(true);
    expect(r.stats.reclaimed).toBeGreaterThan(800);
    expect(r.stats.evictions).toBeLessThan(100);
  }, 180_000);

  it("the same loop never yielding (a synchronous script's first job) stays within the budget by evicting, and frees each evicted copy with its tensors", () => {
    const r = child("plain-sync", 2000);
    expect(r.maxMemory).toBeLessThanOrEqual(r.stats.budgetBytes);
    expect(r.stats.refaults).toBe(0);
    expect(r.liveIntact).toBe(true);
    expect(r.stats.reclaimed).toBe(0); // tokens made in the running job cannot be cleared in it
    expect(r.stats.evictions).toBeGreaterThan(5000);
    // ~1.5 GB was evicted; each copy must be freed with its tensors. The tokens are kept alive
    // until the job ends, and while a token still reached its block the copies piled up (1,477 MiB
    // of array buffers at the end of this loop; 76 MiB once eviction detaches the block).
    expect(r.maxHost).toBeLessThan(256 * 2 ** 20);
  }, 180_000);

  // No token can clear before the event loop first turns, so until then sweeping starts at 32 MiB
  // (FIRST_JOB_TARGET) rather than 256: the blocks would be copied out either way, and the
  // lower start faults in ~220 MB less fresh memory first. The turn restores the usual target.
  it("a synchronous script's first job sweeps from 32 MiB; the first turn of the event loop restores 256 MiB", () => {
    const r = child("first-job", 60); // 720 MB of dropped results
    const [before, during, after] = r.targets!;
    expect(before).toBe(32 * 2 ** 20);
    expect(during).toBeLessThan(128 * 2 ** 20); // raised only by blocks the last 16 kernel calls used
    expect(r.maxMemory).toBeLessThan(160 * 2 ** 20);
    expect(after).toBe(256 * 2 ** 20);
    expect(r.stats.reclaimed).toBe(0);
    expect(r.stats.refaults).toBe(0);
    expect(r.liveIntact).toBe(true);
  }, 180_000);

  it("a synchronous script's first job with deferred chains: dropped chains never run, nothing is made or copied", () => {
    const r = child("first-job-lazy", 60);
    expect(r.maxMemory).toBeLessThan(64 * 2 ** 20);
    expect(r.stats.evictions).toBe(0);
    expect(r.stats.residentBuffers).toBe(1); // x alone
    expect(r.liveIntact).toBe(true);
  }, 180_000);

  it("deferred ops over a live tensor, dropped unread: the holders its block keeps stay bounded", () => {
    const r = child("lazy-holders", 20_000);
    expect(r.gc).toBe(true);
    expect(r.sum).toBe(true);
    // 40,000 holds over the run; the collector clears the dropped ones every 500 iterations.
    expect(r.most).toBeLessThan(4_000);
  }, 180_000);

  it("stress with deferred chains: kept results left unread over sources disposed or dropped later equal the ops run at once", () => {
    const r = child("stress-lazy", 1500);
    expect(r.gc).toBe(true);
    expect(r.mismatches).toBe(0);
    expect(r.kept).toBeGreaterThan(300);
    expect(r.disposedSources).toBeGreaterThan(20);
    expect(r.read).toBeGreaterThan(300); // the kept chains, read at the end without being stored
    expect(r.forced).toBeGreaterThan(20); // chains stored as operands of longer ones
    expect(r.maxMemory).toBeLessThanOrEqual(r.stats.budgetBytes);
  }, 180_000);

  it("stress: random ops, random kept subsets, using, dispose, GCs and event-loop turns; every kept tensor intact", () => {
    const r = child("stress", 3000);
    expect(r.gc).toBe(true);
    expect(r.mismatches).toBe(0);
    expect(r.kept).toBeGreaterThan(300);
    expect(r.disposedKept).toBeGreaterThan(0);
    // Both ways of making room happened: blocks of collected tensors freed, live ones evicted.
    expect(r.stats.reclaimed).toBeGreaterThan(0);
    expect(r.stats.evictions).toBeGreaterThan(0);
    expect(r.maxMemory).toBeLessThanOrEqual(r.stats.budgetBytes);
  }, 180_000);
});

describe.skipIf(!SIMD)("dead results inside scoped", () => {
  afterEach(() => void dg.setBackend(process.env.DELTAGRAD_BACKEND ?? "wasm"));
  // A result made inside `scoped` and never used was disposed at the scope's end, but its graph node
  // was never reached by backward, so it pinned its inputs' storage for good (+6 KiB a step here).
  it("a never-used op inside scoped does not keep its inputs alive after backward", () => {
    dg.setBackend("wasm");
    const x = dg.randn([6, 4, 64]);
    const w = dg.randn([64], { requiresGrad: true });
    const step = (dead: boolean) => {
      const y = dg.scoped(() => {
        const n = x.mul(w);
        if (dead) n.mul(3);
        return n.mul(2);
      });
      const loss = y.sum();
      loss.backward();
      loss.dispose();
      y.dispose();
      w.grad = null;
    };
    for (const dead of [false, true]) {
      for (let i = 0; i < 3; i++) step(dead);
      const warm = dg.wasmMemoryStats().inUseBytes;
      for (let i = 0; i < 10; i++) step(dead);
      expect(dg.wasmMemoryStats().inUseBytes - warm).toBe(0);
    }
  });
});
