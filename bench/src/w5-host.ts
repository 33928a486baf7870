/**
 * W5 with the host read in a process that runs nothing else (`node --expose-gc --conditions=source
 * --import tsx bench/src/w5-host.ts`): deltagrad compiled (2 threads) and TF.js wasm, timed as
 * the main table times them (warm-up, calibration, a forced `gc()` before each of 7 repetitions,
 * median). Prints one JSON line. fresh.ts runs it three times: with the process's usual allocator,
 * with glibc told not to give freed memory back to the kernel, and with glibc backing its memory
 * with huge pages — how much of each figure is its `dataSync()` result landing on fresh pages
 * (on this VM ~10 µs a 4 KiB page). Also the compiled step reading into one array it reuses
 * (`dataSync(out)`), which allocates nothing.
 */
import * as dg from "@deltagrad/autograd";
import { activate, uniform, type Runner } from "./frameworks.js";
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
// The same compiled step, its result read into one array reused every step.
await activate("deltagrad-compiled");
const x = dg.tensor(uniform(n, 51, -1, 1));
const f = dg.compile((x: dg.Tensor) => x.exp().mul(x).add(1));
const buf = new Float32Array(n);
const into: Runner = {
  step: () => {
    const y = f(x);
    y.dataSync(buf);
    y.dispose();
    return buf[0]!;
  },
  check: () => [],
  dispose: () => x.dispose(),
};
const k = warmUp(into, 300, 250);
const compiledInto = median(Array.from({ length: 7 }, () => timedRep(into, k)));
console.log(JSON.stringify({ compiled: out["deltagrad-compiled"], tfjs: out["tfjs-wasm"], compiledInto }));
process.exit(0);
