/**
 * The webgpu backend's op suite: every Backend kernel against the cpu backend over seeded random
 * shapes (broadcasting, scalars, size-0 and size-1 axes), each test reading all its GPU results
 * in one batch. Where no adapter exists every test is ignored and the file prints
 * "skipped: no adapter (<reason>)".
 *
 *   XDG_RUNTIME_DIR=/tmp node_modules/.bin/deno test -A deno/webgpu_test.ts
 */
import * as dg from "@deltagrad/autograd";
import type { Tensor } from "@deltagrad/autograd";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { broadcastable, compareOnBackends, floats, init, ints, noAdapter, on, rng, shape, type Case, type Input, type Tol } from "./webgpu_support.ts";

const test = (name: string, fn: () => Promise<void> | void) => Deno.test({ name: `webgpu: ${name}`, ignore: noAdapter, fn });

/**
 * GPU transcendental functions are not correctly rounded, while cpu rounds float64 results once.
 * On the software adapters CI uses (lavapipe's and SwiftShader's libm) they agree to a few
 * float32 ulps; a hardware GPU is held to what WGSL guarantees instead: exp within (3 + 2|x|) ulp
 * (≈ 2.4e-5 relative at |x| = 100), sin/cos within 2⁻¹¹ absolute on [−π, π] only.
 */
const SOFTWARE = init.ok && /llvmpipe|lavapipe|swiftshader/i.test(init.adapter);
const TRANSCENDENTAL: Tol = SOFTWARE ? { rtol: 4e-6, atol: 1e-6 } : { rtol: 2.5e-5, atol: 1e-6 };
const TRIG: Tol = SOFTWARE ? { rtol: 1e-5, atol: 2e-6 } : { rtol: 0, atol: 2 ** -11 };
/** Sums and matmul: float32 accumulations in a different order (tree vs sequential). */
const ACCUMULATED: Tol = { rtol: 1e-5, atol: 1e-5 };

const SPECIALS = Float32Array.from([0, -0, 1, -1, 0.5, -2.5, 1e-30, -1e-30, 1e-6, 30, -30, 100, -100, 1e30, Infinity, -Infinity, NaN]);

test("unary kernels: random shapes, their domains and special values", async () => {
  const r = rng(1);
  const cases: Case[] = [];
  const domain: Record<string, (x: Tensor) => Tensor> = { log: (x) => x.abs(), sqrt: (x) => x.abs(), log1p: (x) => x.abs() };
  const ops = dg.UNARY_KERNELS.filter((op) => typeof (dg as unknown as Record<string, unknown>)[op] === "function");
  for (const op of ops) {
    const f = (dg as unknown as Record<string, (x: Tensor) => Tensor>)[op]!;
    const trig = op === "sin" || op === "cos";
    for (const s of [[], [0], [1], [7], [3, 1, 4], [2, 300], shape(r, 4)]) {
      const wrap = trig && !SOFTWARE ? (x: Tensor) => x.clamp({ min: -Math.PI, max: Math.PI }) : (x: Tensor) => domain[op]?.(x) ?? x;
      cases.push({ name: `${op} ${JSON.stringify(s)}`, inputs: [floats(r, s, 2)], fn: (x) => f(wrap(x)), tol: trig ? TRIG : TRANSCENDENTAL });
    }
    // GPU sin/cos reduce their argument in float32: accurate on a few periods only (on hardware,
    // only [−π, π] is bounded), so no 1e30 for them.
    const bound = SOFTWARE ? 100 : Math.PI;
    const specials = trig ? SPECIALS.filter((v) => !Number.isFinite(v) || Math.abs(v) <= bound) : SPECIALS;
    cases.push({ name: `${op} specials`, inputs: [{ values: specials, shape: [specials.length], dtype: "float32" }], fn: f, tol: trig ? TRIG : TRANSCENDENTAL });
  }
  cases.push({ name: "neg int32", inputs: [ints(r, [9], -5, 5)], fn: (x) => x.neg() });
  cases.push({ name: "sign int32", inputs: [ints(r, [9], -5, 5)], fn: (x) => x.sign() });
  cases.push({ name: "abs int32", inputs: [ints(r, [9], -5, 5)], fn: (x) => x.abs() });
  const n = await compareOnBackends(cases, TRANSCENDENTAL);
  assert(n === cases.length, `compared ${n} outputs`);
});

