/**
 * The compiled kernel module and the heap it runs on, created together on first use. The memory
 * is shared (so worker threads can run kernels on it) wherever the engine allows a shared
 * WebAssembly.Memory — Node, Deno, cross-origin-isolated pages — and plain otherwise.
 */
import { ModuleBuilder, v128 } from "./emit.js";
import { type KernelExports, kernelModule } from "./kernels.js";
import { Heap } from "./memory.js";

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
  if (typeof WebAssembly !== "object" || typeof WebAssembly.validate !== "function") return false;
  try {
    const probe = new ModuleBuilder().func("probe", [], [v128], (c) => c.v128Zero()).encode();
    return WebAssembly.validate(probe);
  } catch {
    return false;
  }
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
}

let rt: Runtime | undefined;

/** The runtime, compiling the kernels on first use (a few milliseconds). */
export function runtime(): Runtime {
  if (rt) return rt;
  const shared = sharedMemorySupported();
  const heap = new Heap({ shared, budget: DEFAULT_BUDGET, reserved: CONTROL_BYTES });
  const module = new WebAssembly.Module(kernelModule(shared ? MAX_PAGES : undefined));
  const instance = new WebAssembly.Instance(module, { env: { mem: heap.memory } });
  rt = { heap, k: instance.exports as unknown as KernelExports, module };
  return rt;
}

/** Whether the runtime has been created (stats before first use report zeros). */
export function runtimeStarted(): boolean {
  return rt !== undefined;
}
