import { foldEvents } from '../loop/index.ts';
import { waitsForPlanDecision } from '../planner/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { Journal } from '../spec/journal.ts';
import type { RunQueue } from './run-queue.ts';

/** What one approval sweep reads and how many waiting sessions it checks. */
export interface ApprovalSweepOptions {
  readonly queue: RunQueue;
  readonly journal: Journal;
  readonly limit: number;
}

/**
 * The fallback of approval wake-ups: a decision journaled without `queue.wake` (by `keel.decide` in another
 * process, or a waker that crashed between the two) is found here. A waiting session none of whose waiting sessions
 * still has an unanswered call is queued again. Each sweep checks the least recently checked `limit` sessions.
 */
export async function sweepApprovals(context: ApprovalSweepOptions): Promise<readonly string[]> {
  const woken: string[] = [];
  for (const row of await context.queue.waitingForApproval(context.limit)) {
    const sessions = row.waitingSessions.length === 0 ? [row.sessionId] : row.waitingSessions;
    let stillWaiting = false;
    for (const sessionId of sessions) {
      if (await hasUnansweredCall(context.journal, sessionId)) {
        stillWaiting = true;
        break;
      }
    }
    if (!stillWaiting) woken.push(...(await context.queue.wake(row.sessionId)));
  }
  return woken;
}

async function hasUnansweredCall(journal: Journal, sessionId: string): Promise<boolean> {
  const events: SessionEvent[] = [];
  for await (const event of journal.read(sessionId)) events.push(event);
  if (events.length === 0) return false;
  const state = foldEvents(events);
  if (state.end !== null) return false;
  for (const call of state.toolCalls.values()) {
    if (call.outcome === null && call.decision?.decision === 'ask' && call.approval === null) return true;
  }
  return waitsForPlanDecision(sessionId, events);
}