test("binary ops and comparisons broadcast like cpu (float32 and int32)", async () => {
  const r = rng(2);
  const cases: Case[] = [];
  const bin: Record<string, (a: Tensor, b: Tensor) => Tensor> = {
    add: dg.add, sub: dg.sub, mul: dg.mul, maximum: dg.maximum, minimum: dg.minimum,
    equal: dg.equal, notEqual: dg.notEqual, greater: dg.greater, greaterEqual: dg.greaterEqual, less: dg.less, lessEqual: dg.lessEqual,
  };
  for (let k = 0; k < 40; k++) {
    const out = shape(r, 4, [0, 1, 2, 3, 4]);
    const [sa, sb] = r.next() < 0.5 ? [out, broadcastable(r, out)] : [broadcastable(r, out), out];
    const [name, f] = r.pick(Object.entries(bin));
    const int = r.next() < 0.3;
    // Small integers as floats too, so that equal/maximum ties occur.
    const mk = (s: number[]): Input => (int ? ints(r, s, -3, 3) : { ...ints(r, s, -3, 3), values: Float32Array.from(ints(r, s, -3, 3).values, (v) => v / 2), dtype: "float32" });
    cases.push({ name: `${name} ${int ? "int32" : "float32"} [${sa}]·[${sb}]`, inputs: [mk(sa), mk(sb)], fn: f });
  }
  cases.push({ name: "div float32", inputs: [floats(r, [4, 5]), floats(r, [5], 1, 3)], fn: dg.div, tol: TRANSCENDENTAL });
  cases.push({ name: "maximum with NaN", inputs: [{ values: Float32Array.from([NaN, 1, 2, NaN]), shape: [4], dtype: "float32" }, { values: Float32Array.from([1, NaN, 3, NaN]), shape: [4], dtype: "float32" }], fn: dg.maximum });
  cases.push({ name: "compare with NaN", inputs: [{ values: Float32Array.from([NaN, 1, NaN]), shape: [3], dtype: "float32" }, { values: Float32Array.from([NaN, NaN, 0]), shape: [3], dtype: "float32" }], fn: (a, b) => [dg.equal(a, b), dg.notEqual(a, b), dg.less(a, b), dg.greaterEqual(a, b)] });
  cases.push({ name: "scalar ⊕ tensor", inputs: [floats(r, [3, 2])], fn: (a) => a.mul(2).add(0.5).sub(a.mul(a)) });
  // Products exact in float64 (cpu multiplies in doubles), so both sides wrap the same integer.
  cases.push({ name: "int32 add/mul wrap at 2³²", inputs: [{ values: Int32Array.from([2147483647, -2147483648, 65536]), shape: [3], dtype: "int32" }], fn: (a) => [a.add(1), a.mul(2), a.mul(65536)] });
  await compareOnBackends(cases);
});

test("where broadcasts its condition and both branches", async () => {
  const r = rng(3);
  const cases: Case[] = [];
  for (let k = 0; k < 12; k++) {
    const out = shape(r, 4, [0, 1, 2, 3]);
    const int = k % 3 === 0;
    const val = (s: number[]) => (int ? ints(r, s, -9, 9) : floats(r, s));
    cases.push({
      name: `where [${out}]`,
      inputs: [floats(r, broadcastable(r, out)), val(broadcastable(r, out)), val(broadcastable(r, out))],
      fn: (c, a, b) => dg.where(c.greater(0), a, b),
    });
  }
  cases.push({ name: "where with scalar branches (relu's form)", inputs: [floats(r, [50])], fn: (x) => dg.where(x.greater(0), x, 0) });
  await compareOnBackends(cases);
});

