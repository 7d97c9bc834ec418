// The public API of Keel. Anything not exported here is internal and may change.
// One way to run a session: createKeel(...).run / resume / decide. The loop's own entry points are internal.
export { createKeel } from './runtime/index.ts';
export type { Keel, KeelOptions, KeelRunOptions, KeelResumeOptions } from './runtime/index.ts';
export type { PostgresStorageOptions } from './runtime/keel-options.ts';
export { defineAgent } from './loop/index.ts';
// Multi-agent systems: an agent as another's tool, handoffs, child sessions, and budgets that flow down the tree.
export { asTool, handoff, childSessionId, TreeBudget } from './loop/index.ts';
export type { AsToolOptions, HandoffOptions, SubagentSpec, SubagentTool, BudgetLimits, BudgetTrip, ChildRunRequest, ChildSessionRunner } from './loop/index.ts';
// Workflows: chain, route, parallel and vote, journaled as sessions (keel.runWorkflow / keel.resumeWorkflow).
export { chain, step, modelStep, agentStep, route, modelClassifier, parallel, vote, majority, threshold, judge, schemaGate, predicateGate, modelGate, ResourceLocks } from './workflow/index.ts';
export type {
  Chain,
  WorkflowStep,
  StepContext,
  StepScope,
  StepShape,
  StepOutput,
  StepSpend,
  WorkflowExecution,
  WorkflowServices,
  AgentRunRequest,
  ChildScope,
  DecisionEvent,
  WorkflowResult,
  WorkflowRun,
  Gate,
  GateVerdict,
  GateOptions,
  SafeParseSchema,
  ModelGateOptions,
  ModelPrompt,
  ModelStepOptions,
  AgentStepOptions,
  Classification,
  ClassifyFunction,
  ModelClassifierOptions,
  RouteOptions,
  ParallelOptions,
  ParallelResults,
  BranchFailure,
  FailurePolicy,
  FanOutOptions,
  Aggregation,
  Ballot,
  JudgeInput,
  VoteOptions,
  VoteResult,
} from './workflow/index.ts';
export type { KeelWorkflowOptions, KeelWorkflowResumeOptions } from './runtime/workflow-runs.ts';
export type { ModelCaller } from './loop/index.ts';
export type { TraceWorkflow, TraceWorkflowStep } from './tracing/workflow-trace.ts';
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
export { defineSqliteQueryTool, querySqliteReadOnly, configureSqliteQueryPool, sqliteQueryPoolStatistics, closeIdleSqliteQueryProcesses } from './tools/index.ts';
export type { SqliteQueryToolOptions, SqliteReadOnlyQueryOptions, SqliteQueryResult, SqliteQueryPoolOptions, SqliteQueryPoolStatistics } from './tools/index.ts';
export { connectMcpServer } from './tools/index.ts';
export { loginMcpServer, loopbackAuthorization, McpTokenStore, defaultTokenDirectory, ElicitationInbox } from './tools/index.ts';
export type { McpAuthConfig, McpOAuthConfig, McpClientCredentialsConfig, McpAuthorizationHandler, McpLoginOptions, McpLoginResult, LoopbackAuthorization, LoopbackOptions, McpStoredAuthorization } from './tools/index.ts';
export type { ElicitationItem, ElicitationAnswer, McpRoot, McpElicitationConfig, McpSamplingConfig, SamplingRecord } from './tools/index.ts';
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
export type { Gateway, GatewayOptions, AnthropicModelOptions, OpenAIModelOptions, DirectClientOptions, ModelClientKind } from './model/index.ts';
export { createSqliteStore, createMemoryJournal, createMemoryBlobStore, createMemorySessionLeaseStore, validateJournal } from './store/index.ts';
export { createSqliteAuditLog, createMemoryAuditLog, createAuditSigner, createAuditVerifier, generateAuditKeyPair } from './store/index.ts';
export type { SqliteStore, SqliteStoreOptions, BackgroundCheckpointOptions, BackgroundCheckpoints, CheckpointerState, SqliteAuditLogOptions, AuditSigner, AuditVerifier, AuditKeyPair } from './store/index.ts';
export { backupDatabase, checkDatabase, reencryptDatabase, createSqliteSessionLeaseStore } from './store/index.ts';
export {
  createPostgresStore,
  openPostgresStore,
  createPostgresJournal,
  createPostgresBlobStore,
  createPostgresSessionLeaseStore,
  createPostgresAuditLog,
  createPostgresIdempotencyStore,
  createPostgresCallLog,
  openPostgresDatabase,
  pgliteDatabase,
  migratePostgres,
} from './store/index.ts';
export type {
  PostgresStore,
  PostgresStoreOptions,
  PostgresStoreTarget,
  PostgresConnectionOptions,
  PostgresDatabase,
  PostgresJournalOptions,
  PostgresBlobStoreOptions,
  PostgresSessionLeaseStoreOptions,
  PostgresAuditLogOptions,
  PostgresIdempotencyStore,
  PostgresIdempotencyStoreOptions,
  PostgresCallLogOptions,
  PostgresMigration,
  PgliteLike,
  PgliteTransactionLike,
  SqlExecutor,
  SqlResult,
} from './store/index.ts';
export type { BackupDatabaseOptions, BackupResult, ReencryptDatabaseOptions, ReencryptResult, CheckDatabaseOptions, DatabaseCheckReport, DatabaseFinding, DatabaseFindingKind } from './store/index.ts';
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
  createPostgresExactIndex,
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
  MarkReflectedOptions,
  RememberInput,
  RecallInput,
  RetrievalWeights,
  ScoredMemory,
  Insight,
  Reflector,
  ProceduralMemory,
} from './memory/index.ts';
export { createPostgresMemoryStore, openPostgresMemoryStore } from './memory/index.ts';
export type { PostgresMemoryStore, PostgresMemoryStoreOptions, PostgresMemoryVectors, PostgresMemoryDatabase, MemorySqlExecutor } from './memory/index.ts';
export { createKeelMemoryStore } from './runtime/memory-backends.ts';
export type { KeelMemoryStoreOptions, KeelMemoryLocation } from './runtime/memory-backends.ts';
export { createMemoryTools } from './tools/memory-tools.ts';
export type { MemoryToolsOptions } from './tools/memory-tools.ts';
export type { AgentMemoryOptions } from './loop/define-agent.ts';
export type { ContextConfig, ExplainPlan } from './context/index.ts';
// Types the public functions above take or return: exported so callers can name them (and the API reference links them).
export type { AgentToolCallOptions, ResolvedAgentLimits, ResolvedToolCallOptions, ToolSource } from './loop/index.ts';
export type { BudgetConfig, ModelWindow, StrategyName, ExplainSegment, ExplainItem, Segment, Decision } from './context/index.ts';
export type { DedupOptions } from './context/strategies/dedup.ts';
export type { BackoffOptions, ToolCallLimits } from './util/index.ts';
export type { CallLogPolicy, CallLogDecision, CallLogObserver, CallLogPurgeReport, RequestBlobPurge, ModelCallRecord } from './runtime/call-log.ts';
export type { ToolPipeline, DecideRequest, DecideResult, ExecutionInvocation, ExecutionOutcome, CallingAgent, ApprovalRecord, DecisionOutcome } from './tools/index.ts';
export type { OutputDetector } from './tools/stages/sanitize.ts';
export type { RateLimitOptions } from './tools/stages/rate-limit.ts';
export type { JavaScriptToolOptions, ShellToolOptions } from './tools/code-tools.ts';
export type { McpTransportConfig, McpStdioTransportConfig, McpHttpTransportConfig, SkippedMcpTool, McpSourceStatus } from './tools/mcp/index.ts';
export type { RunnerPreference } from './sandbox/index.ts';
export type { McpServerTrust } from './tools/mcp/mcp-server-config.ts';
export type { ToolPolicyOptions, PolicyDefaults, PolicyRule, PolicyDecision, PolicyRequest, PolicyAgent, PolicyTool } from './security/tool-policy.ts';
// The static checker behind `keel check` (docs/check.md): proves an agent system's properties without running it.
export { checkSystem, formatCheckReport, systemFromModule } from './check/index.ts';
export type { AgentSystem, CheckFact, CheckReport, CheckViolation, FormatOptions, PropertyId, PropertyResult } from './check/index.ts';
export type { RedactionOptions } from './security/redaction.ts';
export type { RedactionType } from './security/redaction-detectors.ts';
export type { SecretType } from './security/redaction-secrets.ts';
export type { PersonalDataType } from './security/redaction-personal-data.ts';
export type { Finding } from './security/finding.ts';
export type { ToolRedactionPolicy, AgentRedactionPolicy, RevealRule } from './security/redaction-policy.ts';
export { scanForInjection, createInjectionDetector, normalizeForDetection, injectionRules, ruleThreshold } from './security/injection/index.ts';
export type { InjectionDetector, InjectionDetectorOptions, InjectionEmbedder, InjectionEmbeddingOptions, InjectionFinding, InjectionLayer, InjectionScan, InjectionScanOptions, InjectionRule, TextView } from './security/injection/index.ts';
export { readUntrusted } from './security/quarantine/index.ts';
export type { ReadUntrustedOptions, ReaderAttempt, ReaderModel, SessionReadOptions, UntrustedRead, UntrustedReader, FieldKind } from './security/quarantine/index.ts';
export type { VerifierOptions, ResolvedVerifier } from './loop/verifier-options.ts';
export type { Provenance, UntrustedProvenance } from './spec/provenance.ts';
export { createInformationFlowStage, flowRules, outputProvenanceOf } from './tools/stages/information-flow.ts';
export type { DecideStage, ExecuteStage, ToolInvocation } from './tools/pipeline/tool-invocation.ts';
export { ProvenanceIndex } from './security/provenance/index.ts';
export type { InformationFlowContext, TaintSource, ItemReference, LeakTrace, ValueTrace, ProvenanceItem, ProvenanceIndexOptions, AtomKind } from './security/provenance/index.ts';
export type { AgentInjectionOptions, ResolvedInjectionPolicy } from './loop/injection-policy.ts';
export type {
  OpenAIProviderName,
  ParsedModelSpec,
  ModelFromSpecOptions,
  Environment,
  ModelPrice,
  GatewayCallOptions,
  GatewayCallResult,
  GatewayRetry,
} from './model/index.ts';
export type {
  SqliteDatabase,
  SqliteSynchronous,
  SqliteJournal,
  EncryptionOptions,
  JournalValidation,
  BlobEraser,
  MemoryAuditLogOptions,
  MemorySessionLeaseStoreOptions,
  SqliteSessionLeaseStoreOptions,
  JournalHeads,
  JournalHead,
} from './store/index.ts';
export type { TraceTurn, TraceModelCall, TraceToolCall, TraceChild } from './tracing/index.ts';
export type { KeelErrorOptions } from './errors/index.ts';
export type {
  ScoreComponents,
  SequencedMemory,
  ProcedureVersion,
  ProceduralContent,
  ProceduralMemoryOptions,
  ReflectionOutcome,
  ReflectorOptions,
  ExactScanIndexOptions,
  HashingEmbedderOptions,
  OpenAIEmbedderOptions,
  PgvectorIndexOptions,
  PostgresExactIndexOptions,
  SqlClient,
  SqliteVecIndexOptions,
  SqliteMemoryStore,
} from './memory/index.ts';

