/**
 * Test support: the checks that need a fresh process (an empty wasm memory, a V8 that has seen
 * nothing yet, engine flags) run one of this folder's child scripts in a new node, the sources
 * loaded through tsx as the tests load them; each child prints one JSON line last.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

const TSX = fileURLToPath(new URL("../../../node_modules/tsx/dist/esm/index.mjs", import.meta.url));

/**
 * Runs `script` (a file beside this one) with `args` after node's `flags`; expects exit status 0
 * and returns the JSON of its last stdout line.
 *
 * @example `const r = runChild<{ grew: number }>("tape-gc-child.ts", ["cpu"]);`
 */
export function runChild<T>(script: string, args: string[], opts: { flags?: string[]; timeoutMs?: number } = {}): T {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const r = spawnSync(process.execPath, [...(opts.flags ?? []), "--conditions=source", "--import", TSX, path, ...args], {
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as T;
}
