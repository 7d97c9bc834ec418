import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresDatabase } from '../../src/store/postgres/index.ts';
import { createRunQueue } from '../../src/worker/index.ts';
import type { RunQueue } from '../../src/worker/index.ts';
import { startPostgresServer } from '../helpers/postgres-server.ts';
import type { PostgresServerProcess } from '../helpers/postgres-server.ts';

let server: PostgresServerProcess;
const opened: RunQueue[] = [];

beforeAll(async () => {
  server = await startPostgresServer();
}, 60_000);

afterAll(async () => {
  for (const queue of opened) await queue.close();
  await server?.stop();
});

async function freshQueue(): Promise<RunQueue> {
  const queue = createRunQueue({ url: await server.createDatabase() });
  opened.push(queue);
  return queue;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the run queue on PostgreSQL', () => {
  it('hands each queued session to exactly one of many concurrent claimers', async () => {
    const url = await server.createDatabase();
    const queue = createRunQueue({ url });
    opened.push(queue);
    const ids: string[] = [];
    for (let index = 0; index < 60; index += 1) ids.push((await queue.enqueue({ agent: 'support', task: `task ${index}` })).sessionId);
    // Six claimers, each with its own pool, race; SKIP LOCKED must give every row to one of them only.
    const claimers = Array.from({ length: 6 }, () => createRunQueue({ url, maxConnections: 2 }));
    opened.push(...claimers);
    const results = await Promise.all(claimers.map(async (claimer, index) => {
      const claimed: string[] = [];
      for (;;) {
        const rows = await claimer.claim({ worker: `w${index}`, limit: 4, ttlMs: 30_000 });
        if (rows.length === 0) break;
        claimed.push(...rows.map((row) => row.sessionId));
      }
      return claimed;
    }));
    const all = results.flat();
    expect([...all].sort()).toEqual([...ids].sort());
    expect(new Set(all).size).toBe(60);
    const history = await queue.claims();
    expect(history).toHaveLength(60);
    expect(new Set(history.map((claim) => claim.sessionId)).size).toBe(60);
  });

  it('lets another worker take over a claim that was not renewed, and records the first as expired', async () => {
    const queue = await freshQueue();
    const { sessionId } = await queue.enqueue({ agent: 'support', task: 'check order 1042' });
    const [first] = await queue.claim({ worker: 'dies', limit: 10, ttlMs: 1500 });
    expect(first?.sessionId).toBe(sessionId);
    expect(await queue.claim({ worker: 'other', limit: 10, ttlMs: 1500 })).toEqual([]);
    await sleep(1700);
    const [second] = await queue.claim({ worker: 'other', limit: 10, ttlMs: 30_000 });
    expect(second?.sessionId).toBe(sessionId);
    expect(second?.attempts).toBe(2);
    // The dead worker's late renewal and settlement are refused: the claim is no longer its.
    expect(await queue.renew({ worker: 'dies', claimIds: [first!.claimId!], ttlMs: 30_000 })).toEqual(new Set());
    expect(await queue.settle({ sessionId, claimId: first!.claimId! }, { kind: 'ended', status: 'completed' })).toBe(false);
    expect(await queue.settle({ sessionId, claimId: second!.claimId! }, { kind: 'ended', status: 'completed' })).toBe(true);
    const history = await queue.claims(sessionId);
    expect(history.map((claim) => [claim.worker, claim.outcome])).toEqual([['dies', 'expired'], ['other', 'completed']]);
    expect(history[0]!.endedAt!).toBeLessThanOrEqual(history[1]!.claimedAt);
    expect((await queue.status(sessionId))?.state).toBe('done');
  });

  it('keeps a renewed claim past its first expiry', async () => {
    const queue = await freshQueue();
    const { sessionId } = await queue.enqueue({ agent: 'support' });
    const [row] = await queue.claim({ worker: 'alive', limit: 1, ttlMs: 2000 });
    for (let tick = 0; tick < 4; tick += 1) {
      await sleep(600);
      expect(await queue.renew({ worker: 'alive', claimIds: [row!.claimId!], ttlMs: 2000 })).toEqual(new Set([row!.claimId!]));
    }
    expect(await queue.claim({ worker: 'other', limit: 1, ttlMs: 2000 })).toEqual([]);
    expect((await queue.status(sessionId))?.claimedBy).toBe('alive');
  });

  it('wakes a session waiting for approval, also through the child session that waits, and not one still running', async () => {
    const queue = await freshQueue();
    const { sessionId } = await queue.enqueue({ agent: 'support' });
    const [row] = await queue.claim({ worker: 'w', limit: 1, ttlMs: 30_000 });
    await queue.settle({ sessionId, claimId: row!.claimId! }, { kind: 'waiting-approval', waitingSessions: [sessionId, 'ses_child'] });
    expect((await queue.status(sessionId))?.state).toBe('waiting-approval');
    expect(await queue.claim({ worker: 'w', limit: 1, ttlMs: 30_000 })).toEqual([]);
    expect(await queue.wake('ses_child')).toEqual([sessionId]);
    expect((await queue.status(sessionId))?.state).toBe('queued');
    expect((await queue.claim({ worker: 'w', limit: 1, ttlMs: 30_000 }))[0]?.sessionId).toBe(sessionId);
  });

  it('requeues a session whose approval was recorded while its worker was still settling it', async () => {
    const queue = await freshQueue();
    const { sessionId } = await queue.enqueue({ agent: 'support' });
    const [row] = await queue.claim({ worker: 'w', limit: 1, ttlMs: 30_000 });
    expect(await queue.wake(sessionId)).toEqual([sessionId]);
    await queue.settle({ sessionId, claimId: row!.claimId! }, { kind: 'waiting-approval', waitingSessions: [sessionId] });
    expect((await queue.status(sessionId))?.state).toBe('queued');
  });

  it('notifies a listener when a session is queued', async () => {
    const url = await server.createDatabase();
    const queue = createRunQueue({ url });
    opened.push(queue);
    const heard: string[] = [];
    const listener = await queue.listen((sessionId) => heard.push(sessionId));
    try {
      const { sessionId } = await queue.enqueue({ agent: 'support' });
      for (let waited = 0; waited < 100 && heard.length === 0; waited += 1) await sleep(20);
      expect(heard).toEqual([sessionId]);
    } finally {
      await listener.close();
    }
  });

  it('delays a retry and gives up after the last attempt, keeping the error for a person', async () => {
    const queue = await freshQueue();
    const { sessionId } = await queue.enqueue({ agent: 'support' });
    const [row] = await queue.claim({ worker: 'w', limit: 1, ttlMs: 30_000 });
    await queue.settle({ sessionId, claimId: row!.claimId! }, { kind: 'retry', outcome: 'error', delayMs: 60_000, error: { code: 'storage-failure', message: 'disk' } });
    expect(await queue.claim({ worker: 'w', limit: 1, ttlMs: 30_000 })).toEqual([]);
    const waiting = await queue.status(sessionId);
    expect(waiting?.state).toBe('queued');
    expect(waiting!.availableAt - waiting!.updatedAt).toBeGreaterThan(50_000);
    expect(waiting?.lastError).toEqual({ code: 'storage-failure', message: 'disk' });
    expect((await queue.enqueueResume({ sessionId, agent: 'support' })).queued).toBe(false);

    const { sessionId: doomed } = await queue.enqueue({ agent: 'support' });
    const [last] = await queue.claim({ worker: 'w', limit: 1, ttlMs: 30_000 });
    expect(await queue.settle({ sessionId: doomed, claimId: last!.claimId! }, { kind: 'gave-up', error: { code: 'storage-failure', message: 'disk' } })).toBe(true);
    expect((await queue.status(doomed))?.state).toBe('failed');
    expect(await queue.claim({ worker: 'w', limit: 1, ttlMs: 30_000 })).toEqual([]);
    // A person who fixed the cause queues it again.
    expect((await queue.enqueueResume({ sessionId: doomed, agent: 'support' })).queued).toBe(true);
    expect((await queue.status(doomed))?.attempts).toBe(0);
  });

  it('fails rows written past enqueue (oversized task, bad id or agent) at claim time without claiming them, and claims the healthy row', async () => {
    const url = await server.createDatabase();
    const queue = createRunQueue({ url });
    opened.push(queue);
    await queue.migrate();
    const database = openPostgresDatabase({ url });
    try {
      const insert = 'INSERT INTO keel_run_queue (session_id, agent, task, state, available_at) VALUES ($1, $2, $3, \'queued\', $4)';
      // The poison row is the oldest, so a claim that loaded it would meet it first.
      await database.query(insert, ['q-huge', 'support', 'x'.repeat(3 * (1 << 20)), new Date(Date.now() - 60_000)]);
      await database.query(insert, ['../../etc/passwd', 'support', 'dots', new Date(Date.now() - 50_000)]);
      await database.query(insert, ['q-noagent', '  ', 'hi', new Date(Date.now() - 40_000)]);
      const { sessionId: healthy } = await queue.enqueue({ agent: 'support', task: 'check order 1042' });
      const claimed = await queue.claim({ worker: 'w', limit: 10, ttlMs: 30_000 });
      expect(claimed.map((row) => row.sessionId)).toEqual([healthy]);
      const huge = await queue.status('q-huge');
      expect(huge?.state).toBe('failed');
      expect(huge?.lastError?.code).toBe('invalid-argument');
      expect(huge?.lastError?.message).toContain(`${3 * (1 << 20)} bytes`);
      expect(huge?.attempts).toBe(0);
      expect((await queue.status('../../etc/passwd'))?.lastError?.message).toContain('session id');
      expect((await queue.status('q-noagent'))?.lastError?.message).toContain('agent name');
      // Never claimed: no claim history for the refused rows.
      expect((await queue.claims()).map((claim) => claim.sessionId)).toEqual([healthy]);
    } finally {
      await database.close();
    }
  });

  it('fails a row whose claims keep expiring once it reaches its attempts limit, instead of claiming it again', async () => {
    const queue = await freshQueue();
    const { sessionId } = await queue.enqueue({ agent: 'support', task: 'check order 1042' });
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      const [row] = await queue.claim({ worker: `w${attempt}`, limit: 1, ttlMs: 100, maxAttempts: 2 });
      expect(row?.attempts).toBe(attempt);
      await sleep(250);
    }
    expect(await queue.claim({ worker: 'w3', limit: 1, ttlMs: 100, maxAttempts: 2 })).toEqual([]);
    const row = await queue.status(sessionId);
    expect(row?.state).toBe('failed');
    expect(row?.lastError).toMatchObject({ code: 'session-busy' });
    expect(row?.lastError?.message).toContain('Given up after 2 claims');
    expect(row?.lastError?.message).toContain('expired');
    expect(row?.claimedBy).toBeNull();
    expect((await queue.claims(sessionId)).map((claim) => [claim.worker, claim.outcome])).toEqual([['w1', 'expired'], ['w2', 'expired']]);
  });

  it('refuses a duplicate session id and malformed requests with typed errors', async () => {
    const queue = await freshQueue();
    await queue.enqueue({ agent: 'support', sessionId: 'ses_fixed' });
    await expect(queue.enqueue({ agent: 'support', sessionId: 'ses_fixed' })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(queue.enqueue({ agent: '' })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(queue.enqueue({ agent: 'a', sessionId: "x'; DROP TABLE keel_run_queue; --" })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(queue.claim({ worker: 'w', limit: 0, ttlMs: 1000 })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(queue.claim({ worker: 'w', limit: 1, ttlMs: 1000, maxAttempts: 0 })).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('reports an unreachable server as a retryable storage failure', async () => {
    const queue = createRunQueue({ url: 'postgres://postgres@127.0.0.1:1/none' });
    opened.push(queue);
    await expect(queue.enqueue({ agent: 'support' })).rejects.toMatchObject({ code: 'storage-failure', retryable: true });
  });
});
