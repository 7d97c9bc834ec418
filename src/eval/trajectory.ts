import type { SessionEvent } from '../spec/events.ts';
import type { TrajectoryCall } from './suite.ts';

/** Reads a session's journal; used for the child sessions a case's session started. */
export type ReadSessionEvents = (sessionId: string) => Promise<readonly SessionEvent[]>;

/** Deepest child session followed: a runaway tree of subagents cannot make the trajectory unbounded. */
const maxChildDepth = 8;

/**
 * The tool calls of a session in journal order, each child session's calls in place of the call that started it.
 * A call counts as executed when the pipeline allowed it (or a person approved it) and it settled: a denied or
 * unapproved call never ran, whatever the model asked.
 */
export async function collectTrajectory(events: readonly SessionEvent[], readEvents: ReadSessionEvents, depth = 0): Promise<TrajectoryCall[]> {
  const calls = new Map<string, MutableCall>();
  const order: (MutableCall | TrajectoryCall[])[] = [];
  for (const event of events) {
    switch (event.type) {
      case 'tool-request': {
        const call: MutableCall = { sessionId: event.sessionId, turn: event.turn, callId: event.callId, tool: event.tool, input: event.input, decision: null, approved: null, outcome: null };
        calls.set(event.callId, call);
        order.push(call);
        break;
      }
      case 'tool-decision':
        update(calls, event.callId, (call) => (call.decision = event.decision));
        break;
      case 'tool-approval':
        update(calls, event.callId, (call) => (call.approved = event.approved));
        break;
      case 'tool-result':
        update(calls, event.callId, (call) => (call.outcome = 'result'));
        break;
      case 'tool-error':
        update(calls, event.callId, (call) => (call.outcome = 'error'));
        break;
      case 'child-start':
        if (depth < maxChildDepth) order.push(await collectTrajectory(await readEvents(event.childSessionId).catch(() => []), readEvents, depth + 1));
        break;
      default:
        break;
    }
  }
  return order.flatMap((entry) => (Array.isArray(entry) ? entry : [settle(entry)]));
}

interface MutableCall {
  sessionId: string;
  turn: number;
  callId: string;
  tool: string;
  input: unknown;
  decision: TrajectoryCall['decision'];
  approved: boolean | null;
  outcome: TrajectoryCall['outcome'];
}

function update(calls: Map<string, MutableCall>, callId: string, change: (call: MutableCall) => void): void {
  const call = calls.get(callId);
  if (call !== undefined) change(call);
}

function settle(call: MutableCall): TrajectoryCall {
  const permitted = call.decision === 'allow' || call.approved === true;
  return { ...call, executed: permitted && call.outcome !== null };
}
