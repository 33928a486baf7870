/**
 * Fused runs of small tensors (wasm backend). A tensor under 4 KiB lives on the JavaScript heap
 * and each op on it runs the cpu kernel (a loop over a fresh typed array): an Adam update of a
 * 784-element bias is 14 such calls, each allocating its result. A run of consecutive
 * elementwise ops over one small shape becomes one generated JavaScript loop instead: each
 * element's chain computed in locals with the cpu kernels' own expressions (scalar.ts's `expr`,
 * `Math.fround` after every float32 op as storing into a Float32Array does), and only the values
 * read later stored — so the bits are the kernels'.
 */
import type { TypedArray } from "../dtype.js";
import { erf } from "../cpu/erf.js";
import { exp32 } from "../cpu/exp32.js";
import type { RecNode, Value } from "./record.js";
import { ARRAY, expr } from "./scalar.js";

/** A generated loop: vector operands (the run's shape), one-element scalars, element count; returns the stored outputs. */
export type HostRun = (vecs: readonly TypedArray[], scalars: readonly TypedArray[], n: number) => TypedArray[];

/**
 * The generated loop of `nodes` (consecutive elementwise ops over one shape), reading `vecIds`
 * elementwise and `scalarIds` as one value each, returning `outIds`' arrays in order; null when
 * an op has no expression.
 *
 * @example `hostRun(nodes.slice(s, e), values, [x, g], [lr], [out])!([xArr, gArr], [lrArr], 784);`
 */
export function hostRun(nodes: readonly RecNode[], values: readonly Value[], vecIds: readonly number[], scalarIds: readonly number[], outIds: readonly number[]): HostRun | null {
  const names = new Map<number, string>();
  vecIds.forEach((id, k) => names.set(id, `a${k}`));
  scalarIds.forEach((id, k) => names.set(id, `s${k}`));
  const body: string[] = vecIds.map((_, k) => `const a${k} = x${k}[i];`);
  for (const n of nodes) {
    names.set(n.output, `t${n.output}`);
    const e = expr(n, (id) => names.get(id)!, values);
    if (e === null) return null;
    body.push(`const t${n.output} = ${e};`);
  }
  outIds.forEach((id, k) => body.push(`o${k}[i] = t${id};`));
  const head = [
    ...vecIds.map((_, k) => `const x${k} = V[${k}];`),
    ...scalarIds.map((_, k) => `const s${k} = S[${k}][0];`),
    ...outIds.map((id, k) => `const o${k} = new ${ARRAY[values[id]!.dtype]}(n);`),
  ];
  const src = `return function fusedHost(V, S, n) {\n${head.join("\n")}\nfor (let i = 0; i < n; i++) {\n${body.join("\n")}\n}\nreturn [${outIds.map((_, k) => `o${k}`).join(", ")}];\n};`;
  return new Function("fr", "exp32", "erf", src)(Math.fround, exp32, erf) as HostRun;
}
