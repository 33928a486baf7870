import { optionsOf } from "./options.js";
import { DeltagradError, Tensor, cast, escapeXml, isFloat, mul, noGrad, scoped, sum, zeros, type DType } from "@deltagrad/autograd";
import { loadModel, saveModel } from "./checkpoint.js";

/**
 * Tensors that are parameters. A tensor becomes one when a module registers it
 * ({@link Module.registerParameter}), when a layer creates it with {@link parameter}, or when
 * discovery first finds it as a float leaf with `requiresGrad`. Membership outlives
 * `requiresGrad = false`, so a frozen weight stays in `parameters()` and `stateDict()`.
 */
const PARAMETERS = new WeakSet<Tensor>();

/**
 * Marks a float leaf tensor as a module parameter and turns on its gradient tracking. Modules
 * find parameters among their own fields, so `this.weight = parameter(t)` is all a layer needs.
 *
 * @example
 * ```ts
 * class Scale extends Module {
 *   readonly s = parameter(ones([1]));
 *   forward(x: Tensor) { return x.mul(this.s); }
 * }
 * new Scale().numParameters(); // 1
 * ```
 */
export function parameter(t: Tensor): Tensor {
  if (!(t instanceof Tensor)) throw new DeltagradError(`parameter: expected a Tensor, got ${typeof t}`);
  if (!isFloat(t.dtype)) throw new DeltagradError(`parameter: parameters must be float32 or float64, got ${t.dtype}`);
  if (!t.isLeaf) throw new DeltagradError(`parameter: a parameter must be a leaf tensor (this one was produced by ${t.gradFn}); use detach() first`);
  t.requiresGrad = true;
  PARAMETERS.add(t);
  return t;
}

function isParameter(v: unknown): v is Tensor {
  if (!(v instanceof Tensor)) return false;
  if (PARAMETERS.has(v)) return true;
  if (v.isLeaf && v.requiresGrad && isFloat(v.dtype)) {
    PARAMETERS.add(v);
    return true;
  }
  return false;
}

/**
 * A module of any signature: what containers, `children()` and `modules()` hold. `Module` alone
 * means `Module<[Tensor], Tensor>` (one tensor in, one out), which an LSTM is not.
 *
 * @example
 * ```ts
 * const all: AnyModule[] = [new Linear(2, 2), new LSTM(2, 4)];
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModule = Module<any, any>;

/** One direct entry of a module: a child module or a parameter, with a way to rebind it. */
interface Entry {
  name: string;
  value: AnyModule | Tensor;
  set(v: AnyModule | Tensor): void;
}

/** Options of {@link Module.registerBuffer}. */
export interface RegisterBufferOptions {
  /** Whether the buffer is part of `stateDict()` (and so of checkpoints). Default true. */
  persistent?: boolean;
}

/** A registered buffer: a tensor (or null: declared but unset) and whether `stateDict` carries it. */
interface Buffer {
  t: Tensor | null;
  persistent: boolean;
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

const fmtShape = (s: readonly number[]) => `[${s.join(",")}]`;

/**
 * Formats an integer with thousands separators (1238730 → "1,238,730"), independent of locale.
 *
 * @example
 * ```ts
 * formatCount(1238730); // "1,238,730"
 * ```
 */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * Base class of every layer and model, like PyTorch's `nn.Module`.
 *
 * **Registration is automatic.** A module's children and parameters are its own fields, found
 * in declaration (insertion) order: a field holding a `Module` is a child, an array of modules
 * gives children `name.0`, `name.1`, …, and a field holding a parameter tensor (see
 * {@link parameter}; any float leaf with `requiresGrad` counts) is a parameter, as is an
 * array of them. Entries added with {@link Module.registerModule} / {@link Module.registerParameter}
 * (for computed names, as in `Sequential`) follow the fields, in registration order. A module
 * or tensor reachable twice is listed once, under its first name.
 *
 * @example
 * ```ts
 * class TwoLayer extends Module {
 *   readonly fc1 = new Linear(4, 8);
 *   readonly fc2 = new Linear(8, 3);
 *   forward(x: Tensor) { return this.fc2.call(relu(this.fc1.call(x))); }
 * }
 * const net = new TwoLayer();
 * net.namedParameters().map(([n]) => n); // ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
 * net.call(randn([2, 4])).shape;          // [2, 3]
 * ```
 */
const BUILT_IN = new WeakSet<object>();

/**
 * @internal Declares library module classes whose `forward` keeps no tensor it creates other than
 * its result, so that {@link Module.call} may release the rest. Exact classes only: a subclass
 * written by a user is not covered.
 *
 * @example
 * ```ts
 * builtInModules(Linear, ReLU); // (done by the library for its own classes)
 * ```
 */
export function builtInModules(...classes: (abstract new (...args: never[]) => AnyModule)[]): void {
  for (const c of classes) BUILT_IN.add(c);
}

export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  /** True in training mode (the default), false after {@link Module.eval}. Dropout and BatchNorm read it. */
  training = true;
  readonly #registered = new Map<string, AnyModule | Tensor>();
  readonly #buffers = new Map<string, Buffer>();

