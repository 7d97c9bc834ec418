import { resolve } from 'node:path';
import { KeelError } from '../errors/index.ts';
import { createId, systemClock } from '../util/index.ts';
import { costOf, createGateway, createModelFromSpec, defaultModelSpec } from '../model/index.ts';
import {
  createMemoryAuditLog,
  createMemoryBlobStore,
  createMemoryIdempotencyStore,
  createMemoryJournal,
  createMemorySessionLeaseStore,
  createAuditSigner,
  createSqliteAuditLog,
  createSqliteIdempotencyStore,
  createSqliteStore,
} from '../store/index.ts';
import type { AuditLog, IdempotencyStore, SqliteDatabase } from '../store/index.ts';
import { createToolPipeline } from '../tools/index.ts';
import type { ToolPipeline } from '../tools/index.ts';
import { createAuditStage, createDenialAuditStage, createRefusalRecorder } from '../tools/stages/audit.ts';
import { createAuthorizeStage } from '../tools/stages/authorize.ts';
import { createIdempotencyStage } from '../tools/stages/idempotency.ts';
import { createRateLimitStage } from '../tools/stages/rate-limit.ts';
import type { RateLimitOptions } from '../tools/stages/rate-limit.ts';
import { createSanitizeStage } from '../tools/stages/sanitize.ts';
import type { OutputDetector } from '../tools/stages/sanitize.ts';
import type { ToolPolicyOptions } from '../security/tool-policy.ts';
import { createRedactor } from '../security/redaction.ts';
import type { RedactionOptions } from '../security/redaction.ts';
import { createTelemetry } from './telemetry.ts';
import { acquireSessionLease, defaultLeaseTtlMs, leaseOwnerId, runUnderLease } from './leased-run.ts';
import type { LeaseSettings } from './leased-run.ts';
import type { SessionLeaseStore } from '../spec/session-lease.ts';
import { createCallLogPolicy } from './call-log.ts';
import type { CallLogPolicy } from './call-log.ts';
import { createMemoryCallLog, createSqliteCallLog } from '../store/index.ts';
import { recordApproval, resumeSession, startSession } from '../loop/index.ts';
import { buildTraceTree } from '../tracing/index.ts';
import type { AgentDefinition, ApprovalDecision, LoopDependencies, ModelCaller, RunOptions, SessionRun } from '../loop/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { BlobStore, Journal, ListSessionsOptions, SessionSummary } from '../spec/journal.ts';
import type { Model } from '../spec/model.ts';
import type { TraceTree } from '../tracing/index.ts';

export interface KeelOptions {
  /** SQLite file for the journal and blobs; `:memory:` keeps everything in this process. Else `KEEL_DB`, else `.keel/keel.db` under `cwd`. */
  readonly database?: string;
  /** Backends given directly win over `database`. */
  readonly journal?: Journal;
  readonly blobs?: BlobStore;
  /** A model spec or a Model. Else the agent's own, else `KEEL_MODEL`, else chosen from the API keys present. */
  readonly model?: string | Model;
  /** Retries of retryable model failures. Defaults to 4. */
  readonly modelRetries?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly clock?: Clock;
  /** Tool policy rules (DESIGN.md §5 layer 5). Built in: a scope the agent lacks denies; irreversible tools ask a person. */
  readonly policy?: ToolPolicyOptions;
  /** Token buckets per agent and tool, shared by this process's sessions. Off unless given. */
  readonly rateLimits?: RateLimitOptions;
  /** Redaction of secrets and personal data in tool output; on for every type unless `false`. */
  readonly redaction?: false | RedactionOptions;
  /** Scanners of tool output (the injection detectors plug in here); their findings are counted, never block. */
  readonly outputDetectors?: readonly OutputDetector[];
  /** Where tool outcomes are kept by idempotency key and where calls are audited, when `journal`/`blobs` are given directly. */
  readonly idempotency?: IdempotencyStore;
  readonly auditLog?: AuditLog;
  /**
   * LLM call logging (seed §12.3): token counts of every call into the ordinary log; the prompt and response,
   * redacted, for a sampled share; full texts only in an access-controlled file (mode 0600) beside the database.
   * Texts past the retention period are purged when Keel starts. Off unless given.
   */
  readonly callLog?: { readonly sampleRate?: number; readonly retentionDays?: number; readonly accessControlledPath?: string };
  /** Replaces the whole tool pipeline; the options above are then ignored. */
  readonly toolPipeline?: ToolPipeline;
  /**
   * Where session leases are taken (one writer per session). The SQLite store's own by default; with a
   * `journal` given directly, an in-process store, which keeps out only this process's second writer.
   */
  readonly leases?: SessionLeaseStore;
  /** How long a lease lasts without renewal: a crashed holder's sessions can be resumed after it. Default 30 s. */
  readonly leaseTtlMs?: number;
}

