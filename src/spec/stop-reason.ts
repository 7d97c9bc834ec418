/**
 * Provider-neutral stop reasons. Anthropic's are kept as they are; OpenAI's finish reasons map onto them
 * (`stop` → `end_turn`, `tool_calls` → `tool_use`, `length` → `max_tokens`, `content_filter` → `content_filter`).
 */
export type StopReason =
  | 'end_turn'
  | 'tool_use'
  | 'max_tokens'
  | 'stop_sequence'
  | 'pause_turn'
  | 'refusal'
  | 'content_filter'
  | 'context_window_exceeded';

export const stopReasons: readonly StopReason[] = [
  'end_turn',
  'tool_use',
  'max_tokens',
  'stop_sequence',
  'pause_turn',
  'refusal',
  'content_filter',
  'context_window_exceeded',
];
