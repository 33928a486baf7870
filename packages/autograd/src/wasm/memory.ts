/**
 * Where the wasm backend's tensors live: one WebAssembly.Memory (shared with the worker threads
 * where SharedArrayBuffer exists), carved into blocks by a small allocator, with a resident
 * target kept by reclaiming dead blocks and evicting cold live ones to the JavaScript heap.
 *
 * Lifetime. A {@link WasmBuffer} is a tensor's storage handle. The autograd core counts the
 * tensors that reference it (`retain`/`release` on the Backend) and releases the temporaries it
 * knows are dead — inside composite ops, VJPs, optimizer steps and built-in modules (see
 * lifetime.ts) — so a training step returns almost all of its memory to the free lists
 * deterministically, with no `tidy()`. Storage the core cannot prove dead (tensors user code
 * created and dropped) is found through the garbage collector: every tensor holding a block
 * holds a {@link Token}, which the heap watches through a WeakRef. When the resident bytes pass
 * the target, the CLOCK sweep looks at cold blocks; a block all of whose tokens were collected is
 * freed on the spot (no copy), a block some live tensor still holds is evicted — copied to an
 * ordinary JavaScript array, which the garbage collector frees with its tensor.
 *
 * Why tokens and not a FinalizationRegistry: finalizer callbacks only run when the event loop
 * turns, never inside a synchronous training loop, while a WeakRef reads as cleared right after
 * the collection that found its target dead — provided the WeakRef was not created or read in the
 * running job (the spec keeps such targets alive until the job ends). So tokens are made once and
 * recycled (a disposed tensor gives its token back), and a token's WeakRef is read only when its
 * block is about to be evicted anyway. A token is reachable from nothing but its tensor, so a
 * cleared WeakRef proves the tensor unreachable: a tensor still referenced is never reclaimed.
 *
 * Allocator. Block sizes are rounded to 64 bytes (SIMD and cache-line alignment). Freed blocks
 * go to exact-size bins, reused last-in first-out (the block freed most recently is the one
 * still in cache); a miss bumps the top of the heap; when the top would pass the end of memory,
 * the best-fitting free block is split, and only when none is large enough are the free blocks
 * coalesced and searched again before the memory grows; it grows only up to the budget (beyond
 * it only when the blocks one kernel call needs at once do not fit).
 *
 * Resident target. Sweeping starts at 256 MiB (or ¾ of the budget, if less), not at the budget
 * (and at 32 MiB until the event loop first turns: {@link FIRST_JOB_TARGET}):
 * plain code then cycles through memory already mapped instead of faulting in fresh pages up to
 * the budget, and the sweep meets dead blocks often enough that most are freed by the collector's
 * verdict rather than copied (a full collection runs about every few dozen evictions' worth of
 * host copies; every dead block still resident then is reclaimable). A block evicted and then
 * needed again (a refault) raises the target by twice its size, so a live working set larger
 * than the target stops being evicted, and a block a kernel used in the last 16 calls is never
 * evicted.
 */
import { DeltagradError } from "../errors.js";
import { afterTurn, dropCollected, TokenPool, WasmBuffer, type HeapCounters, type WasmMemoryStats } from "./buffer.js";

export { Holder, Token, TokenPool, WasmBuffer, type HeapCounters, type WasmMemoryStats } from "./buffer.js";

const PAGE = 65536;
/** The wasm32 limit: 4 GiB. */
const MAX_PAGES = 65536;
const ALIGN = 64;
/** Where sweeping starts (min with the budget); refaults raise it. */
export const RESIDENT_TARGET = 256 * 2 ** 20;
/**
 * Where it starts until the event loop first turns after the heap is made. No token can clear
 * before then (a WeakRef made in the running job keeps its target), so every cold block the sweep
 * meets is copied out, wherever the sweep starts: a higher start only faults in more fresh memory
 * first (plain W5 in a fresh process that never yields: its first 40 steps 52 → 19 ms in the
 * bench, 9–35 ms in three runs alone, with the same later steps; wasm memory ~290 → ~77 MB).
 */
