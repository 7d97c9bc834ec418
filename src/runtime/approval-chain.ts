import { KeelError } from '../errors/index.ts';
import type { SessionEvent } from '../spec/events.ts';

/** Deeper trees than this are not walked: a parent chain this long is a loop or a corrupt journal. */
const maxTreeDepth = 64;

/**
 * No agent approves its own `ask` decisions: an approval signed with the name of an agent of the session's tree (the
 * session's own, or an ancestor's, which could otherwise approve for a subagent it delegated to) is refused. The
 * approver must be a person, named as such.
 */
export async function refuseSelfApproval(readEvents: (sessionId: string) => Promise<readonly SessionEvent[]>, sessionId: string, approver: string): Promise<void> {
  const wanted = approver.trim().toLowerCase();
  let current: string | undefined = sessionId;
  for (let depth = 0; current !== undefined && depth < maxTreeDepth; depth += 1) {
    const start: SessionEvent | undefined = (await readEvents(current))[0];
    if (start?.type !== 'session-start') return;
    if (start.agent.name.trim().toLowerCase() === wanted) {
      throw new KeelError(
        'invalid-argument',
        `"${approver}" is the agent of session ${start.sessionId}${start.sessionId === sessionId ? '' : `, an ancestor of ${sessionId}`}: no agent may approve its own or its subagents' calls. A person must decide, under their own name.`,
        { details: { sessionId, approver, agentSessionId: start.sessionId } },
      );
    }
    current = start.parentSessionId;
  }
}
