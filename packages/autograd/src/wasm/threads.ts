/**
 * Worker threads for the wasm backend. Every worker instantiates the same kernel module on the
 * same shared WebAssembly.Memory, so a parallel kernel is just a table of tasks — a function of
 * the module and its integer arguments — written into wasm memory. The calling thread publishes
 * the table, wakes the workers, takes tasks itself, and waits until all are done; tasks are
 * claimed one at a time through an atomic counter. Each task writes its own part of the output
 * (matmul: whole column blocks, or one k-chunk's partial product; an elementwise op: a piece of
 * its rows or columns), and which thread runs it changes nothing, so results are
 * identical bit for bit whatever the thread count.
 *
 * Node and Deno get `node:worker_threads` (unref'd, so a finished program exits); where that
 * module is missing and the global Web `Worker` exists (browsers), the pool is made of Web
 * Workers started from a blob URL. (Deno has both; its Web Workers work too — the Deno tests run
 * them when `globalThis.DELTAGRAD_WORKERS` is "web" — but cannot be unref'd, so a `deno run`
 * script would not exit.) The calling thread blocks in `Atomics.wait` while a job runs, which Node
 * and Deno allow on the main thread and browsers only inside a worker (and only cross-origin
 * isolated, where shared memory exists): on a browser's main thread the pool is not started,
 * kernels run on the calling thread, and the console says once why.
 *
 * Starting the pool never waits. A browser starts a nested worker only while its parent's event
 * loop is free, so a parent blocked until its workers report ready would wait for nothing (issue
 * 19: the first threaded product took 10 s in Chromium). Workers come up in the background; a job
 * uses the ones already up (READY), the others join later jobs. {@link threadsReady} yields until
 * the whole pool is up, for code that wants every thread from its first product on.
 *
 * Control block (int32 slots at address 0, CONTROL_BYTES reserved by the heap):
 *   GEN   job generation (workers wait on it)      NEXT  (gen & 0xffff) << 16 | next task index
 *   DONE  tasks finished in this job               COUNT tasks in this job
 *   TABLE byte address of the task table           SCRATCH, PER  per-thread scratch base and size
 *   LIMIT highest thread id taking part            READY workers started
 *   SPIN  microseconds a thread polls before it sleeps (SPIN_US)
 * A task is STRIDE int32s: function id, then its arguments; the runner appends the thread's
 * scratch address. KERNEL_COUNT (slot 9) counts the kernels generated after start-up
 * ({@link registerKernel}: compile()'s fused kernels), listed as (pointer, length) of their
 * module bytes from int32 slot KERNELS on; their function ids follow the pool's function table
 * (TASK_FUNCTIONS, then the PLAIN kernels). NEXT carries the generation so that a worker waking late from an earlier job
 * can never claim a task of the next one before its table is complete.
 */
import { DeltagradError } from "../errors.js";
import type { KernelExports } from "./kernels.js";
import { runtime, type Runtime } from "./runtime.js";

/**
 * Kernel functions that can run as tasks (their last parameter is the thread's scratch address).
 * A pool's function table lists them first, then the kernels that need no scratch ({@link PLAIN}),
 * then the kernels registered after start-up.
 */
export const TASK_FUNCTIONS = ["gemmBlock", "windowImage", "gemmFold"] as const;
export type TaskFunction = (typeof TASK_FUNCTIONS)[number];
/**
 * Kernels that run as tasks without scratch (kernels.ts): the elementwise ones (`un_exp`,
 * `bin_add_vs`, `cmp_greater_vv`, `where_vsv`, …), max pooling's choice and its gradient (tasks
 * over image planes), and the row reductions (tasks over rows).
 */
const PLAIN = /^(un|bin|cmp|cmpi|where)_|^(windowArgmax2?|maxUnpool2|sumRows|maxRows)$/;

