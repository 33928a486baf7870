/**
 * Scalar graphs as one generated function. When every value of a plan holds one element (the
 * lecture's h1…h6 graph, a scalar parameter's update), dispatching a kernel per op costs far more
 * than the arithmetic: the whole schedule becomes straight-line JavaScript over local numbers,
 * reading its operands from their one-element arrays and writing only the results that survive.
 * Each expression is the cpu kernel's own (cpu/index.ts) with the same rounding — `Math.fround`
 * after every float32 op, as storing into a Float32Array does — so results are bit for bit the
 * kernels' (both the cpu backend and the wasm backend's small host-resident tensors run them).
 */
import type { TypedArray } from "../dtype.js";
import { erf } from "../cpu/erf.js";
import { exp32 } from "../cpu/exp32.js";
import { sizeOf } from "../shape.js";
import type { Value } from "./record.js";

interface NodeLike {
  op: string;
  attrs: unknown;
  inputs: readonly number[];
  output: number;
}

const UNARY: Record<string, (x: string, f32: boolean) => string> = {
  neg: (x) => `-${x}`,
  reciprocal: (x) => `1 / ${x}`,
  exp: (x, f32) => (f32 ? `exp32(${x})` : `Math.exp(${x})`),
  log: (x) => `Math.log(${x})`,
  sqrt: (x) => `Math.sqrt(${x})`,
  erf: (x) => `erf(${x})`,
  sign: (x) => `(${x} > 0 ? 1 : ${x} < 0 ? -1 : ${x} === 0 ? 0 : NaN)`,
  sin: (x) => `Math.sin(${x})`,
  cos: (x) => `Math.cos(${x})`,
  log1p: (x) => `Math.log1p(${x})`,
  expm1: (x) => `Math.expm1(${x})`,
};
const BINARY: Record<string, (x: string, y: string) => string> = {
  add: (x, y) => `${x} + ${y}`,
  mul: (x, y) => `${x} * ${y}`,
  maximum: (x, y) => `(${x} !== ${x} || ${y} !== ${y} ? NaN : ${x} > ${y} ? ${x} : ${y})`,
};
const COMPARE: Record<string, string> = { equal: "===", notEqual: "!==", greater: ">", greaterEqual: ">=", less: "<", lessEqual: "<=" };
const IDENTITY = new Set(["reshape", "expand", "permute", "slice"]);
/** The typed array holding each dtype (generated code allocates results by this name). @example `ARRAY.bool; // "Uint8Array"` */
export const ARRAY = { float32: "Float32Array", float64: "Float64Array", int32: "Int32Array", bool: "Uint8Array" } as const;

/** The expression computing `n`'s output from its inputs' variables (the cpu kernel's, rounded as it stores), or null when not supported. @example `expr(node, (id) => \`v${id}\`, values); // "fr(v3 + v4)"` */
export function expr(n: NodeLike, v: (id: number) => string, values: readonly Value[]): string | null {
  const out = values[n.output]!;
  const f32 = out.dtype === "float32";
  const [a, b, c] = n.inputs.map(v);
  let e: string | null = null;
  if (n.op in UNARY) e = UNARY[n.op]!(a!, f32);
  else if (n.op in BINARY) e = BINARY[n.op]!(a!, b!);
  else if (n.op === "compare") return `(${a} ${COMPARE[(n.attrs as { op: string }).op]} ${b} ? 1 : 0)`;
  else if (n.op === "where") return `(${a} !== 0 ? ${b} : ${c})`;
  else if (IDENTITY.has(n.op)) return a!;
  else if (n.op === "sum") e = `0 + ${a}`;
  else if (n.op === "max") return `(${a} > -Infinity || ${a} !== ${a} ? ${a} : -Infinity)`;
  else if (n.op === "cast") {
    const to = out.dtype;
    if (to === "bool") return `(${a} !== 0 && ${a} === ${a} ? 1 : 0)`;
    if (to === "int32") return `(${a} | 0)`;
    e = a!;
  }
  if (e === null) return null;
  if (out.dtype === "float32") return `fr(${e})`;
  if (out.dtype === "int32") return `((${e}) | 0)`;
  return `(${e})`;
}

/** The generated schedule: reads `slots` (bound and constant values), writes the kept values' arrays into it. */
export type ScalarProgram = (slots: unknown[]) => void;

/**
 * Generates the straight-line program of `nodes` when every value they touch has one element,
 * or returns null. `kept` are the values written back to `slots` (results, writes, gradients).
 *
 * @example `scalarProgram(nodes, values, kept)?.(slots); // null unless every value has one element`
 */
export function scalarProgram(nodes: readonly NodeLike[], values: readonly Value[], kept: readonly number[]): ScalarProgram | null {
  if (nodes.length === 0 || values.some((x) => x.kind === "random")) return null;
  const produced = new Set(nodes.map((n) => n.output));
  const lines: string[] = [];
  const loaded = new Set<number>();
  const name = (id: number) => `v${id}`;
  for (const n of nodes) {
    for (const id of [...n.inputs, n.output]) if (sizeOf(values[id]!.shape) !== 1) return null;
    for (const id of n.inputs) {
      if (produced.has(id) || loaded.has(id)) continue;
      loaded.add(id);
      lines.push(`const v${id} = S[${id}][0];`);
    }
    const e = expr(n, name, values);
    if (e === null) return null;
    lines.push(`const v${n.output} = ${e};`);
  }
  for (const id of kept) {
    if (!produced.has(id)) continue;
    const t = ARRAY[values[id]!.dtype];
    lines.push(`{ const a = new ${t}(1); a[0] = v${id}; S[${id}] = a; }`);
  }
  const make = new Function("fr", "exp32", "erf", `return function scalarGraph(S) {\n${lines.join("\n")}\n};`);
  return make(Math.fround, exp32, erf) as ScalarProgram;
}

/** Whether every handle the program reads is a host array (wasm keeps small tensors on the JS heap; a large or evicted one is not). @example `hostOperands(slots, p.scalarReads); // false when an operand lives in wasm memory` */
export function hostOperands(slots: readonly unknown[], ids: readonly number[]): boolean {
  for (let i = 0; i < ids.length; i++) if (!ArrayBuffer.isView(slots[ids[i]!] as TypedArray)) return false;
  return true;
}
