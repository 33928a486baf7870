/**
 * The packages in a real browser (issue 19): Debian's Chromium driven by playwright-core (nothing
 * downloaded), pages built by build.ts and served from 127.0.0.1 — once with COOP/COEP (cross-
 * origin isolated: shared memory, worker threads) and once without.
 *
 * - test.html, isolated: the lecture graph's values, `fit` with default options on the main
 *   thread, save/load errors naming serialize/deserialize, the main thread refusing threads with
 *   one console note, and in a module worker: 2 threads up, the first threaded product without a
 *   freeze (< 1 s), 1- and 2-thread results identical bit for bit, and timings.
 * - test.html, not isolated: one thread everywhere and no error.
 * - the playground: trains the MNIST MLP to ≥ 90 % in its worker, classifies a digit drawn with
 *   the mouse, and leaves a screenshot in examples/out/playground.png.
 *
 * Without /usr/bin/chromium the suite is skipped, saying so (`.ci/run` installs it).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, ConsoleMessage, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildWeb } from "./build.js";
import type { ThreadProbe, Timings } from "./protocol.js";
import { serveStatic } from "./serve.js";
import type { SigmoidGraph } from "./sigmoid.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`skipped: no chromium at ${CHROMIUM}`);
const outDir = join(dirname(fileURLToPath(import.meta.url)), "..", "out");
/** Hooks build the pages, start Chromium and run the test page: more than vitest's 10 s default on a busy machine. */
const HOOK_TIMEOUT = 120_000;

interface TestResults {
  error?: string;
  isolated: boolean;
  sigmoid: SigmoidGraph;
  edited: SigmoidGraph;
  fitLoss: number[];
  roundTrip: string[];
  saveError: string;
  loadError: string;
  main: { backend: string; ready: number; active: number; product: number; fma: boolean };
  probe: ThreadProbe;
  timings: Timings;
}

