/**
 * The WebGPU runtime under the backend: one device, a pool of storage buffers by size class,
 * pipelines cached by their WGSL source's key, and batched submission.
 *
 * Batching. Kernels are recorded into one open command encoder (one compute pass for a run of
 * dispatches: WebGPU orders the dispatches of a pass and makes each one's writes visible to the
 * next) and submitted only when something must leave the encoder: a read, a large upload, a full
 * parameter arena. No kernel waits for the GPU; only `read` does, and reads issued in the same
 * JavaScript turn (`Promise.all([a.data(), b.data()])`) share one submit and one wait, because a
 * wait costs ~11 ms under Deno whatever the work.
 *
 * Parameters and small uploads go into an *arena*: a CPU byte array mirrored into one storage
 * buffer by a single `writeBuffer` just before the batch is submitted. Each dispatch's shapes and
 * strides are a 256-byte-aligned slot of it (bound with an offset), and a small upload is a
 * `copyBufferToBuffer` from its slot, recorded in order with the kernels. This matters because
 * `queue.writeBuffer` runs *before* the commands still in the open encoder: writing straight into
 * a pooled buffer that an earlier recorded kernel still reads would change that kernel's input.
 *
 * Buffers freed by the lifetime machinery (Backend.release) go back to the pool at once: reusing
 * one in a later dispatch of the same encoder is safe because dispatches run in order. Buffers of
 * tensors the garbage collector drops come back through a FinalizationRegistry.
 */
import { DeltagradError } from "../errors.js";
import { GpuData, sizeClass } from "./data.js";
import { MAP_READ, USAGE, type GpuBuffer, type GpuCommandEncoder, type GpuComputePass, type GpuComputePipeline, type GpuDevice, type GpuQuerySet, type GpuBindGroup, type GpuBindGroupLayout } from "./types.js";

export { GpuData, sizeClass } from "./data.js";

const STORAGE_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
const ARENA_BYTES = 4 << 20;
/** Uploads up to this size ride in the arena; larger ones flush the encoder and use writeBuffer. */
const ARENA_UPLOAD_MAX = 256 << 10;
/** Bytes of idle buffers the pool keeps; beyond it freed buffers are destroyed at the next submit. */
const POOL_CAP_BYTES = 512 << 20;
const MAX_QUERIES = 256;
/** Bytes a parameter binding spans (a dynamic offset moves it; kernels read fewer). */
const PARAM_BYTES = 1024;
const COMPUTE = 4; // GPUShaderStage.COMPUTE

/** A compiled kernel: its pipeline, its bind group layout and a small id for bind-group keys. */
interface Pipeline {
  pipeline: GpuComputePipeline;
  layout: GpuBindGroupLayout;
  id: number;
}

const ID = Symbol("deltagrad.bufferId");
let nextBufferId = 1;

/** A small integer naming `b` for the bind-group cache (kept on the buffer object itself). */
function idOf(b: GpuBuffer): number {
  const tagged = b as GpuBuffer & { [ID]?: number };
  return (tagged[ID] ??= nextBufferId++);
}

/**
 * Removes and returns the free buffer with the smallest id. A canonical choice (not the most
 * recently freed) makes a training loop's steps take the same buffers in the same roles — a
 * parameter and its update ping-pong between two — so their bind groups repeat and hit the cache
 * (LIFO rotated buffers through roles with a long period: two thirds of a W2 step's bind groups
 * were new).
 */
function takeOldest(free: GpuBuffer[]): GpuBuffer {
  let at = 0;
  for (let i = 1; i < free.length; i++) if (idOf(free[i]!) < idOf(free[at]!)) at = i;
  const b = free[at]!;
  free[at] = free[free.length - 1]!;
  free.pop();
  return b;
}

function sameIds(ids: readonly number[], buffers: readonly GpuBuffer[]): boolean {
  if (ids.length !== buffers.length) return false;
  for (let i = 0; i < ids.length; i++) if (ids[i] !== idOf(buffers[i]!)) return false;
  return true;
}

