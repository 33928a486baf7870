import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DeltagradError, Tensor, manualSeed, tensor, zeros } from "@deltagrad/autograd";
import { MLP } from "@deltagrad/nn";
import { MAX_HEADER_BYTES, deserialize, deserializeMetadata, load, loadModel, save, serialize } from "@deltagrad/nn";
import { bits32, bits64, f32, f64, file, makeModel, snapshot, useTempDir } from "./checkpoint-support.js";
const FIXTURE = fileURLToPath(new URL("./fixtures/interop.safetensors", import.meta.url));
const tmp = useTempDir();

const roundTrip = (sd: Record<string, Tensor>) => deserialize(serialize(sd));


describe("round trip (bit-exact)", () => {
  it("float32: NaN payloads, −0, subnormals, infinities and extremes keep their bits", () => {
    const u = [0x7fc00000, 0x7fc00001, 0xffc12345, 0x7f800001, 0x80000000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000, 0x7f7fffff, 0x3f800000, 0xbeaaaaab];
    const t = tensor(f32(...u), { dtype: "float32" }).reshape([3, 4]);
    const back = roundTrip({ t }).t!;
    expect(back.dtype).toBe("float32");
    expect(back.shape).toEqual([3, 4]);
    expect(bits32(back)).toEqual(u);
  });

  it("float64: NaN payloads, −0, the smallest subnormal and extremes keep their bits", () => {
    const u = [0x7ff8000000000001n, 0xfff0000000000abcn, 0x8000000000000000n, 1n, 0x000fffffffffffffn, 0x7fefffffffffffffn, 0x3fb999999999999an];
    const t = tensor(f64(...u), { dtype: "float64" });
    expect(bits64(roundTrip({ t }).t!)).toEqual(u);
  });

  it("int32 extremes and bool", () => {
    const i = tensor(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -1, 12345]), { dtype: "int32" });
    const b = tensor([[true, false], [false, true]]);
    const back = roundTrip({ i, b });
    expect(back.i!.dtype).toBe("int32");
    expect(Array.from(back.i!.dataSync())).toEqual([-(2 ** 31), 2 ** 31 - 1, 0, -1, 12345]);
    expect(back.b!.dtype).toBe("bool");
    expect(back.b!.arraySync()).toEqual(b.arraySync());
  });

  it("scalars and size-0 tensors keep their shapes", () => {
    const sd = {
      scalar: tensor(2.5),
      scalar64: tensor(-0.125, { dtype: "float64" }),
      scalarInt: tensor(7, { dtype: "int32" }),
      empty: zeros([0]),
      empty2: zeros([3, 0], { dtype: "float64" }),
      empty3: zeros([0, 2, 5], { dtype: "int32" }),
    };
    const back = roundTrip(sd);
    expect(Object.keys(back)).toEqual(Object.keys(sd));
    for (const [k, t] of Object.entries(sd)) {
      expect(back[k]!.shape, k).toEqual(t.shape);
      expect(back[k]!.dtype, k).toBe(t.dtype);
      expect(Array.from(back[k]!.dataSync()), k).toEqual(Array.from(t.dataSync()));
    }
    const empty = serialize({});
    expect(Object.keys(deserialize(empty))).toEqual([]);
  });

  it("writes the spec's layout: u64 LE length, JSON header padded to 8 bytes, aligned little-endian data", () => {
    manualSeed(1);
    const sd = { a: tensor([1, 2, 3]), b: tensor([0.5], { dtype: "float64" }), c: tensor([[1, 2, 3]], { dtype: "int32" }) };
    const bytes = serialize(sd, { metadata: { epoch: "3" } });
    const view = new DataView(bytes.buffer);
    const n = Number(view.getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.__metadata__).toEqual({ epoch: "3" });
    expect(header.a).toEqual({ dtype: "F32", shape: [3], data_offsets: [8, 20] });
    expect(header.b).toEqual({ dtype: "F64", shape: [1], data_offsets: [0, 8] }); // widest first: aligned
    expect(header.c).toEqual({ dtype: "I32", shape: [1, 3], data_offsets: [20, 32] });
    expect(bytes.length).toBe(8 + n + 32);
    expect(view.getFloat64(8 + n, true)).toBe(0.5);
    expect(view.getFloat32(8 + n + 12, true)).toBe(2);
    expect(view.getInt32(8 + n + 28, true)).toBe(3);
  });

  it("names are plain keys: __proto__, constructor, unicode, dots; the result has no prototype", () => {
    const names = ["__proto__", "constructor", "hasOwnProperty", "toString", "layers.0.weight", "δ⁽ˡ⁾", "", "0"];
    const sd: Record<string, Tensor> = Object.create(null);
    names.forEach((n, i) => Object.defineProperty(sd, n, { value: tensor([i]), enumerable: true }));
    const back = roundTrip(sd);
    expect(Object.getPrototypeOf(back)).toBeNull();
    expect(Object.keys(back).sort()).toEqual([...names].sort());
    names.forEach((n, i) => expect(Array.from(Object.getOwnPropertyDescriptor(back, n)!.value.dataSync())).toEqual([i]));
    expect(({} as Record<string, unknown>).dataSync).toBeUndefined();
  });

  it("save/load through a file, with metadata", async () => {
    const path = join(tmp(), "rt.safetensors");
    const sd = { w: tensor(f32(0x7fc00001, 0x80000000, 1), { dtype: "float32" }), n: tensor(3, { dtype: "int32" }) };
    await save(sd, path, { metadata: { note: "hello", ["__proto__"]: "x" } });
    const back = await load(path);
    expect(bits32(back.w!)).toEqual([0x7fc00001, 0x80000000, 1]);
    expect(back.n!.itemSync()).toBe(3);
    const meta = deserializeMetadata(await readFile(path));
    expect(Object.getPrototypeOf(meta)).toBeNull();
    expect({ ...meta }).toEqual({ note: "hello", ["__proto__"]: "x" });
  });

  it("rejects bad inputs when writing", () => {
    expect(() => serialize({ w: [1, 2] as unknown as Tensor })).toThrow(/serialize: "w" is not a Tensor/);
    expect(() => serialize({ __metadata__: tensor([1]) })).toThrow(/"__metadata__" is reserved/);
    expect(() => serialize({}, { metadata: { epoch: 3 as unknown as string } })).toThrow(/metadata "epoch" must be a string/);
    expect(() => serialize(null as unknown as Record<string, Tensor>)).toThrow(DeltagradError);
  });
});

