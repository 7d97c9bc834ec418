import { z } from 'zod';
import { KeelError } from '../errors/index.ts';
import { defineTool } from './define-tool.ts';
import type { ToolDefinition } from './define-tool.ts';
import type { ToolErrorEvent, ToolResultEvent } from '../spec/events.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';

export const readToolResultName = 'read_tool_result';

/** Characters one read returns: under the default tool output cap, so a page is never cut by the sanitize stage. */
export const readPageChars = 12_000;

/**
 * The episodic store behind the context planner's stubs: an old tool result that was
 * replaced by a stub in the context is read back from the session's journal (and the blob store, where a large output
 * was kept whole), page by page. It reads only the calling session's journal, so it exposes nothing the session did
 * not already see.
 */
export function createReadToolResultTool(journal: Journal, blobs: BlobStore): ToolDefinition {
  return defineTool({
    name: readToolResultName,
    description:
      'Read again the full result of an earlier tool call of this session whose result was shortened in the context. ' +
      'Give the callId from the shortened result; long results come in pages, continue with the offset the page names.',
    input: z.object({
      callId: z.string().min(1).max(200).describe('The id of the earlier tool call, as named in the shortened result.'),
      offset: z.number().int().min(0).optional().describe('Character offset to read from; 0 or omitted for the start.'),
    }),
    risk: 'read',
    timeoutMs: 10_000,
    execute: async (input, context) => {
      let outcome: ToolResultEvent | ToolErrorEvent | undefined;
      const calls: string[] = [];
      for await (const event of journal.read(context.sessionId)) {
        if (event.type !== 'tool-result' && event.type !== 'tool-error') continue;
        if (event.callId === input.callId) outcome = event;
        else if (event.type === 'tool-result' && event.tool !== readToolResultName) calls.push(event.callId);
      }
      if (outcome === undefined) {
        const known = calls.slice(-10).join(', ');
        throw new KeelError('invalid-argument', `This session has no tool call "${input.callId}"${known === '' ? '.' : `; recent call ids: ${known}.`}`);
      }
      if (outcome.type === 'tool-error') return `[call ${outcome.callId} of ${outcome.tool} at turn ${outcome.turn} failed: ${outcome.error.code}: ${outcome.error.message}]`;
      const full = outcome.outputBlob === undefined ? outcome.output : ((await blobs.get(outcome.outputBlob)) ?? outcome.output);
      const offset = input.offset ?? 0;
      if (offset > 0 && offset >= full.length) {
        throw new KeelError('invalid-argument', `Offset ${offset} is past the end of the result of ${input.callId} (${full.length} characters).`);
      }
      const end = Math.min(full.length, offset + readPageChars);
      const header = `[result of ${outcome.tool} (call ${outcome.callId}, turn ${outcome.turn}), characters ${offset}–${end} of ${full.length}]`;
      const footer = end < full.length ? `\n[more: call ${readToolResultName} with {"callId":"${outcome.callId}","offset":${end}}]` : '';
      return `${header}\n${full.slice(offset, end)}${footer}`;
    },
  });
}
