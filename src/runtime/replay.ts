import { KeelError, toKeelError } from '../errors/index.ts';
import type { ContextAssembleEvent, ModelRequestEvent, ModelResponseEvent, SessionEvent } from '../spec/events.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import type { ModelRequest } from '../spec/model.ts';
import { canonicalJson, sha256 } from '../util/index.ts';

/**
 * Replay: given a session and a turn, rebuild the exact request the model was sent.
 *
 * The loop stores each assembled request, serialised with `canonicalJson`, in the blob store, and
 * journals its SHA-256 as `requestHash` on `context-assemble` and `model-request`. Replay reads the
 * turn's `model-request`, loads the blob and hashes it again: the text it returns is the request
 * byte for byte, or replay fails loudly. A blob that is missing or does not hash to the journaled
 * value is `journal-corrupt`; a blob that the retention policy erased (see `purgeRequestBlobs` in
 * `call-log.ts`) is reported as purged, which is a policy outcome, not corruption.
 */

export interface ReplayedRequest {
  readonly sessionId: string;
  readonly turn: number;
  /** Sequence number of the `model-request` event replayed: the last one of the turn, when the call was retried after a crash. */
  readonly seq: number;
  /** How many `model-request` events the turn has (more than one after a resume re-sent the call). */
  readonly attempts: number;
  readonly requestHash: string;
  readonly request: ModelRequest;
  /** The exact text that was stored and hashed. */
  readonly serialized: string;
  /** Always true on a returned replay: a mismatch throws `journal-corrupt`. */
  readonly verified: boolean;
  readonly provider: string;
  readonly model: string;
  /** The journaled response to this request, or null when the session stopped before it arrived. */
  readonly response: ModelResponseEvent | null;
}

export type TurnReplay =
  | { readonly turn: number; readonly requestHash: string; readonly status: 'verified'; readonly replay: ReplayedRequest }
  | { readonly turn: number; readonly requestHash: string; readonly status: 'corrupt' | 'purged' | 'unreadable'; readonly error: KeelError };

/** What the retention policy leaves in the blob store in place of an erased request. Never a valid request: it has no `messages`. */
export interface PurgedBlobMarker {
  readonly at: number;
  readonly retentionDays: number | null;
  readonly reason: string;
}

const purgedKey = 'keel:purged';

export function purgedBlobMarker(marker: PurgedBlobMarker): string {
  return canonicalJson({ [purgedKey]: marker });
}

export function readPurgedBlobMarker(content: string): PurgedBlobMarker | null {
  if (!content.startsWith(`{"${purgedKey}":`)) return null;
  try {
    const parsed = JSON.parse(content) as Record<string, unknown>;
    const marker = parsed[purgedKey] as Partial<PurgedBlobMarker> | undefined;
    if (marker === undefined || typeof marker.at !== 'number') return null;
    return { at: marker.at, retentionDays: typeof marker.retentionDays === 'number' ? marker.retentionDays : null, reason: typeof marker.reason === 'string' ? marker.reason : 'retention' };
  } catch {
    return null;
  }
}

/** Whether an error from replay means the request text was erased by the retention policy. */
export function isPurgedRequestError(error: unknown): boolean {
  return error instanceof KeelError && error.details.purged === true;
}

interface TurnCall {
  readonly turn: number;
  readonly requests: ModelRequestEvent[];
  readonly assembles: ContextAssembleEvent[];
  responses: Map<number, ModelResponseEvent>;
}

export async function readSessionEvents(journal: Journal, sessionId: string): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  for await (const event of journal.read(sessionId)) events.push(event);
  if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId} in this journal; list sessions with \`keel sessions\`.`, { details: { sessionId } });
  return events;
}

/** Model calls by turn, in journal order. A response belongs to the latest request of its turn before it. */
function callsByTurn(events: readonly SessionEvent[]): Map<number, TurnCall> {
  const turns = new Map<number, TurnCall>();
  const entry = (turn: number): TurnCall => {
    let call = turns.get(turn);
    if (call === undefined) {
      call = { turn, requests: [], assembles: [], responses: new Map() };
      turns.set(turn, call);
    }
    return call;
  };
  for (const event of events) {
    if (event.type === 'context-assemble') entry(event.turn).assembles.push(event);
    if (event.type === 'model-request') entry(event.turn).requests.push(event);
    if (event.type === 'model-response') {
      const call = entry(event.turn);
      const request = call.requests.at(-1);
      if (request !== undefined) call.responses.set(request.seq, event);
    }
  }
  for (const [turn, call] of turns) if (call.requests.length === 0) turns.delete(turn);
  return turns;
}

/** Turns of a session that sent a model request, in order. */
export function replayableTurns(events: readonly SessionEvent[]): number[] {
  return [...callsByTurn(events).keys()].sort((a, b) => a - b);
}

