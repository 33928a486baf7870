/**
 * What compile() costs a user, run by run.ts in fresh child processes (`node --conditions=source
 * --import tsx bench/src/compile-cost.ts W2|W3 compiled|eager`): the first three steps of the
 * workload's training step on deltagrad wasm, 2 threads, from a fresh process (so the JIT, the
 * generated kernels and wasm memory are all cold, as in a user's script), then the same for a
 * second model in the same, now warm, process. For the compiled step it also reports the
 * trace + plan time compile() counted (`stats().compileMs`: tracing runs the step once, eagerly).
 * Prints one JSON line.
 */
import { lenetRunner, mlpRunner } from "./workloads.js";

const which = process.argv[2] ?? "W2";
const fw = process.argv[3] === "eager" ? "deltagrad-wasm-2t" : "deltagrad-compiled";

function firstSteps(): { steps: number[]; compileMs: number | null; planMs: number | null; traces: number | null } {
  const r = which === "W3" ? lenetRunner(fw, 64) : mlpRunner(fw, 200);
  const steps: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = performance.now();
    r.step();
    steps.push(performance.now() - s);
  }
  const st = r.stats?.();
  r.dispose();
  return { steps, compileMs: st?.compileMs ?? null, planMs: st?.planMs ?? null, traces: st?.traces ?? null };
}

const cold = firstSteps();
const warm = firstSteps();
console.log(JSON.stringify({ workload: which, framework: fw, cold, warm }));
