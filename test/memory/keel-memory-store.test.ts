import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHashingEmbedder } from '../../src/memory/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { createKeelMemoryStore } from '../../src/runtime/memory-backends.ts';
import { expectKeelError } from '../../src/testing/contracts/index.ts';

// Memory stores in Keel's own storage, for the SQLite and in-process kinds (PostgreSQL: postgres-memory-store.test.ts).
const folders: string[] = [];
afterEach(() => folders.splice(0).forEach((folder) => rmSync(folder, { recursive: true, force: true })));
const embedder = () => createHashingEmbedder({ dimensions: 64 });

describe('memory in the Keel’s storage', () => {
  it('keeps memories in the SQLite file of the sessions, where a store found through KEEL_DB reads them', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'keel-memory-'));
    folders.push(folder);
    const path = join(folder, 'nested', 'keel.db');
    const keel = createKeel({ database: path, env: {}, metrics: false });
    const memory = keel.memoryStore({ embedder: embedder() });
    const written = await memory.remember({ scope: { agent: 'ops' }, text: 'The Orion backup runs at 02:00 UTC.', importance: 6 });
    await keel.close();
    await expectKeelError(memory.list({ agent: 'ops' }), 'storage-failure');

    const found = createKeelMemoryStore({ embedder: embedder(), env: { KEEL_DB: path } });
    expect(await found.get([written.id])).toEqual([written]);
    const [best] = await found.recall({ scope: { agent: 'ops' }, query: 'When does the Orion backup run?', k: 1 });
    expect(best?.record.id).toBe(written.id);
    await found.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // A second embedder on the same file is refused: its vectors would not compare.
    expect(() => createKeelMemoryStore({ embedder: createHashingEmbedder({ dimensions: 32 }), env: { KEEL_DB: path } })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });

  it('keeps memories in the process for an in-memory Keel, and closes them with it', async () => {
    const keel = createKeel({ database: ':memory:', env: {}, metrics: false });
    const memory = keel.memoryStore({ embedder: embedder() });
    await memory.remember({ scope: { agent: 'a', sessionId: 's' }, text: 'kept in this process only' });
    expect(await memory.list({ agent: 'a' })).toHaveLength(1);
    await keel.close();
    await expectKeelError(memory.recall({ scope: { agent: 'a' }, query: 'kept' }), 'storage-failure');
    const standalone = createKeelMemoryStore({ embedder: embedder(), database: ':memory:' });
    expect(await standalone.list({ agent: 'a' })).toEqual([]);
    await standalone.close();
  });
});
