import { resolve } from 'node:path';
import { KeelError } from '../errors/index.ts';
import { createId } from '../util/index.ts';
import { costOf, createModelFromSpec, defaultModelSpec } from '../model/index.ts';
import { hostedToolCost } from '../model/hosted-tools.ts';
import { gatewayFor } from '../model/route-types.ts';
import { checkRunModelSettings } from '../loop/model-settings.ts';
import { checkHostedToolPolicy } from './hosted-tool-policy.ts';
import { createToolPipeline } from '../tools/index.ts';
import { createAuditStage, createDenialAuditStage, createRefusalRecorder } from '../tools/stages/audit.ts';
import { createAuthorizeStage } from '../tools/stages/authorize.ts';
import { createInformationFlowStage } from '../tools/stages/information-flow.ts';
import { createIdempotencyStage } from '../tools/stages/idempotency.ts';
import { createRateLimitStage } from '../tools/stages/rate-limit.ts';
import { createSanitizeStage } from '../tools/stages/sanitize.ts';
import { createRedactor } from '../security/redaction.ts';
import { createMetricsRecording, createTelemetry } from './telemetry.ts';
import { acquireSessionLease, leaseOwnerId, runUnderLease } from './leased-run.ts';
import type { LeaseSettings } from './leased-run.ts';
import { createCallLogPolicy } from './call-log.ts';
import type { CallLogPolicy } from './call-log.ts';
import { createMemoryCallLog, createSqliteCallLog } from '../store/index.ts';
import { recordApproval, sessionBudgetOf, TreeBudget } from '../loop/index.ts';
import { createChildRunner } from './child-runner.ts';
import { refuseSelfApproval } from './approval-chain.ts';
import { buildTraceTree } from '../tracing/index.ts';
import type { AgentDefinition, ApprovalDecision, LoopDependencies, ModelCaller, RunOptions, SessionRun } from '../loop/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { Model } from '../spec/model.ts';
import { createBackends, createLimitStore } from './backends.ts';
import { admittedRun } from './admitted-run.ts';
import { createModelLimiter } from '../model/index.ts';
import type { SessionLane } from '../model/index.ts';
import { resolveKeelConfig } from './keel-config.ts';
import type { KeelConfig } from './keel-config.ts';
import type { Keel, KeelOptions, KeelRunOptions } from './keel-options.ts';
import { createWorkflowRuntime } from './workflow-runs.ts';
import { recordPlanDecisionUnderLease, resumeAgentSession, startAgentSession } from './plan-runs.ts';

export type { Keel, KeelOptions, KeelResumeOptions, KeelRunOptions, SessionDependencies } from './keel-options.ts';

/**
 * The composition root: configuration resolves here, once (argument, then environment variable, then default).
 * @example
 * ```ts
 * const keel = createKeel({ database: '.keel/keel.db', model: 'anthropic:claude-sonnet-4-6' });
 * const { status, output } = await keel.run(agent, 'Where is order 1042?').result;
 * ```
 */
