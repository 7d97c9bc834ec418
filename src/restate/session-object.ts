import type * as restate from '@restatedev/restate-sdk';
import { KeelError, toKeelError } from '../errors/index.ts';
import { recordApproval, resumeSession, startSession } from '../loop/index.ts';
import type { AgentDefinition, ApprovalDecision, LoopDependencies, PendingApproval, SessionResult, SessionUpdate } from '../loop/index.ts';
import type { Keel, SessionDependencies } from '../runtime/index.ts';
import { refuseSelfApproval } from '../runtime/approval-chain.ts';
import type { SessionEvent, SessionStartEvent } from '../spec/events.ts';
import { createRefusalRecorder } from '../tools/stages/audit.ts';
import { validateInput } from '../tools/index.ts';
import { DurableSteps } from './durable-steps.ts';
import { durableDependencies } from './durable-dependencies.ts';
import { RecallingJournal } from './recalling-journal.ts';
import { StepClock } from './step-clock.ts';
import { asRestateError, parseApproval, parseSessionRequest } from './session-request.ts';

/** The body of `run`: which agent, and the task of a new session (ignored when the session exists: it continues). */
export interface RestateSessionRequest {
  readonly agent: string;
  readonly task?: string;
  /** A registered model name or provider spec; a continued session keeps the one it recorded. */
  readonly model?: string;
}

/** The body of `approve`: a person's decision on one call that waits for approval. */
export interface RestateApproval extends ApprovalDecision {
  readonly callId: string;
}

/** The answer of `approve`: whether a call of that id was waiting, and which calls still wait. */
export interface RestateApprovalReply {
  readonly handled: boolean;
  readonly waiting: readonly string[];
}

export interface SessionObjectOptions {
  readonly keel: Keel;
  readonly agents: ReadonlyMap<string, AgentDefinition>;
  readonly serviceName: string;
  /** The module of each agent by name, recorded in its sessions' session-start so that the CLI can load the agent. */
  readonly agentModules?: Readonly<Record<string, string>>;
}

/** Object state: awakeable ids by call id, for `approve` (a shared handler) to resolve. */
const approvalsKey = 'approvals';

/**
 * A Keel session as a Restate virtual object keyed by session id, so that one invocation at a time drives it. `run`
 * starts the session (or continues it), with each model and tool call a durable step; a call that needs a person
 * waits on an awakeable that `approve` resolves, raced against the session's deadline as a durable timer. Keel's
 * journal receives every event, as when the session runs in process.
 */
/** The Restate SDK, loaded when an endpoint is created (it takes most of a second to load). */
export type RestateSdk = typeof restate;

export function createSessionObject(sdk: RestateSdk, options: SessionObjectOptions) {
  return sdk.object({
    name: options.serviceName,
    description: 'Keel agent sessions, one virtual object per session id.',
    handlers: {
      run: async (ctx: restate.ObjectContext, body: unknown): Promise<SessionResult> => {
        try {
          return await runSession(ctx, { ...options, sdk }, parseSessionRequest(body, ctx.key));
        } catch (error) {
          throw asRestateError(sdk, error);
        }
      },
      approve: sdk.handlers.object.shared(async (ctx: restate.ObjectSharedContext, body: unknown): Promise<RestateApprovalReply> => {
        let approval: RestateApproval;
        try {
          approval = parseApproval(body, ctx.key);
        } catch (error) {
          throw asRestateError(sdk, error);
        }
        const waiting = (await ctx.get<Record<string, string>>(approvalsKey)) ?? {};
        const awakeable = waiting[approval.callId];
        const others = Object.keys(waiting).filter((callId) => callId !== approval.callId);
        if (awakeable === undefined) return { handled: false, waiting: others };
        const refusal = await ctx.run('check approval', () => approvalRefusal(options, ctx.key, approval));
        if (refusal !== null) throw new sdk.TerminalError(refusal);
        const decision: ApprovalDecision = {
          approved: approval.approved,
          approver: approval.approver,
          ...(approval.reason === undefined ? {} : { reason: approval.reason }),
          ...(approval.editedInput === undefined ? {} : { editedInput: approval.editedInput }),
        };
        ctx.resolveAwakeable(awakeable, decision);
        return { handled: true, waiting: others };
      }),
      pending: sdk.handlers.object.shared(async (ctx: restate.ObjectSharedContext): Promise<readonly string[]> => Object.keys((await ctx.get<Record<string, string>>(approvalsKey)) ?? {})),
    },
    options: {
      // A session waits for people: its journal must outlive the longest approval, and a crash is retried soon.
      retryPolicy: { initialInterval: 100, maxInterval: 5_000, exponentiationFactor: 2 },
    },
  });
}

