/**
 * Vitest setup (root vitest.config.ts `setupFiles`): `DELTAGRAD_BACKEND=wasm npx vitest run`
 * runs the whole suite with that backend active. Unset, the default (cpu) stays active.
 */
import { getBackend, setBackend } from "@deltagrad/autograd";

const wanted = process.env.DELTAGRAD_BACKEND;
if (wanted) {
  setBackend(wanted);
  if (getBackend().name !== wanted) throw new Error(`setup-backend: asked for ${wanted}, got ${getBackend().name}`);
}
