/** Token usage of one model call. `inputTokens` excludes cached tokens, as Anthropic reports it; providers normalise to this. */
export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
  /** The part of `cacheWriteTokens` written for an hour (Anthropic `ttl: '1h'`), priced at 2× input instead of 1.25×. */
  readonly cacheWriteLongTokens?: number;
}
