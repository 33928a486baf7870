/**
 * Deno as a first-class runtime: the three packages imported by name (Deno resolves them through
 * node_modules and the "deno" export condition, straight to the TypeScript sources), a tiny
 * model trained end to end, and the Jupyter display hooks that Deno's kernel calls.
 *
 *   node_modules/.bin/deno test -A deno/
 */
import { assert, assertAlmostEquals, assertEquals, assertStringIncludes } from "./assert.ts";
import { crossEntropy, Linear, MLP, mseLoss } from "@deltagrad/nn";
import { SGD } from "@deltagrad/optim";
import { graphDisplay, manualSeed, matmul, randn, relaxedSimdSupported, tensor, wasmFma, type Tensor } from "@deltagrad/autograd";
import { FUSED, probeColumns, probeRows } from "../packages/autograd/test/fma-support.ts";

const JUPYTER = Symbol.for("Jupyter.display");
type Displayable = { [JUPYTER]: () => Record<string, string> };

Deno.test("lecture 004: ∂f/∂w = 0.25 for f = 1/(exp(−(w·x + b)) + 1) at x = 1, w = 0, b = 0", () => {
  const x = tensor(1, { name: "x" });
  const w = tensor(0, { requiresGrad: true, name: "w" });
  const b = tensor(0, { requiresGrad: true, name: "b" });
  const f = w.mul(x).add(b).neg().exp().add(1).reciprocal();
  f.backward();
  assertEquals(f.itemSync(), 0.5);
  assertEquals(w.grad!.itemSync(), 0.25);
  assertEquals(b.grad!.itemSync(), 0.25);
});

Deno.test("Linear + SGD fit y = 3x − 1 (loss falls below 1e-3)", () => {
  manualSeed(1);
  const x = randn([64, 1]);
  const y = x.mul(3).sub(1);
  const model = new Linear(1, 1);
  const opt = new SGD(model.parameters(), { lr: 0.1 });
  const lossAt = () => mseLoss(model.call(x), y);
  const first = lossAt().itemSync();
  for (let step = 0; step < 200; step++) {
    opt.zeroGrad();
    const loss = lossAt();
    loss.backward();
    opt.step();
  }
  const last = lossAt().itemSync();
  assert(last < 1e-3 && last < first, `loss ${first} → ${last}`);
  assertAlmostEquals(model.weight.itemSync(), 3, 1e-2);
  assertAlmostEquals(model.bias!.itemSync(), -1, 1e-2);
});

Deno.test("MLP + SGD learn XOR with softmax cross-entropy (lecture 001)", () => {
  manualSeed(0);
  const x = tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
  const labels = tensor([0, 1, 1, 0], { dtype: "int32" });
  const model = new MLP([2, 8, 2], { activation: "tanh" });
  const opt = new SGD(model.parameters(), { lr: 0.5, momentum: 0.9 });
  for (let step = 0; step < 300; step++) {
    opt.zeroGrad();
    crossEntropy(model.call(x), labels).backward();
    opt.step();
  }
  const predicted = Array.from(model.call(x).argmax({ axis: 1 }).dataSync());
  assertEquals(predicted, [0, 1, 1, 0]);
});

Deno.test("Jupyter display hooks: Tensor gives text/plain + text/html, graphDisplay gives image/svg+xml", () => {
  const t: Tensor = tensor([[1, 2], [3, 4]]);
  const bundle = (t as unknown as Displayable)[JUPYTER]();
  assertStringIncludes(bundle["text/plain"]!, "shape=[2,2]");
  assertStringIncludes(bundle["text/html"]!, "<table");
  const w = tensor(0, { requiresGrad: true, name: "w" });
  const f = w.mul(tensor(1, { name: "x" })).add(tensor(0, { requiresGrad: true, name: "b" })).neg().exp().add(1).reciprocal();
  f.backward();
  const svg = (graphDisplay(f) as unknown as Displayable)[JUPYTER]()["image/svg+xml"]!;
  assert(svg.startsWith("<svg "), svg.slice(0, 40));
  assertEquals(svg.match(/class="node op"/g)?.length, 6);
  assertStringIncludes(svg, "h6 = reciprocal");
  assertStringIncludes(svg, "grad 0.2500");
});

Deno.test("the wasm sgemm accumulates with relaxed SIMD's fused multiply-add in Deno", () => {
  assert(relaxedSimdSupported(), "Deno's V8 validates f32x4.relaxed_madd");
  assert(wasmFma(), "the kernels were compiled with it");
  // The vitest suite's probe (packages/autograd/test/fma-support.ts): fused, a·a − 1 keeps its 2⁻²⁴.
  const c = matmul(probeRows(64), probeColumns(64)).dataSync();
  assert(c.every((v) => v === FUSED), `every element a·a − 1 = 2⁻¹¹ + 2⁻²⁴, got ${c[0]}`);
});
