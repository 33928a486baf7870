/**
 * sgemm GFLOP/s side by side: the cpu backend, and the wasm backend on one and on two threads.
 * For each N the three alternate, `REPS` rounds each; the best and median are printed (the best
 * is the least disturbed by other processes on a shared machine). Operands are tensors made on
 * each backend, so wasm reads them where they live (no copies in the timed region).
 *
 *   npx tsx --conditions=source packages/autograd/scripts/bench-sgemm.ts [N …]
 */
import * as dg from "../src/index.js";

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const Ns = sizes.length ? sizes : [128, 256, 512, 768, 1024];
const REPS = Number(process.env.REPS ?? 7);

type Column = { name: string; backend: "cpu" | "wasm"; threads: number };
const columns: Column[] = [
  { name: "cpu", backend: "cpu", threads: 1 },
  { name: "wasm 1 thread", backend: "wasm", threads: 1 },
  { name: "wasm 2 threads", backend: "wasm", threads: 2 },
];

function time(col: Column, n: number): number {
  dg.setBackend(col.backend);
  dg.setNumThreads(col.threads);
  dg.manualSeed(1);
  const a = dg.rand([n, n]);
  const b = dg.rand([n, n]);
  const inner = Math.max(1, Math.round(4e8 / (2 * n * n * n)));
  const t0 = performance.now();
  for (let i = 0; i < inner; i++) dg.matmul(a, b).dispose();
  const ms = (performance.now() - t0) / inner;
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / ms / 1e6;
}

const median = (xs: number[]) => xs.slice().sort((p, q) => p - q)[xs.length >> 1]!;
console.log(`sgemm N×N·N×N float32, ${REPS} alternating rounds; GFLOP/s best (median)`);
console.log(["N".padEnd(6), ...columns.map((c) => c.name.padEnd(18))].join(""));
for (const n of Ns) {
  const runs = columns.map(() => [] as number[]);
  columns.forEach((c) => time(c, n)); // warm up (JIT, memory growth, worker start)
  for (let r = 0; r < REPS; r++) columns.forEach((c, i) => runs[i]!.push(time(c, n)));
  const cell = (xs: number[]) => `${Math.max(...xs).toFixed(1).padStart(5)} (${median(xs).toFixed(1).padStart(5)})`.padEnd(18);
  console.log([String(n).padEnd(6), ...runs.map(cell)].join(""));
}
