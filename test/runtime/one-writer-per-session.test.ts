import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel, defineAgent, defineTool, isKeelError } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { createSqliteStore } from '../../src/store/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-lease-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function scriptedTwoTurns() {
  return createScriptedModel([
    { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: 'toolu_1', name: 'send', input: { to: 'ana' } }], usage: { input_tokens: 10, output_tokens: 5 } },
    { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'sent' }], usage: { input_tokens: 10, output_tokens: 5 } },
  ]);
}

/** A tool with a real side effect count, that waits until the test lets it finish. */
function gatedSend() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const started = new Promise<void>((resolve) => (entered = resolve));
  const effects: string[] = [];
  const tool = defineTool({
    name: 'send',
    description: 'Sends a message.',
    input: z.object({ to: z.string() }),
    risk: 'read',
    execute: async ({ to }) => {
      entered();
      await gate;
      effects.push(to);
      return `sent to ${to}`;
    },
  });
  return { tool, effects, started, release };
}

/** A session run to its end, its lease released: the starting point of the takeover tests. */
async function finishedSession(database: string) {
  const send = gatedSend();
  send.release();
  const agent = defineAgent({ name: 'sender', instructions: 'x', tools: [send.tool] });
  const starter = createKeel({ database, model: scriptedTwoTurns() });
  const finished = await starter.run(agent, 'send it').result;
  await starter.close();
  return { agent, finished };
}

describe('one writer per session', () => {
  it('refuses a second process at once with session-busy naming the holder, and the tool runs once', async () => {
    const database = join(scratch, 'busy.db');
    const send = gatedSend();
    const agent = defineAgent({ name: 'sender', instructions: 'x', tools: [send.tool] });
    const first = createKeel({ database, model: scriptedTwoTurns() });
    const second = createKeel({ database, model: scriptedTwoTurns() });
    const run = first.run(agent, 'send it');
    await send.started;
    const refused = await (await second.resume(agent, run.sessionId)).result.catch((error: unknown) => error);
    expect(isKeelError(refused, 'session-busy')).toBe(true);
    expect((refused as Error).message).toMatch(new RegExp(`Session ${run.sessionId} is being run by .+:${process.pid}:[0-9a-f]{8} \\(for \\d+ s\\)`));
    send.release();
    expect((await run.result).status).toBe('completed');
    expect(send.effects).toEqual(['ana']);
    await first.close();
    await second.close();
  });

  it('releases the lease when a run ends, so the next process can resume', async () => {
    const database = join(scratch, 'released.db');
    const send = gatedSend();
    send.release();
    const agent = defineAgent({ name: 'sender', instructions: 'x', tools: [send.tool] });
    const keel = createKeel({ database, model: scriptedTwoTurns() });
    const run = keel.run(agent, 'send it');
    await run.result;
    await keel.close();
    const store = createSqliteStore({ path: database });
    expect(await store.leases.current(run.sessionId)).toBeUndefined();
    await store.close();
  });

  it('takes over the lease of a holder that stopped renewing it, once it expires', async () => {
    const database = join(scratch, 'takeover.db');
    const { agent, finished } = await finishedSession(database);
    // A crashed process: it took the lease and will never renew or release it.
    const store = createSqliteStore({ path: database });
    await store.leases.acquire({ sessionId: finished.sessionId, owner: 'crashed-host:1:dead', ttlMs: 200 });
    const resumer = createKeel({ database, model: scriptedTwoTurns() });
    const early = await (await resumer.resume(agent, finished.sessionId)).result.catch((error: unknown) => error);
    expect(isKeelError(early, 'session-busy')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const late = await (await resumer.resume(agent, finished.sessionId)).result.catch((error: unknown) => error);
    // The lease was taken over; the session itself had ended, which resume reports as such.
    expect(isKeelError(late, 'session-busy')).toBe(false);
    await resumer.close();
    await store.close();
  });

  it('takes over at once from a holder on this host whose process has died', async () => {
    const database = join(scratch, 'dead-holder.db');
    const { agent, finished } = await finishedSession(database);
    const exited = spawnSync(process.execPath, ['-e', '']);
    expect(exited.status).toBe(0);
    const store = createSqliteStore({ path: database });
    // A worker that was killed while holding the lease: long ttl, never renewed, never released.
    await store.leases.acquire({ sessionId: finished.sessionId, owner: `${hostname()}:${exited.pid}:deadbeef`, ttlMs: 600_000 });
    const resumer = createKeel({ database, model: scriptedTwoTurns() });
    const resumed = await (await resumer.resume(agent, finished.sessionId)).result.catch((error: unknown) => error);
    expect(isKeelError(resumed, 'session-busy')).toBe(false);
    // A live holder elsewhere (another host) is still respected.
    await store.leases.acquire({ sessionId: finished.sessionId, owner: 'other-host:1:cafebabe', ttlMs: 600_000 });
    const refused = await (await resumer.resume(agent, finished.sessionId)).result.catch((error: unknown) => error);
    expect(isKeelError(refused, 'session-busy')).toBe(true);
    await resumer.close();
    await store.close();
  });

  it('lets an approval decision through only to the lease holder', async () => {
    const database = join(scratch, 'decide.db');
    const store = createSqliteStore({ path: database });
    await store.leases.acquire({ sessionId: 'ses_held', owner: 'other-host:2:beef', ttlMs: 60_000 });
    await store.close();
    const keel = createKeel({ database, model: scriptedTwoTurns() });
    const agent = defineAgent({ name: 'sender', instructions: 'x', tools: [] });
    const refused = await keel.decide(agent, 'ses_held', 'toolu_1', { approved: true, approver: 'me' }).catch((error: unknown) => error);
    expect(isKeelError(refused, 'session-busy')).toBe(true);
    await keel.close();
  });
});
