/**
 * How a module prints: the PyTorch-style text tree of `Module.toString` and the HTML table of
 * `Module.toHtml` (Jupyter). Both read only the module's public traversal methods.
 */
import { escapeXml, fmtShape } from "@deltagrad/autograd";
import type { AnyModule } from "./module.js";

/**
 * Formats an integer with thousands separators (1238730 → "1,238,730"), independent of locale.
 *
 * @example
 * ```ts
 * formatCount(1238730); // "1,238,730"
 * ```
 */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** @internal The body of {@link Module.toHtml}: one table row per module, then the total. */
export function moduleHtml(root: AnyModule): string {
  const rows = root.namedModules().map(([name, m]) => {
    const depth = name ? name.split(".").length : 0;
    const own = m.namedOwnParameters();
    const shapes = own.map(([n, p]) => `${escapeXml(n)} [${p.shape.join(",")}]`).join(", ");
    const count = m.numParameters();
    return `<tr><td style="text-align:left;padding-left:${depth * 1.2}em">${escapeXml(name || "(root)")}</td><td style="text-align:left">${escapeXml(m.constructor.name)}</td><td style="text-align:left">${shapes}</td><td>${formatCount(count)}</td></tr>`;
  });
  return `<table><thead><tr><th>module</th><th>type</th><th>parameters</th><th>count</th></tr></thead><tbody>${rows.join("")}</tbody><tfoot><tr><td colspan="3" style="text-align:left">total</td><td>${formatCount(root.numParameters())}</td></tr></tfoot></table>`;
}

/** @internal The body of {@link Module.toString}; `seen` lists modules already printed (shared ones print once). */
export function moduleRepr(m: AnyModule, seen: Set<AnyModule> = new Set()): string {
  seen.add(m);
  const extra = m.extraRepr();
  const own = m.namedOwnParameters().map(([n, p]) => `${n} ${fmtShape(p.shape)}${p.dtype === "float32" ? "" : ` ${p.dtype}`}`);
  const total = m.numParameters();
  const count = `${formatCount(total)} parameter${total === 1 ? "" : "s"}`;
  const note = total === 0 ? "" : `  # ${own.length ? `${own.join(", ")}: ` : ""}${count}`;
  const kids = m.namedChildren();
  if (kids.length === 0) return `${m.constructor.name}(${extra})${note}`;
  // As PyTorch: a container's extra text is its first inner line.
  const lines = kids.map(([n, k]) => {
    const body = seen.has(k) ? `${k.constructor.name}(…)  # shared, listed above` : moduleRepr(k, seen);
    return `  (${n}): ${body.replace(/\n/g, "\n  ")}`;
  });
  if (extra) lines.unshift(`  ${extra}`);
  return `${m.constructor.name}(${note}\n${lines.join("\n")}\n)`;
}
