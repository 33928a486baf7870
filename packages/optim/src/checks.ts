/**
 * @internal The one argument-checking module of optim: every optimizer, scheduler and clip
 * function reports bad input through these, as a {@link DeltagradError} naming itself.
 */
import { DeltagradError, Tensor, fmtShape } from "@deltagrad/autograd";

/** Throws `"<name>: <message>"` as a {@link DeltagradError}. @internal */
export function fail(name: string, message: string): never {
  throw new DeltagradError(`${name}: ${message}`);
}

/** Checks that `v` is a finite number satisfying `ok`, else throws naming the option and the rule. @internal */
export function checkNumber(name: string, key: string, v: unknown, ok: (x: number) => boolean, rule: string): void {
  if (typeof v !== "number" || !Number.isFinite(v)) fail(name, `${key} must be a finite number, got ${fmt(v)}`);
  if (!ok(v)) fail(name, `invalid ${key} ${fmt(v)}: expected ${rule}`);
}

/** Checks that `v` is a boolean. @internal */
export function checkBoolean(name: string, key: string, v: unknown): void {
  if (typeof v !== "boolean") fail(name, `${key} must be a boolean, got ${fmt(v)}`);
}

/** Formats a value for an error message. @internal */
export function fmt(v: unknown): string {
  if (typeof v === "number") return String(v);
  if (v instanceof Tensor) return `a Tensor of shape ${fmtShape(v.shape)}`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Merges constructor options over an optimizer's defaults, throwing on an option name the
 * optimizer does not have (a typo like `learningRate` fails loudly instead of being ignored).
 * @internal
 */
export function resolveOptions<H extends object>(name: string, options: unknown, defaults: H): H {
  if (options === undefined) return { ...defaults };
  if (options === null || typeof options !== "object" || Array.isArray(options)) fail(name, `options must be an object, got ${fmt(options)}`);
  for (const key of Object.keys(options)) {
    if (!(key in defaults)) fail(name, `unknown option "${key}" (expected one of ${Object.keys(defaults).join(", ")})`);
  }
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[k] = Array.isArray(v) ? v.slice() : v;
  return out as H;
}

/**
 * Checks the arguments of a pure update function (`sgdUpdate`, `adamUpdate`, …): tensors of one
 * shape and a hyperparameter object, so misuse is a DeltagradError rather than a TypeError.
 * @internal
 */
export function checkUpdateArgs(name: string, param: unknown, grad: unknown, hp: unknown): void {
  if (!(param instanceof Tensor)) fail(name, `param must be a Tensor, got ${fmt(param)}`);
  if (!(grad instanceof Tensor)) fail(name, `grad must be a Tensor, got ${fmt(grad)}`);
  if (grad.shape.length !== param.shape.length || grad.shape.some((d, i) => d !== param.shape[i])) {
    fail(name, `grad of shape ${fmtShape(grad.shape)} does not match param ${fmtShape(param.shape)}`);
  }
  if (hp === null || typeof hp !== "object" || Array.isArray(hp)) fail(name, `hyperparameters must be an object, got ${fmt(hp)}`);
}
