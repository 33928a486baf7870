/**
 * deltagrad alone, one workload in a loop, for `node --cpu-prof`:
 *   node --conditions=source --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/src/profile.ts W3 [seconds] [W2,W3]
 * The optional last argument runs other workloads a few steps first (as the full bench does).
 */
import { elementwiseRunner, lenetRunner, matmulRunner, mlpRunner, scalarGraphRunner } from "./frameworks.js";

const which = process.argv[2] ?? "W4";
const seconds = Number(process.argv[3] ?? 5);
const runner = (w: string) =>
  w === "W1" ? matmulRunner("deltagrad-cpu", 512)
  : w === "W2" ? mlpRunner("deltagrad-cpu", 200)
  : w === "W3" ? lenetRunner("deltagrad-cpu", 64)
  : w === "W4" ? scalarGraphRunner("deltagrad-cpu", 1000)
  : elementwiseRunner("deltagrad-cpu", 1_000_000);
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
console.log(`${which}: ${((performance.now() - t0) / n).toFixed(3)} ms/step over ${n} steps`);
