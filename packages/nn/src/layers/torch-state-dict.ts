/**
 * PyTorch state dicts for models holding deltagrad `Linear` layers. deltagrad keeps a Linear's
 * weight as `[in, out]` (Z = X·W + b, DESIGN.md); PyTorch's `nn.Linear.weight` is `[out, in]`.
 * Every other layer (Conv, recurrent, `in_proj_weight`, Embedding, norms) already uses PyTorch's
 * layouts and names, so converting a state dict means transposing exactly the Linear weights.
 */
import { DeltagradError, Tensor, transpose } from "@deltagrad/autograd";
import { Linear } from "./linear.js";
import type { AnyModule, LoadStateDictOptions, LoadStateDictResult } from "../module.js";

/** Dotted names of every `Linear` weight in `model` (e.g. `self_attn.out_proj.weight`). */
function linearWeights(model: AnyModule): Set<string> {
  const out = new Set<string>();
  for (const [prefix, m] of model.namedModules()) if (m instanceof Linear) out.add(prefix ? `${prefix}.weight` : "weight");
  return out;
}

/**
 * Loads a state dict written by PyTorch (`{k: v.numpy() …}` of `model.state_dict()`, turned into
 * tensors): the same as {@link Module.loadStateDict} — all keys, shapes and dtypes validated before
 * anything changes — except that each `Linear` weight is transposed from PyTorch's `[out, in]` to
 * deltagrad's `[in, out]` first (e.g. `MultiheadAttention`'s `out_proj.weight`, a
 * `TransformerEncoderLayer`'s `linear1.weight` and `linear2.weight`).
 *
 * @example
 * ```ts
 * const mha = new MultiheadAttention(4, 2);
 * loadTorchStateDict(mha, {
 *   in_proj_weight: zeros([12, 4]), in_proj_bias: zeros([12]),
 *   "out_proj.weight": eye(4), "out_proj.bias": zeros([4]), // PyTorch's [out, in]
 * });
 * ```
 */
export function loadTorchStateDict(model: AnyModule, stateDict: Record<string, Tensor>, options?: LoadStateDictOptions): LoadStateDictResult {
  if (typeof stateDict !== "object" || stateDict === null || Array.isArray(stateDict)) {
    throw new DeltagradError(`loadTorchStateDict: expected a record of tensors by name, got ${stateDict === null ? "null" : Array.isArray(stateDict) ? "an array" : typeof stateDict}`);
  }
  const linear = linearWeights(model);
  const sd: Record<string, Tensor> = Object.create(null);
  for (const [k, v] of Object.entries(stateDict)) sd[k] = linear.has(k) && v instanceof Tensor && v.rank === 2 ? transpose(v) : v;
  return model.loadStateDict(sd, options);
}

/**
 * The model's state dict in PyTorch's layouts: {@link Module.stateDict} with every `Linear` weight
 * transposed to `[out, in]`, so the keys and shapes match the equivalent PyTorch module's.
 *
 * @example
 * ```ts
 * torchStateDict(new MultiheadAttention(8, 2))["out_proj.weight"].shape; // [8, 8] as PyTorch's [out, in]
 * torchStateDict(new Linear(3, 2)).weight.shape;                         // [2, 3]
 * ```
 */
export function torchStateDict(model: AnyModule): Record<string, Tensor> {
  const sd = model.stateDict();
  for (const k of linearWeights(model)) if (sd[k]) sd[k] = transpose(sd[k]!);
  return sd;
}
