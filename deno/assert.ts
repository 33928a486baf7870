/**
 * The four assertions the Deno tests need, so the tests import nothing from a registry
 * (CI runs offline) and nothing Deno-specific from the packages.
 */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Throws unless `cond` is truthy. @example `assert(loss < 1e-3, "did not converge")` */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/** Deep equality through JSON (numbers, strings, arrays, plain objects). @example `assertEquals([1, 2], [1, 2])` */
export function assertEquals(actual: unknown, expected: unknown): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e || (typeof actual === "number" && !Object.is(actual, expected) && !(actual === expected))) {
    throw new AssertionError(`expected ${e}, got ${a}`);
  }
}

/** |actual − expected| ≤ tol. @example `assertAlmostEquals(0.30000000000000004, 0.3, 1e-12)` */
export function assertAlmostEquals(actual: number, expected: number, tol: number): void {
  if (!(Math.abs(actual - expected) <= tol)) throw new AssertionError(`expected ${expected} ± ${tol}, got ${actual}`);
}

/** `haystack` contains `needle`. @example `assertStringIncludes("abc", "b")` */
export function assertStringIncludes(haystack: string, needle: string): void {
  if (!haystack.includes(needle)) throw new AssertionError(`expected ${JSON.stringify(haystack.slice(0, 200))} to contain ${JSON.stringify(needle)}`);
}
