import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** Tiny flag parsing for the examples: `--epochs 5 --batch-size 200` → { epochs: 5, batchSize: 200 }. */
export function parseFlags(argv: string[], defaults: Record<string, number | string | boolean>): Record<string, number | string | boolean> {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) continue;
    const key = a.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown flag ${a} (known: ${Object.keys(defaults).map((k) => "--" + k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())).join(", ")})`);
    const d = defaults[key];
    if (typeof d === "boolean") out[key] = true;
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`flag ${a} needs a value`);
      out[key] = typeof d === "number" ? Number(v) : v;
      if (typeof d === "number" && !Number.isFinite(out[key] as number)) throw new Error(`flag ${a} needs a number, got ${v}`);
    }
  }
  return out;
}

/** True when the module at `url` is the script node/tsx was asked to run (not imported by a test). */
export function isMain(url: string): boolean {
  const arg = process.argv[1];
  return !!arg && url === pathToFileURL(resolve(arg)).href;
}
