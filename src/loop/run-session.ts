import { KeelError, isKeelError } from '../errors/index.ts';
import { createId } from '../util/index.ts';
import { assertNever } from '../util/assert-never.ts';
import { createBoundary } from '../context/index.ts';
import type { SessionBudget, SessionEvent, SessionStartEvent } from '../spec/events.ts';
import { AnomalyDetector } from '../tracing/anomalies.ts';
import type { AnomalyBody } from '../tracing/anomalies.ts';
import type { AgentDefinition } from './define-agent.ts';
import { checkBeforeTurn, checkIdenticalCalls } from './guards.ts';
import type { LoopDependencies, PendingApproval, RunOptions, SessionResult, SessionRun, SessionUpdate } from './loop-types.ts';
import { nextStep } from './next-step.ts';
import type { NextStep, StepInputs } from './next-step.ts';
import { compensate, endBadly, endCompensated, toolTraits } from './compensation.ts';
import { cancellationError, unknownOutcomeNote } from './loop-context.ts';
import type { LoopContext } from './loop-context.ts';
import { callModel, guardEnd } from './model-step.ts';
import { decideTools, runTools } from './tool-steps.ts';
import { verifiedEnd } from './verify-step.ts';
import { toolRequestBodies } from './tool-requests.ts';
import { recordMemories } from './memory-recording.ts';
import { foldEvents, initialState } from './session-state.ts';
import type { SessionState } from './session-state.ts';
import { SessionWriter, leaseLostError } from './session-writer.ts';
import { UpdateQueue } from './update-queue.ts';
import { withBuiltinTools } from './builtin-tools.ts';
import { chargeTreeBudget, treeBudgetTrip } from './tree-guard.ts';

export interface StartOptions extends RunOptions {
  readonly input: string;
  readonly sessionId?: string;
  readonly parentSessionId?: string;
  /** Recorded in session-start so that a resume can find the agent and model again. */
  readonly agentModule?: string;
  readonly modelSpec?: string;
  /** This session's own budget, journaled in its session-start (the root's, or a child's slice). */
  readonly budget?: SessionBudget | null;
  /** A deadline (epoch ms) the session's may not pass: its parent's, or the root's time budget. */
  readonly deadlineCap?: number | null;
}

export function startSession(declared: AgentDefinition, dependencies: LoopDependencies, options: StartOptions): SessionRun {
  const agent = withBuiltinTools(declared, dependencies);
  const sessionId = options.sessionId ?? createId('ses', dependencies.clock.now());
  return launch({ sessionId, options, agent, dependencies }, async (onWritten) => {
    const now = dependencies.clock.now();
    const start: SessionStartEvent = {
      v: 1,
      sessionId,
      seq: 1,
      at: now,
      type: 'session-start',
      agent: {
        name: agent.name,
        instructionsHash: agent.instructionsHash,
        tools: [...agent.tools.keys()],
        ...(options.agentModule === undefined ? {} : { module: options.agentModule }),
        ...(agent.description === undefined ? {} : { description: agent.description }),
        ...(agent.version === undefined ? {} : { version: agent.version }),
        toolDescriptions: Object.fromEntries([...agent.tools.values()].map((tool) => [tool.name, tool.description.slice(0, 300)])),
      },
      model: { provider: dependencies.model.provider, modelId: dependencies.model.modelId, ...(options.modelSpec === undefined ? {} : { spec: options.modelSpec }) },
      input: options.input,
      limits: { ...agent.limits, deadlineAt: earliest(agent.limits.deadlineMs === null ? null : now + agent.limits.deadlineMs, options.deadlineCap ?? null) },
      ...(options.budget == null ? {} : { budget: options.budget }),
      ...(options.parentSessionId === undefined ? {} : { parentSessionId: options.parentSessionId }),
      ...(agent.context === null && !agent.injection.trustLayout ? {} : { contextBoundary: createBoundary() }),
    };
    if (options.leaseLost?.aborted === true) throw leaseLostError(sessionId, options.leaseLost);
    const written = await writeStart(dependencies, start);
    onWritten(written);
    return { state: initialState(written), history: [] };
  });
}

/**
 * Continues a session from its journal: completed steps are not repeated, and a tool call without an outcome (the
 * process stopped while it ran) runs again with the same idempotency key. A call journaled as `tool-outcome-unknown`
 * has an outcome: it is never run again by a resume (see `settleAfterCancel` in tool-steps.ts).
 */
