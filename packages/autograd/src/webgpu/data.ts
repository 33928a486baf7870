/**
 * A tensor's storage on the GPU (see device.ts for the pool and the lifetimes) and the pool's
 * size classes.
 */
import type { GpuRuntime } from "./device.js";
import type { GpuBuffer } from "./types.js";

/** A tensor's storage on the GPU: a pooled buffer, shared by tensors that share storage (reshape, detach). */
export class GpuData {
  refs = 0;
  /**
   * Set while this storage is a transpose of the last two axes of `src` that no kernel has
   * written yet: matmul reads `src` transposed instead (no copy); any other use of `buffer`
   * runs `write` first (GpuRuntime.materialize). `src` is referenced until then.
   */
  pending: { src: GpuData; write: (out: GpuData) => void } | null = null;
  constructor(
    private _buffer: GpuBuffer | null,
    /** Bytes holding elements (4 per element; the buffer may be larger). */
    readonly bytes: number,
    private readonly rt: GpuRuntime | null = null,
  ) {}

  get buffer(): GpuBuffer {
    if (this._buffer === null) this.rt!.materialize(this);
    return this._buffer!;
  }

  /** @internal Gives a pending transpose its buffer (GpuRuntime.materialize). */
  _adopt(b: GpuBuffer): void {
    this._buffer = b;
  }
}

/** Rounds a byte count up to its pool class: ≥ 256 bytes, then 4 steps per power of two (≤ 25% slack). */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(256, p / 4);
  return Math.ceil(bytes / step) * step;
}
