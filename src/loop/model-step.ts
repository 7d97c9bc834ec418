import { KeelError, toKeelError } from '../errors/index.ts';
import { linkedSignal } from '../util/index.ts';
import { toToolSpec } from '../tools/index.ts';
import type { EventBody } from '../spec/events.ts';
import type { ModelRequest, ToolSpec } from '../spec/model.ts';
import type { ToolDefinition } from '../tools/index.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import type { ModelStreamPart } from '../spec/model.ts';
import { contextForTurn } from './plan-turn-context.ts';
import { checkBudgets, checkDeadline, checkIdenticalCalls } from './guards.ts';
import type { GuardTrip } from './guards.ts';
import { endBadly } from './compensation.ts';
import type { LoopContext } from './loop-context.ts';
import { toolRequestBodies } from './tool-requests.ts';
import { applyModelSettings, attemptsOfError, callHints, effectiveModelSettings, parametersRecord, responseFacts } from './model-settings.ts';
import { treeBudgetTrip } from './tree-guard.ts';

/** One spec object per tool definition: its canonical JSON in each turn's request is then computed once. */
const toolSpecs = new WeakMap<ToolDefinition, ToolSpec>();

function toolSpecOf(tool: ToolDefinition): ToolSpec {
  let spec = toolSpecs.get(tool);
  if (spec === undefined) {
    spec = toToolSpec(tool);
    toolSpecs.set(tool, spec);
  }
  return spec;
}

/** Ends the session failed on a guard trip, with the figures that tripped it journaled first. */
export function guardEnd(context: LoopContext, trip: GuardTrip, leading: readonly EventBody[] = []): Promise<void> {
  const error = new KeelError('guard-tripped', trip.message, { details: { guard: trip.guard, limit: trip.limit, actual: trip.actual } });
  return endBadly(context, { status: 'failed', error, leading: [...leading, trip] });
}

interface JournaledRequest {
  readonly request: ModelRequest;
  readonly settings: ReturnType<typeof effectiveModelSettings>;
  readonly turn: number;
  readonly deadlineAt: number | null;
}

/**
 * The turn's context planned, stored as a blob and journaled with the model request (with `leading` in the same
 * append); null when the session ended because the request cannot fit. Only the request and what the call needs come
 * back: the serialised context (and the state previewed for it) are not held while the model answers.
 */
async function journalRequest(context: LoopContext, leading: readonly EventBody[]): Promise<JournaledRequest | null> {
  const { agent, dependencies, writer, signal } = context;
  const state = leading.length === 0 ? writer.state : writer.preview(leading);
  const toolSpecs = [...agent.tools.values()].map(toolSpecOf);
  let turnContext;
  try {
    turnContext = await contextForTurn(agent, dependencies, state, toolSpecs, signal);
  } catch (thrown) {
    // A request that cannot fit the window will not fit on a resume either: the session ends failed, with the
    // numbers journaled, instead of leaving the caller a rejected run and a session that fails the same way forever.
    const error = toKeelError(thrown);
    if (error.code !== 'model-context-window') throw error;
    await endBadly(context, { status: 'failed', error, leading: [...leading, { type: 'model-error', turn: state.turn, error: error.toRecord(), retries: 0, latencyMs: 0 }] });
    return null;
  }
  const requestHash = await dependencies.blobs.put(turnContext.serialized);
  // Parameters, hosted tools and caching go on the request here, and are journaled on model-request (the blob is the context).
  const settings = effectiveModelSettings(agent.modelSettings, context.options.modelSettings);
  const request = applyModelSettings(turnContext.request, settings);
  const parameters = parametersRecord(settings);
  await writer.append([
    ...leading,
    ...turnContext.events(requestHash),
    { type: 'model-request', turn: state.turn, requestHash, provider: dependencies.model.provider, model: dependencies.model.modelId, streaming: agent.streaming, maxOutputTokens: request.maxOutputTokens, ...(parameters === undefined ? {} : { parameters }) },
  ]);
  return { request, settings, turn: state.turn, deadlineAt: state.start.limits.deadlineAt };
}

/**
 * One model call: the turn's context and request are journaled (with `leading`, a turn-start, in the same append),
 * then the response together with the tool calls it asks for, or the error that ends the session.
 */