const GEN = 0, NEXT = 1, DONE = 2, COUNT = 3, TABLE = 4, SCRATCH = 5, PER = 6, LIMIT = 7, READY = 8, KERNEL_COUNT = 9, SPIN = 10;
/** int32 slots per task: the function id and up to 19 arguments (windowImage has 19). */
const STRIDE = 20;
/**
 * Microseconds a thread polls for the next job (a worker) or for the job's last task (the
 * caller) before it sleeps in `Atomics.wait`, as OpenMP's runtimes spin before they block: a
 * training step hands out dozens of jobs a few microseconds apart, and a futex wake costs
 * 5–20 µs each way on a 2-core VM. Compiled W3 took 0.96× the time (30 alternating rounds); a
 * spin of milliseconds made it slower (it takes the core from V8's GC and compiler threads).
 */
const SPIN_US = 100;

let requested = defaultThreads();
let pool: Pool | null = null;

/** Available cores (Node's availableParallelism, navigator.hardwareConcurrency), at most 64. */
function defaultThreads(): number {
  const os = builtin<{ availableParallelism?: () => number; cpus(): unknown[] }>("node:os");
  const n = os ? (os.availableParallelism?.() ?? os.cpus().length) : (globalThis.navigator?.hardwareConcurrency ?? 1);
  return Math.max(1, Math.min(64, Math.floor(n) || 1));
}

function builtin<T>(id: string): T | undefined {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return p?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets how many threads the wasm backend's matmul, convolution, pooling and large elementwise and
 * reduction kernels use (1 = the calling thread only); the default is the number of available
 * cores. Results are bit-for-bit identical whatever the count. Where worker threads are
 * unavailable (no shared memory, or no `node:worker_threads`), kernels run on the calling thread
 * whatever the setting.
 *
 * @example
 * ```ts
 * setNumThreads(2); getNumThreads(); // 2
 * ```
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new DeltagradError(`setNumThreads: expected an integer from 1 to 64, got ${String(n)}`);
  requested = n;
}

/** The wasm backend's requested thread count (see {@link setNumThreads}). @example `getNumThreads() // 2` */
export function getNumThreads(): number {
  return requested;
}

/** How many threads kernels actually use now (the pool may be unavailable or still starting). @example `activeThreads()` */
export function activeThreads(): number {
  if (requested === 1) return 1;
  const p = ensurePool();
  return p ? Math.min(requested, 1 + p.ready()) : 1;
}

interface WorkerLike {
  unref?(): void;
}

/** What a worker needs: the shared memory, the compiled kernels, its thread id, the control layout. */
interface WorkerData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  tid: number;
  names: readonly string[];
  /** The first `withScratch` names (and registered kernels) take the thread's scratch address last; the PLAIN ones take none. */
  withScratch: number;
  layout: Record<string, number>;
}

/** Starts one worker running {@link workerMain} on `data`. */
type Spawn = (data: WorkerData) => WorkerLike;

/** Which worker API a pool is made of. */
type WorkerKind = "worker_threads" | "web";

class Pool {
  readonly workers: WorkerLike[] = [];
  readonly ctrl: Int32Array;
  /** The function table: TASK_FUNCTIONS, then the PLAIN kernels (sorted, so every thread agrees). */
  readonly names: readonly string[];
  readonly ids = new Map<string, number>();

  constructor(readonly rt: Runtime, readonly kind: WorkerKind, private readonly spawn: Spawn) {
    this.ctrl = new Int32Array(rt.heap.memory.buffer, 0, 16);
    Atomics.store(this.ctrl, SPIN, SPIN_US);
    this.names = [...TASK_FUNCTIONS, ...Object.keys(rt.k).filter((n) => PLAIN.test(n)).sort()];
    this.names.forEach((n, i) => this.ids.set(n, i));
  }

  ready(): number {
    return Atomics.load(this.ctrl, READY);
  }

  /**
   * Starts workers until there are `n`, without waiting for them: a worker counts in READY once
   * it has instantiated the kernels, and jobs use only workers that have.
   */
  grow(n: number): void {
    while (this.workers.length < n) {
      const tid = this.workers.length + 1;
      const layout = { GEN, NEXT, DONE, COUNT, TABLE, SCRATCH, PER, LIMIT, READY, STRIDE, KERNELS, SPIN };
      this.workers.push(this.spawn({ memory: this.rt.heap.memory, module: this.rt.module, tid, names: this.names, withScratch: TASK_FUNCTIONS.length, layout }));
    }
  }
}

/** Why no pool can run here (null while none was tried or one runs). */
let poolFailed: string | null = null;
let noted = false;