export const FIRST_JOB_TARGET = 32 * 2 ** 20;
/** Kernel calls since its last use before a block may be evicted. */
const MIN_AGE = 16;

/** What an evicted block's ring slot holds: the ring must not keep the evicted copy alive. */
const GONE = new WasmBuffer(-1, 0, 0);
GONE.dead = true;

/** Detaches a block from its tensors' tokens (their release then finds no block: TokenPool.unhold). */
function forgetHolders(b: WasmBuffer): void {
  const hs = b.holders;
  for (let i = 0; i < hs.length; i++) hs[i]!.buf = null;
  hs.length = 0;
}

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;
const blockSize = (bytes: number) => Math.max(ALIGN, roundUp(bytes, ALIGN));

export class Heap {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  private u8View: Uint8Array;
  private f32View: Float32Array;
  private i32View: Int32Array;
  private viewBuffer: ArrayBufferLike;
  /** First byte above every block ever handed out. */
  private top: number;
  private readonly bins = new Map<number, number[]>();
  private freeBytes = 0;
  private inUse = 0;
  private budgetBytes: number;
  private target: number;
  /** The lowest resident target: {@link FIRST_JOB_TARGET} until the event loop first turns, then {@link RESIDENT_TARGET}. */
  private floor = FIRST_JOB_TARGET;
  /** Resident buffers in allocation order: the CLOCK ring (dead/evicted entries are dropped lazily). */
  private ring: WasmBuffer[] = [];
  private hand = 0;
  /** Resident (not evicted, not freed) tensor storages: the live entries of the ring. */
  private resident = 0;
  private epoch = 1;
  /** The tokens of tensors holding blocks (buffer.ts). */
  readonly tokens = new TokenPool();
  evictions = 0;
  evictedBytes = 0;
  reclaimed = 0;
  reclaimedBytes = 0;
  refaults = 0;
  readonly counters: HeapCounters = { allocs: 0, binHits: 0, bumps: 0, coalesces: 0, grows: 0, sweeps: 0, sweepSteps: 0 };

  /** `reserved` bytes at address 0 stay out of the allocator (the thread pool's control block). */
  constructor(opts: { shared: boolean; budget: number; reserved: number }) {
    this.shared = opts.shared;
    this.memory = opts.shared
      ? new WebAssembly.Memory({ initial: 64, maximum: MAX_PAGES, shared: true })
      : new WebAssembly.Memory({ initial: 64 });
    this.top = roundUp(opts.reserved, ALIGN);
    this.budgetBytes = opts.budget;
    this.target = Math.min(FIRST_JOB_TARGET, this.ceiling);
    if (!afterTurn(() => this.turned())) this.turned();
    this.viewBuffer = this.memory.buffer;
    this.u8View = new Uint8Array(this.viewBuffer);
    this.f32View = new Float32Array(this.viewBuffer);
    this.i32View = new Int32Array(this.viewBuffer);
  }

  /** The budget (setWasmMemoryBudget): the resident target is kept under it. */
  get budget(): number {
    return this.budgetBytes;
  }
  set budget(bytes: number) {
    this.budgetBytes = bytes;
    this.liftTarget();
  }

  /** The event loop has turned: tokens can clear from now on, so sweeping may start later. */
  private turned(): void {
    this.floor = RESIDENT_TARGET;
    this.liftTarget();
  }

  /** The target at least the floor, at most the ceiling (after either moved). */
  private liftTarget(): void {
    this.target = Math.min(Math.max(this.target, this.floor), this.ceiling);
  }

  /**
   * The highest resident target: three quarters of the budget, so that sweeping starts while the
   * memory (capped at the budget) still has room for kernel scratch and for blocks of new sizes.
   */
  private get ceiling(): number {
    return this.budgetBytes - (this.budgetBytes >> 2);
  }