describe("interop: a file written by hand from the safetensors spec", () => {
  // What PyTorch's `safetensors.torch.save_file({...}, path, metadata={"format": "pt"})` writes
  // for these tensors (keys sorted, metadata first, header padded with spaces to a multiple of 8).
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"bias":{"dtype":"F64","shape":[1],"data_offsets":[16,24]},' +
    '"labels":{"dtype":"I32","shape":[3],"data_offsets":[24,36]},' +
    '"step":{"dtype":"I32","shape":[],"data_offsets":[36,40]},' +
    '"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}';
  const bytes = new Uint8Array([
    // 1. The header length N as an unsigned 64-bit little-endian integer. The JSON is 268 bytes;
    //    4 spaces of padding make N = 272 = 0x110, so the data starts at byte 8 + 272 = 280, a
    //    multiple of 8.
    0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // 2. N bytes of UTF-8 JSON: each tensor's dtype, shape and [begin, end) byte range within the
    //    data section, plus optional string metadata.
    ...new TextEncoder().encode(json),
    0x20, 0x20, 0x20, 0x20,
    // 3. The data section, 40 bytes, every element little-endian.
    // "weight" F32 [2,2] at [0,16): 1.0 = 0x3F800000, −2.0 = 0xC0000000, 0.5 = 0x3F000000, 3.0 = 0x40400000
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x40, 0x40,
    // "bias" F64 [1] at [16,24): 0.25 = 0x3FD0000000000000
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd0, 0x3f,
    // "labels" I32 [3] at [24,36): 7, −1 (two's complement), 256
    0x07, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x00, 0x00,
    // "step" I32 scalar (shape []) at [36,40): 42
    0x2a, 0x00, 0x00, 0x00,
  ]);

  it("the committed fixture is exactly these bytes", async () => {
    expect(json.length).toBe(268);
    expect(bytes.length).toBe(8 + 272 + 40);
    expect(new Uint8Array(await readFile(FIXTURE))).toEqual(bytes);
  });

  it("loads with the expected values, shapes and dtypes", async () => {
    const sd = await load(FIXTURE);
    expect(Object.keys(sd).sort()).toEqual(["bias", "labels", "step", "weight"]);
    expect(sd.weight!.dtype).toBe("float32");
    expect(sd.weight!.arraySync()).toEqual([[1, -2], [0.5, 3]]);
    expect(sd.bias!.dtype).toBe("float64");
    expect(sd.bias!.arraySync()).toEqual([0.25]);
    expect(sd.labels!.dtype).toBe("int32");
    expect(sd.labels!.arraySync()).toEqual([7, -1, 256]);
    expect(sd.step!.shape).toEqual([]);
    expect(sd.step!.itemSync()).toBe(42);
    expect({ ...deserializeMetadata(bytes) }).toEqual({ format: "pt" });
  });

  it("reads tensors at unaligned offsets (an odd header length puts the F64 at an odd address)", () => {
    const odd = '{"b":{"dtype":"F64","shape":[2],"data_offsets":[1,17]},"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}} ';
    const data = new Uint8Array(17);
    data[0] = 1;
    new DataView(data.buffer).setFloat64(1, Math.PI, true);
    new DataView(data.buffer).setFloat64(9, -1e-310, true);
    const f = file(odd, data);
    expect((8 + odd.length + 1) % 8).not.toBe(0);
    const sd = deserialize(f.subarray(0)); // also through a view with its own offset:
    expect(Array.from(sd.b!.dataSync())).toEqual([Math.PI, -1e-310]);
    expect(sd.a!.dtype).toBe("bool");
    expect(Array.from(sd.a!.dataSync())).toEqual([1]);
    const shifted = new Uint8Array(f.length + 3);
    shifted.set(f, 3);
    expect(Array.from(deserialize(shifted.subarray(3)).b!.dataSync())).toEqual([Math.PI, -1e-310]);
  });
});

