/**
 * Convolution and pooling operators for the importer (2-D, NCHW): ONNX's [top, left, bottom,
 * right] pads become deltagrad's symmetric padding, or an explicit pad first when they are
 * asymmetric or wider than deltagrad's pooling allows.
 */
import * as ag from "@deltagrad/autograd";
import type { Tensor } from "@deltagrad/autograd";
import { err, need, shp, unary, type Attrs, type Factory } from "./import-support.js";

/** Conv/pool geometry: kernel, strides, dilations, and pads as [top, left, bottom, right]. */
function windowAttrs(at: Attrs, kernelFromWeight: boolean) {
  const autoPad = at.string("auto_pad", "NOTSET");
  if (autoPad !== "NOTSET" && autoPad !== "VALID") err(`auto_pad ${autoPad} is not supported (NOTSET or VALID)`);
  if (at.int("ceil_mode", 0) !== 0) err("ceil_mode 1 is not supported");
  const kernel = at.ints("kernel_shape");
  if (!kernelFromWeight && (kernel === undefined || kernel.length !== 2)) err("only 2-D windows are supported (kernel_shape of 2 entries)");
  const strides = at.ints("strides") ?? [1, 1];
  const dilations = at.ints("dilations") ?? [1, 1];
  const pads = autoPad === "VALID" ? [0, 0, 0, 0] : at.ints("pads") ?? [0, 0, 0, 0];
  if (strides.length !== 2 || dilations.length !== 2 || pads.length !== 4) err("strides, dilations and pads must describe 2 spatial axes");
  if ([...strides, ...dilations].some((v) => !Number.isInteger(v) || v < 1) || pads.some((v) => !Number.isInteger(v) || v < 0)) err("strides/dilations must be ≥ 1 and pads ≥ 0");
  return { kernel, strides: strides as [number, number], dilations: dilations as [number, number], pads };
}

/** Explicit padding for asymmetric or too-large pads; returns the remaining symmetric padding. */
function prePad(x: Tensor, pads: number[], value: number, maxSym: [number, number]): [Tensor, [number, number]] {
  const [t, l, b, r] = pads as [number, number, number, number];
  if (t === b && l === r && t <= maxSym[0] && l <= maxSym[1]) return [x, [t, l]];
  return [ag.pad(x, [[0, 0], [0, 0], [t, b], [l, r]], value), [0, 0]];
}

function rank4(x: Tensor, op: string): Tensor {
  if (x.rank !== 4) err(`${op} supports NCHW input of rank 4 only, got ${shp(x.shape)}`);
  return x;
}

/** Conv, MaxPool, AveragePool, GlobalAveragePool. */
export const WINDOW_OPS: [string, Factory][] = [
  ["Conv", (at) => {
    const w = windowAttrs(at, true);
    const group = at.int("group", 1);
    return (ins, ctx) => {
      const x = rank4(need(ins, 0, ctx), "Conv");
      const weight = need(ins, 1, ctx);
      if (weight.rank !== 4) err(`Conv weight must be [K, C/group, kh, kw], got ${shp(weight.shape)}`);
      if (w.kernel && (w.kernel[0] !== weight.shape[2] || w.kernel[1] !== weight.shape[3])) err(`kernel_shape ${shp(w.kernel)} differs from the weight's ${shp(weight.shape)}`);
      const [xp, padding] = prePad(x, w.pads, 0, [Infinity, Infinity]);
      return [ag.conv2d(xp, weight, ins[2] ? need(ins, 2, ctx) : null, { stride: w.strides, padding, dilation: w.dilations, groups: group })];
    };
  }],
  ["MaxPool", (at, _opset) => {
    const w = windowAttrs(at, false);
    if (at.int("storage_order", 0) !== 0) err("storage_order 1 is not supported");
    const k = w.kernel as [number, number];
    return (ins, ctx) => {
      const [xp, padding] = prePad(rank4(need(ins, 0, ctx), "MaxPool"), w.pads, -Infinity, [k[0] >> 1, k[1] >> 1]);
      return [ag.maxPool2d(xp, { kernel: k, stride: w.strides, padding, dilation: w.dilations })];
    };
  }],
  ["AveragePool", (at) => {
    const w = windowAttrs(at, false);
    const include = at.int("count_include_pad", 0) !== 0;
    const k = w.kernel as [number, number];
    if (w.dilations[0] !== 1 || w.dilations[1] !== 1) err("AveragePool with dilations is not supported");
    return (ins, ctx) => {
      const x = rank4(need(ins, 0, ctx), "AveragePool");
      // Padded zeros that count can be added explicitly; ones that do not need deltagrad's own padding.
      const [xp, padding] = include ? prePad(x, w.pads, 0, [0, 0]) : prePad(x, w.pads, 0, [k[0] >> 1, k[1] >> 1]);
      if (!include && xp !== x) err(`pads ${shp(w.pads)} with count_include_pad 0 must be symmetric and at most half the kernel`);
      return [ag.avgPool2d(xp, { kernel: k, stride: w.strides, padding, countIncludePad: include })];
    };
  }],
  ["GlobalAveragePool", () => unary((x) => ag.mean(rank4(x, "GlobalAveragePool"), { axis: [2, 3], keepDims: true }))],
];
