/**
 * The one error class of deltagrad. Every message starts with the name of the function or op
 * that failed and names the shapes or values involved.
 *
 * @example
 * ```ts
 * try { matmul(zeros([2, 3]), zeros([4, 5])); }
 * catch (e) { e instanceof DeltagradError; // true — "matmul: inner dimensions differ: [2,3] · [4,5]" }
 * ```
 */
export class DeltagradError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeltagradError";
  }
}

/**
 * Formats a shape the way every error message of the three packages prints it: `[2,3]`.
 *
 * @example
 * ```ts
 * fmtShape([2, 3]); // "[2,3]"
 * ```
 */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** Throws a {@link DeltagradError} `"<op>: <message>"` unless `cond` holds. */
export function check(cond: unknown, op: string, message: () => string): asserts cond {
  if (!cond) throw new DeltagradError(`${op}: ${message()}`);
}

/**
 * An op's options object: `{}` when omitted, the object itself when it is one, and a
 * {@link DeltagradError} naming the op for anything else (`null`, a number, an array…), which
 * destructuring would otherwise turn into a bare TypeError. Shared by nn and optim.
 *
 * @example
 * ```ts
 * const { lr = 0.1 } = optionsOf("SGD", options); // optionsOf("SGD", null) throws "SGD: options must be an object, got null"
 * ```
 */
export function optionsOf<T extends object>(op: string, o: T | null | undefined, what = "options"): T {
  if (o === undefined) return {} as T;
  if (o === null || typeof o !== "object" || Array.isArray(o)) {
    throw new DeltagradError(`${op}: ${what} must be an object, got ${o === null ? "null" : Array.isArray(o) ? "an array" : typeof o}`);
  }
  return o;
}

/**
 * Runs a composite's body so that an error raised by an inner op names the composite the user
 * called: `min: max: cannot reduce an empty axis …`. Messages that already start with `op` pass through.
 */
export function within<T>(op: string, body: () => T): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof DeltagradError && e.constructor === DeltagradError && !e.message.startsWith(op)) {
      throw new DeltagradError(`${op}: ${e.message}`);
    }
    throw e;
  }
}
