/**
 * Run by memory.test.ts in a fresh process (so wasm memory starts empty and the budget holds from
 * the first byte): `node --expose-gc --conditions=source --import tsx memory-child.ts MODE N`.
 * Prints one JSON line.
 *
 * MODE "plain": N iterations of plain code — ops whose results are dropped, never disposed —
 *   around two live tensors used every iteration, under a 32 MiB budget; the event loop turns
 *   every 100 iterations (as in a notebook or an async loop), so dropped tensors can be reclaimed.
 * MODE "plain-sync": the same without ever yielding (a synchronous script's first job).
 * MODE "first-job": N steps of plain W5 on 1 M floats under the default budget before the event
 *   loop has ever turned, then one turn: the resident target before, during and after.
 * MODE "views": N convolution-column views (wasm/placement.ts's ColumnsView, what conv2d's unfold
 *   returns) over images that are dropped, each view held only by a dropped tensor, under an 8 MiB
 *   budget, collecting garbage and turning the event loop every 20 iterations.
 * MODE "transposes": N lazy transposes (wasm/placement.ts's TransposedView, what `transpose()` of a
 *   wasm matrix returns) of matrices that are dropped, each transpose itself dropped unreleased,
 *   under the same budget and collections.
 * MODE "stress": N rounds of random ops on random sizes (both sides of the 4 KiB line), keeping a
 *   random subset of the results (and dropping some kept ones later), with `using`, dispose(),
 *   garbage collections and event-loop turns at random points, under an 8 MiB budget. Each kept
 *   tensor's values are copied when it is made and compared bit for bit at the end.
 * MODE "stress-lazy": the same on sizes from which elementwise ops are deferred (wasm/lazy.ts),
 *   under a 16 MiB budget: kept results are left unread (deferred chains over sources that may be
 *   disposed or dropped later) and compared at the end with the same op run at once.
 * MODE "first-job-lazy": "first-job" with deferral on: the dropped chains are never run.
 * MODE "lazy-holders": N deferred ops over one live tensor, dropped unread, collecting garbage
 *   every 500: the holders the live block keeps stay bounded (buffer.ts prunes them).
 */
import * as dg from "@deltagrad/autograd";
import { wasmBackend } from "@deltagrad/autograd";
import { LAZY_MIN, lazy } from "../src/wasm/lazy.js";

const mode = process.argv[2] ?? "plain";
const n = Number(process.argv[3] ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc;
const turn = () => new Promise((r) => setTimeout(r, 0));

dg.setBackend("wasm");
dg.setNumThreads(1);
if (!mode.startsWith("first-job")) dg.setWasmMemoryBudget((mode === "stress" || mode === "views" || mode === "transposes" ? 8 : mode === "stress-lazy" ? 64 : 32) * 2 ** 20);
// "first-job" measures the sweep on dropped results that exist: the ops run at once there.
lazy.enabled = mode !== "first-job";

/** Elements of the kept tensors whose values now differ (bit for bit) from those recorded. */
function mismatchesOf(kept: { t: dg.Tensor; v: Float32Array }[]): number {
  let mismatches = 0;
  for (const { t, v } of kept) {
    const now = t.dataSync();
    for (let i = 0; i < v.length; i++) if (!Object.is(now[i], v[i])) mismatches++;
  }
  return mismatches;
}

let maxMemory = 0;
let maxInUse = 0;
const watch = () => {
  const s = dg.wasmMemoryStats();
  maxMemory = Math.max(maxMemory, s.memoryBytes);
  maxInUse = Math.max(maxInUse, s.inUseBytes);
};

/** Deterministic floats in [-1, 1). */
function values(len: number, seed: number): Float32Array {
  const out = new Float32Array(len);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 8) / 8388608 - 1;
  }
  return out;
}

