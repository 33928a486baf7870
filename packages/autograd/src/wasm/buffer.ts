/**
 * The wasm heap's records (memory.ts has the allocator and the policy): a tensor storage's
 * handle, the token a tensor holds so that the heap can tell when the garbage collector took it,
 * and the statistics.
 */
/** Storage of one wasm-backend tensor: a block of wasm memory, or its evicted copy on the JS heap. */
/** Tensors of at least this many bytes live in wasm memory (placement.ts); smaller ones are host arrays. */
export const SMALL_BYTES = 4096;

export class WasmBuffer {
  /** Byte offset of the block in wasm memory; −1 while evicted (then `host` holds the bytes) or after free. */
  ptr: number;
  /** Size of the block (the contents' size rounded up to 64). */
  readonly cap: number;
  /** Tensors referencing this storage (Backend.retain / release), and views of it. */
  refs = 0;
  /** The holders of the tensors referencing it that hold a token (≤ refs). */
  readonly holders: Holder[] = [];
  /** The contents while evicted. */
  host: Uint8Array | null = null;
  /** CLOCK reference bit: set on every kernel use, cleared by the eviction sweep. */
  used = true;
  /** The kernel call (epoch) that last pinned it; blocks pinned by the running call are never evicted. */
  pin = 0;
  /** Set once the storage has been freed for good. */
  dead = false;
  /** Holders at which the next hold first drops those whose tensors were collected ({@link TokenPool.hold}). */
  pruneAt = 64;

  constructor(ptr: number, readonly bytes: number, cap: number) {
    this.ptr = ptr;
    this.cap = cap;
  }
}

/**
 * What a tensor holds (strongly, and nothing else does) while it references a block: the heap
 * watches it through its holder's WeakRef, so a cleared WeakRef means the tensor was collected.
 */
export class Token {
  readonly holder: Holder;
  constructor() {
    this.holder = new Holder(this);
  }
}

/** The heap's side of a {@link Token}: a weak reference to it and the block its tensor holds. */
export class Holder {
  readonly ref: WeakRef<Token>;
  /** The block the token's tensor references; null while the token waits in the pool. */
  buf: WasmBuffer | null = null;
  constructor(token: Token) {
    this.ref = new WeakRef(token);
  }
}

/** What {@link wasmMemoryStats} reports. */
export interface WasmMemoryStats {
  /** Size of the WebAssembly memory in bytes (it never shrinks). */
  memoryBytes: number;
  /** Bytes in live blocks (tensor storage and kernel scratch). */
  inUseBytes: number;
  /** Live tensor storages resident in wasm memory. */
  residentBuffers: number;
  /** The budget: resident bytes, and the memory's size, stay under it. */
  budgetBytes: number;
  /** Resident bytes above which cold blocks are reclaimed or evicted (≤ the budget; refaults raise it). */
  targetBytes: number;
  /** Blocks evicted (copied to the JS heap because a live tensor still held them) so far, and their bytes. */
  evictions: number;
  evictedBytes: number;
  /** Blocks freed because the garbage collector had collected every tensor holding them, and their bytes. */
  reclaimed: number;
  reclaimedBytes: number;
  /** Evicted blocks a kernel needed again (copied back into wasm memory). */
  refaults: number;
}

/** Allocator counters, for profiling (bench/src/profile.ts); not part of the public stats. */
export interface HeapCounters {
  allocs: number;
  binHits: number;
  bumps: number;
  coalesces: number;
  grows: number;
  sweeps: number;
  sweepSteps: number;
}

/** Tokens kept for reuse at most (a token is ~100 bytes of JS heap), and made at a time. */
const POOL_MAX = 1 << 16;
const POOL_BATCH = 2048;
/**
 * Tokens made between two turns of the event loop, at most: each stays alive until the turn (the
 * job's kept WeakRef targets), so a long synchronous loop must not make them without bound.
 */
const TOKENS_PER_TURN = 8192;
const hasWeakRef = typeof WeakRef === "function";

