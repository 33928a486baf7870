/**
 * Helpers of the norm / embedding / conv-extra tests: the PyTorch float64 fixtures copied from the
 * shared `layers.json` into `fixtures/layers-<family>.json`, one runner that loads a case's
 * parameters and buffers by PyTorch's names through `loadStateDict`, runs the forward in the
 * case's mode and compares outputs, input and parameter gradients and buffers after the step; and
 * a gradcheck over a module's input *and* parameters (the parameters are swapped in for the check).
 */
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { Tensor, gradcheck, tensor, type NestedArray } from "@deltagrad/autograd";
import type { Module } from "@deltagrad/nn";

export interface LayerCase {
  name: string;
  layer: string;
  args: unknown[];
  options: Record<string, unknown>;
  mode: "train" | "eval";
  params: Record<string, NestedArray>;
  buffers: Record<string, NestedArray | number>;
  inputs: Record<string, NestedArray>;
  input_dtypes?: Record<string, string>;
  outputs: Record<string, NestedArray>;
  cotangents: Record<string, NestedArray>;
  grads: { inputs: Record<string, NestedArray>; params: Record<string, NestedArray> };
  buffers_after?: Record<string, NestedArray | number>;
}

export function loadCases(family: string): LayerCase[] {
  const url = new URL(`./fixtures/layers-${family}.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { cases: LayerCase[] }).cases;
}

/** Largest |a − e| − 1e-6·|e| over the elements, with the element's index, so a failure says where. */
export function expectClose(actual: Tensor | null, expected: NestedArray | number, what: string, tol = 1e-6): void {
  expect(actual, `${what}: missing`).not.toBeNull();
  const e = Array.isArray(expected) ? (expected as unknown[]).flat(Infinity as 1) as number[] : [expected as number];
  const a = Array.from(actual!.dataSync(), Number);
  expect(a.length, `${what}: ${a.length} values, expected ${e.length}`).toBe(e.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - e[i]!) - tol * Math.abs(e[i]!);
    if (!(err <= worst)) {
      worst = Number.isNaN(err) ? Infinity : err;
      at = i;
    }
  }
  expect(worst, `${what}: element ${at} is ${a[at]}, PyTorch ${e[at]}`).toBeLessThanOrEqual(tol);
}

const sumProducts = (outs: Tensor[], cots: Tensor[]) => outs.map((o, i) => o.mul(cots[i]!).sum()).reduce((s, t) => s.add(t));

/**
 * Runs one fixture case on a module built by `make(args, options)`: loads `params` and `buffers`
 * (PyTorch names) with `loadStateDict` (strict: every parameter and persistent buffer must be
 * named), sets the mode, runs the forward, compares everything within 1e-6.
 */
export function runCase(c: LayerCase, make: (args: unknown[], options: Record<string, unknown>) => Module): void {
  const m = make(c.args, { ...c.options, dtype: "float64" });
  const sd: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(c.params)) sd[k] = tensor(v, { dtype: "float64" });
  for (const [k, v] of Object.entries(c.buffers)) sd[k] = k === "num_batches_tracked" ? tensor(v as number, { dtype: "int32" }) : tensor(v, { dtype: "float64" });
  m.loadStateDict(sd);
  if (c.mode === "train") m.train();
  else m.eval();
  const names = Object.keys(c.inputs);
  const inputs = names.map((k) =>
    c.input_dtypes?.[k] === "int64" ? tensor(c.inputs[k]!, { dtype: "int32" }) : tensor(c.inputs[k]!, { dtype: "float64", requiresGrad: true }),
  );
  const out = m.call(...(inputs as [Tensor]));
  expectClose(out, c.outputs.output!, `${c.name} output`);
  sumProducts([out], [tensor(c.cotangents.output!, { dtype: "float64" })]).backward();
  names.forEach((k, i) => {
    if (c.grads.inputs[k] !== undefined) expectClose(inputs[i]!.grad, c.grads.inputs[k]!, `${c.name} d/d${k}`);
  });
  const params = Object.fromEntries(m.namedParameters());
  expect(Object.keys(params).sort()).toEqual(Object.keys(c.grads.params).sort());
  for (const [k, g] of Object.entries(c.grads.params)) expectClose(params[k]!.grad, g, `${c.name} d/d${k}`);
  if (c.buffers_after) {
    const buffers = Object.fromEntries(m.namedBuffers());
    for (const [k, v] of Object.entries(c.buffers_after)) {
      expectClose(buffers[k] ?? null, v, `${c.name} buffer ${k} after`);
      if (k === "num_batches_tracked") expect(buffers[k]!.dtype).toBe("int32");
    }
  }
}

/**
 * gradcheck of `m.call(x)` with respect to x (when float) and to the module's own parameters
 * named in `fields` (each swapped in as a gradcheck input, restored afterwards).
 */
export function gradcheckModule(m: Module, x: Tensor, fields: string[], opts: { atol?: number; rtol?: number } = {}): void {
  const self = m as unknown as Record<string, Tensor | null>;
  const saved = fields.map((f) => self[f]!);
  const ps = saved.map((p) => p.detach().requiresGrad_());
  const f = (xx: Tensor, ...qs: Tensor[]) => {
    fields.forEach((name, i) => (self[name] = qs[i]!));
    try {
      return m.call(xx);
    } finally {
      fields.forEach((name, i) => (self[name] = saved[i]!));
    }
  };
  expect(gradcheck(f, [x, ...ps], { atol: 1e-6, rtol: 1e-4, ...opts })).toBe(true);
}
