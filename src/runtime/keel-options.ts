import type { AgentDefinition, ApprovalDecision, BudgetLimits, ChildRunRequest, LoopDependencies, RunOptions, SessionRun, SessionUpdate } from '../loop/index.ts';
import type { RedactionOptions } from '../security/redaction.ts';
import type { ToolPolicyOptions } from '../security/tool-policy.ts';
import type { AuditLog } from '../spec/audit-log.ts';
import type { Clock } from '../spec/clock.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { IdempotencyStore } from '../spec/idempotency.ts';
import type { BlobStore, Journal, ListSessionsOptions, SessionSummary } from '../spec/journal.ts';
import type { Model } from '../spec/model.ts';
import type { BackgroundCheckpointOptions, SqliteSynchronous } from '../store/index.ts';
import type { ToolCallLimits } from '../tools/index.ts';
import type { SessionLeaseStore } from '../spec/session-lease.ts';
import type { ToolPipeline } from '../tools/index.ts';
import type { RateLimitOptions } from '../tools/stages/rate-limit.ts';
import type { OutputDetector } from '../tools/stages/sanitize.ts';
import type { TraceTree } from '../tracing/index.ts';
import type { CallLogPolicy } from './call-log.ts';
import type { KeelMetrics, KeelMetricsOptions } from '../tracing/metrics.ts';
import type { WorkflowRun, WorkflowStep } from '../workflow/index.ts';
import type { PlanDecision } from '../planner/index.ts';
import type { KeelWorkflowOptions, KeelWorkflowResumeOptions } from './workflow-runs.ts';
import type { ModelLimitsOptions, RunPriority } from '../model/index.ts';
import type { MemoryStore } from '../spec/memory-store.ts';
import type { KeelMemoryStoreOptions } from './memory-backends.ts';

/** `createKeel({ storage: { kind: 'postgres', url } })`: the PostgreSQL backend (docs/configuration.md). */
export interface PostgresStorageOptions {
  readonly kind: 'postgres';
  /** `postgres://user:password@host:5432/database`. */
  readonly url: string;
  /** The schema of Keel's tables, created if missing. Default `public`. */
  readonly schema?: string;
  /** Connections in this process's pool. Default 10. */
  readonly maxConnections?: number;
}

