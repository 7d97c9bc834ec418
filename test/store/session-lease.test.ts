import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { AcquireLeaseResult } from '../../src/spec/session-lease.ts';
import { createMemorySessionLeaseStore, createSqliteSessionLeaseStore, createSqliteStore } from '../../src/store/index.ts';
import { createManualClock, describeSessionLeaseContract } from '../../src/testing/contracts/session-lease.contract.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const run = promisify(execFile);
const childScript = fileURLToPath(new URL('./acquire-lease-from-another-process.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

describeSessionLeaseContract('memory', (clock) => {
  const store = createMemorySessionLeaseStore({ clock });
  return [store, store];
});
describeSessionLeaseContract('sqlite, two connections on one file', (clock) => {
  const path = folders.databasePath();
  return [createSqliteSessionLeaseStore({ path, clock }), createSqliteSessionLeaseStore({ path, clock })];
});
describeSessionLeaseContract('sqlite store sharing its database with the journal', (clock) => {
  const path = folders.databasePath();
  const first = createSqliteStore({ path, clock });
  const second = createSqliteStore({ path, clock });
  // Closing the lease store alone would leave the shared connection open for the journal and blobs.
  return [{ ...first.leases, close: () => first.close() }, { ...second.leases, close: () => second.close() }];
});

describe('SQLite session leases across processes', () => {
  it('let exactly one of several processes racing for a free lease win; the others see the winner', async () => {
    const path = folders.databasePath();
    const barrier = join(dirname(path), 'barrier');
    mkdirSync(barrier);
    const owners = ['racer-1', 'racer-2', 'racer-3', 'racer-4'];
    const results = await Promise.all(
      owners.map(async (owner) => {
        const request = { path, sessionId: 'ses_race', owner, barrier, racers: owners.length };
        const { stdout } = await run(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(request)], { cwd: repositoryRoot });
        return JSON.parse(stdout.trim()) as AcquireLeaseResult;
      }),
    );
    const winners = results.filter((result) => result.acquired);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.acquired ? winners[0]!.lease : undefined;
    expect(winner).toMatchObject({ sessionId: 'ses_race', fence: 1 });
    for (const result of results) {
      if (!result.acquired) expect(result.holder).toEqual(winner);
    }
    const leases = createSqliteSessionLeaseStore({ path });
    try {
      expect(await leases.current('ses_race')).toEqual(winner);
    } finally {
      await leases.close();
    }
  }, 60_000);

  it('survive closing and reopening the file, fence included', async () => {
    const path = folders.databasePath();
    const clock = createManualClock();
    const first = createSqliteSessionLeaseStore({ path, clock });
    await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs: 1_000 });
    await first.release('ses_a', 'worker-1');
    await first.close();
    const second = createSqliteSessionLeaseStore({ path, clock });
    try {
      expect(await second.acquire({ sessionId: 'ses_a', owner: 'worker-2', ttlMs: 1_000 })).toMatchObject({ acquired: true, lease: { fence: 2 } });
    } finally {
      await second.close();
    }
  });
});
