import { KeelError, toKeelError } from '../errors/index.ts';
import { createId, sha256 } from '../util/index.ts';
import { assembleRequest } from '../context/index.ts';
import { executeToolCall, toToolSpec } from '../tools/index.ts';
import type { EventBody, SessionEvent, SessionStartEvent } from '../spec/events.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import type { AgentDefinition } from './define-agent.ts';
import { checkBeforeTurn, checkBudgets, checkDeadline, checkIdenticalCalls } from './guards.ts';
import type { GuardTrip } from './guards.ts';
import type { LoopDependencies, RunOptions, SessionResult, SessionRun, SessionUpdate } from './loop-types.ts';
import { nextStep } from './next-step.ts';
import { foldEvents, initialState } from './session-state.ts';
import type { SessionState } from './session-state.ts';
import { SessionWriter } from './session-writer.ts';
import { UpdateQueue } from './update-queue.ts';

/** Tool output kept inline in the journal; anything longer is stored whole as a blob and cut here with a visible marker. */
export const inlineOutputLimit = 64 * 1024;

export interface StartOptions extends RunOptions {
  readonly input: string;
  readonly sessionId?: string;
  readonly parentSessionId?: string;
  /** Recorded in session-start so that a resume can find the agent and model again. */
  readonly agentModule?: string;
  readonly modelSpec?: string;
}

export function startSession(agent: AgentDefinition, dependencies: LoopDependencies, options: StartOptions): SessionRun {
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
    };
    await dependencies.journal.append(sessionId, [start], 0);
    onWritten(start);
    return initialState(start);
  }, agent, dependencies);
}

/** Continues a session from its journal: completed steps are not repeated, a tool call without an outcome runs again with the same idempotency key. */
export function resumeSession(agent: AgentDefinition, dependencies: LoopDependencies, sessionId: string, options: RunOptions = {}): SessionRun {
  return launch(sessionId, options, async () => {
    const events: SessionEvent[] = [];
    for await (const event of dependencies.journal.read(sessionId)) events.push(event);
    if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId} in this journal; list sessions with \`keel sessions\`.`);
    const state = foldEvents(events);
    if (state.start.agent.name !== agent.name) {
      throw new KeelError('invalid-argument', `Session ${sessionId} was started by agent "${state.start.agent.name}", not "${agent.name}".`);
    }
    return state;
  }, agent, dependencies);
}

function launch(
  sessionId: string,
  options: RunOptions,
  load: (onWritten: (event: SessionEvent) => void) => Promise<SessionState>,
  agent: AgentDefinition,
  dependencies: LoopDependencies,
): SessionRun {
  const queue = new UpdateQueue<SessionUpdate>();
  const emit = (update: SessionUpdate): void => {
    options.onUpdate?.(update);
    queue.push(update);
  };
  const onWritten = (event: SessionEvent): void => emit({ type: 'event', event });
  const result = (async (): Promise<SessionResult> => {
    const state = await load(onWritten);
    const writer = new SessionWriter(dependencies.journal, dependencies.clock, state, onWritten);
    await drive(agent, dependencies, writer, options, emit);
    return resultOf(writer.state);
  })();
  result.then(() => queue.close(), (error: unknown) => queue.close(error));
  return { sessionId, result, [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator]() };
}

function resultOf(state: SessionState): SessionResult {
  const end = state.end;
  if (end === null) throw new KeelError('internal', `Session ${state.sessionId} stopped without a session-end event.`);
  return { sessionId: state.sessionId, status: end.status, output: end.output, error: end.error, turns: end.turns, usage: end.usage, costUsd: end.costUsd };
}

function endBody(state: SessionState, status: 'completed' | 'failed' | 'cancelled', output: string | null, error: KeelError | null): EventBody {
  return { type: 'session-end', status, output, error: error === null ? null : error.toRecord(), turns: state.turn, usage: state.usage, costUsd: state.costUsd };
}

function guardEnd(state: SessionState, trip: GuardTrip): EventBody[] {
  const error = new KeelError('guard-tripped', trip.message, { details: { guard: trip.guard, limit: trip.limit, actual: trip.actual } });
  return [trip, endBody(state, 'failed', null, error)];
}

async function drive(
  agent: AgentDefinition,
  dependencies: LoopDependencies,
  writer: SessionWriter,
  options: RunOptions,
  emit: (update: SessionUpdate) => void,
): Promise<void> {
  const signal = options.signal ?? new AbortController().signal;
  const toolSpecs = [...agent.tools.values()].map(toToolSpec);
  for (;;) {
    const state = writer.state;
    if (signal.aborted) {
      if (state.end === null) await writer.append([endBody(state, 'cancelled', null, toKeelError(signal.reason ?? new KeelError('cancelled', 'Cancelled by the caller.')))]);
      return;
    }
    const step = nextStep(state);
    switch (step.kind) {
      case 'finished':
        return;
      case 'complete':
        await writer.append([endBody(state, 'completed', step.output, null)]);
        break;
      case 'fail':
        await writer.append([endBody(state, 'failed', null, step.error)]);
        break;
      case 'start-turn': {
        const trip = checkBeforeTurn(state, dependencies.clock.now());
        if (trip !== null) {
          await writer.append(guardEnd(state, trip));
          break;
        }
        await writer.append([{ type: 'turn-start', turn: state.turn + 1 }]);
        break;
      }
      case 'call-model':
        await callModel(agent, dependencies, writer, toolSpecs, signal, options, emit);
        break;
      case 'request-tools': {
        const trip = checkIdenticalCalls(state, step.calls);
        if (trip !== null) {
          await writer.append(guardEnd(state, trip));
          break;
        }
        await writer.append(step.calls.map((call) => toolRequest(state, call)));
        break;
      }
      case 'run-tools':
        await runTools(agent, dependencies, writer, step.callIds, signal);
        break;
    }
  }
}

