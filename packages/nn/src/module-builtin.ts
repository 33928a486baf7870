/**
 * Which modules are the library's own: their `forward` keeps no tensor it creates other than its
 * result, so `Module.call` may run them in a lifetime scope and release the rest.
 */
import type { AnyModule } from "./module.js";

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

/**
 * @internal Whether `m` and all its descendants are library classes (whose forwards keep no
 * tensor they make). Children held in fields count as well as registered ones: a user's module
 * inside a built-in container must run as written.
 */
export function isBuiltIn(m: AnyModule): boolean {
  if (!BUILT_IN.has(m.constructor)) return false;
  for (const [, c] of m.namedChildren()) if (!isBuiltIn(c)) return false;
  return true;
}
