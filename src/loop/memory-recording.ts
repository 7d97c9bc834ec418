import { toKeelError } from '../errors/index.ts';
import { createReflector, parseInsights, reflectionPrompt } from '../memory/index.ts';
import type { Insight, MemoryRecord, MemoryScope, Reflector } from '../memory/index.ts';
import type { EventBody } from '../spec/events.ts';
import { sha256 } from '../util/index.ts';
import type { AgentMemoryOptions } from './define-agent.ts';
import type { LoopDependencies, ModelCaller } from './loop-types.ts';
import { readToolResultName } from '../tools/read-tool-result.ts';
import type { CompletedCall } from './session-state.ts';
import type { LoopContext } from './loop-context.ts';

/** Characters of a tool result kept in its memory; the whole result stays in the journal (`read_tool_result`). */
const defaultMemoryChars = 4_000;

const reflectors = new WeakMap<AgentMemoryOptions, Reflector>();

/** The memory id of a tool result: derived from the session and call, so repeating the write after a crash stores nothing twice. */
export function toolResultMemoryId(sessionId: string, callId: string): string {
  return `mem_tool_${sha256(`${sessionId}\u0000${callId}`).slice(0, 32)}`;
}

function memoryText(call: CompletedCall, maxChars: number): string {
  const text = `${call.tool}(${JSON.stringify(call.input)}) at turn ${call.turn} returned: ${call.output}`;
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)} [cut at ${maxChars} of ${text.length} characters; read_tool_result {"callId":"${call.callId}"} in the session reads it whole]`;
}

/** Completed calls whose results are not yet in the episodic store, by the journal's own `memory-write` record. */
export function unrecordedCalls(completed: readonly CompletedCall[], recorded: ReadonlySet<string>): CompletedCall[] {
  return completed.filter((call) => call.tool !== readToolResultName && !recorded.has(call.callId));
}

/** The reflection step as a model call: `reflectionPrompt` in, insights citing memory ids out. */
export function modelReflect(model: ModelCaller): (memories: readonly MemoryRecord[], signal?: AbortSignal) => Promise<readonly Insight[]> {
  return async (memories, signal) => {
    const { response } = await model.call(
      {
        system: 'You synthesize an agent\'s memories into higher-level insights. Cite only ids that appear in the statements.',
        messages: [{ role: 'user', content: [{ type: 'text', text: reflectionPrompt(memories) }] }],
        tools: [],
        maxOutputTokens: 1024,
      },
      { signal: signal ?? new AbortController().signal, streaming: false },
    );
    return parseInsights(response.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join(''));
  };
}

function reflectorOf(options: AgentMemoryOptions, dependencies: LoopDependencies): Reflector | null {
  const settings = options.reflection;
  if (settings === undefined || settings === false) return null;
  let reflector = reflectors.get(options);
  if (reflector === undefined) {
    const chosen = settings === true ? {} : settings;
    reflector = createReflector({
      store: options.store,
      reflect: chosen.reflect ?? modelReflect(dependencies.model),
      ...(chosen.threshold === undefined ? {} : { threshold: chosen.threshold }),
      ...(chosen.maxMemories === undefined ? {} : { maxMemories: chosen.maxMemories }),
    });
    reflectors.set(options, reflector);
  }
  return reflector;
}

/**
 * Keeps the session's tool results in the episodic store (`memory.recordToolResults`) and reflects when the agent's
 * accumulated importance passes the threshold (`memory.reflection`), journaling each as `memory-write`. A reflection
 * that fails is journaled with its error and does not fail the session: memory is an aid, the task is the work.
 */
export async function recordMemories(context: LoopContext): Promise<void> {
  const { agent, dependencies, writer, signal, memoryProgress: progress } = context;
  const options = agent.memory;
  if (options === null) return;
  const state = writer.state;
  const events: EventBody[] = [];
  const chosen = options.recordToolResults;
  const pending = chosen === undefined || chosen === false ? [] : unrecordedCalls(state.completedCalls, state.rememberedCalls);
  if (pending.length > 0) {
    const settings = chosen === true || chosen === undefined || chosen === false ? {} : chosen;
    const started = dependencies.clock.monotonic();
    const records: { id: string; kind: string; importance: number; callId: string }[] = [];
    try {
      for (const call of pending) {
        const record = await options.store.remember({
          id: toolResultMemoryId(state.sessionId, call.callId),
          scope: { agent: agent.name, sessionId: state.sessionId },
          text: memoryText(call, settings.maxChars ?? defaultMemoryChars),
          kind: 'tool-result',
          ...(settings.importance === undefined ? {} : { importance: settings.importance }),
          signal,
        });
        records.push({ id: record.id, kind: record.kind, importance: record.importance, callId: call.callId });
      }
    } catch (error) {
      if (signal.aborted) throw error;
      // An embedder or store that fails must not fail the task: the calls are journaled as skipped, with the reason.
      const done = new Set(records.map((record) => record.callId));
      events.push({
        type: 'memory-write',
        turn: state.turn,
        reason: 'tool-result',
        records: [],
        skippedCallIds: pending.filter((call) => !done.has(call.callId)).map((call) => call.callId),
        latencyMs: Math.round((dependencies.clock.monotonic() - started) * 1000) / 1000,
        error: toKeelError(error).toRecord(),
      });
    }
    if (records.length > 0) events.unshift({ type: 'memory-write', turn: state.turn, reason: 'tool-result', records, latencyMs: Math.round((dependencies.clock.monotonic() - started) * 1000) / 1000 });
  }
  // Memories also come from the agent's own `remember` calls, so the threshold is checked whenever calls completed.
  const reflector = reflectorOf(options, dependencies);
  if (reflector !== null && state.completedCalls.length > progress.reflectedAfterCalls) {
    progress.reflectedAfterCalls = state.completedCalls.length;
    const scope: MemoryScope = options.scope === 'session' ? { agent: agent.name, sessionId: state.sessionId } : { agent: agent.name };
    const started = dependencies.clock.monotonic();
    const elapsed = (): number => Math.round((dependencies.clock.monotonic() - started) * 1000) / 1000;
    try {
      const outcome = await reflector.maybeReflect(scope, { signal });
      if (outcome.reflected) {
        events.push({
          type: 'memory-write',
          turn: state.turn,
          reason: 'reflection',
          records: outcome.reflections.map((memory) => ({ id: memory.id, kind: memory.kind, importance: memory.importance, sources: memory.sources ?? [] })),
          latencyMs: elapsed(),
          ...(outcome.invalidCitations.length === 0 ? {} : { invalidCitations: outcome.invalidCitations }),
        });
      }
    } catch (error) {
      if (signal.aborted) throw error;
      events.push({ type: 'memory-write', turn: state.turn, reason: 'reflection', records: [], latencyMs: elapsed(), error: toKeelError(error).toRecord() });
    }
  }
  if (events.length > 0) await writer.append(events);
}
