/**
 * Tool arguments arrive as JSON text that models sometimes get wrong (truncated by max_tokens, stray
 * characters). A bad argument string is the model's mistake, not a crash: the loop reports it back to the
 * model as a tool error, so parsing never throws.
 */
export interface ParsedToolArguments {
  readonly input: unknown;
  readonly malformedInput?: string;
}

export function parseToolArguments(text: string): ParsedToolArguments {
  // Both providers send an empty string for a call without arguments.
  if (text.trim() === '') return { input: {} };
  try {
    const input: unknown = JSON.parse(text);
    // Tool input is always a JSON object; anything else is as unusable as broken JSON.
    if (input !== null && typeof input === 'object' && !Array.isArray(input)) return { input };
  } catch {
    // Falls through to the malformed result.
  }
  return { input: {}, malformedInput: text };
}
