/**
 * The import-layer check (`pnpm check:layers`, and packages/autograd/test/layers.test.ts in the
 * test suite): fails on any run-time import cycle beyond the one the design allows, and on any
 * import that points up a layer. docs/architecture.md draws the layers.
 *
 * - Cycles: madge builds each package's run-time import graph (`import type` is erased by the
 *   compiler and cannot make a module load before another, so it is skipped). Its strongly
 *   connected components must all be single files, except one in autograd made only of the core
 *   loop {tensor, engine, primitives, ops/*}: Tensor methods call ops, ops call `apply`, `apply`
 *   reads the rule table, and the rules' VJPs call ops. That loop is inherent; anything else
 *   joining it is a regression.
 * - Layers, read from every import (type imports too) with TypeScript's own pre-parser:
 *   autograd ↛ nn, optim; optim ↛ nn; in autograd, nothing outside a backend's folder imports
 *   one (cpu/, wasm/, webgpu/) except index.ts (registration) and compile/ (it emits wasm fused
 *   kernels and reuses the cpu's scalar math); a backend imports nothing of autograd but the base
 *   (backend.ts, dtype, errors, shape) and the backends (a kernel never builds a Tensor); and the
 *   core never imports, at run time, the modules built on it (transforms, gradcheck, testing,
 *   compile/, display/ except its registry).
 *
 * Run: `pnpm check:layers` (tsx tools/check-layers.ts); exit status 1 with one line per problem.
 */
import madge from "madge";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const PACKAGES = ["autograd", "optim", "nn"] as const;
type Pkg = (typeof PACKAGES)[number];

/** Which packages each may import (by name): a lower layer only. */
const MAY_IMPORT: Record<Pkg, readonly Pkg[]> = { autograd: [], optim: ["autograd"], nn: ["autograd", "optim"] };

/** The allowed loop (paths inside packages/autograd/src). */
const CORE_LOOP = (f: string) => f === "tensor.ts" || f === "engine.ts" || f === "primitives.ts" || f.startsWith("ops/");
const BACKEND_DIR = /^(cpu|wasm|webgpu)\//;
/** What a backend may import outside the backend folders: the seam and plain data. */
const BASE = new Set(["backend.ts", "dtype.ts", "errors.ts", "shape.ts"]);
/** Modules above the core: the core may not import these at run time (type imports are fine). */
const ABOVE_CORE = (f: string) =>
  f === "autograd.ts" || f === "gradcheck.ts" || f === "testing.ts" || f === "index.ts" || f.startsWith("compile/") || (f.startsWith("display/") && f !== "display/registry.ts");
/** The core: everything that is neither a backend nor above the core. */
const IS_CORE = (f: string) => !BACKEND_DIR.test(f) && !ABOVE_CORE(f);

export interface LayerReport {
  /** Files per package (src/**.ts). */
  files: Record<Pkg, number>;
  /** Run-time import cycles as madge lists them (every elementary cycle it finds), per package. */
  madgeCycles: Record<Pkg, number>;
  /** Strongly connected components with more than one file, per package (paths inside src/). */
  components: Record<Pkg, string[][]>;
  /** Size of autograd's core loop (0 if there is none). */
  coreLoopSize: number;
  /** One line per broken rule; empty when the layering holds. */
  problems: string[];
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Tarjan's strongly connected components; only those with more than one node (or a self-loop). */
function cycles(graph: Record<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph[v] ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (graph[v] ?? []).includes(v)) out.push(c.sort());
    }
  };
  for (const v of Object.keys(graph)) if (!index.has(v)) visit(v);
  return out;
}

/** Every module specifier a file names (static, type-only, dynamic, re-exports). */
function specifiers(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles.map((f) => f.fileName);
}

/** Checks the layering of packages/{autograd,optim,nn}/src under `root` (the repository root). */
export async function checkLayers(root = ROOT): Promise<LayerReport> {
  const problems: string[] = [];
  const files = {} as Record<Pkg, number>;
  const madgeCycles = {} as Record<Pkg, number>;
  const components = {} as Record<Pkg, string[][]>;
  let coreLoopSize = 0;

  for (const pkg of PACKAGES) {
    const src = join(root, "packages", pkg, "src");
    const all = sourceFiles(src);
    files[pkg] = all.length;

    // Cycles in the run-time graph.
    const res = await madge(src, {
      fileExtensions: ["ts"],
      tsConfig: join(root, "tsconfig.json"),
      detectiveOptions: { ts: { skipTypeImports: true }, tsx: { skipTypeImports: true } },
    });
    const graph = res.obj();
    madgeCycles[pkg] = res.circular().length;
    components[pkg] = cycles(graph);
    for (const c of components[pkg]) {
      if (pkg === "autograd" && c.every(CORE_LOOP) && c.includes("tensor.ts")) {
        coreLoopSize = c.length;
        continue;
      }
      const extra = pkg === "autograd" ? c.filter((f) => !CORE_LOOP(f)) : c;
      problems.push(`${pkg}: import cycle among ${c.join(", ")}${pkg === "autograd" && extra.length < c.length ? ` (outside the allowed core loop: ${extra.join(", ")})` : ""}`);
    }

    // Layer rules over every import, type imports included.
    for (const file of all) {
      const rel = relative(src, file).split("\\").join("/");
      for (const spec of specifiers(file)) {
        const named = /^@deltagrad\/([a-z-]+)/.exec(spec);
        if (named) {
          const target = named[1] as Pkg;
          if (target !== pkg && !MAY_IMPORT[pkg].includes(target)) problems.push(`${pkg}/src/${rel}: imports ${spec} (a higher layer)`);
          continue;
        }
        if (pkg !== "autograd" || !spec.startsWith(".")) continue;
        const to = relative(src, resolve(file, "..", spec)).split("\\").join("/").replace(/\.js$/, ".ts");
        if (to.startsWith("..")) problems.push(`autograd/src/${rel}: imports ${spec}, outside the package's src`);
        if (BACKEND_DIR.test(to) && !BACKEND_DIR.test(rel) && rel !== "index.ts" && !rel.startsWith("compile/")) {
          problems.push(`autograd/src/${rel}: imports the backend file ${to} (the core reaches backends only through backend.ts's registry)`);
        }
        if (BACKEND_DIR.test(rel) && !BACKEND_DIR.test(to) && !BASE.has(to)) {
          problems.push(`autograd/src/${rel}: a backend imports ${to} (backends see only backend.ts, dtype, errors, shape)`);
        }
      }
      // Run-time imports only (the graph madge built): the core never loads what is built on it.
      if (pkg === "autograd" && IS_CORE(rel)) {
        for (const to of graph[rel] ?? []) if (ABOVE_CORE(to)) problems.push(`autograd/src/${rel}: imports ${to} at run time (a layer above the core)`);
      }
    }
  }
  return { files, madgeCycles, components, coreLoopSize, problems };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await checkLayers();
  for (const pkg of PACKAGES) {
    console.log(`${pkg}: ${r.files[pkg]} files, ${r.madgeCycles[pkg]} run-time cycles (madge), components: ${r.components[pkg].map((c) => c.length).join(", ") || "none"}`);
  }
  console.log(`autograd core loop: ${r.coreLoopSize} files (allowed: tensor, engine, primitives, ops/*)`);
  for (const p of r.problems) console.error(`layer check: ${p}`);
  if (r.problems.length > 0) process.exit(1);
  console.log("layer check: ok");
}
