import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { BenchResult } from "./src/run.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// `pnpm bench --quick` end to end, in a child process as a user runs it: no crash, every
// workload reported for every framework (deltagrad on wasm and on cpu, TF.js cpu and wasm) (W3 on TF.js wasm as unsupported, with its reason), and
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
      // Both deltagrad columns (wasm, the default, and cpu) on every workload, with ratios.
      expect(r.value["deltagrad-wasm"]).toBeGreaterThan(0);
      expect(r.value["deltagrad-cpu"]).toBeGreaterThan(0);
      expect(r.value["tfjs-cpu"]).toBeGreaterThan(0);
      expect(r.ratio["deltagrad-wasm"]?.["tfjs-cpu"]).toBeGreaterThan(0);
      expect(r.ratio["deltagrad-cpu"]?.["tfjs-cpu"]).toBeGreaterThan(0);
      if (r.workload === "W3") {
        expect(r.value["tfjs-wasm"]).toBeNull();
        expect(r.unsupported["tfjs-wasm"]).toMatch(/Conv2DBackpropFilter/);
      } else expect(r.value["tfjs-wasm"]).toBeGreaterThan(0);
    }
    // Each deltagrad column against each peer and deltagrad-wasm against deltagrad-cpu:
    // 5 checks per row, 3 for W3 (no TF.js wasm): 5·5 + 3 in quick mode (two W1 rows).
    expect(res.checks.length).toBe(5 * (res.rows.length - 1) + 3);
    for (const against of ["deltagrad-cpu", "deltagrad-wasm"] as const) {
      expect(res.checks.filter((c) => c.against === against && c.framework === "tfjs-cpu")).toHaveLength(res.rows.length);
    }
    expect(res.checks.filter((c) => c.against === "deltagrad-wasm" && c.framework === "deltagrad-cpu")).toHaveLength(res.rows.length);
    for (const c of res.checks) expect(c, `${c.workload} ${c.against} vs ${c.framework}: ${c.what}`).toMatchObject({ ok: true });
    expect(readFileSync(join(out, "latest.md"), "utf8")).toMatch(/\| W4 scalar sigmoid graph/);
  }, 300_000);
});
