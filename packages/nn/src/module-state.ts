/**
 * The state-dict half of `Module`: validating a state dict against a model before anything is
 * written (`loadStateDict`). Module keeps its entries private and hands them in, so this file
 * needs no access to its internals.
 */
import { DeltagradError, Tensor, cast, fmtShape, isFloat, noGrad, type DType } from "@deltagrad/autograd";
import type { AnyModule } from "./module.js";
import { parameter } from "./parameter.js";

/** Options of {@link Module.registerBuffer}. */
export interface RegisterBufferOptions {
  /** Whether the buffer is part of `stateDict()` (and so of checkpoints). Default true. */
  persistent?: boolean;
}

export interface LoadStateDictOptions {
  /** Require the keys to match the model's parameter names exactly. Default true. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  /** Parameter and persistent buffer names the state dict did not have (only possible with `strict: false`). */
  missingKeys: string[];
  /** State dict keys the model has no parameter or persistent buffer for (only possible with `strict: false`). */
  unexpectedKeys: string[];
}

/**
 * @internal Checks every key, shape and dtype of `sd` against the model's state entries and
 * throws one {@link DeltagradError} listing all problems; otherwise copies the values in (with
 * `assign`, so optimizers keep their tensors). Nothing is written unless everything checks.
 */
export function loadStateEntries(where: string, entries: [string, Tensor][], sd: Record<string, Tensor>, strict: boolean): LoadStateDictResult {
  if (typeof sd !== "object" || sd === null || Array.isArray(sd)) {
    throw new DeltagradError(`${where}: expected a record of tensors by name, got ${sd === null ? "null" : Array.isArray(sd) ? "an array" : typeof sd}`);
  }
  const names = new Set(entries.map(([n]) => n));
  const problems: string[] = [];
  const missingKeys: string[] = [];
  const plan: [Tensor, Tensor][] = [];
  for (const [name, p] of entries) {
    if (!Object.prototype.hasOwnProperty.call(sd, name)) {
      missingKeys.push(name);
      continue;
    }
    const v = sd[name];
    if (!(v instanceof Tensor)) {
      problems.push(`"${name}" is not a Tensor (got ${v === null ? "null" : typeof v})`);
    } else if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
      problems.push(`"${name}" has shape ${fmtShape(v.shape)} in the state dict but ${fmtShape(p.shape)} in the model`);
    } else if (v.dtype !== p.dtype) {
      problems.push(`"${name}" has dtype ${v.dtype} in the state dict but ${p.dtype} in the model`);
    } else plan.push([p, v]);
  }
  const unexpectedKeys = Object.keys(sd).filter((k) => !names.has(k));
  if (strict) {
    if (missingKeys.length) problems.push(`missing keys: ${missingKeys.map((k) => `"${k}"`).join(", ")}`);
    if (unexpectedKeys.length) problems.push(`unexpected keys: ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}`);
  }
  if (problems.length) throw new DeltagradError(`${where}: ${problems.join("; ")} (the model was not changed)`);
  noGrad(() => {
    for (const [p, v] of plan) p.assign(v);
  });
  return { missingKeys, unexpectedKeys };
}

/** One direct entry of a module: a child module or a parameter, with a way to rebind it. */
export interface Entry {
  name: string;
  value: AnyModule | Tensor;
  set(v: AnyModule | Tensor): void;
}

/** A registered buffer: a tensor (or null: declared but unset) and whether `stateDict` carries it. */
export interface Buffer {
  t: Tensor | null;
  persistent: boolean;
}

/** @internal A module's private entries and buffers, handed over by `Module` itself. */
export type ModuleParts = (m: AnyModule) => { entries: Entry[]; buffers: Map<string, Buffer> };

/**
 * @internal The body of `Module.to`: rebinds every parameter of `modules` to a new leaf of
 * `dtype` (keeping `requiresGrad` and the name) and converts every float buffer. A tensor shared
 * by several modules is converted once and stays shared.
 */
export function convertModules(modules: AnyModule[], dtype: DType, parts: ModuleParts): void {
  const converted = new Map<Tensor, Tensor>();
  for (const m of modules) {
    const { entries, buffers } = parts(m);
    for (const e of entries) {
      const p = e.value;
      if (!(p instanceof Tensor) || p.dtype === dtype) continue;
      let q = converted.get(p);
      if (!q) {
        const rg = p.requiresGrad;
        q = parameter(noGrad(() => cast(p.detach(), dtype)));
        q.requiresGrad = rg;
        if (p.name !== undefined) q.name = p.name;
        converted.set(p, q);
      }
      e.set(q);
    }
    for (const [name, b] of buffers) {
      const t = b.t;
      if (t === null || !isFloat(t.dtype) || t.dtype === dtype) continue;
      let q = converted.get(t);
      if (!q) {
        q = noGrad(() => cast(t.detach(), dtype));
        if (t.name !== undefined) q.name = t.name;
        converted.set(t, q);
      }
      buffers.set(name, { t: q, persistent: b.persistent });
    }
  }
}

/**
 * @internal Tensors of a module tree under dotted names (`prefix.name`), each tensor once under
 * its first name: `own(m)` lists one module's tensors, `modules` comes from `namedModules()`.
 */
export function qualifiedTensors(modules: [string, AnyModule][], own: (m: AnyModule) => [string, Tensor][]): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  const seen = new Set<Tensor>();
  for (const [prefix, m] of modules) {
    for (const [n, t] of own(m)) {
      if (seen.has(t)) continue;
      seen.add(t);
      out.push([prefix ? `${prefix}.${n}` : n, t]);
    }
  }
  return out;
}
