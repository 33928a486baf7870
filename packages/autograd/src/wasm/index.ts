import type { Backend } from "../backend.js";
import { cpuBackend } from "../cpu/index.js";
import { allocate } from "../dtype.js";
import { DeltagradError } from "../errors.js";
import { sizeOf } from "../shape.js";
import { binaryF32, runtime, sgemm, wasmSimdSupported } from "./runtime.js";

export { wasmSimdSupported } from "./runtime.js";

/**
 * The `wasm` backend, stage 1: tensors are TypedArrays exactly as on cpu (so tensors of the two
 * backends mix freely), and the hot float32 kernels — batched matmul and add/mul in their common
 * broadcasting patterns — run as 128-bit SIMD WebAssembly over a reused memory arena. Every
 * other kernel, every float64 kernel and the uncommon broadcasting patterns are the cpu
 * backend's. The kernels are compiled on first use, so registering it costs nothing.
 *
 * @example
 * ```ts
 * setBackend("wasm");
 * matmul(randn([256, 256]), randn([256, 256])); // runs the SIMD sgemm
 * getBackend().name; // "wasm"
 * ```
 */
export const wasmBackend: Backend = {
  ...cpuBackend,
  name: "wasm",

  binary(op, x, xs, y, ys, outShape, dtype) {
    // Small outputs (scalar graphs, W4) stay on the cpu loop: the arena copies cost more than
    // the arithmetic there, and add/mul give bit-identical float32 results on either side.
    if (dtype === "float32" && (op === "add" || op === "mul") && sizeOf(outShape) >= SMALL) {
      ready();
      const out = allocate(dtype, sizeOf(outShape)) as Float32Array;
      if (binaryF32(op, x as Float32Array, xs, y as Float32Array, ys, out, outShape)) return out;
    }
    return cpuBackend.binary(op, x, xs, y, ys, outShape, dtype);
  },

  matmul(x, xs, y, ys, outShape, dtype) {
    if (dtype !== "float32") return cpuBackend.matmul(x, xs, y, ys, outShape, dtype);
    ready();
    const out = allocate(dtype, sizeOf(outShape)) as Float32Array;
    sgemm(x as Float32Array, xs, y as Float32Array, ys, out, outShape);
    return out;
  },
};

/** Below this many output elements, add/mul run the cpu loop (see `binary`). */
const SMALL = 256;

let checked = false;

/** Throws a clear error where WebAssembly SIMD is missing (the backend is only usable with it). */
function ready(): void {
  if (checked) return;
  if (!wasmSimdSupported()) throw new DeltagradError("wasm backend: this engine has no WebAssembly 128-bit SIMD; use setBackend(\"cpu\")");
  runtime();
  checked = true;
}

/**
 * Bytes of WebAssembly memory the wasm backend's arena holds (its high-water mark; 0 before first use).
 *
 * @example
 * ```ts
 * wasmArenaBytes(); // bytes of wasm memory the kernels have grown to
 * ```
 */
export function wasmArenaBytes(): number {
  return checked ? runtime().bytes : 0;
}

let threads = 1;

/**
 * Sets how many threads the wasm backend's matmul and convolution kernels use (1 = the calling
 * thread only). Results are bit-for-bit identical whatever the count.
 *
 * @example
 * ```ts
 * setNumThreads(2); getNumThreads(); // 2
 * ```
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new DeltagradError(`setNumThreads: expected an integer from 1 to 256, got ${String(n)}`);
  threads = n;
}

/** The wasm backend's thread count (see {@link setNumThreads}). @example `getNumThreads() // 1` */
export function getNumThreads(): number {
  return threads;
}
