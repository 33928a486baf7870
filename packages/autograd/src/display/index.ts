/**
 * Display: tensors as text-free HTML (html.ts), recorded graphs as DOT (dot.ts) and SVG (svg.ts,
 * laid out by layout.ts), and the Jupyter hook (registry.ts). Nothing in the core imports this
 * folder except tensor.ts's registry key; the package index registers the HTML renderer.
 */
export { jupyterDisplay, type MimeBundle } from "./registry.js";
export { escapeXml, tensorToHtml, tensorMimeBundle, type TensorHtmlOptions } from "./html.js";
export { layeredLayout, type Layout, type LayoutNode, type LayoutNodeInput, type LayoutEdge, type LayoutOptions } from "./layout.js";
export { toSvg, graphDisplay, type SvgOptions, type GraphDisplay } from "./svg.js";
export { toDot, graphNodes, type DotOptions, type GraphNode } from "./dot.js";