export async function callModel(context: LoopContext, leading: readonly EventBody[]): Promise<void> {
  const { agent, dependencies, writer, signal } = context;
  const journaled = await journalRequest(context, leading);
  if (journaled === null) return;
  const { request, settings, turn, deadlineAt } = journaled;
  const deadline = deadlineAt === null ? null : new AbortController();
  const timer = deadline === null || deadlineAt === null ? null : setTimeout(() => deadline.abort(new KeelError('deadline-exceeded', 'The session deadline passed during a model call.')), Math.max(0, deadlineAt - dependencies.clock.now()));
  // Linked and released rather than AbortSignal.any: Node keeps a combined signal that has listeners alive until it aborts.
  const linked = deadline === null ? null : linkedSignal([signal, deadline.signal]);
  const callSignal = linked === null ? signal : linked.signal;
  const started = dependencies.clock.monotonic();
  try {
    const onPart = context.options.includeModelParts === true ? (part: ModelStreamPart) => context.emit({ type: 'model-part', turn, part }) : undefined;
    // Memory retrieved into the context is untrusted like tool results: the response cache leaves it alone unless told.
    const hints = callHints(settings, agent.memory !== null);
    const { response, retries, latencyMs, ...facts } = await dependencies.model.call(request, { signal: callSignal, streaming: agent.streaming, deadlineAt, ...(onPart === undefined ? {} : { onPart }), ...(hints === undefined ? {} : { hints }) });
    const { costUsd, ...factFields } = responseFacts(request, response, facts, { price: dependencies.price, provider: dependencies.model.provider, ...(dependencies.hostedToolCost === undefined ? {} : { hostedToolCost: dependencies.hostedToolCost }) });
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
      ...factFields,
    };
    const after = writer.preview([responseBody]);
    const calls = response.content.filter((block): block is ToolUseBlock => block.type === 'tool_use');
    const wantsMore = calls.length > 0 || response.stopReason === 'pause_turn' || response.stopReason === 'max_tokens';
    const trip = wantsMore ? (checkBudgets(after) ?? checkDeadline(after, dependencies.clock.now()) ?? treeBudgetTrip(after, context.options.treeBudget, { usage: response.usage, costUsd })) : null;
    const repeated = trip === null && calls.length > 0 ? checkIdenticalCalls(after, calls) : null;
    const tripped = trip ?? repeated;
    if (tripped !== null) {
      await guardEnd(context, tripped, [responseBody]);
      return;
    }
    // The tool calls are journaled in the same append as the response that asked for them (those past the cap with their error).
    await writer.append([responseBody, ...toolRequestBodies(after, calls, agent.toolCalls.maxPerMessage)]);
  } catch (thrown) {
    await endAfterModelError(context, thrown, { turn, deadline: deadline?.signal ?? null, deadlineAt, latencyMs: Math.round(dependencies.clock.monotonic() - started) });
  } finally {
    if (timer !== null) clearTimeout(timer);
    linked?.dispose();
  }
}

interface ModelFailure {
  readonly turn: number;
  readonly deadline: AbortSignal | null;
  readonly deadlineAt: number | null;
  readonly latencyMs: number;
}

async function endAfterModelError(context: LoopContext, thrown: unknown, failure: ModelFailure): Promise<void> {
  const { writer, signal, dependencies } = context;
  const error = toKeelError(thrown);
  const retries = typeof error.details.retries === 'number' ? error.details.retries : 0;
  if (failure.deadline?.aborted === true && !signal.aborted) {
    const trip = checkDeadline(writer.state, Math.max(dependencies.clock.now(), failure.deadlineAt ?? 0));
    if (trip !== null) {
      await guardEnd(context, trip);
      return;
    }
  }
  const status = error.code === 'cancelled' || signal.aborted ? 'cancelled' : 'failed';
  const attempts = attemptsOfError(error);
  await endBadly(context, { status, error, leading: [{ type: 'model-error', turn: failure.turn, error: error.toRecord(), retries, latencyMs: failure.latencyMs, ...(attempts === undefined ? {} : { attempts }) }] });
}
