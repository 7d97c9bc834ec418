export { buildTraceTree } from './trace-tree.ts';
export type { TraceTree, TraceTurn, TraceModelCall, TraceToolCall } from './trace-tree.ts';
export { renderTraceTree } from './render-trace-tree.ts';
