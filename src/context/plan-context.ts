import { canonicalJson } from '../util/index.ts';
import type { ContentBlock, Message } from '../spec/message.ts';
import type { ModelRequest, ToolSpec } from '../spec/model.ts';
import type { BudgetConfig, ResolvedBudgets, Segment } from './budgets.ts';
import { resolveBudgets, segmentOverBudget, utilization } from './budgets.ts';
import type { ModelWindow } from './model-windows.ts';
import { checkFits, lookupModelWindow } from './model-windows.ts';
import type { TokenCounter } from './token-counter.ts';
import { countBlock, countTools, createTokenCounter, messageOverheadTokens } from './token-counter.ts';
import { fenceToolResult, fenceUntrusted, trustedSystem } from './trust-layout.ts';
import type { UntrustedKind } from './trust-layout.ts';
import { deduplicate } from './strategies/dedup.ts';
import type { DedupOptions } from './strategies/dedup.ts';
import { applyRetention } from './strategies/retention.ts';
import { slidingWindow } from './strategies/sliding-window.ts';
import { stubToolResults } from './strategies/stub-tool-results.ts';
import { summarizeHistory } from './strategies/summarize.ts';
import type { ContextSummary, Summarize } from './strategies/summarize.ts';
import { turnBudgetInstruction } from './strategies/turn-budget.ts';
import type { Decision, HistoryItem, Retention } from './strategies/types.ts';
import { isLive, keptTokens } from './strategies/types.ts';

export type StrategyName = 'retention' | 'stub-tool-results' | 'summarize' | 'sliding-window';
export const defaultStrategies: readonly StrategyName[] = ['retention', 'stub-tool-results', 'summarize', 'sliding-window'];

/** A retrieved memory record or document for this turn, in rank order (best first). */
export interface RetrievedItem {
  readonly id: string;
  readonly text: string;
  readonly kind?: Exclude<UntrustedKind, 'tool-result'>;
  readonly source?: string;
}

export interface ContextConfig {
  readonly budgets?: BudgetConfig;
  /** Which strategies run, in this order. The sliding window always runs last as the guarantee. Default all. */
  readonly strategies?: readonly StrategyName[];
  /** Keep the first message (the task) whatever happens. Default true. */
  readonly pinFirstMessage?: boolean;
  /** Fence tool results as untrusted data. Default true. */
  readonly fenceToolResults?: boolean;
  /** Append the standing trust rule to the system prompt. Default true. */
  readonly trustRule?: boolean;
  readonly dedup?: DedupOptions;
  /** Tool results below this many tokens are never stubbed. Default 200. */
  readonly stubMinTokens?: number;
  /** Newest history units never stubbed nor summarized. Default 2. */
  readonly keepRecent?: number;
  /** Live summaries above this are merged into a higher level. Default 3. */
  readonly maxActiveSummaries?: number;
  /** Window for model ids missing from the table. */
  readonly defaultWindow?: ModelWindow;
  /** Overrides the table entirely for this agent (a fine-tune, a self-hosted model). */
  readonly window?: ModelWindow;
}

export interface PlanContextInput {
  readonly system: string;
  readonly messages: readonly Message[];
  readonly tools: readonly ToolSpec[];
  readonly maxOutputTokens: number;
  readonly model: { readonly provider: string; readonly modelId: string };
  /** The turn about to call the model (1-based, as `turn-start`). */
  readonly turn: number;
  readonly maxTurns?: number;
  readonly config?: ContextConfig;
  readonly memory?: readonly RetrievedItem[];
  /** The session's fence boundary (`createBoundary()`), stored with the session. */
  readonly boundary: string;
  readonly summarize?: Summarize;
  /** Summaries journaled by earlier turns: reused, never regenerated. */
  readonly summaries?: readonly ContextSummary[];
  /** Retention tag of a message by index; untagged messages are ordinary. */
  readonly retention?: (message: Message, index: number) => Retention | undefined;
  /** A counter to share across turns (its cache makes later turns cheap). Default: one per model, kept per process. */
  readonly counter?: TokenCounter;
}

