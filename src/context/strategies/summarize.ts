import type { Message } from '../../spec/message.ts';
import type { HistoryItem } from './types.ts';
import { isLive, keptTokens } from './types.ts';

/** The injected summarizer: one model call over the messages to compress. `level` > 1 means the messages are summaries. */
export type Summarize = (messages: readonly Message[], info: { readonly level: number; readonly from: number; readonly to: number }) => Promise<string>;

/** A summary as journaled: produced once, then reused on every later turn and on resume, never regenerated. */
export interface ContextSummary {
  /** Deterministic: `summary-L<level>-<from>-<to>`. */
  readonly id: string;
  readonly level: number;
  /** Range of original message indices it covers, [from, to). */
  readonly from: number;
  readonly to: number;
  readonly text: string;
  readonly tokens: number;
  /** The turn whose assembly produced it. */
  readonly turn: number;
  /** Ids of the lower-level summaries it merged (level > 1). */
  readonly children?: readonly string[];
}

export function summaryId(level: number, from: number, to: number): string {
  return `summary-L${level}-${from}-${to}`;
}

export interface SummarizeOptions {
  readonly target: number;
  readonly turn: number;
  readonly summarize?: Summarize;
  readonly existing: readonly ContextSummary[];
  /** Builds the summary item's message and counts it. */
  readonly render: (summary: Omit<ContextSummary, 'tokens'>) => { message: Message; tokens: number };
  /** Newest units never summarized. Default 2. */
  readonly keepRecent?: number;
  /** Most tokens of history one summarizer call reads. */
  readonly chunkMaxTokens: number;
  /** More live summaries than this are merged into one of the next level. Default 3. */
  readonly maxActive?: number;
  /**
   * Summarizer calls per assembly at most. Default 16. A resumed assembly given the journaled summaries makes no new
   * call as long as the first one was not stopped by this cap (then the sliding window finished the job, and a rerun
   * would summarize further); on replay, pass no `summarize` to be exact in every case.
   */
  readonly maxCalls?: number;
}

function summaryItem(summary: ContextSummary, message: Message, rule: string): HistoryItem {
  return {
    id: summary.id,
    kind: 'summary',
    from: summary.from,
    to: summary.to,
    turn: summary.turn,
    messages: [message],
    tokens: summary.tokens,
    originalTokens: summary.tokens,
    toolResultTokens: 0,
    pinned: false,
    decision: 'kept',
    rule,
    level: summary.level,
    ...(summary.children === undefined ? {} : { children: summary.children }),
  };
}

function covers(outer: { from: number; to: number }, inner: { from: number; to: number }): boolean {
  return outer.from <= inner.from && inner.to <= outer.to;
}

function order(items: HistoryItem[]): HistoryItem[] {
  return items.sort((a, b) => a.from - b.from || (a.kind === b.kind ? 0 : a.kind === 'summary' ? -1 : 1) || b.to - a.to);
}

/** Marks what `summary` covers as summarized (pinned units stay) and adds its item. */
function applySummary(items: HistoryItem[], summary: ContextSummary, message: Message, rule: string): HistoryItem[] {
  const next = items.map((item) => {
    if (!isLive(item) || item.pinned || item.id === summary.id || !covers(summary, item)) return item;
    return { ...item, decision: 'summarized' as const, rule: item.kind === 'summary' ? 'summary:merged' : rule, summaryId: summary.id };
  });
  next.push(summaryItem(summary, message, rule === 'summary:reused' ? 'summary:reused' : 'summary:new'));
  return order(next);
}

/**
 * Summarization compression, hierarchical: existing summaries are applied first (highest level
 * wins), so a resumed session rebuilds the same context without calling the model. While the history is over
 * `target`, the oldest unsummarized units (whole units, never the newest `keepRecent`) are summarized into a level-1
 * summary; when more than `maxActive` summaries are live, the oldest are merged into a summary of the next level.
 */
export async function summarizeHistory(items: readonly HistoryItem[], options: SummarizeOptions): Promise<{ items: HistoryItem[]; created: ContextSummary[] }> {
  let result = [...items];
  const created: ContextSummary[] = [];
  const known = [...options.existing].sort((a, b) => b.level - a.level || b.to - b.from - (a.to - a.from));
  for (const summary of known) {
    const units = result.filter((item) => item.kind === 'unit' && covers(summary, item));
    const aligned = units.length > 0 && units[0]?.from === summary.from && units[units.length - 1]?.to === summary.to;
    if (!aligned || result.some((item) => item.kind === 'summary' && covers(item, summary))) continue;
    const { message } = options.render(summary);
    result = applySummary(result, summary, message, 'summary:reused');
  }
  const summarize = options.summarize;
  if (summarize === undefined) return { items: result, created };
  const keepRecent = options.keepRecent ?? 2;
  const maxActive = options.maxActive ?? 3;
  let calls = options.maxCalls ?? 16;

  const make = async (level: number, from: number, to: number, input: Message[], children?: string[]): Promise<ContextSummary> => {
    calls -= 1;
    const text = await summarize(input, { level, from, to });
    const draft = { id: summaryId(level, from, to), level, from, to, text, turn: options.turn, ...(children === undefined ? {} : { children }) };
    const { message, tokens } = options.render(draft);
    const summary: ContextSummary = { ...draft, tokens };
    created.push(summary);
    result = applySummary(result, summary, message, level === 1 ? 'summary:new' : 'summary:merged');
    return summary;
  };

  while (calls > 0 && keptTokens(result) > options.target) {
    // The oldest run of live (kept or stubbed), unpinned units, stopping at a pinned unit, a gap or the newest units.
    const units = result.filter((item) => isLive(item) && item.kind === 'unit');
    const candidates = units.slice(0, Math.max(0, units.length - keepRecent));
    const startIndex = candidates.findIndex((item) => !item.pinned);
    if (startIndex < 0) break;
    const chunk: HistoryItem[] = [];
    let chunkTokens = 0;
    const excess = keptTokens(result) - options.target;
    const available = candidates.slice(startIndex).reduce((sum, item) => sum + item.tokens, 0);
    // When even all candidates cannot close the gap, take the largest chunk the summarizer reads, to spare calls.
    const enough = excess * 1.5 >= available ? options.chunkMaxTokens : excess * 1.5;
    for (const item of candidates.slice(startIndex)) {
      if (item.pinned) break;
      const previous = chunk[chunk.length - 1];
      if (previous !== undefined && previous.to !== item.from) break;
      if (chunk.length > 0 && chunkTokens + item.tokens > options.chunkMaxTokens) break;
      chunk.push(item);
      chunkTokens += item.tokens;
      if (chunkTokens >= enough) break;
    }
    const first = chunk[0];
    const last = chunk[chunk.length - 1];
    if (first === undefined || last === undefined || chunk.length < 2 && first.tokens < 64) break;
    await make(1, first.from, last.to, chunk.flatMap((item) => item.messages));
    // Hierarchy: too many live summaries → merge the oldest into the next level.
    const live = result.filter((item) => isLive(item) && item.kind === 'summary');
    if (live.length > maxActive && calls > 0) {
      const merge = live.slice(0, live.length - maxActive + 1);
      const level = Math.max(...merge.map((item) => item.level ?? 1)) + 1;
      const from = Math.min(...merge.map((item) => item.from));
      const to = Math.max(...merge.map((item) => item.to));
      await make(level, from, to, merge.flatMap((item) => item.messages), merge.map((item) => item.id));
    }
  }
  return { items: result, created };
}