/** One attempt of a session's invocation: what its steps run with. */
interface Attempt {
  readonly ctx: restate.ObjectContext;
  readonly options: SessionObjectOptions & { readonly sdk: RestateSdk };
  readonly sessionId: string;
  readonly agent: AgentDefinition;
  readonly journal: RecallingJournal;
  readonly clock: StepClock;
  readonly steps: DurableSteps;
  /** The session-start the journal held when the invocation first ran; null for a new session. */
  readonly recordedStart: SessionStartEvent | null;
  readonly modelSpec: string | undefined;
  readonly dependencies: LoopDependencies;
  readonly runOptions: { readonly onUpdate?: (update: SessionUpdate) => void };
  readonly underLease: SessionDependencies['underLease'];
}

async function runSession(ctx: restate.ObjectContext, options: SessionObjectOptions & { readonly sdk: RestateSdk }, request: RestateSessionRequest): Promise<SessionResult> {
  const attempt = await prepareAttempt(ctx, options, request);
  const { recordedStart, agent, sessionId } = attempt;
  if (recordedStart === null && (request.task === undefined || request.task.trim() === '') && agent.defaultTask === undefined) {
    throw new KeelError('invalid-argument', `Session ${sessionId} does not exist yet and the request names no task; send {"agent": "${agent.name}", "task": "…"}.`);
  }
  const agentModule = options.agentModules?.[agent.name];
  const first =
    recordedStart === null
      ? await attempt.underLease(sessionId, (leaseLost) =>
          startSession(agent, attempt.dependencies, {
            ...attempt.runOptions,
            leaseLost,
            sessionId,
            input: request.task ?? agent.defaultTask ?? '',
            ...(attempt.modelSpec === undefined ? {} : { modelSpec: attempt.modelSpec }),
            ...(agentModule === undefined ? {} : { agentModule }),
          }),
        ).result
      : await resume(attempt);
  const result = await waitForPeople(attempt, first);
  ctx.clear(approvalsKey);
  return result;
}

async function prepareAttempt(ctx: restate.ObjectContext, options: SessionObjectOptions & { readonly sdk: RestateSdk }, request: RestateSessionRequest): Promise<Attempt> {
  const { keel } = options;
  const sessionId = ctx.key;
  const agent = agentNamed(options, request.agent);
  const clock = new StepClock(await ctx.date.now());
  // Where the session stood when this invocation first ran: every attempt starts or continues from the same point.
  const horizon = await ctx.run('journal tail', () => keel.journal.lastSeq(sessionId));
  const journal = await RecallingJournal.open({ journal: keel.journal, sessionId, horizon });
  const recordedStart = horizon === 0 ? null : await sessionStart(journal, sessionId);
  const model = recordedStart?.model.spec ?? request.model;
  const { dependencies: base, modelSpec, observe, underLease } = keel.sessionDependencies(agent, model === undefined ? {} : { model });
  const steps = new DurableSteps({ run: (name, action) => ctx.run(name, action), startTogether: (started) => options.sdk.RestatePromise.race(started as restate.RestatePromise<unknown>[]) }, clock);
  // Live telemetry saw the recalled events when the crashed attempt wrote them.
  const onUpdate = observe === undefined ? undefined : (update: SessionUpdate): void => {
    if (update.type !== 'event' || !journal.wasRecalled(update.event)) observe(update);
  };
  return {
    ctx,
    options,
    sessionId,
    agent,
    journal,
    clock,
    steps,
    recordedStart,
    modelSpec,
    dependencies: durableDependencies({ base, steps, journal, clock }),
    runOptions: onUpdate === undefined ? {} : { onUpdate },
    underLease,
  };
}