test("casts between float32, int32 and bool", async () => {
  const vals = Float32Array.from([0, -0, 1, -1, 2.7, -2.7, 0.5, -0.5, 1e6 + 0.5, -123456.75, NaN, 3]);
  const cases: Case[] = [];
  const f: Input = { values: vals, shape: [12], dtype: "float32" };
  const i: Input = { values: Int32Array.from([0, 1, -1, 7, -8, 2147483647, -2147483648, 3]), shape: [8], dtype: "int32" };
  const b: Input = { values: Uint8Array.from([0, 1, 1, 0, 1]), shape: [5], dtype: "bool" };
  for (const input of [f, i, b]) for (const to of ["float32", "int32", "bool"] as const) cases.push({ name: `${input.dtype} → ${to}`, inputs: [input], fn: (x) => x.cast(to) });
  cases.push({ name: "bool round trip and logicalNot", inputs: [b], fn: (x) => [x, dg.logicalNot(x)] });
  await compareOnBackends(cases);
});

test("sum, max, mean over random axis sets; tree reductions over long axes", async () => {
  const r = rng(4);
  const cases: Case[] = [];
  for (let k = 0; k < 30; k++) {
    const s = shape(r, 4, [1, 2, 3, 4, 7]);
    const axes = s.map((_, d) => d).filter(() => r.next() < 0.5);
    const keepDims = r.next() < 0.5;
    const op = r.pick(["sum", "max", "mean"] as const);
    const int = op !== "mean" && r.next() < 0.25;
    // int32 max over non-negative values only: cpu's int32 max starts from -Infinity stored in an
    // Int32Array (0), so an all-negative slice gives 0 there; webgpu is checked on those below.
    cases.push({
      name: `${op} [${s}] axes [${axes}]${int ? " int32" : ""}`,
      inputs: [int ? ints(r, s, op === "max" ? 0 : -50, 50) : floats(r, s)],
      fn: (x) => dg[op](x, { axis: axes.length > 0 ? axes : undefined, keepDims }),
    });
  }
  // Reduced extents above 32 take the one-workgroup-per-output tree; with NaN and ties.
  const nanRow = floats(r, [3, 1000]);
  nanRow.values[1500] = NaN;
  cases.push({ name: "sum [3,1000] axis 1", inputs: [floats(r, [3, 1000])], fn: (x) => x.sum({ axis: 1 }) });
  cases.push({ name: "sum [1000,3] axis 0", inputs: [floats(r, [1000, 3])], fn: (x) => x.sum({ axis: 0 }) });
  cases.push({ name: "sum all of [200,784]", inputs: [floats(r, [200, 784])], fn: (x) => x.sum() });
  cases.push({ name: "max with NaN [3,1000]", inputs: [nanRow], fn: (x) => x.max({ axis: 1 }) });
  cases.push({ name: "int32 sum [40,70]", inputs: [ints(r, [40, 70], -1000, 1000)], fn: (x) => [x.sum(), x.sum({ axis: 0 }), x.abs().max({ axis: 1 })] });
  cases.push({ name: "size-0 axis", inputs: [floats(r, [3, 0, 2])], fn: (x) => [x.sum({ axis: 1 }), x.sum({ axis: 0 })] });
  await compareOnBackends(cases, ACCUMULATED);
});

test("int32 max of negative values (checked against plain JavaScript, see above)", async () => {
  const rows = [[-5, -3, -9], [-7, -7, -8], [-2147483648, -2147483647, -2147483648]];
  const short = on("webgpu", () => dg.tensor(rows, { dtype: "int32" }).max({ axis: 1 }));
  const long = on("webgpu", () => dg.full([2, 100], -4, { dtype: "int32" }).max({ axis: 1 }));
  const [a, b] = await Promise.all([short.data(), long.data()]);
  assertEquals(Array.from(a), rows.map((r) => Math.max(...r)));
  assertEquals(Array.from(b), [-4, -4]);
});

