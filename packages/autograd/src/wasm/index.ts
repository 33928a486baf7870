import type { Backend } from "../backend.js";
import { DeltagradError } from "../errors.js";
import * as ops from "./dispatch/index.js";
import { WasmBuffer, type WasmMemoryStats } from "./memory.js";
import { runtime, runtimeStarted, wasmSimdSupported } from "./runtime.js";

export { wasmSimdSupported, relaxedSimdSupported, setWasmFma, wasmFma } from "./runtime.js";
export { setNumThreads, getNumThreads, activeThreads, threadsReady, workerKind } from "./threads.js";
export type { WasmMemoryStats } from "./memory.js";

let checked = false;

/** Throws a clear error where WebAssembly SIMD is missing (the backend is only usable with it). */
function ready(): void {
  if (checked) return;
  if (!wasmSimdSupported()) throw new DeltagradError('wasm backend: this engine has no WebAssembly 128-bit SIMD; use setBackend("cpu")');
  runtime();
  checked = true;
}

/**
 * The `wasm` backend: tensors of 4 KiB and more live in one WebAssembly memory and every hot
 * float32 kernel — matmul (packed, register-tiled, transposes fused into packing, split across
 * worker threads), elementwise ops with broadcasting, comparisons, `where`, reductions,
 * arg-reductions, im2col/col2im, transposes and strided copies — runs as 128-bit SIMD WebAssembly
 * generated at start-up by emit.ts. Small tensors and float64 stay TypedArrays on the JS heap and
 * take the cpu kernels, so a scalar graph costs what it costs on cpu and gradcheck keeps float64.
 * Large float32 elementwise chains are deferred and run fused, and large products deferred, when
 * a kernel or a read needs them (lazy.ts). Memory is released without `tidy()` (see lifetime.ts and memory.ts).
 *
 * @example
 * ```ts
 * setBackend("wasm");
 * matmul(randn([256, 256]), randn([256, 256])); // the SIMD sgemm
 * getBackend().name; // "wasm"
 * ```
 */
export const wasmBackend: Backend = {
  name: "wasm",
  synchronous: true,
  supports: () => true,

  retain: ops.retain,
  release: ops.release,

  upload(values, dtype) {
    ready();
    return ops.upload(values, dtype);
  },
  readSync: (d, dtype, n) => ops.readView(d, dtype, n),
  read: async (d, dtype, n) => ops.hostView(d, dtype, n),
  write(dst, src, dtype, n) {
    const values = ops.hostView(src, dtype, n).slice();
    if (dst instanceof WasmBuffer) {
      const heap = runtime().heap;
      heap.nextEpoch();
      const p = heap.pinResident(dst);
      heap.u8.set(new Uint8Array(values.buffer), p);
    } else ops.hostView(dst, dtype, n).set(values);
  },
  fill(dtype, n, value) {
    ready();
    return ops.fill(dtype, n, value);
  },

  unary: (op, x, dtype, n) => ops.unary(op, x, dtype, n),
  binary: (op, x, xs, y, ys, outShape, dtype) => ops.binary(op, x, xs, y, ys, outShape, dtype),
  compare: (op, x, xs, y, ys, outShape, dtype) => ops.compare(op, x, xs, y, ys, outShape, dtype),
  where: (c, cs, x, xs, y, ys, outShape, dtype) => ops.where(c, cs, x, xs, y, ys, outShape, dtype),
  cast: (x, from, to, n) => ops.cast(x, from, to, n),
  reduce: (op, x, shape, axes, dtype) => ops.reduce(op, x, shape, axes, dtype),
  argReduce: (op, x, shape, axis, dtype) => ops.argReduce(op, x, shape, axis, dtype),
  expand: (x, shape, outShape, dtype) => ops.expand(x, shape, outShape, dtype),
  permute: (x, shape, perm, dtype) => ops.permute(x, shape, perm, dtype),
  slice: (x, shape, begin, size, dtype) => ops.slice(x, shape, begin, size, dtype),
  pad: (x, shape, pads, value, dtype) => ops.pad(x, shape, pads, value, dtype),
  concat: (xs, shapes, axis, dtype) => ops.concat(xs, shapes, axis, dtype),
  matmul: (x, xs, y, ys, outShape, dtype) => ops.matmul(x, xs, y, ys, outShape, dtype),
  gather: (x, shape, idx, n, axis, dtype) => ops.gather(x, shape, idx, n, axis, dtype),
  scatterAdd: (g, idx, n, outShape, axis, dtype) => ops.scatterAdd(g, idx, n, outShape, axis, dtype),
  unfold: (x, shape, p, dtype) => ops.unfold(x, shape, p, dtype),
  fold: (cols, outShape, p, dtype) => ops.fold(cols, outShape, p, dtype),
  windowArgmax: (x, shape, p, dtype) => ops.windowArgmax(x, shape, p, dtype),
};

/**
 * The wasm backend's memory: the WebAssembly memory's size, the bytes in live blocks, resident
 * tensors, the budget and the resident target, how many blocks were evicted to the JS heap (a
 * live tensor held them), reclaimed (the garbage collector had taken every tensor holding them)
 * and brought back (refaults) — all zero before first use. See docs/memory.md.
 *
 * @example
 * ```ts
 * wasmMemoryStats().inUseBytes; // bytes of live tensor storage in wasm memory
 * ```
 */
export function wasmMemoryStats(): WasmMemoryStats {
  if (!runtimeStarted()) {
    return { memoryBytes: 0, inUseBytes: 0, residentBuffers: 0, budgetBytes: 0, targetBytes: 0, evictions: 0, evictedBytes: 0, reclaimed: 0, reclaimedBytes: 0, refaults: 0 };
  }
  return runtime().heap.stats();
}

/**
 * Sets the most bytes the wasm backend's WebAssembly memory grows to (default 1 GiB; it grows
 * past it only when the blocks of one kernel call alone do not fit). Tensors dropped by user code
 * are swept once resident storage passes a target of 256 MiB or ¾ of the budget, whichever is
 * less: freed where the garbage collector has collected them, else evicted to the JavaScript
 * heap. Storage the library frees itself is reused at once and never waits for this.
 *
 * @example
 * ```ts
 * setWasmMemoryBudget(256 * 2 ** 20); // 256 MiB
 * ```
 */
export function setWasmMemoryBudget(bytes: number): void {
  if (typeof bytes !== "number" || !(bytes >= 1 << 20) || !Number.isFinite(bytes)) {
    throw new DeltagradError(`setWasmMemoryBudget: expected a number of bytes ≥ 1 MiB, got ${String(bytes)}`);
  }
  ready();
  runtime().heap.budget = bytes;
}

/**
 * Bytes of WebAssembly memory the wasm backend holds (0 before first use). Wasm memory never
 * shrinks; see {@link wasmMemoryStats} for what is in use.
 *
 * @example
 * ```ts
 * wasmArenaBytes(); // size of the backend's WebAssembly memory
 * ```
 */
export function wasmArenaBytes(): number {
  return wasmMemoryStats().memoryBytes;
}
