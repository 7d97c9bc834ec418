import type { ContentBlock } from '../spec/message.ts';
import type { StopReason } from '../spec/stop-reason.ts';

/**
 * For a stop reason newer than this code (or a server that sends none): what the content shows is the safest
 * reading. The response's `providerStopReason` keeps the original word for tracing.
 */
export function fallbackStopReason(content: readonly ContentBlock[]): StopReason {
  return content.some((block) => block.type === 'tool_use') ? 'tool_use' : 'end_turn';
}
