import type { Message, ToolResultBlock } from '../../spec/message.ts';
import type { HistoryItem, MeasureMessages } from './types.ts';
import { isLive, keptTokens } from './types.ts';

export interface StubOptions {
  /** Stub until the live tool results total at most this many tokens. */
  readonly toolResultBudget: number;
  /** And, when compacting, until the whole history fits this (stubbing loses less than summarizing). */
  readonly historyTarget?: number;
  /** Only results at least this large are worth a stub. Default 200. */
  readonly minTokens?: number;
  /** The newest items whose results are never stubbed. Default 2. */
  readonly keepRecent?: number;
  readonly measure: MeasureMessages;
  /** tool_use id → tool name, across the whole history. */
  readonly toolNames: ReadonlyMap<string, string>;
}

export function stubText(toolName: string, turn: number, callId: string, tokens: number): string {
  return `[tool result of ${toolName} at turn ${turn} (${tokens} tokens) kept in the session's episodic record; call read_tool_result with {"callId":"${callId}"} to read it again]`;
}

/**
 * Selective retrieval of earlier tool results: large old results are replaced by a short stub naming the
 * tool, the turn and the call id to recall. The tool_result block stays in place, so every tool_use keeps its result.
 */
export function stubToolResults(items: readonly HistoryItem[], options: StubOptions): HistoryItem[] {
  const result = [...items];
  const minTokens = options.minTokens ?? 200;
  const keepRecent = options.keepRecent ?? 2;
  let toolTotal = 0;
  for (const item of result) if (isLive(item)) toolTotal += item.toolResultTokens;
  let historyTotal = keptTokens(result);
  const over = (): boolean => toolTotal > options.toolResultBudget || (options.historyTarget !== undefined && historyTotal > options.historyTarget);
  for (let index = 0; index < result.length - keepRecent && over(); index += 1) {
    const item = result[index] as HistoryItem;
    if (item.kind !== 'unit' || item.decision !== 'kept' || item.toolResultTokens < minTokens) continue;
    const rule = toolTotal > options.toolResultBudget ? 'tool-result-budget' : 'compaction:stub-tool-results';
    let changed = false;
    const messages: Message[] = item.messages.map((message) => {
      if (message.role !== 'user') return message;
      return {
        ...message,
        content: message.content.map((block) => {
          if (block.type !== 'tool_result') return block;
          const blockTokens = options.measure([{ role: 'user', content: [block] }]);
          if (blockTokens < minTokens) return block;
          changed = true;
          const stub: ToolResultBlock = { ...block, content: stubText(options.toolNames.get(block.toolUseId) ?? 'unknown tool', item.turn - 1, block.toolUseId, blockTokens) };
          return stub;
        }),
      };
    });
    if (!changed) continue;
    const tokens = options.measure(messages);
    const toolResultTokens = messages.reduce((sum, message) => sum + (message.role === 'user' && message.content.some((block) => block.type === 'tool_result') ? options.measure([message]) : 0), 0);
    toolTotal -= item.toolResultTokens - toolResultTokens;
    historyTotal -= item.tokens - tokens;
    result[index] = { ...item, messages, tokens, toolResultTokens, decision: 'stubbed', rule };
  }
  return result;
}