// The model gateway's routes, caches, cascades and hosted tools (docs/gateway.md).
export {
  createModelRouter,
  createCircuitBreaker,
  createCascade,
  createTaskRouter,
  cascadeChecks,
  statedConfidence,
  withResponseCache,
  createMemoryResponseCache,
  createRedisResponseCache,
  responseCacheKey,
  hasUntrustedContent,
  isRoutedModel,
  gatewayFor,
  hostedToolScope,
  hostedToolPrices,
  hostedToolCost,
  placeCacheBreakpoints,
  promptCacheSavings,
} from './model/index.ts';
export type {
  ModelRouterOptions,
  HedgeOptions,
  RouteEntry,
  RoutedModel,
  RoutedCallOptions,
  RoutedCallResult,
  CircuitBreaker,
  CircuitBreakerOptions,
  CircuitPermit,
  CircuitState,
  CircuitTransition,
  CascadeCheck,
  CascadeOptions,
  TaskRouterOptions,
  ResponseCacheOptions,
  MemoryResponseCacheOptions,
  RedisResponseCacheOptions,
  HostedToolPriceTable,
} from './model/index.ts';
export { createSqliteResponseCache } from './store/index.ts';
export type { SqliteResponseCacheOptions } from './store/index.ts';
export { hostedToolNames } from './spec/index.ts';
export type { ModelSettings, RunModelSettings, ResolvedModelSettings } from './loop/index.ts';
export type { TraceRouting } from './tracing/index.ts';

