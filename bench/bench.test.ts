import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { BenchResult } from "./src/run.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// `pnpm bench --quick` end to end, in a child process as a user runs it: no crash, every
// workload reported for every framework (W3 on TF.js wasm as unsupported, with its reason), and
// every framework computing the same numbers. No timing thresholds: CI machines are noisy.
describe("pnpm bench --quick", () => {
  it("runs every workload side by side and the frameworks agree", () => {
    const out = mkdtempSync(join(tmpdir(), "deltagrad-bench-"));
    // The command `pnpm bench --quick` runs, with the results written to a scratch folder.
    const args = ["--expose-gc", "--conditions=source", "--import", "tsx", join(root, "bench", "src", "run.ts"), "--quick", "--out", out];
    execFileSync(process.execPath, args, { cwd: root, stdio: "pipe", timeout: 280_000 });
    expect(existsSync(join(out, "latest.md"))).toBe(true);
    const res = JSON.parse(readFileSync(join(out, "latest.json"), "utf8")) as BenchResult;
    expect(res.quick).toBe(true);
    expect(new Set(res.rows.map((r) => r.workload))).toEqual(new Set(["W1", "W2", "W3", "W4", "W5"]));
    for (const r of res.rows) {
      expect(r.value["deltagrad-cpu"]).toBeGreaterThan(0);
      expect(r.value["tfjs-cpu"]).toBeGreaterThan(0);
      if (r.workload === "W3") {
        expect(r.value["tfjs-wasm"]).toBeNull();
        expect(r.unsupported["tfjs-wasm"]).toMatch(/Conv2DBackpropFilter/);
      } else expect(r.value["tfjs-wasm"]).toBeGreaterThan(0);
    }
    expect(res.checks.length).toBeGreaterThanOrEqual(11);
    for (const c of res.checks) expect(c, `${c.workload} vs ${c.framework}: ${c.what}`).toMatchObject({ ok: true });
    expect(readFileSync(join(out, "latest.md"), "utf8")).toMatch(/\| W4 scalar sigmoid graph/);
  }, 300_000);
});
