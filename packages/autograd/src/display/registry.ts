/**
 * The display registry: the Jupyter key and the renderer Tensor's `[jupyterDisplay]()` calls. This
 * file imports nothing at run time, so tensor.ts can name the key when its class is defined
 * without loading the display code (and importing the display modules first cannot throw). The
 * package index registers {@link tensorMimeBundle}; before that a tensor shows as plain text.
 */
import type { Tensor } from "../tensor.js";

/**
 * The key Jupyter kernels look up on a value to get its rich representation (`Symbol.for("Jupyter.display")`).
 *
 * @example
 * ```ts
 * tensor([1, 2])[jupyterDisplay](); // { "text/plain": …, "text/html": … }
 * ```
 */
export const jupyterDisplay: unique symbol = Symbol.for("Jupyter.display");

/** MIME type → content, what a `[Symbol.for("Jupyter.display")]()` method returns. */
export type MimeBundle = Record<string, string>;

let renderer: ((t: Tensor) => MimeBundle) | null = null;

/** @internal Sets the function `Tensor[jupyterDisplay]()` returns through (the index sets the HTML one). */
export function registerMimeBundle(fn: (t: Tensor) => MimeBundle): void {
  renderer = fn;
}

/** @internal What `tensor[jupyterDisplay]()` returns: the registered bundle, or the plain printout. */
export function mimeBundleOf(t: Tensor): MimeBundle {
  return renderer !== null ? renderer(t) : { "text/plain": String(t) };
}
