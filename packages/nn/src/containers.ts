/**
 * Containers: modules that hold other modules under computed names. `Sequential` chains them,
 * `ModuleList` and `ModuleDict` only register them (their parameters, buffers, `train()`/`eval()`
 * and `to()` reach the children) and leave the wiring to the owner's `forward`.
 */
import { DeltagradError, Tensor } from "@deltagrad/autograd";
import { Module, builtInModules, type AnyModule } from "./module.js";

const what = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);

/**
 * Runs modules in order, each on the previous one's output. Children are named "0", "1", …
 *
 * @example
 * ```ts
 * const net = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3));
 * net.namedParameters()[0]![0]; // "0.weight"
 * ```
 */
export class Sequential extends Module {
  #size = 0;

  constructor(...modules: AnyModule[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds a module at the end and returns this. @example `seq.append(new ReLU())` */
  append(m: AnyModule): this {
    if (!(m instanceof Module)) throw new DeltagradError(`Sequential: element ${this.#size} is not a Module (got ${what(m)})`);
    this.registerModule(String(this.#size++), m);
    return this;
  }

  /** Number of modules. @example `seq.length` */
  get length(): number {
    return this.#size;
  }

  /** The i-th module (negative counts from the end). @example `seq.at(-1)` */
  at(i: number): AnyModule | undefined {
    return this.children().at(i);
  }

  forward(x: Tensor): Tensor {
    return this.children().reduce((h, m) => m.call(h), x);
  }
}

/**
 * A list of modules, registered as children "0", "1", … (PyTorch's `nn.ModuleList`). It has no
 * `forward` of its own: the owning module iterates it. Its type parameter keeps the element
 * type, so `for (const layer of layers)` needs no casts.
 *
 * @example
 * ```ts
 * class Deep extends Module {
 *   readonly layers = new ModuleList([1, 2, 3].map(() => new Linear(4, 4)));
 *   forward(x: Tensor) { for (const l of this.layers) x = relu(l.call(x)); return x; }
 * }
 * new Deep().namedParameters()[2]![0]; // "layers.1.weight"
 * ```
 */
export class ModuleList<M extends AnyModule = AnyModule> extends Module<never[], never> {
  readonly #items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    if (modules === null || typeof (modules as Iterable<M>)[Symbol.iterator] !== "function") {
      throw new DeltagradError(`ModuleList: expected an iterable of modules, got ${what(modules)}`);
    }
    this.extend(modules);
  }

  /** Adds a module at the end and returns this. @example `list.append(new Linear(2, 2))` */
  append(m: M): this {
    if (!(m instanceof Module)) throw new DeltagradError(`ModuleList: element ${this.#items.length} is not a Module (got ${what(m)})`);
    this.registerModule(String(this.#items.length), m);
    this.#items.push(m);
    return this;
  }

  /** Appends every module of `modules`. @example `list.extend([new ReLU(), new Linear(2, 2)])` */
  extend(modules: Iterable<M>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** Number of modules. @example `list.length` */
  get length(): number {
    return this.#items.length;
  }

  /** The i-th module (negative counts from the end), or undefined. @example `list.at(-1)` */
  at(i: number): M | undefined {
    return this.#items.at(i);
  }

  /** The modules in order. @example `for (const m of list) …` */
  [Symbol.iterator](): IterableIterator<M> {
    return this.#items[Symbol.iterator]();
  }

  /** A ModuleList is not callable; iterate it in the owner's `forward`. @example `// for (const m of list) x = m.call(x)` */
  forward(): never {
    throw new DeltagradError("ModuleList: a ModuleList has no forward; iterate it in the owning module's forward");
  }
}

/**
 * Modules by name, registered as children under their keys in insertion order (PyTorch's
 * `nn.ModuleDict`); setting an existing key replaces the module in place. Keys are non-empty
 * strings without ".". Like {@link ModuleList} it has no `forward`.
 *
 * @example
 * ```ts
 * const heads = new ModuleDict({ cls: new Linear(8, 3), box: new Linear(8, 4) });
 * heads.get("box")!.call(zeros([2, 8])).shape; // [2, 4]
 * new Sequential(heads).namedParameters()[0]![0]; // "0.cls.weight"
 * ```
 */
export class ModuleDict<M extends AnyModule = AnyModule> extends Module<never[], never> {
  readonly #items = new Map<string, M>();

  constructor(modules: Record<string, M> | Iterable<[string, M]> = {}) {
    super();
    if (modules === null || typeof modules !== "object") throw new DeltagradError(`ModuleDict: expected a record or an iterable of [name, module] pairs, got ${what(modules)}`);
    const pairs = Symbol.iterator in modules ? (modules as Iterable<[string, M]>) : Object.entries(modules as Record<string, M>);
    for (const pair of pairs) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new DeltagradError(`ModuleDict: expected [name, module] pairs, got ${what(pair)}`);
      this.set(pair[0], pair[1]);
    }
  }

  /** Adds or replaces the module under `key`; returns this. @example `dict.set("head", new Linear(8, 2))` */
  set(key: string, m: M): this {
    if (typeof key !== "string" || key === "" || key.includes(".")) throw new DeltagradError(`ModuleDict: a key must be a non-empty string without ".", got ${JSON.stringify(key) ?? String(key)}`);
    if (!this.#items.has(key) && key in this) throw new DeltagradError(`ModuleDict: key "${key}" is the name of a ModuleDict property; choose another`);
    if (!(m instanceof Module)) throw new DeltagradError(`ModuleDict: "${String(key)}" is not a Module (got ${what(m)})`);
    this.registerModule(key, m);
    this.#items.set(key, m);
    return this;
  }

  /** The module under `key`, or undefined. @example `dict.get("head")` */
  get(key: string): M | undefined {
    return this.#items.get(key);
  }

  /** Whether `key` is present. @example `dict.has("head")` */
  has(key: string): boolean {
    return this.#items.has(key);
  }

  /** Number of modules. @example `dict.size` */
  get size(): number {
    return this.#items.size;
  }

  /** Keys in insertion order. @example `[...dict.keys()]` */
  keys(): IterableIterator<string> {
    return this.#items.keys();
  }

  /** Modules in insertion order. @example `[...dict.values()]` */
  values(): IterableIterator<M> {
    return this.#items.values();
  }

  /** `[key, module]` pairs in insertion order. @example `for (const [k, m] of dict.entries()) …` */
  entries(): IterableIterator<[string, M]> {
    return this.#items.entries();
  }

  /** Same as {@link ModuleDict.entries}. @example `for (const [k, m] of dict) …` */
  [Symbol.iterator](): IterableIterator<[string, M]> {
    return this.#items.entries();
  }

  /** A ModuleDict is not callable; use its modules in the owner's `forward`. @example `// dict.get("head")!.call(x)` */
  forward(): never {
    throw new DeltagradError("ModuleDict: a ModuleDict has no forward; call its modules in the owning module's forward");
  }
}

builtInModules(Sequential, ModuleList, ModuleDict);
