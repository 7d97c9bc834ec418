import { KeelError } from '../errors/index.ts';
import { assembleRequest, layOutTrust, planContext } from '../context/index.ts';
import type { ResultSource } from '../context/index.ts';
import { countPlannedRequest, exactTokenCounterOf } from '../context/exact-token-count.ts';
import type { ContextSummary, RetrievedItem } from '../context/index.ts';
import type { EventBody } from '../spec/events.ts';
import type { Message } from '../spec/message.ts';
import type { ModelRequest, ToolSpec } from '../spec/model.ts';
import type { AgentDefinition } from './define-agent.ts';
import { contentHash } from '../memory/index.ts';
import type { LoopDependencies } from './loop-types.ts';
import { truncationNotice } from './session-state.ts';
import type { SessionState } from './session-state.ts';

export interface TurnContext {
  readonly request: ModelRequest;
  readonly serialized: string;
  /** Events to journal before the model request: new summaries, then `context-assemble`. */
  readonly events: (requestHash: string) => EventBody[];
}

/** The hash of the last instructions seen: an agent's instructions are the same every turn, and hashing them was not free. */
let lastInstructions: { readonly text: string; readonly hash: string } | null = null;

function instructionsHashOf(instructions: string): string {
  if (lastInstructions?.text !== instructions) lastInstructions = { text: instructions, hash: contentHash(instructions) };
  return lastInstructions.hash;
}

const summaryInstructions =
  'Summarize the conversation below for your own later use: keep every finding, number, identifier, decision and open question; drop pleasantries. Write plain text, at most 300 words.';

/** The model itself writes the summaries, one non-streaming call each; the summary is journaled and never remade. */
function summarizeWith(dependencies: LoopDependencies, signal: AbortSignal) {
  return async (messages: readonly Message[]): Promise<string> => {
    const transcript = messages
      .map((message) => `${message.role}: ${message.content.map((block) => (block.type === 'text' ? block.text : block.type === 'tool_use' ? `[called ${block.name} ${JSON.stringify(block.input)}]` : block.type === 'tool_result' ? `[result] ${block.content}` : '')).join(' ')}`)
      .join('\n');
    const { response } = await dependencies.model.call(
      { system: summaryInstructions, messages: [{ role: 'user', content: [{ type: 'text', text: transcript }] }], tools: [], maxOutputTokens: 1024 },
      { signal, streaming: false },
    );
    const text = response.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
    if (text.trim() === '') throw new KeelError('model-malformed-response', 'The model returned an empty summary.');
    return text;
  };
}

