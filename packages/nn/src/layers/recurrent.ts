/**
 * Recurrent layers with PyTorch's semantics, gate order, parameter names and layouts:
 * `RNN` (tanh or ReLU), `LSTM` (gates i, f, g, o) and `GRU` (gates r, z, n).
 *
 * Per layer k: `weight_ih_l{k}` [G·H, I] (I = inputSize for k = 0, else H), `weight_hh_l{k}`
 * [G·H, H], `bias_ih_l{k}` and `bias_hh_l{k}` [G·H], G = 1, 4 or 3. These are PyTorch's layouts
 * (`W x`, not transposed like a deltagrad `Linear`), so a PyTorch state dict loads unchanged.
 * Every parameter starts uniform in ±1/√H, as in PyTorch.
 *
 * The input part `x·W_ihᵀ + b_ih` is one matmul over the whole sequence; the recurrence then
 * runs one step per time index, composed from public ops (so gradients of any order flow).
 */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, defaultGenerator, isFloat, type Generator } from "@deltagrad/autograd";
import { uniform } from "../init.js";
import { dropout } from "./dropout.js";
import { Module, builtInModules } from "../module.js";
import { describeValue, optionsOf, floatDType, fmt, positiveInt } from "../options.js";
import { GATES, step, type LayerWeights, type Mode } from "./recurrent-math.js";


export interface RecurrentOptions {
  /** Stacked layers; layer k > 0 reads layer k − 1's outputs. Default 1. */
  numLayers?: number;
  /** Use `bias_ih_l{k}` and `bias_hh_l{k}`. Default true. */
  bias?: boolean;
  /** Input and output are `[N, L, features]` instead of `[L, N, features]` (states stay `[numLayers, N, H]`). Default false. */
  batchFirst?: boolean;
  /** Dropout probability on every layer's output except the last, in training mode. Default 0. */
  dropout?: number;
  /**
   * A second set of weights per layer (`…_reverse`) runs over the sequence backwards; the output
   * joins both directions' states (2·hiddenSize features) and the states stack them per layer
   * (`[2·numLayers, N, H]`: layer 0 forward, layer 0 reverse, layer 1 forward, …). Default false.
   */
  bidirectional?: boolean;
  /** Parameter dtype: float32 (default) or float64. */
  dtype?: "float32" | "float64";
  /** Generator for the initial weights (and the dropout masks). */
  generator?: Generator;
}

export interface RNNOptions extends RecurrentOptions {
  /** h' = tanh(…) (default) or relu(…). */
  nonlinearity?: "tanh" | "relu";
}

/**
 * The shared machinery of {@link RNN}, {@link LSTM} and {@link GRU}: parameters, shape checks,
 * batch-first and unbatched handling, and the layer/time loops.
 *
 * @example
 * ```ts
 * const layers: RecurrentBase<any, any>[] = [new RNN(3, 4), new LSTM(3, 4), new GRU(3, 4)];
 * layers.map((m) => m.hiddenSize); // [4, 4, 4]
 * ```
 */
export abstract class RecurrentBase<In extends unknown[], Out> extends Module<In, Out> {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly mode: Mode;
  readonly #generator: Generator;

