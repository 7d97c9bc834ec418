export { defineTool, toToolSpec } from './define-tool.ts';
export type { ToolDefinition, ToolOptions, ToolContext, ToolRisk } from './define-tool.ts';
export { executeToolCall } from './tool-executor.ts';
export type { ToolOutcome, ToolCallContext } from './tool-executor.ts';
