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
import { optionsOf } from "../options.js";
// file-io-node.ts, or file-io-browser.ts under the `browser` condition (nn's package.json).
import { readBytes as readFile, writeAtomic } from "#file-io";
import { build, parse, plan, toLittleEndian, type SerializeOptions } from "./safetensors.js";

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

/** @internal Reads a checkpoint file, naming `where` in every error. */
export async function readBytes(where: string, path: string): Promise<Uint8Array> {
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
