import type { SessionEvent } from '../../src/spec/index.ts';

/** The session's fence boundary, from its `session-start`; every agent lays out trust by default. */
export function boundaryOf(events: readonly SessionEvent[]): string {
  const start = events[0];
  if (start?.type !== 'session-start' || start.contextBoundary === undefined) throw new Error('The session has no context boundary.');
  return start.contextBoundary;
}

const fence = /^<<<(keel-data-[0-9a-f]+) kind="tool-result" source="([^"]*)"(?: provenance="([^"]*)")?>>>\n([\s\S]*)\n<<<end \1>>>$/;

/** The data inside a fenced tool result; throws when the content is not exactly one well-formed fence. */
export function unfenced(content: string): string {
  const match = fence.exec(content);
  if (match === null) throw new Error(`Not a fenced tool result: ${content.slice(0, 200)}`);
  return match[4] as string;
}
