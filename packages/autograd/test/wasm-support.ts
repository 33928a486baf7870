/**
 * Test support for the wasm backend: run a kernel the way the core does (operands uploaded,
 * result read back, handles released) and deterministic inputs.
 */
import { wasmBackend, type BackendData, type DType, type Tensor, type TypedArray } from "@deltagrad/autograd";

/** The bytes of a tensor's values (float bits, NaN payloads and −0 included), for bit-for-bit comparisons. */
export const bits = (t: Tensor): Buffer => {
  const v = t.dataSync();
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
};

/** Where two byte strings first differ (−1: equal), so a failure names an element instead of printing megabytes. */
export const firstDiff = (a: Buffer, b: Buffer): number => (a.equals(b) ? -1 : a.findIndex((x, i) => x !== b[i]));

/**
 * Where two float32 byte strings first differ as values (−1: equal): bit for bit, except that any
 * NaN equals any NaN — WebAssembly leaves the sign and payload of an arithmetic NaN open, and a
 * sum meeting NaNs of both signs keeps whichever operand the engine's code puts first.
 */
export const firstValueDiff = (a: Buffer, b: Buffer): number => {
  if (a.equals(b)) return -1;
  const x = new Float32Array(a.buffer, a.byteOffset, a.byteLength >> 2);
  const y = new Float32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  return x.findIndex((v, i) => !(Object.is(v, y[i]) || (Number.isNaN(v) && Number.isNaN(y[i]))));
};

/** Deterministic floats in [−1, 1) (a 32-bit LCG). */
export function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/**
 * Runs a wasm kernel as the core does: TypedArray arguments are uploaded first (4 KiB and more
 * into wasm memory, smaller ones stay on the JS heap), the result is read back as a plain array of
 * `outDType` with `n` elements, and every handle is released afterwards.
 */
export function onWasm(outDType: DType, n: number, kernel: (...args: never[]) => BackendData, ...args: unknown[]): TypedArray {
  const handles: BackendData[] = [];
  const up = (a: unknown): unknown => {
    if (ArrayBuffer.isView(a)) {
      const d = a instanceof Float32Array ? "float32" : a instanceof Float64Array ? "float64" : a instanceof Int32Array ? "int32" : "bool";
      const h = wasmBackend.upload(a as TypedArray, d);
      handles.push(h);
      return h;
    }
    return Array.isArray(a) && a.some((x) => ArrayBuffer.isView(x)) ? a.map(up) : a;
  };
  const out = (kernel as (...a: unknown[]) => BackendData)(...args.map(up));
  const values = wasmBackend.readSync(out, outDType, n).slice();
  for (const h of [...handles, out]) if (wasmBackend.retain!(h)) wasmBackend.release!(h);
  return values;
}

