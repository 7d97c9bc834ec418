import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { createHashingEmbedder } from '../../src/memory/hashing-embedder.ts';
import { memorySchemaVersion, migrateMemoryTables } from '../../src/memory/postgres-memory-database.ts';
import { createPostgresMemoryStore, openPostgresMemoryStore, postgresMemoryMigrations } from '../../src/memory/postgres-memory-store.ts';
import { createReflector } from '../../src/memory/reflection.ts';
import { createKeelMemoryStore } from '../../src/runtime/memory-backends.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { defineAgent } from '../../src/loop/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { z } from 'zod';
import { createPostgresStore, openPostgresDatabase } from '../../src/store/postgres/index.ts';
import type { PostgresDatabase } from '../../src/store/postgres/index.ts';
import { describeMemoryStoreContract, expectKeelError } from '../../src/testing/contracts/index.ts';
import { startPostgresServer, type PostgresServerProcess } from '../helpers/postgres-server.ts';

// One cluster for the file (Debian's PostgreSQL, without pgvector); each store gets a schema of its own.
let server: PostgresServerProcess;
let schemas = 0;
const databases: PostgresDatabase[] = [];
// The writer process of the cross-process test loads Keel while the cluster starts, then waits for its task.
let writerProcess: ChildProcess | undefined;
let writerOutput: Promise<string> | undefined;
beforeAll(async () => {
  const script = fileURLToPath(new URL('./fixtures/memory-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  writerProcess = child;
  writerOutput = new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`the writer process exited with ${code}: ${output}`))));
  });
  // Handled where the test awaits it; a file run without that test ends the process in afterAll.
  writerOutput.catch(() => undefined);
  server = await startPostgresServer();
}, 60_000);
afterAll(async () => {
  if (writerProcess !== undefined && writerProcess.exitCode === null && writerProcess.signalCode === null) {
    const exited = new Promise((resolve) => writerProcess?.once('exit', resolve));
    writerProcess.kill('SIGTERM');
    await exited;
  }
  for (const database of databases) await database.close();
  await server.stop();
});
function database(schema: string): PostgresDatabase {
  const opened = openPostgresDatabase({ url: server.url, schema, maxConnections: 3 });
  databases.push(opened);
  return opened;
}
function freshSchema(): string {
  schemas += 1;
  return `memory_${schemas}`;
}
const schemaOf = new WeakMap<object, string>();
const alarms = ['amber', 'basalt', 'cobalt', 'dahlia', 'ember', 'fjord', 'garnet', 'harbor', 'indigo', 'juniper', 'kestrel', 'lantern', 'meadow', 'nimbus', 'obsidian', 'pepper', 'quartz', 'raven', 'saffron', 'tundra'];
const embedder = () => createHashingEmbedder({ dimensions: 64 });

describeMemoryStoreContract(
  'PostgreSQL (real server, exact scan in SQL)',
  ({ clock, embedder: given }) => {
    const schema = freshSchema();
    const store = createPostgresMemoryStore({ database: database(schema), embedder: given, clock });
    schemaOf.set(store, schema);
    return store;
  },
  // Another pool on the same schema: what a second process sees.
  { reopen: (store, { clock, embedder: given }) => createPostgresMemoryStore({ database: database(schemaOf.get(store) as string), embedder: given, clock }) },
);