function ensurePool(): Pool | null {
  if (poolFailed) return null;
  if (pool) {
    if (pool.workers.length < requested - 1) pool.grow(requested - 1);
    return pool;
  }
  const rt = runtime();
  const w = rt.heap.shared ? spawner() : null;
  if (!rt.heap.shared) poolFailed = "there is no shared memory (a browser page needs cross-origin isolation: the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
  else if (!w) poolFailed = "there is no worker API (neither node:worker_threads nor Web Workers)";
  else if (!mayBlock()) poolFailed = "this thread may not block in Atomics.wait (a browser's main thread): run deltagrad inside a Web Worker on a cross-origin isolated page";
  else {
    try {
      pool = new Pool(rt, w.kind, w.spawn);
      pool.grow(requested - 1);
    } catch (e) {
      poolFailed = `workers could not start (${(e as Error).message})`;
      pool = null;
    }
  }
  return pool;
}

/** Whether this thread may block in `Atomics.wait` (browsers forbid it on the main thread). */
function mayBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Says once, on the console, why kernels run on one thread although more were asked for. */
function noteOneThread(): void {
  if (noted || !poolFailed) return;
  noted = true;
  console.info(`deltagrad: the wasm backend runs on 1 thread (setNumThreads(${requested}) asked for ${requested}) because ${poolFailed}.`);
}

/**
 * Starts the wasm backend's worker pool (if it is not running) and resolves once every worker of
 * {@link getNumThreads} is up, yielding to the event loop while they start — a browser starts a
 * worker's nested workers only while that worker is not blocked. Resolves to the number of threads
 * kernels use from now on ({@link activeThreads}): 1 where no pool can run (a browser's main thread,
 * a page without cross-origin isolation), fewer than asked if workers did not come up within
 * `timeoutMs`. Kernels never need this: they use the workers already up and run on the calling
 * thread alone until the first one is.
 *
 * @example
 * ```ts
 * setNumThreads(2);
 * await threadsReady(); // 2 in Node and Deno, and in a Web Worker of a cross-origin isolated page
 * ```
 */
export async function threadsReady(timeoutMs = 10_000): Promise<number> {
  if (requested === 1) return 1;
  const p = ensurePool();
  if (!p) return 1;
  const deadline = Date.now() + timeoutMs;
  // Polled, not Atomics.waitAsync: a pending waitAsync does not keep Node's event loop alive.
  while (p.ready() < requested - 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 4));
  return activeThreads();
}

/** Multiply-adds below which a product runs on the calling thread alone (waking a worker costs more). */
export const PRODUCT_THREAD_WORK = 2e6;

/**
 * Runs `fn` once per argument list in `tasks`, spread over up to {@link getNumThreads} threads,
 * and returns when all are done. `scratch(threads)` allocates `threads` blocks of per-thread
 * scratch and returns the base address (the runner passes `base + tid·per` to each task).
 * `work` (multiply-adds, or elements) decides whether threads are worth waking at all.
 */
export function runTasks(k: KernelExports, fn: TaskFunction, tasks: number[][], per: number, scratch: (bytes: number) => number, table: (bytes: number) => number, work: number): void {
  const threads = threadsFor(tasks.length, work < PRODUCT_THREAD_WORK ? 1 : 64);
  const base = scratch(threads * per);
  runJob(TASK_FUNCTIONS.indexOf(fn), k[fn] as (...a: number[]) => void, tasks, per, base, threads, table);
}

/**
 * [0, count) cut into `runs` contiguous runs as even as whole units allow (runs ≤ count), each
 * [start, end): how a kernel's planes or rows become tasks.
 *
 * @example `evenRuns(10, 3) // [[0, 3], [3, 6], [6, 10]]`
 */
export function evenRuns(count: number, runs: number): [number, number][] {
  return Array.from({ length: runs }, (_, t) => [Math.floor((t * count) / runs), Math.floor(((t + 1) * count) / runs)]);
}

/** How many threads a job of `n` tasks takes (at most `cap`): the pool's ready workers and the caller. */
function threadsFor(n: number, cap: number): number {
  const want = Math.min(requested, n, cap);
  const p = want > 1 ? ensurePool() : null;
  if (want > 1 && !p) noteOneThread();
  return p ? Math.min(want, 1 + p.ready()) : 1;
}