/** Continues the session under Keel's lease too: `keel sessions` shows it running, and `keel resume` elsewhere is refused. */
function resume(attempt: Attempt): Promise<SessionResult> {
  const { agent, dependencies, sessionId, runOptions } = attempt;
  return attempt.underLease(sessionId, (leaseLost) => resumeSession(agent, dependencies, sessionId, { ...runOptions, leaseLost })).result;
}

/** While calls wait for a person: an awakeable per call, raced against the deadline; each answer is journaled, then the session continues. */
async function waitForPeople(attempt: Attempt, first: SessionResult): Promise<SessionResult> {
  const { ctx, options, agent, sessionId, journal, clock, steps } = attempt;
  const deadlineAt = (attempt.recordedStart ?? (await sessionStart(journal, sessionId))).limits.deadlineAt;
  const waits = new Map<string, { readonly id: string; readonly promise: restate.RestatePromise<ApprovalDecision> }>();
  let result = first;
  while (result.status === 'awaiting-approval') {
    const pending = ownApprovals(sessionId, result.pendingApprovals);
    for (const call of pending) if (!waits.has(call.callId)) waits.set(call.callId, ctx.awakeable<ApprovalDecision>());
    ctx.set(approvalsKey, Object.fromEntries(pending.map((call) => [call.callId, waits.get(call.callId)?.id ?? ''])));
    const answer = await nextAnswer(ctx, { sdk: options.sdk, pending, waits, deadlineAt, clock });
    clock.advance(await ctx.date.now());
    for (const [callId, decision] of answer) {
      await recordApproval(journal, clock, agent, sessionId, callId, decision);
      if (!decision.approved) await steps.run(`audit rejection ${callId}`, () => auditRejection(options, { sessionId, agent, callId, decision }));
      waits.delete(callId);
    }
    result = await resume(attempt);
  }
  return result;
}

interface Waiting {
  readonly sdk: RestateSdk;
  readonly pending: readonly PendingApproval[];
  readonly waits: ReadonlyMap<string, { readonly promise: restate.RestatePromise<ApprovalDecision> }>;
  readonly deadlineAt: number | null;
  readonly clock: StepClock;
}

/**
 * The first of: a person's decision on any waiting call, or the session's deadline (a durable timer). At the deadline
 * every waiting call is rejected in the deadline's name, and the loop's deadline guard ends the session.
 */
async function nextAnswer(ctx: restate.ObjectContext, waiting: Waiting): Promise<ReadonlyArray<readonly [string, ApprovalDecision]>> {
  const { sdk, pending, waits, deadlineAt, clock } = waiting;
  const decisions = pending.map((call) => {
    const wait = waits.get(call.callId);
    if (wait === undefined) throw new KeelError('internal', `No awakeable for call ${call.callId}.`);
    return wait.promise.map((decision, failure) => {
      // Only `approve` resolves these; a rejected awakeable (an operator's intervention in the cluster) fails the run.
      if (failure !== undefined) throw failure;
      return { callId: call.callId, decision: decision ?? null };
    });
  });
  const timer = deadlineAt === null ? [] : [ctx.sleep(Math.max(0, deadlineAt - clock.now()), 'session deadline').map(() => ({ callId: null, decision: null }))];
  const first = await sdk.RestatePromise.race([...decisions, ...timer]);
  if (first.callId !== null && first.decision !== null) return [[first.callId, first.decision]];
  const expired: ApprovalDecision = { approved: false, approver: 'keel:deadline', reason: 'the session deadline passed before a person decided' };
  return pending.map((call) => [call.callId, expired] as const);
}

