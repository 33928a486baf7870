/**
 * Every ```ts block of every guide in docs/, of the root README and of the package READMEs runs,
 * so the docs cannot rot. A block is written to a
 * module under node_modules/.doc-snippets/ (ignored by git, and inside the workspace so that
 * `@deltagrad/*` resolve to the sources) and imported; one that no longer compiles or throws fails
 * here. Blocks show their results with `assert` from "node:assert". A line
 * `console.log(expr); // prints: text` must print exactly `text` (a block that uses this
 * form uses it for every console.log).
 * Browser-only blocks are fenced ```ts no-run and are listed as skipped, with the reason.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";

const docsDir = fileURLToPath(new URL("./", import.meta.url));
const outDir = fileURLToPath(new URL("../node_modules/.doc-snippets/", import.meta.url));

interface Block {
  id: string;
  code: string;
  run: boolean;
}

/** The fenced TypeScript blocks of one markdown file, with their line numbers. */
export function blocksOf(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  for (const m of text.matchAll(/^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const line = text.slice(0, m.index).split("\n").length;
    blocks.push({ id: `${file}:${line}`, code: m[3]!, run: !m[2]!.includes("no-run") });
  }
  return blocks;
}

const guides = readdirSync(docsDir).filter((f) => f.endsWith(".md")).sort();
// The root README and the package READMEs (what the npm registry shows) are held to the same rule.
const readmes = ["../README.md", "../packages/autograd/README.md", "../packages/nn/README.md", "../packages/optim/README.md"];
const blocks = [...guides, ...readmes].flatMap((f) => blocksOf(f, readFileSync(docsDir + f, "utf8")));

afterEach(() => void vi.restoreAllMocks());

/** Writes a block to its module file and returns the path. `export {}` makes every block a module, so top-level await works in each. */
function writeSnippet(id: string, code: string): string {
  mkdirSync(outDir, { recursive: true });
  const file = `${outDir}${id.replace(/[^A-Za-z0-9]+/g, "-")}.ts`;
  writeFileSync(file, `${code}\nexport {};\n`);
  return file;
}

describe("docs/ and README code blocks", () => {
  it("finds the guides' blocks (and the fence syntax it relies on)", () => {
    expect(blocksOf("x.md", "a\n```ts\nconst a = 1;\n```\n```ts no-run\nb\n```\n")).toEqual([
      { id: "x.md:2", code: "const a = 1;\n", run: true },
      { id: "x.md:5", code: "b\n", run: false },
    ]);
    expect(guides.length).toBeGreaterThan(0);
  });

  for (const b of blocks.filter((b) => !b.run)) {
    it.skip(`${b.id} (skipped: fenced no-run, browser-only code)`, () => {});
  }

  it.each(blocks.filter((b) => b.run).map((b) => [b.id, b.code] as const))("%s runs", async (id, code) => {
    const file = writeSnippet(id, code);
    const printed: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      printed.push(args.map((a) => (typeof a === "string" ? a : String(a))).join(" "));
    });
    await import(/* @vite-ignore */ file);
    const expected = [...code.matchAll(/^\s*console\.log\(.*\); \/\/ prints: (.*)$/gm)].map((m) => m[1]!);
    if (expected.length > 0) expect(printed).toEqual(expected); // then every console.log of the block says what it prints
  });

  // Readers copy these blocks into typed projects: after they have run, tsc checks them all at once
  // (strict, the workspace's settings) — a block that runs but would not compile fails here.
  it("every block type-checks", () => {
    const files = blocks.filter((b) => b.run).map((b) => writeSnippet(b.id, b.code));
    const config = `${outDir}tsconfig.json`; // after writeSnippet made outDir
    writeFileSync(config, JSON.stringify({
      extends: fileURLToPath(new URL("../tsconfig.base.json", import.meta.url)),
      compilerOptions: { noEmit: true, lib: ["ES2023", "DOM", "ESNext.Disposable"] },
      files,
    }));
    const tsc = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));
    let out = "";
    try {
      execFileSync(process.execPath, [tsc, "-p", config], { encoding: "utf8" });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(out).toBe("");
  }, 120_000);
});

/** GitHub's heading anchor: lowercase, punctuation dropped (letters, digits, `-`, `_` kept), spaces → `-`. */
export function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The relative links `[text](target)` of a markdown file outside code fences, with their line numbers. */
export function linksOf(text: string): { line: number; target: string }[] {
  const prose = text.replace(/^```[\s\S]*?^```$/gm, (m) => m.replace(/[^\n]/g, ""));
  return [...prose.matchAll(/\]\(([^()\s]+)\)/g)]
    .map((m) => ({ line: prose.slice(0, m.index).split("\n").length, target: m[1]! }))
    .filter((l) => !/^[a-z]+:/.test(l.target));
}

describe("docs/ and README links", () => {
  it("reads anchors and links the way GitHub does", () => {
    expect(slug("Debugging NaNs (anomaly mode)")).toBe("debugging-nans-anomaly-mode");
    expect(slug("The `wasm` backend")).toBe("the-wasm-backend");
    expect(linksOf("[a](b.md#c) [d](https://e)\n```\n[f](g.md)\n```\n")).toEqual([{ line: 1, target: "b.md#c" }]);
  });

  it.each([...guides, ...readmes, "../bench/README.md"])("%s: every relative link points at a file (and heading) that exists", (f) => {
    const path = docsDir + f;
    const broken: string[] = [];
    for (const { line, target } of linksOf(readFileSync(path, "utf8"))) {
      const [file, anchor] = target.split("#") as [string, string | undefined];
      const dest = file === "" ? path : resolve(dirname(path), file);
      if (!existsSync(dest)) broken.push(`${f}:${line}: ${target} (no such file)`);
      else if (anchor && dest.endsWith(".md")) {
        const headings = [...readFileSync(dest, "utf8").replace(/^```[\s\S]*?^```$/gm, "").matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1]!));
        if (!headings.includes(anchor)) broken.push(`${f}:${line}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});
