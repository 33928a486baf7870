/**
 * The webgpu backend in a browser: a page bundled from the TypeScript sources (esbuild, the
 * "source" condition) runs a matmul and an exp on WebGPU in Debian's headless Chromium
 * (`--headless=new --enable-unsafe-webgpu`: SwiftShader's software adapter) and compares them
 * with the cpu backend in the same page. Served from 127.0.0.1 (WebGPU needs a secure context)
 * by examples/web's static server. Skipped, saying why, without /usr/bin/chromium or without an
 * adapter in it; the kernels themselves are tested under Deno (deno/webgpu_test.ts).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { serveStatic } from "../../../examples/web/serve.js";
import type { Smoke } from "./webgpu-chromium-page.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`skipped: no chromium at ${CHROMIUM}`);
const here = dirname(fileURLToPath(import.meta.url));

describe.skipIf(!hasChromium)("webgpu in headless Chromium", () => {
  test("a matmul and an exp (and one case of every kernel family) on WebGPU match cpu in the page", async (ctx) => {
    const esbuild = await import("esbuild");
    const { chromium } = await import("playwright-core");
    const root = mkdtempSync(join(tmpdir(), "deltagrad-webgpu-"));
    const server = { close: async () => {} };
    let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
    try {
      await esbuild.build({
        entryPoints: [join(here, "webgpu-chromium-page.ts")],
        outfile: join(root, "page.js"),
        bundle: true,
        format: "esm",
        platform: "browser",
        target: "es2022",
        conditions: ["source"],
        logLevel: "warning",
      });
      writeFileSync(join(root, "index.html"), `<!doctype html><meta charset="utf-8"><title>webgpu smoke</title><script type="module" src="page.js"></script>`);
      const s = await serveStatic({ root, isolated: false });
      server.close = s.close;
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless=new", "--enable-unsafe-webgpu"] });
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      // Chrome reports WGSL compile errors and invalid pipelines as console warnings.
      page.on("console", (m) => /WGSL|Invalid|error:/i.test(m.text()) && !/Failed to load resource/.test(m.text()) && errors.push(m.text().slice(0, 500)));
      await page.goto(s.url);
      const r = (await page.evaluate(() => (window as unknown as { webgpuSmoke: Promise<unknown> }).webgpuSmoke)) as Smoke;
      expect(errors).toEqual([]);
      if (!r.ok && /returned null|navigator\.gpu is missing/.test(r.reason ?? "")) {
        console.log(`skipped: no adapter in Chromium (${r.reason})`);
        ctx.skip();
      }
      expect(r.ok, r.reason).toBe(true);
      console.log(`Chromium WebGPU adapter: ${r.adapter}; worst |webgpu − cpu| / max(1, |cpu|) per check: ${JSON.stringify(r.errors)}`);
      expect(r.backend).toBe("webgpu");
      expect(Object.keys(r.errors!)).toContain("matmul");
      // float32 against cpu: one or a few roundings (exp, elementwise), sums of up to 256 terms in
      // another order (matmul, reductions, conv gradients): K·ε ≈ 3e-5 relative to the terms.
      // sin/cos: WGSL's own accuracy bound, 2⁻¹¹ absolute on [−π, π].
      for (const [name, err] of Object.entries(r.errors!)) expect(err, name).toBeLessThan(name === "exp" ? 4e-6 : name.startsWith("sin") ? 2 ** -11 : 1e-4);
    } finally {
      await browser?.close();
      await server.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
