import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { KeelError } from '../errors/index.ts';
import type { AgentDefinition } from '../loop/index.ts';
import { chooseDatabase, choosePostgres, hint } from './cli-context.ts';
import type { Action, CliContext } from './cli-context.ts';
import type { KeyStoreLocation } from './serve-keys.ts';
import type { ServeStorage } from './serve-runtime.ts';

interface ServeOptions {
  readonly port: string;
  readonly host: string;
  readonly agents: string;
  readonly model?: string;
  readonly queue?: boolean;
  readonly databaseUrl?: string;
}

const agentModulePattern = /\.(?:m?js|m?ts|cjs|cts)$/;
const notAgentModule = /\.(?:d\.[mc]?ts|test\.[mc]?[jt]s|spec\.[mc]?[jt]s)$/;

/** `keel serve` (the HTTP API, metrics and console) and `keel keys` (API keys in the database). */
export function registerServeCommands(program: Command, context: CliContext, action: Action): void {
  program
    .command('serve')
    .description('Serve the HTTP API, /metrics and the web console on the embedded store; prints the URL and, once, a first admin key')
    .option('--port <port>', 'TCP port (0 picks a free one)', '8787')
    .option('--host <host>', 'address to listen on; keep 127.0.0.1 unless a proxy in front does TLS', '127.0.0.1')
    .option('--agents <folder>', 'folder of agent modules (each default-exports defineAgent(...))', './agents')
    .option('--model <spec>', 'model for agents that name none (else KEEL_MODEL, else from the API keys present)')
    .option('--database-url <url>', 'keep sessions, keys and tenants in PostgreSQL (default KEEL_DATABASE_URL unless --db names a SQLite file)')
    .option('--queue', 'hand sessions started over the API to `keel worker` processes on the PostgreSQL database instead of running them here')
    .action(action(async (options: ServeOptions, command: Command) => serve(context, serveStorage(context, command, options), options)));

  const keys = program.command('keys').description('API keys of `keel serve`: create, list, revoke (only hashes are stored)');
  keys
    .command('create')
    .description('Create a key; it is printed once')
    .requiredOption('--tenant <tenant>', 'the tenant whose sessions the key sees')
    .requiredOption('--role <role...>', 'roles: read, run, approve, admin')
    .option('--name <name>', 'who or what uses the key', 'cli')
    .option('--database-url <url>', 'the keys of a server on PostgreSQL (default KEEL_DATABASE_URL unless --db names a SQLite file)')
    .action(action(async (options: { tenant: string; role: string[]; name: string; databaseUrl?: string }, command: Command) => {
      const { withKeyStore } = await import('./serve-keys.ts');
      return withKeyStore(keyStoreLocation(context, command, options.databaseUrl), async (store) => {
        const { validRoles } = await import('./serve-keys.ts');
        const created = await store.create({ name: options.name, tenant: options.tenant, roles: validRoles(options.role), createdBy: 'cli' });
        context.out(created.key);
        context.err(`keel: key ${created.view.id} for tenant ${created.view.tenant} (${created.view.roles.join(', ')}); it is shown only now.`);
        return 0;
      });
    }));
  keys
    .command('list')
    .description('List keys (never the keys themselves)')
    .option('--database-url <url>', 'the keys of a server on PostgreSQL (default KEEL_DATABASE_URL unless --db names a SQLite file)')
    .action(action(async (options: { databaseUrl?: string }, command: Command) => {
      const { withKeyStore } = await import('./serve-keys.ts');
      return withKeyStore(keyStoreLocation(context, command, options.databaseUrl), async (store) => {
        for (const key of await store.list()) context.out(`${key.id}  ${key.tenant}  ${key.roles.join(',')}  ${key.name}${key.revokedAt === null ? '' : '  revoked'}`);
        return 0;
      });
    }));
  keys
    .command('revoke')
    .description('Revoke a key: refused from its next request on')
    .argument('<key-id>', 'the id (key_…) from keel keys list')
    .option('--database-url <url>', 'the keys of a server on PostgreSQL (default KEEL_DATABASE_URL unless --db names a SQLite file)')
    .action(action(async (keyId: string, options: { databaseUrl?: string }, command: Command) => {
      const { withKeyStore } = await import('./serve-keys.ts');
      return withKeyStore(keyStoreLocation(context, command, options.databaseUrl), async (store) => {
        const revoked = await store.revoke(keyId);
        if (revoked === null) throw new KeelError('invalid-argument', `No key ${keyId}; list them with \`keel keys list\`.`);
        context.out(`Revoked ${keyId}.`);
        return 0;
      });
    }));
}

