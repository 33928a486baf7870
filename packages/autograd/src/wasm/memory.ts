/**
 * Where the wasm backend's tensors live: one WebAssembly.Memory (shared with the worker threads
 * where SharedArrayBuffer exists), carved into blocks by a small allocator, with a budget kept by
 * evicting cold blocks to the JavaScript heap.
 *
 * Lifetime. A {@link WasmBuffer} is a tensor's storage handle. The autograd core counts the
 * tensors that reference it (`retain`/`release` on the Backend) and releases the temporaries it
 * knows are dead — inside composite ops, VJPs, optimizer steps and built-in modules (see
 * lifetime.ts) — so a training step returns almost all of its memory to the free lists
 * deterministically, with no `tidy()`. Storage the core cannot prove dead (tensors user code
 * created and dropped) stays allocated until the budget fills; then the CLOCK sweep evicts the
 * least recently used blocks by copying them to ordinary JavaScript arrays, which the garbage
 * collector frees once the tensor is gone. A finalizer cannot do this job: FinalizationRegistry
 * callbacks (and WeakRef clearing) only run when the event loop turns, never inside a
 * synchronous training loop.
 *
 * Allocator. Block sizes are rounded to 64 bytes (SIMD and cache-line alignment). Freed blocks
 * go to exact-size bins, reused last-in first-out (the block freed most recently is the one
 * still in cache); a miss bumps the top of the heap; when the top would pass the end of memory,
 * free blocks are coalesced and searched best-fit before the memory grows.
 */
import { DeltagradError } from "../errors.js";

const PAGE = 65536;
/** The wasm32 limit: 4 GiB. */
const MAX_PAGES = 65536;
const ALIGN = 64;

/** Storage of one wasm-backend tensor: a block of wasm memory, or its evicted copy on the JS heap. */
export class WasmBuffer {
  /** Byte offset of the block in wasm memory; −1 while evicted (then `host` holds the bytes) or after free. */
  ptr: number;
  /** Size of the block (the contents' size rounded up to 64). */
  readonly cap: number;
  /** Tensors referencing this storage (Backend.retain / release). */
  refs = 0;
  /** The contents while evicted. */
  host: Uint8Array | null = null;
  /** CLOCK reference bit: set on every kernel use, cleared by the eviction sweep. */
  used = true;
  /** The kernel call (epoch) that last pinned it; blocks pinned by the running call are never evicted. */
  pin = 0;
  /** Set once the storage has been freed for good. */
  dead = false;

  constructor(ptr: number, readonly bytes: number, cap: number) {
    this.ptr = ptr;
    this.cap = cap;
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
  /** The budget above which cold blocks are evicted to the JavaScript heap. */
  budgetBytes: number;
  /** Blocks evicted so far, and their bytes. */
  evictions: number;
  evictedBytes: number;
}

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

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
  budget: number;
  /** Resident buffers in allocation order: the CLOCK ring (dead/evicted entries are dropped lazily). */
  private ring: WasmBuffer[] = [];
  private hand = 0;
  /** Resident (not evicted, not freed) tensor storages: the live entries of the ring. */
  private resident = 0;
  private epoch = 1;
  evictions = 0;
  evictedBytes = 0;

  /** `reserved` bytes at address 0 stay out of the allocator (the thread pool's control block). */
  constructor(opts: { shared: boolean; budget: number; reserved: number }) {
    this.shared = opts.shared;
    this.memory = opts.shared
      ? new WebAssembly.Memory({ initial: 64, maximum: MAX_PAGES, shared: true })
      : new WebAssembly.Memory({ initial: 64 });
    this.top = roundUp(opts.reserved, ALIGN);
    this.budget = opts.budget;
    this.viewBuffer = this.memory.buffer;
    this.u8View = new Uint8Array(this.viewBuffer);
    this.f32View = new Float32Array(this.viewBuffer);
    this.i32View = new Int32Array(this.viewBuffer);
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
    const size = Math.max(ALIGN, roundUp(bytes, ALIGN));
    if (this.inUse + size > this.budget) this.evict(size);
    const bin = this.bins.get(size);
    if (bin !== undefined && bin.length > 0) {
      this.freeBytes -= size;
      this.inUse += size;
      return bin.pop()!;
    }
    let at = this.bump(size);
    if (at < 0) at = this.fromFreeBlocks(size);
    if (at < 0) at = this.grow(size);
    if (at < 0) {
      this.evict(Infinity);
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
    const size = Math.max(ALIGN, roundUp(bytes, ALIGN));
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
    const cap = Math.max(ALIGN, roundUp(bytes, ALIGN));
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
    const at = this.top;
    this.top += size;
    return at;
  }

  /**
   * Coalesces every free block (sorted by address, adjacent ones merged; a run ending at the top
   * lowers the top) and takes the best fit, splitting off the rest. Rare: only when a size has no
   * bin entry and the top has no room.
   */
  private fromFreeBlocks(size: number): number {
    if (this.freeBytes === 0) return this.bump(size);
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

  /** Grows the memory (by at least a quarter, to amortize) so that `size` bytes fit at the top. */
  private grow(size: number): number {
    const have = this.memory.buffer.byteLength / PAGE;
    const need = Math.ceil((this.top + size) / PAGE) - have;
    if (need <= 0) return this.bump(size);
    const want = Math.min(MAX_PAGES - have, Math.max(need, Math.ceil(have / 4)));
    if (want < need) return -1;
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

  /**
   * The CLOCK sweep: evicts resident buffers whose reference bit is clear (clearing the bits it
   * passes; never one pinned by the running kernel call) until `size` more bytes fit in the
   * budget, for at most two turns of the ring. An evicted buffer's bytes move to a JavaScript
   * array, which the garbage collector frees with its tensor.
   */
  private evict(size: number): void {
    const ring = this.ring;
    let budget = 2 * ring.length + 2;
    while (this.inUse + size > this.budget && budget-- > 0) {
      if (this.hand >= ring.length) {
        this.compact();
        this.hand = 0;
        if (ring.length === 0) return;
      }
      const b = ring[this.hand++]!;
      if (b.dead || b.ptr < 0 || b.pin === this.epoch) continue;
      if (b.used) {
        b.used = false;
        continue;
      }
      b.host = this.u8.slice(b.ptr, b.ptr + b.bytes);
      this.free(b.ptr, b.cap);
      b.ptr = -1;
      this.resident--;
      this.evictions++;
      this.evictedBytes += b.cap;
    }
  }

  stats(): WasmMemoryStats {
    return {
      memoryBytes: this.memory.buffer.byteLength,
      inUseBytes: this.inUse,
      residentBuffers: this.resident,
      budgetBytes: this.budget,
      evictions: this.evictions,
      evictedBytes: this.evictedBytes,
    };
  }
}