interface PendingRead {
  staging: GpuBuffer;
  bytes: number;
  resolve: (b: ArrayBuffer) => void;
  reject: (e: unknown) => void;
}

export class GpuRuntime {
  private readonly pool = new Map<number, GpuBuffer[]>();
  private readonly staging = new Map<number, GpuBuffer[]>();
  private pooledBytes = 0;
  private readonly doomed: GpuBuffer[] = [];
  private readonly pipelines = new Map<string, Pipeline>();
  private encoder: GpuCommandEncoder | null = null;
  private pass: GpuComputePass | null = null;
  private readonly arena: GpuBuffer;
  private readonly arenaCpu = new Uint8Array(ARENA_BYTES);
  private readonly arenaWords = new Uint32Array(this.arenaCpu.buffer);
  private readonly groups = new Map<number, { pipe: number; ids: number[]; group: GpuBindGroup }>();
  private arenaUsed = 0;
  private reads: PendingRead[] = [];
  private readsScheduled = false;
  /** [sequence number of the first failing index check, the bad index]; 0 while clean. */
  readonly errorFlag: GpuBuffer;
  private readonly checks = new Map<number, string>();
  private nextCheck = 1;
  private readonly finalizer = new FinalizationRegistry<GpuBuffer>((b) => this.recycle(b));
  readonly maxBinding: number;
  /** Dispatches recorded since start (for tests and the benchmark). */
  dispatches = 0;
  submits = 0;
  /** Storage buffers created (not taken from the pool) since start: flat in a steady training loop. */
  buffersCreated = 0;
  lost: string | null = null;

  constructor(readonly device: GpuDevice) {
    this.maxBinding = device.limits.maxStorageBufferBindingSize ?? 134217728;
    this.arena = device.createBuffer({ size: ARENA_BYTES, usage: STORAGE_USAGE });
    this.errorFlag = device.createBuffer({ size: 256, usage: STORAGE_USAGE });
    void device.lost.then((info) => (this.lost = info.message || info.reason || "device lost"));
  }

  // ----- buffers -----

  /** A storage buffer for `bytes` bytes (contents undefined), from the pool when one is free. */
  alloc(bytes: number): GpuData {
    if (this.lost) throw new DeltagradError(`webgpu: the GPU device was lost (${this.lost}); call initWebGPU() again`);
    if (bytes > this.maxBinding) {
      throw new DeltagradError(`webgpu: a tensor of ${bytes} bytes exceeds this device's ${this.maxBinding}-byte storage binding limit`);
    }
    const cls = sizeClass(bytes);
    const free = this.pool.get(cls);
    let buffer = free && free.length > 0 ? takeOldest(free) : undefined;
    if (buffer) this.pooledBytes -= cls;
    else {
      buffer = this.device.createBuffer({ size: cls, usage: STORAGE_USAGE });
      this.buffersCreated++;
    }
    const d = new GpuData(buffer, bytes);
    this.finalizer.register(d, buffer, d);
    return d;
  }

  /** Gives a buffer whose last tensor died back to the pool (a pending transpose just lets go of its source). */
  free(d: GpuData): void {
    if (d.pending) {
      const src = d.pending.src;
      d.pending = null;
      this.unref(src);
      return;
    }
    this.finalizer.unregister(d);
    this.recycle(d.buffer);
  }

  private unref(d: GpuData): void {
    if (--d.refs === 0) this.free(d);
  }

  /** Storage that is `src` with its last two axes swapped, written only if something other than matmul reads it (`write` records the copy). */
  lazyTranspose(src: GpuData, write: (out: GpuData) => void): GpuData {
    const d = new GpuData(null, src.bytes, this);
    src.refs++;
    d.pending = { src, write };
    return d;
  }

  /** Writes a pending transpose into a buffer of its own (recorded in order like any kernel). */
  materialize(d: GpuData): void {
    const p = d.pending!;
    const tmp = this.alloc(d.bytes);
    this.finalizer.unregister(tmp);
    d._adopt(tmp.buffer);
    this.finalizer.register(d, tmp.buffer, d);
    d.pending = null;
    p.write(d);
    this.unref(p.src);
  }