test("argmax/argmin: first extreme wins ties, NaN wins, short and long axes", async () => {
  const r = rng(5);
  const cases: Case[] = [];
  for (const s of [[5], [3, 4], [2, 3, 4], [4, 300], [300, 4], [2, 1000, 3]]) {
    for (let axis = 0; axis < s.length; axis++) {
      const x = ints(r, s, -3, 3); // many ties
      cases.push({ name: `arg [${s}] axis ${axis}`, inputs: [{ ...x, values: Float32Array.from(x.values), dtype: "float32" }], fn: (t) => [dg.argmax(t, { axis }), dg.argmin(t, { axis, keepDims: true })] });
    }
  }
  const nan = floats(r, [2, 600]);
  nan.values[10] = NaN;
  nan.values[700] = NaN;
  nan.values[900] = NaN;
  cases.push({ name: "arg with NaN", inputs: [nan], fn: (t) => [dg.argmax(t, { axis: 1 }), dg.argmin(t, { axis: 1 })] });
  cases.push({ name: "arg int32 flattened", inputs: [ints(r, [7, 9], -20, 20)], fn: (t) => [dg.argmax(t), dg.argmin(t)] });
  await compareOnBackends(cases);
});

test("movement: expand, permute, slice, pad, concat, reshape on every dtype", async () => {
  const r = rng(6);
  const cases: Case[] = [];
  for (let k = 0; k < 24; k++) {
    const s = shape(r, 4, [1, 2, 3, 4]);
    const dtype = r.pick(["float32", "int32", "bool"] as const);
    const x = dtype === "float32" ? floats(r, s) : dtype === "int32" ? ints(r, s, -9, 9) : { ...ints(r, s, 0, 1), values: Uint8Array.from(ints(r, s, 0, 1).values), dtype: "bool" as const };
    const perm = s.map((_, d) => d).sort(() => r.next() - 0.5);
    const begin = s.map((d) => r.int(0, d - 1));
    const size = s.map((d, i) => r.int(0, d - begin[i]!));
    const pads = s.map(() => [r.int(0, 2), r.int(0, 2)] as [number, number]);
    const big = [r.int(1, 2), ...s.map((d) => (r.next() < 0.5 ? d : d === 1 ? 3 : d))];
    const axis = s.length > 0 ? r.int(0, s.length - 1) : 0;
    cases.push({
      name: `movement ${dtype} [${s}]`,
      inputs: [x],
      fn: (t) => [
        t.permute(perm),
        t.slice(begin, size),
        t.pad(pads, dtype === "float32" ? 1.5 : 1),
        t.expand(big.map((d, i) => (i === 0 ? d : s[i - 1] === 1 ? d : s[i - 1]!))),
        ...(s.length > 0 ? [dg.concat([t, t.slice(s.map(() => 0), s.map((d, i) => (i === axis ? Math.min(1, d) : d))), t], axis)] : []),
        t.reshape([-1]),
      ],
    });
  }
  cases.push({ name: "transpose of a large matrix", inputs: [floats(r, [300, 257])], fn: (t) => [t.transpose(), dg.stack([t, t], 1)] });
  await compareOnBackends(cases);
});