export interface ExplainItem {
  readonly id: string;
  readonly segment: Segment;
  readonly kind: 'system' | 'tool' | 'unit' | 'summary' | 'memory' | 'instruction' | 'notice';
  /** Original message range [from, to) for history items. */
  readonly range?: readonly [number, number];
  readonly turn?: number;
  readonly level?: number;
  readonly tokensBefore: number;
  /** Tokens this item contributes to the request (0 unless kept or stubbed). */
  readonly tokens: number;
  readonly decision: Decision;
  readonly rule: string;
  readonly detail?: string;
}

export interface ExplainSegment {
  readonly segment: Segment;
  readonly budget: number;
  readonly tokens: number;
  readonly items: readonly ExplainItem[];
}

export interface ExplainPlan {
  readonly model: string;
  readonly turn: number;
  readonly window: number;
  readonly reservedOutput: number;
  readonly total: number;
  readonly utilization: number;
  readonly warning: boolean;
  readonly compaction: boolean;
  readonly tokenCounting: 'tokenizer' | 'estimate';
  readonly encoding: string;
  readonly segments: readonly ExplainSegment[];
}

export interface ContextPlan {
  readonly request: ModelRequest;
  /** Canonical serialisation of `request`, as `assembleRequest` produces: store as a blob, hash for `requestHash`. */
  readonly serialized: string;
  /** `history` is every message token except memory and the instruction; `toolResults` is the part of history that is tool results. */
  readonly tokens: { readonly system: number; readonly tools: number; readonly history: number; readonly toolResults: number; readonly memory: number; readonly instruction: number; readonly total: number };
  readonly tokenCounting: 'tokenizer' | 'estimate';
  readonly windowTokens: number;
  readonly reservedOutputTokens: number;
  readonly budgets: ResolvedBudgets & { readonly history: number };
  readonly utilization: number;
  readonly warning: boolean;
  /** The untrimmed context passed `compactAt`, so history was compacted towards `compactTo`. */
  readonly compaction: boolean;
  /** Summaries produced by this assembly: journal them, then pass them back as `summaries` on later turns. */
  readonly newSummaries: readonly ContextSummary[];
  readonly explain: ExplainPlan;
}

const counters = new Map<string, TokenCounter>();
function counterFor(model: { provider: string; modelId: string }): TokenCounter {
  const key = `${model.provider}\u0000${model.modelId}`;
  let counter = counters.get(key);
  if (counter === undefined) {
    if (counters.size > 64) counters.clear();
    counter = createTokenCounter(model);
    counters.set(key, counter);
  }
  return counter;
}

/** Per-counter cache of block counts: messages are immutable and reused across turns, so warm assembly is cheap. */
const blockCounts = new WeakMap<TokenCounter, WeakMap<ContentBlock, number>>();
function measureWith(counter: TokenCounter): (messages: readonly Message[]) => number {
  let cache = blockCounts.get(counter);
  if (cache === undefined) {
    cache = new WeakMap();
    blockCounts.set(counter, cache);
  }
  const blocks = cache;
  return (messages) => {
    let total = 0;
    for (const message of messages) {
      total += messageOverheadTokens;
      for (const block of message.content) {
        let tokens = blocks.get(block);
        if (tokens === undefined) {
          tokens = countBlock(counter, block);
          blocks.set(block, tokens);
        }
        total += tokens;
      }
    }
    return total;
  };
}

/** Fenced copies of tool_result blocks, by original block and boundary, so the same block fences to the same object. */
const fencedBlocks = new WeakMap<ContentBlock, { boundary: string; block: ContentBlock }>();
function fenced(block: ContentBlock, toolName: string, boundary: string): ContentBlock {
  if (block.type !== 'tool_result') return block;
  const hit = fencedBlocks.get(block);
  if (hit !== undefined && hit.boundary === boundary) return hit.block;
  const wrapped = fenceToolResult(block, toolName, boundary);
  fencedBlocks.set(block, { boundary, block: wrapped });
  return wrapped;
}

const omissionNotice = '[Keel] Earlier messages were omitted to fit the context window.';