export function resumeSession(declared: AgentDefinition, dependencies: LoopDependencies, sessionId: string, options: RunOptions = {}): SessionRun {
  const agent = withBuiltinTools(declared, dependencies);
  return launch({ sessionId, options, agent, dependencies }, async () => {
    const events: SessionEvent[] = [];
    for await (const event of dependencies.journal.read(sessionId)) events.push(event);
    if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId} in this journal; list sessions with \`keel sessions\`.`);
    const state = foldEvents(events);
    if (state.start.agent.name !== agent.name) {
      throw new KeelError('invalid-argument', `Session ${sessionId} was started by agent "${state.start.agent.name}", not "${agent.name}".`);
    }
    return { state, history: events };
  });
}

interface Launch {
  readonly sessionId: string;
  readonly options: RunOptions;
  readonly agent: AgentDefinition;
  readonly dependencies: LoopDependencies;
}

type Loader = (onWritten: (event: SessionEvent) => void) => Promise<{ state: SessionState; history: readonly SessionEvent[] }>;

function launch(run: Launch, load: Loader): SessionRun {
  const { sessionId, options, agent, dependencies } = run;
  const queue = new UpdateQueue<SessionUpdate>();
  // Only the returned run holds the queue: a caller that drops the run (it awaits `result` alone) can never iterate
  // it, so the updates buffered for a late iterator go with it instead of living as long as the session.
  const updates = new WeakRef(queue);
  const emit = (update: SessionUpdate): void => {
    options.onUpdate?.(update);
    updates.deref()?.push(update);
  };
  const detector = dependencies.anomalies === false ? null : new AnomalyDetector(dependencies.anomalies ?? {});
  const anomalies: AnomalyBody[] = [];
  const onWritten = (event: SessionEvent): void => {
    chargeTreeBudget(options.treeBudget, event);
    emit({ type: 'event', event });
  };
  // Signals are judged on what the state has, held events included, so they are journaled before the session ends.
  const onFolded = detector === null ? undefined : (event: SessionEvent): void => void anomalies.push(...detector.push(event));
  const result = (async (): Promise<SessionResult> => {
    // The session's start is written by the loader, not the writer: folded and reported here.
    const { state, history } = await load((event) => {
      onFolded?.(event);
      onWritten(event);
    });
    options.treeBudget?.preload(state.usage, state.costUsd);
    if (detector !== null) anomalies.push(...detector.preload(history));
    const writer = new SessionWriter({ journal: dependencies.journal, clock: dependencies.clock, state, onWritten, ...(onFolded === undefined ? {} : { onFolded }), ...(options.leaseLost === undefined ? {} : { leaseLost: options.leaseLost }) });
    const context: LoopContext = {
      agent,
      dependencies,
      writer,
      traits: toolTraits(agent),
      signal: options.signal ?? new AbortController().signal,
      options,
      emit,
      anomalies,
      // On resume, the calls before this run were already checked against the reflection threshold.
      memoryProgress: { reflectedAfterCalls: state.completedCalls.length },
      suspendedChildren: new Map(),
    };
    try {
      await drive(context);
    } catch (error) {
      // Events the writer still holds are written before the run reports its error (a no-op when nothing is held, and
      // when the writer failed: then the first error is the one to report).
      await writer.flush().catch(() => undefined);
      throw error;
    }
    await writer.flush();
    return resultOf(writer.state, context.suspendedChildren);
  })();
  result.then(
    () => updates.deref()?.close(),
    (error: unknown) => updates.deref()?.close(error),
  );
  return iterableRun(sessionId, result, queue);
}

/** Built outside `launch` so that the queue is in no closure scope the running session keeps alive. */
function iterableRun(sessionId: string, result: Promise<SessionResult>, queue: UpdateQueue<SessionUpdate>): SessionRun {
  return { sessionId, result, [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator]() };
}

function resultOf(state: SessionState, suspendedChildren: ReadonlyMap<string, readonly PendingApproval[]>): SessionResult {
  const end = state.end;
  if (end === null) {
    const pendingApprovals = [...state.toolCalls.values()]
      .filter((call) => call.outcome === null && call.decision?.decision === 'ask' && call.approval === null)
      .map((call): PendingApproval => ({ callId: call.request.callId, tool: call.request.tool, input: call.request.input, rule: call.decision?.rule ?? '', reason: call.decision?.reason ?? '' }))
      .concat([...suspendedChildren.values()].flat());
    if (pendingApprovals.length === 0) throw new KeelError('internal', `Session ${state.sessionId} stopped without a session-end event.`);
    return { sessionId: state.sessionId, status: 'awaiting-approval', pendingApprovals, output: null, error: null, turns: state.turn, usage: state.usage, costUsd: state.costUsd };
  }
  return { sessionId: state.sessionId, status: end.status, pendingApprovals: [], output: end.output, error: end.error, turns: end.turns, usage: end.usage, costUsd: end.costUsd };
}

