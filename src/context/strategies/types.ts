import type { Message } from '../../spec/message.ts';

export type Decision = 'kept' | 'summarized' | 'dropped' | 'stubbed' | 'deduplicated';
export type Retention = 'ephemeral' | 'persistent';

/**
 * One item of the history as the strategies see it. A unit is the smallest piece that moves as a whole: a user
 * message, an assistant message, or an assistant message with tool_use blocks together with the user message that
 * carries its tool_result blocks, so that no strategy can orphan one from the other. A summary item stands for the
 * range of original messages it replaced.
 */
export interface HistoryItem {
  readonly id: string;
  readonly kind: 'unit' | 'summary';
  /** Range of original message indices, [from, to). */
  readonly from: number;
  readonly to: number;
  /** The turn whose model call first read this item's last message. */
  readonly turn: number;
  /** The messages this item contributes to the request (tool results fenced or stubbed as decided). */
  readonly messages: readonly Message[];
  readonly tokens: number;
  readonly originalTokens: number;
  readonly toolResultTokens: number;
  readonly pinned: boolean;
  readonly retention?: Retention;
  readonly decision: Decision;
  readonly rule: string;
  readonly detail?: string;
  /** For summaries: level (1 = over raw messages) and the ids of the summaries it merged. */
  readonly level?: number;
  readonly children?: readonly string[];
  /** For units that a summary replaced: the summary's id. */
  readonly summaryId?: string;
}

/** Counts the tokens of a list of messages. */
export type MeasureMessages = (messages: readonly Message[]) => number;

export function keptTokens(items: readonly HistoryItem[]): number {
  let total = 0;
  for (const item of items) if (item.decision === 'kept' || item.decision === 'stubbed') total += item.tokens;
  return total;
}

export function isLive(item: HistoryItem): boolean {
  return item.decision === 'kept' || item.decision === 'stubbed';
}
