import { KeelError } from '../errors/index.ts';

export interface ModelWindow {
  /** Input plus output tokens the model accepts in one call. */
  readonly contextWindow: number;
  /** The most output tokens one call may produce. */
  readonly maxOutputTokens: number;
}

/**
 * Known windows by model-id prefix, from the providers' model pages (2025). Lookup is by longest prefix, so
 * `claude-sonnet-4-5-20250929` finds `claude-sonnet-4-5` and `gpt-4o-mini-2024-07-18` finds `gpt-4o-mini`.
 */
export const modelWindows: Readonly<Record<string, ModelWindow>> = {
  'claude-opus-4-5': { contextWindow: 200_000, maxOutputTokens: 64_000 },
  'claude-opus-4-1': { contextWindow: 200_000, maxOutputTokens: 32_000 },
  'claude-opus-4': { contextWindow: 200_000, maxOutputTokens: 32_000 },
  'claude-sonnet-4-5': { contextWindow: 200_000, maxOutputTokens: 64_000 },
  'claude-sonnet-4': { contextWindow: 200_000, maxOutputTokens: 64_000 },
  'claude-haiku-4-5': { contextWindow: 200_000, maxOutputTokens: 64_000 },
  'claude-3-7-sonnet': { contextWindow: 200_000, maxOutputTokens: 64_000 },
  'claude-3-5-sonnet': { contextWindow: 200_000, maxOutputTokens: 8_192 },
  'claude-3-5-haiku': { contextWindow: 200_000, maxOutputTokens: 8_192 },
  'claude-3': { contextWindow: 200_000, maxOutputTokens: 4_096 },
  'gpt-5': { contextWindow: 400_000, maxOutputTokens: 128_000 },
  'gpt-4.1': { contextWindow: 1_047_576, maxOutputTokens: 32_768 },
  'gpt-4o': { contextWindow: 128_000, maxOutputTokens: 16_384 },
  'chatgpt-4o': { contextWindow: 128_000, maxOutputTokens: 16_384 },
  'gpt-4-turbo': { contextWindow: 128_000, maxOutputTokens: 4_096 },
  'gpt-4': { contextWindow: 8_192, maxOutputTokens: 8_192 },
  'gpt-3.5-turbo': { contextWindow: 16_385, maxOutputTokens: 4_096 },
  'o1-mini': { contextWindow: 128_000, maxOutputTokens: 65_536 },
  o1: { contextWindow: 200_000, maxOutputTokens: 100_000 },
  o3: { contextWindow: 200_000, maxOutputTokens: 100_000 },
  'o4-mini': { contextWindow: 200_000, maxOutputTokens: 100_000 },
};

export const defaultModelWindow: ModelWindow = { contextWindow: 128_000, maxOutputTokens: 4_096 };

/** Longest-prefix match on the model id (a `provider/` prefix is ignored); unknown ids get `fallback`. */
export function lookupModelWindow(
  modelId: string,
  options: { readonly fallback?: ModelWindow; readonly table?: Readonly<Record<string, ModelWindow>> } = {},
): ModelWindow & { readonly known: boolean; readonly prefix: string | null } {
  const table = options.table ?? modelWindows;
  const id = modelId.toLowerCase().replace(/^[a-z0-9-]+\//, '');
  let best: string | null = null;
  for (const prefix of Object.keys(table)) {
    if (id.startsWith(prefix) && (best === null || prefix.length > best.length)) best = prefix;
  }
  if (best === null) return { ...(options.fallback ?? defaultModelWindow), known: false, prefix: null };
  return { ...(table[best] as ModelWindow), known: true, prefix: best };
}

/** Throws `model-context-window` with the numbers when input plus reserved output cannot fit the window. */
export function checkFits(requestTokens: number, windowTokens: number, reservedOutputTokens: number, what = 'The request'): void {
  if (requestTokens + reservedOutputTokens > windowTokens) {
    throw new KeelError(
      'model-context-window',
      `${what} needs ${requestTokens} input tokens plus ${reservedOutputTokens} reserved for output = ${requestTokens + reservedOutputTokens}, over the model's context window of ${windowTokens} tokens by ${requestTokens + reservedOutputTokens - windowTokens}.`,
      { details: { requestTokens, reservedOutputTokens, windowTokens } },
    );
  }
}
