export { defineTool, toToolSpec } from './define-tool.ts';
export type { ToolDefinition, ToolOptions, ToolContext, ToolRisk } from './define-tool.ts';
export { createToolPipeline, validateInput, raceWithSignal, stringifyOutput } from './pipeline/tool-pipeline.ts';
export type { ToolPipeline, ToolPipelineOptions, DecideRequest, DecideResult } from './pipeline/tool-pipeline.ts';
export type { ToolCallLimits } from './pipeline/tool-call-bounds.ts';
export { compose } from './pipeline/compose.ts';
export type {
  CallingAgent,
  ToolInvocation,
  ExecutionInvocation,
  ExecutionOutcome,
  DecisionOutcome,
  ApprovalRecord,
  DecideStage,
  ExecuteStage,
} from './pipeline/tool-invocation.ts';
export * from './mcp/index.ts';
export { defineJavaScriptTool, defineShellTool } from './code-tools.ts';
export { defineSqliteQueryTool, querySqliteReadOnly } from './sqlite-query-tool.ts';
export type { SqliteQueryToolOptions, SqliteReadOnlyQueryOptions, SqliteQueryResult } from './sqlite-query-tool.ts';
export { configureSqliteQueryPool, sqliteQueryPoolStatistics, closeIdleSqliteQueryProcesses, warmSqliteQueryPool } from './sqlite-query-pool.ts';
export type { SqliteQueryPoolOptions, SqliteQueryPoolStatistics } from './sqlite-query-pool.ts';
