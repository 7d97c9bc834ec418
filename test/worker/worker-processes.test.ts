import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/spec/events.ts';
import { createPostgresStore } from '../../src/store/postgres/index.ts';
import { createRunQueue } from '../../src/worker/index.ts';
import type { ClaimRecord, RunQueue } from '../../src/worker/index.ts';
import { startPostgresServer } from '../helpers/postgres-server.ts';
import type { PostgresServerProcess } from '../helpers/postgres-server.ts';

/*
 * The scale-out acceptance test: three worker processes share one PostgreSQL; one of them is SIGKILLed while it
 * runs sessions. Every session must complete, every charge must reach the payment service (a server in this test
 * process, outside the workers) and be applied exactly once, and no session may be held by two workers at once.
 */

const sessions = 300;
const workerScript = fileURLToPath(new URL('./fixtures/worker-process.ts', import.meta.url));

interface PaymentService {
  readonly url: string;
  /** Deliveries per idempotency key (a crash between the charge and its journal entry delivers it again). */
  readonly deliveries: Map<string, number>;
  /** Applied charges by key: the service applies a key once, and answers a repeated one with the first receipt. */
  readonly applied: Map<string, { sessionId: string; customer: string; receipt: number }>;
  close(): Promise<void>;
}

async function startPaymentService(): Promise<PaymentService> {
  const deliveries = new Map<string, number>();
  const applied = new Map<string, { sessionId: string; customer: string; receipt: number }>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { key: string; sessionId: string; customer: string };
      deliveries.set(body.key, (deliveries.get(body.key) ?? 0) + 1);
      const known = applied.get(body.key);
      const record = known ?? { sessionId: body.sessionId, customer: body.customer, receipt: applied.size + 1 };
      applied.set(body.key, record);
      // A first charge takes a while, as a real one does: it widens the window in which a worker dies mid-call.
      setTimeout(() => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ receipt: record.receipt }));
      }, known === undefined ? 5 + Math.floor(Math.random() * 20) : 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, deliveries, applied, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface WorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly output: string[];
}

