/**
 * The backward sweep's topological order (engine.ts runs the sweep). Tensors are found by a stamp
 * and an index kept on each tensor (`_mark`, `_topo`) rather than by a Set and a Map: a scalar
 * graph's backward is all bookkeeping. Only types are imported, so this stays out of the core
 * import loop.
 */
import type { Tensor } from "./tensor.js";

/** @internal The inputs of a leaf. */
export const NO_INPUTS: Tensor[] = [];

/**
 * The stamp of the latest {@link topoOrder}: a tensor whose `_mark` equals a sweep's stamp is in
 * that sweep's order at index `_topo`. A sweep nested in a VJP (a customVjp calling grad) takes a
 * newer stamp; the outer sweep notices and stamps its order again ({@link restamp}).
 */
let stamp = 0;

/** @internal A new stamp, for one sweep. @example `const mark = newStamp(); const order = topoOrder([loss], mark);` */
export function newStamp(): number {
  return ++stamp;
}

/** @internal The newest stamp: a sweep whose own is older had a sweep nested in it. @example `if (latestStamp() !== mark) restamp(order, mark);` */
export function latestStamp(): number {
  return stamp;
}

/**
 * @internal Post-order (inputs before outputs) over tensors that require grad; iterative, so 100,000-op chains are fine.
 * Stamps each tensor it visits with `mark` and each tensor it emits with its index.
 *
 * @example
 * ```ts
 * const order = topoOrder([loss], newStamp()); // leaves first, loss last; order[k]._topo === k
 * ```
 */
export function topoOrder(roots: Tensor[], mark: number): Tensor[] {
  const order: Tensor[] = [];
  // Two parallel stacks (tensor, index of its next input) rather than a tuple per visit.
  const stack: Tensor[] = [];
  const next: number[] = [];
  for (let r = 0; r < roots.length; r++) {
    const root = roots[r]!;
    if (!root.requiresGrad || root._mark === mark) continue;
    root._mark = mark;
    stack.push(root);
    next.push(0);
    while (stack.length) {
      const top = stack.length - 1;
      const t = stack[top]!;
      const i = next[top]!;
      const node = t.node;
      const inputs = node === null ? NO_INPUTS : node.inputs;
      if (i < inputs.length) {
        next[top] = i + 1;
        const c = inputs[i]!;
        if (c.requiresGrad && c._mark !== mark) {
          c._mark = mark;
          stack.push(c);
          next.push(0);
        }
      } else {
        stack.pop();
        next.pop();
        t._topo = order.length;
        order.push(t);
      }
    }
  }
  return order;
}

/** @internal Stamps `order` again after a sweep nested in one of its VJPs took the stamps over. @example `restamp(order, mark)` */
export function restamp(order: Tensor[], mark: number): void {
  for (let k = 0; k < order.length; k++) {
    order[k]!._mark = mark;
    order[k]!._topo = k;
  }
}
