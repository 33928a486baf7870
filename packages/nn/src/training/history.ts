/** `fit`'s record of a run: per-epoch series, rendered as SVG charts, Vega-Lite and in Jupyter. */
import { hstackSvg, lineChartSvg, type Series } from "./chart.js";
import type { Logs } from "./types.js";

/**
 * What `fit` returns: per-epoch loss, metrics, validation loss/metrics, learning rate, wall time
 * and throughput. Renders as an SVG chart (`toSvg()`), a Vega-Lite spec, and in Jupyter.
 *
 * @example
 * ```ts
 * const history = await fit(model, { x, y, loss: crossEntropy, optimizer, epochs: 5 });
 * history.loss;        // [2.1, 1.2, …]
 * history.toSvg();     // "<svg …>"
 * ```
 */
export class History {
  /** Epoch numbers (1-based). */
  epoch: number[] = [];
  /** Every logged series by key: `loss`, `valLoss`, `accuracy`, `valAccuracy`, `lr`, `seconds`, `samplesPerSecond`. */
  series: Record<string, number[]> = {};

  /** Appends one epoch's logs. */
  push(epoch: number, logs: Logs): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.series[k] ??= []).push(v);
  }

  get loss(): number[] {
    return this.series.loss ?? [];
  }
  get valLoss(): number[] {
    return this.series.valLoss ?? [];
  }
  get lr(): number[] {
    return this.series.lr ?? [];
  }
  /** Wall time of each epoch in seconds. */
  get seconds(): number[] {
    return this.series.seconds ?? [];
  }
  /** Metric series (everything but loss, lr and timing). */
  get metrics(): Record<string, number[]> {
    const skip = new Set(["loss", "valLoss", "lr", "seconds", "samplesPerSecond"]);
    return Object.fromEntries(Object.entries(this.series).filter(([k]) => !skip.has(k)));
  }
  /** The last epoch's logs. */
  get last(): Logs {
    return Object.fromEntries(Object.entries(this.series).map(([k, v]) => [k, v[v.length - 1]!]));
  }

  /** Loss curves (and metric curves, if any) side by side as one SVG. */
  toSvg(): string {
    const lossSeries: Series[] = [{ name: "loss", values: this.loss, x: this.epoch }];
    if (this.valLoss.length) lossSeries.push({ name: "val loss", values: this.valLoss, x: this.epoch });
    const charts = [lineChartSvg(lossSeries, { title: "loss", xLabel: "epoch" })];
    const metricSeries = Object.entries(this.metrics).map(([k, v]) => ({ name: k, values: v, x: this.epoch }));
    if (metricSeries.length) charts.push(lineChartSvg(metricSeries, { title: "metrics", xLabel: "epoch" }));
    return charts.length === 1 ? charts[0]! : hstackSvg(charts);
  }

  /** A Vega-Lite v5 spec of every series against epoch. */
  toVegaLite(): Record<string, unknown> {
    const values = this.epoch.flatMap((e, i) =>
      Object.entries(this.series)
        .filter(([k]) => k !== "lr" && k !== "seconds" && k !== "samplesPerSecond")
        .map(([k, v]) => ({ epoch: e, series: k, value: v[i] })),
    );
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v5.json",
      data: { values },
      mark: { type: "line", point: true },
      encoding: { x: { field: "epoch", type: "quantitative" }, y: { field: "value", type: "quantitative" }, color: { field: "series", type: "nominal" } },
    };
  }

  /** The MIME bundle shown in notebooks: the chart as SVG (always renders) plus a Vega-Lite spec and text. */
  displayData(): Record<string, unknown> {
    return {
      "image/svg+xml": this.toSvg(),
      "application/vnd.vegalite.v5+json": this.toVegaLite(),
      "text/plain": `History(${this.epoch.length} epochs, last: ${JSON.stringify(this.last)})`,
    };
  }

  /** Jupyter rich display (Deno's kernel calls it). */
  [Symbol.for("Jupyter.display")](): Record<string, unknown> {
    return this.displayData();
  }

  toJSON(): { epoch: number[]; series: Record<string, number[]> } {
    return { epoch: this.epoch, series: this.series };
  }
}
