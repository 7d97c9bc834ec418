import { KeelError } from '../errors/index.ts';
import type { SessionEvent } from '../spec/events.ts';

/**
 * An event's stored JSON. An event that JSON cannot represent (a cycle, a BigInt, data nested deeper than the
 * stack) is the writer's error, not the store's: it fails with `invalid-argument` naming the event, never with a
 * `storage-failure` that would look worth retrying, since the same event fails the same way every time.
 */
export function serializeEvent(sessionId: string, event: SessionEvent): string {
  let json: string | undefined;
  let cause: unknown;
  try {
    json = JSON.stringify(event);
  } catch (error) {
    cause = error;
  }
  if (typeof json === 'string') return json;
  const reason = cause instanceof Error ? cause.message : 'it has no JSON form';
  return unserializable(sessionId, event, reason, cause);
}

function unserializable(sessionId: string, event: SessionEvent, reason: string, cause: unknown): never {
  const type = typeof event.type === 'string' ? event.type : 'unknown';
  throw new KeelError(
    'invalid-argument',
    `Event ${String(event.seq)} (${type}) of session ${sessionId} cannot be journaled: JSON cannot represent it (${reason.slice(0, 200)}). Nothing was appended; the value that carried it (a tool's output, a custom event's data) must be plain JSON: no cycles, BigInt or nesting deeper than the stack allows.`,
    { cause, details: { sessionId, seq: event.seq, type } },
  );
}
