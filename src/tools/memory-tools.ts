import { z } from 'zod';
import type { MemoryStore } from '../memory/memory-store.ts';
import type { MemoryScope, RetrievalWeights } from '../memory/memory-types.ts';
import { defineTool } from './define-tool.ts';
import type { ToolDefinition } from './define-tool.ts';

export interface MemoryToolsOptions {
  /** Whose memory the tools read and write; with a `sessionId`, recall sees that session only. */
  readonly scope: MemoryScope;
  /** Most memories one recall returns. Defaults to 10. */
  readonly maxResults?: number;
  readonly weights?: Partial<RetrievalWeights>;
}

/**
 * `remember` and `recall` tools over a memory store, for an agent that manages its own memory.
 * @example
 * ```ts
 * const { remember, recall } = createMemoryTools(memory, { scope: { agent: 'ops' }, maxResults: 5 });
 * const agent = defineAgent({
 *   name: 'ops',
 *   instructions: 'Remember what you learn about our systems; recall it before you investigate.',
 *   tools: [remember, recall],
 * });
 * ```
 */
export function createMemoryTools(store: MemoryStore, options: MemoryToolsOptions): { remember: ToolDefinition; recall: ToolDefinition } {
  const maxResults = options.maxResults ?? 10;
  const remember = defineTool({
    name: 'remember',
    description: 'Store a short fact or observation in long-term memory so it can be recalled in later turns or sessions.',
    input: z.object({
      text: z.string().min(1).max(4_000).describe('The memory, as one self-contained statement.'),
      importance: z.number().int().min(1).max(10).optional().describe('1 (mundane) to 10 (critical); omit to have it rated.'),
    }),
    risk: 'write',
    // What the agent read may be remembered: it comes back labelled `memory`, untrusted, never as an instruction.
    sinks: [],
    execute: async (input, context) => {
      const record = await store.remember({
        scope: options.scope,
        text: input.text,
        ...(input.importance === undefined ? {} : { importance: input.importance }),
        signal: context.signal,
      });
      return { id: record.id, importance: record.importance };
    },
  });
  const recall = defineTool({
    name: 'recall',
    description: 'Search long-term memory for what is relevant to a query; returns the best memories, ranked by relevance, importance and recency.',
    input: z.object({
      query: z.string().min(1).max(2_000).describe('What to look for.'),
      limit: z.number().int().min(1).max(maxResults).optional().describe(`How many memories, at most ${maxResults}.`),
    }),
    risk: 'read',
    provenance: 'memory',
    execute: async (input, context) => {
      const found = await store.recall({
        scope: options.scope,
        query: input.query,
        k: input.limit ?? Math.min(5, maxResults),
        ...(options.weights === undefined ? {} : { weights: options.weights }),
        signal: context.signal,
      });
      return found.map(({ record, score }) => ({ id: record.id, kind: record.kind, text: record.text, importance: record.importance, score: Number(score.toFixed(3)) }));
    },
  });
  return { remember, recall };
}