describe('PostgreSQL memory store', () => {
  it('scans exactly in SQL on a server without pgvector, and refuses to be forced onto it', async () => {
    const store = await openPostgresMemoryStore({ database: database(freshSchema()), embedder: embedder() });
    expect(await store.ready()).toBe('exact');
    await store.close();
    const forced = createPostgresMemoryStore({ database: database(freshSchema()), embedder: embedder(), vectors: 'pgvector' });
    await expectKeelError(forced.ready(), 'invalid-config');
    await forced.close();
  });

  it('refuses an embedder other than the one its vectors came from', async () => {
    const schema = freshSchema();
    const first = await openPostgresMemoryStore({ database: database(schema), embedder: embedder() });
    await first.remember({ scope: { agent: 'a' }, text: 'kept with the 64-dimensional hashing embedder' });
    await first.close();
    const error = await openPostgresMemoryStore({ database: database(schema), embedder: createHashingEmbedder({ dimensions: 32 }) }).catch((reason: unknown) => reason);
    expect(isKeelError(error, 'invalid-config')).toBe(true);
    expect((error as Error).message).toContain('"hashing:v1@64"');
  });

  it('migrates from every earlier version beside the session tables, and refuses a newer schema', async () => {
    const latest = postgresMemoryMigrations.at(-1)?.version as number;
    for (let from = 0; from < latest; from += 1) {
      const target = database(freshSchema());
      const sessions = createPostgresStore({ database: target });
      await sessions.journal.lastSeq('ses_first');
      await migrateMemoryTables(target, postgresMemoryMigrations, from);
      expect(await memorySchemaVersion(target)).toBe(from);
      expect(await migrateMemoryTables(target, postgresMemoryMigrations)).toEqual(postgresMemoryMigrations.slice(from).map((migration) => migration.version));
      expect(await memorySchemaVersion(target)).toBe(latest);
      const store = await openPostgresMemoryStore({ database: target, embedder: embedder() });
      await store.remember({ scope: { agent: 'a' }, text: 'after the migration' });
      expect(await store.list({ agent: 'a' })).toHaveLength(1);
      await store.close();
      await sessions.close();
    }
    const newer = database(freshSchema());
    await migrateMemoryTables(newer, postgresMemoryMigrations);
    await newer.query(`INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ('memory', $1, 'from the future', 0)`, [latest + 1]);
    const refused = createPostgresMemoryStore({ database: newer, embedder: embedder() });
    await expectKeelError(refused.list({ agent: 'a' }), 'storage-failure');
    await refused.close();
  });

  it('reports a server it cannot reach as a retryable storage-failure, and works once it can', async () => {
    const unreachable = openPostgresDatabase({ url: 'postgres://postgres@127.0.0.1:1/postgres', schema: 'nowhere', connectionTimeoutMs: 2_000 });
    databases.push(unreachable);
    const store = createPostgresMemoryStore({ database: unreachable, embedder: embedder() });
    const error = await store.remember({ scope: { agent: 'a' }, text: 'lost' }).catch((reason: unknown) => reason);
    expect(isKeelError(error, 'storage-failure')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
    await store.close();
    await expectKeelError(store.list({ agent: 'a' }), 'storage-failure');
  });

  it('shares memories between processes that open Keel on the same database, and reflection sees them all', async () => {
    const schema = freshSchema();
    const runWriter = (writer: string): Promise<string> => {
      writerProcess?.stdin?.end(`${JSON.stringify({ url: server.url, schema, writer, count: 20 })}\n`);
      return writerOutput as Promise<string>;
    };
    // One writer in a child process, the other in this one, at the same time, both through createKeel.
    const keel = createKeel({ storage: { kind: 'postgres', url: server.url, schema, maxConnections: 3 }, env: {}, metrics: false });
    const [output] = await Promise.all([
      runWriter('alpha'),
      (async () => {
        const own = keel.memoryStore({ embedder: embedder() });
        for (let index = 0; index < 20; index += 1) {
          await own.remember({ scope: { agent: 'shared', sessionId: `beta-${index % 2}` }, text: `beta observed the ${alarms[index]} alarm on the orion cluster`, importance: 1 + (index % 10) });
        }
      })(),
    ]);
    await keel.close();
    expect(JSON.parse(output.trim().split('\n').at(-1) as string).seen).toBeGreaterThanOrEqual(20);

    // This process finds them through the environment, as an agent module loaded by `keel worker` would.
    const memory = createKeelMemoryStore({ embedder: embedder(), env: { KEEL_DATABASE_URL: server.url, KEEL_DATABASE_SCHEMA: schema } });
    try {
      const all = await memory.list({ agent: 'shared' });
      expect(all).toHaveLength(40);
      expect(new Set(all.map((record) => record.sequence)).size).toBe(40);
      expect(all.filter((record) => record.text.startsWith('alpha'))).toHaveLength(20);
      const relevance = { recency: 0, importance: 0, relevance: 1 };
      const [fromAlpha] = await memory.recall({ scope: { agent: 'shared', sessionId: 'alpha-1' }, query: 'alpha harbor alarm', k: 1, weights: relevance });
      expect(fromAlpha?.record.text).toBe('alpha observed the harbor alarm on the orion cluster');
      const [fromBeta] = await memory.recall({ scope: { agent: 'shared' }, query: 'beta meadow alarm', k: 1, weights: relevance });
      expect(fromBeta?.record.text).toBe('beta observed the meadow alarm on the orion cluster');
      const reflector = createReflector({ store: memory, threshold: 100, reflect: async (memories) => [{ text: 'Both writers watched the orion cluster.', sourceIds: [memories[0]?.id as string, memories.at(-1)?.id as string] }] });
      expect(await reflector.accumulated({ agent: 'shared' })).toBe(all.reduce((sum, record) => sum + record.importance, 0));
      expect((await reflector.maybeReflect({ agent: 'shared' })).reflected).toBe(true);
      expect(await memory.reflectedThrough({ agent: 'shared' })).toBe(all.at(-1)?.sequence);
    } finally {
      await memory.close();
    }
  }, 60_000);

  it('records a session’s tool results through keel.memoryStore, and a Keel on another pool recalls them', async () => {
    const storage = { kind: 'postgres' as const, url: server.url, schema: freshSchema(), maxConnections: 3 };
    const model = createScriptedModel([
      { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: 'toolu_1', name: 'inspect', input: { host: 'db-7' } }], usage: { input_tokens: 10, output_tokens: 5 } },
      { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'db-7 is out of disk' }], usage: { input_tokens: 10, output_tokens: 5 } },
    ]);
    const inspect = defineTool({ name: 'inspect', description: 'Inspects a host.', input: z.object({ host: z.string() }), risk: 'read', execute: ({ host }) => `${host}: disk quota exceeded on /var/lib/postgresql` });
    const writer = createKeel({ storage, model, env: {}, metrics: false });
    const agent = defineAgent({ name: 'ops', instructions: 'Investigate.', tools: [inspect], memory: { store: writer.memoryStore({ embedder: embedder() }), recordToolResults: { importance: 7 } } });
    const result = await writer.run(agent, 'Why is db-7 failing?').result;
    expect(result.status).toBe('completed');
    const writes = (await writer.events(result.sessionId)).filter((event) => event.type === 'memory-write');
    expect(writes).toHaveLength(1);
    await writer.close();

    const reader = createKeel({ storage, env: {}, metrics: false });
    const memory = reader.memoryStore({ embedder: embedder() });
    const [found] = await memory.recall({ scope: { agent: 'ops' }, query: 'disk quota /var', k: 1 });
    expect(found?.record).toMatchObject({ kind: 'tool-result', importance: 7, scope: { agent: 'ops', sessionId: result.sessionId } });
    expect(found?.record.text).toContain('db-7: disk quota exceeded on /var/lib/postgresql');
    await reader.close();
  });
});
