import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHashingEmbedder } from '../../src/memory/index.ts';
import { createKeelMemoryStore } from '../../src/runtime/memory-backends.ts';
import { createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-second-connection-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const outcome = { ok: true, output: 'shipped order 7', error: null, fullOutputBlob: null, recordedAt: 1 };

describe("a memory store on its own connection to the sessions' file, in the same process (probe H5)", () => {
  // Since ef38ffc the outcome is a deferred write: the first connection's transaction stays open until the result's
  // append or the end of the turn, where before the outcome's own commit closed it (and the audit record's) at once.
  it('can write in the turn of the event loop in which another session recorded a tool outcome', async () => {
    const path = join(scratch, 'keel.db');
    // As createKeel's SQLite backends open them: the session store, and the idempotency store on its connection.
    const store = createSqliteStore({ path });
    const outcomes = createSqliteIdempotencyStore(store.database, path);
    // As an agent module loaded by `keel serve` makes its memory (createKeelMemoryStore's own example): a second
    // connection to the same file, in the same process.
    const memory = createKeelMemoryStore({ embedder: createHashingEmbedder({ dimensions: 64 }), env: { KEEL_DB: path } });
    try {
      await memory.remember({ scope: { agent: 'ops' }, text: 'warm up: the memory tables exist', importance: 1 });
      await new Promise((resolve) => setTimeout(resolve, 10));
      // Session B's tool returned: the idempotency stage recorded its outcome and returned ...
      await outcomes.put('idem_b', outcome);
      // ... and in the same turn of the event loop session A records a tool result in memory. The write needs the
      // file's write lock; if the first connection kept its transaction open, nothing can commit it while this
      // synchronous write waits (the event loop is blocked for the busy timeout), and the write fails.
      const written = await memory.remember({ scope: { agent: 'ops', sessionId: 'ses_a' }, text: 'Order 7 shipped.', importance: 5 }).then(
        () => 'written',
        (error: unknown) => (error as { code?: string }).code,
      );
      expect(written).toBe('written');
    } finally {
      await memory.close();
      await store.close();
    }
  }, 20_000);
});
