/**
 * deltagrad alone, one workload in a loop, for `node --cpu-prof`:
 *   node --conditions=source --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/src/profile.ts W3 [seconds] [W2,W3]
 * The optional last argument runs other workloads a few steps first (as the full bench does).
 * DELTAGRAD_BACKEND=cpu profiles the cpu backend; the default is wasm (as in the library).
 */
import { type DeltagradId } from "./frameworks.js";
import { elementwiseRunner, lenetRunner, matmulRunner, mlpRunner, scalarGraphRunner } from "./workloads.js";

const fw: DeltagradId = process.env.DELTAGRAD_BACKEND === "cpu" ? "deltagrad-cpu" : "deltagrad-wasm";
const which = process.argv[2] ?? "W4";
const seconds = Number(process.argv[3] ?? 5);
const runner = (w: string) =>
  w === "W1" ? matmulRunner(fw, 512)
  : w === "W2" ? mlpRunner(fw, 200)
  : w === "W3" ? lenetRunner(fw, 64)
  : w === "W4" ? scalarGraphRunner(fw, 1000)
  : elementwiseRunner(fw, 1_000_000);
for (const w of process.argv[4]?.split(",") ?? []) {
  const pre = runner(w);
  for (let i = 0; i < 3; i++) pre.step();
}
const r = runner(which);
const t0 = performance.now();
let n = 0;
while (performance.now() - t0 < seconds * 1000) {
  r.step();
  n++;
}
console.log(`${which} on ${fw}: ${((performance.now() - t0) / n).toFixed(3)} ms/step over ${n} steps`);