/** Rebuilds the request of one turn from the events already read; see `replayRequest`. */
export async function replayFromEvents(events: readonly SessionEvent[], blobs: BlobStore, turn: number): Promise<ReplayedRequest> {
  const first = events[0];
  if (first === undefined) throw new KeelError('session-not-found', 'The session has no events.');
  const sessionId = first.sessionId;
  if (!Number.isInteger(turn) || turn < 1) throw new KeelError('invalid-argument', `A turn is a positive integer (from 1), got ${turn}.`, { details: { sessionId, turn } });
  const calls = callsByTurn(events);
  const call = calls.get(turn);
  if (call === undefined) {
    const turns = [...calls.keys()].sort((a, b) => a - b);
    const known = turns.length === 0 ? 'no turn with a model request' : `model requests at turn${turns.length === 1 ? '' : 's'} ${describeTurns(turns)}`;
    throw new KeelError('invalid-argument', `Session ${sessionId} has no model request at turn ${turn}; it has ${known}.`, { details: { sessionId, turn, turns } });
  }
  const request = call.requests.at(-1) as ModelRequestEvent;
  const where = `session ${sessionId}, turn ${turn}, model-request seq ${request.seq}, requestHash ${request.requestHash}`;
  const assemble = [...call.assembles].reverse().find((event) => event.seq < request.seq);
  if (assemble !== undefined && assemble.requestHash !== request.requestHash) {
    throw corrupt(`The context-assemble at seq ${assemble.seq} names request ${assemble.requestHash}, but the model-request names another (${where}).`, sessionId, turn, request.requestHash);
  }

  const serialized = await blobs.get(request.requestHash);
  if (serialized === undefined) {
    throw corrupt(`The assembled request is missing from the blob store (${where}); the prompt cannot be rebuilt.`, sessionId, turn, request.requestHash);
  }
  const marker = readPurgedBlobMarker(serialized);
  if (marker !== null) {
    const retention = marker.retentionDays === null ? '' : ` (retention ${marker.retentionDays} days)`;
    throw new KeelError(
      'invalid-argument',
      `The request of ${where} was purged by the retention policy${retention} on ${new Date(marker.at).toISOString()}; its text is no longer stored. The journal, token counts and hashes remain.`,
      { details: { sessionId, turn, requestHash: request.requestHash, purged: true, purgedAt: marker.at, retentionDays: marker.retentionDays } },
    );
  }
  const actualHash = sha256(serialized);
  if (actualHash !== request.requestHash) {
    throw corrupt(`The stored request does not match its hash: it hashes to ${actualHash} (${where}). The blob was altered after it was written.`, sessionId, turn, request.requestHash, { actualHash });
  }
  let parsed: ModelRequest;
  try {
    parsed = JSON.parse(serialized) as ModelRequest;
  } catch (error) {
    throw corrupt(`The stored request is not JSON (${where}): ${error instanceof Error ? error.message : String(error)}`, sessionId, turn, request.requestHash);
  }
  if (!isModelRequest(parsed)) throw corrupt(`The stored request is not a model request (${where}).`, sessionId, turn, request.requestHash);

  return {
    sessionId,
    turn,
    seq: request.seq,
    attempts: call.requests.length,
    requestHash: request.requestHash,
    request: parsed,
    serialized,
    verified: true,
    provider: request.provider,
    model: request.model,
    response: call.responses.get(request.seq) ?? null,
  };
}

/**
 * The exact request of a turn: the last `model-request` of the turn, its blob, checked against the
 * journaled hash. Throws `journal-corrupt` (naming session, turn and hash) when the blob is missing or
 * altered, `invalid-argument` with `details.purged` when retention erased it, `session-not-found`.
 */
export async function replayRequest(journal: Journal, blobs: BlobStore, sessionId: string, turn: number): Promise<ReplayedRequest> {
  return replayFromEvents(await readSessionEvents(journal, sessionId), blobs, turn);
}

/** Every turn of a session that sent a request, each verified on its own: one bad blob does not hide the others. */
export async function replayAllTurns(journal: Journal, blobs: BlobStore, sessionId: string): Promise<readonly TurnReplay[]> {
  const events = await readSessionEvents(journal, sessionId);
  const calls = callsByTurn(events);
  const results: TurnReplay[] = [];
  for (const turn of [...calls.keys()].sort((a, b) => a - b)) {
    const requestHash = calls.get(turn)?.requests.at(-1)?.requestHash ?? '';
    try {
      results.push({ turn, requestHash, status: 'verified', replay: await replayFromEvents(events, blobs, turn) });
    } catch (thrown) {
      const error = toKeelError(thrown);
      const status = isPurgedRequestError(error) ? 'purged' : error.code === 'journal-corrupt' ? 'corrupt' : 'unreadable';
      results.push({ turn, requestHash, status, error });
    }
  }
  return results;
}

function corrupt(message: string, sessionId: string, turn: number, requestHash: string, extra: Record<string, unknown> = {}): KeelError {
  return new KeelError('journal-corrupt', message, { details: { sessionId, turn, requestHash, ...extra } });
}

function isModelRequest(value: unknown): value is ModelRequest {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Partial<Record<keyof ModelRequest, unknown>>;
  return Array.isArray(candidate.messages) && Array.isArray(candidate.tools) && typeof candidate.maxOutputTokens === 'number' && (candidate.system === undefined || typeof candidate.system === 'string');
}

/** `1-3, 5`: a readable list of turn numbers. */
function describeTurns(turns: readonly number[]): string {
  const ranges: string[] = [];
  let start = turns[0];
  let previous = start;
  for (const turn of [...turns.slice(1), Number.NaN]) {
    if (start === undefined || previous === undefined) break;
    if (turn === previous + 1) {
      previous = turn;
      continue;
    }
    ranges.push(start === previous ? `${start}` : `${start}-${previous}`);
    start = turn;
    previous = turn;
  }
  return ranges.join(', ');
}