/** What the next step depends on besides the journal, read fresh before every step. */
function stepInputs(context: LoopContext): StepInputs {
  const { agent, options, signal } = context;
  const memory = agent.memory;
  return {
    traits: context.traits,
    pendingAnomalies: context.anomalies,
    cancellation: signal.aborted ? cancellationError(signal) : null,
    suspendedCalls: new Set(context.suspendedChildren.keys()),
    leaseLost: options.leaseLost?.aborted === true ? leaseLostError(context.writer.state.sessionId, options.leaseLost) : null,
    memory:
      memory === null
        ? null
        : {
            recordToolResults: memory.recordToolResults !== undefined && memory.recordToolResults !== false,
            reflects: memory.reflection !== undefined && memory.reflection !== false,
            reflectedAfterCalls: context.memoryProgress.reflectedAfterCalls,
          },
  };
}

/**
 * The driver: fold, ask for the one next step, take it, until the session ends or waits for a person. A step whose
 * append the journal refused because an event cannot be serialised ends the session failed with that error: the
 * same event would be refused on every resume, so leaving the session open would leave it open for good.
 */
async function drive(context: LoopContext): Promise<void> {
  let refused = false;
  for (;;) {
    const step = nextStep(context.writer.state, stepInputs(context));
    if (step.kind === 'finished' || step.kind === 'await-approval') return;
    try {
      await take(context, step);
    } catch (thrown) {
      const state = context.writer.state;
      if (refused || state.end !== null || state.compensation !== null || !isUnserializableEvent(thrown, state.sessionId)) throw thrown;
      refused = true;
      await endBadly(context, { status: 'failed', error: thrown });
    }
  }
}

/** The journal's refusal of an event JSON cannot represent: `invalid-argument` naming the event's session, seq and type. */
function isUnserializableEvent(thrown: unknown, sessionId: string): thrown is KeelError {
  if (!isKeelError(thrown) || thrown.code !== 'invalid-argument') return false;
  const { details } = thrown;
  return details.sessionId === sessionId && typeof details.seq === 'number' && typeof details.type === 'string';
}

async function take(context: LoopContext, step: Exclude<NextStep, { kind: 'finished' | 'await-approval' }>): Promise<void> {
  const { writer, dependencies } = context;
  const state = writer.state;
  switch (step.kind) {
    case 'stop':
      throw step.error;
    case 'record-anomalies': {
      const anomalies = context.anomalies.splice(0);
      await writer.append(anomalies);
      return;
    }
    case 'record-memories':
      return recordMemories(context);
    case 'cancel': {
      const note = unknownOutcomeNote(state);
      const error = note === '' ? step.error : new KeelError(step.error.code, `${step.error.message}${note}`, { cause: step.error, details: step.error.details });
      return endBadly(context, { status: 'cancelled', error });
    }
    case 'complete':
      // With a verifier that checks answers, its decision is journaled with the end it led to.
      await writer.append(await verifiedEnd(context, step.output));
      return;
    case 'fail':
      return endBadly(context, { status: 'failed', error: step.error });
    case 'start-turn': {
      const trip = checkBeforeTurn(state, dependencies.clock.now()) ?? treeBudgetTrip(state, context.options.treeBudget);
      // The turn starts in the same append as its context and model request: one commit instead of two.
      return trip === null ? callModel(context, [{ type: 'turn-start', turn: state.turn + 1 }]) : guardEnd(context, trip);
    }
    case 'call-model':
      return callModel(context, []);
    case 'request-tools': {
      const trip = checkIdenticalCalls(state, step.calls);
      if (trip !== null) return guardEnd(context, trip);
      await writer.append(toolRequestBodies(state, step.calls, context.agent.toolCalls.maxPerMessage));
      return;
    }
    case 'decide-tools':
      return decideTools(context, step.callIds);
    case 'run-tools':
      return runTools(context, step.callIds);
    case 'compensate':
      return compensate(context, step.call);
    case 'end-compensated':
      return endCompensated(context);
    default:
      return assertNever(step);
  }
}

/** Appends the session-start; a journal replaying a durable execution may answer with the one an earlier attempt stored. */
async function writeStart(dependencies: LoopDependencies, start: SessionStartEvent): Promise<SessionStartEvent> {
  const { journal } = dependencies;
  if (journal.appendOrRecall === undefined) {
    await journal.append(start.sessionId, [start], 0);
    return start;
  }
  const [stored] = await journal.appendOrRecall(start.sessionId, [start], 0);
  if (stored?.type !== 'session-start') throw new KeelError('journal-conflict', `Session ${start.sessionId} begins with ${stored?.type ?? 'no event'}, not a session-start.`);
  return stored;
}

/** The earlier of two deadlines, either of which may be absent. */
function earliest(first: number | null, second: number | null): number | null {
  if (first === null) return second;
  return second === null ? first : Math.min(first, second);
}
