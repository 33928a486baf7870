/**
 * The snippets of the root README's "Optimizers and schedulers" section run: each is written to a module under node_modules/ (ignored by
 * git) and imported, so an example that no longer compiles or throws fails here. Printed lines are
 * compared with the `// …` comment after each console.log.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";

const root = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");
const start = root.indexOf("### Optimizers and schedulers");
const readme = root.slice(start, root.indexOf("\n## ", start));
// Blocks that import something are programs; the state-dict layout block is a data sketch.
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((s) => s.includes("import "));
const dir = fileURLToPath(new URL("../node_modules/.readme-snippets/", import.meta.url));

afterEach(() => void vi.restoreAllMocks());

describe("README snippets", () => {
  it("has the runnable snippets", () => {
    expect(start).toBeGreaterThan(0);
    expect(snippets.length).toBe(3);
  });

  it.each(snippets.map((s, i) => [i, s] as const))("snippet %i runs and prints what its comments say", async (i, code) => {
    mkdirSync(dir, { recursive: true });
    const file = `${dir}snippet-${i}.ts`;
    writeFileSync(file, code);
    const printed: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void printed.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")));
    await import(/* @vite-ignore */ file);
    const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]!.replace(/, /g, ","));
    expect(printed.map((p) => p.replace(/, /g, ","))).toEqual(expected);
  });
});
