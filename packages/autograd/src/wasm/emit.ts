/**
 * A minimal WebAssembly binary emitter: just enough of the format (types, one imported memory,
 * functions, exports) and of the instruction set (i32 arithmetic, f32 and 128-bit SIMD loads,
 * stores and arithmetic, structured control flow) to write the wasm backend's kernels in
 * TypeScript and compile them at start-up. Zero dependencies; runs wherever WebAssembly does.
 *
 * Instructions are appended in stack order, exactly as in the text format:
 * `c.get(x).get(y).i32Add().set(z)` is `(local.set $z (i32.add (local.get $x) (local.get $y)))`.
 */

/** Value types (binary encoding). */
export const i32 = 0x7f;
export const f32 = 0x7d;
export const v128 = 0x7b;
export type ValType = typeof i32 | typeof f32 | typeof v128;

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
    body.push(...this.bytes, 0x0b);
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

  // ---- i32 ----
  i32Eqz(): this { return this.op(0x45); }
  i32Eq(): this { return this.op(0x46); }
  i32Ne(): this { return this.op(0x47); }
  i32LtS(): this { return this.op(0x48); }
  i32LtU(): this { return this.op(0x49); }
  i32GtS(): this { return this.op(0x4a); }
  i32GeS(): this { return this.op(0x4e); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32Div(): this { return this.op(0x6d); }
  i32And(): this { return this.op(0x71); }
  i32Shl(): this { return this.op(0x74); }

  // ---- f32 scalar (natural alignment 2^2) ----
  f32Load(offset = 0): this { return this.op(0x2a).memarg(2, offset); }
  f32Store(offset = 0): this { return this.op(0x38).memarg(2, offset); }
  f32Const(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }
  f32Add(): this { return this.op(0x92); }
  f32Mul(): this { return this.op(0x94); }

  // ---- 128-bit SIMD (f32x4) ----
  v128Load(offset = 0): this { return this.simd(0x00).memarg(4, offset); }
  v128Load32Splat(offset = 0): this { return this.simd(0x09).memarg(2, offset); }
  v128Store(offset = 0): this { return this.simd(0x0b).memarg(4, offset); }
  v128Zero(): this { this.simd(0x0c); for (let i = 0; i < 16; i++) this.bytes.push(0); return this; }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Mul(): this { return this.simd(0xe6); }

  // ---- bulk memory ----
  memoryFill(): this { return this.op(0xfc, 11, 0x00); }

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
}

/** Builds a module that imports its memory as `env.mem` and exports every function by name. */
export class ModuleBuilder {
  private readonly funcs: FuncDef[] = [];

  /** Adds an exported function; `build` writes its body into `c` (params are locals 0…n−1). */
  func(name: string, params: ValType[], results: ValType[], build: (c: Code) => void): this {
    const code = new Code(params.length);
    build(code);
    this.funcs.push({ name, params, results, code });
    return this;
  }

  /** The binary module. */
  encode(): Uint8Array<ArrayBuffer> {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, body: number[]) => {
      out.push(id);
      uleb(out, body.length);
      out.push(...body);
    };
    // Type section: one signature per function (duplicates are allowed and keep this simple).
    const types: number[] = [];
    uleb(types, this.funcs.length);
    for (const f of this.funcs) {
      types.push(0x60);
      uleb(types, f.params.length);
      types.push(...f.params);
      uleb(types, f.results.length);
      types.push(...f.results);
    }
    section(1, types);
    // Import section: (import "env" "mem" (memory 1)).
    const imports: number[] = [];
    uleb(imports, 1);
    name(imports, "env");
    name(imports, "mem");
    imports.push(0x02, 0x00);
    uleb(imports, 1);
    section(2, imports);
    const fns: number[] = [];
    uleb(fns, this.funcs.length);
    this.funcs.forEach((_, i) => uleb(fns, i));
    section(3, fns);
    const exports: number[] = [];
    uleb(exports, this.funcs.length);
    this.funcs.forEach((f, i) => {
      name(exports, f.name);
      exports.push(0x00);
      uleb(exports, i);
    });
    section(7, exports);
    const code: number[] = [];
    uleb(code, this.funcs.length);
    for (const f of this.funcs) code.push(...f.code.encode());
    section(10, code);
    return new Uint8Array(out);
  }
}
