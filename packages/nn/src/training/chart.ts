/**
 * A small SVG line-chart writer for training curves (History.toSvg, the examples). Written here
 * rather than pulled in from a charting library so that @deltagrad/nn stays light in browsers;
 * vega-lite JSON is offered next to it for notebook front ends that render it.
 */
import { escapeXml } from "@deltagrad/autograd";

/** One line of a chart. */
export interface Series {
  name: string;
  values: readonly number[];
  /** x coordinates; 1, 2, 3, … when omitted. */
  x?: readonly number[];
  /** Draw points only (scatter), no line. */
  points?: boolean;
}

export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Logarithmic y axis (positive values only). */
  logY?: boolean;
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];


/**
 * About five round tick values covering [lo, hi].
 *
 * @example
 * ```ts
 * niceTicks(0, 1); // [0, 0.2, 0.4, 0.6, 0.8, 1]
 * ```
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

const fmt = (v: number) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/**
 * Renders line series as a standalone SVG string with axes, ticks, a legend and a title.
 * Non-finite values are skipped (the line breaks there).
 *
 * @example
 * ```ts
 * lineChartSvg([{ name: "loss", values: [1, 0.5, 0.3] }], { title: "training" });
 * ```
 */
export function lineChartSvg(series: readonly Series[], opts: ChartOptions = {}): string {
  const { width = 480, height = 300, title = "", xLabel = "", yLabel = "", logY = false } = opts;
  const m = { left: 56, right: 16, top: title ? 28 : 12, bottom: 40 };
  const ty = (v: number) => (logY ? Math.log10(v) : v);
  const pts = series.map((s) => s.values.map((v, i) => [s.x?.[i] ?? i + 1, v] as [number, number]).filter(([x, v]) => Number.isFinite(x) && Number.isFinite(ty(v))));
  const all = pts.flat();
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => ty(p[1]));
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const W = width - m.left - m.right;
  const H = height - m.top - m.bottom;
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * W;
  const sy = (y: number) => m.top + H - ((y - y0) / (y1 - y0)) * H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`,
  ];
  if (title) out.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`);
  for (const t of niceTicks(y0, y1)) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + W}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(logY ? fmt(10 ** t) : fmt(t))}</text>`);
  }
  for (const t of niceTicks(x0, x1)) {
    out.push(`<text x="${sx(t).toFixed(1)}" y="${m.top + H + 16}" text-anchor="middle">${escapeXml(fmt(t))}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${W}" height="${H}" fill="none" stroke="#333"/>`);
  if (xLabel) out.push(`<text x="${m.left + W / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  if (yLabel) out.push(`<text transform="translate(14 ${m.top + H / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`);
  pts.forEach((p, k) => {
    const color = COLORS[k % COLORS.length]!;
    if (series[k]!.points) {
      for (const [x, v] of p) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(ty(v)).toFixed(1)}" r="2" fill="${color}"/>`);
    } else if (p.length) {
      const d = p.map(([x, v], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(ty(v)).toFixed(1)}`).join("");
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    }
    const ly = m.top + 12 + 14 * k;
    out.push(`<line x1="${m.left + W - 110}" x2="${m.left + W - 94}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${m.left + W - 90}" y="${ly}" dominant-baseline="middle">${escapeXml(series[k]!.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}

/**
 * Places several SVG charts side by side in one SVG.
 *
 * @example
 * ```ts
 * hstackSvg([lossSvg, accSvg]);
 * ```
 */
export function hstackSvg(charts: readonly string[], { width = 480, height = 300 } = {}): string {
  const inner = charts.map((c, i) => c.replace("<svg ", `<svg x="${i * width}" y="0" `)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width * charts.length}" height="${height}" viewBox="0 0 ${width * charts.length} ${height}">\n${inner}\n</svg>`;
}