  protected constructor(name: string, mode: Mode, inputSize: number, hiddenSize: number, options: RecurrentOptions) {
    const { numLayers = 1, bias = true, batchFirst = false, dropout: p = 0, bidirectional = false, dtype, generator = defaultGenerator } = options;
    super();
    this.inputSize = positiveInt(name, "inputSize", inputSize);
    this.hiddenSize = positiveInt(name, "hiddenSize", hiddenSize);
    this.numLayers = positiveInt(name, "numLayers", numLayers);
    if (GATES[mode] * hiddenSize * Math.max(inputSize, 2 * hiddenSize) > 2 ** 31 - 1) {
      throw new DeltagradError(`${name}: inputSize ${inputSize} and hiddenSize ${hiddenSize} are too large (a weight would exceed 2³¹−1 elements)`);
    }
    if (typeof bias !== "boolean") throw new DeltagradError(`${name}: bias must be a boolean, got ${describeValue(bias)}`);
    if (typeof batchFirst !== "boolean") throw new DeltagradError(`${name}: batchFirst must be a boolean, got ${describeValue(batchFirst)}`);
    if (typeof bidirectional !== "boolean") throw new DeltagradError(`${name}: bidirectional must be a boolean, got ${describeValue(bidirectional)}`);
    if (typeof p !== "number" || !(p >= 0 && p < 1)) throw new DeltagradError(`${name}: dropout must be a number in [0, 1), got ${describeValue(p)}`);
    const dt = floatDType(name, dtype);
    this.bias = bias;
    this.batchFirst = batchFirst;
    this.dropout = p;
    this.bidirectional = bidirectional;
    this.mode = mode;
    this.#generator = generator;
    const G = GATES[mode] * hiddenSize;
    const bound = 1 / Math.sqrt(hiddenSize);
    const make = (shape: number[]) => uniform(ag.zeros(shape, { dtype: dt }), { low: -bound, high: bound, generator });
    // PyTorch's order: per layer, the forward direction's four tensors, then the reverse one's.
    for (let k = 0; k < this.numLayers; k++) {
      for (const sfx of bidirectional ? ["", "_reverse"] : [""]) {
        this.registerParameter(`weight_ih_l${k}${sfx}`, make([G, k === 0 ? inputSize : (bidirectional ? 2 : 1) * hiddenSize]));
        this.registerParameter(`weight_hh_l${k}${sfx}`, make([G, hiddenSize]));
        if (bias) {
          this.registerParameter(`bias_ih_l${k}${sfx}`, make([G]));
          this.registerParameter(`bias_hh_l${k}${sfx}`, make([G]));
        }
      }
    }
  }

