import { KeelError } from '../errors/index.ts';
import { renderExplain } from '../context/index.ts';
import type { ExplainPlan } from '../context/index.ts';
import type { SessionAccess } from './cli-context.ts';

/** `keel explain <sessionId> <turn> [--json]`: the plan of one turn's context, like a database EXPLAIN. */
export async function explainCommand(keel: Pick<SessionAccess, 'journal' | 'blobs' | 'events'>, positionals: readonly string[], options: { readonly json: boolean }, out: (line: string) => void): Promise<number> {
  const [sessionId, turnText] = positionals;
  if (sessionId === undefined || turnText === undefined) throw new KeelError('invalid-argument', 'Usage: keel explain <sessionId> <turn> [--json].');
  const turn = Number.parseInt(turnText, 10);
  if (!Number.isInteger(turn) || turn < 1) throw new KeelError('invalid-argument', `The turn must be a positive integer, got "${turnText}".`);
  const events = await keel.events(sessionId);
  const assembles = events.filter((event) => event.type === 'context-assemble' && event.turn === turn);
  const assemble = assembles[assembles.length - 1];
  if (assemble?.type !== 'context-assemble') {
    const turns = [...new Set(events.flatMap((event) => (event.type === 'context-assemble' ? [event.turn] : [])))];
    throw new KeelError('invalid-argument', `Session ${sessionId} has no context for turn ${turn}; turns with a context: ${turns.join(', ') || 'none'}.`);
  }
  if (assemble.planHash === undefined) {
    throw new KeelError('invalid-argument', `Turn ${turn} of session ${sessionId} sent the whole conversation without a plan; define the agent with \`context\` (defineAgent({ context: true })) to plan and explain it.`);
  }
  const stored = await keel.blobs.get(assemble.planHash);
  if (stored === undefined) throw new KeelError('journal-corrupt', `The context plan ${assemble.planHash} of turn ${turn} is missing from the blob store.`);
  out(options.json ? stored : renderExplain(JSON.parse(stored) as ExplainPlan));
  return 0;
}
