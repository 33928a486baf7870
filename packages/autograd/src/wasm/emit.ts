/**
 * A minimal WebAssembly binary emitter: just enough of the format (types, one imported memory,
 * imported and defined functions, exports) and of the instruction set (i32 arithmetic, f32 and
 * 128-bit SIMD loads, stores and arithmetic, structured control flow) to write the wasm backend's
 * kernels in TypeScript and compile them at start-up. Zero dependencies; runs wherever WebAssembly does.
 *
 * Instructions are appended in stack order, exactly as in the text format:
 * `c.get(x).get(y).i32Add().set(z)` is `(local.set $z (i32.add (local.get $x) (local.get $y)))`.
 */

/** Value types (binary encoding). */
export const i32 = 0x7f;
export const f32 = 0x7d;
export const f64 = 0x7c;
export const v128 = 0x7b;

/** `n` i32 parameter types: every kernel takes only i32 pointers, strides and counts. */
export const i32Params = (n: number): ValType[] => new Array<ValType>(n).fill(i32);
export type ValType = typeof i32 | typeof f32 | typeof f64 | typeof v128;

function uleb(out: number[], v: number): void {
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

function sleb(out: number[], v: number): void {
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

function name(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** The body of one function: locals plus an instruction stream. */
export class Code {
  readonly bytes: number[] = [];
  private readonly localTypes: ValType[] = [];

  constructor(private readonly nParams: number) {}

  /** Declares a local of type `t` and returns its index. */
  local(t: ValType): number {
    this.localTypes.push(t);
    return this.nParams + this.localTypes.length - 1;
  }

  /** @internal The encoded body (locals then code then `end`). */
  encode(): number[] {
    const body: number[] = [];
    // One local-declaration entry per run of equal types.
    const runs: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    uleb(body, runs.length);
    for (const [n, t] of runs) {
      uleb(body, n);
      body.push(t);
    }
    for (const b of this.bytes) body.push(b); // no spread: unrolled bodies exceed the argument limit
    body.push(0x0b);
    const out: number[] = [];
    uleb(out, body.length);
    return out.concat(body);
  }

  private op(...b: number[]): this {
    for (const x of b) this.bytes.push(x);
    return this;
  }
  private memarg(align: number, offset: number): this {
    uleb(this.bytes, align);
    uleb(this.bytes, offset);
    return this;
  }
  private simd(opcode: number): this {
    this.bytes.push(0xfd);
    uleb(this.bytes, opcode);
    return this;
  }

  // ---- variables and constants ----
  get(l: number): this { this.bytes.push(0x20); uleb(this.bytes, l); return this; }
  set(l: number): this { this.bytes.push(0x21); uleb(this.bytes, l); return this; }
  tee(l: number): this { this.bytes.push(0x22); uleb(this.bytes, l); return this; }
  i32Const(v: number): this { this.bytes.push(0x41); sleb(this.bytes, v | 0); return this; }
  drop(): this { return this.op(0x1a); }
  select(): this { return this.op(0x1b); }
  /** Calls function `index` of this module (see {@link ModuleBuilder.indexOf}). */
  call(index: number): this { this.bytes.push(0x10); uleb(this.bytes, index); return this; }
  return(): this { return this.op(0x0f); }
  /** Any plain (non-prefixed) opcode, for instructions without a method here. */
  raw(...bytes: number[]): this { return this.op(...bytes); }
  /** Any 0xFD-prefixed SIMD opcode, with an optional memarg (align, offset) and lane immediate. */
  simdOp(opcode: number, memarg?: [number, number], lane?: number): this {
    this.simd(opcode);
    if (memarg) this.memarg(memarg[0], memarg[1]);
    if (lane !== undefined) this.bytes.push(lane);
    return this;
  }

  // ---- i32 ----
  i32Load(offset = 0): this { return this.op(0x28).memarg(2, offset); }
  i32Load8U(offset = 0): this { return this.op(0x2d).memarg(0, offset); }
  i32Store(offset = 0): this { return this.op(0x36).memarg(2, offset); }
  i32Store8(offset = 0): this { return this.op(0x3a).memarg(0, offset); }
  i32Eqz(): this { return this.op(0x45); }
  i32Eq(): this { return this.op(0x46); }
  i32Ne(): this { return this.op(0x47); }
  i32LtS(): this { return this.op(0x48); }
  i32LtU(): this { return this.op(0x49); }
  i32GtS(): this { return this.op(0x4a); }
  i32GtU(): this { return this.op(0x4b); }
  i32LeS(): this { return this.op(0x4c); }
  i32GeS(): this { return this.op(0x4e); }
  i32GeU(): this { return this.op(0x4f); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32Div(): this { return this.op(0x6d); }
  i32DivU(): this { return this.op(0x6e); }
  i32RemU(): this { return this.op(0x70); }
  i32And(): this { return this.op(0x71); }
  i32Or(): this { return this.op(0x72); }
  i32Xor(): this { return this.op(0x73); }
  i32Shl(): this { return this.op(0x74); }
  i32ShrS(): this { return this.op(0x75); }
  i32ShrU(): this { return this.op(0x76); }
  i32TruncF32S(): this { return this.op(0xa8); }
  i32ReinterpretF32(): this { return this.op(0xbc); }

  // ---- f32 scalar (natural alignment 2^2) ----
  f32Load(offset = 0): this { return this.op(0x2a).memarg(2, offset); }
  f32Store(offset = 0): this { return this.op(0x38).memarg(2, offset); }
  f32Const(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }
  f32Eq(): this { return this.op(0x5b); }
  f32Ne(): this { return this.op(0x5c); }
  f32Lt(): this { return this.op(0x5d); }
  f32Gt(): this { return this.op(0x5e); }
  f32Le(): this { return this.op(0x5f); }
  f32Ge(): this { return this.op(0x60); }
  f32Abs(): this { return this.op(0x8b); }
  f32Neg(): this { return this.op(0x8c); }
  f32Sqrt(): this { return this.op(0x91); }
  f32Add(): this { return this.op(0x92); }
  f32Sub(): this { return this.op(0x93); }
  f32Mul(): this { return this.op(0x94); }
  f32Div(): this { return this.op(0x95); }
  f32Min(): this { return this.op(0x96); }
  f32Max(): this { return this.op(0x97); }
  f32ConvertI32S(): this { return this.op(0xb2); }
  f32DemoteF64(): this { return this.op(0xb6); }
  f32ReinterpretI32(): this { return this.op(0xbe); }

  // ---- f64 scalar ----
  f64Load(offset = 0): this { return this.op(0x2b).memarg(3, offset); }
  f64Store(offset = 0): this { return this.op(0x39).memarg(3, offset); }
  f64Const(v: number): this {
    const b = new Uint8Array(new Float64Array([v]).buffer);
    return this.op(0x44, ...b);
  }
  f64Add(): this { return this.op(0xa0); }
  f64Sub(): this { return this.op(0xa1); }
  f64Mul(): this { return this.op(0xa2); }
  f64Div(): this { return this.op(0xa3); }
  f64PromoteF32(): this { return this.op(0xbb); }
  f64ConvertI32S(): this { return this.op(0xb7); }

  // ---- 128-bit SIMD: memory ----
  v128Load(offset = 0): this { return this.simd(0x00).memarg(4, offset); }
  /** Loads 32 bits into lane 0, zeroing the other lanes. */
  v128Load32Zero(offset = 0): this { return this.simd(0x5c).memarg(2, offset); }
  v128Load64Zero(offset = 0): this { return this.simd(0x5d).memarg(3, offset); }
  v128Load32Splat(offset = 0): this { return this.simd(0x09).memarg(2, offset); }
  v128Store(offset = 0): this { return this.simd(0x0b).memarg(4, offset); }
  /** Stores lane `lane` (32 bits) of the vector on the stack at the address below it. */
  v128Store32Lane(lane: number, offset = 0): this { return this.simdOp(0x5a, [2, offset], lane); }
  v128Store64Lane(lane: number, offset = 0): this { return this.simdOp(0x5b, [3, offset], lane); }
  v128Load32Lane(lane: number, offset = 0): this { return this.simdOp(0x56, [2, offset], lane); }
  v128Zero(): this { this.simd(0x0c); for (let i = 0; i < 16; i++) this.bytes.push(0); return this; }
  /** A v128 constant of four i32 lanes. */
  i32x4Const(a: number, b = a, c = a, d = a): this {
    this.simd(0x0c);
    const lanes = new Uint8Array(new Int32Array([a, b, c, d]).buffer);
    for (const x of lanes) this.bytes.push(x);
    return this;
  }
  /** A v128 constant of four f32 lanes. */
  f32x4Const(a: number, b = a, c = a, d = a): this {
    this.simd(0x0c);
    const lanes = new Uint8Array(new Float32Array([a, b, c, d]).buffer);
    for (const x of lanes) this.bytes.push(x);
    return this;
  }
  /** i8x16.shuffle with 16 lane indices (0–31 over the two operands). */
  i8x16Shuffle(lanes: readonly number[]): this {
    this.simd(0x0d);
    for (const l of lanes) this.bytes.push(l);
    return this;
  }

  // ---- 128-bit SIMD: lanes ----
  i32x4Splat(): this { return this.simd(0x11); }
  f32x4Splat(): this { return this.simd(0x13); }
  f64x2Splat(): this { return this.simd(0x14); }
  i32x4ExtractLane(l: number): this { return this.simdOp(0x1b, undefined, l); }
  f32x4ExtractLane(l: number): this { return this.simdOp(0x1f, undefined, l); }
  f32x4ReplaceLane(l: number): this { return this.simdOp(0x20, undefined, l); }
  f64x2ExtractLane(l: number): this { return this.simdOp(0x21, undefined, l); }

  // ---- 128-bit SIMD: bitwise ----
  v128Not(): this { return this.simd(0x4d); }
  v128And(): this { return this.simd(0x4e); }
  v128AndNot(): this { return this.simd(0x4f); }
  v128Or(): this { return this.simd(0x50); }
  v128Xor(): this { return this.simd(0x51); }
  /** bitselect(a, b, mask): bits of a where mask is 1, of b where 0. */
  v128Bitselect(): this { return this.simd(0x52); }
  v128AnyTrue(): this { return this.simd(0x53); }

  // ---- 128-bit SIMD: integer ----
  i8x16NarrowI16x8U(): this { return this.simd(0x66); }
  i16x8NarrowI32x4S(): this { return this.simd(0x85); }
  i16x8NarrowI32x4U(): this { return this.simd(0x86); }
  i16x8ExtendLowI8x16U(): this { return this.simd(0x89); }
  i32x4ExtendLowI16x8U(): this { return this.simd(0xa9); }
  i32x4Eq(): this { return this.simd(0x37); }
  i32x4Ne(): this { return this.simd(0x38); }
  i32x4LtS(): this { return this.simd(0x39); }
  i32x4GtS(): this { return this.simd(0x3b); }
  i32x4Shl(): this { return this.simd(0xab); }
  i32x4ShrS(): this { return this.simd(0xac); }
  i32x4ShrU(): this { return this.simd(0xad); }
  i32x4Add(): this { return this.simd(0xae); }
  i32x4Sub(): this { return this.simd(0xb1); }
  i32x4Mul(): this { return this.simd(0xb5); }
  i32x4MinS(): this { return this.simd(0xb6); }
  i32x4MaxS(): this { return this.simd(0xb8); }
  i32x4TruncSatF32x4S(): this { return this.simd(0xf8); }
  i32x4Bitmask(): this { return this.simd(0xa4); }

  // ---- 128-bit SIMD: f32x4 ----
  f32x4Eq(): this { return this.simd(0x41); }
  f32x4Ne(): this { return this.simd(0x42); }
  f32x4Lt(): this { return this.simd(0x43); }
  f32x4Gt(): this { return this.simd(0x44); }
  f32x4Le(): this { return this.simd(0x45); }
  f32x4Ge(): this { return this.simd(0x46); }
  f32x4Ceil(): this { return this.simd(0x67); }
  f32x4Floor(): this { return this.simd(0x68); }
  f32x4Trunc(): this { return this.simd(0x69); }
  f32x4Nearest(): this { return this.simd(0x6a); }
  f32x4Abs(): this { return this.simd(0xe0); }
  f32x4Neg(): this { return this.simd(0xe1); }
  f32x4Sqrt(): this { return this.simd(0xe3); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Mul(): this { return this.simd(0xe6); }
  /**
   * Relaxed SIMD's `f32x4.relaxed_madd` (a·b + c, operands pushed a, b, c): fused (one rounding)
   * where the hardware has FMA, a multiply then an add otherwise — the engine decides, so only
   * modules built for an engine that validates it (see runtime.ts's `relaxedSimdSupported`) use it.
   */
  f32x4RelaxedMadd(): this { return this.simd(0x105); }
  f32x4Div(): this { return this.simd(0xe7); }
  f32x4Min(): this { return this.simd(0xe8); }
  f32x4Max(): this { return this.simd(0xe9); }
  f32x4Pmin(): this { return this.simd(0xea); }
  f32x4Pmax(): this { return this.simd(0xeb); }
  f32x4ConvertI32x4S(): this { return this.simd(0xfa); }
  f32x4DemoteF64x2Zero(): this { return this.simd(0x5e); }

  // ---- 128-bit SIMD: f64x2 ----
  f64x2PromoteLowF32x4(): this { return this.simd(0x5f); }
  f64x2Add(): this { return this.simd(0xf0); }
  f64x2Sub(): this { return this.simd(0xf1); }
  f64x2Mul(): this { return this.simd(0xf2); }
  f64x2Div(): this { return this.simd(0xf3); }
  f64x2Max(): this { return this.simd(0xf5); }

  // ---- bulk memory ----
  memoryFill(): this { return this.op(0xfc, 11, 0x00); }
  memoryCopy(): this { return this.op(0xfc, 10, 0x00, 0x00); }

  // ---- control ----
  block(): this { return this.op(0x02, 0x40); }
  loop(): this { return this.op(0x03, 0x40); }
  if(): this { return this.op(0x04, 0x40); }
  else(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { this.bytes.push(0x0c); uleb(this.bytes, depth); return this; }
  brIf(depth: number): this { this.bytes.push(0x0d); uleb(this.bytes, depth); return this; }

  /**
   * `for (i = start; i < end; i += step) body()` with i32 locals; `end` is read each iteration.
   * The loop is skipped when `start >= end`. Branch depth 0 inside `body` is the loop's own block
   * structure only if body opens none of its own, so bodies use no bare `br` across it.
   */
  for(i: number, start: () => void, end: () => void, step: number, body: () => void): this {
    start();
    this.set(i);
    this.block();
    this.get(i); end(); this.i32GeS().brIf(0);
    this.loop();
    body();
    this.get(i).i32Const(step).i32Add().tee(i);
    end();
    this.i32LtS().brIf(0);
    this.end().end();
    return this;
  }
}

interface FuncDef {
  name: string;
  params: ValType[];
  results: ValType[];
  code: Code;
  exported: boolean;
}

/** Options of a module: its one imported memory. */
export interface ModuleOptions {
  /**
   * Import a shared memory (the threads proposal; required to share it with workers) with this
   * maximum in 64 KiB pages. Default: a plain, unshared memory.
   */
  sharedMaxPages?: number;
}

/** A function the module imports (`module`.`name`), called like its own. */
interface ImportDef {
  module: string;
  name: string;
  params: ValType[];
  results: ValType[];
}

/**
 * Builds a module that imports its memory as `env.mem` (and any functions declared with
 * {@link ModuleBuilder.importFunc}) and exports its functions by name.
 */
export class ModuleBuilder {
  private readonly imported: ImportDef[] = [];
  private readonly funcs: FuncDef[] = [];

  constructor(private readonly options: ModuleOptions = {}) {}

  /**
   * Declares an imported function `module`.`name` (instantiation supplies it: another instance's
   * export, say), reached with {@link Code.call} by its name. Imports take the first function
   * indices, so all of them come before the first {@link func}.
   */
  importFunc(module: string, name: string, params: ValType[], results: ValType[]): this {
    if (this.funcs.length > 0) throw new Error(`ModuleBuilder: import ${module}.${name} after a function was defined`);
    if (this.imported.some((f) => f.name === name)) throw new Error(`ModuleBuilder: function ${name} imported twice`);
    this.imported.push({ module, name, params, results });
    return this;
  }

  /**
   * Adds a function; `build` writes its body into `c` (params are locals 0…n−1). Exported
   * under `name` unless `exported` is false (an internal helper reached with {@link Code.call}).
   */
  func(name: string, params: ValType[], results: ValType[], build: (c: Code) => void, exported = true): this {
    if (this.funcs.some((f) => f.name === name) || this.imported.some((f) => f.name === name)) throw new Error(`ModuleBuilder: function ${name} defined twice`);
    const code = new Code(params.length);
    // Register first, so a recursive or later call can find the index while the body is built.
    this.funcs.push({ name, params, results, code, exported });
    build(code);
    return this;
  }

  /** The function index of `name`, for {@link Code.call}. */
  indexOf(name: string): number {
    const imp = this.imported.findIndex((f) => f.name === name);
    if (imp >= 0) return imp;
    const i = this.funcs.findIndex((f) => f.name === name);
    if (i < 0) throw new Error(`ModuleBuilder: no function ${name}`);
    return this.imported.length + i;
  }

  /** The binary module. */
  encode(): Uint8Array<ArrayBuffer> {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, body: number[]) => {
      out.push(id);
      uleb(out, body.length);
      for (const b of body) out.push(b);
    };
    // Type section: one signature per function, imported ones first (duplicates are allowed).
    const nImp = this.imported.length;
    const types: number[] = [];
    uleb(types, nImp + this.funcs.length);
    for (const f of [...this.imported, ...this.funcs]) {
      types.push(0x60);
      uleb(types, f.params.length);
      types.push(...f.params);
      uleb(types, f.results.length);
      types.push(...f.results);
    }
    section(1, types);
    // Import section: (import "env" "mem" (memory 1)) or (memory 1 max shared), then the functions.
    const imports: number[] = [];
    uleb(imports, 1 + nImp);
    name(imports, "env");
    name(imports, "mem");
    const max = this.options.sharedMaxPages;
    if (max === undefined) {
      imports.push(0x02, 0x00);
      uleb(imports, 1);
    } else {
      imports.push(0x02, 0x03);
      uleb(imports, 1);
      uleb(imports, max);
    }
    this.imported.forEach((f, i) => {
      name(imports, f.module);
      name(imports, f.name);
      imports.push(0x00);
      uleb(imports, i);
    });
    section(2, imports);
    const fns: number[] = [];
    uleb(fns, this.funcs.length);
    this.funcs.forEach((_, i) => uleb(fns, nImp + i));
    section(3, fns);
    const exported = this.funcs.map((f, i) => [f, i] as const).filter(([f]) => f.exported);
    const exports: number[] = [];
    uleb(exports, exported.length);
    for (const [f, i] of exported) {
      name(exports, f.name);
      exports.push(0x00);
      uleb(exports, nImp + i);
    }
    section(7, exports);
    const code: number[] = [];
    uleb(code, this.funcs.length);
    for (const f of this.funcs) for (const b of f.code.encode()) code.push(b);
    section(10, code);
    return new Uint8Array(out);
  }
}
