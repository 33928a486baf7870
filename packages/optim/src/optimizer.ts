import { fail, fmt } from "./checks.js";
import { DeltagradError, compileHostRegion, enableGrad, isFloat, isTracing, noGrad, scoped, Tensor, zeros, fmtShape } from "@deltagrad/autograd";

/** Hyperparameters every optimizer has: the learning rate, which schedulers change. */
export interface Hyperparameters {
  lr: number;
}

/** Per-parameter optimizer state: tensors (moment estimates, buffers) and host numbers (step counts). */
export type ParamState = Record<string, Tensor | number | undefined>;

/** A group of parameters sharing hyperparameters; `lr` (and the rest) may be changed between steps. */
export type ParamGroup<H extends Hyperparameters = Hyperparameters> = H & { params: Tensor[] };

/** A parameter group as given to a constructor: `params` plus any hyperparameters overriding the defaults. */
export type ParamGroupInput<H extends Hyperparameters = Hyperparameters> = Partial<H> & { params: readonly Tensor[] };

/** What optimizers accept: a plain array of parameter tensors, or an array of parameter groups. */
export type Params<H extends Hyperparameters = Hyperparameters> = Iterable<Tensor> | readonly ParamGroupInput<H>[];

/** A JSON-able copy of a parameter group: its hyperparameters and its parameters' indices. */
export type ParamGroupState = Record<string, number | boolean | number[]> & { params: number[] };

/**
 * An optimizer's state as plain data, made to be written to a safetensors file:
 *
 * - `type`: the optimizer's class name (`"Adam"`); loading into another class throws.
 * - `paramGroups`: one entry per group: its hyperparameters (the camelCase option names, e.g.
 *   `{ lr, betas: [0.9, 0.999], eps, weightDecay, amsgrad, maximize }`) and `params`, the indices of
 *   its parameters. Indices number the parameters of all groups in order (group 0 first), as PyTorch.
 * - `tensors`: the state tensors, flat, keyed `state.<index>.<name>` with PyTorch's state names
 *   (`state.0.exp_avg`, `state.0.exp_avg_sq`, `state.3.momentum_buffer`, …); each has its parameter's
 *   shape and dtype. A parameter that has never been stepped has no entries.
 * - `scalars`: per-parameter host numbers keyed the same way (`state.0.step`, NAdam's `state.0.mu_product`).
 *
 * `type`, `paramGroups` and `scalars` are JSON-able (a checkpoint puts them in the safetensors
 * metadata); `tensors` are the file's tensors. The tensors are snapshots: stepping the optimizer
 * later does not change a dict already taken.
 */
export interface OptimizerStateDict {
  type: string;
  paramGroups: ParamGroupState[];
  tensors: Record<string, Tensor>;
  scalars: Record<string, number>;
}

/** Which state entries a parameter has once it has been stepped, given its group's hyperparameters. */
export interface StateSpec {
  tensors: readonly string[];
  scalars: readonly string[];
}

/** The result of a pure update function: the parameter's new value and its new state. */
export interface UpdateResult<S> {
  param: Tensor;
  state: S;
}

/** Options of {@link Optimizer.zeroGrad}. */
export interface ZeroGradOptions {
  /** Set `.grad` to null (default, as PyTorch ≥ 2.0) rather than to a tensor of zeros. */
  setToNone?: boolean;
}

const STATE_KEY = /^state\.(\d+)\.([A-Za-z_][A-Za-z0-9_]*)$/;

/**
 * The base of every optimizer: parameter groups, `step()`, `zeroGrad()`, `stateDict()` /
 * `loadStateDict()`. A subclass supplies its defaults, a validator for one group's
 * hyperparameters, the names of its state entries, and a pure update function
 * `(param, grad, state, hyperparameters) → { param, state }` built from tensor ops.
 *
 * `step()` runs under `noGrad`, skips parameters whose `.grad` is null, computes every new value
 * first and only then writes them with `p.assign(value)`, so a parameter keeps its identity and
 * an error part-way leaves every parameter and all state unchanged.
 *
 * @example
 * ```ts
 * const w = tensor([1, 2], { requiresGrad: true });
 * const opt = new SGD([w], { lr: 0.1 });
 * w.mul(w).sum().backward();
 * opt.step();         // w = [0.8, 1.6]
 * opt.zeroGrad();     // w.grad = null
 * ```
 */
