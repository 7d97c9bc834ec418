import { ignoreNever } from '../util/assert-never.ts';
import { supportedEventVersions } from '../spec/events.ts';
import type { SessionEvent } from '../spec/events.ts';

export interface JournalValidation {
  readonly valid: boolean;
  /** One sentence per problem, naming the seq where it was found. */
  readonly problems: readonly string[];
}

/**
 * Checks one session's journal against the invariants the loop and resume rely on. Crash and fault
 * tests use it to assert that whatever was interrupted, what reached the journal still makes sense.
 * It reports every problem rather than the first, so that one run shows the whole damage.
 */
export function validateJournal(events: readonly SessionEvent[]): JournalValidation {
  const problems: string[] = [];
  const first = events[0];
  if (first === undefined) return { valid: false, problems: ['The journal is empty: a session starts with a session-start event.'] };
  if (first.type !== 'session-start') problems.push(`seq ${first.seq}: the first event is ${first.type}, not session-start.`);

  const sessionId = first.sessionId;
  const requestedCalls = new Set<string>();
  const startedChildren = new Set<string>();
  // Workflow step attempts (`path#attempt`) started and not ended, and those with a final outcome.
  const openSteps = new Set<string>();
  const finishedSteps = new Set<string>();
  const answeredCalls = new Set<string>();
  // Model requests of each turn still waiting for their response.
  const pendingModelRequests = new Map<number, number>();
  let lastTurn = 0;
  let endSeq: number | undefined;

  events.forEach((event, index) => {
    const at = `seq ${event.seq}`;
    if (event.seq !== index + 1) problems.push(`${at}: expected seq ${index + 1}; seqs start at 1 and have no gaps.`);
    if (!supportedEventVersions.includes(event.v)) problems.push(`${at}: version ${event.v} is not supported (${supportedEventVersions.join(', ')}).`);
    if (event.sessionId !== sessionId) problems.push(`${at}: belongs to session ${event.sessionId}, not ${sessionId}.`);
    if (index > 0 && event.type === 'session-start') problems.push(`${at}: a second session-start.`);
    if (endSeq !== undefined) {
      problems.push(
        event.type === 'session-end'
          ? `${at}: a second session-end (the first is at seq ${endSeq}).`
          : `${at}: ${event.type} after the session-end at seq ${endSeq}; session-end must be last.`,
      );
    }

    switch (event.type) {
      case 'session-end':
        endSeq ??= event.seq;
        break;
      case 'turn-start':
        if (event.turn !== lastTurn + 1) problems.push(`${at}: turn-start of turn ${event.turn} after turn ${lastTurn}; turns go up by 1 from 1.`);
        lastTurn = event.turn;
        break;
      case 'model-request':
        pendingModelRequests.set(event.turn, (pendingModelRequests.get(event.turn) ?? 0) + 1);
        break;
      case 'model-response': {
        const pending = pendingModelRequests.get(event.turn) ?? 0;
        if (pending === 0) problems.push(`${at}: model-response of turn ${event.turn} without a model-request of that turn awaiting it.`);
        else pendingModelRequests.set(event.turn, pending - 1);
        break;
      }
      case 'child-start':
        if (startedChildren.has(event.callId)) problems.push(`${at}: a second child-start for callId ${event.callId}.`);
        startedChildren.add(event.callId);
        break;
      case 'child-end':
        if (!startedChildren.has(event.callId)) problems.push(`${at}: child-end for callId ${event.callId} without an earlier child-start.`);
        break;
      case 'tool-request':
        if (requestedCalls.has(event.callId)) problems.push(`${at}: a second tool-request with callId ${event.callId}.`);
        requestedCalls.add(event.callId);
        break;
      case 'tool-result':
      case 'tool-error':
        if (!requestedCalls.has(event.callId)) problems.push(`${at}: ${event.type} for callId ${event.callId} without an earlier tool-request.`);
        if (answeredCalls.has(event.callId)) problems.push(`${at}: a second outcome (${event.type}) for callId ${event.callId}.`);
        answeredCalls.add(event.callId);
        break;
      case 'injection-detect':
        if (event.callId !== undefined && !requestedCalls.has(event.callId)) problems.push(`${at}: injection-detect for callId ${event.callId} without an earlier tool-request.`);
        break;
      case 'verifier-decision':
        if (event.callId !== undefined && !requestedCalls.has(event.callId)) problems.push(`${at}: verifier-decision for callId ${event.callId} without an earlier tool-request.`);
        break;
      case 'quarantined-read':
        if (event.callId !== null && !requestedCalls.has(event.callId)) problems.push(`${at}: quarantined-read in callId ${event.callId} without an earlier tool-request.`);
        break;
      case 'side-call':
        if (!requestedCalls.has(event.callId)) problems.push(`${at}: side-call in callId ${event.callId} without an earlier tool-request.`);
        break;
      case 'session-start':
      case 'context-assemble':
      case 'context-summary':
      case 'memory-read':
      case 'memory-write':
      case 'model-error':
      case 'tool-decision':
      case 'tool-approval':
      case 'compensation-request':
      case 'compensation-result':
      case 'guard-trip':
      case 'anomaly':
        break;
      case 'step-start':
        openSteps.add(`${event.path}#${event.attempt}`);
        break;
      case 'step-end': {
        // A step attempt has one outcome; only a cancelled one may start again (a resume after the caller's cancel).
        const step = `${event.path}#${event.attempt}`;
        if (!openSteps.delete(step)) problems.push(`${at}: step-end of ${step} without an open step-start.`);
        if (finishedSteps.has(step)) problems.push(`${at}: a second outcome of step ${step}.`);
        if (event.status !== 'cancelled') finishedSteps.add(step);
        break;
      }
      case 'workflow-start':
      case 'gate':
      case 'route-decision':
      case 'parallel-join':
        break;
      // Planner events decide nothing about turns or tool calls.
      case 'plan-proposed':
      case 'plan-invalid':
      case 'plan-approval':
      case 'plan-step-start':
      case 'plan-step-end':
      case 'plan-deviation':
      case 'replan':
        break;
      default:
        ignoreNever(event);
        break;
    }
  });
  return { valid: problems.length === 0, problems };
}
