/**
 * Single-step recurrent cells, PyTorch's `nn.RNNCell`, `nn.LSTMCell` and `nn.GRUCell`: one time
 * step of the math of {@link RNN}, {@link LSTM} and {@link GRU} (same gate order), for loops the
 * caller writes. Parameters `weight_ih` `[G·H, I]`, `weight_hh` `[G·H, H]`, `bias_ih`, `bias_hh`
 * `[G·H]`, in PyTorch's layouts, uniform in ±1/√H.
 */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, defaultGenerator, isFloat, type Generator } from "@deltagrad/autograd";
import { uniform } from "../init.js";
import { Module, builtInModules, parameter } from "../module.js";
import { describeValue, optionsOf, floatDType, fmt, positiveInt } from "../options.js";
import { GATES, step, type Mode } from "./recurrent-math.js";


export interface RecurrentCellOptions {
  /** Use `bias_ih` and `bias_hh`. Default true. */
  bias?: boolean;
  /** Parameter dtype: float32 (default) or float64. */
  dtype?: "float32" | "float64";
  /** Generator for the initial weights. */
  generator?: Generator;
}

/**
 * The shared part of {@link RNNCell}, {@link LSTMCell} and {@link GRUCell}: parameters, shape
 * checks (input `[N, inputSize]` or unbatched `[inputSize]`, states `[N, H]` or `[H]`) and the step.
 *
 * @example
 * ```ts
 * const cells: RecurrentCellBase<any, any>[] = [new RNNCell(3, 4), new LSTMCell(3, 4), new GRUCell(3, 4)];
 * cells.map((c) => c.weight_ih.shape[0]); // [4, 16, 12]
 * ```
 */
export abstract class RecurrentCellBase<In extends unknown[], Out> extends Module<In, Out> {
  readonly weight_ih: Tensor;
  readonly weight_hh: Tensor;
  readonly bias_ih: Tensor | null;
  readonly bias_hh: Tensor | null;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly mode: Mode;

  protected constructor(name: string, mode: Mode, inputSize: number, hiddenSize: number, options: RecurrentCellOptions) {
    const { bias = true, dtype, generator = defaultGenerator } = options;
    super();
    this.inputSize = positiveInt(name, "inputSize", inputSize);
    this.hiddenSize = positiveInt(name, "hiddenSize", hiddenSize);
    if (GATES[mode] * hiddenSize * Math.max(inputSize, hiddenSize) > 2 ** 31 - 1) {
      throw new DeltagradError(`${name}: inputSize ${inputSize} and hiddenSize ${hiddenSize} are too large (a weight would exceed 2³¹−1 elements)`);
    }
    if (typeof bias !== "boolean") throw new DeltagradError(`${name}: bias must be a boolean, got ${describeValue(bias)}`);
    const dt = floatDType(name, dtype);
    const G = GATES[mode] * hiddenSize;
    const bound = 1 / Math.sqrt(hiddenSize);
    const make = (shape: number[]) => parameter(uniform(ag.zeros(shape, { dtype: dt }), { low: -bound, high: bound, generator }));
    this.weight_ih = make([G, inputSize]);
    this.weight_hh = make([G, hiddenSize]);
    this.bias_ih = bias ? make([G]) : null;
    this.bias_hh = bias ? make([G]) : null;
    this.mode = mode;
  }

  protected name(): string {
    return `${this.constructor.name}(${this.inputSize}, ${this.hiddenSize})`;
  }

  /** One step from `x` and the states (null: zeros); returns the new states in the input's batching. */
  protected cell(x: unknown, states: (Tensor | null | undefined)[], names: string[]): Tensor[] {
    const where = this.name();
    if (!(x instanceof Tensor)) throw new DeltagradError(`${where}: expected a Tensor input, got ${describeValue(x)}`);
    if (!isFloat(x.dtype)) throw new DeltagradError(`${where}: input must be float32 or float64, got ${x.dtype}`);
    if ((x.rank !== 1 && x.rank !== 2) || x.shape[x.rank - 1] !== this.inputSize) {
      throw new DeltagradError(`${where}: input must be [N, ${this.inputSize}] or unbatched [${this.inputSize}], got ${fmt(x.shape)}`);
    }
    const unbatched = x.rank === 1;
    const xs = unbatched ? ag.unsqueeze(x, 0) : x;
    const N = xs.shape[0]!;
    const H = this.hiddenSize;
    const expected = unbatched ? [H] : [N, H];
    const state = names.map((n, i) => {
      const s = states[i];
      if (s === null || s === undefined) return ag.zeros([N, H], { dtype: x.dtype });
      if (!(s instanceof Tensor) || !isFloat(s.dtype) || s.shape.join() !== expected.join()) {
        throw new DeltagradError(`${where}: ${n} must be a float tensor of shape ${fmt(expected)} for input ${fmt(x.shape)}, got ${s instanceof Tensor ? `${s.dtype} ${fmt(s.shape)}` : describeValue(s)}`);
      }
      return unbatched ? ag.unsqueeze(s, 0) : s;
    });
    const w = { wIhT: ag.transpose(this.weight_ih), wHhT: ag.transpose(this.weight_hh), bIh: this.bias_ih, bHh: this.bias_hh };
    const gx = w.bIh ? ag.add(ag.matmul(xs, w.wIhT), w.bIh) : ag.matmul(xs, w.wIhT);
    const next = step(this.mode, gx, state, w, H);
    return unbatched ? next.map((t) => ag.squeeze(t, 0)) : next;
  }