/** Publishes a job's task table, takes tasks on the calling thread too, and waits for the rest. */
function runJob(id: number, f: (...a: number[]) => void, tasks: number[][], per: number, base: number, threads: number, table: (bytes: number) => number): void {
  if (threads === 1) {
    for (const args of tasks) f(...args, base);
    return;
  }
  const p = pool!;
  const heap = p.rt.heap;
  const t = table(tasks.length * STRIDE * 4);
  const i32 = heap.i32;
  tasks.forEach((args, j) => {
    if (args.length >= STRIDE) throw new Error(`wasm threads: task ${id} has ${args.length} arguments, the table holds ${STRIDE - 1}`);
    const at = (t >> 2) + j * STRIDE;
    i32[at] = id;
    for (let a = 0; a < args.length; a++) i32[at + 1 + a] = args[a]!;
  });
  const ctrl = p.ctrl;
  const gen = (Atomics.load(ctrl, GEN) + 1) | 0;
  Atomics.store(ctrl, COUNT, tasks.length);
  Atomics.store(ctrl, TABLE, t);
  Atomics.store(ctrl, SCRATCH, base);
  Atomics.store(ctrl, PER, per);
  Atomics.store(ctrl, LIMIT, threads - 1);
  Atomics.store(ctrl, DONE, 0);
  Atomics.store(ctrl, NEXT, (gen & 0xffff) << 16);
  Atomics.store(ctrl, GEN, gen);
  Atomics.notify(ctrl, GEN);
  // The calling thread takes tasks too (thread id 0).
  const n = tasks.length;
  for (;;) {
    const j = claim(ctrl, gen, n);
    if (j < 0) break;
    f(...tasks[j]!, base);
    Atomics.add(ctrl, DONE, 1);
  }
  // Poll a while before sleeping: the last task is often a few microseconds from done (SPIN_US).
  const until = performance.now() + Atomics.load(ctrl, SPIN) / 1000;
  while (Atomics.load(ctrl, DONE) < n && performance.now() < until);
  let d: number;
  while ((d = Atomics.load(ctrl, DONE)) < n) Atomics.wait(ctrl, DONE, d, 1000);
}

/** Kernels generated after start-up (compile()'s fused kernels) that workers run: their module bytes' (pointer, length), from KERNELS in the control block. */
const KERNELS = 64;
const MAX_KERNELS = (4096 - KERNELS * 4) >> 3; // CONTROL_BYTES (runtime.ts) bound the table
let registered = 0;

/**
 * Makes a kernel module generated after start-up runnable by the workers: its bytes are copied
 * into wasm memory (kept for good, as the module is) and listed in the control block, and a
 * worker instantiates it on the shared memory (and the kernel module's exports, as imports `k`)
 * the first time a task names it. The module's export `fused` is the task function. Returns its function id for {@link runKernelTasks}, or
 * −1 where no pool runs or the table (480 kernels) is full — the caller then runs it alone.
 *
 * @example `const id = registerKernel(bytes); runKernelTasks(id, fn, [[args, 0, n]], n);`
 */
export function registerKernel(bytes: Uint8Array): number {
  const p = requested > 1 ? ensurePool() : null;
  if (p === null || registered >= MAX_KERNELS) return -1;
  const heap = p.rt.heap;
  const at = heap.alloc(bytes.byteLength);
  heap.u8.set(bytes, at);
  const i32 = heap.i32;
  i32[KERNELS + 2 * registered] = at;
  i32[KERNELS + 2 * registered + 1] = bytes.byteLength;
  Atomics.store(p.ctrl, KERNEL_COUNT, registered + 1);
  return p.names.length + registered++;
}

/**
 * Whether generated kernel `k` can run on the pool: registered ({@link registerKernel}) when first
 * asked, its function id kept in `k.id` (−1 while it is not: no pool runs, or the table is full —
 * asked again next time).
 *
 * @example `if (pooled(k)) runKernelTasks(k.id, k.fn, tasks); else for (const t of tasks) k.fn(...t, 0);`
 */
export function pooled(k: { id: number; readonly bytes: Uint8Array }): boolean {
  if (k.id === -1) k.id = registerKernel(k.bytes);
  return k.id >= 0;
}