  /**
   * The computation. Subclasses implement it; callers use {@link Module.call} or this. It takes
   * any inputs (`In`, by default one tensor) and returns any output (`Out`, by default a tensor),
   * e.g. an LSTM's `forward(x, state?)` returning `[output, [h, c]]`.
   */
  abstract forward(...inputs: In): Out;

  /**
   * Runs {@link Module.forward}. For the library's own modules (and containers holding only
   * those) it runs inside a lifetime scope, so the forward's intermediates are released as soon
   * as nothing needs them (after backward, or at once under `noGrad`) instead of waiting for the
   * backend to reclaim them; every tensor reachable from the result (a tensor, or arrays, tuples
   * and plain objects of them) is kept. A module of your own runs as written.
   *
   * @example `model.call(x)`; `lstm.call(x, [h0, c0])`
   */
  call(...inputs: In): Out {
    return this.#builtIn() ? scoped(() => this.forward(...inputs)) : this.forward(...inputs);
  }

  /**
   * Whether this module and all its descendants are library classes (whose forwards keep no
   * tensor they make). Children held in fields count as well as registered ones: a user's module
   * inside a built-in container must run as written.
   */
  #builtIn(): boolean {
    if (!BUILT_IN.has(this.constructor)) return false;
    for (const m of this.#registered.values()) if (m instanceof Module && !m.#builtIn()) return false;
    const self = this as unknown as Record<string, unknown>;
    for (const key of Object.keys(this)) {
      const v = self[key];
      if (v instanceof Module) {
        if (!v.#builtIn()) return false;
      } else if (Array.isArray(v)) {
        for (const e of v) if (e instanceof Module && !e.#builtIn()) return false;
      }
    }
    return true;
  }

  /**
   * Adds a child under a computed name (field-free registration; `Sequential` uses it).
   *
   * @example
   * ```ts
   * this.registerModule("0", new Linear(2, 2));
   * ```
   */
  registerModule<M extends AnyModule>(name: string, module: M): M {
    this.#checkName("registerModule", name);
    if (this.#buffers.has(name)) throw new DeltagradError(`registerModule: "${name}" is already a buffer of ${this.constructor.name}`);
    if (!(module instanceof Module)) throw new DeltagradError(`registerModule: "${name}" must be a Module, got ${typeof module}`);
    this.#registered.set(name, module);
    return module;
  }

  /**
   * Adds a parameter under a computed name (it is marked with {@link parameter}).
   *
   * @example
   * ```ts
   * this.registerParameter("scale", ones([1]));
   * ```
   */
  registerParameter(name: string, t: Tensor): Tensor {
    this.#checkName("registerParameter", name);
    if (this.#buffers.has(name)) throw new DeltagradError(`registerParameter: "${name}" is already a buffer of ${this.constructor.name}`);
    this.#registered.set(name, parameter(t));
    return t;
  }

  /**
   * Adds (or replaces) a buffer: state that is not a parameter, such as BatchNorm's running
   * statistics. Buffers never require gradients and never appear in `parameters()`; they move
   * with {@link Module.to} (float buffers only: an integer buffer such as `num_batches_tracked`
   * stays integer) and, when `persistent` (default), are part of {@link Module.stateDict},
   * {@link Module.loadStateDict} and checkpoints. `null` declares a buffer that is unset (PyTorch's
   * `None`), which `stateDict` skips. Read it back with {@link Module.getBuffer}.
   *
   * @example
   * ```ts
   * class Counter extends Module {
   *   constructor() { super(); this.registerBuffer("count", zeros([], { dtype: "int32" })); }
   *   forward(x: Tensor) { return x; }
   * }
   * Object.keys(new Counter().stateDict()); // ["count"]
   * ```
   */
  registerBuffer(name: string, t: Tensor | null, options?: RegisterBufferOptions): Tensor | null {
    const { persistent = true } = optionsOf("registerBuffer", options);
    if (!this.#buffers.has(name)) {
      this.#checkName("registerBuffer", name);
      if (this.#registered.has(name)) throw new DeltagradError(`registerBuffer: "${name}" is already a parameter or child module of ${this.constructor.name}`);
    }
    if (t !== null && !(t instanceof Tensor)) throw new DeltagradError(`registerBuffer: "${name}" must be a Tensor or null, got ${typeof t}`);
    if (t !== null && (t.requiresGrad || PARAMETERS.has(t))) {
      throw new DeltagradError(`registerBuffer: "${name}" is a parameter or requires gradients; a buffer never gets gradients (pass t.detach())`);
    }
    this.#buffers.set(name, { t, persistent: !!persistent });
    return t;
  }

  /**
   * This module's own buffer by name (null when registered as null).
   *
   * @example
   * ```ts
   * new BatchNorm1d(3).getBuffer("running_mean")!.shape; // [3]
   * ```
   */
  getBuffer(name: string): Tensor | null {
    const b = this.#buffers.get(name);
    if (!b) throw new DeltagradError(`getBuffer: ${this.constructor.name} has no buffer "${name}"${this.#buffers.size ? ` (it has ${[...this.#buffers.keys()].map((k) => `"${k}"`).join(", ")})` : ""}`);
    return b.t;
  }

  /** Own non-null buffers with their names and persistence. */
  #ownBuffers(): [string, Tensor, boolean][] {
    const out: [string, Tensor, boolean][] = [];
    for (const [n, b] of this.#buffers) if (b.t !== null) out.push([n, b.t, b.persistent]);
    return out;
  }

  /**
   * Every non-null buffer with its dotted path, each tensor once, in the order of
   * {@link Module.namedModules} (PyTorch's `named_buffers`).
   *
   * @example
   * ```ts
   * new Sequential(new Linear(2, 3), new BatchNorm1d(3)).namedBuffers().map(([n]) => n);
   * // ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
   * ```
   */
  namedBuffers(): [string, Tensor][] {
    return this.#namedBuffers(false);
  }

  #namedBuffers(persistentOnly: boolean): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, b, persistent] of m.#ownBuffers()) {
        if (seen.has(b) || (persistentOnly && !persistent)) continue;
        seen.add(b);
        out.push([prefix ? `${prefix}.${n}` : n, b]);
      }
    }
    return out;
  }

  /** Every non-null buffer, each once. @example `model.buffers().length` */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }

  /**
   * Turns gradient tracking of every parameter on or off (`false` freezes the module: backward
   * leaves the parameters' `.grad` null, and optimizers skip parameters without a gradient).
   * Frozen parameters stay parameters: they are still in `parameters()` and `stateDict()`.
   *
   * @example
   * ```ts
   * backbone.setRequiresGrad(false); // fine-tune only the head
   * ```
   */
  setRequiresGrad(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = !!requiresGrad;
    return this;
  }

  #checkName(op: string, name: string): void {
    if (typeof name !== "string" || name === "" || name.includes(".")) {
      throw new DeltagradError(`${op}: a name must be a non-empty string without ".", got ${JSON.stringify(name)}`);
    }
    if (Object.prototype.hasOwnProperty.call(this, name)) throw new DeltagradError(`${op}: "${name}" is already a field of ${this.constructor.name}`);
  }

  /** Direct children and parameters in registration order. */
  #entries(): Entry[] {
    const out: Entry[] = [];
    const self = this as unknown as Record<string, unknown>;
    for (const key of Object.keys(this)) {
      const v = self[key];
      if (v instanceof Module || isParameter(v)) {
        out.push({ name: key, value: v, set: (nv) => (self[key] = nv) });
      } else if (Array.isArray(v)) {
        v.forEach((e: unknown, i: number) => {
          if (e instanceof Module || isParameter(e)) out.push({ name: `${key}.${i}`, value: e, set: (nv) => (v[i] = nv) });
        });
      }
    }
    for (const [name, v] of this.#registered) out.push({ name, value: v, set: (nv) => this.#registered.set(name, nv) });
    return out;
  }

  /** Direct children with their names. @example `seq.namedChildren().map(([n]) => n) // ["0", "1"]` */
  namedChildren(): [string, AnyModule][] {
    return this.#entries().flatMap((e) => (e.value instanceof Module ? [[e.name, e.value] as [string, AnyModule]] : []));
  }

  /** Direct children. @example `model.children().length` */
  children(): AnyModule[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /**
   * This module and every descendant, pre-order, with dotted names ("" for this one). Each module
   * appears once, under its first name.
   *
   * @example
   * ```ts
   * new MLP([2, 3, 1]).namedModules().map(([n]) => n); // ["", "layers", "layers.0", "layers.1", "layers.2"]
   * ```
   */
  namedModules(): [string, AnyModule][] {
    const out: [string, AnyModule][] = [];
    const seen = new Set<AnyModule>();
    const stack: [string, AnyModule][] = [["", this]];
    while (stack.length) {
      const [name, m] = stack.pop()!;
      if (seen.has(m)) continue;
      seen.add(m);
      out.push([name, m]);
      const kids = m.namedChildren();
      for (let i = kids.length - 1; i >= 0; i--) stack.push([name ? `${name}.${kids[i]![0]}` : kids[i]![0], kids[i]![1]]);
    }
    return out;
  }

  /** This module and every descendant, pre-order. @example `model.modules().length` */
  modules(): AnyModule[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Parameters held directly by this module (not by its children), with their names. */
  namedOwnParameters(): [string, Tensor][] {
    return this.#entries().flatMap((e) => (e.value instanceof Tensor ? [[e.name, e.value] as [string, Tensor]] : []));
  }

  /**
   * Every parameter with its dotted path, each tensor once: modules depth-first (pre-order),
   * each module's own parameters before its children's, as PyTorch's `named_parameters`.
   *
   * @example
   * ```ts
   * new MLP([2, 3, 1]).namedParameters().map(([n, p]) => `${n} [${p.shape}]`);
   * // ["layers.0.weight [2,3]", "layers.0.bias [3]", "layers.2.weight [3,1]", "layers.2.bias [1]"]
   * ```
   */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, p] of m.namedOwnParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([prefix ? `${prefix}.${n}` : n, p]);
      }
    }
    return out;
  }

  /** Every parameter, each once (what an optimizer takes). @example `new Adam(model.parameters())` */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Total number of parameter elements. @example `new Linear(3, 2).numParameters() // 8` */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /**
   * Sets training mode on this module and all descendants (Dropout is active only in training).
   *
   * @example
   * ```ts
   * model.train(); model.training; // true
   * ```
   */
  train(mode = true): this {
    for (const m of this.modules()) m.training = !!mode;
    return this;
  }

  /** Evaluation mode: `train(false)`. @example `model.eval(); model.call(x)` */
  eval(): this {
    return this.train(false);
  }

  /** Clears every parameter's `.grad` (sets it to null). @example `model.zeroGrad()` */
  zeroGrad(): void {
    for (const p of this.parameters()) p._setGrad(null);
  }

  /**
   * Calls `fn` on every descendant and then on this module (children first, as PyTorch), and
   * returns this module. Handy for custom initialization.
   *
   * @example
   * ```ts
   * model.apply((m) => { if (m instanceof Linear) init.zeros(m.bias!); });
   * ```
   */
  apply(fn: (m: AnyModule) => void): this {
    for (const m of this.modules().reverse()) fn(m);
    return this;
  }

  /**
   * Converts every parameter and every float buffer to a float dtype (integer buffers such as
   * BatchNorm's `num_batches_tracked` stay as they are). Parameters are rebound to new leaf
   * tensors (a tensor's dtype cannot change in place), keeping `requiresGrad` and dropping
   * `.grad`; create optimizers after calling it.
   *
   * @example
   * ```ts
   * const m = new Linear(3, 2).to("float64"); // for gradcheck
   * m.weight.dtype; // "float64"
   * ```
   */
  to(dtype: DType): this {
    if (dtype !== "float32" && dtype !== "float64") throw new DeltagradError(`Module.to: parameters must be float32 or float64, got ${JSON.stringify(dtype)}`);
    const converted = new Map<Tensor, Tensor>();
    for (const m of this.modules()) {
      for (const e of m.#entries()) {
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
      for (const [name, b] of m.#buffers) {
        const t = b.t;
        if (t === null || !isFloat(t.dtype) || t.dtype === dtype) continue;
        let q = converted.get(t);
        if (!q) {
          q = noGrad(() => cast(t.detach(), dtype));
          if (t.name !== undefined) q.name = t.name;
          converted.set(t, q);
        }
        m.#buffers.set(name, { t: q, persistent: b.persistent });
      }
    }
    return this;
  }

  /**
   * A snapshot of every parameter and persistent buffer by dotted name (a null-prototype
   * record), module by module in pre-order, each module's parameters before its buffers (as
   * PyTorch's `state_dict`). The values are detached tensors sharing storage with the
   * parameters; storage is immutable, so later training steps do not change a snapshot.
   *
   * @example
   * ```ts
   * const sd = model.stateDict();
   * Object.keys(sd); // ["layers.0.weight", "layers.0.bias", …]
   * ```
   */
  stateDict(): Record<string, Tensor> {
    const sd: Record<string, Tensor> = Object.create(null);
    for (const [n, t] of this.#stateEntries()) sd[n] = t.detach();
    return sd;
  }

  /** Parameters and persistent buffers by name, in state-dict order, each tensor once. */
  #stateEntries(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      const own: [string, Tensor][] = m.namedOwnParameters();
      for (const [n, b, persistent] of m.#ownBuffers()) if (persistent) own.push([n, b]);
      for (const [n, t] of own) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([prefix ? `${prefix}.${n}` : n, t]);
      }
    }
    return out;
  }

  /**
   * Copies values from a state dict into the parameters and persistent buffers (in place, with
   * `assign`, so optimizers keep working). Every key, shape and dtype is validated **before** any parameter is touched:
   * on any problem it throws one {@link DeltagradError} listing them all and the model is
   * unchanged. Shapes and dtypes must match exactly (convert with {@link Module.to} first).
   * With `strict` (default) missing and unexpected keys are errors too; without it they are
   * skipped and reported in the result.
   *
   * @example
   * ```ts
   * const copy = new MLP([4, 8, 3]);
   * copy.loadStateDict(model.stateDict()); // { missingKeys: [], unexpectedKeys: [] }
   * ```
   */
  loadStateDict(sd: Record<string, Tensor>, options?: LoadStateDictOptions): LoadStateDictResult {
    const { strict = true } = optionsOf("loadStateDict", options);
    const where = `${this.constructor.name}.loadStateDict`;
    if (typeof sd !== "object" || sd === null || Array.isArray(sd)) {
      throw new DeltagradError(`${where}: expected a record of tensors by name, got ${sd === null ? "null" : Array.isArray(sd) ? "an array" : typeof sd}`);
    }
    const params = this.#stateEntries();
    const names = new Set(params.map(([n]) => n));
    const problems: string[] = [];
    const missingKeys: string[] = [];
    const plan: [Tensor, Tensor][] = [];
    for (const [name, p] of params) {
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

  /** Extra text inside this module's parentheses in `toString()` (PyTorch's `extra_repr`). */
  extraRepr(): string {
    return "";
  }

  /**
   * The module tree, PyTorch style, annotated with parameter shapes and counts.
   *
   * @example
   * ```ts
   * String(new MLP([2, 3, 1]));
   * // MLP(  # 13 parameters
   * //   (layers): Sequential(  # 13 parameters
   * //     (0): Linear(inFeatures=2, outFeatures=3, bias=true)  # weight [2,3], bias [3]: 9 parameters
   * //     (1): ReLU()
   * //     (2): Linear(inFeatures=3, outFeatures=1, bias=true)  # weight [3,1], bias [1]: 4 parameters
   * //   )
   * // )
   * ```
   */
  /**
   * Writes the weights as a safetensors file (atomically: temp file, fsync, rename).
   *
   * @example
   * ```ts
   * await model.save("mlp.safetensors");
   * ```
   */
  save(path: string): Promise<void> {
    return saveModel(this, path);
  }

  /**
   * Loads weights saved by {@link Module.save} (or any safetensors file with matching names and
   * shapes). The file is validated completely before any parameter changes.
   *
   * @example
   * ```ts
   * await model.load("mlp.safetensors");
   * ```
   */
  load(path: string, options: LoadStateDictOptions = {}): Promise<LoadStateDictResult> {
    return loadModel(this, path, options);
  }

  /**
   * The module tree as an HTML table: one row per module with its parameters' shapes and counts.
   *
   * @example
   * ```ts
   * new MLP([4, 6, 3]).toHtml(); // "<table>…"
   * ```
   */
  toHtml(): string {
    const rows = this.namedModules().map(([name, m]) => {
      const depth = name ? name.split(".").length : 0;
      const own = m.namedOwnParameters();
      const shapes = own.map(([n, p]) => `${escapeXml(n)} [${p.shape.join(",")}]`).join(", ");
      const count = m.numParameters();
      return `<tr><td style="text-align:left;padding-left:${depth * 1.2}em">${escapeXml(name || "(root)")}</td><td style="text-align:left">${escapeXml(m.constructor.name)}</td><td style="text-align:left">${shapes}</td><td>${formatCount(count)}</td></tr>`;
    });
    return `<table><thead><tr><th>module</th><th>type</th><th>parameters</th><th>count</th></tr></thead><tbody>${rows.join("")}</tbody><tfoot><tr><td colspan="3" style="text-align:left">total</td><td>${formatCount(this.numParameters())}</td></tr></tfoot></table>`;
  }

  /** Jupyter rich display (Deno's kernel calls it): the tree as HTML plus the text of toString(). */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return { "text/html": this.toHtml(), "text/plain": this.toString() };
  }

  toString(): string {
    return this.#repr(new Set());
  }

  #repr(seen: Set<AnyModule>): string {
    seen.add(this);
    const extra = this.extraRepr();
    const own = this.namedOwnParameters().map(([n, p]) => `${n} ${fmtShape(p.shape)}${p.dtype === "float32" ? "" : ` ${p.dtype}`}`);
    const total = this.numParameters();
    const count = `${formatCount(total)} parameter${total === 1 ? "" : "s"}`;
    const note = total === 0 ? "" : `  # ${own.length ? `${own.join(", ")}: ` : ""}${count}`;
    const kids = this.namedChildren();
    if (kids.length === 0) return `${this.constructor.name}(${extra})${note}`;
    // As PyTorch: a container's extra text is its first inner line.
    const lines = kids.map(([n, m]) => {
      const body = seen.has(m) ? `${m.constructor.name}(…)  # shared, listed above` : m.#repr(seen);
      return `  (${n}): ${body.replace(/\n/g, "\n  ")}`;
    });
    if (extra) lines.unshift(`  ${extra}`);
    return `${this.constructor.name}(${note}\n${lines.join("\n")}\n)`;
  }
}

export interface L2PenaltyOptions {
  /**
   * Which parameters to penalize. Default: weights only, i.e. parameters of rank ≥ 2 whose name
   * does not end in "bias" (biases, PReLU slopes and Swish's β are rank ≤ 1 and are skipped).
   */
  filter?: (name: string, p: Tensor) => boolean;
}

const weightsOnly = (name: string, p: Tensor) => p.rank >= 2 && !name.endsWith("bias");

/**
 * The structured-risk term ½λ Σ‖W‖²_F (lecture 004), a differentiable scalar to add to a loss.
 * Takes a module (parameters with their names) or an array of tensors (names unknown, so the
 * default filter is the rank ≥ 2 rule alone). Its gradient is λW for each penalized W.
 *
 * @example
 * ```ts
 * const loss = mseLoss(model.call(x), y).add(l2Penalty(model, 1e-3));
 * ```
 */
export function l2Penalty(params: Module | readonly Tensor[], lambda: number, options?: L2PenaltyOptions): Tensor {
  const { filter = weightsOnly } = optionsOf("l2Penalty", options);
  if (typeof lambda !== "number" || !Number.isFinite(lambda) || lambda < 0) {
    throw new DeltagradError(`l2Penalty: lambda must be a finite number ≥ 0, got ${String(lambda)}`);
  }
  let named: [string, Tensor][];
  if (params instanceof Module) named = params.namedParameters();
  else if (Array.isArray(params)) {
    named = params.map((p, i) => {
      if (!(p instanceof Tensor)) throw new DeltagradError(`l2Penalty: params[${i}] is not a Tensor`);
      return [String(i), p] as [string, Tensor];
    });
  } else throw new DeltagradError(`l2Penalty: expected a Module or an array of tensors, got ${typeof params}`);
  const picked = named.filter(([n, p]) => filter(n, p)).map(([, p]) => p);
  if (picked.length === 0) return zeros([], { dtype: named[0]?.[1].dtype ?? "float32" });
  const total = picked.map((p) => sum(mul(p, p))).reduce((a, b) => a.add(b));
  return mul(total, lambda / 2);
}