  /** Layer k's weights, read by name each call (so `to(dtype)` and `loadStateDict` are seen). */
  #weights(own: Map<string, Tensor>, k: number, sfx: string): LayerWeights {
    return {
      wIhT: ag.transpose(own.get(`weight_ih_l${k}${sfx}`)!),
      wHhT: ag.transpose(own.get(`weight_hh_l${k}${sfx}`)!),
      bIh: this.bias ? own.get(`bias_ih_l${k}${sfx}`)! : null,
      bHh: this.bias ? own.get(`bias_hh_l${k}${sfx}`)! : null,
    };
  }

  protected name(): string {
    return `${this.constructor.name}(${this.inputSize}, ${this.hiddenSize}${this.numLayers > 1 ? `, numLayers=${this.numLayers}` : ""}${this.bidirectional ? ", bidirectional" : ""})`;
  }

  /**
   * Runs every layer over the sequence. `x` is the call's input; `states` the initial states
   * (one tensor per kind: [h] or [h, c]) or null for zeros. Returns the output in the input's
   * layout and the final states `[D·numLayers, N, H]` (`[D·numLayers, H]` for unbatched input),
   * D = 2 when bidirectional, else 1.
   */
  protected run(x: unknown, states: (Tensor | null | undefined)[] | null, stateNames: string[]): [Tensor, Tensor[]] {
    const where = this.name();
    if (!(x instanceof Tensor)) throw new DeltagradError(`${where}: expected a Tensor input, got ${describeValue(x)}`);
    if (!isFloat(x.dtype)) throw new DeltagradError(`${where}: input must be float32 or float64, got ${x.dtype}`);
    if (x.rank !== 2 && x.rank !== 3) {
      throw new DeltagradError(`${where}: input must be ${this.batchFirst ? "[N, L, inputSize]" : "[L, N, inputSize]"} (or unbatched [L, inputSize]), got ${fmt(x.shape)}`);
    }
    if (x.shape[x.rank - 1] !== this.inputSize) throw new DeltagradError(`${where}: input ${fmt(x.shape)} has ${x.shape[x.rank - 1]} features on its last axis, expected inputSize ${this.inputSize}`);
    const unbatched = x.rank === 2;
    // Time-major [L, N, I] inside; an unbatched sequence is a batch of one.
    const xs = unbatched ? ag.unsqueeze(x, 1) : this.batchFirst ? ag.transpose(x, 0, 1) : x;
    const [L, N] = [xs.shape[0]!, xs.shape[1]!];
    if (L === 0) throw new DeltagradError(`${where}: the sequence is empty (input ${fmt(x.shape)})`);
    const H = this.hiddenSize;
    const D = this.bidirectional ? 2 : 1;
    const S = D * this.numLayers;
    const expected = unbatched ? [S, H] : [S, N, H];
    const init = stateNames.map((n, i) => {
      const s = states?.[i];
      if (s === null || s === undefined) return ag.zeros([S, N, H], { dtype: x.dtype });
      if (!(s instanceof Tensor)) throw new DeltagradError(`${where}: ${n} must be a Tensor, got ${describeValue(s)}`);
      if (s.shape.join() !== expected.join()) {
        throw new DeltagradError(`${where}: ${n} must have shape ${fmt(expected)} ([${D === 2 ? "2·" : ""}numLayers, ${unbatched ? "" : "N, "}hiddenSize]), got ${fmt(s.shape)} for input ${fmt(x.shape)}`);
      }
      if (!isFloat(s.dtype)) throw new DeltagradError(`${where}: ${n} must be float32 or float64, got ${s.dtype}`);
      return unbatched ? ag.unsqueeze(s, 1) : s;
    });
    const own = new Map(this.namedOwnParameters());
    let seq = xs;
    const finals: Tensor[][] = stateNames.map(() => []);
    for (let k = 0; k < this.numLayers; k++) {
      const directions: Tensor[] = [];
      for (let d = 0; d < D; d++) {
        const w = this.#weights(own, k, d === 0 ? "" : "_reverse");
        // The input part of every step at once, as one [L·N, in]·[in, G·H] product.
        let gx = ag.matmul(ag.reshape(seq, [L * N, seq.shape[2]!]), w.wIhT);
        if (w.bIh) gx = ag.add(gx, w.bIh);
        const G = gx.shape[1]!;
        let state = init.map((s) => ag.reshape(ag.slice(s, [k * D + d, 0, 0], [1, N, H]), [N, H]));
        // The reverse direction reads t = L−1 … 0 and writes its state at each t's position.
        const outs = new Array<Tensor>(L);
        for (let i = 0; i < L; i++) {
          const t = d === 0 ? i : L - 1 - i;
          state = step(this.mode, ag.slice(gx, [t * N, 0], [N, G]), state, w, H);
          outs[t] = state[0]!;
        }
        state.forEach((s, i) => finals[i]!.push(s));
        directions.push(ag.stack(outs, 0));
      }
      seq = D === 2 ? ag.concat(directions, 2) : directions[0]!;
      if (this.dropout > 0 && this.training && k + 1 < this.numLayers) seq = dropout(seq, { p: this.dropout, generator: this.#generator });
    }
    const out = unbatched ? ag.squeeze(seq, 1) : this.batchFirst ? ag.transpose(seq, 0, 1) : seq;
    return [out, finals.map((f) => (unbatched ? ag.squeeze(ag.stack(f, 0), 1) : ag.stack(f, 0)))];
  }

  override extraRepr(): string {
    const extra = [`numLayers=${this.numLayers}`, `bias=${this.bias}`, `batchFirst=${this.batchFirst}`];
    if (this.bidirectional) extra.push("bidirectional=true");
    if (this.dropout) extra.push(`dropout=${this.dropout}`);
    return `${this.inputSize}, ${this.hiddenSize}, ${extra.join(", ")}`;
  }
}

/**
 * Elman RNN, PyTorch's `nn.RNN`: for each layer and time step
 * h_t = act(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh) with act = tanh (default) or relu.
 * `call(x, h0?)` → `[output, hN]`: x `[L, N, inputSize]` (`[N, L, inputSize]` with `batchFirst`,
 * or unbatched `[L, inputSize]`); output holds the last layer's h_t for every t; h0 and hN are
 * `[numLayers, N, hiddenSize]` (zeros when h0 is omitted).
 *
 * @example
 * ```ts
 * const rnn = new RNN(3, 8, { numLayers: 2, batchFirst: true });
 * const [out, hN] = rnn.call(randn([4, 10, 3]));
 * out.shape; // [4, 10, 8]
 * hN.shape;  // [2, 4, 8]
 * ```
 */
export class RNN extends RecurrentBase<[x: Tensor, h0?: Tensor | null], [Tensor, Tensor]> {
  readonly nonlinearity: "tanh" | "relu";
  constructor(inputSize: number, hiddenSize: number, options?: RNNOptions) {
    const o = optionsOf("RNN", options);
    const { nonlinearity = "tanh" } = o;
    if (nonlinearity !== "tanh" && nonlinearity !== "relu") throw new DeltagradError(`RNN: nonlinearity must be "tanh" or "relu", got ${describeValue(nonlinearity)}`);
    super("RNN", nonlinearity, inputSize, hiddenSize, o);
    this.nonlinearity = nonlinearity;
  }

  /** `[output, hN]`. @example `const [out, hN] = rnn.forward(x, h0)` */
  forward(x: Tensor, h0?: Tensor | null): [Tensor, Tensor] {
    const [out, [h]] = this.run(x, [h0], ["h0"]);
    return [out, h!];
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, nonlinearity="${this.nonlinearity}"`;
  }
}

/**
 * Long short-term memory, PyTorch's `nn.LSTM` (gates in the order i, f, g, o):
 * i, f, o = σ(·), g = tanh(·) of x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh;
 * c_t = f⊙c_{t−1} + i⊙g; h_t = o⊙tanh(c_t). `call(x, [h0, c0]?)` → `[output, [hN, cN]]`, states
 * `[numLayers, N, hiddenSize]`; weights `[4·hiddenSize, ·]`.
 *
 * @example
 * ```ts
 * const lstm = new LSTM(3, 5);
 * const [out, [hN, cN]] = lstm.call(randn([7, 2, 3]));
 * out.shape; // [7, 2, 5]
 * cN.shape;  // [1, 2, 5]
 * ```
 */
export class LSTM extends RecurrentBase<[x: Tensor, state?: [Tensor, Tensor] | null], [Tensor, [Tensor, Tensor]]> {
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentOptions) {
    super("LSTM", "lstm", inputSize, hiddenSize, optionsOf("LSTM", options));
  }

  /** `[output, [hN, cN]]`. @example `const [out, [h, c]] = lstm.forward(x, [h0, c0])` */
  forward(x: Tensor, state?: [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]] {
    if (state !== undefined && state !== null && (!Array.isArray(state) || state.length !== 2)) {
      throw new DeltagradError(`${this.name()}: the state must be a pair [h0, c0], got ${Array.isArray(state) ? `an array of ${state.length}` : describeValue(state)}`);
    }
    const [out, [h, c]] = this.run(x, state ?? null, ["h0", "c0"]);
    return [out, [h!, c!]];
  }
}

/**
 * Gated recurrent unit, PyTorch's `nn.GRU` (gates in the order r, z, n):
 * r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
 * n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)), h' = (1 − z)⊙n + z⊙h.
 * `call(x, h0?)` → `[output, hN]` as {@link RNN}; weights `[3·hiddenSize, ·]`.
 *
 * @example
 * ```ts
 * const gru = new GRU(3, 5, { batchFirst: true });
 * const [out, hN] = gru.call(randn([2, 7, 3]));
 * out.shape; // [2, 7, 5]
 * ```
 */
export class GRU extends RecurrentBase<[x: Tensor, h0?: Tensor | null], [Tensor, Tensor]> {
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentOptions) {
    super("GRU", "gru", inputSize, hiddenSize, optionsOf("GRU", options));
  }

  /** `[output, hN]`. @example `const [out, hN] = gru.forward(x, h0)` */
  forward(x: Tensor, h0?: Tensor | null): [Tensor, Tensor] {
    const [out, [h]] = this.run(x, [h0], ["h0"]);
    return [out, h!];
  }
}

builtInModules(RNN, LSTM, GRU);
