/**
 * The live terminal bar of `fit`'s progress display (Node, Deno): cli-progress, which needs Node's
 * `events` and `readline`. Reached only through the `#progress-bar` import of nn's package.json,
 * whose `browser` condition picks progress-browser.ts instead, so a browser bundle never sees
 * cli-progress.
 */
import cliProgress from "cli-progress";
import type { LiveBar, LiveBarOptions } from "./progress.js";

/**
 * A live bar on `options.stream` (a TTY): batch progress, running loss and metrics, samples/s
 * and ETA.
 *
 * @example
 * ```ts
 * const bar = liveBar({ title: "epoch 1/5", stream: process.stdout });
 * bar?.start(100);
 * ```
 */
export function liveBar(options: LiveBarOptions): LiveBar | null {
  const bar = new cliProgress.SingleBar(
    {
      format: `${options.title} [{bar}] {value}/{total} | loss {loss}{metrics} | {speed} samples/s | ETA {eta_formatted}`,
      stream: options.stream as NodeJS.WritableStream,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    start: (total) => bar.start(total, 0, { loss: "-", metrics: "", speed: "-" }),
    update: (fields) => bar.increment(1, fields),
    stop: () => bar.stop(),
  };
}
