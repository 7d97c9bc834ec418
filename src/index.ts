// The public API of Keel. Anything not exported here is internal and may change.
// One way to run a session: createKeel(...).run / resume / decide. The loop's own entry points are internal.
export { createKeel } from './runtime/index.ts';
export type { Keel, KeelOptions, KeelRunOptions, KeelResumeOptions } from './runtime/index.ts';
export { defineAgent } from './loop/index.ts';
export type {
  AgentDefinition,
  AgentOptions,
  AgentLimitOptions,
  ApprovalDecision,
  PendingApproval,
  RunOptions,
  SessionResult,
  SessionRun,
  SessionUpdate,
} from './loop/index.ts';
export { defineTool, defineJavaScriptTool, defineShellTool } from './tools/index.ts';
export { connectMcpServer } from './tools/index.ts';
export type { McpToolSource, McpServerConfig } from './tools/index.ts';
export type { ToolDefinition, ToolOptions, ToolContext, ToolRisk } from './tools/index.ts';
export { KeelError, isKeelError, toKeelError, keelCodes } from './errors/index.ts';
export type { KeelCode, Fault } from './errors/index.ts';
export {
  createAnthropicModel,
  createOpenAIModel,
  createGateway,
  createModelFromSpec,
  parseModelSpec,
  costOf,
} from './model/index.ts';
export type { Gateway, GatewayOptions, AnthropicModelOptions, OpenAIModelOptions } from './model/index.ts';
export { createSqliteStore, createMemoryJournal, createMemoryBlobStore, createMemorySessionLeaseStore, validateJournal } from './store/index.ts';
export { createSqliteAuditLog, createMemoryAuditLog, createAuditSigner, createAuditVerifier, generateAuditKeyPair } from './store/index.ts';
export type { SqliteStore, SqliteStoreOptions, SqliteAuditLogOptions, AuditSigner, AuditVerifier, AuditKeyPair } from './store/index.ts';
export { buildTraceTree, renderTraceTree } from './tracing/index.ts';
export type { TraceTree } from './tracing/index.ts';
export type * from './spec/index.ts';
export { stopReasons, currentEventVersion, supportedEventVersions } from './spec/index.ts';
export {
  createMemoryStore,
  createHashingEmbedder,
  createOpenAIEmbedder,
  createSqliteVecIndex,
  createPgvectorIndex,
  createExactScanIndex,
  createReflector,
  createProceduralMemory,
  reflectionPrompt,
  parseInsights,
  importancePrompt,
  parseImportance,
  contentHash,
} from './memory/index.ts';
export type {
  Embedder,
  VectorIndex,
  MemoryRecord,
  MemoryScope,
  MemoryKind,
  MemoryStore,
  MemoryStoreOptions,
  RememberInput,
  RecallInput,
  RetrievalWeights,
  ScoredMemory,
  Insight,
  Reflector,
  ProceduralMemory,
} from './memory/index.ts';
export { createMemoryTools } from './tools/memory-tools.ts';
export type { MemoryToolsOptions } from './tools/memory-tools.ts';
export type { AgentMemoryOptions } from './loop/define-agent.ts';
export type { ContextConfig, ExplainPlan } from './context/index.ts';
