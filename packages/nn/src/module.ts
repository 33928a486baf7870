import { optionsOf } from "./options.js";
import { DeltagradError, Tensor, scoped, type DType } from "@deltagrad/autograd";
import { isBuiltIn } from "./module-builtin.js";
import { isMarkedParameter, isParameter, parameter } from "./parameter.js";
import { loadModel, saveModel } from "./checkpoint/files.js";
import { moduleHtml, moduleRepr } from "./module-display.js";
import { convertModules, loadStateEntries, qualifiedTensors, type Buffer, type Entry, type LoadStateDictOptions, type LoadStateDictResult, type RegisterBufferOptions } from "./module-state.js";

export { formatCount } from "./module-display.js";
export { builtInModules } from "./module-builtin.js";
export { parameter } from "./parameter.js";
export type { LoadStateDictOptions, LoadStateDictResult, RegisterBufferOptions } from "./module-state.js";

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
    return isBuiltIn(this) ? scoped(() => this.forward(...inputs)) : this.forward(...inputs);
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
    if (t !== null && (t.requiresGrad || isMarkedParameter(t))) {
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
  #ownBuffers(persistentOnly = false): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this.#buffers) if (b.t !== null && (b.persistent || !persistentOnly)) out.push([n, b.t]);
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
    return qualifiedTensors(this.namedModules(), (m) => m.#ownBuffers());
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
    return qualifiedTensors(this.namedModules(), (m) => m.namedOwnParameters());
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
    for (const p of this.parameters()) p.replaceGrad(null);
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
    convertModules(this.modules(), dtype, (m) => ({ entries: m.#entries(), buffers: m.#buffers }));
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
    return qualifiedTensors(this.namedModules(), (m) => [...m.namedOwnParameters(), ...m.#ownBuffers(true)]);
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
    return loadStateEntries(`${this.constructor.name}.loadStateDict`, this.#stateEntries(), sd, strict);
  }

  /** Extra text inside this module's parentheses in `toString()` (PyTorch's `extra_repr`). */
  extraRepr(): string {
    return "";
  }

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
    return moduleHtml(this);
  }

  /** Jupyter rich display (Deno's kernel calls it): the tree as HTML plus the text of toString(). */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return { "text/html": this.toHtml(), "text/plain": this.toString() };
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
  toString(): string {
    return moduleRepr(this);
  }
}
