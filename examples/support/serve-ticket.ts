import type { Keel } from '../../src/runtime/index.ts';
import type { SessionResult } from '../../src/loop/index.ts';
import type { SessionEvent } from '../../src/index.ts';
import type { SupportDesk } from './agents.ts';

/** A person's answer to a refund waiting for approval. */
export type Approver = (pending: { readonly tool: string; readonly input: unknown; readonly agent: string | undefined }) => { readonly approved: boolean; readonly reason?: string };

/**
 * Serves one ticket: runs the desk, and while the tree waits for a person, asks `approve` and records the answer in
 * the session that asked (a child several levels down), then resumes the desk's session, which picks the finished
 * children up without running them again.
 */
export async function serveTicket(keel: Keel, agents: SupportDesk, ticket: string, approve: Approver, approver = 'support-lead@example.com'): Promise<SessionResult> {
  let result = await keel.run(agents.desk, { task: ticket, budget: { tokens: 120_000, timeMs: 300_000 } }).result;
  const byName = new Map(Object.values(agents).map((agent) => [agent.name, agent]));
  for (let round = 0; result.status === 'awaiting-approval' && round < 5; round += 1) {
    for (const pending of result.pendingApprovals) {
      const agent = byName.get(pending.agent ?? 'desk');
      if (agent === undefined) throw new Error(`No agent named ${pending.agent ?? 'desk'} in the desk.`);
      const answer = approve({ tool: pending.tool, input: pending.input, agent: pending.agent });
      const decided = await keel.decide(agent, pending.sessionId ?? result.sessionId, pending.callId, { ...answer, approver });
      await decided.result;
    }
    result = await (await keel.resume(agents.desk, result.sessionId)).result;
  }
  return result;
}

/** The agents a ticket went through, following each session's first child: `billing (handoff) → refunds (handoff)`. */
export async function routeOf(keel: Keel, sessionId: string): Promise<string[]> {
  const trail: string[] = [];
  let current: string | undefined = sessionId;
  for (let depth = 0; current !== undefined && depth < 10; depth += 1) {
    const start: SessionEvent | undefined = (await keel.events(current)).find((event) => event.type === 'child-start');
    trail.push(...(start?.type === 'child-start' ? [`${start.agent} (${start.mode})`] : []));
    current = start?.type === 'child-start' ? start.childSessionId : undefined;
  }
  return trail;
}