if (mode === "first-job" || mode === "first-job-lazy") {
  // The default budget; N steps of plain W5 on 1 M floats (three 4 MB results dropped a step)
  // before the event loop has ever turned, then one turn.
  const x = dg.tensor(values(1_000_000, 1));
  const xv = x.dataSync();
  const before = dg.wasmMemoryStats().targetBytes;
  for (let i = 0; i < n; i++) {
    x.exp().mul(x).add(1);
    watch();
  }
  const during = dg.wasmMemoryStats();
  await turn();
  const after = dg.wasmMemoryStats().targetBytes;
  const liveIntact = x.dataSync().every((u, i) => Object.is(u, xv[i]));
  console.log(JSON.stringify({ mode, stats: during, maxMemory, maxInUse, liveIntact, targets: [before, during.targetBytes, after] }));
} else if (mode === "plain" || mode === "plain-sync") {
  const x = dg.tensor(values(65536, 1)); // 256 KiB each: wasm memory
  const w = dg.tensor(values(65536, 2));
  const xv = x.dataSync();
  const wv = w.dataSync();
  if (mode === "plain") await turn();
  let reads = 0;
  // The JavaScript heap's array buffers (evicted copies among them), at most: bounded only if an
  // evicted copy is freed with its tensors.
  let maxHost = 0;
  for (let i = 1; i <= n; i++) {
    const y = x.exp().mul(w).add(1); // three results dropped
    if (i % 10 === 0) reads += y.sum().itemSync();
    watch();
    if (i % 50 === 0) maxHost = Math.max(maxHost, process.memoryUsage().arrayBuffers);
    if (mode === "plain" && i % 100 === 0) await turn();
  }
  const same = (a: dg.Tensor, v: ArrayLike<number>) => a.dataSync().every((u, i) => Object.is(u, v[i]));
  console.log(JSON.stringify({ mode, stats: dg.wasmMemoryStats(), maxMemory, maxInUse, liveIntact: same(x, xv) && same(w, wv), reads: Number.isFinite(reads), maxHost }));
} else if (mode === "views" || mode === "transposes") {
  // Each iteration drops a fresh 64 KiB tensor and a view of it (never disposed), reading every 100th.
  const [x, view] =
    mode === "views"
      ? (() => {
          const shape = [16, 1, 32, 32];
          const p = { kernel: [5, 5] as [number, number], stride: [1, 1] as [number, number], padding: [0, 0] as [number, number], dilation: [1, 1] as [number, number], batchInColumns: true };
          const view = (image: dg.Tensor) => new dg.Tensor(wasmBackend.unfold(image.handle, shape, p, "float32"), [25, 16 * 28 * 28], "float32", wasmBackend);
          return [dg.tensor(values(16 * 32 * 32, 1)).reshape(shape), view] as const;
        })()
      : ([dg.tensor(values(128 * 128, 1)).reshape([128, 128]), (m: dg.Tensor) => m.transpose()] as const);
  const kind = mode === "views" ? "ColumnsView" : "TransposedView";
  const xv = x.dataSync();
  await turn();
  let reads = 0;
  let views = 0;
  for (let i = 1; i <= n; i++) {
    const t = view(x.mul(1 + i / n)); // both dropped
    if (t.handle.constructor.name === kind) views++;
    if (i % 100 === 0) reads += t.sum().itemSync();
    watch();
    if (i % 20 === 0) {
      gc?.();
      await turn();
    }
  }
  const liveIntact = x.dataSync().every((u, i) => Object.is(u, xv[i]));
  console.log(JSON.stringify({ mode, stats: dg.wasmMemoryStats(), maxMemory, maxInUse, liveIntact, reads: Number.isFinite(reads), views }));
} else if (mode === "lazy-holders") {
  const x = dg.tensor(values(LAZY_MIN, 1));
  await turn();
  let most = 0;
  for (let i = 1; i <= n; i++) {
    x.exp().mul(2); // two deferred ops, each holding x's block, dropped unread
    if (i % 500 === 0) {
      gc?.();
      await turn();
    }
    most = Math.max(most, (x.handle as unknown as { holders: unknown[] }).holders.length);
  }
  const stats = dg.wasmMemoryStats();
  console.log(JSON.stringify({ mode, stats, maxMemory, maxInUse, most, gc: typeof gc === "function", sum: Number.isFinite(x.exp().sum().itemSync()) }));
} else if (mode === "stress-lazy") {
  let seed = 777;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const sizes = [LAZY_MIN, LAZY_MIN + 5];
  const bases = sizes.map((len, i) => dg.tensor(values(len, 200 + i)));
  const pool: dg.Tensor[][] = sizes.map(() => []); // sources: kept results, some disposed later
  const kept: { t: dg.Tensor; v: Float32Array }[] = [];
  await turn();
  let disposedSources = 0;
  for (let r = 0; r < n; r++) {
    const k = Math.floor(rnd() * sizes.length);
    const src = pool[k]!.length > 0 && rnd() < 0.5 ? pool[k]![Math.floor(rnd() * pool[k]!.length)]! : bases[k]!;
    const [op, c] = [Math.floor(rnd() * 5), rnd() * 4 - 2];
    const f = (a: dg.Tensor): dg.Tensor => {
      if (op === 0) return a.mul(c).add(bases[k]!);
      if (op === 1) return a.exp().mul(a);
      if (op === 2) return dg.maximum(a, 0).sqrt().neg();
      if (op === 3) {
        using tmp = a.mul(2);
        return tmp.add(a).mul(c);
      }
      return a.reshape([a.size]).add(1).reciprocal();
    };
    const t = f(src);
    if (rnd() < 0.3) {
      lazy.enabled = false;
      const v = dg.scoped(() => f(src).dataSync()) as Float32Array;
      lazy.enabled = true;
      kept.push({ t, v });
    } else if (pool[k]!.length < 8 && rnd() < 0.5) pool[k]!.push(t); // a source of later chains, unread
    if (pool[k]!.length > 0 && rnd() < 0.1) {
      const [gone] = pool[k]!.splice(Math.floor(rnd() * pool[k]!.length), 1);
      if (rnd() < 0.5) {
        gone!.dispose(); // chains built on it still hold its storage (or its own chain)
        disposedSources++;
      }
    }
    if (rnd() < 0.02) gc?.();
    if (rnd() < 0.02) await turn();
    watch();
  }
  const mismatches = mismatchesOf(kept);
  console.log(JSON.stringify({ mode, stats: dg.wasmMemoryStats(), maxMemory, maxInUse, kept: kept.length, disposedSources, mismatches, forced: lazy.forced, read: lazy.read, gc: typeof gc === "function" }));
} else {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const sizes = [16, 704, 1024, 2048, 4096, 9216, 16384];
  const kept: { t: dg.Tensor; v: Float32Array }[] = [];
  const bases = sizes.map((len, i) => dg.tensor(values(len, 100 + i)));
  await turn();
  let disposedKept = 0;
  for (let r = 0; r < n; r++) {
    const k = Math.floor(rnd() * sizes.length);
    const len = sizes[k]!;
    const src = kept.length > 0 && rnd() < 0.4 ? kept[Math.floor(rnd() * kept.length)]!.t : bases[k]!;
    const a = src.size === len ? src : bases[k]!;
    const op = Math.floor(rnd() * 6);
    let t: dg.Tensor;
    if (op === 0) t = a.mul(rnd() * 4 - 2);
    else if (op === 1) t = a.add(bases[k]!);
    else if (op === 2) t = a.exp();
    else if (op === 3) t = a.reshape([len / 16, 16]).transpose().reshape([len]); // a transposed view, materialized
    else if (op === 4) {
      using tmp = a.mul(2); // freed at the end of this block
      t = tmp.add(a);
    } else t = a.reshape([len]).neg(); // shares a's storage through the reshape, then a new block
    if (rnd() < 0.3) kept.push({ t, v: t.dataSync() as Float32Array }); // else dropped
    if (kept.length > 0 && rnd() < 0.05) {
      const [gone] = kept.splice(Math.floor(rnd() * kept.length), 1);
      if (rnd() < 0.5) {
        gone!.t.dispose();
        disposedKept++;
      }
    }
    if (rnd() < 0.02) gc?.();
    if (rnd() < 0.02) await turn();
    watch();
  }
  const mismatches = mismatchesOf(kept);
  console.log(JSON.stringify({ mode, stats: dg.wasmMemoryStats(), maxMemory, maxInUse, kept: kept.length, disposedKept, mismatches, gc: typeof gc === "function" }));
}
