import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel, defineAgent, defineTool, isKeelError } from '../../src/index.ts';
import type { KeelOptions } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { startPostgresServer, type PostgresServerProcess } from '../helpers/postgres-server.ts';

// createKeel on PostgreSQL, chosen by the `storage` option or by KEEL_DATABASE_URL, against a real server.
let server: PostgresServerProcess;
beforeAll(async () => {
  server = await startPostgresServer();
}, 60_000);
afterAll(async () => {
  await server.stop();
});

function scriptedToolThenAnswer() {
  return createScriptedModel([
    { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: 'toolu_1', name: 'send', input: { to: 'ana' } }], usage: { input_tokens: 10, output_tokens: 5 } },
    { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'sent' }], usage: { input_tokens: 10, output_tokens: 5 } },
  ]);
}

function sender(effects: string[]) {
  const tool = defineTool({
    name: 'send',
    description: 'Sends a message.',
    input: z.object({ to: z.string() }),
    risk: 'read',
    execute: async ({ to }) => {
      effects.push(to);
      return `sent to ${to}`;
    },
  });
  return defineAgent({ name: 'sender', instructions: 'x', tools: [tool] });
}

async function count(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ count: string }>(sql);
    return Number(result.rows[0]?.count);
  } finally {
    await client.end();
  }
}

function rejected(options: KeelOptions): string {
  try {
    createKeel(options);
  } catch (error) {
    expect(isKeelError(error, 'invalid-config')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('createKeel accepted the options');
}

describe('createKeel with PostgreSQL storage', () => {
  it('keeps the journal, audit log and recorded tool outcomes in the database given by storage', async () => {
    const effects: string[] = [];
    const keel = createKeel({ storage: { kind: 'postgres', url: server.url, schema: 'by_option', maxConnections: 3 }, model: scriptedToolThenAnswer(), env: {} });
    const result = await keel.run(sender(effects), 'send it').result;
    await keel.close();
    expect(result.status).toBe('completed');
    expect(effects).toEqual(['ana']);
    expect(await count(server.url, `SELECT count(*) FROM by_option.events WHERE session_id = '${result.sessionId}'`)).toBeGreaterThan(4);
    expect(await count(server.url, "SELECT count(*) FROM by_option.sessions WHERE status = 'completed'")).toBe(1);
    expect(await count(server.url, 'SELECT count(*) FROM by_option.audit_records')).toBe(1);
    expect(await count(server.url, 'SELECT count(*) FROM by_option.tool_outcomes')).toBe(1);
    expect(await count(server.url, 'SELECT count(*) FROM by_option.session_leases WHERE released')).toBe(1);
  });

  it('is chosen by KEEL_DATABASE_URL and KEEL_DATABASE_SCHEMA, and another process reads the same sessions', async () => {
    const env = { KEEL_DATABASE_URL: server.url, KEEL_DATABASE_SCHEMA: 'by_environment' };
    const effects: string[] = [];
    const writer = createKeel({ env, model: scriptedToolThenAnswer() });
    const result = await writer.run(sender(effects), 'send it').result;
    await writer.close();
    const reader = createKeel({ env });
    const events = await reader.events(result.sessionId);
    expect(await reader.audit.verify()).toMatchObject({ ok: true, records: 1 });
    await reader.close();
    expect(events[0]).toMatchObject({ type: 'session-start', agent: { name: 'sender' } });
    expect(events.at(-1)).toMatchObject({ type: 'session-end', status: 'completed' });
  });

  it('lets a SQLite database given as an argument win over KEEL_DATABASE_URL', async () => {
    const keel = createKeel({ database: ':memory:', env: { KEEL_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
    await keel.close();
  });

  it('rejects storage with a database or a journal, both environment variables, a bad URL or schema', () => {
    expect(rejected({ storage: { kind: 'postgres', url: server.url }, database: ':memory:' })).toMatch(/storage and database were both given/);
    expect(rejected({ env: { KEEL_DB: 'x.db', KEEL_DATABASE_URL: server.url } })).toMatch(/KEEL_DB and KEEL_DATABASE_URL are both set/);
    expect(rejected({ env: { KEEL_DATABASE_URL: 'mysql://host/db' } })).toMatch(/must start with postgres:\/\//);
    expect(rejected({ env: { KEEL_DATABASE_URL: 'not a url' } })).toMatch(/is not a URL/);
    expect(rejected({ storage: { kind: 'postgres', url: server.url, schema: 'Bad-Name; DROP' } })).toMatch(/schema name/);
  });

  it('reports a server that is not running as a retryable storage-failure naming the database, without its password', async () => {
    const keel = createKeel({ storage: { kind: 'postgres', url: 'postgres://keel:secret-password@127.0.0.1:1/keel' }, env: {} });
    const error = await keel.events('ses_missing').catch((reason: unknown) => reason);
    await keel.close();
    expect(isKeelError(error, 'storage-failure')).toBe(true);
    expect((error as Error).message).toMatch(/Cannot reach the PostgreSQL database keel on 127\.0\.0\.1:1/);
    expect((error as Error).message).not.toMatch(/secret-password/);
    expect((error as { retryable: boolean }).retryable).toBe(true);
  });
});
