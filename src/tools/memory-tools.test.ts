import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createExactScanIndex } from '../memory/exact-scan-index.ts';
import { createHashingEmbedder } from '../memory/hashing-embedder.ts';
import { createMemoryStore } from '../memory/memory-store.ts';
import type { ToolContext } from './define-tool.ts';
import { createMemoryTools } from './memory-tools.ts';

const context: ToolContext = { sessionId: 'ses_1', turn: 1, callId: 'call_1', idempotencyKey: 'key', signal: new AbortController().signal };

describe('memory tools', () => {
  it('remember stores in the scope and recall finds it, with zod-validated inputs', async () => {
    const store = createMemoryStore({ database: new Database(':memory:'), embedder: createHashingEmbedder(), index: createExactScanIndex({ dimensions: 384 }) });
    const { remember, recall } = createMemoryTools(store, { scope: { agent: 'ops', sessionId: 'ses_1' }, maxResults: 3 });
    expect(remember.name).toBe('remember');
    expect(recall.risk).toBe('read');
    expect(remember.inputSchema).toMatchObject({ type: 'object', required: ['text'] });
    const stored = (await remember.execute(remember.input.parse({ text: 'The Orion pager is held by Priya this week.', importance: 7 }), context)) as { id: string; importance: number };
    expect(stored.importance).toBe(7);
    await remember.execute(remember.input.parse({ text: 'Lunch is at noon.' }), context);
    const found = (await recall.execute(recall.input.parse({ query: 'who holds the Orion pager', limit: 1 }), context)) as { id: string; text: string }[];
    expect(found).toHaveLength(1);
    expect(found[0]?.id).toBe(stored.id);
    expect(await store.list({ agent: 'ops', sessionId: 'ses_1' })).toHaveLength(2);
    expect(recall.input.safeParse({ query: 'x', limit: 4 }).success).toBe(false);
    expect(remember.input.safeParse({ text: 'x', importance: 11 }).success).toBe(false);
    await store.close();
  });
});
