/**
 * The `webgpu` backend: float32, int32 and bool tensors live in GPU storage buffers and every
 * Backend kernel runs as a WGSL compute shader (elementwise.ts, reduce.ts, movement.ts,
 * matmul.ts, window.ts); device.ts batches the work and pools the buffers. Reads are asynchronous
 * only (`await t.data()`). float64 tensors made while webgpu is active stay host arrays computed
 * by the cpu kernels (so gradcheck-style float64 code keeps working); an op that would mix a
 * float64 host tensor with a GPU tensor throws, naming the op.
 */
import { registerBackend, type Backend, type BackendData } from "../backend.js";
import { cpuBackend } from "../cpu/index.js";
import type { DType, TypedArray } from "../dtype.js";
import { DeltagradError } from "../errors.js";
import { GpuData, GpuRuntime } from "./device.js";
import * as ew from "./elementwise.js";
import * as mv from "./movement.js";
import { argReduce, reduce } from "./reduce.js";
import { matmul } from "./matmul.js";
import { fold, unfold, windowArgmax } from "./window.js";
import { navigatorGpu, type GpuAdapter, type GpuDevice } from "./types.js";

let rt: GpuRuntime | null = null;

function runtime(): GpuRuntime {
  if (!rt) throw new DeltagradError("webgpu backend: not initialised; `await initWebGPU()` first");
  return rt;
}

const isHost = (d: BackendData): d is TypedArray => ArrayBuffer.isView(d);

/**
 * The GPU buffer of an operand. A host bool/int32 array (the result of a comparison or an
 * arg-reduction of float64 host values) is uploaded for this use (its buffer returns to the pool
 * through the FinalizationRegistry); a float64 host array cannot go to the GPU: that throws, naming `op`.
 */
function g(op: string, d: BackendData): GpuData {
  if (d instanceof GpuData) return d;
  if (d instanceof Int32Array) return runtime().upload(widen(d, "int32"));
  if (d instanceof Uint8Array) return runtime().upload(widen(d, "bool"));
  throw new DeltagradError(
    `${op}: webgpu keeps float64 tensors on the host and cannot mix them with GPU tensors; cast the float64 operand to float32 (x.cast("float32")) or run float64 work on setBackend("cpu")`,
  );
}

/** Host (float64) operands run the cpu kernel; all-GPU operands the WGSL one; a mix throws (see {@link g}). */
function route<T extends readonly BackendData[]>(op: string, ds: T, host: () => BackendData, gpu: (r: GpuRuntime) => BackendData): BackendData {
  const hosts = ds.filter(isHost).length;
  if (hosts === ds.length && ds.length > 0) return host();
  return gpu(runtime());
}

function widen(values: TypedArray, dtype: DType): Uint8Array {
  // bool: one u32 word per element on the GPU (WGSL has no 8-bit storage).
  const words = dtype === "bool" ? Uint32Array.from(values as Uint8Array) : values;
  return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
}

function narrow(bytes: ArrayBuffer, dtype: DType): TypedArray {
  if (dtype === "float32") return new Float32Array(bytes);
  if (dtype === "int32") return new Int32Array(bytes);
  return Uint8Array.from(new Uint32Array(bytes));
}

/**
 * The `webgpu` backend object (registered by {@link initWebGPU}). Synchronous reads throw; use
 * `await t.data()`, `await t.array()`, `await t.item()`.
 *
 * @example
 * ```ts no-run
 * if ((await initWebGPU()).ok) setBackend("webgpu");
 * getBackend() === webgpuBackend; // true
 * ```
 */