function ownApprovals(sessionId: string, pending: readonly PendingApproval[]): readonly PendingApproval[] {
  const inChild = pending.find((call) => call.sessionId !== undefined && call.sessionId !== sessionId);
  if (inChild !== undefined) {
    throw new KeelError('invalid-config', `Session ${sessionId} waits for an approval inside its subagent session ${inChild.sessionId ?? ''} (call ${inChild.callId}); on Restate only a session's own calls can wait for approval. Give the subagent's tool a policy that does not ask, or run this agent with keel run.`);
  }
  return pending;
}

function agentNamed(options: SessionObjectOptions, name: string | undefined): AgentDefinition {
  const agent = name === undefined ? undefined : options.agents.get(name);
  if (agent === undefined) {
    throw new KeelError('invalid-argument', `This endpoint serves no agent named "${String(name)}"; it serves ${[...options.agents.keys()].map((known) => `"${known}"`).join(', ')}. Send {"agent": "<name>", "task": "…"}.`);
  }
  return agent;
}

async function sessionStart(journal: RecallingJournal, sessionId: string): Promise<SessionStartEvent> {
  for await (const event of journal.read(sessionId)) {
    if (event.type === 'session-start') return event;
    break;
  }
  throw new KeelError('journal-conflict', `Session ${sessionId} has events but no session-start; check the database with \`keel check-db\`.`, { retryable: false });
}

/** Why this decision cannot be applied (an agent approving its own calls, edited arguments the tool refuses), or null. */
async function approvalRefusal(options: SessionObjectOptions, sessionId: string, approval: RestateApproval): Promise<string | null> {
  const readEvents = async (id: string): Promise<SessionEvent[]> => {
    const events: SessionEvent[] = [];
    for await (const event of options.keel.journal.read(id)) events.push(event);
    return events;
  };
  try {
    if (approval.approver.trim() === '') throw new KeelError('invalid-argument', 'An approval needs the name of the approver.');
    await refuseSelfApproval(readEvents, sessionId, approval.approver);
    if (!approval.approved || approval.editedInput === undefined) return null;
    const events = await readEvents(sessionId);
    const start = events[0];
    const request = events.find((event) => event.type === 'tool-request' && event.callId === approval.callId);
    const tool = start?.type === 'session-start' && request?.type === 'tool-request' ? options.agents.get(start.agent.name)?.tools.get(request.tool) : undefined;
    if (tool === undefined) return null;
    const validated = validateInput(tool, approval.editedInput);
    return 'error' in validated ? `The edited arguments are invalid: ${validated.error.message}` : null;
  } catch (error) {
    return toKeelError(error).message;
  }
}

interface Rejection {
  readonly sessionId: string;
  readonly agent: AgentDefinition;
  readonly callId: string;
  readonly decision: ApprovalDecision;
}

/** A rejected call is audited as a denial, as `keel reject` does for a session in process. */
async function auditRejection(options: SessionObjectOptions, rejection: Rejection): Promise<null> {
  const { sessionId, agent, callId, decision } = rejection;
  for await (const event of options.keel.journal.read(sessionId)) {
    if (event.type !== 'tool-request' || event.callId !== callId) continue;
    await createRefusalRecorder({ log: options.keel.audit })({
      sessionId,
      turn: event.turn,
      callId,
      agent: agent.name,
      tool: event.tool,
      input: event.input,
      decision: 'deny',
      rule: 'approval:rejected',
      approver: decision.approver,
      error: { code: 'approval-rejected', message: decision.reason ?? 'Rejected by the approver.' },
    });
    break;
  }
  return null;
}