export interface KeelOptions {
  /** SQLite file for the journal and blobs; `:memory:` keeps everything in this process. Else `KEEL_DB`, else `.keel/keel.db` under `cwd`. */
  readonly database?: string;
  /**
   * How far a SQLite commit is on disk when an append is acknowledged (docs/storage.md). `'normal'`, the default:
   * in the operating system's hands, so a crash of the process loses nothing acknowledged, a power loss may lose the
   * commits since the last checkpoint. `'full'`: flushed to the disk at every commit (one fsync each, shared by the
   * sessions that commit together), so a power loss loses nothing acknowledged either. Only with a SQLite file.
   */
  readonly synchronous?: SqliteSynchronous;
  /**
   * Checkpoints the SQLite write-ahead log from a worker thread about every second (`true`, or `{ intervalMs,
   * walLimitBytes }`), so that with `synchronous: 'normal'` a power loss can undo only about the last second of
   * commits. Off by default (SQLite checkpoints every ~1,000 pages); docs/storage.md. Only with a SQLite file.
   */
  readonly backgroundCheckpoints?: BackgroundCheckpointOptions | boolean;
  /**
   * Keeps sessions in PostgreSQL instead of a SQLite file: journal, blobs, leases, audit log, recorded tool outcomes
   * and the call log, shared by every process given the same URL. Else `KEEL_DATABASE_URL` (and `KEEL_DATABASE_SCHEMA`).
   * Not together with `database` or `journal`/`blobs`.
   */
  readonly storage?: PostgresStorageOptions;
  /** A journal and blob store given directly, instead of `database` (give both, and not `database`). */
  readonly journal?: Journal;
  readonly blobs?: BlobStore;
  /**
   * A registered model's name, a provider spec (`anthropic:claude-sonnet-4-6`, `scripted:path.json`) or a Model.
   * Else the agent's own, else `KEEL_MODEL`, else chosen from the API keys present.
   */
  readonly model?: string | Model;
  /**
   * Models by name. A session records the name of the model it ran with, so `resume` and `decide` in a later process
   * (given the same `models`) use that model again instead of falling back to environment defaults.
   */
  readonly models?: Readonly<Record<string, Model>>;
  /** Retries of retryable model failures. Defaults to 4. */
  readonly modelRetries?: number;
  /**
   * Rate limits per provider account (requests, input and output tokens per minute; learned from the provider's
   * headers when not given), the priority queue in front of each account, and admission control of new sessions.
   * Shared through Redis when `redisUrl` or `KEEL_REDIS_URL` is set. On in this process by default; `false` turns it off.
   */
  readonly modelLimits?: ModelLimitsOptions | false;
  /**
   * Bounds on each tool call a model asks for: name length, argument bytes and nesting depth (defaults 128
   * characters, 1 MiB, 64 levels). Applied by the gateway before anything is journaled and by the tool pipeline;
   * a call over a bound goes back to the model as a `tool-invalid-input` error.
   */
  readonly toolCallLimits?: Partial<ToolCallLimits>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly clock?: Clock;
  /** Tool policy rules (the tool executor's authorization layer). Built in: a scope the agent lacks denies; irreversible tools ask a person. */
  readonly policy?: ToolPolicyOptions;
  /** Token buckets per agent and tool, shared by this process's sessions. Off unless given. */
  readonly rateLimits?: RateLimitOptions;
  /** Redaction of secrets and personal data in tool output; on for every type unless `false`. */
  readonly redaction?: false | RedactionOptions;
  /** Scanners of tool output (the injection detectors plug in here); their findings are counted, never block. */
  readonly outputDetectors?: readonly OutputDetector[];
  /** Where tool outcomes are kept by idempotency key; the backend's own when not given. */
  readonly idempotency?: IdempotencyStore;
  /** Where tool calls are audited; the backend's own (signed when `KEEL_AUDIT_SIGNING_KEY` is set) when not given. */
  readonly auditLog?: AuditLog;
  /**
   * LLM call logging: token counts of every call into the ordinary log; the prompt and response,
   * redacted, for a sampled share; full texts only in an access-controlled file (mode 0600) beside the database.
   * Texts past the retention period are purged when Keel starts. Off unless given.
   */
  readonly callLog?: { readonly sampleRate?: number; readonly retentionDays?: number; readonly accessControlledPath?: string };
  /** Replaces the whole tool pipeline; giving it together with policy, rateLimits, redaction, outputDetectors or idempotency is an error. */
  readonly toolPipeline?: ToolPipeline;
  /**
   * Where session leases are taken (one writer per session). The SQLite store's own by default; with a
   * `journal` given directly, an in-process store, which keeps out only this process's second writer.
   */
  readonly leases?: SessionLeaseStore;
  /** How long a lease lasts without renewal: a crashed holder's sessions can be resumed after it. Default 30 s. */
  readonly leaseTtlMs?: number;
  /**
   * Session metrics (tokens, latency, cost, turns, tool calls, anomalies, guard trips) as OpenTelemetry instruments,
   * pushed over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `_METRICS_ENDPOINT`) is set, read with `keel.metrics()`.
   * On by default; `false` turns them off.
   */
  readonly metrics?: false | Omit<KeelMetricsOptions, 'env'>;
}

export interface KeelRunOptions extends Omit<RunOptions, 'leaseLost' | 'treeBudget'> {
  /** What to do; the agent's `defaultTask` when not given. */
  readonly task?: string;
  /**
   * The budget of the whole session tree: this session and every subagent it starts, at any depth, draw from it
   * (tokens, cost, and wall-clock time from now). When their sum crosses it, every running session of the tree stops
   * with a `guard-trip` naming the budget and the spender.
   */
  readonly budget?: BudgetLimits;
  readonly sessionId?: string;
  readonly parentSessionId?: string;
  /** The module that exports the agent, recorded so that `keel resume` can load it. */
  readonly agentModule?: string;
  /** Per-run model: a registered name, a provider spec or a Model. */
  readonly model?: string | Model;
  /** In the model queue, batch runs wait behind interactive ones. Default `interactive`. */
  readonly priority?: RunPriority;
  /** Whose token budget the run spends (`modelLimits.admission.tenantBudget`). */
  readonly tenant?: string;
  /**
   * Aborting it hands the session off: the run stops before its next write, its result rejects with `session-busy`,
   * the lease is released, and the session is left open for another process to resume (a worker shutting down).
   */
  readonly handOff?: AbortSignal;
}

