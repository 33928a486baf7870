/**
 * Lecture 004's worked example: f(x; w, b) = 1 / (exp(−(w·x + b)) + 1) at x = 1, w = 0, b = 0,
 * recorded op by op as h1 … h6, then differentiated by the reverse sweep.
 *
 *   pnpm tsx --conditions=source examples/sigmoid-graph.ts
 */
import { tensor, toDot } from "@deltagrad/autograd";

const x = tensor(1, { name: "x" });
const w = tensor(0, { requiresGrad: true, name: "w" });
const b = tensor(0, { requiresGrad: true, name: "b" });

const h1 = w.mul(x); // h1 = w·x
const h2 = h1.add(b); // h2 = h1 + b
const h3 = h2.neg(); // h3 = −h2
const h4 = h3.exp(); // h4 = e^h3
const h5 = h4.add(1); // h5 = h4 + 1
const f = h5.reciprocal(); // h6 = 1/h5
f.backward();

console.log(toDot(f, { title: "f = 1 / (exp(-(w*x + b)) + 1)" }));
console.log();
console.log(`f      = ${f.itemSync()}`);
console.log(`df/dw  = ${w.grad!.itemSync()}   (lecture: 0.25)`);
console.log(`df/db  = ${b.grad!.itemSync()}   (lecture: 0.25)`);
