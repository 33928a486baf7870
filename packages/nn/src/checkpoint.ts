/**
 * Checkpoints in the safetensors format (https://github.com/huggingface/safetensors), the weights
 * format PyTorch, JAX and Hugging Face tools read:
 *
 * ```text
 * [8 bytes]  N, the header length: unsigned 64-bit little-endian
 * [N bytes]  UTF-8 JSON object: { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, …,
 *                                 "__metadata__": { "<key>": "<string>", … } }   (metadata optional)
 * [rest]     the data section: each tensor's elements, row-major, little-endian, at
 *            [begin, end) counted from the start of the data section
 * ```
 *
 * A weights file is untrusted input: {@link deserialize} checks every rule of the format before
 * it creates a tensor. Writes ({@link save}) go to a temporary file that is fsynced and renamed
 * over the target, so a failure never leaves half a checkpoint in place of a good one.
 *
 * `serialize` / `deserialize` work on bytes and touch no Node module (browsers); `save` / `load`
 * and the model and optimizer helpers read and write files through `#file-io` (Node, Deno), which
 * in a browser bundle is a stand-in that throws an error naming `serialize` / `deserialize`.
 */
import { DeltagradError, type Tensor } from "@deltagrad/autograd";
import { optionsOf } from "./options.js";
// checkpoint/file-io-node.ts, or checkpoint/file-io-browser.ts under the `browser` condition (nn's package.json).
import { readBytes as readFile, writeAtomic } from "#file-io";
import { build, checkDuplicateKeys, isRecord, parse, plan, q, toLittleEndian, type SerializeOptions } from "./checkpoint/safetensors.js";

export { MAX_HEADER_BYTES, serialize, serializeAsync, deserialize, deserializeMetadata, type SerializeOptions } from "./checkpoint/safetensors.js";

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /** Require the file's keys to match the model's parameter names exactly. Default true. */
  strict?: boolean;
}

/** What {@link saveModel} / {@link loadModel} need of a model (nn's `Module` has both). */
export interface StateDictModel<R = unknown> {
  stateDict(): Record<string, Tensor>;
  loadStateDict(sd: Record<string, Tensor>, options?: { strict?: boolean }): R;
}

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

// ─── files ──────────────────────────────────────────────────────────────────────────────────

async function readBytes(where: string, path: string): Promise<Uint8Array> {
  if (typeof path !== "string" || path === "") throw new DeltagradError(`${where}: path must be a non-empty string, got ${JSON.stringify(path)}`);
  return readFile(where, path);
}

/**
 * Writes `stateDict` to `path` as a safetensors file, atomically: the bytes go to a temporary
 * file in the same folder, which is fsynced and then renamed over `path`. If anything fails —
 * a bad input, a tensor that cannot be read, a full disk — the temporary file is removed and an
 * existing file at `path` is left as it was. Works on every backend (tensors are read with
 * `await t.data()`), one tensor at a time.
 *
 * @example
 * ```ts
 * await save(model.stateDict(), "mlp.safetensors", { metadata: { epochs: "20" } });
 * ```
 */
export async function save(stateDict: Record<string, Tensor>, path: string, options?: SerializeOptions): Promise<void> {
  const { metadata } = optionsOf("save", options);
  if (typeof path !== "string" || path === "") throw new DeltagradError(`save: path must be a non-empty string, got ${JSON.stringify(path)}`);
  const { header, entries } = plan("save", stateDict, metadata);
  await writeAtomic("save", path, async (writeAll) => {
    await writeAll(header);
    // Data in file order (begin ascending), one tensor at a time: memory stays at one tensor.
    for (const e of [...entries].sort((a, b) => a.begin - b.begin)) {
      await writeAll(toLittleEndian("save", e.name, await e.t.data(), e.t.dtype, e.t.size));
    }
  });
}

/**
 * Reads a safetensors file into tensors by name (a record without a prototype), validating the
 * whole file first (see {@link deserialize}).
 *
 * @example
 * ```ts
 * const sd = await load("mlp.safetensors");
 * sd["layers.0.weight"].shape; // [4, 8]
 * ```
 */
export async function load(path: string): Promise<Record<string, Tensor>> {
  const where = `load ${JSON.stringify(path)}`;
  return build(parse(where, await readBytes("load", path)));
}

/**
 * Saves a model's parameters (`model.stateDict()`) to `path`, atomically (see {@link save}).
 *
 * @example
 * ```ts
 * await saveModel(model, "mlp.safetensors");
 * ```
 */
export async function saveModel(model: StateDictModel, path: string, options: SerializeOptions = {}): Promise<void> {
  await save(model.stateDict(), path, options);
}

/**
 * Loads parameters saved by {@link saveModel} (or any safetensors file with matching names,
 * shapes and dtypes) into `model`. The file is validated completely, then `model.loadStateDict`
 * checks names, shapes and dtypes before touching a parameter: on any error the model is
 * unchanged. Returns what `loadStateDict` returns (for nn's `Module`, the missing and
 * unexpected keys when `strict` is false).
 *
 * @example
 * ```ts
 * const model = new MLP([4, 8, 3]);
 * await loadModel(model, "mlp.safetensors");
 * ```
 */
export async function loadModel<R>(model: StateDictModel<R>, path: string, options?: LoadModelOptions): Promise<R> {
  const { strict = true } = optionsOf("loadModel", options);
  const sd = await load(path);
  return model.loadStateDict(sd, { strict });
}

/** JSON that refuses values it cannot round-trip (NaN, ±Infinity become null in plain JSON). */
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
