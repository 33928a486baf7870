import { execFileSync, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { alternate, PROBES } from "./src/ab.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ab = (...args: string[]) =>
  spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", join(root, "bench", "src", "ab.ts"), ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });

describe("pnpm bench:ab", () => {
  it("measures the working tree against a revision in one process, with the same results on both sides", () => {
    // HEAD's autograd, extracted with git archive and bundled, against the working tree's: the
    // probe's gradients agree exactly (no timing threshold: CI machines are noisy).
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    const r = ab("HEAD", "W4", "--rounds", "2", "--ms", "20");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("W4, plain code, 1 thread, 2 alternating rounds of 20 ms (results differ by at most 0)");
    const time = (who: string) => Number(new RegExp(`${who}\\s+([0-9.e+-]+) µs per graph`).exec(r.stdout)?.[1]);
    expect(time(sha)).toBeGreaterThan(0);
    expect(time("working tree")).toBeGreaterThan(0);
    expect(r.stdout).toMatch(new RegExp(`working tree ÷ ${sha}: median [0-9.]+ \\(quartiles [0-9.]+–[0-9.]+\\)`));
  }, 120_000);

  it.each([["W3c", "compiled"], ["W3e", "eager"], ["W2c", "compiled"], ["W2e", "eager"]])("runs the LeNet-5 or MLP probe %s (%s) on two threads, with the same gradients on both sides", (w, mode) => {
    expect(PROBES[w]!.source.includes("dg.compile(")).toBe(mode === "compiled");
    const r = ab("HEAD", w, "--rounds", "2", "--ms", "20");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${w}, plain code, 2 threads, 2 alternating rounds of 20 ms (results differ by at most 0)`);
    expect(r.stdout).toMatch(/working tree\s+[0-9.]+ ms/);
  }, 120_000);

  it("rejects an unknown workload or a bad round count with its usage line, and an unknown revision", () => {
    for (const args of [["HEAD", "W9"], ["HEAD", "W4", "--rounds", "0"], []]) {
      const r = ab(...args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/usage: pnpm bench:ab <git revision> \[W4\|W5\|W1\|SQ\|W5s\|W5ss\|LSc\|W3c\|W3e\|W2c\|W2e\]/);
    }
    const r = ab("no-such-revision-xyz", "W4");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no-such-revision-xyz/);
  }, 120_000);
});

describe("alternate", () => {
  it("alternates which side runs first and returns each round's ratio", async () => {
    const calls: string[] = [];
    const side = (name: string, time: number) => ({ check: () => [], bench: () => (calls.push(name), time) });
    const [ta, tb, ratios] = await alternate(side("a", 2), side("b", 3), 4, 1);
    expect(calls.slice(6)).toEqual(["a", "b", "b", "a", "a", "b", "b", "a"]); // after three warm-up pairs
    expect(ta).toEqual([2, 2, 2, 2]);
    expect(tb).toEqual([3, 3, 3, 3]);
    expect(ratios).toEqual([1.5, 1.5, 1.5, 1.5]);
  });
});
