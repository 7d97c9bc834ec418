import { KeelError } from '../errors/index.ts';
import { sha256 } from '../util/index.ts';
import { raceWithSignal, stringifyOutput } from '../tools/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { Journal } from '../spec/journal.ts';
import { childSessionId } from './child-sessions.ts';
import type { AgentDefinition } from './define-agent.ts';
import { foldEvents } from './session-state.ts';
import { subagentOf } from './subagent-tool.ts';

/** Sessions below the one undone that are walked at most: a deeper chain is a loop or a corrupt journal. */
const maxDepth = 16;

export interface ChildCompensation {
  readonly journal: Journal;
  readonly agent: AgentDefinition;
  readonly sessionId: string;
  readonly signal: AbortSignal;
}

/**
 * Undoes a child session that completed, for its parent's saga: every call of the child that may have had an effect
 * is compensated, newest first, and a call that was itself a subagent is undone the same way, inside it. Each undo
 * gets the key its own session's saga would use, so repeating this after a crash repeats no effect at a tool that
 * deduplicates. Returns what was undone; throws `compensation-failed` naming the undos that failed (after trying all).
 */
export async function compensateChildSession(request: ChildCompensation, depth = 0): Promise<string> {
  if (depth > maxDepth) throw new KeelError('compensation-failed', `Session ${request.sessionId} is nested more than ${maxDepth} subagents deep; undo it by hand.`);
  const events: SessionEvent[] = [];
  for await (const event of request.journal.read(request.sessionId)) events.push(event);
  if (events.length === 0) return `Session ${request.sessionId} never started: nothing to undo.`;
  const state = foldEvents(events);
  const undone: string[] = [];
  const failures: string[] = [];
  for (const call of [...state.effectCalls].reverse()) {
    const tool = request.agent.tools.get(call.tool);
    const spec = subagentOf(tool);
    if (tool === undefined || (tool.compensate === null && spec === null)) continue;
    try {
      if (spec !== null) {
        await compensateChildSession({ journal: request.journal, agent: spec.agent, sessionId: childSessionId(request.sessionId, call.callId), signal: request.signal }, depth + 1);
      } else if (tool.compensate !== null) {
        const idempotencyKey = `idem_${sha256(`${call.idempotencyKey}\u0000compensate`).slice(0, 40)}`;
        const context = { sessionId: request.sessionId, turn: call.turn, callId: call.callId, idempotencyKey, signal: request.signal };
        const undo = tool.compensate;
        stringifyOutput(await raceWithSignal(Promise.resolve().then(() => undo(call.input, call.output ?? '', context)), request.signal));
      }
      undone.push(`${call.tool} (call ${call.callId})`);
    } catch (error) {
      failures.push(`${call.tool} (call ${call.callId}): ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (failures.length > 0) {
    throw new KeelError('compensation-failed', `Undoing subagent session ${request.sessionId}: ${failures.length} compensation(s) failed: ${failures.join('; ')}${undone.length === 0 ? '' : `; undone: ${undone.join(', ')}`}.`);
  }
  return undone.length === 0 ? `Session ${request.sessionId} had nothing to undo.` : `Undid in session ${request.sessionId}, newest first: ${undone.join(', ')}.`;
}