// The model gateway's rate limits, priority queue and admission control (docs/gateway.md).
export { createModelLimiter, createMemoryLimitStore, createRedisLimitStore, queueLane, observingResponseHeaders, readRateLimitHeaders, reportingFetch } from './model/index.ts';
export type {
  AdmissionOptions,
  AdmissionRequest,
  BucketReadings,
  HeaderLookup,
  LimitedCall,
  LimitedResult,
  LimiterWait,
  ModelLimiter,
  ModelLimiterOptions,
  ModelLimitsOptions,
  RedisLimitStoreOptions,
  RunPriority,
  SessionLane,
} from './model/index.ts';

// Evaluation: suites, checks, judges, cassettes, stored runs, compare and the HTML report (docs/evaluation.md).
export * from './eval/index.ts';

// Sessions on a Restate cluster (docs/restate.md): the endpoint, the calls that start and approve sessions there, and
// the seam a durable engine drives the loop through.
export { createRestateEndpoint, serveRestate, sendSession, runSessionOnRestate, attachInvocation, approveOnRestate, registerDeployment, resolveRestateConfig } from './restate/index.ts';
export type { RestateEndpoint, RestateEndpointOptions, RestateServer, ServeRestateOptions, RestateCall, Registration, RestateConfig, RestateApproval, RestateApprovalReply, RestateSessionRequest } from './restate/index.ts';
export type { SessionDependencies } from './runtime/index.ts';
export type { LoopDependencies } from './loop/index.ts';
export type { AnomalyThresholds } from './tracing/index.ts';
// Stateless workers (docs/workers.md): the run queue in PostgreSQL and the worker that claims and runs its sessions.
export { createRunQueue, createWorker, sweepApprovals } from './worker/index.ts';
export type { ApprovalSweepOptions, CancelRequest, ClaimForCancelRequest, ClaimRecord, ClaimRequest, EnqueueRequest, QueuedBudget, QueuedRun, QueueListener, QueueState, QueueSubscription, RunQueue, RunQueueOptions, Settlement, Worker, WorkerAgent, WorkerEvent, WorkerOptions, WorkerStopReport } from './worker/index.ts';
// The HTTP API server (docs/server.md): sessions, event streams, approvals and inspection under /v1, API keys with
// tenants and roles, /metrics, and the console's files.
export { createKeelServer, createServerLogger, keelCodeStatus, apiRoles } from './server/index.ts';
export type { ConnectionLimits, KeelServer, KeelServerOptions, StreamLimitOptions, ApiKeyStore, ApiPrincipal, KeyCreation, QueuedSessionRequest, QueuedSessionState, ServerDatabaseTarget, ServerSettlement, SessionQueue, SessionQueueListener, ServerEnv, ServerVariables, ApiRole, KeyView } from './server/index.ts';
export type { KeelMetrics, KeelMetricsOptions } from './tracing/metrics.ts';
export type { TracedUpdate } from './tracing/span-exporter.ts';
export type { TokenBucketLimit } from './security/token-bucket.ts';
// The planner: plan-then-execute as a mode of an agent (defineAgent({ planner })); keel.decidePlan answers a waiting plan.
export type { PlannerOptions, ResolvedPlannerOptions, PlanStepCheck, PlanStepCheckInput, PlanStepVerdict } from './loop/planner-options.ts';
export { validatePlan, planJsonSchema } from './planner/index.ts';
export type { PlanDecision, PlanValidation, PlanValidationContext } from './planner/index.ts';
export type { TracePlan, TracePlanRevision, TracePlanStep } from './tracing/plan-trace.ts';