export function createKeel(options: KeelOptions = {}): Keel {
  const config = resolveKeelConfig(options);
  const { env, cwd, clock } = config;
  const backends = createBackends(config, options);
  const { databasePath } = backends;
  const resolvedJournal = backends.journal;
  const resolvedBlobs = backends.blobs;
  const resolvedAudit = backends.audit;
  const idempotency = backends.idempotency;
  const limits = options.toolCallLimits === undefined ? {} : { toolCallLimits: options.toolCallLimits };
  const leases: LeaseSettings = { store: backends.leases, owner: leaseOwnerId(), ttlMs: config.leaseTtlMs, now: () => clock.now() };
  // Content that spans may carry (only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT is on) leaves the
  // process, so it is always redacted, even when tool output is not (`redaction: false`).
  const spanRedactor = createRedactor(options.redaction === false || options.redaction === undefined ? {} : options.redaction);
  const telemetry = createTelemetry(env, (text) => spanRedactor.redactText(text).text);
  // Every runtime records the session metrics; `metrics: false` turns them off.
  const metrics = options.metrics === false ? null : createMetricsRecording(env, options.metrics ?? {});
  let callLog: CallLogPolicy | null = null;
  const callLogStores: { close(): Promise<void> }[] = [];
  if (options.callLog !== undefined) {
    const accessControlledPath = options.callLog.accessControlledPath ?? (databasePath === null ? null : `${databasePath}.calls.db`);
    const sampledLog = backends.callLog('sampled');
    const auditCallLog = accessControlledPath === null ? (backends.durableAuditCallLog?.() ?? createMemoryCallLog({ channel: 'audit', clock })) : createSqliteCallLog({ path: resolve(cwd, accessControlledPath), channel: 'audit', clock });
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
    if (telemetry === null && callLogObserver === null && metrics === null) return runOptions;
    const own = runOptions.onUpdate;
    return {
      ...runOptions,
      onUpdate: (update) => {
        telemetry?.observe(update);
        metrics?.observe(update);
        if (update.type === 'event') callLogObserver?.observe(update.event);
        own?.(update);
      },
    };
  };
  const recordRefusal = createRefusalRecorder({ log: resolvedAudit, ...(options.redaction === undefined ? {} : { redaction: options.redaction }) });
  const tools =
    options.toolPipeline ??
    createToolPipeline({
      ...limits,
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
        createInformationFlowStage(),
        createAuthorizeStage(options.policy ?? {}),
        ...(options.rateLimits === undefined ? [] : [createRateLimitStage({ ...options.rateLimits, clock })]),
      ],
      executeStages: [
        createIdempotencyStage(idempotency),
        createAuditStage({ log: resolvedAudit }),
        createSanitizeStage({ blobs: resolvedBlobs, ...(options.redaction === undefined ? {} : { redaction: options.redaction }), ...(options.outputDetectors === undefined ? {} : { detectors: options.outputDetectors }) }),
      ],
    });

  // One limiter per Keel: every session's gateway queues in front of the same accounts (shared across processes via Redis).
  const limitStore = createLimitStore(config.limitStore);
  const { store: _given, redisUrl: _url, ...limiterOptions } = options.modelLimits === false || options.modelLimits === undefined ? {} : options.modelLimits;
  const limiter = limitStore === null ? undefined : createModelLimiter({ ...limiterOptions, store: limitStore.store, ownsStore: limitStore.owned, clock });
  // Calls without a lane of their own (child sessions, side models) belong to work already running.
  const limiting = (lane: SessionLane = { resumed: true }) => (limiter === undefined ? {} : { limiter, lane });

  const modelCaller = (choice: string | Model | undefined, agent: AgentDefinition, lane?: SessionLane): { caller: ModelCaller; spec: string | undefined } => {
    const { model, spec } = resolveModel(choice ?? agent.model ?? env.KEEL_MODEL ?? defaultModelSpec(env), config);
    return { caller: gatewayFor(model, { maxRetries: config.modelRetries, clock, ...limits, ...limiting(lane) }), spec };
  };

  const dependencies = (caller: ModelCaller): LoopDependencies => ({
    journal: resolvedJournal,
    blobs: resolvedBlobs,
    model: caller,
    clock,
    tools,
    price: (usage, modelId) => costOf(caller.provider, modelId, usage),
    hostedToolCost: (provider, uses) => hostedToolCost(provider, uses),
    children: childRunner,
    // Side models (an agent's verifier, quarantined reads) resolve like the agent's own: names, specs, Model objects.
    modelFor: (choice) => gatewayFor(resolveModel(choice, config).model, { maxRetries: config.modelRetries, clock, ...limits, ...limiting() }),
  });

  // Subagents and handoffs run as child sessions with the same backends, each under its own lease.
  const childRunner = createChildRunner({
    leases,
    journal: resolvedJournal,
    now: () => clock.now(),
    callerFor: (agent, recordedSpec) => modelCaller(recordedSpec ?? options.model, agent),
    dependencies,
    observe: withTelemetry,
  });

  // Workflows: model steps resolve models as agents do; agent steps run as child sessions through the child runner.
  const workflows = createWorkflowRuntime({
    leases,
    journal: resolvedJournal,
    blobs: resolvedBlobs,
    clock,
    children: childRunner,
    // The live tracer and the call log see a workflow's events as they see an agent's.
    observe: withTelemetry<RunOptions>({}).onUpdate,
    model: (choice) => {
      const { model, spec } = resolveModel(choice ?? options.model ?? env.KEEL_MODEL ?? defaultModelSpec(env), config);
      return { caller: gatewayFor(model, { maxRetries: config.modelRetries, clock, ...limits, ...limiting() }), spec };
    },
  });

  const readEvents = async (sessionId: string): Promise<SessionEvent[]> => {
    const events: SessionEvent[] = [];
    for await (const event of resolvedJournal.read(sessionId)) events.push(event);
    if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId} in ${databasePath ?? 'this journal'}; list them with \`keel sessions\`.`);
    return events;
  };

  /** Journals a decision and leaves the lease held: decide() resumes under it, recordDecision() releases it. */
  const recordDecisionUnderLease = async (agent: AgentDefinition, sessionId: string, callId: string, decision: ApprovalDecision): Promise<void> => {
    // The approval is a write to the session: it needs the lease like a step does. resume() renews it (same owner).
    await acquireSessionLease(leases, sessionId);
    try {
      await refuseSelfApproval(readEvents, sessionId, decision.approver);
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
  };

  return {
    databasePath,
    journal: resolvedJournal,
    blobs: resolvedBlobs,
    audit: resolvedAudit,
    tools,
    callLog,
    run(agent, taskOrOptions = {}) {
      const runOptions: KeelRunOptions = typeof taskOrOptions === 'string' ? { task: taskOrOptions } : taskOrOptions;
      const input = runOptions.task ?? agent.defaultTask;
      if (input === undefined || input === null || input.trim() === '') {
        throw new KeelError('invalid-argument', `Agent "${agent.name}" has no default task; give one, for example \`keel run <agent-module> "your task"\`.`);
      }
      // Hosted tools pass the tool policy before anything starts; the run's model settings are checked like the agent's.
      checkHostedToolPolicy(agent, options.policy);
      if (runOptions.modelSettings !== undefined) checkRunModelSettings(runOptions.modelSettings, `Run of agent "${agent.name}" modelSettings`);
      const lane: SessionLane = { ...(runOptions.priority === undefined ? {} : { priority: runOptions.priority }), ...(runOptions.tenant === undefined ? {} : { tenant: runOptions.tenant }) };
      const { caller, spec } = modelCaller(runOptions.model ?? options.model, agent, lane);
      const sessionId = runOptions.sessionId ?? createId('ses', clock.now());
      const budget = sessionBudgetOf(runOptions.budget);
      const treeBudget = TreeBudget.root(sessionId, budget ?? { tokens: null, costUsd: null });
      const timeMs = runOptions.budget?.timeMs;
      if (timeMs !== undefined && !(timeMs > 0 && Number.isFinite(timeMs))) throw new KeelError('invalid-config', `budget.timeMs must be a positive number of milliseconds, got ${timeMs}.`);
      const admission = limiter === undefined || options.modelLimits === false || options.modelLimits?.admission === undefined ? null : limiter;
      const leased = (): SessionRun => runUnderLease(leases, sessionId, (leaseLost) =>
        startAgentSession(agent, dependencies(caller), {
          ...withTelemetry(runOptions),
          sessionId,
          leaseLost: withHandOff(leaseLost, runOptions.handOff),
          input,
          budget,
          treeBudget,
          deadlineCap: timeMs === undefined ? null : clock.now() + timeMs,
          ...(spec === undefined ? {} : { modelSpec: spec }),
        }),
      );
      if (admission === null) return leased();
      return admittedRun(sessionId, () => admission.admit({ account: caller.provider, ...(lane.tenant === undefined ? {} : { tenant: lane.tenant }) }), leased);
    },
    async resume(agent, sessionId, resumeOptions = {}) {
      checkHostedToolPolicy(agent, options.policy);
      const events = await readEvents(sessionId);
      const start = events[0];
      const recorded = start?.type === 'session-start' ? start.model.spec : undefined;
      const choice = resumeOptions.model ?? options.model ?? recorded;
      if (choice === undefined && start?.type === 'session-start') throw unrecordedModel(sessionId, start.model.provider, start.model.modelId);
      const { caller } = modelCaller(choice, agent, {
        resumed: true,
        ...(resumeOptions.priority === undefined ? {} : { priority: resumeOptions.priority }),
        ...(resumeOptions.tenant === undefined ? {} : { tenant: resumeOptions.tenant }),
      });
      telemetry?.preload(events);
      metrics?.preload(events);
      const treeBudget = TreeBudget.root(sessionId, start?.type === 'session-start' ? (start.budget ?? { tokens: null, costUsd: null }) : { tokens: null, costUsd: null });
      return runUnderLease(leases, sessionId, (leaseLost) => resumeAgentSession(agent, dependencies(caller), sessionId, { ...withTelemetry(resumeOptions), leaseLost: withHandOff(leaseLost, resumeOptions.handOff), treeBudget }, start));
    },
    async decide(agent, sessionId, callId, decision, resumeOptions = {}) {
      await recordDecisionUnderLease(agent, sessionId, callId, decision);
      return this.resume(agent, sessionId, resumeOptions);
    },
    async decidePlan(agent, sessionId, decision, resumeOptions = {}) {
      await recordPlanDecisionUnderLease({ leases, journal: resolvedJournal, clock, readEvents }, agent, sessionId, decision);
      return this.resume(agent, sessionId, resumeOptions);
    },
    async recordPlanDecision(agent, sessionId, decision) {
      try {
        await recordPlanDecisionUnderLease({ leases, journal: resolvedJournal, clock, readEvents }, agent, sessionId, decision);
      } finally {
        await leases.store.release(sessionId, leases.owner);
      }
    },
    async recordDecision(agent, sessionId, callId, decision) {
      try {
        await recordDecisionUnderLease(agent, sessionId, callId, decision);
      } finally {
        await leases.store.release(sessionId, leases.owner);
      }
    },
    sessionDependencies(agent, dependencyOptions = {}) {
      const { caller, spec } = modelCaller(dependencyOptions.model ?? options.model, agent);
      return { dependencies: dependencies(caller), modelSpec: spec, observe: withTelemetry<RunOptions>({}).onUpdate, underLease: (sessionId, start) => runUnderLease(leases, sessionId, start) };
    },
    runChild: (request) => childRunner.run(request),
    runWorkflow: (workflow, input, workflowOptions) => workflows.run(workflow, input, workflowOptions),
    resumeWorkflow: (workflow, sessionId, workflowOptions) => workflows.resume(workflow, sessionId, workflowOptions),
    events: readEvents,
    sessions: (listOptions) => resolvedJournal.listSessions(listOptions),
    async trace(sessionId) {
      return buildTraceTree(await readEvents(sessionId));
    },
    metrics: () => metrics?.metrics ?? Promise.resolve(null),
    memoryStore: (memoryOptions) => backends.memoryStore(memoryOptions),
    async close() {
      await retentionPurge;
      await callLogObserver?.flush();
      for (const store of callLogStores) await store.close();
      await telemetry?.close();
      await metrics?.close();
      await backends.close();
      await limiter?.close();
    },
  };
}