// ─── validation: one failing file per rule ─────────────────────────────────────────────────

const W = '"weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}';
const B = '"bias":{"dtype":"F32","shape":[3],"data_offsets":[24,36]}';
const DATA36 = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]).buffer);

const bad: [string, Uint8Array, RegExp][] = [
  ["file shorter than 8 bytes", new Uint8Array([1, 0, 0]), /3 bytes, too short for the 8-byte header length/],
  ["header length over 100 MB", file(`{${W},${B}}`, DATA36, 2n ** 40n), /header length .* exceeds the 104857600-byte limit/],
  ["header length just over the bound", file(`{${W},${B}}`, DATA36, MAX_HEADER_BYTES + 1), /header length 104857601 exceeds/],
  ["header length past the end of the file", file(`{${W},${B}}`, [], 500), /header length 500 runs past the end of the file/],
  ["invalid UTF-8 in the header", ((f) => ((f[10] = 0xff), f))(file('{"x":1}')), /header is not valid UTF-8/],
  ["invalid JSON", file(`{${W},${B}`, DATA36), /header is not valid JSON/],
  ["a byte-order mark before the JSON", file(`\ufeff{${W},${B}}`, DATA36), /header is not valid JSON/],
  ["a header that is an array", file(`[${"1".padEnd(3)}]`, []), /header must be a JSON object, got an array/],
  ["a duplicate tensor key", file(`{${W},${B},${W.replace("[0,24]", "[36,60]")}}`, [...DATA36, ...new Uint8Array(24)]), /duplicate key "weight" in the header/],
  ["a duplicate key written with an escape", file(`{${W},${B},${W.replace('"weight"', '"\\u0077eight"')}}`, DATA36), /duplicate key "weight"/],
  ["a duplicate field inside an entry", file(`{${W.replace('"dtype":"F32"', '"dtype":"F64","dtype":"F32"')},${B}}`, DATA36), /duplicate key "dtype" in the header \(inside "weight"\)/],
  ["a duplicate __metadata__", file(`{"__metadata__":{},${W},${B},"__metadata__":{"a":"b"}}`, DATA36), /duplicate key "__metadata__"/],
  ["an unknown dtype", file(`{${W.replace("F32", "F16")},${B}}`, DATA36), /tensor "weight": unsupported dtype "F16" \(deltagrad reads F32, F64, I32, BOOL\)/],
  ["a lower-case dtype", file(`{${W},${B.replace("F32", "f32")}}`, DATA36), /tensor "bias": unsupported dtype "f32"/],
  ["a missing dtype", file(`{${W.replace('"dtype":"F32",', "")},${B}}`, DATA36), /tensor "weight": unsupported dtype \(missing\)/],
  ["an unknown field", file(`{${W.replace("}", ',"offset":0}')},${B}}`, DATA36), /tensor "weight": unknown field "offset"/],
  ["an entry that is not an object", file(`{"weight":[1,2],${B}}`, DATA36), /tensor "weight": entry must be an object/],
  ["a negative dimension", file(`{${W.replace("[2,3]", "[-2,-3]")},${B}}`, DATA36), /tensor "weight": shape \[-2,-3\] must hold non-negative integers/],
  ["a fractional dimension", file(`{${W.replace("[2,3]", "[1.5,4]")},${B}}`, DATA36), /tensor "weight": shape \[1.5,4\] must hold non-negative integers/],
  ["a string dimension", file(`{${W.replace("[2,3]", '["2",3]')},${B}}`, DATA36), /tensor "weight": shape \["2",3\] must hold/],
  ["a huge dimension", file(`{${W.replace("[2,3]", "[1e300,0]")},${B}}`, DATA36), /tensor "weight": shape \[1e\+300,0\] must hold/],
  ["a shape that is not an array", file(`{${W.replace("[2,3]", "6")},${B}}`, DATA36), /tensor "weight": shape must be an array/],
  ["data_offsets not a pair", file(`{${W.replace("[0,24]", "[0,12,24]")},${B}}`, DATA36), /tensor "weight": data_offsets must be \[begin, end\]/],
  ["negative data_offsets", file(`{${W.replace("[0,24]", "[-4,20]")},${B}}`, DATA36), /tensor "weight": data_offsets must be \[begin, end\] with non-negative integers/],
  ["data_offsets that end before they begin", file(`{${W.replace("[0,24]", "[24,0]")},${B}}`, DATA36), /tensor "weight": data_offsets \[24,0\] end before they begin/],
  ["data_offsets past the data", file(`{${W},${B.replace("[24,36]", "[24,48]")}}`, DATA36), /tensor "bias": data_offsets \[24,48\] run past the data section \(36 bytes\)/],
  ["byte length ≠ product(shape) × dtype size", file(`{${W.replace("[2,3]", "[2,2]")},${B}}`, DATA36), /tensor "weight": shape \[2,2\] of float32 needs 16 bytes but data_offsets \[0,24\] hold 24/],
  ["the wrong dtype size", file(`{${W.replace("F32", "F64")},${B}}`, DATA36), /tensor "weight": shape \[2,3\] of float64 needs 48 bytes/],
  ["overlapping tensors", file(`{${W},${B.replace("[24,36]", "[12,24]")}}`, DATA36.subarray(0, 24)), /tensor "bias": data_offsets \[12,24\] overlap tensor "weight" \[0,24\]/],
  ["a gap between tensors", file(`{${W},${B.replace("[24,36]", "[28,40]")}}`, [...DATA36, 0, 0, 0, 0]), /tensor "bias": gap of 4 unused bytes before its data_offsets \[28,40\]/],
  ["a gap at the start", file(`{${W.replace("[0,24]", "[4,28]")},${B.replace("[24,36]", "[28,40]")}}`, [...DATA36, 0, 0, 0, 0]), /tensor "weight": gap of 4 unused bytes/],
  ["trailing bytes", file(`{${W},${B}}`, [...DATA36, 0]), /1 trailing bytes after the last tensor's data/],
  ["a non-string metadata value", file(`{"__metadata__":{"epoch":3},${W},${B}}`, DATA36), /"__metadata__" "epoch" must be a string, got number/],
  ["metadata that is not an object", file(`{"__metadata__":"pt",${W},${B}}`, DATA36), /"__metadata__" must be an object of strings/],
  ["a BOOL byte other than 0 or 1", file(`{${W},${B},"mask":{"dtype":"BOOL","shape":[2],"data_offsets":[36,38]}}`, [...DATA36, 1, 2]), /tensor "mask": BOOL element 1 is 2, expected 0 or 1/],
];

describe("validation: every rule has a failing file", () => {
  it("the base file is valid and loads into the model", async () => {
    const m = makeModel();
    const path = join(tmp(), "good.safetensors");
    await writeFile(path, file(`{${W},${B}}`, DATA36));
    await loadModel(m, path);
    expect(m.weight.arraySync()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(m.bias!.arraySync()).toEqual([7, 8, 9]);
  });

  it.each(bad)("%s → DeltagradError naming the problem; the model is unchanged", async (_, bytes, message) => {
    let err: unknown;
    try {
      deserialize(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DeltagradError);
    expect((err as Error).message).toMatch(/^deserialize: /);
    expect((err as Error).message).toMatch(message);

    const path = join(tmp(), "bad.safetensors");
    await writeFile(path, bytes);
    const m = makeModel();
    const before = snapshot(m);
    await expect(loadModel(m, path)).rejects.toThrow(message);
    await expect(load(path)).rejects.toThrow(/^load ".*bad\.safetensors": /);
    expect(snapshot(m)).toEqual(before);
  });

  it("__proto__ and constructor in a file are plain names: no prototype pollution", async () => {
    const header = `{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"constructor":{"dtype":"I32","shape":[],"data_offsets":[4,8]},"__metadata__":{"__proto__":"p","polluted":"no"}}`;
    const data = [...new Uint8Array(new Float32Array([1.5]).buffer), 9, 0, 0, 0];
    const sd = deserialize(file(header, data));
    expect(Object.getPrototypeOf(sd)).toBeNull();
    expect(Object.keys(sd)).toEqual(["__proto__", "constructor"]);
    expect(Object.getOwnPropertyDescriptor(sd, "__proto__")!.value.arraySync()).toEqual([1.5]);
    expect(sd.constructor).toBeInstanceOf(Tensor);
    expect((sd.constructor as unknown as Tensor).itemSync()).toBe(9);
    const meta = deserializeMetadata(file(header, data));
    expect(Object.getPrototypeOf(meta)).toBeNull();
    expect(Object.getOwnPropertyDescriptor(meta, "__proto__")!.value).toBe("p");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, "dtype")).toBe(false);

    // Offered to a model they are unexpected keys: refused (strict) with the model unchanged.
    const path = join(tmp(), "proto.safetensors");
    await writeFile(path, file(`{${W},${B},"__proto__":{"dtype":"F32","shape":[0],"data_offsets":[36,36]}}`, DATA36));
    const m = makeModel();
    const before = snapshot(m);
    await expect(loadModel(m, path)).rejects.toThrow(/unexpected keys: "__proto__"/);
    expect(snapshot(m)).toEqual(before);
    expect(await loadModel(m, path, { strict: false })).toEqual({ missingKeys: [], unexpectedKeys: ["__proto__"] });
    expect(m.weight.arraySync()).toEqual([[1, 2, 3], [4, 5, 6]]);
  });

  it("a deeply nested header neither crashes nor hangs", () => {
    const deep = `{"x":${"[".repeat(200_000)}${"]".repeat(200_000)}}`;
    expect(() => deserialize(file(deep))).toThrow(DeltagradError);
  });

  it("a valid file with the wrong shapes or dtypes for the model is refused by loadStateDict, the model unchanged", async () => {
    const path = join(tmp(), "mismatch.safetensors");
    await save({ weight: zeros([3, 2]), bias: zeros([3], { dtype: "float64" }) }, path);
    const m = makeModel();
    const before = snapshot(m);
    await expect(loadModel(m, path)).rejects.toThrow(/"weight" has shape \[3,2\] in the state dict but \[2,3\] in the model/);
    expect(snapshot(m)).toEqual(before);
  });

  it("a missing file is a DeltagradError naming the path", async () => {
    await expect(load(join(tmp(), "nope.safetensors"))).rejects.toThrow(/load: cannot read ".*nope\.safetensors"/);
    await expect(loadModel(makeModel(), join(tmp(), "nope.safetensors"))).rejects.toThrow(DeltagradError);
  });
});

describe("fuzz: mutated and truncated files", () => {
  manualSeed(3);
  const model = new MLP([3, 4, 2]);
  const good = serialize(model.stateDict(), { metadata: { format: "pt" } });

  /** Either a DeltagradError (and the target model unchanged) or a complete, valid load. */
  function check(bytes: Uint8Array): void {
    const m = new MLP([3, 4, 2]);
    const before = snapshot(m);
    let sd: Record<string, Tensor>;
    try {
      sd = deserialize(bytes);
    } catch (e) {
      expect(e).toBeInstanceOf(DeltagradError);
      expect(snapshot(m)).toEqual(before);
      return;
    }
    for (const t of Object.values(sd)) expect(t).toBeInstanceOf(Tensor);
    // What loaded re-serializes to a file that loads identically.
    const again = deserialize(serialize(sd));
    expect(Object.keys(again)).toEqual(Object.keys(sd));
    for (const k of Object.keys(sd)) expect(Array.from(again[k]!.dataSync())).toEqual(Array.from(sd[k]!.dataSync()));
    try {
      m.loadStateDict(sd);
    } catch (e) {
      expect(e).toBeInstanceOf(DeltagradError);
      expect(snapshot(m)).toEqual(before);
    }
  }

  it("random byte mutations", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (muts) => {
        const b = good.slice();
        for (const [i, v] of muts) b[i] = v;
        check(b);
      }),
      { numRuns: 1500, seed: 42 },
    );
  });

  it("mutations aimed at the header (digits, quotes, brackets)", () => {
    const n = Number(new DataView(good.buffer).getBigUint64(0, true));
    const chars = [..."0123456789[]{}\",:-. eE\\"].map((c) => c.charCodeAt(0));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 8, max: 8 + n - 1 }), fc.constantFrom(...chars)), { minLength: 1, maxLength: 4 }), (muts) => {
        const b = good.slice();
        for (const [i, v] of muts) b[i] = v;
        check(b);
      }),
      { numRuns: 1500, seed: 7 },
    );
  });

  it("truncations and extensions", () => {
    fc.assert(
      fc.property(fc.nat(good.length), fc.uint8Array({ maxLength: 16 }), (len, extra) => {
        const b = new Uint8Array(len + extra.length);
        b.set(good.subarray(0, len));
        b.set(extra, len);
        if (b.length === good.length) return check(b); // same length: a data change, still valid
        expect(() => deserialize(b)).toThrow(DeltagradError);
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});
