import type { HistoryItem } from './types.ts';
import { isLive } from './types.ts';

/**
 * Selective retention: items tagged `ephemeral` are dropped once the turn that used them is over;
 * `persistent` items are pinned, so later strategies keep them. The last item is never dropped.
 */
export function applyRetention(items: readonly HistoryItem[], currentTurn: number): HistoryItem[] {
  const last = items.length - 1;
  return items.map((item, index) => {
    if (!isLive(item)) return item;
    if (item.retention === 'persistent') return item.pinned ? item : { ...item, pinned: true, rule: 'retention:persistent' };
    if (item.retention === 'ephemeral' && index !== last && item.turn < currentTurn) {
      return { ...item, decision: 'dropped', rule: 'retention:ephemeral', detail: `used at turn ${item.turn}` };
    }
    return item;
  });
}
