/**
 * Browser bundles of the packages (issue 19): esbuild (platform browser) and Vite build an app
 * that uses autograd + nn + optim, and one that uses only `tensor` and `matmul`, from the
 * TypeScript sources (the "source" export condition; no `pnpm build` needed). Each build must
 * succeed without warnings, contain no Node built-in and no Node-only file (cli-progress,
 * node:fs checkpoint I/O), and run: its output is executed in a child process and checked. The
 * sizes are printed (and written to examples/out/bundle-sizes.json).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { build as viteBuild, defaultClientConditions, type Rollup } from "vite";
import { afterAll, describe, expect, test } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const out = join(here, "..", "out", "bundles");
const sizes: Record<string, { bytes: number; gzip: number }> = {};

/** The Node-only files and packages that must never reach a browser bundle. */
const NODE_ONLY = [/cli-progress/, /progress-node\.ts$/, /file-io-node\.ts$/, /^node:/, /__vite-browser-external/];

/** Runs a bundle (an ES module) in a child Node process and parses the JSON line it prints last. */
function runBundle(file: string): Record<string, unknown> {
  const stdout = execFileSync(process.execPath, [file], { encoding: "utf8", timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
}

/** Resolves @deltagrad/autograd as usual but as if its package.json said `"sideEffects": false`. */
const sideEffectsFalse: esbuild.Plugin = {
  name: "autograd-side-effects-false",
  setup(b) {
    b.onResolve({ filter: /^@deltagrad\/autograd$/ }, async (a) => {
      if (a.pluginData === "inner") return undefined;
      const r = await b.resolve(a.path, { kind: a.kind, resolveDir: a.resolveDir, importer: a.importer, pluginData: "inner" });
      return { path: r.path, sideEffects: false };
    });
  },
};

async function esbuildApp(name: string, plugins: esbuild.Plugin[] = []) {
  const tag = plugins.length ? `${name}-control` : name;
  const result = await esbuild.build({
    plugins,
    entryPoints: [join(here, "bundle", `${name}.ts`)],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    conditions: ["source"],
    write: false,
    metafile: true,
    logLevel: "silent",
    absWorkingDir: root,
  });
  const code = result.outputFiles[0]!.contents;
  const file = join(out, `esbuild-${tag}.mjs`);
  mkdirSync(out, { recursive: true });
  writeFileSync(file, code);
  if (!plugins.length) sizes[`esbuild ${name}`] = { bytes: code.length, gzip: gzipSync(code).length };
  const inputs = Object.entries(Object.values(result.metafile.outputs)[0]!.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k);
  return { result, file, inputs, bytes: code.length };
}

async function viteApp(name: string) {
  const warnings: string[] = [];
  const output = (await viteBuild({
    configFile: false,
    root,
    logLevel: "silent",
    resolve: { conditions: ["source", ...defaultClientConditions] },
    build: {
      write: false,
      minify: true,
      target: "es2022",
      modulePreload: false,
      rollupOptions: { input: join(here, "bundle", `${name}.ts`), onwarn: (w) => void warnings.push(w.message) },
    },
  })) as Rollup.RollupOutput;
  const chunks = output.output.filter((o): o is Rollup.OutputChunk => o.type === "chunk");
  expect(chunks.length).toBe(1);
  const chunk = chunks[0]!;
  const file = join(out, `vite-${name}.mjs`);
  mkdirSync(out, { recursive: true });
  writeFileSync(file, chunk.code);
  sizes[`vite ${name}`] = { bytes: chunk.code.length, gzip: gzipSync(chunk.code).length };
  return { chunk, file, warnings, bytes: chunk.code.length };
}

const relative = (p: string) => p.replace(/\\/g, "/").replace(/^.*?(packages\/|node_modules\/)/, "$1");

describe("browser bundles", () => {
  afterAll(() => {
    writeFileSync(join(out, "..", "bundle-sizes.json"), JSON.stringify(sizes, null, 2));
    console.log("bundle sizes (minified, gzip):", Object.entries(sizes).map(([k, v]) => `${k} ${(v.bytes / 1024).toFixed(1)} KiB (${(v.gzip / 1024).toFixed(1)} KiB gz)`).join("; "));
  });

  test("esbuild, autograd + nn + optim: no Node built-ins, the browser stand-ins, runs", async () => {
    const { result, file, inputs } = await esbuildApp("full-app");
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(inputs.filter((i) => NODE_ONLY.some((re) => re.test(i)))).toEqual([]);
    expect(inputs.map(relative)).toEqual(expect.arrayContaining(["packages/nn/src/training/progress-browser.ts", "packages/nn/src/checkpoint/file-io-browser.ts"]));
    const r = runBundle(file);
    expect((r.loss as number[]).length).toBe(2);
    expect(r.keys).toEqual(["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]);
    expect(r.saveError).toMatch(/^save: cannot open "model\.safetensors": there are no file paths in a browser\. Use serialize\(stateDict\)/);
  });

  test("esbuild, only tensor and matmul: small, tree-shaken, backends still registered", async () => {
    const full = sizes["esbuild full-app"]?.bytes ?? (await esbuildApp("full-app")).bytes;
    const { result, file, inputs, bytes } = await esbuildApp("autograd-only");
    expect(result.warnings).toEqual([]);
    const files = inputs.map(relative);
    // Nothing of nn or optim, and none of autograd's parts that tensor/matmul never reach.
    expect(files.filter((f) => !f.startsWith("packages/autograd/src/") && !f.startsWith("examples/"))).toEqual([]);
    for (const unused of ["gradcheck.ts", "dot.ts", "testing.ts", "ops/conv.ts"]) expect(files).not.toContain(`packages/autograd/src/${unused}`);
    // index.ts is kept for its load-time registration of the backends (package.json "sideEffects").
    expect(files).toContain("packages/autograd/src/index.ts");
    expect(runBundle(file)).toEqual({ product: [19, 22, 43, 50] });
    expect(bytes).toBeLessThan(0.75 * full);
    expect(bytes).toBeLessThan(160 * 1024);
  });

  test("esbuild, nn's ./onnx subpath: no Node built-ins, runs", async () => {
    const { result, file, inputs } = await esbuildApp("onnx-app");
    expect(result.warnings).toEqual([]);
    expect(inputs.filter((i) => NODE_ONLY.some((re) => re.test(i)))).toEqual([]);
    expect(runBundle(file)).toEqual({ exportOnnx: "function", importOnnx: "function" });
  });

  test("control: were autograd's sideEffects `false`, the bundle would drop the backend registration", async () => {
    const { file, inputs } = await esbuildApp("autograd-only", [sideEffectsFalse]);
    expect(inputs.map(relative)).not.toContain("packages/autograd/src/index.ts");
    expect(() => execFileSync(process.execPath, [file], { encoding: "utf8", stdio: "pipe", timeout: 60_000 })).toThrow(/getBackend: no backend registered/);
  });

  test("Vite, autograd + nn + optim: no Node built-ins, no warnings, runs", async () => {
    const { chunk, file, warnings } = await viteApp("full-app");
    expect(warnings).toEqual([]);
    expect(chunk.moduleIds.filter((i) => NODE_ONLY.some((re) => re.test(i)))).toEqual([]);
    expect(chunk.code).not.toMatch(/__vite-browser-external|cli-progress|node:fs/);
    const r = runBundle(file);
    expect(r.keys).toEqual(["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]);
    expect(r.saveError).toMatch(/serialize\(stateDict\)/);
  });

  test("Vite, only tensor and matmul: runs and is smaller than the full app", async () => {
    const { chunk, file, warnings, bytes } = await viteApp("autograd-only");
    expect(warnings).toEqual([]);
    expect(chunk.moduleIds.map(relative).filter((f) => f.startsWith("packages/nn/") || f.startsWith("packages/optim/"))).toEqual([]);
    expect(runBundle(file)).toEqual({ product: [19, 22, 43, 50] });
    expect(bytes).toBeLessThan(0.75 * (sizes["vite full-app"]?.bytes ?? Infinity));
  });
});