export abstract class Optimizer<H extends Hyperparameters = Hyperparameters, S extends ParamState = ParamState> {
  /** The parameter groups; change `paramGroups[i].lr` (or any hyperparameter) between steps. */
  readonly paramGroups: ParamGroup<H>[];
  /** Per-parameter state, created at a parameter's first step. */
  readonly state = new Map<Tensor, S>();
  /** The hyperparameters a group gets where it does not set its own. */
  readonly defaults: Readonly<H>;
  /** The class name, used in error messages and in {@link OptimizerStateDict.type}. */
  readonly name: string;

  /**
   * @param name the optimizer's name for messages (`"Adam"`)
   * @param params parameter tensors or parameter groups
   * @param defaults every hyperparameter with its value for groups that don't override it
   */
  protected constructor(name: string, params: Params<H>, defaults: H) {
    this.name = name;
    this.validate(defaults);
    this.defaults = Object.freeze({ ...defaults });
    this.paramGroups = [];
    const groups = this.normalizeGroups(params);
    const seen = new Set<Tensor>();
    const built = groups.map((g, gi) => this.buildGroup(g, gi, seen));
    this.paramGroups.push(...built);
  }

  /** Throws a {@link DeltagradError} naming the option unless `hp` is a valid set of hyperparameters. */
  protected abstract validate(hp: H): void;

  /** The state entries a parameter of a group with hyperparameters `hp` has after its first step. */
  protected abstract stateSpec(hp: H): StateSpec;

  /** The algorithm: a pure function of the parameter value, its gradient, its state (undefined before the first step) and the hyperparameters. */
  protected abstract update(param: Tensor, grad: Tensor, state: S | undefined, hp: H): UpdateResult<S>;

  private normalizeGroups(params: Params<H>): ParamGroupInput<H>[] {
    if (params === null || typeof params !== "object" || typeof (params as Iterable<unknown>)[Symbol.iterator] !== "function") {
      fail(this.name, `params must be an array of tensors or of parameter groups, got ${fmt(params)}`);
    }
    const items = Array.from(params as Iterable<unknown>);
    if (items.length === 0) fail(this.name, "got an empty parameter list");
    if (items.every((x) => x instanceof Tensor)) return [{ params: items as Tensor[] } as unknown as ParamGroupInput<H>];
    if (items.some((x) => x instanceof Tensor)) fail(this.name, "params mixes tensors and parameter groups");
    return items as ParamGroupInput<H>[];
  }

  private buildGroup(input: ParamGroupInput<H>, gi: number, seen: Set<Tensor>): ParamGroup<H> {
    const where = `param group ${gi}`;
    if (input === null || typeof input !== "object") fail(this.name, `${where} must be an object { params, … }, got ${fmt(input)}`);
    const { params, ...overrides } = input as ParamGroupInput<H>;
    for (const key of Object.keys(overrides)) {
      if (!(key in this.defaults)) {
        fail(this.name, `${where}: unknown option "${key}" (expected one of ${Object.keys(this.defaults).join(", ")})`);
      }
    }
    if (params === null || typeof params !== "object" || typeof (params as Iterable<unknown>)[Symbol.iterator] !== "function") {
      fail(this.name, `${where}: params must be an array of tensors, got ${fmt(params)}`);
    }
    const list = Array.from(params as Iterable<unknown>);
    list.forEach((p, i) => {
      if (!(p instanceof Tensor)) fail(this.name, `${where}: params[${i}] is not a Tensor (got ${fmt(p)})`);
      if (!isFloat(p.dtype)) fail(this.name, `${where}: params[${i}] has dtype ${p.dtype}; only float32 and float64 tensors can be optimized`);
      if (!p.isLeaf) fail(this.name, `${where}: params[${i}] was produced by ${p.gradFn}; only leaf tensors can be optimized`);
      if (seen.has(p)) fail(this.name, `${where}: params[${i}] appears more than once among the parameters`);
      seen.add(p);
    });
    const hp = { ...this.defaults, ...copyHyper(overrides) } as H;
    this.validate(hp);
    return { ...hp, params: list as Tensor[] };
  }

  /**
   * Adds a parameter group (e.g. layers unfrozen during fine-tuning); unset hyperparameters take
   * the defaults. Nothing changes if the group is invalid.
   *
   * @example
   * ```ts
   * opt.addParamGroup({ params: [head.weight], lr: 1e-2 });
   * ```
   */
  addParamGroup(group: ParamGroupInput<H>): void {
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    this.paramGroups.push(this.buildGroup(group, this.paramGroups.length, seen));
  }

  /** The hyperparameters of a group, without its params. */
  private hyper(group: ParamGroup<H>): H {
    const { params: _params, ...hp } = group;
    return hp as unknown as H;
  }

