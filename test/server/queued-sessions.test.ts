import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel } from '../../src/runtime/index.ts';
import { createKeelServer, createServerLogger } from '../../src/server/index.ts';
import type { KeelServer } from '../../src/server/index.ts';
import { createRunQueue } from '../../src/worker/index.ts';
import type { RunQueue } from '../../src/worker/index.ts';
import { startPostgresServer } from '../helpers/postgres-server.ts';
import type { PostgresServerProcess } from '../helpers/postgres-server.ts';
import { answer, callTool, eventually, fixtureAgents, slowModel } from './server-harness.ts';
import { readEventStream } from './sse-client.ts';

// `keel serve --queue` as a library: the server enqueues every session on the run queue in a real PostgreSQL, and a
// real worker process runs it. The server process runs nothing itself, except ending a cancelled session no worker holds.
const workerScript = fileURLToPath(new URL('./fixtures/queue/queue-worker.ts', import.meta.url));

let postgres: PostgresServerProcess;
let url: string;
let keel: Keel;
let queue: RunQueue;
let server: KeelServer;
let base: string;
let adminKey: string;
let worker: { child: ChildProcess; lines: string[] };

function startWorker(databaseUrl: string): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', workerScript, databaseUrl], { env: { ...process.env, KEEL_TEST_BOOKER_DELAY_MS: '60000' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffer = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before ready`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        lines.push(line);
        if (line === 'ready') resolve({ child, lines });
      }
    });
  });
}

/** The fields of API answers these tests read (each answer has some of them). */
interface Answer {
  id: string;
  status: string;
  tenant: string;
  output: string | null;
  pendingApprovals: unknown[];
  session: { status: string };
  events: { type: string; seq: number }[];
  sessions: { id: string }[];
  error: { code: string };
}

async function request(path: string, init: { key?: string; body?: unknown; method?: string } = {}): Promise<{ status: number; body: Answer }> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${init.key ?? adminKey}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Answer };
}

beforeAll(async () => {
  postgres = await startPostgresServer();
  url = await postgres.createDatabase();
  // The server's runtime has the same models by name, for a cancelled session it ends itself.
  keel = createKeel({
    storage: { kind: 'postgres', url },
    modelLimits: false,
    env: {},
    models: {
      'echo-model': slowModel([answer('Hello from echo.')], () => 0),
      'booker-model': slowModel([callTool('toolu_book', 'book', { slot: 'tuesday-9' }), answer('Booked and done.')], () => 0),
      'refunder-model': slowModel([callTool('toolu_refund', 'refund', { orderId: '1042', amount: 500 }), answer('Refund handled.')], () => 0),
    },
  });
  queue = createRunQueue({ url });
  const effects = { booked: [], released: [], refunds: [] };
  server = createKeelServer({ keel, agents: fixtureAgents(effects), queue, serverDatabase: { url }, logger: createServerLogger(new Writable({ write: (_chunk, _encoding, done) => done() })), consoleFolder: null, keepAliveMs: 500, pollMs: 5_000 });
  adminKey = (await server.ensureAdminKey()) as string;
  base = (await server.listen({ port: 0 })).url;
  worker = await startWorker(url);
}, 60_000);

afterAll(async () => {
  if (worker !== undefined && worker.child.exitCode === null) {
    const exited = new Promise((resolve) => worker.child.once('exit', resolve));
    worker.child.kill('SIGTERM');
    await exited;
  }
  await server?.close();
  await queue?.close();
  await keel?.close();
  await postgres?.stop();
}, 30_000);