  /** Views of the whole memory; valid until the next allocation (growing replaces the buffer). */
  get u8(): Uint8Array {
    this.refresh();
    return this.u8View;
  }
  get f32(): Float32Array {
    this.refresh();
    return this.f32View;
  }
  get i32(): Int32Array {
    this.refresh();
    return this.i32View;
  }

  private refresh(): void {
    const b = this.memory.buffer;
    if (b !== this.viewBuffer) {
      this.viewBuffer = b;
      this.u8View = new Uint8Array(b);
      this.f32View = new Float32Array(b);
      this.i32View = new Int32Array(b);
    }
  }

  /** Starts a kernel call: buffers it pins from now on are safe from eviction until the next call. */
  nextEpoch(): number {
    return ++this.epoch;
  }

  /** Marks `b` as used by the running kernel call (resident buffers only). */
  touch(b: WasmBuffer): void {
    b.used = true;
    b.pin = this.epoch;
  }

  /** A block of at least `bytes` bytes (64-byte aligned); throws a clear error when memory is exhausted. */
  alloc(bytes: number): number {
    const size = blockSize(bytes);
    const c = this.counters;
    c.allocs++;
    // A block under 4 KiB is kernel scratch (a small input copied in, a small result), freed when
    // its call ends: it may overshoot the soft target rather than evict a tensor to make room.
    if (this.inUse + size > this.target && size >= 4096) this.makeRoom(size);
    const bin = this.bins.get(size);
    if (bin !== undefined && bin.length > 0) {
      c.binHits++;
      this.freeBytes -= size;
      this.inUse += size;
      return bin.pop()!;
    }
    let at = this.bump(size);
    if (at < 0) at = this.fromFreeBlocks(size);
    if (at < 0) at = this.grow(size, this.budgetBytes);
    // No room under the budget: evict a quarter of what is resident at a time, then (only if the
    // blocks pinned by this call do not fit) grow past the budget.
    for (let round = 0; at < 0 && round < 4; round++) {
      this.evict(size, this.inUse - (this.inUse >> 2));
      at = this.fromFreeBlocks(size);
    }
    if (at < 0) at = this.grow(size, MAX_PAGES * PAGE);
    if (at < 0) {
      this.evict(Infinity, 0);
      at = this.fromFreeBlocks(size);
    }
    if (at < 0) {
      throw new DeltagradError(
        `wasm backend: out of memory allocating ${bytes} bytes (WebAssembly memory ${this.memory.buffer.byteLength} bytes, ${this.inUse} in use); use smaller batches or setBackend("cpu")`,
      );
    }
    this.inUse += size;
    return at;
  }

  /** Returns a block from {@link alloc} (`bytes` as passed to it). */
  free(ptr: number, bytes: number): void {
    const size = blockSize(bytes);
    this.inUse -= size;
    this.addFree(ptr, size);
  }

  private addFree(ptr: number, size: number): void {
    this.freeBytes += size;
    let bin = this.bins.get(size);
    if (bin === undefined) this.bins.set(size, (bin = []));
    bin.push(ptr);
  }

  /** A new tensor storage of `bytes` bytes, resident and tracked for eviction. */
  buffer(bytes: number): WasmBuffer {
    const cap = blockSize(bytes);
    const b = new WasmBuffer(this.alloc(cap), bytes, cap);
    b.pin = this.epoch;
    this.enter(b);
    return b;
  }

  /** Frees a storage for good (its last tensor was released). */
  drop(b: WasmBuffer): void {
    if (b.dead) return;
    b.dead = true;
    if (b.ptr >= 0) {
      this.free(b.ptr, b.cap);
      this.resident--;
    }
    b.ptr = -1;
    b.host = null;
  }

