import type { CallToolResult, CompatibilityCallToolResult, ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import { KeelError } from '../../errors/index.ts';
import { checkStructuredContent, summarizeBinaryContent, type OutputCheck } from './mcp-structured-content.ts';

/**
 * What the model gets from a `tools/call` result. Structured content, when the server sent it, is the
 * machine-readable form MCP recommends over its text twin, so it is returned as a value and sent as JSON; otherwise
 * the content blocks become text. A tool with an output schema must send structured content that matches it. A result marked `isError` is a tool execution error the model should see and
 * correct, so it is thrown as `tool-failed` carrying the server's text.
 */
export function callResultOutput(answer: CallToolResult | CompatibilityCallToolResult, label: string, outputCheck: OutputCheck = null): unknown {
  // Servers on the 2024-10-07 revision answered `{ toolResult }` instead of content blocks.
  if (!('content' in answer)) return answer.toolResult;
  const result = answer as CallToolResult;
  if (result.isError === true) {
    const text = contentToText(result.content);
    throw new KeelError('tool-failed', `${label} returned an error: ${text === '' ? '(no message)' : text}`);
  }
  // Checked as the server sent it (the schema describes that), then binary media in it summarized for the model.
  checkStructuredContent(outputCheck, result.structuredContent, label);
  if (result.structuredContent !== undefined) return summarizeBinaryContent(result.structuredContent);
  return contentToText(result.content);
}

/**
 * Text blocks are kept whole and joined by newlines. Binary blocks are summarized (kind, MIME type, decoded size),
 * since base64 would spend the model's context on bytes it cannot read; links and embedded resources name their URI,
 * and an embedded text resource keeps its text, which is the reason the server returned it.
 */
export function contentToText(content: readonly ContentBlock[]): string {
  return content.map(blockToText).join('\n');
}

function blockToText(block: ContentBlock): string {
  switch (block.type) {
    case 'text':
      return block.text;
    case 'image':
    case 'audio':
      return `[${block.type}: ${block.mimeType}, ${Buffer.byteLength(block.data, 'base64')} bytes]`;
    case 'resource_link':
      return `[resource: ${block.uri}]`;
    case 'resource': {
      const resource = block.resource;
      if ('text' in resource && typeof resource.text === 'string') return `[resource: ${resource.uri}]\n${resource.text}`;
      const bytes = 'blob' in resource && typeof resource.blob === 'string' ? `, ${Buffer.byteLength(resource.blob, 'base64')} bytes` : '';
      return `[resource: ${resource.uri}${resource.mimeType === undefined ? '' : `, ${resource.mimeType}`}${bytes}]`;
    }
    default:
      return `[${(block as { type: string }).type} content]`;
  }
}
