/**
 * W5 with the host read in a process that runs nothing else (`node --expose-gc --conditions=source
 * --import tsx bench/src/w5-host.ts`): deltagrad compiled (2 threads) and TF.js wasm, timed as
 * the main table times them (warm-up, calibration, a forced `gc()` before each of 7 repetitions,
 * median). Prints one JSON line. fresh.ts runs it twice: with the process's usual allocator, and
 * with glibc told not to give freed memory back to the kernel — a diagnostic of how much of each
 * figure is its `dataSync()` result landing on fresh pages (on this VM ~10 µs a page).
 */
import { activate, type Runner } from "./frameworks.js";
import { median } from "./format.js";
import { timedRep, warmUp } from "./run.js";
import { elementwiseRunner } from "./workloads.js";

const n = Number(process.argv[2] ?? 1_000_000);
const out: Record<string, number> = {};
for (const fw of ["deltagrad-compiled", "tfjs-wasm"] as const) {
  await activate(fw);
  const r: Runner = elementwiseRunner(fw, n);
  const k = warmUp(r, 300, 250);
  out[fw] = median(Array.from({ length: 7 }, () => timedRep(r, k)));
  r.dispose();
}
console.log(JSON.stringify({ compiled: out["deltagrad-compiled"], tfjs: out["tfjs-wasm"] }));
process.exit(0);