  /**
   * One optimization step over every parameter whose `.grad` is set. If `closure` is given it is
   * called first (with gradients enabled) to recompute the loss, and its result is returned.
   *
   * @example
   * ```ts
   * const loss = lossFn(); loss.backward();
   * opt.step();
   * ```
   */
  step<T = undefined>(closure?: () => T): T | undefined {
    const result = closure ? enableGrad(closure) : undefined;
    // Every temporary of the update is released when the scope closes; only the new values and
    // the new state (the scope's result) survive it.
    const updates = scoped(() =>
      noGrad(() => {
        const out: [Tensor, Tensor, S][] = [];
        this.paramGroups.forEach((group, gi) => {
          const hp = this.hyper(group);
          this.validate(hp);
          for (const p of group.params) {
            const g = p.peekGrad();
            if (g === null) continue;
            if (g.shape.length !== p.shape.length || g.shape.some((d, i) => d !== p.shape[i])) {
              fail(this.name, `param group ${gi}: gradient of shape ${fmtShape(g.shape)} does not match its parameter's shape ${fmtShape(p.shape)}`);
            }
            // Inside compile(), the update is a host region: its host numbers (lr, step, bias
            // corrections) are recomputed before every replay rather than frozen into the trace.
            const prev = this.state.get(p);
            const snapshot = prev === undefined || !isTracing() ? undefined : { ...prev };
            const { param, state } = compileHostRegion(
              [p, g],
              () => {
                const grad = g.dtype === p.dtype ? g.detach() : g.detach().cast(p.dtype);
                // Detached views: the update never aliases a user-visible tensor object, so a later
                // assign() on p or p.grad cannot reach into the optimizer's state.
                return this.update(p.detach(), grad, prev, hp);
              },
              (placeholder) => this.replayHost(p, gi, prev, snapshot, placeholder),
              () => this.hostKey(p, gi, prev, snapshot),
            );
            out.push([p, param, state]);
          }
        });
        return out;
      }),
    );
    const tracing = isTracing();
    for (const [p, value, state] of updates) {
      p.assign(value);
      if (value !== p) value.dispose(); // p now holds its own reference to the storage
      const old = this.state.get(p);
      if (tracing && old) {
        // compile(): state tensors keep their identity (updated in place, replayed as writes).
        const written = new Set<Tensor>();
        for (const [k, v] of Object.entries(state)) {
          const o = (old as ParamState)[k];
          // An entry sharing its tensor with one already written (AMSGrad's first max_exp_avg_sq is
          // exp_avg_sq) takes the new tensor instead: the next call then traces with them apart.
          if (v instanceof Tensor && o instanceof Tensor && o !== v && !written.has(o)) {
            o.assign(v);
            written.add(o);
          } else (old as ParamState)[k] = v;
        }
        // The new tensors whose values were copied in place are dropped (unless an entry kept one).
        const held = new Set(Object.values(old as ParamState));
        for (const v of new Set(Object.values(state))) if (v instanceof Tensor && !held.has(v)) v.dispose();
        continue;
      }
      this.state.set(p, state);
      // The replaced state tensors were only ever the optimizer's (stateDict hands out detached copies).
      if (old) for (const v of Object.values(old)) if (v instanceof Tensor && !Object.values(state).includes(v)) v.dispose();
    }
    return result;
  }

  /**
   * @internal compile(): reruns the host half of `p`'s traced update on placeholders (so the
   * replay gets this call's lr, step and bias corrections) and returns how to commit the new host
   * numbers, or null when the trace no longer fits (state created or replaced since).
   */
  private replayHost(p: Tensor, gi: number, traced: S | undefined, snapshot: S | undefined, placeholder: (like: Tensor) => Tensor): (() => void) | null {
    const now = this.state.get(p);
    const group = this.paramGroups[gi];
    if (!this.replayable(p, gi, traced, snapshot)) return null;
    const hp = this.hyper(group!);
    this.validate(hp);
    const ph = Object.fromEntries(Object.entries(now!).map(([k, v]) => [k, v instanceof Tensor ? placeholder(v) : v])) as S;
    const { state } = this.update(placeholder(p), placeholder(p), ph, hp);
    return () => {
      for (const [k, v] of Object.entries(state)) if (!(v instanceof Tensor)) (now as ParamState)[k] = v;
    };
  }