/** Groups messages into units: an assistant message with tool_use blocks moves with the next (tool_result) message. */
function buildUnits(input: PlanContextInput, measure: (messages: readonly Message[]) => number, toolNames: Map<string, string>): HistoryItem[] {
  const { messages } = input;
  const fence = input.config?.fenceToolResults ?? true;
  for (const message of messages) for (const block of message.content) if (block.type === 'tool_use') toolNames.set(block.id, block.name);
  const units: HistoryItem[] = [];
  let assistants = 0;
  let index = 0;
  while (index < messages.length) {
    const message = messages[index] as Message;
    let to = index + 1;
    if (message.role === 'assistant' && message.content.some((block) => block.type === 'tool_use') && messages[to]?.role === 'user' && messages[to]?.content.some((block) => block.type === 'tool_result')) to += 1;
    const original = messages.slice(index, to);
    for (const each of original) if (each.role === 'assistant') assistants += 1;
    const unitMessages = fence
      ? original.map((each) => (each.content.some((block) => block.type === 'tool_result') ? { ...each, content: each.content.map((block) => (block.type === 'tool_result' ? fenced(block, toolNames.get(block.toolUseId) ?? 'unknown', input.boundary) : block)) } : each))
      : original;
    const tokens = measure(unitMessages);
    const toolResultTokens = unitMessages.reduce((sum, each) => sum + (each.role === 'user' && each.content.some((block) => block.type === 'tool_result') ? measure([each]) : 0), 0);
    const tags = original.map((each, offset) => input.retention?.(each, index + offset));
    const retention: Retention | undefined = tags.includes('persistent') ? 'persistent' : tags.length > 0 && tags.every((tag) => tag === 'ephemeral') ? 'ephemeral' : undefined;
    const pinned = (index === 0 && (input.config?.pinFirstMessage ?? true)) || retention === 'persistent';
    units.push({
      id: `messages[${index}..${to})`,
      kind: 'unit',
      from: index,
      to,
      turn: assistants + 1,
      messages: unitMessages,
      tokens,
      originalTokens: tokens,
      toolResultTokens,
      pinned,
      ...(retention === undefined ? {} : { retention }),
      decision: 'kept',
      rule: pinned ? (index === 0 ? 'pinned:first-message' : 'retention:persistent') : 'fits',
    });
    index = to;
  }
  return units;
}

/** Concatenates consecutive messages of the same role, so the request alternates user and assistant. */
function alternate(messages: readonly Message[]): Message[] {
  const out: Message[] = [];
  for (const message of messages) {
    const previous = out[out.length - 1];
    if (previous !== undefined && previous.role === message.role) out[out.length - 1] = { role: message.role, content: [...previous.content, ...message.content] };
    else out.push(message);
  }
  return out;
}

/**
 * The query planner of the context window: counts, budgets, applies the strategies, lays out trust, and
 * explains every decision. Pure apart from the injected `summarize`.
 */