/** PostgreSQL when a URL is given (or KEEL_DATABASE_URL is set and --db is not), else the SQLite file; --queue needs PostgreSQL. */
function serveStorage(context: CliContext, command: Command, options: ServeOptions): ServeStorage {
  const url = options.databaseUrl ?? choosePostgres(context, command);
  if (url !== undefined && url.trim() !== '') return { kind: 'postgres', url, queue: options.queue === true };
  if (options.queue === true) throw new KeelError('invalid-argument', '--queue hands sessions to `keel worker` processes through PostgreSQL: set KEEL_DATABASE_URL (postgres://user:password@host:5432/database) or pass --database-url.');
  return { kind: 'sqlite', database: chooseDatabase(context, command) };
}

function keyStoreLocation(context: CliContext, command: Command, databaseUrl: string | undefined): KeyStoreLocation {
  const url = databaseUrl ?? choosePostgres(context, command);
  return url !== undefined && url.trim() !== '' ? { kind: 'postgres', url, schema: context.env.KEEL_DATABASE_SCHEMA } : { kind: 'sqlite', database: chooseDatabase(context, command) };
}

async function serve(context: CliContext, storage: ServeStorage, options: ServeOptions): Promise<number> {
  const port = Number(options.port);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) throw new KeelError('invalid-argument', `--port must be a port number from 0 to 65535, got "${options.port}".`);
  const agents = await loadAgentsFolder(resolve(context.cwd, options.agents), context.cwd);
  const [{ openServedRuntime }, { watchInterrupt }] = await Promise.all([import('./serve-runtime.ts'), import('./interrupt.ts')]);
  const served = await openServedRuntime(context, storage, { agents, ...(options.model === undefined ? {} : { model: options.model }) });
  const { server } = served;
  const interrupt = watchInterrupt(context.err);
  try {
    const adminKey = await server.ensureAdminKey();
    const { url } = await server.listen({ port, host: options.host });
    context.out(`Keel is serving ${served.description} on ${url}`);
    context.out(`  console  ${url}/`);
    context.out(`  API      ${url}/v1 (OpenAPI document at ${url}/v1/openapi.json)`);
    context.out(`  metrics  ${url}/metrics`);
    context.out(`  agents   ${agents.length === 0 ? `none (put agent modules in ${options.agents})` : agents.map((agent) => agent.name).join(', ')}`);
    if (adminKey !== null) context.out(`First admin key (shown only now; only its hash is stored):\n  ${adminKey}`);
    else context.out(`Admin keys exist already; create another with \`${storage.kind === 'sqlite' ? hint(context, storage.database, ['keys', 'create', '--tenant', 'default', '--role', 'admin', '--name', '<who>']) : `${context.prefix} keys create --database-url <url> --tenant default --role admin --name <who>`}\`.`);
    await new Promise<void>((done) => interrupt.signal.addEventListener('abort', () => done(), { once: true }));
    context.err('keel: stopping: cancelling the sessions running here…');
    return interrupt.exitCode() ?? 0;
  } finally {
    interrupt.dispose();
    await served.close();
  }
}

/** Every agent module directly in `folder`; a folder that does not exist is an error naming it. */
export async function loadAgentsFolder(folder: string, cwd: string): Promise<AgentDefinition[]> {
  let names: string[];
  try {
    if (!statSync(folder).isDirectory()) throw new KeelError('invalid-argument', `--agents must name a folder of agent modules; ${folder} is a file.`);
    names = readdirSync(folder).sort();
  } catch (error) {
    if (error instanceof KeelError) throw error;
    throw new KeelError('invalid-argument', `The agents folder ${folder} does not exist; create it with agent modules, or name another with --agents.`, { cause: error });
  }
  const { loadAgentModule } = await import('./load-agent.ts');
  const agents: AgentDefinition[] = [];
  for (const name of names) {
    if (!agentModulePattern.test(name) || notAgentModule.test(name)) continue;
    const path = join(folder, name);
    if (!statSync(path).isFile()) continue;
    agents.push((await loadAgentModule(path, cwd)).agent);
  }
  return agents;
}