function startWorker(name: string, url: string, paymentsUrl: string): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', workerScript, url, name, '30', '2000'], {
    env: { ...process.env, KEEL_TEST_EFFECTS_URL: paymentsUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, exited, output };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, describeState: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${await describeState()}`);
    await sleep(50);
  }
}

let server: PostgresServerProcess;
let payments: PaymentService;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  server = await startPostgresServer();
  payments = await startPaymentService();
}, 60_000);

afterAll(async () => {
  for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  await Promise.all(workers.map((worker) => worker.exited));
  await payments?.close();
  await server?.stop();
});

describe('three worker processes on one PostgreSQL', () => {
  it('complete 300 sessions with every charge applied once although one worker is SIGKILLed midway', async () => {
    const url = await server.createDatabase();
    const queue: RunQueue = createRunQueue({ url });
    const store = createPostgresStore({ url });
    try {
      await queue.migrate();
      // The workers load while the sessions are queued; they poll an empty queue until then.
      workers.push(startWorker('w1', url, payments.url), startWorker('w2', url, payments.url), startWorker('w3', url, payments.url));
      const ids: string[] = [];
      for (let index = 0; index < sessions; index += 1) ids.push((await queue.enqueue({ agent: 'biller', task: `Charge batch ${index}.` })).sessionId);
      const [victim, ...survivors] = workers as [WorkerProcess, WorkerProcess, WorkerProcess];
      await waitFor('the workers to start', async () => workers.every((worker) => worker.output.join('').includes('ready')), 60_000, async () => workers.map((worker) => worker.output.join('')).join('\n'));

      // Kill w1 while it holds sessions, once the run is well under way.
      const count = async (sql: string, params: unknown[] = []) => Number((await store.database.query<{ n: string }>(sql, params)).rows[0]?.n ?? 0);
      const describeState = async () => {
        const states = await store.database.query<{ state: string; claimed_by: string | null; n: string }>(`SELECT state, split_part(claimed_by, ':', 1) AS claimed_by, count(*) AS n FROM keel_run_queue GROUP BY 1, 2 ORDER BY 1, 2`);
        const errors = await store.database.query<{ last_error: unknown }>(`SELECT last_error FROM keel_run_queue WHERE last_error IS NOT NULL LIMIT 3`);
        return `${JSON.stringify(states.rows)} errors ${JSON.stringify(errors.rows)}\n${workers.map((worker) => `${worker.name}: ${worker.output.join('').slice(-2000)}`).join('\n')}`;
      };
      await waitFor('a third of the sessions to finish with w1 holding claims', async () =>
        (await count(`SELECT count(*) AS n FROM keel_run_queue WHERE state = 'done'`)) >= sessions / 3 &&
        (await count(`SELECT count(*) AS n FROM keel_run_queue WHERE state = 'claimed' AND claimed_by LIKE 'w1:%'`)) > 0, 45_000, describeState);
      const heldAtKill = new Set((await store.database.query<{ session_id: string }>(`SELECT session_id FROM keel_run_queue WHERE state = 'claimed' AND claimed_by LIKE 'w1:%'`)).rows.map((row) => row.session_id));
      victim.child.kill('SIGKILL');
      await victim.exited;

      await waitFor('every session to finish', async () => (await count(`SELECT count(*) AS n FROM keel_run_queue WHERE state = 'done'`)) === sessions, 50_000, describeState);
      for (const survivor of survivors) survivor.child.kill('SIGTERM');
      const codes = await Promise.all(survivors.map((survivor) => survivor.exited));
      expect(codes, survivors.map((survivor) => survivor.output.join('')).join('\n')).toEqual([0, 0]);

      // Every session completed, with its three charges.
      const keys = new Map<string, string>();
      for (const sessionId of ids) {
        const row = await queue.status(sessionId);
        expect(row?.resultStatus).toBe('completed');
        const events: SessionEvent[] = [];
        for await (const event of store.journal.read(sessionId)) events.push(event);
        expect(events.at(-1)).toMatchObject({ type: 'session-end', status: 'completed' });
        const requests = events.filter((event) => event.type === 'tool-request');
        expect(requests).toHaveLength(3);
        for (const request of requests) if (request.type === 'tool-request') keys.set(request.idempotencyKey, sessionId);
        expect(events.filter((event) => event.type === 'tool-result')).toHaveLength(3);
      }

      // Exactly once at the payment service: one applied charge per journaled call, nothing else. A key delivered
      // twice belongs to a run that was cut off and resumed with the same key: a session the killed worker held, or
      // one whose claim ended in an error (a storage failure on a loaded machine, say) and was claimed again.
      const claims = await queue.claims();
      const resumedAfterError = new Set(claims.filter((claim) => claim.outcome === 'error').map((claim) => claim.sessionId));
      expect(keys.size).toBe(sessions * 3);
      expect(new Set(payments.applied.keys())).toEqual(new Set(keys.keys()));
      for (const [key, record] of payments.applied) expect(record.sessionId).toBe(keys.get(key));
      for (const [key, delivered] of payments.deliveries) {
        const sessionId = keys.get(key) ?? '';
        if (delivered > 1) expect(heldAtKill.has(sessionId) || resumedAfterError.has(sessionId), `key ${key} of ${sessionId} delivered ${delivered} times`).toBe(true);
      }

      // No session was held by two workers at once: each session's claims follow one another.
      const bySession = new Map<string, ClaimRecord[]>();
      for (const claim of claims) bySession.set(claim.sessionId, [...(bySession.get(claim.sessionId) ?? []), claim]);
      for (const [sessionId, history] of bySession) {
        const ordered = [...history].sort((left, right) => left.claimedAt - right.claimedAt);
        for (let index = 1; index < ordered.length; index += 1) {
          const previous = ordered[index - 1]!;
          expect(previous.endedAt, `claim ${previous.claimId} of ${sessionId}`).not.toBeNull();
          expect(previous.endedAt!, `claims of ${sessionId} overlap`).toBeLessThanOrEqual(ordered[index]!.claimedAt);
        }
      }
      // The killed worker's sessions were taken over after their claims expired, and finished by the others.
      const takenOver = claims.filter((claim) => claim.worker.startsWith('w1:') && claim.outcome === 'expired');
      expect(takenOver.length).toBeGreaterThan(0);
      for (const claim of takenOver) {
        const finisher = bySession.get(claim.sessionId)!.at(-1)!;
        expect(finisher.worker.startsWith('w1:')).toBe(false);
        expect(finisher.outcome).toBe('completed');
      }
    } finally {
      await queue.close();
      await store.close();
    }
  }, 120_000);
});