test("matmul: small, tile edges, the 128×128 vec4 path, batched with broadcasting, int32", async () => {
  const r = rng(7);
  // Dot products of K unit-normal pairs summed in float32 in different orders: the classic bound
  // K·ε·Σ|aᵢbᵢ|/K ≈ K·1.2e-7 absolute (observed ~1/4 of it at K = 784).
  const mm = (a: number[], b: number[], name = `[${a}]·[${b}]`): Case => ({
    name, inputs: [floats(r, a), floats(r, b)], fn: dg.matmul, tol: { rtol: 1e-5, atol: Math.max(1e-6, a[a.length - 1]! * 1.2e-7) },
  });
  const cases: Case[] = [
    mm([1, 1], [1, 1]), mm([3, 5], [5, 2]), mm([200, 784], [784, 10]), mm([33, 31], [31, 65]),
    mm([256, 256], [256, 256]), mm([130, 12], [12, 132]), mm([129, 20], [20, 260]), mm([200, 784], [784, 784]),
    mm([2, 1, 4, 6], [3, 6, 5]), mm([5, 2, 3], [1, 3, 2]), mm([3, 0], [0, 4]), mm([0, 3], [3, 4]),
    mm([2, 140, 8], [8, 136], "batched big tiles [2,140,8]·[8,136]"),
    { name: "int32 matmul", inputs: [ints(r, [7, 9], -5, 5), ints(r, [9, 4], -5, 5)], fn: dg.matmul },
    // Transposed operands are read in place (a pending transpose), in every combination, on both
    // tile shapes (vec4 along M for Aᵀ and along K for Bᵀ), batched, and written out when reused.
    ...([[200, 784, 64], [256, 256, 256], [130, 36, 132], [33, 31, 65], [129, 21, 260]] as const).flatMap(([m, k, n]) => [
      { name: `Aᵀ·B ${m}×${k}·${k}×${n}`, inputs: [floats(r, [k, m]), floats(r, [k, n])], fn: (a: Tensor, b: Tensor) => dg.matmul(a.transpose(), b), tol: { rtol: 1e-5, atol: k * 1.2e-7 } },
      { name: `A·Bᵀ ${m}×${k}·${k}×${n}`, inputs: [floats(r, [m, k]), floats(r, [n, k])], fn: (a: Tensor, b: Tensor) => dg.matmul(a, b.transpose()), tol: { rtol: 1e-5, atol: k * 1.2e-7 } },
      { name: `Aᵀ·Bᵀ ${m}×${k}·${k}×${n}`, inputs: [floats(r, [k, m]), floats(r, [n, k])], fn: (a: Tensor, b: Tensor) => dg.matmul(a.transpose(), b.transpose()), tol: { rtol: 1e-5, atol: k * 1.2e-7 } },
    ]),
    { name: "batched Aᵀ·B with broadcasting", inputs: [floats(r, [2, 1, 6, 4]), floats(r, [3, 6, 5])], fn: (a, b) => dg.matmul(a.transpose(-1, -2), b) },
    { name: "a transpose used by matmul and by add, and a transpose of a transpose", inputs: [floats(r, [40, 24]), floats(r, [40, 7])], fn: (a, b) => { const at = a.transpose(); return [dg.matmul(at, b), at.add(1), at.transpose().mul(2), dg.matmul(at.transpose().transpose(), b)]; } },
    { name: "vector operands (matmul's 1-D rules)", inputs: [floats(r, [6]), floats(r, [6, 3]), floats(r, [6])], fn: (v, m, w) => [dg.matmul(v, m), dg.matmul(v, w)] },
  ];
  await compareOnBackends(cases, ACCUMULATED);
});

test("gather and scatterAdd (repeated indices add up), along every axis", async () => {
  const r = rng(8);
  const cases: Case[] = [];
  for (const s of [[5], [4, 3], [2, 5, 3], [1000, 2]]) {
    for (let axis = 0; axis < s.length; axis++) {
      const idx = ints(r, [r.int(1, 6), 2], 0, s[axis]! - 1);
      cases.push({
        name: `gather/scatterAdd [${s}] axis ${axis}`,
        inputs: [floats(r, s), idx],
        fn: (x, i) => {
          const g = dg.gather(x, i, axis);
          return [g, dg.scatterAdd(g.mul(3), i, s, axis), dg.gather(x.cast("int32"), i, axis)];
        },
      });
    }
  }
  cases.push({ name: "embedding-style scatterAdd with many repeats", inputs: [floats(r, [64, 8]), ints(r, [500], 0, 3)], fn: (w, i) => dg.scatterAdd(dg.gather(w, i, 0), i, [64, 8], 0) });
  cases.push({ name: "int32 scatterAdd", inputs: [ints(r, [9, 2], -5, 5), ints(r, [9], 0, 2)], fn: (g, i) => dg.scatterAdd(g, i, [3, 2], 0) });
  await compareOnBackends(cases, ACCUMULATED);
});