/** A page whose console messages and uncaught errors are recorded. */
async function open(browser: Browser, url: string): Promise<{ page: Page; messages: ConsoleMessage[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const messages: ConsoleMessage[] = [];
  const errors: string[] = [];
  page.on("console", (m) => {
    messages.push(m);
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  await page.goto(url);
  return { page, messages, errors };
}

async function testPage(browser: Browser, url: string) {
  const { page, messages, errors } = await open(browser, `${url}test.html`);
  const results = (await page.evaluate(() => (window as unknown as { testResults: Promise<unknown> }).testResults)) as TestResults;
  await page.close();
  return { results, notes: messages.map((m) => m.text()).filter((t) => t.startsWith("deltagrad: the wasm backend runs on 1 thread")), messages, errors };
}

describe.skipIf(!hasChromium)("in Chromium (playwright-core, /usr/bin/chromium)", () => {
  let browser: Browser;
  const servers: { url: string; close: () => Promise<void> }[] = [];
  let isolatedUrl = "";
  let plainUrl = "";

  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    const { outDir: root } = await buildWeb();
    servers.push(await serveStatic({ root, isolated: true }), await serveStatic({ root, isolated: false }));
    [isolatedUrl, plainUrl] = servers.map((s) => s.url) as [string, string];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.close()));
  }, HOOK_TIMEOUT);

  describe("cross-origin isolated test page", () => {
    let r: Awaited<ReturnType<typeof testPage>>;
    beforeAll(async () => {
      r = await testPage(browser, isolatedUrl);
    }, HOOK_TIMEOUT);

    test("loads every package without error; the lecture graph has the lecture's numbers", () => {
      expect(r.errors).toEqual([]);
      expect(r.results.error).toBeUndefined();
      expect(r.results.isolated).toBe(true);
      const s = r.results.sigmoid;
      expect(s.h).toEqual([0, 0, -0, 1, 2, 0.5]); // h1 … h6 at x = 1, w = 0, b = 0 (h3 = −h2 = −0)
      expect([s.f, s.dw, s.db, s.dx]).toEqual([0.5, 0.25, 0.25, 0]);
      expect(s.svg).toMatch(/^<svg /);
      expect(s.svg).toContain("h6: h6 = reciprocal");
      expect(s.svg).toContain("grad 0.2500");
      // Edited inputs x = 2, w = −0.5, b = 0.25: f = σ(−0.75), ∂f/∂w = σ′·x, ∂f/∂b = σ′, ∂f/∂x = σ′·w (float32).
      const e = r.results.edited;
      const f = 1 / (1 + Math.exp(0.75));
      const d = f * (1 - f);
      expect(e.f).toBeCloseTo(f, 6);
      expect(e.dw).toBeCloseTo(2 * d, 6);
      expect(e.db).toBeCloseTo(d, 6);
      expect(e.dx).toBeCloseTo(-0.5 * d, 6);
    });

    test("fit with default options prints one line per epoch; save/load name serialize/deserialize", () => {
      expect(r.results.fitLoss.length).toBe(1);
      expect(r.messages.map((m) => m.text())).toContainEqual(expect.stringMatching(/^epoch 1\/1 - loss \d\.\d{4} - lr 0\.100 - \d+ samples\/s/));
      expect(r.results.roundTrip).toEqual(["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]);
      expect(r.results.saveError).toMatch(/^DeltagradError: save: cannot open "model\.safetensors": there are no file paths in a browser\. Use serialize\(stateDict\)/);
      expect(r.results.loadError).toMatch(/^DeltagradError: load: .*deserialize\(bytes\)/);
    });

    test("the main thread runs one thread and says why, once; the sgemm uses relaxed SIMD's multiply-add (Chrome ≥ 114)", () => {
      expect(r.results.main).toEqual({ backend: "wasm", ready: 1, active: 1, product: 256 * 400, fma: true });
      expect(r.notes).toEqual([expect.stringMatching(/may not block in Atomics\.wait \(a browser's main thread\): run deltagrad inside a Web Worker on a cross-origin isolated page/)]);
    });

    test("in a module worker: 2 threads, no first-use freeze, identical bits", () => {
      const p = r.results.probe;
      console.log(`isolated worker: first threaded product ${p.firstProductMs.toFixed(1)} ms (${p.activeAfterFirst} thread(s) up), pool ready after ${p.readyMs.toFixed(0)} ms more, later products ${p.laterProductMs.toFixed(1)} ms`);
      expect(p.kind).toBe("web");
      expect(p.firstProductMs).toBeLessThan(1000);
      expect(p.ready).toBe(2);
      expect(p.sameBits).toBe(true);
      const t = r.results.timings;
      console.log(`isolated worker: MLP step 784-${t.hidden}-10, batch ${t.batchSize}: ${t.oneThreadMs.toFixed(1)} ms on 1 thread, ${t.twoThreadsMs.toFixed(1)} ms on 2`);
      expect(t.activeThreads).toBe(2);
      expect(t.oneThreadMs).toBeGreaterThan(0);
      expect(t.twoThreadsMs).toBeGreaterThan(0);
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, "browser-timings.json"), JSON.stringify({ probe: p, timings: t }, null, 2));
    });
  });

  test("a page without cross-origin isolation: one thread in the worker too, and no error", async () => {
    const { results, errors, notes } = await testPage(browser, plainUrl);
    expect(errors).toEqual([]);
    expect(results.error).toBeUndefined();
    expect(results.isolated).toBe(false);
    expect(results.sigmoid.f).toBe(0.5);
    expect(results.main.active).toBe(1);
    expect(results.probe).toMatchObject({ isolated: false, ready: 1, activeAfterFirst: 1, kind: null, sameBits: true });
    expect(results.probe.firstProductMs).toBeLessThan(1000);
    expect(results.timings.activeThreads).toBe(1);
    // Once per thread that asked for threads: the page and its two workers (probe, timings).
    expect(notes).toEqual(Array(3).fill(expect.stringMatching(/there is no shared memory \(a browser page needs cross-origin isolation/)));
  });

  test("the playground trains the MNIST MLP to ≥ 90 % in its worker and classifies a drawn 1", async () => {
    const { page, errors } = await open(browser, `${isolatedUrl}?train=4000&test=1000&epochs=5&hidden=128&batch=50&threads=2&autostart=1`);
    expect(await page.textContent("#f-value")).toBe("0.500000");
    expect(await page.textContent("#dw")).toBe("0.250000");
    // Editing an input redraws the graph: w = 1 gives f = σ(1).
    await page.fill("#w", "1");
    expect(Number(await page.textContent("#f-value"))).toBeCloseTo(1 / (1 + Math.exp(-1)), 5);
    await page.fill("#w", "0");
    await page.waitForSelector("body[data-trained]", { timeout: 90_000 });
    expect(errors).toEqual([]);
    expect(await page.getAttribute("#threads-status", "data-active")).toBe("2");
    const accuracy = Number(await page.textContent("#test-accuracy"));
    console.log(`playground: ${await page.textContent("#train-status")}`);
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
    expect(await page.locator("#chart svg path").count()).toBeGreaterThan(0);
    // Draw a vertical stroke: a 1.
    const box = (await page.locator("#pad").boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.18);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.52, box.y + box.height * 0.82, { steps: 12 });
    await page.mouse.up();
    await page.waitForFunction(() => document.getElementById("prediction")!.textContent !== "–", undefined, { timeout: 10_000 });
    expect(await page.textContent("#prediction")).toBe("1");
    expect(await page.locator("#probabilities .bar").count()).toBe(10);
    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: join(outDir, "playground.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
