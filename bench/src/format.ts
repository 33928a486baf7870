/** Number and table formatting shared by the bench reports. */

/** The median (the mean of the two middle values for an even count). @example `median([3, 1, 2]) // 2` */
export const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A figure with 2–3 significant digits. */
export const fmt = (v: number | null | undefined) => (v === null || v === undefined ? "—" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

/** A Markdown table whose columns are padded to a common width, so it also reads as plain text. */
export function table(header: string[], right: boolean[], rows: string[][]): string[] {
  const width = header.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (right[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join(" | ")} |`;
  const rule = `|${width.map((w, i) => (right[i] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(header), rule, ...rows.map(line)];
}
