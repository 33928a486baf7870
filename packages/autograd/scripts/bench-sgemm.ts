/**
 * sgemm GFLOP/s, cpu backend vs wasm backend, one thread, side by side: for each N the two
 * backends alternate, `REPS` rounds each, and the best and median of each are printed (the best
 * is the least disturbed by other processes on a shared machine).
 *
 *   npx tsx --conditions=source packages/autograd/scripts/bench-sgemm.ts [N …]
 */
import { cpuBackend } from "../src/cpu/index.js";
import { wasmBackend } from "../src/wasm/index.js";
import type { Backend } from "../src/backend.js";

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const Ns = sizes.length ? sizes : [128, 256, 512, 768, 1024];
const REPS = Number(process.env.REPS ?? 7);

function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

function time(b: Backend, a: Float32Array, x: Float32Array, n: number): number {
  const inner = Math.max(1, Math.round(2e8 / (2 * n * n * n)));
  const t0 = performance.now();
  for (let i = 0; i < inner; i++) b.matmul(a, [n, n], x, [n, n], [n, n], "float32");
  return (performance.now() - t0) / inner;
}

const median = (xs: number[]) => xs.slice().sort((p, q) => p - q)[xs.length >> 1]!;
console.log(`sgemm N×N·N×N float32, ${REPS} alternating rounds; GFLOP/s best (median)`);
console.log("N      cpu              wasm             wasm/cpu (best)");
for (const n of Ns) {
  const a = rand(n * n);
  const x = rand(n * n);
  time(cpuBackend, a, x, n); // warm up both (JIT, arena growth)
  time(wasmBackend, a, x, n);
  const tc: number[] = [];
  const tw: number[] = [];
  for (let r = 0; r < REPS; r++) {
    tc.push(time(cpuBackend, a, x, n));
    tw.push(time(wasmBackend, a, x, n));
  }
  const gf = (ms: number) => (2 * n * n * n) / (ms * 1e6);
  const f = (ts: number[]) => `${gf(Math.min(...ts)).toFixed(1).padStart(5)} (${gf(median(ts)).toFixed(1).padStart(5)})`;
  console.log(`${String(n).padEnd(6)} ${f(tc).padEnd(16)} ${f(tw).padEnd(16)} ${(Math.min(...tc) / Math.min(...tw)).toFixed(2)}×`);
}