  /**
   * Drops the references of `b`'s tensors that the garbage collector has collected; frees `b`
   * (returning true) when none is left. Reads the WeakRefs, which keeps a live tensor's token
   * alive until the current job ends: called only on blocks about to be evicted otherwise.
   */
  private reap(b: WasmBuffer): boolean {
    dropCollected(b);
    if (b.refs > 0) return false;
    this.reclaimed++;
    this.reclaimedBytes += b.cap;
    this.drop(b);
    return true;
  }

  /** Adds a resident buffer to the CLOCK ring, compacting it when dead entries dominate. */
  private enter(b: WasmBuffer): void {
    this.resident++;
    this.ring.push(b);
    if (this.ring.length > 2 * this.resident + 1024) this.compact();
  }

  /** Drops freed and evicted entries from the ring (they are never looked at again). */
  private compact(): void {
    const ring = this.ring;
    let w = 0;
    let hand = 0;
    for (let r = 0; r < ring.length; r++) {
      const b = ring[r]!;
      if (r === this.hand) hand = w;
      if (!b.dead && b.ptr >= 0) ring[w++] = b;
    }
    ring.length = w;
    this.hand = this.hand >= ring.length ? 0 : hand;
  }

  /** Brings an evicted storage back into wasm memory (a kernel needs it); returns its pointer. */
  pinResident(b: WasmBuffer): number {
    if (b.ptr < 0) {
      if (b.dead) throw new DeltagradError("wasm backend: a kernel was given storage that was already freed (a released tensor)");
      // A refault: this live block was evicted too early; let the working set grow by twice its size.
      this.refaults++;
      this.target = Math.min(this.ceiling, this.target + 2 * b.cap);
      const host = b.host!;
      const ptr = this.alloc(b.cap);
      this.u8.set(host, ptr);
      b.ptr = ptr;
      b.host = null;
      this.enter(b);
    }
    this.touch(b);
    return b.ptr;
  }

  /** Bump allocation at the top, if the memory already has room. */
  private bump(size: number): number {
    if (this.top + size > this.memory.buffer.byteLength) return -1;
    this.counters.bumps++;
    const at = this.top;
    this.top += size;
    return at;
  }

