/**
 * Faults both mock providers can play instead of a normal reply. Each reproduces what the real API does
 * (status, body, headers, or the shape of a broken stream), as described in wire/wire-formats.md.
 */
export type MockFault<Response> =
  /** 429 with the provider's body and rate-limit headers; `retry-after` / `retry-after-ms` only when given. */
  | { readonly fault: 'rate-limit'; readonly retryAfterSeconds?: number; readonly retryAfterMs?: number }
  /** Anthropic: 529 `overloaded_error`. OpenAI: 503. */
  | { readonly fault: 'overloaded' }
  /** 500; `shouldRetry` sets the `x-should-retry` header. */
  | { readonly fault: 'server-error'; readonly shouldRetry?: boolean }
  /** The socket is destroyed: mid-stream after a few events, or before any response when not streaming. */
  | { readonly fault: 'reset' }
  /** The stream ends cleanly but early (no `message_stop`, or no finish chunk and `[DONE]`); a plain response gets half its JSON. */
  | { readonly fault: 'cut'; readonly response?: Response }
  /** A tool call whose argument text is not valid JSON (Anthropic: streaming requests only, as the real API parses it otherwise). */
  | { readonly fault: 'malformed-tool-json'; readonly name?: string; readonly arguments?: string; readonly stopReason?: string }
  /** The response starts only after `delayMs`. */
  | { readonly fault: 'slow-first-byte'; readonly delayMs: number; readonly response?: Response }
  /** A 200 stream that breaks with an error event; a plain request gets the same error as an HTTP status. */
  | { readonly fault: 'stream-error'; readonly errorType?: string }
  /** OpenAI: 429 `insufficient_quota`. Anthropic: 402 `billing_error`. */
  | { readonly fault: 'quota' }
  | { readonly fault: 'bad-request'; readonly message?: string }
  | { readonly fault: 'auth' }
  /** 400 for a prompt larger than the context window, worded as the provider words it. */
  | { readonly fault: 'context-window' };

export type MockFaultName = MockFault<unknown>['fault'];

export function isMockFault<Response>(reply: Response | MockFault<Response>): reply is MockFault<Response> {
  return typeof reply === 'object' && reply !== null && 'fault' in reply;
}

/** Retry-after headers exactly as a test asked for them. */
export function retryAfterHeaders(fault: { readonly retryAfterSeconds?: number; readonly retryAfterMs?: number }): Record<string, string> {
  const headers: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
  if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
  return headers;
}
