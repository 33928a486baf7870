/**
 * The browser's stand-in for the live terminal bar (see progress-node.ts): a page has no TTY, so
 * `fit` prints one line per epoch on the console and reports finer progress through `onProgress`.
 * nn's package.json maps `#progress-bar` here under the `browser` condition.
 */
import type { LiveBar, LiveBarOptions } from "./progress.js";

/**
 * No live bar in a browser.
 *
 * @example
 * ```ts
 * liveBar({ title: "epoch 1/5", stream: { write: console.log } }); // null
 * ```
 */
export function liveBar(_options: LiveBarOptions): LiveBar | null {
  return null;
}