  /**
   * A free block for `size` bytes when its bin is empty and the top has no room: the best fit
   * among the free blocks as they are, its rest binned — so the blocks of a step that repeats
   * (a training loop, a compiled replay) settle into their bins after the first pass and are then
   * reused exactly; only when no single free block is large enough, every free block is coalesced
   * (sorted by address, adjacent ones merged; a run ending at the top lowers the top) and searched
   * again. Coalescing on every miss instead merged each step's freed blocks back together, so the
   * next step missed its bins again (LeNet-5 compiled: 50 coalesces a step, each allocating and
   * sorting the whole free list).
   */
  private fromFreeBlocks(size: number): number {
    if (this.freeBytes === 0) return this.bump(size);
    let fit = 0;
    for (const [s, ptrs] of this.bins) if (s >= size && ptrs.length > 0 && (fit === 0 || s < fit)) fit = s;
    if (fit > 0) {
      const at = this.bins.get(fit)!.pop()!;
      this.freeBytes -= fit;
      if (fit > size) this.addFree(at + size, fit - size);
      return at;
    }
    this.counters.coalesces++;
    const blocks: [number, number][] = [];
    for (const [s, ptrs] of this.bins) for (const p of ptrs) blocks.push([p, s]);
    this.bins.clear();
    this.freeBytes = 0;
    blocks.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const [p, s] of blocks) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === p) last[1] += s;
      else merged.push([p, s]);
    }
    const tail = merged[merged.length - 1];
    if (tail && tail[0] + tail[1] === this.top) {
      this.top = tail[0];
      merged.pop();
    }
    let best = -1;
    for (let i = 0; i < merged.length; i++) {
      const s = merged[i]![1];
      if (s >= size && (best < 0 || s < merged[best]![1])) best = i;
    }
    let at = -1;
    if (best >= 0) {
      const blk = merged[best]!;
      at = blk[0];
      blk[0] += size;
      blk[1] -= size;
    }
    for (const [p, s] of merged) if (s > 0) this.addFree(p, s);
    return at >= 0 ? at : this.bump(size);
  }

  /**
   * Grows the memory (by at least a quarter, to amortize, but never past `limit` bytes) so that
   * `size` bytes fit at the top; -1 when that would pass `limit`.
   */
  private grow(size: number, limit: number): number {
    const have = this.memory.buffer.byteLength / PAGE;
    const need = Math.ceil((this.top + size) / PAGE) - have;
    if (need <= 0) return this.bump(size);
    const cap = Math.min(MAX_PAGES, Math.floor(limit / PAGE)) - have;
    const want = Math.min(cap, Math.max(need, Math.ceil(have / 4)));
    if (want < need) return -1;
    this.counters.grows++;
    try {
      this.memory.grow(want);
    } catch {
      try {
        this.memory.grow(need);
      } catch {
        return -1;
      }
    }
    return this.bump(size);
  }

  /** Room for `size` more bytes under the resident target; a target the pinned blocks alone exceed is raised. */
  private makeRoom(size: number): void {
    this.evict(size, this.target);
    if (this.inUse + size > this.target) this.target = Math.min(this.ceiling, this.inUse + size);
  }

  /**
   * The CLOCK sweep: until `size` more bytes fit under `limit`, for at most two turns of the ring,
   * looks at resident buffers whose reference bit is clear (clearing the bits it passes; never one
   * pinned by the running kernel call). A buffer whose tensors have all been collected is freed
   * ({@link reap}); one a live tensor holds is evicted: its bytes move to a JavaScript array,
   * which the garbage collector frees with its tensor.
   */
  private evict(size: number, limit: number): void {
    const ring = this.ring;
    const c = this.counters;
    c.sweeps++;
    let steps = 2 * ring.length + 2;
    while (this.inUse + size > limit && steps-- > 0) {
      if (this.hand >= ring.length) {
        this.compact();
        this.hand = 0;
        if (ring.length === 0) return;
      }
      c.sweepSteps++;
      const b = ring[this.hand++]!;
      if (b.dead || b.ptr < 0 || b.pin === this.epoch) continue;
      // Second chance, and none for a block a kernel used in the last few calls (a tensor used
      // every step is never evicted, however the hand laps the ring).
      if (b.used || this.epoch - b.pin < MIN_AGE) {
        b.used = false;
        continue;
      }
      if (b.holders.length > 0 && this.reap(b)) continue;
      const host = new Uint8Array(b.bytes);
      host.set(this.u8.subarray(b.ptr, b.ptr + b.bytes));
      b.host = host;
      this.free(b.ptr, b.cap);
      b.ptr = -1;
      this.resident--;
      // From now on the copy must be reachable from its tensors alone, so that the collector frees
      // it with them: not from the ring, and not through the holders — a token made in the running
      // job is kept alive until the job ends (the WeakRef rule), and in a loop that never yields
      // every evicted copy stayed reachable through its token (2 GB resident after 160 steps of
      // plain W5). An evicted block is never reaped, so it needs no holders; its tensors' `refs`
      // still free it if they are released.
      ring[this.hand - 1] = GONE;
      forgetHolders(b);
      this.evictions++;
      this.evictedBytes += b.cap;
    }
  }

  stats(): WasmMemoryStats {
    return {
      memoryBytes: this.memory.buffer.byteLength,
      inUseBytes: this.inUse,
      residentBuffers: this.resident,
      budgetBytes: this.budgetBytes,
      targetBytes: this.target,
      evictions: this.evictions,
      evictedBytes: this.evictedBytes,
      reclaimed: this.reclaimed,
      reclaimedBytes: this.reclaimedBytes,
      refaults: this.refaults,
    };
  }
}
