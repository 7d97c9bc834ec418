import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createExactScanIndex, createHashingEmbedder, createMemoryStore } from '../../src/memory/index.ts';
import { KeelError } from '../../src/errors/index.ts';

const folders: string[] = [];
afterEach(() => folders.splice(0).forEach((folder) => rmSync(folder, { recursive: true, force: true })));

describe('a memory store remembers its embedder', () => {
  it('reopens with the same embedder, and refuses a different one with an actionable error', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'keel-embedder-'));
    folders.push(folder);
    const path = join(folder, 'memory.db');
    const first = createMemoryStore({ path, embedder: createHashingEmbedder({ dimensions: 64 }), index: createExactScanIndex({ dimensions: 64 }) });
    await first.remember({ scope: { agent: 'a' }, text: 'The deploy key rotates on Mondays.', importance: 6 });
    await first.close();

    const again = createMemoryStore({ path, embedder: createHashingEmbedder({ dimensions: 64 }), index: createExactScanIndex({ dimensions: 64 }) });
    expect(await again.list({ agent: 'a' })).toHaveLength(1);
    await again.close();

    const other = { id: 'openai:text-embedding-3-small@64', dimensions: 64, embed: () => Promise.resolve([]) };
    let caught: unknown;
    try {
      createMemoryStore({ path, embedder: other, index: createExactScanIndex({ dimensions: 64 }) });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(KeelError);
    expect((caught as KeelError).code).toBe('invalid-config');
    expect((caught as KeelError).message).toContain('"hashing:v1@64"');
    expect((caught as KeelError).message).toContain('"openai:text-embedding-3-small@64"');
  });
});