function toolRequest(state: SessionState, call: ToolUseBlock): EventBody {
  return {
    type: 'tool-request',
    turn: state.turn,
    callId: call.id,
    tool: call.name,
    input: call.input,
    idempotencyKey: `idem_${sha256(`${state.sessionId}\u0000${state.turn}\u0000${call.id}`).slice(0, 40)}`,
  };
}

async function callModel(
  agent: AgentDefinition,
  dependencies: LoopDependencies,
  writer: SessionWriter,
  toolSpecs: ReturnType<typeof toToolSpec>[],
  signal: AbortSignal,
  options: RunOptions,
  emit: (update: SessionUpdate) => void,
): Promise<void> {
  const state = writer.state;
  const assembleStarted = dependencies.clock.monotonic();
  const assembled = assembleRequest({ system: agent.instructions, messages: state.messages, tools: toolSpecs, maxOutputTokens: agent.maxOutputTokensPerCall });
  const requestHash = await dependencies.blobs.put(assembled.serialized);
  const durationMs = Math.round((dependencies.clock.monotonic() - assembleStarted) * 1000) / 1000;
  await writer.append([
    { type: 'context-assemble', turn: state.turn, requestHash, messageCount: assembled.request.messages.length, tokens: assembled.tokens, tokenCounting: 'estimate', durationMs },
    { type: 'model-request', turn: state.turn, requestHash, provider: dependencies.model.provider, model: dependencies.model.modelId, streaming: agent.streaming },
  ]);

  const deadlineAt = state.start.limits.deadlineAt;
  const deadline = deadlineAt === null ? null : new AbortController();
  const timer = deadline === null || deadlineAt === null ? null : setTimeout(() => deadline.abort(new KeelError('deadline-exceeded', 'The session deadline passed during a model call.')), Math.max(0, deadlineAt - dependencies.clock.now()));
  const callSignal = deadline === null ? signal : AbortSignal.any([signal, deadline.signal]);
  const started = dependencies.clock.monotonic();
  try {
    const turn = state.turn;
    const onPart = options.includeModelParts === true ? (part: Parameters<NonNullable<Parameters<typeof dependencies.model.call>[1]['onPart']>>[0]) => emit({ type: 'model-part', turn, part }) : undefined;
    const { response, retries, latencyMs } = await dependencies.model.call(assembled.request, { signal: callSignal, streaming: agent.streaming, ...(onPart === undefined ? {} : { onPart }) });
    const costUsd = dependencies.price(response.usage, response.model);
    const after = await writer.append([
      {
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
      },
    ]);
    const wantsMore = response.content.some((block) => block.type === 'tool_use') || response.stopReason === 'pause_turn' || response.stopReason === 'max_tokens';
    if (wantsMore) {
      const trip = checkBudgets(after) ?? checkDeadline(after, dependencies.clock.now());
      if (trip !== null) await writer.append(guardEnd(after, trip));
    }
  } catch (thrown) {
    const error = toKeelError(thrown);
    const latencyMs = Math.round(dependencies.clock.monotonic() - started);
    const retries = typeof error.details.retries === 'number' ? error.details.retries : 0;
    if (deadline?.signal.aborted === true && !signal.aborted) {
      const trip = checkDeadline(writer.state, Math.max(dependencies.clock.now(), deadlineAt ?? 0));
      if (trip !== null) {
        await writer.append(guardEnd(writer.state, trip));
        return;
      }
    }
    const status = error.code === 'cancelled' || signal.aborted ? 'cancelled' : 'failed';
    await writer.append([{ type: 'model-error', turn: state.turn, error: error.toRecord(), retries, latencyMs }, endBody(writer.state, status, null, error)]);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

async function runTools(agent: AgentDefinition, dependencies: LoopDependencies, writer: SessionWriter, callIds: readonly string[], signal: AbortSignal): Promise<void> {
  const state = writer.state;
  const uses = new Map((state.response?.content ?? []).filter((block): block is ToolUseBlock => block.type === 'tool_use').map((use) => [use.id, use]));
  const available = [...agent.tools.keys()];
  await Promise.all(
    callIds.map(async (callId) => {
      const call = state.toolCalls.get(callId);
      const use = uses.get(callId);
      if (call === undefined || use === undefined) throw new KeelError('internal', `Call ${callId} has no request in session ${state.sessionId}.`);
      const outcome = await executeToolCall(agent.tools.get(use.name), use, { sessionId: state.sessionId, turn: state.turn, idempotencyKey: call.request.idempotencyKey, signal }, available);
      if (outcome.ok) {
        let output = outcome.output;
        let outputBlob: string | undefined;
        if (output.length > inlineOutputLimit) {
          outputBlob = await dependencies.blobs.put(output);
          output = `${output.slice(0, inlineOutputLimit)}\n[output truncated: ${outcome.output.length} characters in total, ${inlineOutputLimit} shown; full text kept as blob ${outputBlob}]`;
        }
        await writer.append([{ type: 'tool-result', turn: state.turn, callId, tool: use.name, output, latencyMs: outcome.latencyMs, ...(outputBlob === undefined ? {} : { outputBlob }) }]);
      } else {
        await writer.append([{ type: 'tool-error', turn: state.turn, callId, tool: use.name, error: outcome.error.toRecord(), latencyMs: outcome.latencyMs }]);
      }
    }),
  );
}