  override extraRepr(): string {
    return `${this.inputSize}, ${this.hiddenSize}, bias=${this.bias_ih !== null}`;
  }
}

/**
 * One step of an Elman RNN, PyTorch's `nn.RNNCell`: h′ = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh),
 * act = tanh (default) or relu. `call(x, h?)` → h′; x `[N, I]` or `[I]`, h `[N, H]` or `[H]` (zeros when omitted).
 *
 * @example
 * ```ts
 * const cell = new RNNCell(3, 5);
 * let h = zeros([2, 5]);
 * for (const x of [randn([2, 3]), randn([2, 3])]) h = cell.call(x, h);
 * h.shape; // [2, 5]
 * ```
 */
export class RNNCell extends RecurrentCellBase<[x: Tensor, h?: Tensor | null], Tensor> {
  readonly nonlinearity: "tanh" | "relu";
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentCellOptions & { nonlinearity?: "tanh" | "relu" }) {
    const o = optionsOf("RNNCell", options);
    const { nonlinearity = "tanh" } = o;
    if (nonlinearity !== "tanh" && nonlinearity !== "relu") throw new DeltagradError(`RNNCell: nonlinearity must be "tanh" or "relu", got ${describeValue(nonlinearity)}`);
    super("RNNCell", nonlinearity, inputSize, hiddenSize, o);
    this.nonlinearity = nonlinearity;
  }

  /** h′. @example `h = cell.forward(x, h)` */
  forward(x: Tensor, h?: Tensor | null): Tensor {
    return this.cell(x, [h], ["h"])[0]!;
  }
}

/**
 * One step of an LSTM, PyTorch's `nn.LSTMCell` (gates i, f, g, o): c′ = f⊙c + i⊙g, h′ = o⊙tanh(c′).
 * `call(x, [h, c]?)` → `[h′, c′]`.
 *
 * @example
 * ```ts
 * const cell = new LSTMCell(3, 5);
 * const [h, c] = cell.call(randn([2, 3]));
 * cell.call(randn([2, 3]), [h, c])[1].shape; // [2, 5]
 * ```
 */
export class LSTMCell extends RecurrentCellBase<[x: Tensor, state?: [Tensor, Tensor] | null], [Tensor, Tensor]> {
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentCellOptions) {
    super("LSTMCell", "lstm", inputSize, hiddenSize, optionsOf("LSTMCell", options));
  }

  /** `[h′, c′]`. @example `[h, c] = cell.forward(x, [h, c])` */
  forward(x: Tensor, state?: [Tensor, Tensor] | null): [Tensor, Tensor] {
    if (state !== undefined && state !== null && (!Array.isArray(state) || state.length !== 2)) {
      throw new DeltagradError(`${this.name()}: the state must be a pair [h, c], got ${Array.isArray(state) ? `an array of ${state.length}` : describeValue(state)}`);
    }
    const [h, c] = this.cell(x, state ?? [], ["h", "c"]);
    return [h!, c!];
  }
}

/**
 * One step of a GRU, PyTorch's `nn.GRUCell` (gates r, z, n; n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn))).
 * `call(x, h?)` → h′.
 *
 * @example
 * ```ts
 * const cell = new GRUCell(3, 5);
 * cell.call(randn([3])).shape; // [5] (unbatched)
 * ```
 */
export class GRUCell extends RecurrentCellBase<[x: Tensor, h?: Tensor | null], Tensor> {
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentCellOptions) {
    super("GRUCell", "gru", inputSize, hiddenSize, optionsOf("GRUCell", options));
  }

  /** h′. @example `h = cell.forward(x, h)` */
  forward(x: Tensor, h?: Tensor | null): Tensor {
    return this.cell(x, [h], ["h"])[0]!;
  }
}

builtInModules(RNNCell, LSTMCell, GRUCell);