  private recycle(b: GpuBuffer): void {
    if (this.pooledBytes + b.size > POOL_CAP_BYTES) {
      this.doomed.push(b); // destroyed after the next submit: the open encoder may still use it
      return;
    }
    const list = this.pool.get(b.size) ?? [];
    list.push(b);
    this.pool.set(b.size, list);
    this.pooledBytes += b.size;
  }

  /** Bytes held by idle pooled buffers. */
  get idleBytes(): number { return this.pooledBytes; }

  // ----- recording -----

  private enc(): GpuCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Reserves an arena slot (256-byte aligned) holding `data`; flushes first when full. */
  private slot(data: Uint8Array): number {
    const need = Math.max(256, Math.ceil(data.byteLength / 256) * 256);
    // Keep PARAM_BYTES after any slot: a parameter binding always spans that many bytes.
    if (this.arenaUsed + need + PARAM_BYTES > ARENA_BYTES) this.flush();
    const at = this.arenaUsed;
    this.arenaCpu.set(data, at);
    this.arenaUsed += need;
    return at;
  }

  /**
   * The pipeline for `key`, compiled from `source()` the first time, with an explicit layout:
   * binding 0 (the parameters) takes a dynamic offset, so one bind group serves every dispatch
   * on the same buffers; bindings 1… are read-only or read-write storage as the source declares.
   */
  pipeline(key: string, source: () => string): Pipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const code = source();
      const entries: { binding: number; visibility: number; buffer: { type: string; hasDynamicOffset?: boolean } }[] = [
        { binding: 0, visibility: COMPUTE, buffer: { type: "read-only-storage", hasDynamicOffset: true } },
      ];
      for (const m of code.matchAll(/@binding\((\d+)\)\s*var<storage,\s*(read_write|read)>/g)) {
        const binding = Number(m[1]);
        if (binding > 0) entries.push({ binding, visibility: COMPUTE, buffer: { type: m[2] === "read" ? "read-only-storage" : "storage" } });
      }
      const layout = this.device.createBindGroupLayout({ entries });
      const module = this.device.createShaderModule({ code });
      const pipeline = this.device.createComputePipeline({ layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }), compute: { module, entryPoint: "main" } });
      p = { pipeline, layout, id: this.pipelines.size };
      this.pipelines.set(key, p);
    }
    return p;
  }

  /**
   * A bind group of `pipe` on `buffers` (binding 0: the arena, offset per dispatch), cached by
   * buffer identity under a numeric hash of (pipeline, buffer ids); a hit compares the ids, a
   * collision just replaces the entry. (A string key cost ~5 µs a dispatch.)
   */
  private bindGroup(pipe: Pipeline, buffers: readonly GpuBuffer[]): GpuBindGroup {
    let h = pipe.id + 1;
    for (let i = 0; i < buffers.length; i++) h = (Math.imul(h, 0x9e3779b1) ^ idOf(buffers[i]!)) | 0;
    const hit = this.groups.get(h);
    if (hit !== undefined && hit.pipe === pipe.id && sameIds(hit.ids, buffers)) return hit.group;
    // Buffers destroyed since (pool trimming) leave stale entries that can never match a live
    // buffer's id again: bound the cache instead of tracking them.
    if (this.groups.size >= 8192) this.groups.clear();
    const entries = [{ binding: 0, resource: { buffer: this.arena, offset: 0, size: PARAM_BYTES } }];
    for (let i = 0; i < buffers.length; i++) entries.push({ binding: i + 1, resource: { buffer: buffers[i]!, offset: 0, size: buffers[i]!.size } });
    const group = this.device.createBindGroup({ layout: pipe.layout, entries });
    this.groups.set(h, { pipe: pipe.id, ids: buffers.map(idOf), group });
    return group;
  }

  /**
   * Records one dispatch of pipeline `key`: binding 0 is the parameter words `params` (u32; floats
   * as their bits), bindings 1… are `buffers` in order. `groups`: a workgroup count (spread over
   * y past the 65,535 per-dimension limit; kernels recompute the linear id, see wgsl.ts) or x, y, z.
   */
  dispatch(key: string, source: () => string, params: ArrayLike<number>, buffers: readonly GpuBuffer[], groups: number | readonly [number, number, number]): void {
    const [x, y, z] = typeof groups === "number" ? [Math.min(groups, 65535), Math.ceil(groups / 65535), 1] : groups;
    if (x === 0 || y === 0 || z === 0) return;
    if (params.length * 4 > PARAM_BYTES) throw new DeltagradError(`webgpu: ${key} needs ${params.length} parameter words, more than ${PARAM_BYTES / 4}`);
    const pipe = this.pipeline(key, source);
    const at = this.paramSlot(params);
    const group = this.bindGroup(pipe, buffers);
    if (!this.pass) this.pass = this.enc().beginComputePass();
    this.pass.setPipeline(pipe.pipeline);
    this.pass.setBindGroup(0, group, [at]);
    this.pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
  }

  /** Writes `params` as u32 words into a fresh 256-byte-aligned arena slot (room for PARAM_BYTES after it). */
  private paramSlot(params: ArrayLike<number>): number {
    if (this.arenaUsed + PARAM_BYTES > ARENA_BYTES) this.flush();
    const at = this.arenaUsed;
    const words = this.arenaWords;
    const w0 = at >> 2;
    for (let i = 0; i < params.length; i++) words[w0 + i] = params[i]! >>> 0;
    this.arenaUsed += Math.max(256, Math.ceil((params.length * 4) / 256) * 256);
    return at;
  }

  /** Records a copy of `bytes` bytes from `src` to `dst`, in order with the kernels. */
  copy(src: GpuBuffer, dst: GpuBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    if (bytes === 0) return;
    this.endPass();
    this.enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** A new buffer holding `data` (its byte length a multiple of 4). */
  upload(data: Uint8Array): GpuData {
    const d = this.alloc(data.byteLength);
    if (data.byteLength === 0) return d;
    if (data.byteLength <= ARENA_UPLOAD_MAX) {
      const at = this.slot(data);
      this.copy(this.arena, d.buffer, data.byteLength, at, 0);
    } else {
      if (this.encoder) this.flush();
      this.device.queue.writeBuffer(d.buffer, 0, data);
    }
    return d;
  }

  /** Submits everything recorded so far (no wait). */
  flush(): void {
    this.endPass();
    if (this.encoder) {
      if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaCpu, 0, this.arenaUsed);
      this.device.queue.submit([this.encoder.finish()]);
      this.submits++;
      this.encoder = null;
    }
    this.arenaUsed = 0;
    for (const b of this.doomed.splice(0)) b.destroy();
  }

  /** Waits until the GPU has finished everything submitted (flushing first). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  // ----- device-side index checks -----

  /** A sequence number for one index-checking dispatch; its kernel stores it in the flag on failure. */
  check(message: string): number {
    const n = this.nextCheck++;
    if (this.nextCheck > 0x7fffffff) this.nextCheck = 1;
    this.checks.set(n, message);
    return n;
  }

  // ----- reads -----

  /**
   * The first `bytes` bytes of `src`. The copy is recorded now (so a later kernel reusing the
   * buffer cannot change what is read); the submit and the wait happen once for every read made
   * in this JavaScript turn. Rejects with the index error when a gather/scatterAdd recorded before
   * it found an out-of-range index.
   */
  read(src: GpuBuffer, bytes: number): Promise<ArrayBuffer> {
    if (this.lost) return Promise.reject(new DeltagradError(`webgpu: the GPU device was lost (${this.lost})`));
    if (bytes === 0) return Promise.resolve(new ArrayBuffer(0));
    const staging = this.stagingBuffer(bytes);
    this.copy(src, staging, bytes);
    return new Promise((resolve, reject) => {
      this.reads.push({ staging, bytes, resolve, reject });
      if (!this.readsScheduled) {
        this.readsScheduled = true;
        queueMicrotask(() => void this.finishReads());
      }
    });
  }

  private stagingBuffer(bytes: number): GpuBuffer {
    const cls = sizeClass(bytes);
    return this.staging.get(cls)?.pop() ?? this.device.createBuffer({ size: cls, usage: MAP_READ | USAGE.COPY_DST });
  }

  private unstage(b: GpuBuffer): void {
    b.unmap();
    const list = this.staging.get(b.size) ?? [];
    if (list.length < 8) {
      list.push(b);
      this.staging.set(b.size, list);
    } else b.destroy();
  }

  private async finishReads(): Promise<void> {
    const batch = this.reads;
    this.reads = [];
    this.readsScheduled = false;
    const issued = [...this.checks.keys()];
    const flag = this.stagingBuffer(8);
    this.copy(this.errorFlag, flag, 8);
    this.flush();
    try {
      await Promise.all([flag.mapAsync(MAP_READ, 0, 8), ...batch.map((r) => r.staging.mapAsync(MAP_READ, 0, r.bytes))]);
    } catch (e) {
      for (const r of batch) r.reject(new DeltagradError(`webgpu: reading a tensor failed (${String(e)})`));
      return;
    }
    const [seq, bad] = new Int32Array(flag.getMappedRange(0, 8).slice(0));
    this.unstage(flag);
    let error: DeltagradError | null = null;
    if (seq !== 0) {
      const what = this.checks.get(seq!) ?? "gather/scatterAdd";
      error = new DeltagradError(`${what}: index ${bad} is out of range (found on the GPU when the result was read)`);
      this.device.queue.writeBuffer(this.errorFlag, 0, new Int32Array(2));
    }
    // Every check recorded before this submit has now run and been reported.
    for (const k of issued) this.checks.delete(k);
    for (const r of batch) {
      const out = r.staging.getMappedRange(0, r.bytes).slice(0);
      this.unstage(r.staging);
      if (error) r.reject(error);
      else r.resolve(out);
    }
  }

  // ----- timestamps (benchmarks) -----

  private querySet: GpuQuerySet | null = null;
  private queries = 0;

  /**
   * Records a GPU timestamp at this point of the command stream — an empty compute pass whose
   * beginning writes it — and returns its index, or -1 where the device lacks "timestamp-query".
   * {@link timestamps} reads them all.
   */
  timestamp(): number {
    if (!this.device.features.has("timestamp-query")) return -1;
    this.querySet ??= this.device.createQuerySet({ type: "timestamp", count: MAX_QUERIES });
    if (this.queries >= MAX_QUERIES) throw new DeltagradError(`webgpu: more than ${MAX_QUERIES} timestamps before timestamps() read them`);
    this.endPass();
    const i = this.queries++;
    this.enc().beginComputePass({ timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: i } }).end();
    return i;
  }

  /** The timestamps recorded since the last call, in nanoseconds (one read), and resets the count. */
  async timestamps(): Promise<bigint[]> {
    const n = this.queries;
    if (n === 0 || !this.querySet) return [];
    this.queries = 0;
    const buf = this.device.createBuffer({ size: sizeClass(8 * n), usage: USAGE.QUERY_RESOLVE | USAGE.COPY_SRC });
    this.endPass();
    this.enc().resolveQuerySet(this.querySet, 0, n, buf, 0);
    const bytes = await this.read(buf, 8 * n);
    buf.destroy();
    return Array.from(new BigUint64Array(bytes));
  }

  /** Releases every buffer and the device. */
  destroy(): void {
    this.flush();
    for (const list of [...this.pool.values(), ...this.staging.values()]) for (const b of list) b.destroy();
    for (const m of [this.pool, this.staging, this.pipelines, this.groups]) m.clear();
    this.device.destroy();
  }
}
