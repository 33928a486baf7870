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

/** Formats a shape the way error messages print it: `[2,3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** Throws a {@link DeltagradError} `"<op>: <message>"` unless `cond` holds. */
export function check(cond: unknown, op: string, message: () => string): asserts cond {
  if (!cond) throw new DeltagradError(`${op}: ${message()}`);
}
