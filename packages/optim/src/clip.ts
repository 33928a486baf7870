import { abs, add, cast, clamp, div, escapeScope, max, mul, noGrad, pow, scoped, sqrt, stack, sum, Tensor, zeros } from "@deltagrad/autograd";
import { checkNumber, fail, fmt } from "./checks.js";

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** The p of the p-norm, > 0, or `Infinity` for the largest absolute value. Default 2. */
  normType?: number;
  /** Throw if the total norm is NaN or infinite (the gradients are left unchanged). Default false. */
  errorIfNonfinite?: boolean;
}

function collect(name: string, params: Tensor | Iterable<Tensor>): Tensor[] {
  const list = params instanceof Tensor ? [params] : params && typeof (params as Iterable<Tensor>)[Symbol.iterator] === "function" ? Array.from(params) : null;
  if (!list) fail(name, `params must be a tensor or an iterable of tensors, got ${fmt(params)}`);
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) fail(name, `params[${i}] is not a Tensor (got ${fmt(p)})`);
  });
  return list.filter((p) => p.peekGrad() !== null);
}

/** Writes `g` into `p.grad` in place when the gradient is a leaf (keeping its identity, as PyTorch's `mul_`). */
function setGrad(p: Tensor, g: Tensor): void {
  const cur = p.peekGrad()!;
  if (cur.isLeaf) cur.assign(g);
  else p.replaceGrad(escapeScope(g));
}

/**
 * Rescales the gradients of `params` so that their joint p-norm (all gradients taken as one
 * vector) is at most `maxNorm`, as PyTorch's `clip_grad_norm_`: with total norm N, every gradient
 * is multiplied by min(1, maxNorm/(N + 1e-6)). Parameters without a gradient are skipped.
 * Returns N, the norm before clipping, as a scalar tensor (0 when no parameter has a gradient).
 *
 * Nothing is read on the host: the norm, the coefficient and the rescaling are kernels on the
 * gradients' backend, so a training step on webgpu never waits for the GPU here. Read the norm
 * when you need it (`norm.itemSync()` on cpu/wasm, `await norm.item()` anywhere). The norms
 * combine in float64 where the backend has it (cpu, wasm: mixed float32/float64 gradients are
 * exact to float64), in float32 on webgpu.
 *
 * @example
 * ```ts
 * loss.backward();
 * const norm = clipGradNorm(model.parameters(), 1.0);          // 2-norm, a scalar tensor
 * clipGradNorm(model.parameters(), 5, { normType: Infinity }); // max |g|
 * opt.step();
 * console.log(await norm.item());
 * ```
 */
export function clipGradNorm(params: Tensor | Iterable<Tensor>, maxNorm: number, { normType = 2, errorIfNonfinite = false }: ClipGradNormOptions = {}): Tensor {
  const N = "clipGradNorm";
  checkNumber(N, "maxNorm", maxNorm, (x) => x >= 0, "maxNorm ≥ 0");
  if (typeof normType !== "number" || !(normType > 0)) fail(N, `normType must be a positive number or Infinity, got ${fmt(normType)}`);
  const withGrad = collect(N, params);
  if (withGrad.length === 0) return zeros([]);
  const backends = withGrad.map((p) => p.peekGrad()!.backend);
  if (errorIfNonfinite && backends.some((b) => !b.synchronous)) {
    fail(N, `errorIfNonfinite reads the norm on the host, which the ${backends.find((b) => !b.synchronous)!.name} backend cannot do synchronously; leave it off and check the returned norm (await norm.item())`);
  }
  // float64 where every gradient's backend computes it; webgpu keeps float64 off the GPU.
  const acc = backends.every((b) => b.supports("float64")) ? "float64" : "float32";
  return scoped(() => noGrad(() => {
    // Per-gradient norms, then the norm of the norms.
    const norms = withGrad.map((p) => {
      const g = cast(p.peekGrad()!, acc);
      if (normType === Infinity) return max(abs(g));
      if (normType === 2) return sqrt(sum(mul(g, g)));
      if (normType === 1) return sum(abs(g));
      return pow(sum(pow(abs(g), normType)), 1 / normType);
    });
    const all = stack(norms);
    const total = normType === Infinity ? max(all) : normType === 2 ? sqrt(sum(mul(all, all))) : normType === 1 ? sum(all) : pow(sum(pow(all, normType)), 1 / normType);
    if (errorIfNonfinite) {
      const t = total.itemSync(); // synchronous backends only (checked above)
      if (!Number.isFinite(t)) fail(N, `the total norm of order ${normType} of the gradients is ${t}; the gradients were left unchanged`);
    }
    // PyTorch's clip_coef_clamped: multiplying by exactly 1 leaves a gradient within the bound bit for bit.
    const coef = clamp(div(maxNorm, add(total, 1e-6)), { max: 1 });
    for (const p of withGrad) {
      const g = p.peekGrad()!;
      setGrad(p, mul(g, cast(coef, g.dtype)));
    }
    return total;
  }));
}

/**
 * Clamps every gradient of `params` elementwise to [−clipValue, clipValue] (PyTorch's
 * `clip_grad_value_`). Parameters without a gradient are skipped.
 *
 * @example
 * ```ts
 * loss.backward();
 * clipGradValue(model.parameters(), 0.5);
 * ```
 */
export function clipGradValue(params: Tensor | Iterable<Tensor>, clipValue: number): void {
  checkNumber("clipGradValue", "clipValue", clipValue, (x) => x >= 0, "clipValue ≥ 0");
  const withGrad = collect("clipGradValue", params);
  scoped(() => noGrad(() => {
    for (const p of withGrad) setGrad(p, clamp(p.peekGrad()!, { min: -clipValue, max: clipValue }));
  }));
}
