/**
 * The safetensors format itself: state dict → bytes ({@link serialize}) and bytes → state dict
 * ({@link deserialize}), touching no file system (browsers included). The layout and the checks
 * are described in files.ts, which adds files on top; index.ts re-exports the public part.
 */
import { DeltagradError, Tensor, tensor, type DType, type TypedArray } from "@deltagrad/autograd";
import { optionsOf } from "../options.js";

/**
 * Largest JSON header accepted, as the reference implementation (100 MB).
 *
 * @example
 * ```ts
 * MAX_HEADER_BYTES; // a header claiming more is rejected before it is read
 * ```
 */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const TO_FILE: Record<DType, string> = { float32: "F32", float64: "F64", int32: "I32", bool: "BOOL" };
const FROM_FILE: ReadonlyMap<string, DType> = new Map(Object.entries(TO_FILE).map(([d, s]) => [s, d as DType]));
const ITEMSIZE: Record<DType, number> = { float32: 4, float64: 8, int32: 4, bool: 1 };
const CTORS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, bool: Uint8Array } as const;

/** The file stores little-endian elements; on a big-endian host every element's bytes are reversed. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Options of {@link serialize} and {@link save}. */
export interface SerializeOptions {
  /** Free-form string → string pairs stored in the header's `__metadata__`. */
  metadata?: Record<string, string>;
}

// ─── writing ────────────────────────────────────────────────────────────────────────────────

/** A tensor's place in the file, decided from its shape and dtype alone (no data read). */
/** @internal */
export interface Planned {
  name: string;
  t: Tensor;
  begin: number;
  end: number;
}

/** @internal */
export const q = (name: string) => JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);

/** Checks the inputs and lays the file out: header bytes and each tensor's data range. */
/** @internal */
export function plan(where: string, stateDict: Record<string, Tensor>, metadata: unknown): { header: Uint8Array; entries: Planned[]; dataBytes: number } {
  if (stateDict === null || typeof stateDict !== "object" || Array.isArray(stateDict)) {
    throw new DeltagradError(`${where}: expected a record of tensors by name, got ${stateDict === null ? "null" : Array.isArray(stateDict) ? "an array" : typeof stateDict}`);
  }
  const entries: Planned[] = [];
  for (const name of Object.keys(stateDict)) {
    const t = stateDict[name];
    if (name === "__metadata__") throw new DeltagradError(`${where}: "__metadata__" is reserved by the format and cannot name a tensor`);
    if (!(t instanceof Tensor)) throw new DeltagradError(`${where}: ${q(name)} is not a Tensor (got ${t === null ? "null" : typeof t})`);
    entries.push({ name, t, begin: 0, end: 0 });
  }
  let meta = "";
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) throw new DeltagradError(`${where}: metadata must be a record of strings`);
    const pairs = Object.keys(metadata).map((k) => {
      const v = (metadata as Record<string, unknown>)[k];
      if (typeof v !== "string") throw new DeltagradError(`${where}: metadata ${q(k)} must be a string (safetensors metadata is string → string), got ${typeof v}`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    meta = `"__metadata__":{${pairs.join(",")}}`;
  }
  // Data is laid out widest dtype first, so with the 8-byte-aligned data section below every
  // tensor starts at a multiple of its element size (what the reference writer does, and what
  // lets readers map tensors without copying). The header keeps the state dict's order.
  let offset = 0;
  for (const e of [...entries].sort((a, b) => ITEMSIZE[b.t.dtype] - ITEMSIZE[a.t.dtype])) {
    e.begin = offset;
    offset = e.end = offset + e.t.size * ITEMSIZE[e.t.dtype];
  }
  const fields = entries.map(
    (e) => `${JSON.stringify(e.name)}:{"dtype":"${TO_FILE[e.t.dtype]}","shape":[${e.t.shape.join(",")}],"data_offsets":[${e.begin},${e.end}]}`,
  );
  if (meta) fields.unshift(meta);
  const json = new TextEncoder().encode(`{${fields.join(",")}}`);
  // Pad the JSON with spaces (JSON whitespace) so the data section starts 8-byte aligned.
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  header.set(json, 8);
  const view = new DataView(header.buffer);
  view.setUint32(0, padded % 2 ** 32, true); // u64 LE, low word first
  view.setUint32(4, Math.floor(padded / 2 ** 32), true);
  return { header, entries, dataBytes: offset };
}

/** A tensor's values as little-endian bytes in a buffer of their own. */
/** @internal */
export function toLittleEndian(where: string, name: string, values: TypedArray, dtype: DType, size: number): Uint8Array {
  if (!(values instanceof CTORS[dtype]) || values.length !== size) {
    throw new DeltagradError(`${where}: tensor ${q(name)} read back ${values.length} values of the wrong kind, expected ${size} ${dtype}`);
  }
  // Copying bytes (never element by element through a JS number) keeps NaN payloads bit-exact.
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  if (!HOST_LITTLE_ENDIAN) swapBytes(bytes, ITEMSIZE[dtype]);
  return bytes;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/**
 * Encodes a state dict as safetensors bytes (no file system; works in browsers). Tensors are
 * read with `dataSync()`, so they must live on a synchronous backend (cpu, wasm);
 * {@link serializeAsync} and `save` read asynchronously and work on every backend.
 *
 * @example
 * ```ts
 * const bytes = serialize(model.stateDict(), { metadata: { epoch: "3" } });
 * const blob = new Blob([bytes]); // e.g. offer it as a download
 * ```
 */
export function serialize(stateDict: Record<string, Tensor>, options?: SerializeOptions): Uint8Array {
  const { metadata } = optionsOf("serialize", options);
  const { header, entries, dataBytes } = plan("serialize", stateDict, metadata);
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header);
  for (const e of entries) out.set(toLittleEndian("serialize", e.name, e.t.dataSync(), e.t.dtype, e.t.size), header.length + e.begin);
  return out;
}

/**
 * {@link serialize} for every backend: the tensors are read with `await t.data()`, all in one
 * batch (on webgpu one GPU wait), then encoded as safetensors bytes.
 *
 * @example
 * ```ts
 * const bytes = await serializeAsync(model.stateDict()); // works on webgpu too
 * ```
 */
export async function serializeAsync(stateDict: Record<string, Tensor>, options?: SerializeOptions): Promise<Uint8Array> {
  const { metadata } = optionsOf("serializeAsync", options);
  const { header, entries, dataBytes } = plan("serializeAsync", stateDict, metadata);
  const values = await Promise.all(entries.map((e) => e.t.data()));
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header);
  entries.forEach((e, i) => out.set(toLittleEndian("serializeAsync", e.name, values[i]!, e.t.dtype, e.t.size), header.length + e.begin));
  return out;
}

