/**
 * The smoke page of webgpu-chromium.test.ts (bundled by esbuild): a matmul and an exp on the
 * webgpu backend against cpu in the page — plus one case of each other kernel family, so that
 * every WGSL generator compiles under Chrome's shader compiler (Tint; Deno's is Naga) — with the
 * result left in `window.webgpuSmoke`.
 */
import * as dg from "@deltagrad/autograd";
import type { Tensor } from "@deltagrad/autograd";

/** What the page leaves in `window.webgpuSmoke` (the test reads it through Playwright). */
export interface Smoke {
  ok: boolean;
  reason?: string;
  adapter?: string;
  backend?: string;
  /** Largest |webgpu − cpu| per check, relative to max(1, |cpu|). */
  errors?: Record<string, number>;
}

/** Each check builds its outputs from the same input values on the active backend. */
const CHECKS: Record<string, (x: Tensor, w: Tensor, big: Tensor) => Tensor[]> = {
  matmul: (x, w) => [dg.matmul(x, w)],
  exp: (x) => [dg.exp(x)],
  "matmul 128×128 tiles (vec4)": (_x, _w, big) => [dg.matmul(big, big.transpose())],
  "unary family": (x) => [x.neg(), x.abs().sqrt(), x.abs().add(1).log(), x.erf(), x.sign(), dg.reciprocal(x.abs().add(1)), dg.log1p(x.abs()), dg.expm1(x)],
  // WGSL (and Vulkan) bound sin/cos only absolutely, by 2⁻¹¹ on [−π, π]: SwiftShader uses that slack.
  "sin and cos on [−π, π]": (x) => { const t = x.clamp({ min: -Math.PI, max: Math.PI }); return [dg.sin(t), dg.cos(t)]; },
  "binary, compare, where, cast": (x) => [x.maximum(x.transpose().slice([0, 0], [96, 96]).mean()), dg.where(x.greater(0), x, x.mul(-2)), x.cast("int32").cast("float32"), x.equal(0).cast("float32")],
  "reductions (tree) and arg-reductions": (x, _w, big) => [big.sum({ axis: 1 }), big.max({ axis: 0 }), x.argmax({ axis: 1 }).cast("float32"), big.argmin({ axis: 1 }).cast("float32"), x.sum()],
  "movement": (x) => [x.transpose(), x.pad([[1, 2], [0, 3]], 0.5), dg.concat([x, x], 1), x.slice([3, 4], [10, 20]), x.reshape([1, 96, 130]).expand([2, 96, 130])],
  "gather and scatterAdd": (x) => {
    const idx = dg.tensor([0, 5, 5, 95, 2], { dtype: "int32" });
    const g = dg.gather(x, idx, 0);
    return [g, dg.scatterAdd(g, idx, [96, 130], 0)];
  },
  "conv2d and pools with gradients (unfold, fold)": (x, w) => {
    const img = x.reshape([2, 3, 40, 52]).slice([0, 0, 0, 0], [2, 3, 20, 26]).detach().requiresGrad_();
    const k = w.reshape([-1]).slice([0], [4 * 3 * 9]).reshape([4, 3, 3, 3]).detach().requiresGrad_();
    const y = dg.maxPool2d(dg.conv2d(img, k, null, { padding: 1, stride: [1, 2] }), { kernel: 2 });
    y.sum().backward();
    return [y, img.grad!, k.grad!];
  },
};

async function run(): Promise<Smoke> {
  const init = await dg.initWebGPU();
  if (!init.ok) return { ok: false, reason: init.reason };
  dg.setBackend("cpu");
  dg.manualSeed(3);
  const inputs = [dg.randn([96, 130]), dg.randn([130, 200]), dg.randn([256, 256])];
  const values = inputs.map((t) => t.dataSync());
  const expected = Object.values(CHECKS).map((f) => f(inputs[0]!, inputs[1]!, inputs[2]!).map((t) => t.dataSync()));
  dg.setBackend("webgpu");
  const gpuIn = inputs.map((t, i) => dg.tensor(values[i]!).reshape(t.shape));
  const outs = Object.values(CHECKS).map((f) => f(gpuIn[0]!, gpuIn[1]!, gpuIn[2]!));
  const backend = dg.getBackend().name;
  const read = await Promise.all(outs.flat().map((t) => t.data()));
  dg.setBackend("cpu");
  const errors: Record<string, number> = {};
  let k = 0;
  Object.keys(CHECKS).forEach((name, ci) => {
    let worst = 0;
    expected[ci]!.forEach((e) => {
      const a = read[k++]!;
      if (a.length !== e.length) worst = Infinity;
      for (let i = 0; i < e.length; i++) {
        const err = Number.isNaN(e[i]!) && Number.isNaN(a[i]!) ? 0 : Math.abs(a[i]! - e[i]!) / Math.max(1, Math.abs(e[i]!));
        worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
      }
    });
    errors[name] = worst;
  });
  return { ok: true, adapter: init.adapter, backend, errors };
}

(window as unknown as { webgpuSmoke: Promise<Smoke> }).webgpuSmoke = run().catch((err: unknown) => ({ ok: false, reason: `threw: ${String(err)}` }));
