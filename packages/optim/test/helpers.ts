import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { Adagrad, Adam, AdamW, NAdam, RMSprop, SGD, type Optimizer, type Params } from "@deltagrad/optim";

export interface OptimizerCase {
  name: string;
  kind: "optimizer";
  optimizer: "SGD" | "Adagrad" | "RMSprop" | "Adam" | "AdamW";
  options: Record<string, unknown>;
  all_options: Record<string, unknown>;
  T: number;
  p0: number[];
  grads: number[][];
  params: number[][];
}

export interface SchedulerCase {
  name: string;
  kind: "scheduler";
  scheduler: "StepLR" | "CosineAnnealingLR";
  options: Record<string, number>;
  base_lr: number;
  T: number;
  lrs: number[];
}

export interface Fixture {
  generator: string;
  notes: string;
  cases: (OptimizerCase | SchedulerCase)[];
}

export const fixture: Fixture = JSON.parse(readFileSync(fileURLToPath(new URL("./fixtures/optim.json", import.meta.url)), "utf8"));

/** PyTorch's snake_case option names to ours (T_max is the one that isn't plain snake case). */
export function camelOptions(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    const key = k === "T_max" ? "tMax" : k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    out[key] = v;
  }
  return out;
}

export const OPTIMIZERS = { SGD, Adagrad, RMSprop, Adam, AdamW, NAdam } as const;
export type OptimizerName = keyof typeof OPTIMIZERS;

export function makeOptimizer(name: OptimizerName, params: Params, options: Record<string, unknown>): Optimizer {
  const Ctor = OPTIMIZERS[name] as unknown as new (p: Params, o: Record<string, unknown>) => Optimizer;
  return new Ctor(params, options);
}

/** |actual − expected| ≤ rtol·|expected| elementwise, reporting the worst element. */
export function expectRelClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, label = ""): void {
  expect(actual.length, `${label} length`).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const err = Math.abs(actual[i]! - e) / Math.abs(e);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `${label}: worst relative error at [${at}]: ${actual[at]} vs ${expected[at]}`).toBeLessThanOrEqual(rtol);
}