// ─── reading ────────────────────────────────────────────────────────────────────────────────

/** @internal */
export interface Parsed {
  /** Tensor entries in header order, each fully validated. */
  entries: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[];
  metadata: Record<string, string>;
  data: Uint8Array;
}

/**
 * Walks valid JSON text (JSON.parse already accepted it) and throws on the first object with a
 * repeated key, which JSON.parse would silently resolve to the last value. Iterative, linear.
 */
/** @internal */
export function checkDuplicateKeys(where: string, text: string): void {
  interface Frame {
    keys: Set<string> | null; // null for arrays
    expectKey: boolean;
    path: string; // where this object sits, for the message
    lastKey: string;
  }
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const path = !top ? "" : top.keys ? (top.path ? `${top.path} → ${q(top.lastKey)}` : q(top.lastKey)) : top.path;
      stack.push({ keys: c === 0x7b ? new Set() : null, expectKey: c === 0x7b, path, lastKey: "" });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      if (top?.keys) top.expectKey = true;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? ((escaped = true), 2) : 1;
      if (top?.keys && top.expectKey) {
        // Decode escapes so that "\u005f_proto__" and "__proto__" are the same key.
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.keys.has(key)) throw new DeltagradError(`${where}: duplicate key ${q(key)} in the header${top.path ? ` (inside ${top.path})` : ""}`);
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    }
  }
}