  /** Whether the traced update still fits `p`: in its group, the same state object holding the same tensors. */
  private replayable(p: Tensor, gi: number, traced: S | undefined, snapshot: S | undefined): boolean {
    const now = this.state.get(p);
    const group = this.paramGroups[gi];
    if (group === undefined || !group.params.includes(p)) return false;
    // A trace that created the state is never replayed (the next call traces with it); later ones need the same state object.
    if (traced === undefined || now !== traced) return false;
    // …holding the same tensors (a state entry replaced, e.g. an alias split, needs a new trace).
    for (const [k, v] of Object.entries(snapshot ?? {})) if (v instanceof Tensor && (now as ParamState)[k] !== v) return false;
    return true;
  }

  /**
   * What replayHost's host numbers are a function of — the group's hyperparameters and the state's
   * plain numbers (step counts) — as a string, or null when the update no longer fits (then
   * replayHost runs and says so): compile() reuses the last capture while it is unchanged.
   */
  private hostKey(p: Tensor, gi: number, traced: S | undefined, snapshot: S | undefined): string | null {
    if (!this.replayable(p, gi, traced, snapshot)) return null;
    const numbers = Object.entries(this.state.get(p)!).filter(([, v]) => !(v instanceof Tensor));
    // Numbers as String() writes them (JSON would write NaN and ±Infinity all as null), −0 kept apart.
    return JSON.stringify([this.hyper(this.paramGroups[gi]!), numbers], (_, v: unknown) => (typeof v === "number" ? (Object.is(v, -0) ? "-0" : String(v)) : v));
  }

