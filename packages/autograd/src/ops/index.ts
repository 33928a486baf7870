export * from "./create.js";
export * from "./elementwise.js";
export * from "./reduce.js";
export * from "./movement.js";
export * from "./linalg.js";
export * from "./window.js";
export * from "./conv.js";
export * from "./masking.js";
