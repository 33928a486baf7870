import { DeltagradError } from "./errors.js";
import type { Tensor } from "./tensor.js";

/**
 * @internal compile()'s recorder while it traces (compile/record.ts): told of every random tensor
 * (its generator and draw), so a replay draws fresh numbers in the same order as eager code.
 */
export const randomHooks: { drawn: ((t: Tensor, g: Generator, draw: (g: Generator) => number) => void) | null } = { drawn: null };
/**
 * A small seeded generator (xoshiro128**, 32-bit integer arithmetic only, so the same seed gives
 * the same integer stream on every platform). Doubles use 53 random bits; normals use Box–Muller.
 *
 * @example
 * ```ts
 * const g = new Generator(42);
 * g.uniform(); // in [0, 1)
 * ```
 */
export class Generator {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  constructor(seed = 0) {
    this.seed(seed);
  }

  /** Resets the state from a seed (splitmix32 expansion). */
  seed(seed: number): void {
    if (typeof seed !== "number" || !Number.isFinite(seed)) throw new DeltagradError(`Generator: seed must be a finite number, got ${typeof seed === "number" ? seed : typeof seed}`);
    let x = (Math.trunc(seed) >>> 0) ^ Math.trunc(seed / 4294967296);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
    this.spare = null;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** A double uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** A standard normal sample. */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** An integer uniform in [low, high). */
  int(low: number, high: number): number {
    return low + Math.floor(this.uniform() * (high - low));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * The default generator used by `rand`, `randn`, initializers, dropout and shuffling.
 *
 * @example
 * ```ts
 * defaultGenerator.uniform(); // the stream manualSeed(n) resets
 * ```
 */
export const defaultGenerator = new Generator(0);

/**
 * Reseeds the default generator, like `torch.manual_seed`.
 *
 * @example
 * ```ts
 * manualSeed(0); const a = randn([3]);
 * manualSeed(0); const b = randn([3]); // same values as a
 * ```
 */
export function manualSeed(seed: number): void {
  if (typeof seed !== "number" || !Number.isFinite(seed)) throw new DeltagradError(`manualSeed: seed must be a finite number, got ${typeof seed === "number" ? seed : typeof seed}`);
  defaultGenerator.seed(seed);
}
