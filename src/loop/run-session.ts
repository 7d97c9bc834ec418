import { KeelError, toKeelError } from '../errors/index.ts';
import { createId, linkedSignal } from '../util/index.ts';
import { createBoundary } from '../context/index.ts';
import { contextForTurn } from './plan-turn-context.ts';
import { toToolSpec } from '../tools/index.ts';
import type { EventBody, SessionEvent, SessionStartEvent } from '../spec/events.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import type { AgentDefinition } from './define-agent.ts';
import { checkBeforeTurn, checkBudgets, checkDeadline, checkIdenticalCalls } from './guards.ts';
import type { GuardTrip } from './guards.ts';
import type { LoopDependencies, RunOptions, SessionResult, SessionRun, SessionUpdate } from './loop-types.ts';
import { nextStep } from './next-step.ts';
import type { ToolTraits } from './next-step.ts';
import { compensate, endBadly, toolTraits } from './compensation.ts';
import { decideTools, runTools, toolRequest } from './tool-steps.ts';
import { foldEvents, initialState } from './session-state.ts';
import type { SessionState } from './session-state.ts';
import { SessionWriter } from './session-writer.ts';
import { UpdateQueue } from './update-queue.ts';
import { withBuiltinTools } from './builtin-tools.ts';
import { recordMemories } from './memory-recording.ts';
import { AnomalyDetector } from '../tracing/anomalies.ts';
import type { AnomalyBody } from '../tracing/anomalies.ts';

export interface StartOptions extends RunOptions {
  readonly input: string;
  readonly sessionId?: string;
  readonly parentSessionId?: string;
  /** Recorded in session-start so that a resume can find the agent and model again. */
  readonly agentModule?: string;
  readonly modelSpec?: string;
}

export function startSession(declared: AgentDefinition, dependencies: LoopDependencies, options: StartOptions): SessionRun {
  const agent = withBuiltinTools(declared, dependencies);
  const sessionId = options.sessionId ?? createId('ses', dependencies.clock.now());
  return launch(sessionId, options, async (onWritten) => {
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
      },
      model: { provider: dependencies.model.provider, modelId: dependencies.model.modelId, ...(options.modelSpec === undefined ? {} : { spec: options.modelSpec }) },
      input: options.input,
      limits: { ...agent.limits, deadlineAt: agent.limits.deadlineMs === null ? null : now + agent.limits.deadlineMs },
      ...(options.parentSessionId === undefined ? {} : { parentSessionId: options.parentSessionId }),
      ...(agent.context === null ? {} : { contextBoundary: createBoundary() }),
    };
    await dependencies.journal.append(sessionId, [start], 0);
    onWritten(start);
    return { state: initialState(start), history: [] };
  }, agent, dependencies);
}

/** Continues a session from its journal: completed steps are not repeated, a tool call without an outcome runs again with the same idempotency key. */
export function resumeSession(declared: AgentDefinition, dependencies: LoopDependencies, sessionId: string, options: RunOptions = {}): SessionRun {
  const agent = withBuiltinTools(declared, dependencies);
  return launch(sessionId, options, async () => {
    const events: SessionEvent[] = [];
    for await (const event of dependencies.journal.read(sessionId)) events.push(event);
    if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId} in this journal; list sessions with \`keel sessions\`.`);
    const state = foldEvents(events);
    if (state.start.agent.name !== agent.name) {
      throw new KeelError('invalid-argument', `Session ${sessionId} was started by agent "${state.start.agent.name}", not "${agent.name}".`);
    }
    return { state, history: events };
  }, agent, dependencies);
}

function launch(
  sessionId: string,
  options: RunOptions,
  load: (onWritten: (event: SessionEvent) => void) => Promise<{ state: SessionState; history: readonly SessionEvent[] }>,
  agent: AgentDefinition,
  dependencies: LoopDependencies,
): SessionRun {
  const queue = new UpdateQueue<SessionUpdate>();
  const emit = (update: SessionUpdate): void => {
    options.onUpdate?.(update);
    queue.push(update);
  };
  const detector = dependencies.anomalies === false ? null : new AnomalyDetector(dependencies.anomalies ?? {});
  const anomalies: AnomalyBody[] = [];
  const onWritten = (event: SessionEvent): void => {
    if (detector !== null) anomalies.push(...detector.push(event));
    emit({ type: 'event', event });
  };
  const result = (async (): Promise<SessionResult> => {
    const { state, history } = await load(onWritten);
    if (detector !== null) anomalies.push(...detector.preload(history));
    const writer = new SessionWriter(dependencies.journal, dependencies.clock, state, onWritten);
    await drive(agent, dependencies, writer, options, emit, anomalies);
    return resultOf(writer.state);
  })();
  result.then(() => queue.close(), (error: unknown) => queue.close(error));
  return { sessionId, result, [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator]() };
}