/**
 * A registered name, a provider spec, or a Model object; a Model that was registered is recorded by its name, so that
 * a later process resolves the same one.
 */
function resolveModel(choice: string | Model, config: KeelConfig): { model: Model; spec: string | undefined } {
  if (typeof choice !== 'string') {
    const name = [...config.models.entries()].find(([, model]) => model === choice)?.[0];
    return { model: choice, spec: name };
  }
  const registered = config.models.get(choice);
  if (registered !== undefined) return { model: registered, spec: choice };
  return { model: createModelFromSpec(choice, { env: config.env, cwd: config.cwd }), spec: choice };
}

/** The loop stops before its next write when the lease is lost or the caller hands the session off. */
function withHandOff(leaseLost: AbortSignal, handOff: AbortSignal | undefined): AbortSignal {
  return handOff === undefined ? leaseLost : AbortSignal.any([leaseLost, handOff]);
}

function unrecordedModel(sessionId: string, provider: string, modelId: string): KeelError {
  return new KeelError(
    'invalid-argument',
    `Session ${sessionId} ran with a model object (${provider} ${modelId}) that was not registered by name, so this process cannot tell which model to continue with. Register it with createKeel({ models: { name: model } }) and run with { model: 'name' }, or pass { model } to resume/decide.`,
    { details: { sessionId, provider, modelId } },
  );
}
