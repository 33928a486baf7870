/**
 * Shared helpers of the sequence-layer tests (recurrent, attention, transformer): the PyTorch
 * fixture `fixtures/layers-seq.json` (copied from the shared fixtures: RNN, LSTM, GRU,
 * scaledDotProductAttention and MultiheadAttention cases), a closeness check that names the
 * worst element, and a finite-difference check of a module's *parameter* gradients (gradcheck
 * varies function inputs; a module's parameters are varied in place here with `assign`).
 */
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { DeltagradError, Generator, Tensor, concat, noGrad, randn, tensor } from "@deltagrad/autograd";
import type { AnyModule } from "@deltagrad/nn";

export type Nested = number | null | Nested[];

export interface SeqCase {
  name: string;
  kind: "module" | "function";
  layer: string;
  args?: number[];
  options: Record<string, unknown>;
  mode?: "train" | "eval";
  params?: Record<string, Nested>;
  inputs: Record<string, Nested | boolean[]>;
  input_dtypes?: Record<string, string>;
  call_options?: Record<string, unknown>;
  outputs: Record<string, Nested>;
  cotangents: Record<string, Nested>;
  grads: { inputs: Record<string, Nested>; params?: Record<string, Nested> };
  shapes: Record<string, number[]>;
}

export const fixture = JSON.parse(readFileSync(new URL("./fixtures/layers-seq.json", import.meta.url), "utf8")) as { dtype: string; cases: SeqCase[] };

/** The fixture's cases for one layer (or function) name. */
export const casesOf = (layer: string) => fixture.cases.filter((c) => c.layer === layer).map((c) => [c.name, c] as const);

export const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v === null ? NaN : Number(v)]);

/** A fixture input as a tensor: float64 (a leaf requiring grad), bool masks, int64 → int32. */
export function inputTensor(c: SeqCase, name: string): Tensor {
  const v = c.inputs[name]!;
  const dt = c.input_dtypes?.[name];
  const shape = c.shapes[`input.${name}`]!;
  if (dt === "bool") return tensor(flat(v).map((b) => b !== 0), { dtype: "bool" }).reshape(shape);
  if (dt === "int64") return tensor(flat(v), { dtype: "int32" }).reshape(shape);
  return tensor(flat(v), { dtype: "float64" }).reshape(shape).requiresGrad_();
}

/** Every element within `tol` of the reference (absolute), reporting the worst one. */
export function expectClose(actual: Tensor, expected: Nested, tol: number, what: string): void {
  const a = Array.from(actual.dataSync() as ArrayLike<number>);
  const e = flat(expected);
  expect(a.length, `${what}: element count`).toBe(e.length);
  let worst = 0;
  let at = -1;
  a.forEach((v, i) => {
    const d = Math.abs(v - e[i]!);
    if (!(d <= worst)) [worst, at] = [d, i];
  });
  expect(worst, `${what}: worst |Δ| at flat index ${at} (${a[at]} vs ${e[at]})`).toBeLessThanOrEqual(tol);
}

/** Σ ⟨output, cotangent⟩ over the fixture's cotangents (the fixtures' loss). */
export function fixtureLoss(outputs: Record<string, Tensor>, c: SeqCase): Tensor {
  let loss: Tensor | null = null;
  for (const [name, ct] of Object.entries(c.cotangents)) {
    const o = outputs[name];
    if (!o) throw new Error(`${c.name}: no output named ${name}`);
    const term = o.mul(tensor(flat(ct), { dtype: "float64" }).reshape(o.shape)).sum();
    loss = loss ? loss.add(term) : term;
  }
  return loss!;
}

/** float64 normal values from an integer seed. */
export const randn64 = (shape: readonly number[], seed: number, requiresGrad = false) => randn(shape.slice(), { dtype: "float64", generator: new Generator(seed), requiresGrad });

/** Flattens and joins several outputs into one vector (gradcheck takes one output). */
export const joined = (...ts: Tensor[]): Tensor => concat(ts.map((t) => t.reshape([-1])));

/**
 * Central finite differences of `loss()` (a scalar, float64) with respect to every parameter
 * element of `model`, compared with the gradients `backward()` leaves in `.grad`
 * (|analytic − numeric| ≤ atol + rtol·|numeric|). Parameters are restored afterwards.
 */
export function checkParamGrads(model: AnyModule, loss: () => Tensor, { eps = 1e-6, atol = 1e-5, rtol = 1e-3 } = {}): void {
  const params = model.namedParameters();
  if (params.some(([, p]) => p.dtype !== "float64")) throw new DeltagradError("checkParamGrads: the model must be float64");
  model.zeroGrad();
  loss().backward();
  for (const [name, p] of params) {
    const g = p.grad ? Array.from(p.grad.dataSync() as Float64Array) : new Array<number>(p.size).fill(0);
    const base = (p.dataSync() as Float64Array).slice();
    const at = (i: number, d: number) => {
      const v = base.slice();
      v[i] = base[i]! + d;
      p.assign(tensor(v, { dtype: "float64" }).reshape(p.shape));
      return noGrad(() => loss().itemSync());
    };
    try {
      for (let i = 0; i < base.length; i++) {
        const numeric = (at(i, eps) - at(i, -eps)) / (2 * eps);
        expect(Math.abs(g[i]! - numeric), `${name}[${i}]: analytic ${g[i]}, numeric ${numeric}`).toBeLessThanOrEqual(atol + rtol * Math.abs(numeric));
      }
    } finally {
      p.assign(tensor(base, { dtype: "float64" }).reshape(p.shape));
    }
  }
  model.zeroGrad();
}
