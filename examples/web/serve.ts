/**
 * `pnpm web`: builds the playground (build.ts) and serves it on http://127.0.0.1:5173/ with the
 * headers that make a page cross-origin isolated — Cross-Origin-Opener-Policy: same-origin and
 * Cross-Origin-Embedder-Policy: require-corp — so that SharedArrayBuffer and the wasm backend's
 * worker threads exist. `serveStatic` is also what the browser tests use (isolated and not).
 *
 *   pnpm web                 # PORT=8080 pnpm web for another port
 */
import { createReadStream, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { isMain } from "../shared/cli.js";
import { WEB_OUT, buildWeb } from "./build.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".bin": "application/octet-stream",
};

/** Serves the files under `root` on 127.0.0.1; `isolated` adds COOP/COEP (and CORP on every file). */
export async function serveStatic({ root = WEB_OUT, port = 0, isolated = true }: { root?: string; port?: number; isolated?: boolean } = {}): Promise<{ url: string; close: () => Promise<void>; server: Server }> {
  const base = normalize(root + sep);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = normalize(join(base, path.endsWith("/") ? path + "index.html" : path));
    const headers: Record<string, string> = { "Cache-Control": "no-store" };
    if (isolated) Object.assign(headers, { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp", "Cross-Origin-Resource-Policy": "same-origin" });
    let size = -1;
    try {
      if (file.startsWith(base)) size = statSync(file).isFile() ? statSync(file).size : -1;
    } catch {
      size = -1;
    }
    if (size < 0) {
      res.writeHead(404, { ...headers, "Content-Type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Content-Length": String(size) });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url, server, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

if (isMain(import.meta.url)) {
  const { outDir, sizes } = await buildWeb();
  const { url } = await serveStatic({ root: outDir, port: Number(process.env.PORT ?? 5173) });
  console.log(`built ${Object.entries(sizes).map(([f, b]) => `${f} ${(b / 1024).toFixed(0)} KiB`).join(", ")}`);
  console.log(`deltagrad playground: ${url}  (cross-origin isolated; test page: ${url}test.html)`);
}