/** @internal */
export const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Validates the whole file and returns its layout; creates no tensor. */
/** @internal */
export function parse(where: string, bytes: Uint8Array): Parsed {
  if (!(bytes instanceof Uint8Array)) throw new DeltagradError(`${where}: expected a Uint8Array of file bytes, got ${bytes === null ? "null" : typeof bytes}`);
  if (bytes.length < 8) throw new DeltagradError(`${where}: file is ${bytes.length} bytes, too short for the 8-byte header length`);
  bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength); // a plain view, also of a Node Buffer
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // exact while hi < 2^21; anything that large fails the bound anyway
  if (n > MAX_HEADER_BYTES) throw new DeltagradError(`${where}: header length ${hi ? `${hi}·2^32 + ${lo}` : n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (8 + n > bytes.length) throw new DeltagradError(`${where}: header length ${n} runs past the end of the file (${bytes.length - 8} bytes follow the length)`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new DeltagradError(`${where}: header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text); // own properties only: "__proto__" stays a plain key
  } catch (e) {
    throw new DeltagradError(`${where}: header is not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(header)) throw new DeltagradError(`${where}: header must be a JSON object, got ${header === null ? "null" : Array.isArray(header) ? "an array" : typeof header}`);
  checkDuplicateKeys(where, text);

  const data = bytes.subarray(8 + n);
  const metadata: Record<string, string> = Object.create(null);
  const entries: Parsed["entries"] = [];
  for (const name of Object.keys(header)) {
    const info = header[name];
    if (name === "__metadata__") {
      if (info === null) continue;
      if (!isRecord(info)) throw new DeltagradError(`${where}: "__metadata__" must be an object of strings`);
      for (const k of Object.keys(info)) {
        const v = info[k];
        if (typeof v !== "string") throw new DeltagradError(`${where}: "__metadata__" ${q(k)} must be a string, got ${v === null ? "null" : typeof v}`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const bad = (problem: string): never => {
      throw new DeltagradError(`${where}: tensor ${q(name)}: ${problem}`);
    };
    if (!isRecord(info)) bad(`entry must be an object { dtype, shape, data_offsets }`);
    const entry = info as Record<string, unknown>;
    for (const k of Object.keys(entry)) if (k !== "dtype" && k !== "shape" && k !== "data_offsets") bad(`unknown field ${q(k)}`);
    const dtype = typeof entry.dtype === "string" ? FROM_FILE.get(entry.dtype) : undefined;
    if (!dtype) bad(`unsupported dtype ${JSON.stringify(entry.dtype) ?? "(missing)"} (deltagrad reads ${[...FROM_FILE.keys()].join(", ")})`);
    const shape = entry.shape;
    if (!Array.isArray(shape)) bad(`shape must be an array of non-negative integers, got ${JSON.stringify(shape) ?? "(missing)"}`);
    const dims = shape as unknown[];
    if (!dims.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) bad(`shape [${dims.map((d) => JSON.stringify(d)).join(",")}] must hold non-negative integers`);
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      bad(`data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets) ?? "(missing)"}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) bad(`data_offsets [${begin},${end}] end before they begin`);
    if (end > data.length) bad(`data_offsets [${begin},${end}] run past the data section (${data.length} bytes)`);
    let numel = 1;
    for (const d of dims as number[]) numel *= d; // exact: each factor ≤ 2^53, and the product is compared below
    const want = numel * ITEMSIZE[dtype!];
    if (want !== end - begin) {
      bad(`shape [${dims.join(",")}] of ${dtype} needs ${Number.isSafeInteger(want) ? want : "more than 2^53"} bytes but data_offsets [${begin},${end}] hold ${end - begin}`);
    }
    entries.push({ name, dtype: dtype!, shape: dims as number[], begin, end });
  }

  // The ranges must tile the data section: sorted by offset, each begins where the last ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: (typeof entries)[number] | undefined;
  for (const e of sorted) {
    if (e.begin < at) throw new DeltagradError(`${where}: tensor ${q(e.name)}: data_offsets [${e.begin},${e.end}] overlap tensor ${q(prev!.name)} [${prev!.begin},${prev!.end}]`);
    if (e.begin > at) throw new DeltagradError(`${where}: tensor ${q(e.name)}: gap of ${e.begin - at} unused bytes before its data_offsets [${e.begin},${e.end}]`);
    at = e.end;
    prev = e;
  }
  if (at !== data.length) throw new DeltagradError(`${where}: ${data.length - at} trailing bytes after the last tensor's data (the data section is ${data.length} bytes, the tensors cover ${at})`);

  for (const e of entries) {
    if (e.dtype !== "bool") continue;
    const i = data.subarray(e.begin, e.end).findIndex((b) => b > 1);
    if (i >= 0) throw new DeltagradError(`${where}: tensor ${q(e.name)}: BOOL element ${i} is ${data[e.begin + i]}, expected 0 or 1`);
  }
  return { entries, metadata, data };
}

/** Creates the tensors of a validated file, each in a fresh aligned buffer. */
/** @internal */
export function build(p: Parsed): Record<string, Tensor> {
  const out: Record<string, Tensor> = Object.create(null);
  for (const e of p.entries) {
    // A copy into a new ArrayBuffer: aligned whatever the file offset was. (Not slice(): on a
    // Node Buffer it returns a view.)
    const bytes = new Uint8Array(e.end - e.begin);
    bytes.set(p.data.subarray(e.begin, e.end));
    if (!HOST_LITTLE_ENDIAN) swapBytes(bytes, ITEMSIZE[e.dtype]);
    const values = new CTORS[e.dtype](bytes.buffer, 0, bytes.length / ITEMSIZE[e.dtype]);
    // defineProperty: a tensor named "__proto__" becomes an ordinary own key.
    Object.defineProperty(out, e.name, { value: tensor(values, { dtype: e.dtype }).reshape(e.shape), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Decodes safetensors bytes into tensors by name (a record without a prototype). The whole file
 * is validated first; any violation throws a {@link DeltagradError} naming the tensor and the
 * problem, and no tensor is created. Reads F32, F64, I32 and BOOL.
 *
 * @example
 * ```ts
 * const sd = deserialize(new Uint8Array(await (await fetch("model.safetensors")).arrayBuffer()));
 * model.loadStateDict(sd);
 * ```
 */
export function deserialize(bytes: Uint8Array): Record<string, Tensor> {
  return build(parse("deserialize", bytes));
}

/**
 * The `__metadata__` strings of safetensors bytes (an empty record if there are none), after the
 * same full validation as {@link deserialize}.
 *
 * @example
 * ```ts
 * deserializeMetadata(serialize(sd, { metadata: { epoch: "3" } })); // { epoch: "3" }
 * ```
 */
export function deserializeMetadata(bytes: Uint8Array): Record<string, string> {
  return parse("deserializeMetadata", bytes).metadata;
}