  /**
   * Clears the gradients of every parameter: to null (default), or to zeros with `{ setToNone: false }`.
   *
   * @example
   * ```ts
   * opt.zeroGrad();                      // p.grad === null
   * opt.zeroGrad({ setToNone: false });  // p.grad is all zeros
   * ```
   */
  zeroGrad({ setToNone = true }: ZeroGradOptions = {}): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const g = p.peekGrad();
        if (g === null) continue;
        p.replaceGrad(setToNone ? null : zeros(g.shape, { dtype: g.dtype }));
      }
    }
  }

  /** Every parameter, in group order: the numbering used by {@link stateDict}. */
  private allParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /**
   * The optimizer's state as plain data; see {@link OptimizerStateDict} for the layout.
   *
   * @example
   * ```ts
   * const sd = opt.stateDict();
   * sd.tensors["state.0.exp_avg"]; // Adam's first moment of parameter 0
   * JSON.stringify({ type: sd.type, paramGroups: sd.paramGroups, scalars: sd.scalars });
   * ```
   */
  stateDict(): OptimizerStateDict {
    const index = new Map(this.allParams().map((p, i) => [p, i]));
    let next = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const ids = g.params.map(() => next++);
      return { ...copyHyper(this.hyper(g) as unknown as Record<string, unknown>), params: ids } as ParamGroupState;
    });
    const tensors: Record<string, Tensor> = {};
    const scalars: Record<string, number> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p)!;
      for (const [k, v] of Object.entries(s)) {
        if (v === undefined) continue;
        if (v instanceof Tensor) tensors[`state.${i}.${k}`] = v.detach();
        else scalars[`state.${i}.${k}`] = v;
      }
    }
    return { type: this.name, paramGroups, tensors, scalars };
  }

  /**
   * Restores state saved by {@link stateDict} (hyperparameters included) onto this optimizer's
   * parameters, matched by position. Everything is checked first — type, group and parameter
   * counts, hyperparameter names and values, state names, shapes and dtypes — and a mismatch
   * throws a {@link DeltagradError} with the optimizer unchanged.
   *
   * @example
   * ```ts
   * const saved = opt.stateDict();
   * const opt2 = new Adam(model.parameters(), { lr: 1e-3 });
   * opt2.loadStateDict(saved);
   * ```
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const name = `${this.name}.loadStateDict`;
    if (sd === null || typeof sd !== "object") fail(name, `expected a state dict object, got ${fmt(sd)}`);
    if (sd.type !== this.name) fail(name, `state dict is for ${fmt(sd.type)}, not ${this.name}`);
    if (!Array.isArray(sd.paramGroups)) fail(name, "paramGroups must be an array");
    if (sd.paramGroups.length !== this.paramGroups.length) {
      fail(name, `state dict has ${sd.paramGroups.length} parameter groups, the optimizer has ${this.paramGroups.length}`);
    }
    if (sd.tensors === null || typeof sd.tensors !== "object") fail(name, "tensors must be an object");
    if (sd.scalars === null || typeof sd.scalars !== "object") fail(name, "scalars must be an object");

    // Saved index → (parameter, its group's loaded hyperparameters).
    const byIndex = new Map<number, { p: Tensor; hp: H }>();
    const newHypers: H[] = [];
    sd.paramGroups.forEach((saved, gi) => {
      const where = `param group ${gi}`;
      if (saved === null || typeof saved !== "object") fail(name, `${where} must be an object`);
      const { params: ids, ...hpSaved } = saved;
      const mine = this.paramGroups[gi]!;
      if (!Array.isArray(ids)) fail(name, `${where}: params must be an array of indices`);
      if (ids.length !== mine.params.length) {
        fail(name, `${where} has ${ids.length} parameters in the state dict, ${mine.params.length} in the optimizer`);
      }
      const expected = Object.keys(this.defaults).sort();
      const got = Object.keys(hpSaved).sort();
      if (expected.join(",") !== got.join(",")) {
        fail(name, `${where}: hyperparameters {${got.join(", ")}} do not match ${this.name}'s {${expected.join(", ")}}`);
      }
      const hp = copyHyper(hpSaved) as unknown as H;
      try {
        this.validate(hp);
      } catch (e) {
        fail(name, `${where}: ${(e as Error).message}`);
      }
      newHypers.push(hp);
      ids.forEach((id, k) => {
        if (!Number.isInteger(id) || id < 0) fail(name, `${where}: parameter index ${fmt(id)} is not a non-negative integer`);
        if (byIndex.has(id)) fail(name, `parameter index ${id} appears twice`);
        byIndex.set(id, { p: mine.params[k]!, hp });
      });
    });

    const newState = new Map<Tensor, Record<string, Tensor | number>>();
    const entry = (key: string): { i: number; field: string; p: Tensor; spec: StateSpec; st: Record<string, Tensor | number> } => {
      const m = STATE_KEY.exec(key);
      if (!m) fail(name, `bad state key "${key}" (expected state.<index>.<name>)`);
      const i = Number(m[1]);
      const target = byIndex.get(i);
      if (!target) fail(name, `state key "${key}" refers to parameter ${i}, which no group lists`);
      let st = newState.get(target.p);
      if (!st) newState.set(target.p, (st = {}));
      return { i, field: m[2]!, p: target.p, spec: this.stateSpec(target.hp), st };
    };
    for (const [key, t] of Object.entries(sd.tensors)) {
      const { field, p, spec, st } = entry(key);
      if (!spec.tensors.includes(field)) fail(name, `unexpected state tensor "${key}" (${this.name} with these hyperparameters keeps ${spec.tensors.join(", ") || "no tensors"})`);
      if (!(t instanceof Tensor)) fail(name, `"${key}" is not a Tensor (got ${fmt(t)})`);
      if (t.shape.length !== p.shape.length || t.shape.some((d, j) => d !== p.shape[j])) {
        fail(name, `"${key}" has shape ${fmtShape(t.shape)}, its parameter ${fmtShape(p.shape)}`);
      }
      if (t.dtype !== p.dtype) fail(name, `"${key}" has dtype ${t.dtype}, its parameter ${p.dtype}`);
      st[field] = t.detach();
    }
    for (const [key, v] of Object.entries(sd.scalars)) {
      const { field, spec, st } = entry(key);
      if (!spec.scalars.includes(field)) fail(name, `unexpected state scalar "${key}" (${this.name} with these hyperparameters keeps ${spec.scalars.join(", ") || "no scalars"})`);
      if (typeof v !== "number" || !Number.isFinite(v)) fail(name, `"${key}" must be a finite number, got ${fmt(v)}`);
      if (field === "step" && (!Number.isInteger(v) || v < 0)) fail(name, `"${key}" must be a non-negative integer, got ${v}`);
      st[field] = v;
    }
    for (const [p, st] of newState) {
      const { hp } = [...byIndex.values()].find((e) => e.p === p)!;
      const spec = this.stateSpec(hp);
      const missing = [...spec.tensors, ...spec.scalars].filter((k) => !(k in st));
      if (missing.length > 0) {
        const i = [...byIndex.entries()].find(([, e]) => e.p === p)![0];
        fail(name, `state of parameter ${i} lacks ${missing.map((k) => `"state.${i}.${k}"`).join(", ")}`);
      }
    }

    // Everything checked: commit.
    this.paramGroups.forEach((g, gi) => Object.assign(g, newHypers[gi]));
    this.state.clear();
    for (const [p, st] of newState) this.state.set(p, st as S);
  }
}

/** A copy of hyperparameters deep enough that arrays (betas) are not shared. */
function copyHyper(hp: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(hp)) out[k] = Array.isArray(v) ? v.slice() : v;
  return out;
}