function resultOf(state: SessionState): SessionResult {
  const end = state.end;
  if (end === null) {
    const pendingApprovals = [...state.toolCalls.values()]
      .filter((call) => call.outcome === null && call.decision?.decision === 'ask' && call.approval === null)
      .map((call) => ({ callId: call.request.callId, tool: call.request.tool, input: call.request.input, rule: call.decision?.rule ?? '', reason: call.decision?.reason ?? '' }));
    if (pendingApprovals.length === 0) throw new KeelError('internal', `Session ${state.sessionId} stopped without a session-end event.`);
    return { sessionId: state.sessionId, status: 'awaiting-approval', pendingApprovals, output: null, error: null, turns: state.turn, usage: state.usage, costUsd: state.costUsd };
  }
  return { sessionId: state.sessionId, status: end.status, pendingApprovals: [], output: end.output, error: end.error, turns: end.turns, usage: end.usage, costUsd: end.costUsd };
}

function endBody(state: SessionState, status: 'completed' | 'failed' | 'cancelled', output: string | null, error: KeelError | null): EventBody {
  return { type: 'session-end', status, output, error: error === null ? null : error.toRecord(), turns: state.turn, usage: state.usage, costUsd: state.costUsd };
}

function guardEnd(writer: SessionWriter, traits: ToolTraits, trip: GuardTrip): Promise<void> {
  const error = new KeelError('guard-tripped', trip.message, { details: { guard: trip.guard, limit: trip.limit, actual: trip.actual } });
  return endBadly(writer, traits, 'failed', error, [trip], (state) => endBody(state, 'failed', null, error));
}

async function drive(
  agent: AgentDefinition,
  dependencies: LoopDependencies,
  writer: SessionWriter,
  options: RunOptions,
  emit: (update: SessionUpdate) => void,
  anomalies: AnomalyBody[],
): Promise<void> {
  const signal = options.signal ?? new AbortController().signal;
  const traits = toolTraits(agent);
  // On resume, the calls before this run were already checked against the reflection threshold.
  const memoryProgress = { reflectedAfterCalls: writer.state.completedCalls.length };
  for (;;) {
    // Anomaly signals found in what was just written are journaled before the next step; they never stop the session.
    if (anomalies.length > 0 && writer.state.end === null) await writer.append(anomalies.splice(0));
    // Tool results not yet in the episodic store (also those of a run that stopped before recording them).
    if (agent.memory !== null && writer.state.end === null && writer.state.compensation === null && !signal.aborted) await recordMemories(agent, dependencies, writer, signal, memoryProgress);
    const state = writer.state;
    if (signal.aborted && state.end === null && state.compensation === null) {
      const error = toKeelError(signal.reason ?? new KeelError('cancelled', 'Cancelled by the caller.'));
      await endBadly(writer, traits, 'cancelled', error, [], (current) => endBody(current, 'cancelled', null, error));
      continue;
    }
    const step = nextStep(state, traits);
    switch (step.kind) {
      case 'finished':
      case 'await-approval':
        return;
      case 'complete':
        await writer.append([endBody(state, 'completed', step.output, null)]);
        break;
      case 'fail':
        await endBadly(writer, traits, 'failed', step.error, [], (current) => endBody(current, 'failed', null, step.error));
        break;
      case 'start-turn': {
        const trip = checkBeforeTurn(state, dependencies.clock.now());
        if (trip !== null) {
          await guardEnd(writer, traits, trip);
          break;
        }
        // The turn starts in the same append as its context and model request: one commit instead of two.
        await callModel(agent, dependencies, writer, traits, [...agent.tools.values()].map(toToolSpec), signal, options, emit, [{ type: 'turn-start', turn: state.turn + 1 }]);
        break;
      }
      case 'call-model':
        await callModel(agent, dependencies, writer, traits, [...agent.tools.values()].map(toToolSpec), signal, options, emit, []);
        break;
      case 'request-tools': {
        const trip = checkIdenticalCalls(state, step.calls);
        if (trip !== null) {
          await guardEnd(writer, traits, trip);
          break;
        }
        await writer.append(step.calls.map((call) => toolRequest(state, call)));
        break;
      }
      case 'decide-tools':
        await decideTools(agent, dependencies, writer, step.callIds, signal);
        break;
      case 'run-tools':
        await runTools(agent, dependencies, writer, step.callIds, signal);
        break;
      case 'compensate':
        await compensate(agent, writer, step.call);
        break;
      case 'end-compensated': {
        const phase = state.compensation;
        const failures = phase === null ? [] : [...phase.results.values()].filter((result) => !result.ok);
        const base = phase?.error ?? null;
        const error =
          failures.length === 0
            ? base
            : {
                code: base?.code ?? 'compensation-failed',
                message: `${base?.message ?? 'The session ended.'} ${failures.length} compensation(s) failed: ${failures.map((failure) => `${failure.tool} (${failure.callId}): ${failure.error?.message ?? 'unknown'}`).join('; ')}`,
                fault: base?.fault ?? 'tool',
                retryable: false,
              };
        await writer.append([{ type: 'session-end', status: phase?.status ?? 'failed', output: null, error, turns: state.turn, usage: state.usage, costUsd: state.costUsd }]);
        break;
      }
    }
  }
}