export const webgpuBackend: Backend = {
  name: "webgpu",
  synchronous: false,
  supports: (dtype) => dtype !== "float64",

  retain(d) {
    if (!(d instanceof GpuData)) return false;
    d.refs++;
    return true;
  },
  release(d) {
    const b = d as GpuData;
    if (--b.refs === 0 && rt) rt.free(b);
  },

  upload(values, dtype) {
    if (dtype === "float64") return values;
    return runtime().upload(widen(values, dtype));
  },
  readSync(d) {
    if (isHost(d)) return d;
    throw new DeltagradError("webgpu: synchronous reads are not possible on the GPU; use await t.data() (or t.array(), t.item())");
  },
  async read(d, dtype, size) {
    if (isHost(d)) return d;
    return narrow(await runtime().read((d as GpuData).buffer, size * 4), dtype);
  },
  write(dst, src, dtype, size) {
    if (isHost(dst) && isHost(src)) return cpuBackend.write(dst, src, dtype, size);
    runtime().copy(g("write", src).buffer, g("write", dst).buffer, size * 4);
  },
  fill(dtype, size, value) {
    return dtype === "float64" ? cpuBackend.fill(dtype, size, value) : ew.fill(runtime(), dtype, size, value);
  },

  unary: (op, x, dt, n) => route(op, [x], () => cpuBackend.unary(op, x, dt, n), (r) => ew.unary(r, op, g(op, x), dt, n)),
  binary: (op, a, as, b, bs, os, dt) => route(op, [a, b], () => cpuBackend.binary(op, a, as, b, bs, os, dt), (r) => ew.binary(r, op, g(op, a), as, g(op, b), bs, os, dt)),
  compare: (op, a, as, b, bs, os, dt) => route(op, [a, b], () => cpuBackend.compare(op, a, as, b, bs, os, dt), (r) => ew.compare(r, op, g(op, a), as, g(op, b), bs, os, dt)),
  where(c, cs, a, as, b, bs, os, dt) {
    if (dt === "float64") {
      if (!isHost(c)) throw new DeltagradError("where: webgpu cannot select float64 (host) values with a GPU condition; compute the condition in float64 too");
      return cpuBackend.where(c, cs, a, as, b, bs, os, dt);
    }
    return ew.where(runtime(), g("where", c), cs, g("where", a), as, g("where", b), bs, os, dt);
  },
  cast(x, from, to, n) {
    if (from === "float64" || to === "float64") {
      if (!isHost(x)) {
        throw new DeltagradError(`cast: webgpu does not store float64; a GPU ${from} tensor cannot become float64 without a host read (use await t.data() and create it on cpu)`);
      }
      const host = cpuBackend.cast(x, from, to, n);
      return to === "float64" ? host : runtime().upload(widen(host as TypedArray, to));
    }
    return ew.cast(runtime(), g("cast", x), from, to, n);
  },

  reduce: (op, x, s, axes, dt) => route(op, [x], () => cpuBackend.reduce(op, x, s, axes, dt), (r) => reduce(r, op, g(op, x), s, axes, dt)),
  argReduce: (op, x, s, axis, dt) => route(op, [x], () => cpuBackend.argReduce(op, x, s, axis, dt), (r) => argReduce(r, op, g(op, x), s, axis, dt)),

  expand: (x, s, os, dt) => route("expand", [x], () => cpuBackend.expand(x, s, os, dt), (r) => mv.expand(r, g("expand", x), s, os, dt)),
  permute: (x, s, perm, dt) => route("permute", [x], () => cpuBackend.permute(x, s, perm, dt), (r) => mv.permuteLazily(r, g("permute", x), s, perm, dt)),
  slice: (x, s, b, size, dt) => route("slice", [x], () => cpuBackend.slice(x, s, b, size, dt), (r) => mv.slice(r, g("slice", x), s, b, size, dt)),
  pad: (x, s, pads, v, dt) => route("pad", [x], () => cpuBackend.pad(x, s, pads, v, dt), (r) => mv.pad(r, g("pad", x), s, pads, v, dt)),
  concat: (xs, shapes, axis, dt) => route("concat", xs, () => cpuBackend.concat(xs, shapes, axis, dt), (r) => mv.concat(r, xs.map((x) => g("concat", x)), shapes, axis, dt)),
  matmul: (a, as, b, bs, os, dt) => route("matmul", [a, b], () => cpuBackend.matmul(a, as, b, bs, os, dt), (r) => matmul(r, g("matmul", a), as, g("matmul", b), bs, os, dt)),
  gather: (x, s, idx, n, axis, dt) => route("gather", [x], () => cpuBackend.gather(x, s, idx, n, axis, dt), (r) => mv.gather(r, g("gather", x), s, g("gather", idx), n, axis, dt)),
  scatterAdd: (gr, idx, n, os, axis, dt) => route("scatterAdd", [gr], () => cpuBackend.scatterAdd(gr, idx, n, os, axis, dt), (r) => mv.scatterAdd(r, g("scatterAdd", gr), g("scatterAdd", idx), n, os, axis, dt)),
  unfold: (x, s, p, dt) => route("unfold", [x], () => cpuBackend.unfold(x, s, p, dt), (r) => unfold(r, g("unfold", x), s, p, dt)),
  fold: (c, os, p, dt) => route("fold", [c], () => cpuBackend.fold(c, os, p, dt), (r) => fold(r, g("fold", c), os, p, dt)),
  windowArgmax: (x, s, p, dt) => route("windowArgmax", [x], () => cpuBackend.windowArgmax(x, s, p, dt), (r) => windowArgmax(r, g("windowArgmax", x), s, p, dt)),
};

/**
 * Options of {@link initWebGPU}.
 *
 * @example
 * ```ts no-run
 * await initWebGPU({ powerPreference: "low-power" }); // a laptop's integrated GPU
 * ```
 */
export interface WebGPUOptions {
  /** Passed to `navigator.gpu.requestAdapter`. Default "high-performance". */
  powerPreference?: "low-power" | "high-performance";
  /** Use this device instead of requesting one (e.g. shared with a renderer). */
  device?: unknown;
}

/**
 * What {@link initWebGPU} found: the backend is registered when `ok` (with the adapter's
 * description), else `reason` says why not.
 *
 * @example
 * ```ts no-run
 * const r: WebGPUInit = await initWebGPU();
 * console.log(r.ok ? `on ${r.adapter}` : `no GPU: ${r.reason}`);
 * ```
 */
