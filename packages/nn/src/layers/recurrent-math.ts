/**
 * @internal The recurrent cell math shared by the sequence layers (recurrent.ts) and the single-step
 * cells (recurrent-cells.ts). Not re-exported from the package index.
 */
import * as ag from "@deltagrad/autograd";
import type { Tensor } from "@deltagrad/autograd";

/** @internal The recurrence: an Elman RNN with tanh or relu, an LSTM or a GRU. */
export type Mode = "tanh" | "relu" | "lstm" | "gru";
/** @internal Gates per mode: the weights have GATES[mode]·hiddenSize rows. */
export const GATES: Record<Mode, number> = { tanh: 1, relu: 1, lstm: 4, gru: 3 };

/** @internal Columns [k·H, (k+1)·H) of a `[N, G·H]` tensor: gate k. */
export function gate(t: Tensor, k: number, H: number): Tensor {
  return ag.slice(t, [0, k * H], [t.shape[0]!, H]);
}

/** @internal One direction of one layer: transposed weights and biases. */
export interface LayerWeights {
  wIhT: Tensor; // [I, G·H]
  wHhT: Tensor; // [H, G·H]
  bIh: Tensor | null;
  bHh: Tensor | null;
}

/**
 * One time step of one layer. `gx` = x_t·W_ihᵀ + b_ih `[N, G·H]`; `state` = [h] or [h, c].
 *
 * RNN:  h' = act(gx + h·W_hhᵀ + b_hh)
 * LSTM: [i, f, g, o] = gx + h·W_hhᵀ + b_hh;  c' = σ(f)⊙c + σ(i)⊙tanh(g);  h' = σ(o)⊙tanh(c')
 * GRU:  gh = h·W_hhᵀ + b_hh;  r = σ(gx_r + gh_r);  z = σ(gx_z + gh_z);
 *       n = tanh(gx_n + r⊙gh_n);  h' = (1 − z)⊙n + z⊙h = n + z⊙(h − n)
 */
export function step(mode: Mode, gx: Tensor, state: Tensor[], w: LayerWeights, H: number): Tensor[] {
  const h = state[0]!;
  let gh = ag.matmul(h, w.wHhT);
  if (w.bHh) gh = ag.add(gh, w.bHh);
  switch (mode) {
    case "tanh": return [ag.tanh(ag.add(gx, gh))];
    case "relu": return [ag.relu(ag.add(gx, gh))];
    case "lstm": {
      const a = ag.add(gx, gh);
      const c = ag.add(ag.mul(ag.sigmoid(gate(a, 1, H)), state[1]!), ag.mul(ag.sigmoid(gate(a, 0, H)), ag.tanh(gate(a, 2, H))));
      return [ag.mul(ag.sigmoid(gate(a, 3, H)), ag.tanh(c)), c];
    }
    case "gru": {
      const r = ag.sigmoid(ag.add(gate(gx, 0, H), gate(gh, 0, H)));
      const z = ag.sigmoid(ag.add(gate(gx, 1, H), gate(gh, 1, H)));
      const n = ag.tanh(ag.add(gate(gx, 2, H), ag.mul(r, gate(gh, 2, H))));
      return [ag.add(n, ag.mul(z, ag.sub(h, n)))];
    }
  }
}
