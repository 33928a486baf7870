/**
 * `@deltagrad/autograd` — tensors, a closed set of primitives with VJPs, a reverse-mode sweep,
 * function transforms and gradient checking. Zero runtime dependencies.
 *
 * @example
 * ```ts
 * import { tensor } from "@deltagrad/autograd";
 * const w = tensor(0, { requiresGrad: true });
 * w.mul(1).neg().exp().add(1).reciprocal().backward();
 * w.grad!.itemSync(); // 0.25 (σ′(0))
 * ```
 *
 * @module @deltagrad/autograd
 */
import { registerBackend, setBackend } from "./backend.js";
import { cpuBackend } from "./cpu/index.js";
import { wasmBackend, wasmSimdSupported } from "./wasm/index.js";
import { tensorMimeBundle } from "./display/html.js";
import { registerMimeBundle } from "./display/registry.js";

registerBackend(cpuBackend);
registerBackend(wasmBackend);
// The default is wasm (SIMD sgemm, ~10× the cpu kernel) wherever the engine has 128-bit SIMD;
// cpu otherwise. Both run the whole test suite (DELTAGRAD_BACKEND=cpu|wasm).
if (wasmSimdSupported()) setBackend("wasm");
// Jupyter shows a tensor as text plus an HTML table (display/registry.ts keeps tensor.ts free of the display code).
registerMimeBundle(tensorMimeBundle);

export { Tensor, type TensorLike, type GradStash } from "./tensor.js";
export { type NestedArray } from "./shape.js";
export { type Node } from "./primitives.js";
export { type BackwardOptions } from "./engine.js";
export * from "./ops/index.js";
export { noGrad, enableGrad, isGradEnabled, detectAnomaly, setAnomalyMode, unbroadcast } from "./engine.js";
export { scoped, escapeScope } from "./lifetime.js";
export { grad, valueAndGrad, vjp, hvp, gradients, type GradOptions, type GradientsOptions } from "./autograd.js";
export { customVjp, type CustomVjpRule } from "./ops/custom-vjp.js";
export { UNARY_KERNELS, BINARY_KERNELS, COMPARE_KERNELS, REDUCE_KERNELS, ARG_REDUCE_KERNELS, type UnaryKernel, type BinaryKernel, type CompareKernel, type ReduceKernel, type ArgReduceKernel } from "./backend.js";
export { gradcheck, gradgradcheck, GradcheckError, type GradcheckOptions, type GradcheckReport } from "./gradcheck.js";
export { DeltagradError, fmtShape, optionsOf } from "./errors.js";
export { compile, type CompileOptions, type CompileStats, type CompiledFunction } from "./compile/index.js";
export { compileHostRegion } from "./compile/host.js";
export { trace, traceRegion, isTracing, type TraceGraph, type TraceNode, type TraceValue, type TraceValueKind, type TraceRegion, type TraceOptions } from "./compile/trace.js";
export { type DType, type TypedArray, isFloat } from "./dtype.js";
export { Generator, manualSeed, defaultGenerator } from "./random.js";
export { registerBackend, setBackend, getBackend, listBackends, type Backend, type BackendData, type WindowParams } from "./backend.js";
export { cpuBackend } from "./cpu/index.js";
export { webgpuBackend, initWebGPU, webgpuSync, webgpuStats, webgpuTimestamp, webgpuTimestamps, type WebGPUOptions, type WebGPUInit, type WebGPUStats } from "./webgpu/index.js";
export { wasmBackend, wasmSimdSupported, relaxedSimdSupported, setWasmFma, wasmFma, wasmArenaBytes, wasmMemoryStats, setWasmMemoryBudget, setNumThreads, getNumThreads, activeThreads, threadsReady, workerKind, type WasmMemoryStats } from "./wasm/index.js";
export { RULES, type Primitive, type Attrs, type Rule } from "./primitives.js";
export { broadcastShapes, type Shape } from "./shape.js";
export { formatTensor } from "./format.js";
export {
  toDot,
  graphNodes,
  toSvg,
  graphDisplay,
  tensorToHtml,
  tensorMimeBundle,
  layeredLayout,
  escapeXml,
  jupyterDisplay,
  type DotOptions,
  type GraphNode,
  type MimeBundle,
  type SvgOptions,
  type TensorHtmlOptions,
  type GraphDisplay,
  type Layout,
  type LayoutNode,
  type LayoutNodeInput,
  type LayoutEdge,
  type LayoutOptions,
} from "./display/index.js";
export { isTensor } from "./is-tensor.js";