/**
 * Runs a registered kernel ({@link registerKernel}) once per argument list in `tasks` on up to
 * {@link getNumThreads} threads (`f`: the same function instantiated on this thread). The caller
 * has judged that the work pays for waking the threads. With `per` > 0 each thread gets `per`
 * bytes of scratch, from one block of `scratch(threads · per)` (its last argument).
 *
 * @example `runKernelTasks(k.id, k.fn, [[args, 0, rows, 0, m / 2], [args, 0, rows, m / 2, m]]);`
 */
export function runKernelTasks(id: number, f: (...a: number[]) => void, tasks: number[][], per = 0, scratch?: (bytes: number) => number): void {
  const threads = threadsFor(tasks.length, 64);
  const base = per > 0 ? scratch!(threads * per) : 0;
  if (threads === 1) for (const args of tasks) f(...args, base);
  else runOnPool(id, f, tasks, threads, per, base);
}

/** Runs a job on the pool's `threads` threads (each with `per` bytes of scratch from `base`, or none), its task table held only while it runs. */
function runOnPool(id: number, f: (...a: number[]) => void, tasks: number[][], threads: number, per = 0, base = 0): void {
  const heap = pool!.rt.heap;
  let table = -1;
  try {
    runJob(id, f, tasks, per, base, threads, (b) => (table = heap.alloc(b)));
  } finally {
    if (table >= 0) heap.free(table, tasks.length * STRIDE * 4);
  }
}

/**
 * Runs a kernel that needs no scratch (`name`, one of {@link PLAIN}; `f` its export on this
 * thread) once per argument list in `tasks` — pieces of one op's rows, columns or image planes —
 * on up to {@link getNumThreads} threads. Each task computes its elements with the same operations
 * as one call over everything would, so the bits are the same whatever the split. The caller has
 * judged that the work pays for waking the threads.
 *
 * @example `runPlainTasks("bin_add_vv", k.bin_add_vv, [[x, y, out, 1, n / 2, 0, 0], [x + 2 * n, y + 2 * n, out + 2 * n, 1, n / 2, 0, 0]]);`
 */
export function runPlainTasks(name: string, f: (...a: number[]) => void, tasks: number[][]): void {
  const threads = threadsFor(tasks.length, 64);
  const id = threads > 1 ? pool!.ids.get(name) : undefined;
  if (id === undefined) for (const args of tasks) f(...args);
  else runOnPool(id, f, tasks, threads);
}

/** Claims the next task of job `gen`, or −1 when none is left (or the job is over). */
function claim(ctrl: Int32Array, gen: number, n: number): number {
  for (;;) {
    const cur = Atomics.load(ctrl, NEXT);
    if (cur >>> 16 !== (gen & 0xffff) || (cur & 0xffff) >= n) return -1;
    if (Atomics.compareExchange(ctrl, NEXT, cur, cur + 1) === cur) return cur & 0xffff;
  }
}

/**
 * Which workers the wasm backend's thread pool is made of: `"worker_threads"` (Node, Deno),
 * `"web"` (Web Workers: browsers), or null when no pool runs (one thread requested, no shared
 * memory, or a thread that may not block, such as a browser's main thread).
 *
 * @example
 * ```ts
 * setNumThreads(2); matmul(a, b); workerKind(); // "worker_threads" on Node
 * ```
 */
export function workerKind(): WorkerKind | null {
  return pool?.kind ?? null;
}

/** `node:worker_threads` where it exists (Node, Deno), else Web Workers (browsers), else none. */
function spawner(): { kind: WorkerKind; spawn: Spawn } | null {
  const Web = (globalThis as { Worker?: new (url: string, opts: object) => WorkerLike & { postMessage(d: unknown): void } }).Worker;
  const preferWeb = (globalThis as { DELTAGRAD_WORKERS?: string }).DELTAGRAD_WORKERS === "web";
  const wt = preferWeb ? undefined : builtin<{ Worker: new (src: string, opts: object) => WorkerLike }>("node:worker_threads");
  if (wt?.Worker) {
    const spawn: Spawn = (workerData) => {
      const w = new wt.Worker(NODE_WORKER_SOURCE, { eval: true, workerData });
      w.unref?.();
      return w;
    };
    return { kind: "worker_threads", spawn };
  }
  if (Web && typeof URL.createObjectURL === "function") {
    const url = URL.createObjectURL(new Blob([WEB_WORKER_SOURCE], { type: "text/javascript" }));
    const spawn: Spawn = (data) => {
      const w = new Web(url, { type: "module", name: `deltagrad-wasm-${data.tid}` });
      w.postMessage(data);
      return w;
    };
    return { kind: "web", spawn };
  }
  return null;
}

