/**
 * Rate limits a mock provider enforces, as the real ones do: token buckets that hold a minute's limit and refill
 * continuously. A request is admitted when every bucket holds its cost (one request; its input tokens, counted by the
 * mock's rule; its `max_tokens` of output, reserved at the start and adjusted to what was produced at the end) and is
 * otherwise answered 429 with `retry-after`. Every response carries the rate-limit headers with the buckets' true
 * state, and the limiter counts what it served and refused, so a test can check that no limit was exceeded.
 */
export interface MockRateLimitOptions {
  readonly requestsPerMinute?: number;
  readonly inputTokensPerMinute?: number;
  readonly outputTokensPerMinute?: number;
  /** Input and output together (OpenAI's token limit). */
  readonly tokensPerMinute?: number;
  /** Milliseconds; `performance.now()` plus the time at start by default. */
  readonly now?: () => number;
}

export type MockLimitName = 'requests' | 'inputTokens' | 'outputTokens' | 'tokens';

export interface MockRateLimitCounts {
  /** Requests admitted. */
  served: number;
  /** Requests answered 429, by the bucket that was short (the first one found). */
  rejected: number;
  readonly rejectedBy: Record<MockLimitName, number>;
  /** Input tokens of the refused requests: sent over the wire for nothing. */
  refusedInputTokens: number;
  inputTokens: number;
  outputTokens: number;
  /** The lowest level any bucket reached, as a share of its limit: below 0 would mean a limit was exceeded. */
  lowestShare: number;
}

export interface MockAdmission {
  readonly admitted: boolean;
  /** When refused: how long until the short bucket holds the cost, in milliseconds. */
  readonly retryAfterMs: number;
  readonly limit?: MockLimitName;
  readonly reservedOutput: number;
  readonly countedInput: number;
}

export interface MockRateLimiter {
  readonly counts: MockRateLimitCounts;
  admit(cost: { readonly inputTokens: number; readonly maxOutputTokens: number }): MockAdmission;
  /** Settles an admitted request with the usage it reported. */
  finish(admission: MockAdmission, usage: { readonly inputTokens: number; readonly outputTokens: number }): void;
  anthropicHeaders(): Record<string, string>;
  openAIHeaders(): Record<string, string>;
}

interface Bucket {
  readonly limit: number;
  tokens: number;
  updatedAt: number;
}

/** Headers of an account with these limits are sent when a test does not configure any: honest, and never reached. */
export const generousMockLimits: MockRateLimitOptions = { requestsPerMinute: 100_000, inputTokensPerMinute: 100_000_000, outputTokensPerMinute: 20_000_000, tokensPerMinute: 120_000_000 };

