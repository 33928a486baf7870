/**
 * Convolution and pooling operators for the importer (2-D, NCHW): ONNX's [top, left, bottom,
 * right] pads become deltagrad's symmetric padding, or an explicit pad first when they are
 * asymmetric or wider than deltagrad's pooling allows.
 */
import * as ag from "@deltagrad/autograd";
import type { Tensor } from "@deltagrad/autograd";
import { bounded, err, need, shp, unary, type Attrs, type Factory } from "./import-support.js";

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
  bounded([...x.shape.slice(0, 2), x.shape[2]! + t + b, x.shape[3]! + l + r], "the padded input");
  if (t === b && l === r && t <= maxSym[0] && l <= maxSym[1]) return [x, [t, l]];
  return [ag.pad(x, [[0, 0], [0, 0], [t, b], [l, r]], value), [0, 0]];
}

function rank4(x: Tensor, op: string): Tensor {
  if (x.rank !== 4) err(`${op} supports NCHW input of rank 4 only, got ${shp(x.shape)}`);
  return x;
}

/** Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool. */
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
  // Wᵀ·x into columns, then fold (col2im) onto the uncropped output and crop the pads, as
  // ConvTranspose2d does. ONNX pads are [top, left, bottom, right]; output_padding adds at the end.
  ["ConvTranspose", (at) => {
    const w = windowAttrs(at, true);
    const group = at.int("group", 1);
    const outPad = at.ints("output_padding") ?? [0, 0];
    if (at.has("output_shape")) err("output_shape is not supported (give pads and output_padding)");
    if (outPad.length !== 2 || outPad.some((v) => !Number.isInteger(v) || v < 0)) err("output_padding must be two integers ≥ 0");
    return (ins, ctx) => {
      const x = rank4(need(ins, 0, ctx), "ConvTranspose");
      const weight = need(ins, 1, ctx);
      const [n, c, h, wd] = x.shape as [number, number, number, number];
      if (weight.rank !== 4 || weight.shape[0] !== c || c % group !== 0) err(`weight ${shp(weight.shape)} does not fit input ${shp(x.shape)} with group ${group}`);
      const [, cog, kh, kw] = weight.shape as [number, number, number, number];
      const [t, l, b, r] = w.pads as [number, number, number, number];
      const full: [number, number] = [(h - 1) * w.strides[0] + w.dilations[0] * (kh - 1) + 1, (wd - 1) * w.strides[1] + w.dilations[1] * (kw - 1) + 1];
      const oh = full[0] - t - b + outPad[0]!;
      const ow = full[1] - l - r + outPad[1]!;
      if (oh < 1 || ow < 1) err(`the output ${oh}×${ow} is empty`);
      bounded([n, group * cog, full[0] + Math.max(0, outPad[0]!), full[1] + Math.max(0, outPad[1]!)], "the output");
      bounded([n, group * cog * kh * kw, h * wd], "the columns");
      const rows = cog * kh * kw;
      const wT = ag.transpose(ag.reshape(weight, [group, c / group, rows]), -1, -2);
      const cols = ag.reshape(ag.matmul(wT, ag.reshape(x, [n, group, c / group, h * wd])), [n, group * rows, h * wd]);
      let out = ag.fold(cols, full, { kernel: [kh, kw], stride: w.strides, dilation: w.dilations });
      const extra = [Math.max(0, t + oh - full[0]), Math.max(0, l + ow - full[1])];
      if (extra[0]! > 0 || extra[1]! > 0) out = ag.pad(out, [[0, 0], [0, 0], [0, extra[0]!], [0, extra[1]!]]);
      out = ag.slice(out, [0, 0, t, l], [n, group * cog, oh, ow]);
      return [ins[2] ? ag.add(out, ag.reshape(need(ins, 2, ctx), [1, group * cog, 1, 1])) : out];
    };
  }],
  ["GlobalAveragePool", () => unary((x) => ag.mean(rank4(x, "GlobalAveragePool"), { axis: [2, 3], keepDims: true }))],
];