/**
 * Where tokens come from: recycled ones first (a released tensor gives its token back), then
 * batches made at most {@link TOKENS_PER_TURN} per turn of the event loop.
 */
export class TokenPool {
  /** Tokens given back by released tensors or made ahead, ready for the next tensor. */
  private readonly pool: Token[] = [];
  /** Tokens made since the event loop last turned, and whether a turn is awaited. */
  private madeThisTurn = 0;
  private turnAwaited = false;

  constructor() {
    this.refill(true);
  }

  /** A tensor starts referencing `b`: the token it must hold (true where WeakRef is missing). */
  hold(b: WasmBuffer): Token | true {
    if (!hasWeakRef) return true;
    if (this.pool.length < POOL_BATCH / 4) this.refill();
    const t = this.pool.pop();
    if (t === undefined) return true; // no token left this turn: freed by release or evicted
    // A block used by every step (a model's input, held by each deferred op over it and by each
    // view of it) is never swept, so its holders are pruned here instead, at doubling lengths.
    if (b.holders.length >= b.pruneAt) prune(b);
    t.holder.buf = b;
    b.holders.push(t.holder);
    return t;
  }

  /** A tensor stops referencing its block (released): its token goes back to the pool. */
  unhold(t: Token): void {
    const h = t.holder;
    const b = h.buf;
    if (b === null) return;
    h.buf = null;
    const hs = b.holders;
    const i = hs.indexOf(h);
    if (i >= 0) {
      hs[i] = hs[hs.length - 1]!;
      hs.pop();
    }
    if (this.pool.length < POOL_MAX) this.pool.push(t);
  }

  /**
   * Makes a batch of tokens, below those already pooled: a WeakRef made in the running job keeps
   * its target alive until the job ends, so a token works only from the next job on, and older
   * tokens are handed out first. The first batch is made when the heap is created.
   */
  private refill(first = false): void {
    if (!hasWeakRef) return;
    // No timer for the first batch (made with the heap): none runs unless tokens run low.
    if (!first) this.awaitTurn();
    const k = Math.min(POOL_BATCH, TOKENS_PER_TURN - this.madeThisTurn);
    if (k <= 0) return;
    this.madeThisTurn += k;
    const batch: Token[] = [];
    for (let i = 0; i < k; i++) batch.push(new Token());
    this.pool.unshift(...batch);
  }

  /** Resets the per-turn count when the event loop next turns. */
  private awaitTurn(): void {
    if (this.turnAwaited) return;
    this.turnAwaited = afterTurn(() => {
      this.turnAwaited = false;
      this.madeThisTurn = 0;
    });
  }
}

/**
 * Drops the holders of `b` whose tokens the collector has cleared (their tensors, views or
 * deferred ops are gone), one reference each. Reads the WeakRefs, which keeps the live ones until
 * the job ends: the heap calls it on a block about to be evicted otherwise (memory.ts's `reap`).
 */
export function dropCollected(b: WasmBuffer): void {
  const hs = b.holders;
  for (let i = hs.length - 1; i >= 0; i--) {
    if (hs[i]!.ref.deref() !== undefined) continue;
    hs[i]!.buf = null;
    hs[i] = hs[hs.length - 1]!;
    hs.pop();
    b.refs--;
  }
}

/** {@link dropCollected} on a block whose holders have grown long, at lengths that double. */
function prune(b: WasmBuffer): void {
  dropCollected(b);
  b.pruneAt = Math.max(64, 2 * b.holders.length);
}

/**
 * Runs `fn` once the event loop next turns (an unref'd timer: it keeps no process alive);
 * false where there are no timers.
 */
export function afterTurn(fn: () => void): boolean {
  if (typeof setTimeout !== "function") return false;
  const t: unknown = setTimeout(fn, 0);
  if (typeof (t as { unref?: unknown }).unref === "function") (t as { unref(): void }).unref();
  else (globalThis as { Deno?: { unrefTimer?(id: unknown): void } }).Deno?.unrefTimer?.(t);
  return true;
}