/** Options of `resume` and `decide`: the model defaults to the one the session recorded. */
export interface KeelResumeOptions extends Omit<RunOptions, 'leaseLost' | 'treeBudget'> {
  readonly model?: string | Model;
  /** In the model queue, batch runs wait behind interactive ones. Default `interactive`. */
  readonly priority?: RunPriority;
  /** Whose token budget the run spends. */
  readonly tenant?: string;
  /** Hands the session off to another process, as `KeelRunOptions.handOff`. */
  readonly handOff?: AbortSignal;
}

/** The loop's dependencies for one agent's sessions, from `Keel.sessionDependencies`. */
export interface SessionDependencies {
  readonly dependencies: LoopDependencies;
  /** The model's registered name or spec, recorded in session-start so that a resume finds the same model; undefined for an unregistered Model object. */
  readonly modelSpec: string | undefined;
  /** Feeds this Keel's live telemetry and call log, as the `onUpdate` of a run. */
  readonly observe: ((update: SessionUpdate) => void) | undefined;
  /** Runs a session under this Keel's session lease (one writer per session), as `run` and `resume` do. */
  readonly underLease: (sessionId: string, start: (leaseLost: AbortSignal) => SessionRun) => SessionRun;
}

export interface Keel {
  readonly databasePath: string | null;
  readonly journal: Journal;
  readonly blobs: BlobStore;
  /** The hash-chained audit log of every tool call (`keel audit verify`). */
  readonly audit: AuditLog;
  readonly tools: ToolPipeline;
  /** The call-log policy, when `callLog` was given: `purge()`, `purgeRequestBlobs()`. */
  readonly callLog: CallLogPolicy | null;
  /**
   * Starts a session under its lease; returns at once with its id. Iterate the run for live updates, or await `result`.
   * @example
   * const run = keel.run(agent, { task: 'Why did checkout fail at 14:05?', signal: AbortSignal.timeout(60_000) });
   * for await (const update of run) if (update.type === 'event') console.log(update.event.type);
   * const { status, output } = await run.result;
   */
  run(agent: AgentDefinition, taskOrOptions?: string | KeelRunOptions): SessionRun;
  /**
   * Continues an interrupted session from its journal: finished steps are not run again. Refused with
   * `session-busy` while another process holds the session's lease.
   * @example
   * const { status } = await (await keel.resume(agent, 'ses_01J…')).result;
   */
  resume(agent: AgentDefinition, sessionId: string, options?: KeelResumeOptions): Promise<SessionRun>;
  /**
   * Journals a person's approval or rejection of a waiting call, then resumes the session.
   * @example
   * await keel.decide(agent, sessionId, callId, { approved: true, approver: 'ops@example.com' });
   */
  decide(agent: AgentDefinition, sessionId: string, callId: string, decision: ApprovalDecision, options?: KeelResumeOptions): Promise<SessionRun>;
  /**
   * Journals a person's approval or rejection like `decide`, without resuming the session in this process: for a
   * session that a worker runs (the run queue wakes it, wherever it is claimed next).
   * @example
   * await keel.recordDecision(agent, sessionId, callId, { approved: true, approver: 'ops@example.com' });
   * await queue.wake(sessionId);
   */
  recordDecision(agent: AgentDefinition, sessionId: string, callId: string, decision: ApprovalDecision): Promise<void>;
  /**
   * Answers the plan of a planner session that waits for a person (`defineAgent({ planner: { approval: true } })`):
   * approve it, approve an edited plan (validated like a proposed one, then journaled), or reject it (the session ends
   * `approval-rejected`); then resumes the session, as `decide` does for a call.
   * @example
   * ```ts
   * const { status } = await (await keel.decidePlan(agent, sessionId, { approved: true, approver: 'ops@example.com' })).result;
   * ```
   */
  decidePlan(agent: AgentDefinition, sessionId: string, decision: PlanDecision, options?: KeelResumeOptions): Promise<SessionRun>;
  /**
   * Journals a person's decision on a waiting plan like `decidePlan`, without resuming the session in this process:
   * for a planner session that a worker runs (the run queue wakes it, wherever it is claimed next).
   * @example
   * await keel.recordPlanDecision(agent, sessionId, { approved: true, approver: 'ops@example.com' });
   * await queue.wake(sessionId);
   */
  recordPlanDecision(agent: AgentDefinition, sessionId: string, decision: PlanDecision): Promise<void>;
  /**
   * What this Keel's sessions of `agent` run with (journal, blobs, the model through the gateway, the tool pipeline,
   * clock, pricing, child sessions, side models), for a durable engine that drives the loop itself and wraps each model
   * and tool call in a durable step (the Restate endpoint). Leases and admission are then the engine's concern.
   * @example
   * const { dependencies, modelSpec } = keel.sessionDependencies(agent, { model: 'anthropic:claude-sonnet-4-6' });
   */
  sessionDependencies(agent: AgentDefinition, options?: { readonly model?: string | Model }): SessionDependencies;
  /**
   * Runs `agent` as a child session of `parentSessionId` for one call or workflow step (see `ChildRunRequest`): started
   * when new, resumed when open, its recorded outcome when ended; never a second copy. Refused (`tool-denied`) when the
   * agent declares a scope `heldScopes` lacks, and (`invalid-config`) when its budget slice exceeds the parent's.
   * @example
   * const child = keel.runChild({ agent: researcher, parentSessionId, callId: 'step-2', task: 'Find three sources on X.',
   *   mode: 'step', heldScopes: [], deadlineAt: null, budget: null, slice: { tokens: 20_000, costUsd: null } });
   * const { status, output } = await child.result;
   */
  runChild(request: ChildRunRequest): SessionRun;
  /**
   * Runs a workflow (a chain, route, parallel, vote, or any step) as a session of its own, under its lease: steps are
   * journaled, agent steps run as child sessions on the run's budget. Await `result` for the outcome.
   * @example
   * const run = keel.runWorkflow(report, 'Q3 incident notes…', { budget: { tokens: 50_000, deadlineMs: 120_000 } });
   * const { status, output } = await run.result;
   */
  runWorkflow<I, O>(workflow: WorkflowStep<I, O>, input: I, options?: KeelWorkflowOptions): WorkflowRun<O>;
  /**
   * Continues a workflow run from its journal: finished steps' outputs are reused, never run again; a running agent
   * step's child session is resumed. Refused when the workflow's definition changed since the run started.
   * @example
   * const { status } = await keel.resumeWorkflow(report, 'ses_01J…').result;
   */
  resumeWorkflow<I, O>(workflow: WorkflowStep<I, O>, sessionId: string, options?: KeelWorkflowResumeOptions): WorkflowRun<O>;
  events(sessionId: string): Promise<readonly SessionEvent[]>;
  sessions(options?: ListSessionsOptions): Promise<readonly SessionSummary[]>;
  trace(sessionId: string): Promise<TraceTree>;
  /**
   * The metrics this runtime records of every session it runs, resumes or decides; null when `metrics: false`.
   * @example
   * const metrics = await keel.metrics();
   * const text = await metrics?.renderPrometheus(); // Prometheus text exposition, for a /metrics route
   */
  metrics(): Promise<KeelMetrics | null>;
  /**
   * A memory store in this Keel's storage, closed with it: with PostgreSQL its tables are shared by every process on
   * the database (workers see each other's memories); with SQLite it lives in the same file (sqlite-vec).
   * @example
   * const memory = keel.memoryStore({ embedder: createHashingEmbedder() });
   * const agent = defineAgent({ name: 'ops', instructions: '…', memory: { store: memory, recordToolResults: true } });
   */
  memoryStore(options: KeelMemoryStoreOptions): MemoryStore;
  close(): Promise<void>;
}
