import type { Usage } from './usage.ts';

/** Tools the provider runs on its own side (Anthropic server tools, OpenAI's hosted web search). */
export type HostedToolName = 'web_search' | 'web_fetch' | 'code_execution';

export const hostedToolNames: readonly HostedToolName[] = ['web_search', 'web_fetch', 'code_execution'];

/** A hosted tool an agent enables; the agent needs the scope `hosted:<name>` and the tool policy must allow it. */
export interface HostedToolSpec {
  readonly name: HostedToolName;
  /** Uses per request (Anthropic's `max_uses`). */
  readonly maxUses?: number;
  /** Web search and fetch only: results only from these domains (or never from `blockedDomains`; not both). */
  readonly allowedDomains?: readonly string[];
  readonly blockedDomains?: readonly string[];
}

/** Anthropic prompt caching: breakpoints on the stable prefix (tools, system prompt, history before the last turn). */
export interface PromptCachingSpec {
  /** How long the provider keeps the prefix. Defaults to `5m`; `1h` writes cost more (2× input instead of 1.25×). */
  readonly ttl?: '5m' | '1h';
}

/** What the loop tells the gateway about one call, beyond the request itself. */
export interface ModelCallHints {
  /**
   * The response cache: `off` (the default), `trusted` (only requests without untrusted content: no tool results,
   * no retrieved memory), or `always` (untrusted content too, which the caller asked for knowingly).
   */
  readonly responseCache?: 'off' | 'trusted' | 'always';
  /** Set when the request carries content from outside (tool or MCP results, retrieved memory). */
  readonly untrustedContent?: boolean;
  /** The task class a route table picks a route by (`plan`, `extract`, …). */
  readonly taskClass?: string;
}

/** Why an attempt did not answer, or why its answer was not used. */
export type ModelAttemptOutcome = 'answered' | 'failed' | 'skipped' | 'cancelled' | 'escalated';

/** One attempt of a model call on a route: which account and model, how it ended, and why the route moved on. */
export interface ModelAttemptRecord {
  readonly account: string;
  readonly provider: string;
  readonly model: string;
  readonly outcome: ModelAttemptOutcome;
  /**
   * `rate-limited`, `overloaded`, `server-error`, `timeout`, `connection`, `stream-cut` (the provider failed);
   * `circuit-open:account`, `circuit-open:model` (not tried); `hedge-lost`, `hedge-won`; `check:<name>` (a cascade
   * check rejected the answer).
   */
  readonly reason?: string;
  readonly errorCode?: string;
  readonly latencyMs: number;
  /** Streaming only: from the attempt's start to its first part. */
  readonly firstTokenMs?: number;
  /** Set when the attempt's tokens were billed but its answer was not used (an escalated cascade stage). */
  readonly usage?: Usage;
  readonly costUsd?: number | null;
  /** A second attempt started because the first had no first token within the route's p95. */
  readonly hedge?: boolean;
}

/** The request parameters of a call, as journaled on `model-request`. */
export interface ModelParametersRecord {
  readonly temperature?: number;
  readonly topP?: number;
  readonly stopSequences?: readonly string[];
  readonly seed?: number;
  readonly hostedTools?: readonly HostedToolName[];
  readonly promptCaching?: boolean;
  readonly responseCache?: 'off' | 'trusted' | 'always';
  readonly taskClass?: string;
}

/** What a routed call reports beside the response, for the journal. All optional: a plain gateway reports none. */
export interface ModelCallFacts {
  /** The account whose answer was used. */
  readonly account?: string;
  readonly attempts?: readonly ModelAttemptRecord[];
  readonly firstTokenMs?: number;
  /** Set when the answer came from the response cache (no provider call, nothing billed). */
  readonly cachedResponse?: { readonly key: string };
  /** Parameters the answering provider has no field for, so they were not sent (for example temperature on Anthropic). */
  readonly unsentParameters?: readonly string[];
  /** Milliseconds the call waited in the gateway's rate-limit queue before it was sent. */
  readonly queueWaitMs?: number;
}
