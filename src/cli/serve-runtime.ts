import type { AgentDefinition } from '../loop/index.ts';
import type { Keel } from '../runtime/index.ts';
import type { KeelServer } from '../server/index.ts';
import { checkSchemaName, describeDatabaseUrl } from '../store/index.ts';
import type { CliContext, DatabaseChoice } from './cli-context.ts';

/** Where `keel serve` keeps sessions: the SQLite file, or PostgreSQL (with or without the workers' run queue). */
export type ServeStorage =
  | { readonly kind: 'sqlite'; readonly database: DatabaseChoice }
  | { readonly kind: 'postgres'; readonly url: string; readonly queue: boolean };

/** The runtime, server and run queue `keel serve` runs, and how to close them all. */
export interface ServedRuntime {
  readonly keel: Keel;
  readonly server: KeelServer;
  /** What is served, for the first line printed: the SQLite path or the PostgreSQL database without credentials. */
  readonly description: string;
  close(): Promise<void>;
}

/**
 * Builds the runtime and the server. On PostgreSQL the server's keys and session owners are in the same database
 * (and schema, KEEL_DATABASE_SCHEMA) as the journal; with the queue, sessions started over the API go to `keel worker`
 * processes on that database.
 */
export async function openServedRuntime(context: CliContext, storage: ServeStorage, settings: { readonly agents: readonly AgentDefinition[]; readonly model?: string }): Promise<ServedRuntime> {
  const [{ createKeel }, { createKeelServer }] = await Promise.all([import('../runtime/index.ts'), import('../server/index.ts')]);
  const common = { env: context.env, cwd: context.cwd, ...(settings.model === undefined ? {} : { model: settings.model }) };
  if (storage.kind === 'sqlite') {
    const keel = createKeel({ database: storage.database.path, ...common });
    const server = createKeelServer({ keel, agents: settings.agents, env: context.env, cwd: context.cwd });
    return { keel, server, description: storage.database.path, close: async () => closeAll(server, keel) };
  }
  const schemaText = context.env.KEEL_DATABASE_SCHEMA;
  const schema = schemaText === undefined || schemaText.trim() === '' ? undefined : checkSchemaName(schemaText);
  const target = { url: storage.url, ...(schema === undefined ? {} : { schema }) };
  const description = describeDatabaseUrl(storage.url, schema ?? 'public');
  const keel = createKeel({ storage: { kind: 'postgres', ...target }, ...common });
  if (!storage.queue) {
    const server = createKeelServer({ keel, agents: settings.agents, serverDatabase: target, env: context.env, cwd: context.cwd });
    return { keel, server, description, close: async () => closeAll(server, keel) };
  }
  const { createRunQueue } = await import('../worker/index.ts');
  const queue = createRunQueue(target);
  await queue.migrate();
  const server = createKeelServer({ keel, agents: settings.agents, serverDatabase: target, queue, env: context.env, cwd: context.cwd });
  return {
    keel,
    server,
    description: `${description}, sessions run by keel worker processes`,
    async close() {
      await closeAll(server, keel);
      await queue.close();
    },
  };
}

async function closeAll(server: KeelServer, keel: Keel): Promise<void> {
  await server.close();
  await keel.close();
}