export type WebGPUInit = { ok: true; adapter: string } | { ok: false; reason: string };

/**
 * Requests a WebGPU adapter and device and registers the `webgpu` backend (it does not make it
 * active: call `setBackend("webgpu")`). Never throws: where WebGPU is missing (Node, a browser
 * without it, no adapter) it resolves `{ ok: false, reason }`. Calling it again after success
 * returns at once.
 *
 * @example
 * ```ts no-run
 * import { initWebGPU, setBackend, randn, matmul } from "@deltagrad/autograd";
 * const r = await initWebGPU();
 * if (r.ok) setBackend("webgpu");
 * const y = matmul(randn([256, 256]), randn([256, 256]));
 * console.log(await y.data()); // the first await waits for the GPU
 * ```
 */
export async function initWebGPU(options: WebGPUOptions = {}): Promise<WebGPUInit> {
  if (rt && !rt.lost) return { ok: true, adapter: adapterName };
  try {
    let device = options.device as GpuDevice | undefined;
    if (!device) {
      const gpu = navigatorGpu();
      if (!gpu) return { ok: false, reason: "navigator.gpu is missing (this runtime has no WebGPU)" };
      const adapter: GpuAdapter | null = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? "high-performance" });
      if (!adapter) return { ok: false, reason: "navigator.gpu.requestAdapter() returned null (no GPU adapter)" };
      // Ask for the adapter's own binding and buffer limits (the defaults are 128 MiB / 256 MiB).
      const want = ["maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupStorageSize", "maxComputeInvocationsPerWorkgroup"];
      const requiredLimits: Record<string, number> = {};
      for (const k of want) if (typeof adapter.limits[k] === "number") requiredLimits[k] = adapter.limits[k]!;
      const features = adapter.features.has("timestamp-query") ? ["timestamp-query"] : [];
      device = await adapter.requestDevice({ requiredLimits, requiredFeatures: features });
      const info = adapter.info;
      adapterName = [info?.description, info?.vendor, info?.architecture].filter((s) => s).join(" ") || "unknown adapter";
    } else adapterName = "caller's device";
    rt = new GpuRuntime(device);
    registerBackend(webgpuBackend);
    return { ok: true, adapter: adapterName };
  } catch (e) {
    return { ok: false, reason: `WebGPU initialisation failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

let adapterName = "";

/**
 * Resolves when the GPU has finished every kernel recorded so far (one submit and one wait).
 * For timing; reads already wait for the work they need.
 *
 * @example
 * ```ts no-run
 * const t0 = performance.now(); step(); await webgpuSync(); console.log(performance.now() - t0);
 * ```
 */
export async function webgpuSync(): Promise<void> {
  await runtime().sync();
}

/**
 * Counters of the webgpu runtime: kernels dispatched, command buffers submitted, bytes of idle
 * pooled buffers, buffers created (rather than reused).
 *
 * @example
 * ```ts no-run
 * const { dispatches, submits, pooledBytes } = webgpuStats();
 * ```
 */
export interface WebGPUStats {
  dispatches: number;
  submits: number;
  pooledBytes: number;
  /** Storage buffers created rather than reused from the pool: stops growing once a training loop is warm. */
  buffersCreated: number;
}

/**
 * The webgpu runtime's counters (zeros before {@link initWebGPU}).
 *
 * @example
 * ```ts no-run
 * const before = webgpuStats().submits; step(); webgpuStats().submits - before; // 0: nothing waited
 * ```
 */
export function webgpuStats(): WebGPUStats {
  return rt
    ? { dispatches: rt.dispatches, submits: rt.submits, pooledBytes: rt.idleBytes, buffersCreated: rt.buffersCreated }
    : { dispatches: 0, submits: 0, pooledBytes: 0, buffersCreated: 0 };
}

/**
 * Records a GPU timestamp at this point of the recorded work (for benchmarks: the difference of
 * two timestamps is GPU time, free of the JavaScript and the wait). False where the device has no
 * "timestamp-query" feature (then time with {@link webgpuSync} and the wall clock).
 *
 * @example
 * ```ts no-run
 * webgpuTimestamp(); for (let i = 0; i < 10; i++) matmul(a, b); webgpuTimestamp();
 * const [t0, t1] = await webgpuTimestamps(); console.log((t1 - t0) / 10 / 1e6, "ms per matmul");
 * ```
 */
export function webgpuTimestamp(): boolean {
  return runtime().timestamp() >= 0;
}

/**
 * The timestamps recorded by {@link webgpuTimestamp} since the last call, in nanoseconds (one
 * read; waits for the work before them).
 *
 * @example
 * ```ts no-run
 * const [t0, t1] = await webgpuTimestamps();
 * ```
 */
export async function webgpuTimestamps(): Promise<number[]> {
  return (await runtime().timestamps()).map(Number);
}