/**
 * The worker: instantiate the kernels on the shared memory, report ready, then serve jobs
 * forever. Self-contained (it is turned into source text), mirroring {@link claim}.
 */
function workerMain(data: WorkerData): void {
  const { GEN, NEXT, DONE, COUNT, TABLE, SCRATCH, PER, LIMIT, READY, STRIDE, KERNELS, SPIN } = data.layout as Record<string, number>;
  const inst = new WebAssembly.Instance(data.module, { env: { mem: data.memory } });
  const fns = data.names.map((n) => inst.exports[n] as (...a: number[]) => void);
  // A kernel registered after start-up: instantiated from its bytes in wasm memory on first use.
  const kernel = (id: number, i32: Int32Array): ((...a: number[]) => void) => {
    const k = id - data.names.length;
    const at = i32[KERNELS! + 2 * k]!;
    const bytes = new Uint8Array(data.memory.buffer, at, i32[KERNELS! + 2 * k + 1]!).slice();
    // (A product's epilogue kernel imports the sgemm panel from the kernel module: `k`.)
    const m = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: data.memory }, k: inst.exports });
    return (fns[id] = m.exports.fused as (...a: number[]) => void);
  };
  const ctrl = new Int32Array(data.memory.buffer, 0, 16);
  Atomics.add(ctrl, READY!, 1);
  Atomics.notify(ctrl, READY!);
  let seen = Atomics.load(ctrl, GEN!);
  for (;;) {
    // Poll for the next job a while (SPIN microseconds) before sleeping until it comes.
    const until = performance.now() + Atomics.load(ctrl, SPIN!) / 1000;
    while (Atomics.load(ctrl, GEN!) === seen && performance.now() < until);
    Atomics.wait(ctrl, GEN!, seen);
    const gen = Atomics.load(ctrl, GEN!);
    if (gen === seen) continue;
    seen = gen;
    if (data.tid > Atomics.load(ctrl, LIMIT!)) continue;
    const n = Atomics.load(ctrl, COUNT!);
    const table = Atomics.load(ctrl, TABLE!);
    const scratch = Atomics.load(ctrl, SCRATCH!) + data.tid * Atomics.load(ctrl, PER!);
    for (;;) {
      const cur = Atomics.load(ctrl, NEXT!);
      if (cur >>> 16 !== (gen & 0xffff) || (cur & 0xffff) >= n) break;
      if (Atomics.compareExchange(ctrl, NEXT!, cur, cur + 1) !== cur) continue;
      const j = cur & 0xffff;
      // The table may lie beyond the memory size this thread last saw: view the current buffer.
      const i32 = new Int32Array(data.memory.buffer);
      const at = (table >> 2) + j * STRIDE!;
      const id = i32[at]!;
      const f = fns[id] ?? kernel(id, i32);
      const args: number[] = [];
      for (let a = 1; a < STRIDE!; a++) args.push(i32[at + a]!);
      if (id >= data.withScratch && id < data.names.length) f(...args.slice(0, f.length));
      else f(...args.slice(0, f.length - 1), scratch);
      if (Atomics.add(ctrl, DONE!, 1) + 1 === n) Atomics.notify(ctrl, DONE!);
    }
  }
}

// `__name`: esbuild (tsx, keepNames) may wrap inner functions in it; the worker has no such helper.
const NODE_WORKER_SOURCE = `var __name = (f) => f; (${workerMain.toString()})(require("node:worker_threads").workerData);`;
// A Web Worker gets its data in the first message, then blocks in workerMain for good.
const WEB_WORKER_SOURCE = `var __name = (f) => f; self.onmessage = (e) => { self.onmessage = null; (${workerMain.toString()})(e.data); };`;