test("gather's index check runs on the device and is reported when the result is read", async () => {
  const x = on("webgpu", () => dg.tensor([1, 2, 3]));
  const bad = on("webgpu", () => dg.gather(x, dg.tensor([0, 7], { dtype: "int32" })));
  let err: unknown = null;
  try {
    await bad.data();
  } catch (e) {
    err = e;
  }
  assert(err instanceof dg.DeltagradError, `expected a DeltagradError, got ${String(err)}`);
  assertStringIncludes(String(err), "gather: an index for axis 0 of size 3");
  assertStringIncludes(String(err), "index 7 is out of range");
  // The flag is cleared by that read: the next read of a good result succeeds.
  const good = on("webgpu", () => dg.gather(x, dg.tensor([2, 0], { dtype: "int32" })));
  assertEquals(Array.from(await good.data()), [3, 1]);
});

test("unfold/fold, conv2d forward and backward, max and avg pooling", async () => {
  const r = rng(9);
  const geoms = [
    { x: [2, 3, 7, 7], w: [4, 3, 3, 3], o: { padding: 1 } },
    { x: [1, 2, 8, 9], w: [3, 2, 3, 2], o: { stride: 2, dilation: [2, 1] as [number, number] } },
    { x: [2, 4, 6, 6], w: [4, 2, 3, 3], o: { groups: 2, padding: [2, 0] as [number, number], stride: [1, 2] as [number, number] } },
    { x: [4, 1, 28, 28], w: [6, 1, 5, 5], o: { padding: 2 } },
  ];
  const cases: Case[] = geoms.map((g) => ({
    name: `conv2d x[${g.x}] w[${g.w}] ${JSON.stringify(g.o)}`,
    inputs: [floats(r, g.x), floats(r, g.w), floats(r, [g.w[0]!]), floats(r, [1])],
    fn: (x, w, b) => {
      const xr = x.detach().requiresGrad_();
      const wr = w.detach().requiresGrad_();
      const br = b.detach().requiresGrad_();
      const y = dg.conv2d(xr, wr, br, g.o);
      y.mul(y).sum().backward();
      return [y, xr.grad!, wr.grad!, br.grad!];
    },
  }));
  cases.push({
    name: "pools with gradients",
    inputs: [floats(r, [2, 3, 9, 8])],
    fn: (x) => {
      const xr = x.detach().requiresGrad_();
      const a = dg.maxPool2d(xr, { kernel: 3, stride: 2, padding: 1 });
      const b = dg.avgPool2d(xr, { kernel: 2 });
      a.sum().add(b.mul(b).sum()).backward();
      return [a, b, xr.grad!];
    },
  });
  cases.push({ name: "unfold then fold", inputs: [floats(r, [2, 3, 5, 6])], fn: (x) => { const c = dg.unfold(x, { kernel: [2, 3], stride: [1, 2], padding: 1 }); return [c, dg.fold(c, [5, 6], { kernel: [2, 3], stride: [1, 2], padding: 1 })]; } });
  // x.grad and w.grad of the 28×28 case sum 150 and 3,136 products of magnitude ~10 with
  // cancellation: float32 accumulation error ~ n·ε·|term| (≈ 1e-4·…), so an absolute bound.
  await compareOnBackends(cases, { rtol: 2e-5, atol: 2e-3 });
});

test("creation kernels (fill, arange, random uploads) and in-place write through assign", async () => {
  const cases: Case[] = [
    { name: "fills", inputs: [], fn: () => [dg.zeros([3, 4]), dg.ones([5], { dtype: "int32" }), dg.full([2, 2], -1.5), dg.full([3], 1, { dtype: "bool" }), dg.zeros([0]), dg.arange(10), dg.eye(4)] },
    { name: "seeded random draws are uploaded, not drawn on the GPU", inputs: [], fn: () => { dg.manualSeed(3); return [dg.randn([4, 4]), dg.rand([7]), dg.randint(0, 9, [5])]; } },
    { name: "assign", inputs: [], fn: () => { const w = dg.zeros([2, 3]); w.assign(dg.ones([2, 3]).mul(4)); return w; } },
  ];
  await compareOnBackends(cases);
});

