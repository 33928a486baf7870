/**
 * The compiled kernel module and the heap it runs on, created together on first use. The memory
 * is shared (so worker threads can run kernels on it) wherever the engine allows a shared
 * WebAssembly.Memory — Node, Deno, cross-origin-isolated pages — and plain otherwise.
 */
import { type Code, ModuleBuilder, v128 } from "./emit.js";
import { type KernelExports, kernelModule } from "./kernels.js";
import { Heap } from "./memory.js";
import { DeltagradError } from "../errors.js";
import { describe } from "../shape.js";

/** The wasm32 limit, 4 GiB, as a shared memory's declared maximum (address space only). */
const MAX_PAGES = 65536;
/** Bytes at address 0 reserved for the thread pool's control block (threads.ts). */
export const CONTROL_BYTES = 4096;
/** Default budget of resident tensor memory before cold blocks are evicted to the JS heap. */
export const DEFAULT_BUDGET = 1 << 30;

/**
 * Whether this engine validates a module using 128-bit SIMD (Node ≥ 16.4, Deno, current browsers).
 *
 * @example
 * ```ts
 * wasmSimdSupported(); // true on Node ≥ 16.4, Deno and current browsers
 * ```
 */
export function wasmSimdSupported(): boolean {
  return validates((c) => c.v128Zero());
}

/** Whether this engine validates a one-function module returning a v128 made by `body`. */
function validates(body: (c: Code) => void): boolean {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.validate !== "function") return false;
  try {
    return WebAssembly.validate(new ModuleBuilder().func("probe", [], [v128], body).encode());
  } catch {
    return false;
  }
}

/**
 * Whether this engine validates relaxed SIMD's `f32x4.relaxed_madd` (Node ≥ 22, Deno, Chrome ≥ 114;
 * not Node 20 without `--experimental-wasm-relaxed-simd`). Where it does, the sgemm accumulates
 * with it — one fused multiply-add per step where the hardware has FMA (see {@link setWasmFma}).
 *
 * @example
 * ```ts
 * relaxedSimdSupported(); // true on Node ≥ 22 and Deno
 * ```
 */
export function relaxedSimdSupported(): boolean {
  relaxed ??= validates((c) => c.v128Zero().v128Zero().v128Zero().f32x4RelaxedMadd());
  return relaxed;
}

let relaxed: boolean | undefined;

let fmaWanted = true;

/**
 * Whether the wasm sgemm (matmul, convolutions) may accumulate with relaxed SIMD's fused
 * multiply-add where the engine supports it (the default: on Node ≥ 22, Deno and Chrome a compiled
 * training step ran 1.10–1.15× faster with it, and on hardware with FMA each product is rounded
 * once instead of twice). Turn it off for results that are bit-identical across machines and
 * engines (a relaxed multiply-add is fused on hardware with FMA and not elsewhere); on one machine
 * results are the same either way on 1 and 2 threads. The kernels are compiled once, so call it before the first wasm operation.
 *
 * @example
 * ```ts
 * setWasmFma(false); // before any wasm op: plain multiply then add, on every engine
 * ```
 */
export function setWasmFma(enabled: boolean): void {
  if (typeof enabled !== "boolean") throw new DeltagradError(`setWasmFma: expected a boolean, got ${describe(enabled)}`);
  if (rt !== undefined && rt.fma !== (enabled && relaxedSimdSupported())) {
    throw new DeltagradError(`setWasmFma(${enabled}): the wasm kernels were already compiled ${rt.fma ? "with" : "without"} fused multiply-add; call it before the first wasm operation`);
  }
  fmaWanted = enabled;
}

/**
 * Whether the wasm sgemm uses relaxed SIMD's multiply-add: as compiled, once the kernels exist,
 * and as they would be compiled now before that.
 *
 * @example
 * ```ts
 * wasmFma(); // true on Node ≥ 22 and Deno unless setWasmFma(false) was called first
 * ```
 */
export function wasmFma(): boolean {
  return rt !== undefined ? rt.fma : fmaWanted && relaxedSimdSupported();
}

/** Whether a shared WebAssembly.Memory can be created here (needed for worker threads). */
export function sharedMemorySupported(): boolean {
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

export interface Runtime {
  readonly heap: Heap;
  readonly k: KernelExports;
  /** The compiled module (workers instantiate it on the same memory). */
  readonly module: WebAssembly.Module;
  /** Whether its sgemm accumulates with relaxed SIMD's multiply-add. */
  readonly fma: boolean;
}

let rt: Runtime | undefined;

/** The runtime, compiling the kernels on first use (a few milliseconds). */
export function runtime(): Runtime {
  if (rt) return rt;
  const shared = sharedMemorySupported();
  const heap = new Heap({ shared, budget: DEFAULT_BUDGET, reserved: CONTROL_BYTES });
  const fma = fmaWanted && relaxedSimdSupported();
  const module = new WebAssembly.Module(kernelModule(shared ? MAX_PAGES : undefined, fma));
  const instance = new WebAssembly.Instance(module, { env: { mem: heap.memory } });
  rt = { heap, k: instance.exports as unknown as KernelExports, module, fma };
  return rt;
}

/** Whether the runtime has been created (stats before first use report zeros). */
export function runtimeStarted(): boolean {
  return rt !== undefined;
}
