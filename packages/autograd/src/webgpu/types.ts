/**
 * The slice of the WebGPU API this backend uses, typed structurally: the project compiles against
 * Node's and the DOM's TypeScript libraries, which carry no WebGPU declarations, and must not
 * depend on `@webgpu/types`. Deno's and the browsers' real objects satisfy these interfaces.
 */

/** GPUBufferUsage flags (WebGPU spec §5.1). */
export const USAGE = { MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, STORAGE: 128, QUERY_RESOLVE: 512 } as const;
/** GPUMapMode.READ. */
export const MAP_READ = 1;

export interface GpuBuffer {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GpuBindGroupLayout { readonly __brand?: "layout" }
export interface GpuBindGroup { readonly __brand?: "group" }
export interface GpuPipelineLayout { readonly __brand?: "pipelineLayout" }
export interface GpuComputePipeline { getBindGroupLayout(index: number): GpuBindGroupLayout }
export interface GpuShaderModule {
  getCompilationInfo?(): Promise<{ messages: readonly { type: string; message: string; lineNum: number }[] }>;
}
export interface GpuQuerySet { destroy(): void }

export interface GpuComputePass {
  setPipeline(p: GpuComputePipeline): void;
  setBindGroup(index: number, group: GpuBindGroup, dynamicOffsets?: number[]): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

export interface GpuCommandBuffer { readonly __brand?: "commands" }

export interface GpuCommandEncoder {
  beginComputePass(descriptor?: { timestampWrites?: { querySet: GpuQuerySet; beginningOfPassWriteIndex?: number; endOfPassWriteIndex?: number } }): GpuComputePass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  resolveQuerySet(q: GpuQuerySet, first: number, count: number, dst: GpuBuffer, dstOffset: number): void;
  finish(): GpuCommandBuffer;
}

export interface GpuQueue {
  submit(buffers: GpuCommandBuffer[]): void;
  writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView | ArrayBuffer, dataOffset?: number, size?: number): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface GpuBindGroupEntry {
  binding: number;
  resource: { buffer: GpuBuffer; offset?: number; size?: number };
}

export interface GpuDevice {
  readonly queue: GpuQueue;
  readonly limits: Record<string, number>;
  readonly features: ReadonlySet<string>;
  readonly lost: Promise<{ reason: string; message: string }>;
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): GpuBuffer;
  createShaderModule(d: { code: string }): GpuShaderModule;
  createComputePipeline(d: { layout: "auto" | GpuPipelineLayout; compute: { module: GpuShaderModule; entryPoint: string } }): GpuComputePipeline;
  createBindGroupLayout(d: { entries: { binding: number; visibility: number; buffer: { type: string; hasDynamicOffset?: boolean } }[] }): GpuBindGroupLayout;
  createPipelineLayout(d: { bindGroupLayouts: GpuBindGroupLayout[] }): GpuPipelineLayout;
  createBindGroup(d: { layout: GpuBindGroupLayout; entries: GpuBindGroupEntry[] }): GpuBindGroup;
  createCommandEncoder(): GpuCommandEncoder;
  createQuerySet(d: { type: "timestamp"; count: number }): GpuQuerySet;
  pushErrorScope(filter: "validation" | "out-of-memory" | "internal"): void;
  popErrorScope(): Promise<{ message: string } | null>;
  destroy(): void;
}

export interface GpuAdapter {
  readonly limits: Record<string, number>;
  readonly features: ReadonlySet<string>;
  readonly info?: { description?: string; vendor?: string; architecture?: string; device?: string; isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
  requestDevice(d?: { requiredLimits?: Record<string, number>; requiredFeatures?: string[] }): Promise<GpuDevice>;
}

export interface Gpu {
  requestAdapter(o?: { powerPreference?: "low-power" | "high-performance" }): Promise<GpuAdapter | null>;
}

/** `navigator.gpu` where the runtime has one (Deno, browsers with WebGPU), else undefined. */
export function navigatorGpu(): Gpu | undefined {
  const nav = (globalThis as { navigator?: { gpu?: Gpu } }).navigator;
  return nav?.gpu ?? undefined;
}
