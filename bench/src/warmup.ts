/**
 * The warm-up check, run by run.ts in a fresh child process (`node --conditions=source --import
 * tsx bench/src/warmup.ts [N]`): plain W5 summed (`exp(x)·x + 1` on 1 M floats, then its sum:
 * the deferred chain runs in the sum's kernel, nothing stored; results dropped, no dispose, no gc —
 * without the sum the chain would never run) or, with `read` as the fifth argument, W5 with the
 * read (`dataSync()`: the chain run into a block no tensor keeps, and a new 4 MB array each step),
 * or with `matmul` W1's product summed (`matmul(A, B).sum()`, N = 512: the deferred product run into
 * a block no tensor keeps, then summed) — or with `matmul-relu` its relu summed (the relu a
 * deferred chain over the product, summed in its kernel: the product in a held block, nothing
 * stored),
 * from the process's first step, as a new user's script runs it — synchronously,
 * never yielding to the event loop. Prints one JSON line: the median of steps 1–40, of steps
 * 41–N, their ratio (the target is ≤ 1.25), then the same loop in `scoped` for reference, the
 * means of the later steps of both, and the wasm memory at the end. With `scoped` as a third argument, the scoped loop alone from the first
 * step (`… warmup.ts 160 1000000 scoped`): the same medians and ratio. With `alone`, each of the
 * plain section's pairs (plain.ts) by itself, after the first turn of the event loop: a user's one
 * loop with nothing else running in the process (`… warmup.ts 0 1000000 alone`): one JSON row per
 * pair — the medians of its first 21 repetitions, the wasm memory and the blocks reclaimed or
 * evicted by then, and the medians of the last 21 of 42 more (by then the plain loop's dropped
 * results have filled wasm memory to the resident target and are recycled).
 */
import * as dg from "@deltagrad/autograd";
import { median } from "./format.js";
import { uniform } from "./frameworks.js";
import { interleave, pairs, quantile, type Timed } from "./plain.js";

const total = Number(process.argv[2] ?? 160);
const n = Number(process.argv[3] ?? 1_000_000);
dg.setBackend("wasm");
dg.setNumThreads(1);
const x = dg.tensor(uniform(n, 51, -1, 1));
/** A 512 × 512 matrix (W1's), for the `matmul` step. */
const square = (seed: number) => dg.tensor(uniform(512 * 512, seed, -1, 1)).reshape([512, 512]);
const [a, b] = process.argv[5]?.startsWith("matmul") ? [square(52), square(53)] : [x, x];
/** The step of the never-yielding loops: W5 summed, W5 with the read, W1's product summed, or its relu summed. */
const w5 =
  process.argv[5] === "read" ? () => x.exp().mul(x).add(1).dataSync()
  : process.argv[5] === "matmul" ? () => dg.matmul(a, b).sum()
  : process.argv[5] === "matmul-relu" ? () => dg.relu(dg.matmul(a, b)).sum()
  : () => x.exp().mul(x).add(1).sum();

function time(step: () => unknown, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const s = performance.now();
    step();
    out.push(performance.now() - s);
  }
  return out;
}

/** Steps a repetition at least, in the alone run. */
const ALONE_MIN_STEPS = 20;

if (process.argv[4] === "alone") {
  // The plain section's pairs, each alone: in the bench process the other loops' garbage (host
  // arrays of the reads, TF.js's) makes the collector run often, and a plain loop's dropped
  // tensors are reclaimed sooner than in a process that runs that loop only.
  await new Promise<void>((r) => setTimeout(r, 0));
  const { list, dispose } = pairs(n < 1_000_000);
  const rows = [];
  for (const p of list) {
    const timed: Timed[] = [
      { key: "plain", run: p.plain, times: [], iters: 1 },
      { key: "scoped", run: p.scoped, times: [], iters: 1 },
    ];
    const before = dg.wasmMemoryStats();
    // At least 20 steps a repetition: a plain loop pays its evictions in some steps only (plain W5:
    // ~28% of its blocks), and calibrated on a fresh process's slow first step a repetition was 2–3
    // steps, whose median skipped the steps that evict (plain W5 alone read 1.21–1.28× scoped
    // that way, 2.3–2.7× over 30–45-step repetitions).
    await interleave(timed, 21, 80, undefined, ALONE_MIN_STEPS);
    const after = dg.wasmMemoryStats();
    const [pl, sc] = [quantile(timed[0]!.times, 0.5), quantile(timed[1]!.times, 0.5)];
    // The same loops on, until the plain loop's dropped results have filled wasm memory to the
    // resident target and the sweep recycles them: the last 21 of 42 more repetitions.
    for (const t of timed) t.times = [];
    await interleave(timed, 42, 80, undefined, ALONE_MIN_STEPS);
    const [plL, scL] = [quantile(timed[0]!.times.slice(21), 0.5), quantile(timed[1]!.times.slice(21), 0.5)];
    rows.push({
      case: p.name,
      plain: pl,
      scoped: sc,
      ratio: pl / sc,
      memoryMB: after.memoryBytes / 2 ** 20,
      swept: after.reclaimed + after.evictions - before.reclaimed - before.evictions,
      later: { plain: plL, scoped: scL, ratio: plL / scL },
    });
  }
  dispose();
  console.log(JSON.stringify(rows));
  process.exit(0);
}
if (process.argv[4] === "scoped") {
  // The same loop in `scoped` from the first step: the floor any memory policy meets, a fresh
  // process's own first touches of memory (its wasm memory, V8's heap, the JIT).
  const t = time(() => dg.scoped(() => {
    w5();
  }), total);
  const [first40, later] = [median(t.slice(0, 40)), median(t.slice(40))];
  console.log(JSON.stringify({ steps: total, first40, later, ratio: first40 / later }));
  process.exit(0);
}
const plain = time(w5, total);
const scoped = time(() => dg.scoped(() => {
  w5();
}), total - 40);
const first40 = median(plain.slice(0, 40));
const later = median(plain.slice(40));
// Means too: a median of single steps passes over the steps that evict a dropped result.
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
console.log(JSON.stringify({ steps: total, first40, later, ratio: first40 / later, scopedLater: median(scoped), plainOverScoped: later / median(scoped), meanLater: mean(plain.slice(40)), scopedMeanLater: mean(scoped), memory: dg.wasmMemoryStats() }));
