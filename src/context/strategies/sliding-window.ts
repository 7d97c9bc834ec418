import type { HistoryItem } from './types.ts';
import { isLive, keptTokens } from './types.ts';

/**
 * Sliding window: drops the oldest live items until the history fits `budget`. Items are whole units, so a tool_use
 * and its tool_result leave together. Unpinned items go first; pinned ones only if that is not enough; the last item
 * never (the caller checks that it fits).
 */
export function slidingWindow(items: readonly HistoryItem[], budget: number): HistoryItem[] {
  const result = [...items];
  let total = keptTokens(result);
  for (const pinnedPass of [false, true]) {
    for (let index = 0; index < result.length - 1 && total > budget; index += 1) {
      const item = result[index] as HistoryItem;
      if (!isLive(item) || item.pinned !== pinnedPass) continue;
      result[index] = { ...item, decision: 'dropped', rule: pinnedPass ? 'sliding-window:pinned-overflow' : 'sliding-window' };
      total -= item.tokens;
    }
  }
  return result;
}
