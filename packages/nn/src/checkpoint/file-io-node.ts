/**
 * Checkpoint files on a file system (Node, Deno): whole-file reads and atomic writes. Reached only
 * through the `#file-io` import of nn's package.json, whose `browser` condition picks
 * file-io-browser.ts instead, so a browser bundle never sees `node:fs`.
 */
import { DeltagradError } from "@deltagrad/autograd";
import { readFile, open, rename, rm } from "node:fs/promises";
import { dirname, basename, join } from "node:path";

/**
 * The bytes of the file at `path`; a DeltagradError naming `where` and the path if it cannot be read.
 *
 * @example
 * ```ts
 * const bytes = await readBytes("load", "mlp.safetensors");
 * ```
 */
export async function readBytes(where: string, path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new DeltagradError(`${where}: cannot read ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
}

/**
 * Writes a file atomically: `fill` writes every byte through `writeAll` into a temporary file in
 * the same folder, which is fsynced and renamed over `path`. If anything fails the temporary file
 * is removed and an existing file at `path` is left as it was; a DeltagradError from `fill` goes
 * through unchanged, any other error becomes one naming `where` and the path.
 *
 * @example
 * ```ts
 * await writeAtomic("save", "mlp.safetensors", async (writeAll) => { await writeAll(bytes); });
 * ```
 */
export async function writeAtomic(where: string, path: string, fill: (writeAll: (bytes: Uint8Array) => Promise<void>) => Promise<void>): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}.tmp`);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(tmp, "wx");
    const fh = handle;
    // write() may write less than asked for; loop until every byte is down.
    await fill(async (bytes) => {
      for (let at = 0; at < bytes.length; ) {
        const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
        if (bytesWritten <= 0) throw new Error("the file system accepted no bytes");
        at += bytesWritten;
      }
    });
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (e) {
    await handle?.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    if (e instanceof DeltagradError) throw e;
    throw new DeltagradError(`${where}: cannot write ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  // Persist the rename itself. Best effort: directories cannot be opened for fsync on Windows.
  try {
    const d = await open(dir, "r");
    await d.sync().finally(() => d.close());
  } catch {
    /* the file is complete and in place; only durability across a power cut is weaker */
  }
}
