import { KeelError } from '../errors/index.ts';
import { contextDiffToJson, diffContexts, renderContextDiff } from '../runtime/context-diff.ts';
import type { SessionAccess } from './cli-context.ts';
import { readSessionEvents, replayFromEvents, replayableTurns } from '../runtime/replay.ts';
import type { ReplayedRequest } from '../runtime/replay.ts';

export interface DiffCommandOptions {
  readonly json: boolean;
  /** List identical segments too. */
  readonly all?: boolean | undefined;
}

type Print = (line: string) => void;

/**
 * `keel diff <sessionA>[:<turn>] <sessionB>[:<turn>]`: what the model saw at one turn that it did not at the
 * other, segment by segment (system prompt, settings, tools, messages, tool results). Without a turn, the
 * session's last turn that called the model. Both requests are verified against their hashes first.
 */
export async function diffCommand(keel: Pick<SessionAccess, 'journal' | 'blobs' | 'events'>, positionals: readonly string[], options: DiffCommandOptions, out: Print, _err: Print): Promise<number> {
  const [first, second] = positionals;
  if (first === undefined || second === undefined || positionals.length > 2) {
    throw new KeelError('invalid-argument', 'keel diff takes two requests: keel diff <sessionA>[:<turn>] <sessionB>[:<turn>] (for example keel diff ses_a:3 ses_b:3).');
  }
  const a = await load(keel, first);
  const b = await load(keel, second);
  const diff = diffContexts(a.request, b.request);
  const labelA = `${a.sessionId}:${a.turn} (${a.requestHash.slice(0, 12)})`;
  const labelB = `${b.sessionId}:${b.turn} (${b.requestHash.slice(0, 12)})`;
  if (options.json) out(JSON.stringify(contextDiffToJson(diff, { labelA: `${a.sessionId}:${a.turn}`, labelB: `${b.sessionId}:${b.turn}` })));
  else out(renderContextDiff(diff, { labelA, labelB, showSame: options.all === true }));
  return 0;
}

/** `session:turn` splits at the last colon followed only by digits; without one, the whole text is the session id. */
export function parseSessionTurn(text: string): { sessionId: string; turn: number | undefined } {
  const match = /^(.+):(\d+)$/.exec(text);
  if (match === null) return { sessionId: text, turn: undefined };
  return { sessionId: match[1] as string, turn: Number(match[2]) };
}

async function load(keel: Pick<SessionAccess, 'journal' | 'blobs' | 'events'>, text: string): Promise<ReplayedRequest> {
  const { sessionId, turn } = parseSessionTurn(text);
  const events = await readSessionEvents(keel.journal, sessionId);
  const chosen = turn ?? replayableTurns(events).at(-1);
  if (chosen === undefined) throw new KeelError('invalid-argument', `Session ${sessionId} has no model request to compare.`);
  return replayFromEvents(events, keel.blobs, chosen);
}