/** The context of one turn: planned (budgets, strategies, fences, explain plan) when the agent asks for it, else the whole conversation. */
export async function contextForTurn(
  agent: AgentDefinition,
  dependencies: LoopDependencies,
  state: SessionState,
  tools: readonly ToolSpec[],
  signal: AbortSignal,
): Promise<TurnContext> {
  const started = dependencies.clock.monotonic();
  const elapsed = (): number => Math.round((dependencies.clock.monotonic() - started) * 1000) / 1000;
  if (agent.context === null || state.start.contextBoundary === undefined) {
    // Sessions journaled before the trust layout was on by default have no boundary, and replay their requests as they were.
    const layout = agent.injection.trustLayout && state.start.contextBoundary !== undefined ? layOutTrust({ system: agent.instructions, messages: state.messages, boundary: state.start.contextBoundary, task: latestUserText(state), sourceOf: resultSources(state) }) : { system: agent.instructions, messages: state.messages };
    const assembled = assembleRequest({ system: layout.system, messages: layout.messages, tools, maxOutputTokens: agent.maxOutputTokensPerCall });
    const durationMs = elapsed();
    return {
      request: assembled.request,
      serialized: assembled.serialized,
      events: (requestHash) => [
        {
          type: 'context-assemble',
          turn: state.turn,
          requestHash,
          messageCount: assembled.request.messages.length,
          tokens: assembled.tokens,
          tokenCounting: 'estimate',
          durationMs,
          instructionsHash: instructionsHashOf(agent.instructions),
        },
      ],
    };
  }
  const summaries: ContextSummary[] = state.summaries.map((event) => ({
    id: event.summaryId,
    level: event.level,
    from: event.from,
    to: event.to,
    text: event.text,
    tokens: event.tokens,
    turn: event.turn,
    ...(event.children === undefined ? {} : { children: event.children }),
  }));
  const memory = await retrieveMemories(agent, state, signal, dependencies);
  // The trust layout fences results with their provenance and reminds the task before the planner budgets the history,
  // so the fences and the reminder are counted like the rest; the planner then adds its trust rule and fences memory.
  const layOut = agent.injection.trustLayout && (agent.context.fenceToolResults ?? true);
  const boundary = state.start.contextBoundary;
  const plan = await planContext({
    system: agent.instructions,
    messages: layOut ? layOutTrust({ system: '', messages: state.messages, boundary, task: latestUserText(state), sourceOf: resultSources(state) }).messages : state.messages,
    tools,
    maxOutputTokens: agent.maxOutputTokensPerCall,
    model: { provider: dependencies.model.provider, modelId: dependencies.model.modelId },
    turn: state.turn,
    maxTurns: state.start.limits.maxTurns,
    config: layOut ? { ...agent.context, fenceToolResults: false } : agent.context,
    boundary,
    summarize: summarizeWith(dependencies, signal),
    summaries,
    memory: memory?.items ?? [],
  });
  // Checked again on the provider's exact count when the model has one (Anthropic with a key); the plan journals which.
  const counted = await countPlannedRequest(plan, { model: dependencies.model, counter: exactTokenCounterOf(dependencies.model), signal, monotonic: () => dependencies.clock.monotonic() });
  const planHash = await dependencies.blobs.put(JSON.stringify(counted.explain));
  const durationMs = elapsed();
  const { tokens } = plan;
  return {
    request: plan.request,
    serialized: plan.serialized,
    events: (requestHash) => [
      ...(memory === null ? [] : [memory.event]),
      ...plan.newSummaries.map(
        (summary): EventBody => ({
          type: 'context-summary',
          turn: state.turn,
          summaryId: summary.id,
          level: summary.level,
          from: summary.from,
          to: summary.to,
          text: summary.text,
          tokens: summary.tokens,
          ...(summary.children === undefined ? {} : { children: summary.children }),
        }),
      ),
      {
        type: 'context-assemble',
        turn: state.turn,
        requestHash,
        messageCount: plan.request.messages.length,
        // The segments stay the planner's figures; the total is the exact count when there is one ('tokenizer' = exact).
        tokens: { system: tokens.system, tools: tokens.tools, history: tokens.history + tokens.toolResults + tokens.memory + tokens.instruction, total: counted.count.tokens },
        tokenCounting: counted.count.method === 'exact' ? 'tokenizer' : plan.tokenCounting,
        durationMs,
        windowTokens: plan.windowTokens,
        utilization: counted.utilization,
        instructionsHash: instructionsHashOf(agent.instructions),
        planHash,
      },
    ],
  };
}

/** The tool and provenance label of each tool result, by call id, as journaled. */
function resultSources(state: SessionState): (toolUseId: string) => ResultSource {
  const provenance = new Map(state.completedCalls.map((call) => [call.callId, call.provenance]));
  const tools = new Map<string, string>();
  for (const message of state.messages) for (const block of message.content) if (block.type === 'tool_use') tools.set(block.id, block.name);
  return (toolUseId) => ({ tool: tools.get(toolUseId) ?? 'unknown', provenance: provenance.get(toolUseId) ?? 'tool' });
}

/** The latest user text: the task on turn 1, else the newest text the user (not a tool, not Keel's continuation prompt) wrote. */
function latestUserText(state: SessionState): string {
  for (let index = state.messages.length - 1; index >= 0; index -= 1) {
    const message = state.messages[index];
    // Most user messages are tool results: only one with a text of the user's own is worth joining.
    if (message?.role !== 'user' || !message.content.some(isUserText)) continue;
    const text = message.content.flatMap((block) => (block.type === 'text' && block.text !== truncationNotice ? [block.text] : [])).join(' ').trim();
    if (text !== '') return text;
  }
  return state.start.input;
}

function isUserText(block: Message['content'][number]): boolean {
  return block.type === 'text' && block.text !== truncationNotice;
}

async function retrieveMemories(
  agent: AgentDefinition,
  state: SessionState,
  signal: AbortSignal,
  dependencies: LoopDependencies,
): Promise<{ items: RetrievedItem[]; event: EventBody } | null> {
  const options = agent.memory;
  if (options === null) return null;
  const started = dependencies.clock.monotonic();
  const query = latestUserText(state);
  const scope = options.scope === 'session' ? { agent: agent.name, sessionId: state.sessionId } : { agent: agent.name };
  const found = await options.store.recall({ scope, query, k: options.k ?? 5, ...(options.weights === undefined ? {} : { weights: options.weights }), signal });
  const latencyMs = Math.round((dependencies.clock.monotonic() - started) * 1000) / 1000;
  return {
    items: found.map((memory) => ({ id: memory.record.id, text: memory.record.text, kind: 'memory' as const })),
    event: { type: 'memory-read', turn: state.turn, query, results: found.map((memory) => ({ id: memory.record.id, score: Math.round(memory.score * 1e6) / 1e6 })), latencyMs },
  };
}
