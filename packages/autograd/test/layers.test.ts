// The import-layer check (tools/check-layers.ts, also `pnpm check:layers`) run inside the suite:
// the repository's own packages pass it, and a small tree with each kind of violation fails it
// with one line per broken rule (so the check can fail).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkLayers } from "../../../tools/check-layers.ts";

describe("import layers", () => {
  it("the packages keep their layers; the only cycle is the core loop {tensor, engine, primitives, ops/*}", async () => {
    const r = await checkLayers();
    expect(r.problems).toEqual([]);
    expect(r.coreLoopSize).toBeGreaterThan(0);
    const loop = r.components.autograd.find((c) => c.includes("tensor.ts"))!;
    expect(loop.every((f) => f === "tensor.ts" || f === "engine.ts" || f === "primitives.ts" || f.startsWith("ops/"))).toBe(true);
    expect(r.components.nn).toEqual([]);
    expect(r.components.optim).toEqual([]);
  });

  const root = mkdtempSync(join(tmpdir(), "deltagrad-layers-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };

  it("fails on a cycle outside the core loop, a core import of a backend or of display, a backend importing the core, and imports up a package layer", async () => {
    write("tsconfig.json", JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", allowImportingTsExtensions: true, noEmit: true } }));
    const a = "packages/autograd/src/";
    write(a + "tensor.ts", 'import { add } from "./ops/index.js";\nimport { formatTensor } from "./format.js";\nexport class Tensor { add() { return add(); } toString() { return formatTensor(this); } }\n');
    write(a + "ops/index.ts", 'import { Tensor } from "../tensor.js";\nexport function add() { return new Tensor(); }\n');
    // format.ts ↔ tensor.ts: a cycle outside the allowed loop (an `instanceof Tensor` guard).
    write(a + "format.ts", 'import { Tensor } from "./tensor.js";\nexport function formatTensor(t: unknown) { return t instanceof Tensor ? "t" : "?"; }\n');
    // The core reaching into a backend's folder, and loading the display code.
    write(a + "shape.ts", 'import { windowOutSize } from "./cpu/window.js";\nimport { toSvg } from "./display/svg.ts";\nexport const w = [windowOutSize, toSvg];\n');
    // A backend building tensors (importing the core).
    write(a + "cpu/window.ts", 'import { Tensor } from "../tensor.js";\nexport function windowOutSize() { return new Tensor() && 1; }\n');
    write(a + "display/svg.ts", "export function toSvg() { return '<svg/>'; }\n");
    write(a + "index.ts", 'import "./cpu/window.js";\nexport * from "./tensor.js";\n');
    write("packages/optim/src/index.ts", 'import { Linear } from "@deltagrad/nn";\nexport const l = Linear;\n');
    write("packages/nn/src/index.ts", 'import { Tensor } from "@deltagrad/autograd";\nexport class Linear { w?: Tensor; }\n');

    const r = await checkLayers(root);
    expect(r.coreLoopSize).toBe(0); // the tensor loop holds format.ts, so it is not the allowed one
    expect(r.problems).toHaveLength(5);
    expect(r.problems[0]).toMatch(/autograd: import cycle among format\.ts, ops\/index\.ts, tensor\.ts \(outside the allowed core loop: format\.ts\)/);
    expect(r.problems.some((p) => /shape\.ts: imports the backend file cpu\/window\.ts/.test(p))).toBe(true);
    expect(r.problems.some((p) => /shape\.ts: imports display\/svg\.ts at run time/.test(p))).toBe(true);
    expect(r.problems.some((p) => /cpu\/window\.ts: a backend imports tensor\.ts/.test(p))).toBe(true);
    expect(r.problems.some((p) => /optim\/src\/index\.ts: imports @deltagrad\/nn \(a higher layer\)/.test(p))).toBe(true);
  });

  // Each in a fresh process, so that module is the first of the package to load: before the
  // display code moved behind a registry, importing display.ts first threw a ReferenceError
  // (tensor.ts's computed `[jupyterDisplay]` key read a binding not yet initialized).
  const SRC = resolve(__dirname, "../src");
  it.each(["display/index.ts", "display/svg.ts", "format.ts", "autograd.ts", "gradcheck.ts", "engine.ts", "primitives.ts", "ops/index.ts"])(
    "importing %s before anything else loads, and the package then works (Jupyter display included)",
    (first) => {
      const script = `await import(${JSON.stringify(join(SRC, first))}); const dg = await import(${JSON.stringify(join(SRC, "index.ts"))});
        const b = dg.tensor([1, 2])[dg.jupyterDisplay](); if (!b["text/html"].includes("<table")) throw new Error("no HTML display");
        const x = dg.tensor([3], { requiresGrad: true }); x.mul(x).sum().backward(); console.log(x.grad.arraySync()[0]);`;
      const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
      expect(out.trim()).toBe("6");
    },
  );
});
