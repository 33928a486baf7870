/**
 * The lecture's worked example as the playground draws it (examples/sigmoid-graph.ts in a page):
 * f(x; w, b) = 1 / (exp(−(w·x + b)) + 1) recorded op by op as h1 … h6, differentiated by the
 * reverse sweep, and drawn with values and gradients by `toSvg`.
 */
import { tensor, toSvg } from "@deltagrad/autograd";

/** The six intermediate values, the gradients of f with respect to x, w and b, and the graph as SVG. */
export interface SigmoidGraph {
  h: number[];
  f: number;
  dx: number;
  dw: number;
  db: number;
  svg: string;
}

/**
 * Runs the lecture graph at (x, w, b) on the default backend.
 *
 * @example
 * ```ts no-run
 * sigmoidGraph(1, 0, 0); // f 0.5, dw 0.25, db 0.25 (the lecture's numbers)
 * ```
 */
export function sigmoidGraph(xv: number, wv: number, bv: number): SigmoidGraph {
  const x = tensor(xv, { requiresGrad: true, name: "x" });
  const w = tensor(wv, { requiresGrad: true, name: "w" });
  const b = tensor(bv, { requiresGrad: true, name: "b" });
  const h1 = w.mul(x); // h1 = w·x
  const h2 = h1.add(b); // h2 = h1 + b
  const h3 = h2.neg(); // h3 = −h2
  const h4 = h3.exp(); // h4 = e^h3
  const h5 = h4.add(1); // h5 = h4 + 1
  const h6 = h5.reciprocal(); // h6 = 1/h5 = f
  const hs = [h1, h2, h3, h4, h5, h6];
  hs.forEach((h, i) => {
    h.name = `h${i + 1}`;
    h.retainGrad();
  });
  h6.backward();
  return {
    h: hs.map((h) => h.itemSync()),
    f: h6.itemSync(),
    dx: x.grad!.itemSync(),
    dw: w.grad!.itemSync(),
    db: b.grad!.itemSync(),
    svg: toSvg(h6, { title: "f = 1 / (exp(−(w·x + b)) + 1)" }),
  };
}