export async function planContext(input: PlanContextInput): Promise<ContextPlan> {
  const config = input.config ?? {};
  const counter = input.counter ?? counterFor(input.model);
  const measure = measureWith(counter);
  const window = config.window ?? lookupModelWindow(input.model.modelId, config.defaultWindow === undefined ? {} : { fallback: config.defaultWindow });
  const budgets = resolveBudgets(window.contextWindow, input.maxOutputTokens, config.budgets);

  // Fixed segments: system (with the trust rule) and tools must fit their budgets as they are.
  const system = (config.trustRule ?? true) ? trustedSystem(input.system, input.boundary) : input.system;
  const systemTokens = counter.count(system);
  if (systemTokens > budgets.system) throw segmentOverBudget('system', systemTokens, budgets.system);
  const toolsTokens = countTools(counter, input.tools);
  if (toolsTokens > budgets.tools) throw segmentOverBudget('tools', toolsTokens, budgets.tools);
  const instruction = turnBudgetInstruction(input.turn, input.maxTurns);
  const instructionTokens = instruction === null ? 0 : measure([{ role: 'user', content: [{ type: 'text', text: instruction }] }]) - messageOverheadTokens;
  const noticeReserve = measure([{ role: 'user', content: [{ type: 'text', text: omissionNotice }] }]);

  // History units.
  const toolNames = new Map<string, string>();
  let items = buildUnits(input, measure, toolNames);
  const untrimmedHistory = keptTokens(items);

  // Memory: dedup against what is in context, then rank order within the memory budget.
  const memoryItems: ExplainItem[] = [];
  const memoryTexts: string[] = [];
  let memoryTokens = 0;
  const retrieved = input.memory ?? [];
  if (retrieved.length > 0) {
    const contextTexts = input.messages.flatMap((message) => message.content.map((block) => (block.type === 'text' ? block.text : block.type === 'tool_result' ? block.content : ''))).filter((text) => text.length > 0);
    const dedup = deduplicate(retrieved.map((item) => item.text), contextTexts, config.dedup);
    retrieved.forEach((item, index) => {
      const text = fenceUntrusted(item.text, { boundary: input.boundary, kind: item.kind ?? 'memory', ...(item.source === undefined ? {} : { source: item.source }) });
      const tokens = counter.count(text) + 3;
      const verdict = dedup[index];
      const base = { id: `memory:${item.id}`, segment: 'memory' as const, kind: 'memory' as const, tokensBefore: tokens };
      if (verdict?.duplicate === true) {
        memoryItems.push({ ...base, tokens: 0, decision: 'deduplicated', rule: 'dedup:jaccard', detail: `similarity ${verdict.similarity.toFixed(2)} with ${verdict.of === 'context' ? 'context' : `memory item ${retrieved[verdict.of as number]?.id}`}` });
      } else if (memoryTokens + tokens > budgets.memory) {
        memoryItems.push({ ...base, tokens: 0, decision: 'dropped', rule: 'memory-budget' });
      } else {
        memoryTokens += tokens;
        memoryTexts.push(text);
        memoryItems.push({ ...base, tokens, decision: 'kept', rule: 'fits' });
      }
    });
  }

  // History budget: what the window leaves after the fixed segments; compaction aims lower (hysteresis).
  const fixed = systemTokens + toolsTokens + memoryTokens + instructionTokens + (memoryTexts.length + (instruction === null ? 0 : 1) > 0 ? messageOverheadTokens : 0);
  const historyBudget = budgets.input - fixed - noticeReserve;
  if (historyBudget <= 0) checkFits(fixed + noticeReserve, budgets.window, budgets.reservedOutput, 'The system prompt, tools, memory and instruction');
  const compaction = fixed + untrimmedHistory > budgets.compactAt * budgets.window;
  const target = compaction ? Math.min(historyBudget, Math.max(0, Math.floor(budgets.compactTo * budgets.window) - fixed - noticeReserve)) : historyBudget;
  const last = items[items.length - 1];
  if (last !== undefined && last.tokens > historyBudget) checkFits(fixed + noticeReserve + last.tokens, budgets.window, budgets.reservedOutput, 'The newest message');

  const newSummaries: ContextSummary[] = [];
  const strategies = config.strategies ?? defaultStrategies;
  const keepRecent = config.keepRecent ?? 2;
  const render = (summary: Omit<ContextSummary, 'tokens'>): { message: Message; tokens: number } => {
    const text = fenceUntrusted(`Summary (level ${summary.level}) of messages ${summary.from}–${summary.to - 1}:\n${summary.text}`, { boundary: input.boundary, kind: 'memory', source: summary.id });
    const message: Message = { role: 'user', content: [{ type: 'text', text }] };
    return { message, tokens: measure([message]) };
  };
  for (const strategy of strategies) {
    switch (strategy) {
      case 'retention':
        items = applyRetention(items, input.turn);
        break;
      case 'stub-tool-results':
        items = stubToolResults(items, { toolResultBudget: budgets.toolResults, ...(compaction ? { historyTarget: target } : {}), minTokens: config.stubMinTokens ?? 200, keepRecent, measure, toolNames });
        break;
      case 'summarize': {
        const applyExisting = (input.summaries?.length ?? 0) > 0;
        if (!applyExisting && keptTokens(items) <= target) break;
        const outcome = await summarizeHistory(items, {
          target,
          turn: input.turn,
          ...(input.summarize === undefined ? {} : { summarize: input.summarize }),
          existing: input.summaries ?? [],
          render,
          keepRecent,
          chunkMaxTokens: Math.max(1024, Math.floor(budgets.window / 2)),
          ...(config.maxActiveSummaries === undefined ? {} : { maxActive: config.maxActiveSummaries }),
        });
        items = outcome.items;
        newSummaries.push(...outcome.created);
        break;
      }
      case 'sliding-window':
        break;
    }
  }
  // The guarantee: whatever the strategies did, the history ends within its budget.
  items = slidingWindow(items, target);
  if (keptTokens(items) > historyBudget) checkFits(fixed + noticeReserve + keptTokens(items), budgets.window, budgets.reservedOutput, 'The history that cannot be dropped');

  // Messages: live items in order; a user notice first when the history now opens with the assistant.
  let messages = alternate(items.filter(isLive).flatMap((item) => item.messages));
  let noticeItem: ExplainItem | null = null;
  if (messages[0]?.role === 'assistant') {
    messages = alternate([{ role: 'user', content: [{ type: 'text', text: omissionNotice }] }, ...messages]);
    noticeItem = { id: 'notice:omitted', segment: 'history', kind: 'notice', tokensBefore: noticeReserve, tokens: noticeReserve, decision: 'kept', rule: 'alternation:user-first' };
  }
  const historyTokens = measure(messages);
  const extra: ContentBlock[] = [...memoryTexts.map((text): ContentBlock => ({ type: 'text', text })), ...(instruction === null ? [] : [{ type: 'text' as const, text: instruction }])];
  if (extra.length > 0) messages = alternate([...messages, { role: 'user', content: extra }]);
  const toolResultTokens = items.filter(isLive).reduce((sum, item) => sum + item.toolResultTokens, 0);

  const request: ModelRequest = {
    system,
    messages,
    tools: input.tools,
    maxOutputTokens: input.maxOutputTokens,
    ...(instruction === null ? {} : { toolChoice: 'none' as const }),
  };
  const total = systemTokens + toolsTokens + historyTokens + memoryTokens + instructionTokens + (extra.length > 0 ? messageOverheadTokens : 0);
  checkFits(total, budgets.window, budgets.reservedOutput);
  const used = utilization(total, budgets.window);
  const warning = used >= budgets.warnAt || compaction;

  const historyItems: ExplainItem[] = items.map((item) => ({
    id: item.id,
    segment: item.kind === 'unit' && item.toolResultTokens > 0 ? 'tool-results' : 'history',
    kind: item.kind,
    range: [item.from, item.to] as const,
    turn: item.turn,
    ...(item.level === undefined ? {} : { level: item.level }),
    tokensBefore: item.originalTokens,
    tokens: isLive(item) ? item.tokens : 0,
    decision: item.decision,
    rule: item.rule,
    ...(item.detail !== undefined ? { detail: item.detail } : item.summaryId !== undefined ? { detail: `into ${item.summaryId}` } : {}),
  }));
  if (noticeItem !== null) historyItems.unshift(noticeItem);
  const segments: ExplainSegment[] = [
    { segment: 'system', budget: budgets.system, tokens: systemTokens, items: [{ id: 'system', segment: 'system', kind: 'system', tokensBefore: systemTokens, tokens: systemTokens, decision: 'kept', rule: 'always-kept' }] },
    {
      segment: 'tools',
      budget: budgets.tools,
      tokens: toolsTokens,
      items: input.tools.map((tool) => {
        const tokens = countTools(counter, [tool]);
        return { id: `tool:${tool.name}`, segment: 'tools' as const, kind: 'tool' as const, tokensBefore: tokens, tokens, decision: 'kept' as const, rule: 'always-kept' };
      }),
    },
    { segment: 'history', budget: historyBudget, tokens: historyTokens, items: historyItems },
    { segment: 'memory', budget: budgets.memory, tokens: memoryTokens, items: memoryItems },
    ...(instruction === null ? [] : [{ segment: 'instruction' as const, budget: instructionTokens, tokens: instructionTokens, items: [{ id: 'instruction:turn-budget', segment: 'instruction' as const, kind: 'instruction' as const, tokensBefore: instructionTokens, tokens: instructionTokens, decision: 'kept' as const, rule: 'turn-budget' }] }]),
    { segment: 'output', budget: budgets.reservedOutput, tokens: budgets.reservedOutput, items: [] },
  ];
  const tokens = { system: systemTokens, tools: toolsTokens, history: historyTokens, toolResults: toolResultTokens, memory: memoryTokens, instruction: instructionTokens, total };
  return {
    request,
    serialized: canonicalJson(request),
    tokens,
    tokenCounting: counter.method,
    windowTokens: budgets.window,
    reservedOutputTokens: budgets.reservedOutput,
    budgets: { ...budgets, history: historyBudget },
    utilization: used,
    warning,
    compaction,
    newSummaries,
    explain: {
      model: `${input.model.provider}/${input.model.modelId}`,
      turn: input.turn,
      window: budgets.window,
      reservedOutput: budgets.reservedOutput,
      total,
      utilization: used,
      warning,
      compaction,
      tokenCounting: counter.method,
      encoding: counter.encoding,
      segments,
    },
  };
}
