/** Token usage of one model call. `inputTokens` excludes cached tokens, as Anthropic reports it; providers normalise to this. */
export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
}
