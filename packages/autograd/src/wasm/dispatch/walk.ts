/**
 * Strided walks: a broadcast or strided layout collapsed to at most two kernel-row levels, the
 * rest walked in JS.
 */
import { collapse, sizeOf, stridesOf, type Shape } from "../../shape.js";

export { collapse };

/**
 * Calls `run(offsets, rows, inner, rowStrides)` once per index of the dims outside the last two
 * (offsets and strides in elements, one per operand; output offset last), after collapsing.
 */
export function walk2(shape: Shape, strides: number[][], run: (offsets: number[], rows: number, inner: number, rowStrides: number[], innerStrides: number[]) => void): void {
  const c = collapse(shape, [...strides, stridesOf(shape)]);
  const r = c.shape.length;
  const inner = r > 0 ? c.shape[r - 1]! : 1;
  const rows = r > 1 ? c.shape[r - 2]! : 1;
  const inS = c.strides.map((s) => (r > 0 ? s[r - 1]! : 0));
  const rowS = c.strides.map((s) => (r > 1 ? s[r - 2]! : 0));
  const outer = c.shape.slice(0, Math.max(0, r - 2));
  const idx = new Array<number>(outer.length).fill(0);
  const offs = c.strides.map(() => 0);
  const total = sizeOf(outer);
  for (let t = 0; t < total; t++) {
    run(offs, rows, inner, rowS, inS);
    for (let d = outer.length - 1; d >= 0; d--) {
      for (let k = 0; k < offs.length; k++) offs[k]! += c.strides[k]![d]!;
      if (++idx[d]! < outer[d]!) break;
      for (let k = 0; k < offs.length; k++) offs[k]! -= c.strides[k]![d]! * outer[d]!;
      idx[d] = 0;
    }
  }
}
