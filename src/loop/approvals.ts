import { KeelError } from '../errors/index.ts';
import { currentEventVersion } from '../spec/events.ts';
import type { EventBody, SessionEvent } from '../spec/events.ts';
import type { Journal } from '../spec/journal.ts';
import type { Clock } from '../spec/clock.ts';
import { validateInput } from '../tools/index.ts';
import type { AgentDefinition } from './define-agent.ts';
import { foldEvents } from './session-state.ts';

export interface ApprovalDecision {
  readonly approved: boolean;
  /** Who decided, for the audit trail. */
  readonly approver: string;
  readonly reason?: string;
  /** Arguments the approver changed; validated against the tool's schema before they are journaled. */
  readonly editedInput?: unknown;
}

/**
 * Journals a person's answer to a call that waits for approval. The append is optimistic: if the session
 * moved on meanwhile the answer is refused, never applied to the wrong state. The caller resumes the session after.
 */
export async function recordApproval(
  journal: Journal,
  clock: Clock,
  agent: AgentDefinition,
  sessionId: string,
  callId: string,
  decision: ApprovalDecision,
): Promise<void> {
  const events: SessionEvent[] = [];
  for await (const event of journal.read(sessionId)) events.push(event);
  if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId}; list sessions with \`keel sessions\`.`);
  const state = foldEvents(events);
  if (state.end !== null) throw new KeelError('session-finished', `Session ${sessionId} has already ended (${state.end.status}).`);
  const call = state.toolCalls.get(callId);
  const pending = [...state.toolCalls.values()].filter((entry) => entry.outcome === null && entry.decision?.decision === 'ask' && entry.approval === null);
  if (call === undefined || call.outcome !== null || call.decision?.decision !== 'ask' || call.approval !== null) {
    const list = pending.length === 0 ? 'none' : pending.map((entry) => `${entry.request.callId} (${entry.request.tool})`).join(', ');
    throw new KeelError('approval-not-pending', `Call ${callId} of session ${sessionId} is not waiting for approval; calls waiting: ${list}.`);
  }
  if (decision.approver.trim() === '') throw new KeelError('invalid-argument', 'An approval needs the name of the approver.');
  const bodies: EventBody[] = [];
  const edited = decision.approved && decision.editedInput !== undefined;
  if (edited) {
    const tool = agent.tools.get(call.request.tool);
    if (tool === undefined) throw new KeelError('invalid-argument', `Agent "${agent.name}" has no tool "${call.request.tool}".`);
    const validated = validateInput(tool, decision.editedInput);
    if ('error' in validated) throw new KeelError('invalid-argument', `The edited arguments are invalid: ${validated.error.message}`);
  }
  bodies.push({
    type: 'tool-approval',
    turn: state.turn,
    callId,
    approved: decision.approved,
    approver: decision.approver,
    reason: decision.reason ?? null,
    ...(edited ? { editedInput: decision.editedInput } : {}),
  });
  if (!decision.approved) {
    const message = `${decision.approver} rejected this call${decision.reason === undefined ? '' : `: ${decision.reason}`}. Do not retry it unchanged; choose another approach or explain to the user.`;
    bodies.push({ type: 'tool-error', turn: state.turn, callId, tool: call.request.tool, error: new KeelError('approval-rejected', message).toRecord(), latencyMs: 0 });
  }
  const at = clock.now();
  const stamped = bodies.map((body, index) => ({ ...body, v: currentEventVersion, sessionId, seq: state.lastSeq + index + 1, at }) as SessionEvent);
  await journal.append(sessionId, stamped, state.lastSeq);
}
