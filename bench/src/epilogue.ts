/**
 * What a matmul epilogue could save compile() (`node --conditions=source --import tsx
 * bench/src/epilogue.ts`): W2's layer shape, `[200, 784] · [784, 784]`, compiled on 2 threads,
 * alone and followed by its bias and relu — which compile() runs as one fused pass over the
 * product, in cache. The difference bounds what folding that pass into the GEMM's store would
 * save (the epilogue would still do the arithmetic). Medians of 15 rounds of 50 calls, in
 * `scoped`; prints one line a trial.
 */
import * as dg from "@deltagrad/autograd";
import { median } from "./format.js";
import { uniform } from "./frameworks.js";

dg.setBackend("wasm");
dg.setNumThreads(2);
const x = dg.tensor(uniform(200 * 784, 61, -1, 1)).reshape([200, 784]);
const w = dg.tensor(uniform(784 * 784, 62, -0.05, 0.05)).reshape([784, 784]);
const b = dg.tensor(uniform(784, 63, -0.1, 0.1));
const product = dg.compile((t: dg.Tensor) => t.matmul(w));
const layer = dg.compile((t: dg.Tensor) => dg.relu(t.matmul(w).add(b)));

function time(f: (t: dg.Tensor) => dg.Tensor): number {
  const call = () => dg.scoped(() => void f(x));
  for (let i = 0; i < 20; i++) call();
  const rounds: number[] = [];
  for (let r = 0; r < 15; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) call();
    rounds.push((performance.now() - t0) / 50);
  }
  return median(rounds);
}

for (let trial = 0; trial < 3; trial++) {
  const [p, l] = [time(product), time(layer)];
  console.log(`product ${p.toFixed(3)} ms, with bias + relu ${l.toFixed(3)} ms: the fused pass ${(l - p).toFixed(3)} ms (${((100 * (l - p)) / l).toFixed(1)}%)`);
}
