/**
 * The wasm backend's drivers, by family: how each Backend kernel maps onto the compiled kernels
 * (kernels.ts) or falls back to the cpu kernel. Storage placement is in ../placement.ts.
 */
export { SMALL_BYTES, TransposedView, adopt, hostView, readView, release, retain } from "../placement.js";
export { collapse } from "./walk.js";
export * from "./elementwise.js";
export * from "./reduce.js";
export * from "./movement.js";
export * from "./window.js";
export * from "./matmul.js";