export interface KeelRunOptions extends RunOptions {
  readonly sessionId?: string;
  readonly parentSessionId?: string;
  /** The module that exports the agent, recorded so that `keel resume` can load it. */
  readonly agentModule?: string;
  /** Per-run model override. */
  readonly model?: string | Model;
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
  run(agent: AgentDefinition, task: string | undefined, options?: KeelRunOptions): SessionRun;
  resume(agent: AgentDefinition, sessionId: string, options?: RunOptions & { readonly model?: string | Model }): Promise<SessionRun>;
  /** Journals a person's approval or rejection of a waiting call, then resumes the session. */
  decide(agent: AgentDefinition, sessionId: string, callId: string, decision: ApprovalDecision, options?: RunOptions & { readonly model?: string | Model }): Promise<SessionRun>;
  events(sessionId: string): Promise<readonly SessionEvent[]>;
  sessions(options?: ListSessionsOptions): Promise<readonly SessionSummary[]>;
  trace(sessionId: string): Promise<TraceTree>;
  close(): Promise<void>;
}

/** The composition root: configuration resolves here, once (argument, then environment variable, then default). */
export function createKeel(options: KeelOptions = {}): Keel {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const clock = options.clock ?? systemClock;
  let databasePath: string | null = null;
  let journal = options.journal;
  let blobs = options.blobs;
  let closeStore: () => Promise<void> = async () => undefined;
  let audit: AuditLog | undefined = options.auditLog;
  let sharedDatabase: SqliteDatabase | undefined;
  let idempotency: IdempotencyStore | undefined = options.idempotency;
  let leaseStore: SessionLeaseStore | undefined = options.leases;
  if (journal === undefined || blobs === undefined) {
    const database = options.database ?? env.KEEL_DB ?? resolve(cwd, '.keel', 'keel.db');
    if (database === ':memory:') {
      journal ??= createMemoryJournal();
      blobs ??= createMemoryBlobStore();
    } else {
      databasePath = resolve(cwd, database);
      const store = createSqliteStore({ path: databasePath });
      sharedDatabase = store.database;
      journal ??= store.journal;
      blobs ??= store.blobs;
      leaseStore ??= store.leases;
      const signingKey = env.KEEL_AUDIT_SIGNING_KEY;
      audit = createSqliteAuditLog({ database: store.database, ...(signingKey === undefined || signingKey === '' ? {} : { signer: createAuditSigner(signingKey) }) });
      idempotency = createSqliteIdempotencyStore(store.database, databasePath);
      const auditLog = audit;
      closeStore = async () => {
        await auditLog.close();
        await store.close();
      };
    }
  }
  const leases: LeaseSettings = {
    store: leaseStore ?? createMemorySessionLeaseStore({ clock }),
    owner: leaseOwnerId(),
    ttlMs: options.leaseTtlMs ?? defaultLeaseTtlMs,
    now: () => clock.now(),
  };
  const resolvedJournal = journal;
  const resolvedBlobs = blobs;
  const resolvedAudit = audit ?? createMemoryAuditLog({ clock });
  // Content that spans may carry (only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT is on) leaves the
  // process, so it is always redacted, even when tool output is not (`redaction: false`).
  const spanRedactor = createRedactor(options.redaction === false || options.redaction === undefined ? {} : options.redaction);
  const telemetry = createTelemetry(env, (text) => spanRedactor.redactText(text).text);
  let callLog: CallLogPolicy | null = null;
  const callLogStores: { close(): Promise<void> }[] = [];
  if (options.callLog !== undefined) {
    const accessControlledPath = options.callLog.accessControlledPath ?? (databasePath === null ? null : `${databasePath}.calls.db`);
    const sampledLog = sharedDatabase === undefined ? createMemoryCallLog({ channel: 'sampled', clock }) : createSqliteCallLog({ database: sharedDatabase, channel: 'sampled', clock });
    const auditCallLog = accessControlledPath === null ? createMemoryCallLog({ channel: 'audit', clock }) : createSqliteCallLog({ path: resolve(cwd, accessControlledPath), channel: 'audit', clock });
    callLogStores.push(sampledLog, auditCallLog);
    callLog = createCallLogPolicy({
      ...(options.callLog.sampleRate === undefined ? {} : { sampleRate: options.callLog.sampleRate }),
      ...(options.callLog.retentionDays === undefined ? {} : { retentionDays: options.callLog.retentionDays }),
      clock,
      sampledLog,
      auditLog: auditCallLog,
    });
  }
  const callLogObserver = callLog?.observer(resolvedBlobs) ?? null;
  const retentionPurge = callLog?.purge() ?? null;
  const withTelemetry = <T extends RunOptions>(runOptions: T): T => {
    if (telemetry === null && callLogObserver === null) return runOptions;
    const own = runOptions.onUpdate;
    return {
      ...runOptions,
      onUpdate: (update) => {
        telemetry?.observe(update);
        if (update.type === 'event') callLogObserver?.observe(update.event);
        own?.(update);
      },
    };
  };
  const recordRefusal = createRefusalRecorder({ log: resolvedAudit, ...(options.redaction === undefined ? {} : { redaction: options.redaction }) });
  const tools =
    options.toolPipeline ??
    createToolPipeline({
      onValidationRefusal: ({ request, rule, error }) =>
        recordRefusal({
          sessionId: request.sessionId,
          turn: request.turn,
          callId: request.call.id,
          agent: request.agent.name,
          tool: request.call.name,
          input: request.call.malformedInput ?? request.call.input,
          decision: 'deny',
          rule,
          approver: null,
          error: { code: error.code, message: error.message },
        }),
      decideStages: [
        createDenialAuditStage({ log: resolvedAudit }),
        createAuthorizeStage(options.policy ?? {}),
        ...(options.rateLimits === undefined ? [] : [createRateLimitStage({ ...options.rateLimits, clock })]),
      ],
      executeStages: [
        createIdempotencyStage(idempotency ?? createMemoryIdempotencyStore()),
        createAuditStage({ log: resolvedAudit }),
        createSanitizeStage({ blobs: resolvedBlobs, ...(options.redaction === undefined ? {} : { redaction: options.redaction }), ...(options.outputDetectors === undefined ? {} : { detectors: options.outputDetectors }) }),
      ],
    });

  const modelCaller = (choice: string | Model | undefined, agent: AgentDefinition): { caller: ModelCaller; spec: string | undefined } => {
    let model: Model;
    let spec: string | undefined;
    if (choice !== undefined && typeof choice !== 'string') {
      model = choice;
    } else {
      spec = choice ?? agent.model ?? env.KEEL_MODEL ?? defaultModelSpec(env);
      model = createModelFromSpec(spec, { env, cwd });
    }
    const gateway = createGateway(model, { maxRetries: options.modelRetries ?? 4, clock });
    return { caller: gateway, spec };
  };

  const dependencies = (caller: ModelCaller): LoopDependencies => ({
    journal: resolvedJournal,
    blobs: resolvedBlobs,
    model: caller,
    clock,
    tools,
    price: (usage, modelId) => costOf(caller.provider, modelId, usage),
  });

  const readEvents = async (sessionId: string): Promise<SessionEvent[]> => {
    const events: SessionEvent[] = [];
    for await (const event of resolvedJournal.read(sessionId)) events.push(event);
    if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId} in ${databasePath ?? 'this journal'}; list them with \`keel sessions\`.`);
    return events;
  };

  return {
    databasePath,
    journal: resolvedJournal,
    blobs: resolvedBlobs,
    audit: resolvedAudit,
    tools,
    callLog,
    run(agent, task, runOptions = {}) {
      const input = task ?? agent.defaultTask;
      if (input === undefined || input === null || input.trim() === '') {
        throw new KeelError('invalid-argument', `Agent "${agent.name}" has no default task; give one, for example \`keel run <agent-module> "your task"\`.`);
      }
      const { caller, spec } = modelCaller(runOptions.model ?? options.model, agent);
      const sessionId = runOptions.sessionId ?? createId('ses', clock.now());
      return runUnderLease(leases, sessionId, (leaseLost) =>
        startSession(agent, dependencies(caller), {
          ...withTelemetry(runOptions),
          sessionId,
          leaseLost,
          input,
          ...(spec === undefined ? {} : { modelSpec: spec }),
        }),
      );
    },
    async resume(agent, sessionId, resumeOptions = {}) {
      const events = await readEvents(sessionId);
      const start = events[0];
      const recorded = start?.type === 'session-start' ? start.model.spec : undefined;
      const { caller } = modelCaller(resumeOptions.model ?? options.model ?? recorded, agent);
      telemetry?.preload(events);
      return runUnderLease(leases, sessionId, (leaseLost) => resumeSession(agent, dependencies(caller), sessionId, { ...withTelemetry(resumeOptions), leaseLost }));
    },
    async decide(agent, sessionId, callId, decision, resumeOptions = {}) {
      // The approval is a write to the session: it needs the lease like a step does. resume() renews it (same owner).
      await acquireSessionLease(leases, sessionId);
      try {
        await recordApproval(resolvedJournal, clock, agent, sessionId, callId, decision);
      } catch (error) {
        await leases.store.release(sessionId, leases.owner);
        throw error;
      }
      if (!decision.approved) {
        const events = await readEvents(sessionId);
        const request = events.find((event) => event.type === 'tool-request' && event.callId === callId);
        if (request?.type === 'tool-request') {
          await recordRefusal({
            sessionId,
            turn: request.turn,
            callId,
            agent: agent.name,
            tool: request.tool,
            input: request.input,
            decision: 'deny',
            rule: 'approval:rejected',
            approver: decision.approver,
            error: { code: 'approval-rejected', message: decision.reason ?? 'Rejected by the approver.' },
          });
        }
      }
      return this.resume(agent, sessionId, resumeOptions);
    },
    events: readEvents,
    sessions: (listOptions) => resolvedJournal.listSessions(listOptions),
    async trace(sessionId) {
      return buildTraceTree(await readEvents(sessionId));
    },
    async close() {
      await retentionPurge;
      await callLogObserver?.flush();
      for (const store of callLogStores) await store.close();
      await telemetry?.close();
      if (leaseStore === undefined) await leases.store.close();
      await closeStore();
    },
  };
}
