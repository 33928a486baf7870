/**
 * Time per backend kernel in one workload (deltagrad only):
 *   node --conditions=source --import tsx bench/src/kernel-times.ts W2 [steps]
 * Wraps every method of the active backend object with a timer; DELTAGRAD_BACKEND=cpu for cpu.
 */
import * as dg from "@deltagrad/autograd";
import { type DeltagradId } from "./frameworks.js";
import { lenetRunner, mlpRunner, elementwiseRunner } from "./workloads.js";

const fw: DeltagradId = process.env.DELTAGRAD_BACKEND === "cpu" ? "deltagrad-cpu" : "deltagrad-wasm";
const which = process.argv[2] ?? "W2";
const steps = Number(process.argv[3] ?? 10);
const backend = (fw === "deltagrad-cpu" ? dg.cpuBackend : dg.wasmBackend) as unknown as Record<string, unknown>;
const times = new Map<string, { ms: number; calls: number }>();
const r = which === "W2" ? mlpRunner(fw, 200) : which === "W3" ? lenetRunner(fw, 64) : elementwiseRunner(fw, 1_000_000);
for (let i = 0; i < 3; i++) r.step();
for (const [k, v] of Object.entries(backend)) {
  if (typeof v !== "function") continue;
  backend[k] = function (this: unknown, ...args: unknown[]) {
    const t = performance.now();
    const out = (v as (...a: unknown[]) => unknown).apply(this, args);
    const key = k === "unary" || k === "binary" || k === "compare" || k === "reduce" ? `${k}.${String(args[0])}` : k;
    const e = times.get(key) ?? { ms: 0, calls: 0 };
    e.ms += performance.now() - t;
    e.calls++;
    times.set(key, e);
    return out;
  };
}
const t0 = performance.now();
for (let i = 0; i < steps; i++) r.step();
const total = (performance.now() - t0) / steps;
let sum = 0;
console.log(`${which} on ${fw}: ${total.toFixed(2)} ms/step`);
for (const [k, e] of [...times].sort((a, b) => b[1].ms - a[1].ms)) {
  sum += e.ms / steps;
  console.log(`${(e.ms / steps).toFixed(2).padStart(8)} ms  ${String(e.calls / steps).padStart(5)} calls  ${k}`);
}
console.log(`${sum.toFixed(2).padStart(8)} ms in kernels, ${(total - sum).toFixed(2)} ms elsewhere`);
