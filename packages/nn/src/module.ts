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

/** One direct entry of a module: a child module or a parameter, with a way to rebind it. */
interface Entry {
  name: string;
  value: Module | Tensor;
  set(v: Module | Tensor): void;
}

export interface LoadStateDictOptions {
  /** Require the keys to match the model's parameter names exactly. Default true. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  /** Parameter names the state dict did not have (only possible with `strict: false`). */
  missingKeys: string[];
  /** State dict keys the model has no parameter for (only possible with `strict: false`). */
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
export function builtInModules(...classes: (abstract new (...args: never[]) => Module)[]): void {
  for (const c of classes) BUILT_IN.add(c);
}

export abstract class Module {
  /** True in training mode (the default), false after {@link Module.eval}. Dropout reads it. */
  training = true;
  readonly #registered = new Map<string, Module | Tensor>();

  /** The computation. Subclasses implement it; callers use {@link Module.call} or this. */
  abstract forward(x: Tensor): Tensor;

  /**
   * Runs {@link Module.forward}. For the library's own modules (and containers holding only
   * those) it runs inside a lifetime scope, so the forward's intermediates are released as soon
   * as nothing needs them (after backward, or at once under `noGrad`) instead of waiting for the
   * backend to reclaim them; a module of your own runs as written.
   *
   * @example `model.call(x)`
   */
  call(x: Tensor): Tensor {
    return this.#builtIn() ? scoped(() => this.forward(x)) : this.forward(x);
  }

  /** Whether this module and all its descendants are library classes (whose forwards keep no tensor they make). */
  #builtIn(): boolean {
    if (!BUILT_IN.has(this.constructor)) return false;
    for (const m of this.#registered.values()) if (m instanceof Module && !m.#builtIn()) return false;
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
  registerModule<M extends Module>(name: string, module: M): M {
    this.#checkName("registerModule", name);
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
    this.#registered.set(name, parameter(t));
    return t;
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
  namedChildren(): [string, Module][] {
    return this.#entries().flatMap((e) => (e.value instanceof Module ? [[e.name, e.value] as [string, Module]] : []));
  }

  /** Direct children. @example `model.children().length` */
  children(): Module[] {
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
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const stack: [string, Module][] = [["", this]];
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
  modules(): Module[] {
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
  apply(fn: (m: Module) => void): this {
    for (const m of this.modules().reverse()) fn(m);
    return this;
  }

  /**
   * Converts every parameter to a float dtype. Parameters are rebound to new leaf tensors (a
   * tensor's dtype cannot change in place), keeping `requiresGrad` and dropping `.grad`; create
   * optimizers after calling it.
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
    }
    return this;
  }

  /**
   * A snapshot of every parameter by dotted name (a null-prototype record). The values are
   * detached tensors sharing storage with the parameters; storage is immutable, so later
   * training steps do not change a snapshot.
   *
   * @example
   * ```ts
   * const sd = model.stateDict();
   * Object.keys(sd); // ["layers.0.weight", "layers.0.bias", …]
   * ```
   */
  stateDict(): Record<string, Tensor> {
    const sd: Record<string, Tensor> = Object.create(null);
    for (const [n, p] of this.namedParameters()) sd[n] = p.detach();
    return sd;
  }

  /**
   * Copies values from a state dict into the parameters (in place, with `assign`, so optimizers
   * keep working). Every key, shape and dtype is validated **before** any parameter is touched:
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
    const params = this.namedParameters();
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

  /** Extra text inside this module's parentheses in {@link Module.toString} (PyTorch's `extra_repr`). */
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

  #repr(seen: Set<Module>): string {
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
