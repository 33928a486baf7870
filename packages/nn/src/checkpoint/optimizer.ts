/**
 * Optimizer checkpoints: the tensors of `Optimizer.stateDict()` as safetensors entries, its
 * parameter groups and scalars as JSON in `__metadata__` (format {@link OPTIMIZER_FORMAT}).
 */
import { DeltagradError, type Tensor } from "@deltagrad/autograd";
import { build, checkDuplicateKeys, isRecord, parse, q } from "./safetensors.js";
import { readBytes, save } from "./files.js";

/** An optimizer's state as `Optimizer.stateDict()` returns it (see optim's `OptimizerStateDict`). */
export interface OptimizerState {
  type: string;
  paramGroups: readonly unknown[];
  tensors: Record<string, Tensor>;
  scalars: Record<string, number>;
}

/** What {@link saveOptimizer} / {@link loadOptimizer} need of an optimizer (optim's `Optimizer` has both). */
export interface StatefulOptimizer {
  stateDict(): OptimizerState;
  loadStateDict(sd: OptimizerState): unknown;
}

/**
 * `__metadata__.format` of an optimizer checkpoint.
 *
 * @example
 * ```ts
 * OPTIMIZER_FORMAT; // the __metadata__ "format" of optimizer files
 * ```
 */
export const OPTIMIZER_FORMAT = "deltagrad.optimizer/1";

function strictJson(where: string, what: string, v: unknown): string {
  return JSON.stringify(v, (k, x) => {
    if (typeof x === "number" && !Number.isFinite(x)) throw new DeltagradError(`${where}: ${what}${k ? ` ${q(k)}` : ""} is ${x}, which JSON cannot hold`);
    return x;
  });
}

/**
 * Saves an optimizer's state to its own safetensors file, atomically. Layout: the state tensors
 * are the file's tensors under their state-dict keys (`state.0.exp_avg`, `state.3.momentum_buffer`,
 * …); the rest goes in `__metadata__` as strings: `format` = `"deltagrad.optimizer/1"`, `type`
 * (the class name), `param_groups` (JSON: hyperparameters and parameter indices per group) and
 * `scalars` (JSON: per-parameter numbers such as `state.0.step`).
 *
 * @example
 * ```ts
 * await saveModel(model, "run/model.safetensors");
 * await saveOptimizer(opt, "run/optimizer.safetensors");
 * ```
 */
export async function saveOptimizer(opt: StatefulOptimizer, path: string): Promise<void> {
  const where = "saveOptimizer";
  const sd = opt.stateDict();
  if (!isRecord(sd) || typeof sd.type !== "string" || !Array.isArray(sd.paramGroups) || !isRecord(sd.tensors) || !isRecord(sd.scalars)) {
    throw new DeltagradError(`${where}: stateDict() must return { type, paramGroups, tensors, scalars }`);
  }
  const metadata = {
    format: OPTIMIZER_FORMAT,
    type: sd.type,
    param_groups: strictJson(where, "a hyperparameter", sd.paramGroups),
    scalars: strictJson(where, "state scalar", sd.scalars),
  };
  await save(sd.tensors, path, { metadata });
}

/** Parses a metadata JSON string with the same duplicate-key check as the header. */
function metaJson(where: string, meta: Record<string, string>, key: string): unknown {
  const text = meta[key];
  if (text === undefined) throw new DeltagradError(`${where}: "__metadata__" lacks ${q(key)}`);
  try {
    JSON.parse(text);
  } catch (e) {
    throw new DeltagradError(`${where}: "__metadata__" ${q(key)} is not valid JSON (${(e as Error).message})`);
  }
  checkDuplicateKeys(`${where}: "__metadata__" ${q(key)}`, text);
  return JSON.parse(text);
}

/**
 * Restores optimizer state saved by {@link saveOptimizer}. The file is validated completely
 * first, then `opt.loadStateDict` checks the optimizer type, groups, shapes and dtypes: on any
 * error the optimizer is unchanged. Load the model's parameters first and construct the
 * optimizer over them in the same order as when saving (state is matched by position).
 *
 * @example
 * ```ts
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 * await loadOptimizer(opt, "run/optimizer.safetensors");
 * ```
 */
export async function loadOptimizer(opt: StatefulOptimizer, path: string): Promise<void> {
  const where = `loadOptimizer ${JSON.stringify(path)}`;
  const parsed = parse(where, await readBytes("loadOptimizer", path));
  const meta = parsed.metadata;
  if (meta.format !== OPTIMIZER_FORMAT) {
    throw new DeltagradError(`${where}: not an optimizer checkpoint ("__metadata__" format is ${JSON.stringify(meta.format) ?? "missing"}, expected "${OPTIMIZER_FORMAT}")`);
  }
  if (typeof meta.type !== "string") throw new DeltagradError(`${where}: "__metadata__" lacks "type"`);
  const paramGroups = metaJson(where, meta, "param_groups");
  if (!Array.isArray(paramGroups)) throw new DeltagradError(`${where}: "__metadata__" "param_groups" must be a JSON array`);
  const rawScalars = metaJson(where, meta, "scalars");
  if (!isRecord(rawScalars)) throw new DeltagradError(`${where}: "__metadata__" "scalars" must be a JSON object`);
  const scalars: Record<string, number> = Object.create(null);
  for (const k of Object.keys(rawScalars)) {
    const v = rawScalars[k];
    if (typeof v !== "number") throw new DeltagradError(`${where}: state scalar ${q(k)} must be a number, got ${v === null ? "null" : typeof v}`);
    Object.defineProperty(scalars, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  opt.loadStateDict({ type: meta.type, paramGroups, tensors: build(parsed), scalars });
}