test("autograd on webgpu: a composite graph's gradients match cpu", async () => {
  const r = rng(10);
  await compareOnBackends([{
    name: "softmax cross-entropy of a 2-layer net",
    inputs: [floats(r, [16, 20]), floats(r, [20, 30], 0.3), floats(r, [30, 5], 0.3), ints(r, [16], 0, 4)],
    fn: (x, w1, w2, y) => {
      const [a, b] = [w1.detach().requiresGrad_(), w2.detach().requiresGrad_()];
      const logits = x.matmul(a).tanh().matmul(b);
      const loss = dg.logSoftmax(logits, { axis: 1 }).mul(dg.oneHot(y, 5)).sum().neg().div(16);
      loss.backward();
      return [loss, a.grad!, b.grad!];
    },
  }], ACCUMULATED);
});

test("synchronous reads throw a DeltagradError naming the async alternative", () => {
  const [t, s] = on("webgpu", () => [dg.tensor([1, 2]), dg.tensor(3)]);
  const reads: [string, () => unknown, string][] = [
    ["dataSync", () => t!.dataSync(), "await t.data()"],
    ["arraySync", () => t!.arraySync(), "await t.data()"],
    ["itemSync", () => s!.itemSync(), "await t.item()"],
  ];
  for (const [name, read, alt] of reads) {
    let err: unknown = null;
    try {
      read();
    } catch (e) {
      err = e;
    }
    assert(err instanceof dg.DeltagradError, `${name}: expected a DeltagradError, got ${String(err)}`);
    assertStringIncludes(String(err), "webgpu backend reads asynchronously");
    assertStringIncludes(String(err), alt);
  }
});

test("float64 stays on the host; mixing it with a GPU tensor is a clear error", async () => {
  const [y, mixed] = on("webgpu", () => {
    const x = dg.tensor([1, 2, 3], { dtype: "float64" });
    const y = x.mul(x).sum();
    let mixed: unknown = null;
    try {
      dg.tensor([1, 2, 3]).add(x);
    } catch (e) {
      mixed = e;
    }
    return [y, mixed];
  });
  assertEquals(Array.from(await (y as Tensor).data()), [14]);
  assert(mixed instanceof dg.DeltagradError, `expected a DeltagradError, got ${String(mixed)}`);
  assertStringIncludes(String(mixed), "float64");
});

test("kernels are batched: a forward/backward records dispatches without submitting", () => {
  on("webgpu", () => {
    const before = dg.webgpuStats();
    const w = dg.randn([64, 64]).requiresGrad_();
    const loss = dg.randn([8, 64]).matmul(w).relu().sum();
    loss.backward();
    const after = dg.webgpuStats();
    assert(after.dispatches - before.dispatches >= 5, `dispatches ${after.dispatches - before.dispatches}`);
    assertEquals(after.submits - before.submits, 0);
    // The VJPs' transposes are read in place by matmul: A·Bᵀ is one dispatch, no transpose kernel.
    const [a, b] = [dg.randn([32, 16]), dg.randn([8, 16])];
    const d0 = dg.webgpuStats().dispatches;
    dg.matmul(a, b.transpose());
    assertEquals(dg.webgpuStats().dispatches - d0, 1);
  });
});

test("GPU timestamps bracket recorded work (timestamp-query), read in one batch", async () => {
  const stamped = on("webgpu", () => {
    const a = dg.randn([128, 128]);
    if (!dg.webgpuTimestamp()) return false;
    dg.matmul(a, a).dispose();
    dg.webgpuTimestamp();
    return true;
  });
  if (!stamped) {
    console.log("skipped: this adapter has no timestamp-query feature");
    return;
  }
  const ts = await dg.webgpuTimestamps();
  assertEquals(ts.length, 2);
  assert(ts[1]! >= ts[0]!, `timestamps ${ts}`);
  assertEquals((await dg.webgpuTimestamps()).length, 0); // read once, then reset
});
