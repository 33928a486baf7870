/**
 * The browser's stand-in for checkpoint files (see file-io-node.ts): a page has no file system
 * path to write to, so `save`/`load` and the model and optimizer helpers say what to use instead —
 * `serialize` (bytes to download, or keep in IndexedDB or OPFS) and `deserialize`. nn's
 * package.json maps `#file-io` here under the `browser` condition.
 */
import { DeltagradError } from "@deltagrad/autograd";

const noFiles = (where: string, path: string, instead: string) =>
  new DeltagradError(
    `${where}: cannot open ${JSON.stringify(path)}: there are no file paths in a browser. ${instead} ` +
      "(bytes in the safetensors format: download them, or keep them in IndexedDB or the origin private file system).",
  );

/**
 * Always throws: a browser has no file paths; the error names `deserialize`.
 *
 * @example
 * ```ts
 * await readBytes("load", "mlp.safetensors"); // DeltagradError: … use deserialize(bytes) …
 * ```
 */
export async function readBytes(where: string, path: string): Promise<Uint8Array> {
  throw noFiles(where, path, "Read the bytes yourself (fetch, a file input, IndexedDB) and use deserialize(bytes) instead");
}

/**
 * Always throws: a browser has no file paths; the error names `serialize`.
 *
 * @example
 * ```ts
 * await writeAtomic("save", "mlp.safetensors", async () => {}); // DeltagradError: … use serialize(stateDict) …
 * ```
 */
export async function writeAtomic(where: string, path: string, _fill: (writeAll: (bytes: Uint8Array) => Promise<void>) => Promise<void>): Promise<void> {
  throw noFiles(where, path, "Use serialize(stateDict) instead and store the bytes it returns");
}
