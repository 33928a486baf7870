/**
 * Tensor lifetimes without `tidy()`. Backends whose memory is not the JavaScript heap (wasm's
 * linear memory, a GPU) need to know when storage is dead, and JavaScript cannot tell them in
 * time: a FinalizationRegistry callback runs only when the event loop turns, never inside a
 * synchronous training loop. So the library releases what it can *prove* dead — tensors created
 * inside its own code and never handed to the caller:
 *
 * - {@link scoped} runs a piece of library code (a composite op, a VJP, an optimizer step, a
 *   built-in module's forward) and disposes every tensor created inside it that is not part of
 *   its result.
 * - A disposed tensor that a recorded graph node still uses as an input keeps its storage until
 *   backward frees that node (the saved intermediates of a composite, as PyTorch frees saved
 *   tensors after backward).
 * - Storage is released when the last tensor referencing it is (reshape and detach share storage;
 *   the backend counts references through `Backend.retain`/`release`).
 *
 * Tensors the caller receives are never released by the library; the backend reclaims their
 * storage by other means: the wasm backend hands each tensor a token it watches through a WeakRef,
 * frees blocks whose tensors the garbage collector has collected, and evicts cold live ones to
 * the JS heap (src/wasm/memory.ts, docs/memory.md). `scoped`, `dispose()` and `using` free at
 * once. Backends without `retain` (cpu: plain TypedArrays) skip all of this.
 */
import { DeltagradError } from "./errors.js";
import { describe } from "./shape.js";
import type { Tensor } from "./tensor.js";

/** A region of library code whose temporaries are released at its end. */
export class Scope {
  /** Made on the first tracked tensor: most scopes of a scalar graph's backward track none. */
  tracked: Tensor[] | null = null;
  constructor(readonly parent: Scope | null) {}
}

let top: Scope | null = null;

/** @internal The innermost open scope (tensors created now are tracked by it), or null. */
export function currentScope(): Scope | null {
  return top;
}

/**
 * Runs `fn` and disposes every tensor created inside it on a backend with explicit memory
 * management (wasm) that is not reachable from its result (a tensor, or arrays/plain objects/Maps
 * of them). Results move to the enclosing scope. If `fn` throws, everything it created is disposed.
 *
 * For library code and for user functions that keep no tensor they create except those they
 * return. It is never needed for correctness — only to give memory back sooner.
 *
 * @example
 * ```ts
 * const y = scoped(() => x.mul(2).add(1).relu()); // the mul/add/mask temporaries are freed now
 * ```
 */
export function scoped<T>(fn: () => T): T {
  if (typeof fn !== "function") throw new DeltagradError(`scoped: expected a function, got ${describe(fn)}`);
  const s = openScope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    closeScope(s, null);
    throw e;
  }
  closeScope(s, result);
  return result;
}

/**
 * @internal {@link scoped} without a closure, for the hot loops (the backward sweep runs one
 * scope per node): `const s = openScope(); … closeScope(s, result)`. Every path out of the region
 * must close it, the throwing ones with `null`.
 */
export function openScope(): Scope {
  const s = new Scope(top);
  top = s;
  return s;
}

/** @internal Ends a region begun by {@link openScope}, disposing what it created that is not reachable from `result`. */
export function closeScope(s: Scope, result: unknown): void {
  top = s.parent;
  close(s, result);
}

function close(s: Scope, result: unknown): void {
  const tracked = s.tracked;
  if (tracked === null) return;
  const keep = new Set<Tensor>();
  collect(result, keep, 0);
  const parent = s.parent;
  for (let i = 0; i < tracked.length; i++) {
    const t = tracked[i]!;
    if (t._scope !== s) continue; // already disposed
    if (keep.has(t)) {
      t._scope = parent;
      if (parent) (parent.tracked ??= []).push(t);
    } else {
      t._scope = null;
      t.dispose();
    }
  }
}

function collect(v: unknown, keep: Set<Tensor>, depth: number): void {
  if (v === null || typeof v !== "object" || depth > 6) return;
  if (isTensor(v)) {
    keep.add(v as Tensor);
    return;
  }
  if (Array.isArray(v)) {
    for (const x of v) collect(x, keep, depth + 1);
  } else if (v instanceof Map) {
    for (const x of v.values()) collect(x, keep, depth + 1);
  } else {
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) for (const x of Object.values(v)) collect(x, keep, depth + 1);
  }
}

/** @internal Registers a new tensor with the innermost scope (called by the Tensor constructor). */
export function track(t: Tensor): void {
  if (top !== null) {
    t._scope = top;
    (top.tracked ??= []).push(t);
  }
}

/**
 * Takes `t` out of every enclosing scope, so it survives them (for library code that stores a
 * tensor made inside a scope, e.g. as a `.grad`). Returns `t`.
 *
 * @example
 * ```ts
 * scoped(() => { cache.set(key, escapeScope(x.mul(2))); }); // the product is kept
 * ```
 */
export function escapeScope<T extends Tensor>(t: T): T {
  if (!isTensor(t)) throw new DeltagradError(`escapeScope: expected a Tensor, got ${describe(t)}`);
  t._scope = null;
  return t;
}

/** Duck-typed (tensor.ts imports this module): a Tensor has both fields. */
function isTensor(v: unknown): v is Tensor {
  return v !== null && typeof v === "object" && "_scope" in v && "dispose" in v;
}
