/**
 * `fit`'s progress: the console display (`verbose` 1 and 2), the live chart in a Deno notebook,
 * and the `onProgress` event stream for pages and apps. Platform-neutral: the one Node-only part,
 * the live terminal bar, comes from `#progress-bar` (nn's package.json maps it to
 * progress-node.ts, or to progress-browser.ts under the `browser` condition).
 */
import { liveBar } from "#progress-bar";
import type { History } from "./history.js";
import type { BatchLogs, Callback, Logs, TrainingContext } from "./types.js";

/** Where the console display writes: `process.stdout`, or anything with `write`. */
export interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
}

/** What the live terminal bar needs (see progress-node.ts). */
export interface LiveBarOptions {
  title: string;
  stream: Out;
}

/** A live terminal bar: started once per epoch, updated after each batch. */
export interface LiveBar {
  start(total: number): void;
  update(fields: { loss: string; metrics: string; speed: number }): void;
  stop(): void;
}

/**
 * One event of {@link FitOptions.onProgress}: after every batch (running means over the epoch so
 * far), after every epoch (the epoch's logs, as in the History), and once at the end.
 */
export type ProgressEvent =
  | { type: "batch"; epoch: number; epochs: number; batch: number; steps: number; loss: number; metrics: Record<string, number>; samplesPerSecond: number }
  | { type: "epoch"; epoch: number; epochs: number; logs: Logs }
  | { type: "end"; history: History };

function defaultOut(): Out {
  const p = (globalThis as { process?: { stdout?: Out } }).process;
  return p?.stdout ?? { write: (s: string) => console.log(s.replace(/\n$/, "")) };
}

const fmtLogs = (logs: Logs) =>
  Object.entries(logs)
    .filter(([k]) => k !== "seconds" && k !== "samplesPerSecond" && k !== "lr")
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(" - ");

/** Running means of the loss and metrics over an epoch's batches so far, weighted by batch size. */
class RunningMeans {
  seen = 0;
  private lossSum = 0;
  private metricSums: Record<string, number> = {};
  private start = 0;
  reset(): void {
    this.seen = 0;
    this.lossSum = 0;
    this.metricSums = {};
    this.start = performance.now();
  }
  add(logs: BatchLogs): void {
    this.seen += logs.size;
    this.lossSum += logs.loss * logs.size;
    for (const [k, v] of Object.entries(logs.metrics)) this.metricSums[k] = (this.metricSums[k] ?? 0) + v * logs.size;
  }
  get loss(): number {
    return this.lossSum / this.seen;
  }
  get metrics(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.metricSums).map(([k, v]) => [k, v / this.seen]));
  }
  get samplesPerSecond(): number {
    return this.seen / Math.max((performance.now() - this.start) / 1000, 1e-9);
  }
}

/**
 * Progress display. On a TTY (Node, Deno): a live bar per epoch (cli-progress) with batch
 * progress, loss, metrics, samples/s and ETA. Otherwise (CI logs, files, a browser's console):
 * one clean line per epoch.
 *
 * @example
 * ```ts
 * await fit(model, { …, verbose: 0, callbacks: [new ProgressBar()] });
 * ```
 */
export class ProgressBar implements Callback {
  private bar: LiveBar | null = null;
  private readonly means = new RunningMeans();
  private readonly out: Out;
  private readonly tty: boolean;
  constructor(options: { stream?: Out; tty?: boolean } = {}) {
    this.out = options.stream ?? defaultOut();
    this.tty = options.tty ?? !!this.out.isTTY;
  }
  onEpochBegin(epoch: number, ctx: TrainingContext): void {
    this.means.reset();
    if (!this.tty) return;
    this.bar = liveBar({ title: `epoch ${epoch}/${ctx.epochs}`, stream: this.out });
    this.bar?.start(ctx.steps);
  }
  onBatchEnd(_b: number, logs: BatchLogs): void {
    this.means.add(logs);
    if (!this.bar) return;
    const metrics = Object.entries(this.means.metrics).map(([k, v]) => ` | ${k} ${v.toFixed(4)}`).join("");
    this.bar.update({ loss: this.means.loss.toFixed(4), metrics, speed: Math.round(this.means.samplesPerSecond) });
  }
  onEpochEnd(epoch: number, logs: Logs, ctx: TrainingContext): void {
    this.bar?.stop();
    this.bar = null;
    const lr = ctx.optimizer.paramGroups[0]?.lr;
    this.out.write(
      `epoch ${epoch}/${ctx.epochs} - ${fmtLogs(logs)}${lr !== undefined ? ` - lr ${lr.toPrecision(3)}` : ""} - ${Math.round(logs.samplesPerSecond ?? 0)} samples/s - ${(logs.seconds ?? 0).toFixed(2)}s\n`,
    );
  }
}

/**
 * Turns `fit`'s callbacks into {@link ProgressEvent}s for one function — what a page draws its
 * progress from (a chart, a bar, messages posted out of a worker). `fit({ onProgress })` adds one.
 *
 * @example
 * ```ts
 * await fit(model, { …, verbose: 0, callbacks: [new ProgressEvents((e) => { if (e.type === "epoch") console.log(e.logs.loss); })] });
 * ```
 */
export class ProgressEvents implements Callback {
  private readonly means = new RunningMeans();
  constructor(private readonly listener: (event: ProgressEvent) => void | Promise<void>) {}
  onEpochBegin(): void {
    this.means.reset();
  }
  async onBatchEnd(batch: number, logs: BatchLogs, ctx: TrainingContext): Promise<void> {
    this.means.add(logs);
    const m = this.means;
    const epoch = ctx.history.epoch.length + 1;
    await this.listener({ type: "batch", epoch, epochs: ctx.epochs, batch, steps: ctx.steps, loss: m.loss, metrics: m.metrics, samplesPerSecond: m.samplesPerSecond });
  }
  async onEpochEnd(epoch: number, logs: Logs, ctx: TrainingContext): Promise<void> {
    await this.listener({ type: "epoch", epoch, epochs: ctx.epochs, logs: { ...logs } });
  }
  async onTrainEnd(ctx: TrainingContext): Promise<void> {
    await this.listener({ type: "end", history: ctx.history });
  }
}

/** Deno Jupyter, detected at run time (no Deno-only import): one chart updated in place every epoch. */
export class LiveChart implements Callback {
  private readonly id = `deltagrad-fit-${Math.random().toString(36).slice(2)}`;
  constructor(private readonly jupyter: { broadcast(type: string, content: unknown): Promise<void> }) {}
  private async send(type: string, history: History): Promise<void> {
    await this.jupyter.broadcast(type, { data: history.displayData(), metadata: {}, transient: { display_id: this.id } });
  }
  async onTrainBegin(ctx: TrainingContext): Promise<void> {
    await this.send("display_data", ctx.history);
  }
  async onEpochEnd(_e: number, _l: Logs, ctx: TrainingContext): Promise<void> {
    await this.send("update_display_data", ctx.history);
  }
}

/** The Deno Jupyter kernel's broadcast, when running inside one. */
export function jupyter(): { broadcast(type: string, content: unknown): Promise<void> } | undefined {
  return (globalThis as { Deno?: { jupyter?: { broadcast(type: string, content: unknown): Promise<void> } } }).Deno?.jupyter;
}