describe('sessions on the run queue through the API', () => {
  it('enqueues, the worker runs it, and the event stream delivers every event once, promptly, across a resume', async () => {
    const started = await request('/v1/sessions', { body: { agent: 'echo', task: 'Say hello.' } });
    expect(started.status).toBe(201);
    expect(['queued', 'running', 'completed']).toContain(started.body.status);
    expect(started.body.tenant).toBe('default');
    const stream = `${base}/v1/sessions/${started.body.id}/events`;
    const seen: number[] = [];
    // Polling is set to 5 s: events reach the stream within the test only because the worker announces them.
    const first = await readEventStream(stream, { key: adminKey, onEvent: (event) => {
      if (event.event === 'session-event') seen.push(Number(event.id));
      return seen.length < 2;
    } });
    expect(first.ended).toBe(false);
    let end: { status: string } | null = null;
    await readEventStream(stream, { key: adminKey, lastEventId: seen.at(-1) as number, onEvent: (event) => {
      if (event.event === 'session-event') seen.push(Number(event.id));
      if (event.event === 'end') end = JSON.parse(event.data) as { status: string };
    } });
    expect(end).toMatchObject({ status: 'completed' });
    const journal = await request(`/v1/sessions/${started.body.id}/journal`);
    expect(seen).toEqual(journal.body.events.map((event: { seq: number }) => event.seq));
    const view = await request(`/v1/sessions/${started.body.id}`);
    expect(view.body).toMatchObject({ status: 'completed', output: 'Hello from echo.' });
    expect(worker.lines.some((line) => line.includes(started.body.id) && line.includes('"claimed"'))).toBe(true);
    // Listed for its tenant with its status, through the PostgreSQL owners table.
    const listed = await request('/v1/sessions?status=completed');
    expect(listed.body.sessions.map((session: { id: string }) => session.id)).toContain(started.body.id);
  }, 30_000);

  it('records an approval given through the API and the session continues on the worker', async () => {
    const approver = (await server.keys.create({ name: 'ops', tenant: 'default', roles: ['approve', 'read'], createdBy: null })).key;
    const started = await request('/v1/sessions', { body: { agent: 'refunder', task: 'Refund order 1042.' } });
    const waiting = await eventually(() => request(`/v1/sessions/${started.body.id}`), (view) => view.body.status === 'waiting-approval', 20_000);
    expect(waiting.body.pendingApprovals).toMatchObject([{ callId: 'toolu_refund', tool: 'refund' }]);
    const decided = await request(`/v1/sessions/${started.body.id}/approvals/toolu_refund`, { key: approver, body: { decision: 'approve', editedInput: { orderId: '1042', amount: 120 }, reason: 'partial' } });
    expect(decided.status).toBe(200);
    expect(['queued', 'running', 'completed']).toContain(decided.body.status);
    const done = await eventually(() => request(`/v1/sessions/${started.body.id}`), (view) => view.body.status === 'completed', 20_000);
    expect(done.body.output).toBe('Refund handled.');
    const journal = await request(`/v1/sessions/${started.body.id}/journal`);
    const approval = journal.body.events.find((event: { type: string }) => event.type === 'tool-approval');
    expect(approval).toMatchObject({ approved: true, approver: expect.stringContaining('(ops, tenant default)') });
    const result = journal.body.events.find((event: { type: string }) => event.type === 'tool-result');
    expect(JSON.stringify(result)).toContain('refunded 120 on 1042');
    // Settled twice by the worker: waiting for approval, then completed after the wake-up.
    const settled = worker.lines.filter((line) => line.includes(started.body.id) && line.includes('"settled"'));
    expect(settled.length).toBeGreaterThanOrEqual(2);
  }, 45_000);

  it('cancels a session during a slow model call on the worker: the call is aborted, compensations run, it ends cancelled', async () => {
    const started = await request('/v1/sessions', { body: { agent: 'booker', task: 'Book tuesday.' } });
    const types = async (): Promise<string[]> => (await request(`/v1/sessions/${started.body.id}/journal`)).body.events.map((event: { type: string }) => event.type);
    await eventually(types, (list) => list.includes('tool-result') && list.at(-1) === 'model-request', 20_000);
    expect((await request(`/v1/sessions/${started.body.id}`)).body.status).toBe('running');
    const cancelled = await request(`/v1/sessions/${started.body.id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.session.status).toBe('cancelled');
    const list = await types();
    expect(list).toContain('compensation-result');
    expect(list.at(-1)).toBe('session-end');
    // A second cancel finds it ended.
    expect((await request(`/v1/sessions/${started.body.id}/cancel`, { method: 'POST' })).body.error.code).toBe('session-finished');
  }, 45_000);

  it('cancels a queued session no worker holds without a model call', async () => {
    const sessionId = 'ses_queued_cancel_test';
    // Queued and owned by the default tenant as POST /v1/sessions would, but ready only in an hour, so no worker claims it first.
    const { Pool } = (await import('pg')).default;
    const pool = new Pool({ connectionString: url, max: 1 });
    pool.on('error', () => undefined); // end() resolves before the socket closes; the server may stop first
    await pool.query("INSERT INTO keel_run_queue (session_id, agent, task, tenant, state, available_at) VALUES ($1, 'echo', 'Never run.', 'default', 'queued', now() + interval '1 hour')", [sessionId]);
    await pool.query("INSERT INTO server_sessions (session_id, tenant, agent, key_id, priority, created_at) VALUES ($1, 'default', 'echo', NULL, 'interactive', $2)", [sessionId, Date.now()]);
    await pool.end();
    expect((await request(`/v1/sessions/${sessionId}`)).body.status).toBe('queued');
    const cancelled = await request(`/v1/sessions/${sessionId}/cancel`, { method: 'POST' });
    expect(cancelled.body.session.status).toBe('cancelled');
    const journal = await request(`/v1/sessions/${sessionId}/journal`);
    expect(journal.body.events.map((event: { type: string }) => event.type)).not.toContain('model-request');
    expect((await queue.status(sessionId))?.state).toBe('done');
  }, 30_000);

  it('keeps tenants apart: another tenant sees none of it (404), and keys live in PostgreSQL', async () => {
    const started = await request('/v1/sessions', { body: { agent: 'echo', task: 'Private.' } });
    const other = (await server.keys.create({ name: 'globex-admin', tenant: 'globex', roles: ['admin'], createdBy: null })).key;
    for (const [path, method] of [[`/v1/sessions/${started.body.id}`, 'GET'], [`/v1/sessions/${started.body.id}/events`, 'GET'], [`/v1/sessions/${started.body.id}/cancel`, 'POST'], [`/v1/sessions/${started.body.id}/journal`, 'GET']] as const) {
      const response = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${other}` } });
      expect(response.status, path).toBe(404);
      await response.body?.cancel();
    }
    const approval = await request(`/v1/sessions/${started.body.id}/approvals/toolu_x`, { key: other, body: { decision: 'approve' } });
    expect(approval.status).toBe(404);
    expect((await request('/v1/sessions', { key: other })).body.sessions).toEqual([]);
    // The key table is in PostgreSQL: a second server on the same database knows the keys and the sessions' tenants.
    const second = createKeelServer({ keel, agents: fixtureAgents({ booked: [], released: [], refunds: [] }), queue, serverDatabase: { url }, logger: createServerLogger(new Writable({ write: (_chunk, _encoding, done) => done() })), consoleFolder: null });
    const response = await second.app.fetch(new Request(`http://local/v1/sessions/${started.body.id}`, { headers: { authorization: `Bearer ${adminKey}` } }));
    expect(response.status).toBe(200);
    expect(((await response.json()) as { tenant: string }).tenant).toBe('default');
    expect(await second.ensureAdminKey()).toBeNull();
    await second.close();
  }, 30_000);
});
