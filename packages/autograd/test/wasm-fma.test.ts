/**
 * setWasmFma in a fresh process with relaxed SIMD available (Node 20 gets it from a V8 flag, newer
 * Nodes have it on by default): off before the first wasm op compiles the plain multiply-then-add
 * sgemm, on (the default) the fused one, and a later call that disagrees throws and changes
 * nothing. fma-support.ts's product a·a − 1 tells the two apart.
 */
import { describe, expect, test } from "vitest";
import * as dg from "@deltagrad/autograd";
import { runChild } from "./child-support.js";
import { FUSED, UNFUSED } from "./fma-support.js";

interface ChildResult {
  relaxed: boolean;
  fma: boolean;
  values: number[];
  lateError: string;
}

// V8 shipped relaxed SIMD in 11.4; before that (Node 20's 11.3) it sits behind this flag, which
// later V8s reject as an unknown option.
const v8Major = Number(process.versions.v8.split(".")[0]);
const flags = v8Major < 12 ? ["--experimental-wasm-relaxed-simd"] : [];

function child(mode: "on" | "off"): ChildResult {
  return runChild<ChildResult>("fma-child.ts", [mode], { flags });
}

describe.skipIf(!dg.wasmSimdSupported())("setWasmFma in a fresh process", () => {
  test("setWasmFma(false) first: plain multiply-then-add kernels; a late setWasmFma(true) throws", () => {
    const r = child("off");
    expect(r.relaxed).toBe(true);
    expect(r.fma).toBe(false);
    expect(r.values).toEqual([UNFUSED]);
    expect(r.lateError).toBe("DeltagradError: setWasmFma(true): the wasm kernels were already compiled without fused multiply-add; call it before the first wasm operation");
  });

  test("the default: fused kernels; a late setWasmFma(false) throws", () => {
    const r = child("on");
    expect(r.relaxed).toBe(true);
    expect(r.fma).toBe(true);
    expect(r.values).toEqual([FUSED]);
    expect(r.lateError).toBe("DeltagradError: setWasmFma(false): the wasm kernels were already compiled with fused multiply-add; call it before the first wasm operation");
  });
});