async function callModel(
  agent: AgentDefinition,
  dependencies: LoopDependencies,
  writer: SessionWriter,
  traits: ToolTraits,
  toolSpecs: ReturnType<typeof toToolSpec>[],
  signal: AbortSignal,
  options: RunOptions,
  emit: (update: SessionUpdate) => void,
  leading: readonly EventBody[],
): Promise<void> {
  const state = leading.length === 0 ? writer.state : writer.preview(leading);
  let context;
  try {
    context = await contextForTurn(agent, dependencies, state, toolSpecs, signal);
  } catch (thrown) {
    // A request that cannot fit the window will not fit on a resume either: the session ends failed, with the
    // numbers journaled, instead of leaving the caller a rejected run and a session that fails the same way forever.
    const error = toKeelError(thrown);
    if (error.code !== 'model-context-window') throw error;
    await endBadly(writer, traits, 'failed', error, [...leading, { type: 'model-error', turn: state.turn, error: error.toRecord(), retries: 0, latencyMs: 0 }], (current) => endBody(current, 'failed', null, error));
    return;
  }
  const requestHash = await dependencies.blobs.put(context.serialized);
  await writer.append([
    ...leading,
    ...context.events(requestHash),
    { type: 'model-request', turn: state.turn, requestHash, provider: dependencies.model.provider, model: dependencies.model.modelId, streaming: agent.streaming },
  ]);
  const assembled = { request: context.request };

  const deadlineAt = state.start.limits.deadlineAt;
  const deadline = deadlineAt === null ? null : new AbortController();
  const timer = deadline === null || deadlineAt === null ? null : setTimeout(() => deadline.abort(new KeelError('deadline-exceeded', 'The session deadline passed during a model call.')), Math.max(0, deadlineAt - dependencies.clock.now()));
  // Linked and released rather than AbortSignal.any: Node keeps a combined signal that has listeners alive until it aborts.
  const linked = deadline === null ? null : linkedSignal([signal, deadline.signal]);
  const callSignal = linked === null ? signal : linked.signal;
  const started = dependencies.clock.monotonic();
  try {
    const turn = state.turn;
    const onPart = options.includeModelParts === true ? (part: Parameters<NonNullable<Parameters<typeof dependencies.model.call>[1]['onPart']>>[0]) => emit({ type: 'model-part', turn, part }) : undefined;
    const { response, retries, latencyMs } = await dependencies.model.call(assembled.request, { signal: callSignal, streaming: agent.streaming, ...(onPart === undefined ? {} : { onPart }) });
    const costUsd = dependencies.price(response.usage, response.model);
    const responseBody: EventBody = {
      type: 'model-response',
      turn,
      responseId: response.id,
      model: response.model,
      content: response.content,
      stopReason: response.stopReason,
      providerStopReason: response.providerStopReason,
      usage: response.usage,
      costUsd,
      latencyMs,
      retries,
    };
    const after = writer.preview([responseBody]);
    const wantsMore = response.content.some((block) => block.type === 'tool_use') || response.stopReason === 'pause_turn' || response.stopReason === 'max_tokens';
    const trip = wantsMore ? (checkBudgets(after) ?? checkDeadline(after, dependencies.clock.now())) : null;
    const calls = response.content.filter((block): block is ToolUseBlock => block.type === 'tool_use');
    const repeated = trip === null && calls.length > 0 ? checkIdenticalCalls(after, calls) : null;
    if (trip !== null || repeated !== null) {
      await writer.append([responseBody]);
      await guardEnd(writer, traits, (trip ?? repeated) as GuardTrip);
      return;
    }
    // The tool calls are journaled in the same append as the response that asked for them.
    await writer.append([responseBody, ...calls.map((call) => toolRequest(after, call))]);
  } catch (thrown) {
    const error = toKeelError(thrown);
    const latencyMs = Math.round(dependencies.clock.monotonic() - started);
    const retries = typeof error.details.retries === 'number' ? error.details.retries : 0;
    if (deadline?.signal.aborted === true && !signal.aborted) {
      const trip = checkDeadline(writer.state, Math.max(dependencies.clock.now(), deadlineAt ?? 0));
      if (trip !== null) {
        await guardEnd(writer, traits, trip);
        return;
      }
    }
    const status = error.code === 'cancelled' || signal.aborted ? 'cancelled' : 'failed';
    const failure = { type: 'model-error' as const, turn: state.turn, error: error.toRecord(), retries, latencyMs };
    await endBadly(writer, traits, status, error, [failure], (current) => endBody(current, status, null, error));
  } finally {
    if (timer !== null) clearTimeout(timer);
    linked?.dispose();
  }
}