export function createMockRateLimiter(options: MockRateLimitOptions): MockRateLimiter {
  const origin = Date.now() - performance.now();
  const now = options.now ?? (() => origin + performance.now());
  const buckets = new Map<MockLimitName, Bucket>();
  const configured: readonly [MockLimitName, number | undefined][] = [
    ['requests', options.requestsPerMinute],
    ['inputTokens', options.inputTokensPerMinute],
    ['outputTokens', options.outputTokensPerMinute],
    ['tokens', options.tokensPerMinute],
  ];
  for (const [name, limit] of configured) if (limit !== undefined && limit > 0) buckets.set(name, { limit, tokens: limit, updatedAt: now() });
  const counts: MockRateLimitCounts = { served: 0, rejected: 0, rejectedBy: { requests: 0, inputTokens: 0, outputTokens: 0, tokens: 0 }, refusedInputTokens: 0, inputTokens: 0, outputTokens: 0, lowestShare: 1 };

  function refill(at: number): void {
    for (const bucket of buckets.values()) {
      bucket.tokens = Math.min(bucket.limit, bucket.tokens + ((at - bucket.updatedAt) * bucket.limit) / 60_000);
      bucket.updatedAt = at;
    }
  }

  function change(name: MockLimitName, delta: number): void {
    const bucket = buckets.get(name);
    if (bucket === undefined) return;
    bucket.tokens = Math.min(bucket.limit, bucket.tokens + delta);
    counts.lowestShare = Math.min(counts.lowestShare, bucket.tokens / bucket.limit);
  }

  function fullInMs(bucket: Bucket): number {
    return Math.max(0, ((bucket.limit - bucket.tokens) * 60_000) / bucket.limit);
  }

  return {
    counts,
    admit(cost) {
      refill(now());
      const needs: Record<MockLimitName, number> = { requests: 1, inputTokens: cost.inputTokens, outputTokens: cost.maxOutputTokens, tokens: cost.inputTokens + cost.maxOutputTokens };
      for (const [name, bucket] of buckets) {
        // A request larger than the whole limit is admitted from a full bucket, as no wait would ever admit it otherwise.
        const need = Math.min(needs[name], bucket.limit);
        if (bucket.tokens < need) {
          counts.rejected += 1;
          counts.rejectedBy[name] += 1;
          counts.refusedInputTokens += cost.inputTokens;
          return { admitted: false, retryAfterMs: Math.ceil(((need - bucket.tokens) * 60_000) / bucket.limit), limit: name, reservedOutput: 0, countedInput: 0 };
        }
      }
      for (const name of buckets.keys()) change(name, -needs[name]);
      counts.served += 1;
      return { admitted: true, retryAfterMs: 0, reservedOutput: cost.maxOutputTokens, countedInput: cost.inputTokens };
    },
    finish(admission, usage) {
      if (!admission.admitted) return;
      refill(now());
      counts.inputTokens += usage.inputTokens;
      counts.outputTokens += usage.outputTokens;
      const inputDelta = admission.countedInput - usage.inputTokens;
      const outputDelta = admission.reservedOutput - usage.outputTokens;
      change('inputTokens', inputDelta);
      change('outputTokens', outputDelta);
      change('tokens', inputDelta + outputDelta);
    },
    anthropicHeaders() {
      refill(now());
      const headers: Record<string, string> = {};
      const stems: readonly [MockLimitName, string][] = [['requests', 'requests'], ['inputTokens', 'input-tokens'], ['outputTokens', 'output-tokens'], ['tokens', 'tokens']];
      for (const [name, stem] of stems) {
        const bucket = buckets.get(name);
        if (bucket === undefined) continue;
        headers[`anthropic-ratelimit-${stem}-limit`] = String(bucket.limit);
        headers[`anthropic-ratelimit-${stem}-remaining`] = String(Math.max(0, Math.floor(bucket.tokens)));
        headers[`anthropic-ratelimit-${stem}-reset`] = new Date(now() + fullInMs(bucket)).toISOString();
      }
      return headers;
    },
    openAIHeaders() {
      refill(now());
      const headers: Record<string, string> = {};
      for (const [name, stem] of [['requests', 'requests'], ['tokens', 'tokens']] as const) {
        const bucket = buckets.get(name);
        if (bucket === undefined) continue;
        headers[`x-ratelimit-limit-${stem}`] = String(bucket.limit);
        headers[`x-ratelimit-remaining-${stem}`] = String(Math.max(0, Math.floor(bucket.tokens)));
        headers[`x-ratelimit-reset-${stem}`] = goDuration(fullInMs(bucket));
      }
      return headers;
    },
  };
}

/** Headers of a 429: `retry-after` in whole seconds (rounded up), and `retry-after-ms` for OpenAI. */
export function mockRetryAfterHeaders(admission: MockAdmission, withMilliseconds: boolean): Record<string, string> {
  const headers: Record<string, string> = { 'retry-after': String(Math.max(1, Math.ceil(admission.retryAfterMs / 1000))) };
  if (withMilliseconds) headers['retry-after-ms'] = String(Math.max(1, admission.retryAfterMs));
  return headers;
}

/** A Go duration as OpenAI writes its reset times: `250ms`, `1.5s`, `6m0s`. */
export function goDuration(milliseconds: number): string {
  const whole = Math.max(0, Math.round(milliseconds));
  if (whole < 1000) return `${whole}ms`;
  const minutes = Math.floor(whole / 60_000);
  const seconds = (whole % 60_000) / 1000;
  return minutes === 0 ? `${seconds}s` : `${minutes}m${seconds}s`;
}

/**
 * The mock OpenAI server's prompt-token count, a documented rule like the Anthropic mock's (a test double, not a
 * tokenizer): 3, plus for each message 4 + ⌈bytes/3⌉ of its text (string content, text parts, tool call names and
 * arguments), plus for each tool 8 + ⌈bytes/3⌉ of its JSON.
 */
export function mockPromptTokens(body: unknown): number {
  if (typeof body !== 'object' || body === null) return 0;
  const { messages, tools } = body as { messages?: unknown; tools?: unknown };
  let total = 3;
  for (const message of Array.isArray(messages) ? messages : []) total += 4 + thirds(messageText(message));
  for (const tool of Array.isArray(tools) ? tools : []) total += 8 + thirds(JSON.stringify(tool));
  return total;
}

function messageText(message: unknown): string {
  if (typeof message !== 'object' || message === null) return '';
  const { content, tool_calls: toolCalls } = message as { content?: unknown; tool_calls?: unknown };
  const parts: string[] = [];
  if (typeof content === 'string') parts.push(content);
  else if (Array.isArray(content)) for (const part of content) if (typeof (part as { text?: unknown })?.text === 'string') parts.push((part as { text: string }).text);
  for (const call of Array.isArray(toolCalls) ? toolCalls : []) {
    const fn = (call as { function?: { name?: unknown; arguments?: unknown } })?.function;
    parts.push(String(fn?.name ?? ''), String(fn?.arguments ?? ''));
  }
  return parts.join('');
}

function thirds(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 3);
}
