import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { KeelError } from '../errors/index.ts';
import type { AgentDefinition } from '../loop/index.ts';
import { chooseDatabase, hint } from './cli-context.ts';
import type { Action, CliContext, DatabaseChoice } from './cli-context.ts';

interface ServeOptions {
  readonly port: string;
  readonly host: string;
  readonly agents: string;
  readonly model?: string;
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
    .action(action(async (options: ServeOptions, command: Command) => serve(context, chooseDatabase(context, command), options)));

  const keys = program.command('keys').description('API keys of `keel serve`: create, list, revoke (only hashes are stored)');
  keys
    .command('create')
    .description('Create a key; it is printed once')
    .requiredOption('--tenant <tenant>', 'the tenant whose sessions the key sees')
    .requiredOption('--role <role...>', 'roles: read, run, approve, admin')
    .option('--name <name>', 'who or what uses the key', 'cli')
    .action(action(async (options: { tenant: string; role: string[]; name: string }, command: Command) => {
      const { withKeyStore } = await import('./serve-keys.ts');
      return withKeyStore(chooseDatabase(context, command), async (store) => {
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
    .action(action(async (_options: unknown, command: Command) => {
      const { withKeyStore } = await import('./serve-keys.ts');
      return withKeyStore(chooseDatabase(context, command), async (store) => {
        for (const key of await store.list()) context.out(`${key.id}  ${key.tenant}  ${key.roles.join(',')}  ${key.name}${key.revokedAt === null ? '' : '  revoked'}`);
        return 0;
      });
    }));
  keys
    .command('revoke')
    .description('Revoke a key: refused from its next request on')
    .argument('<key-id>', 'the id (key_…) from keel keys list')
    .action(action(async (keyId: string, _options: unknown, command: Command) => {
      const { withKeyStore } = await import('./serve-keys.ts');
      return withKeyStore(chooseDatabase(context, command), async (store) => {
        const revoked = await store.revoke(keyId);
        if (revoked === null) throw new KeelError('invalid-argument', `No key ${keyId}; list them with \`keel keys list\`.`);
        context.out(`Revoked ${keyId}.`);
        return 0;
      });
    }));
}

async function serve(context: CliContext, database: DatabaseChoice, options: ServeOptions): Promise<number> {
  const port = Number(options.port);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) throw new KeelError('invalid-argument', `--port must be a port number from 0 to 65535, got "${options.port}".`);
  const agents = await loadAgentsFolder(resolve(context.cwd, options.agents), context.cwd);
  const [{ createKeel }, { createKeelServer }, { watchInterrupt }] = await Promise.all([import('../runtime/index.ts'), import('../server/index.ts'), import('./interrupt.ts')]);
  const keel = createKeel({ database: database.path, env: context.env, cwd: context.cwd, ...(options.model === undefined ? {} : { model: options.model }) });
  const server = createKeelServer({ keel, agents, env: context.env, cwd: context.cwd });
  const interrupt = watchInterrupt(context.err);
  try {
    const adminKey = await server.ensureAdminKey();
    const { url } = await server.listen({ port, host: options.host });
    context.out(`Keel is serving ${database.path} on ${url}`);
    context.out(`  console  ${url}/`);
    context.out(`  API      ${url}/v1 (OpenAPI document at ${url}/v1/openapi.json)`);
    context.out(`  metrics  ${url}/metrics`);
    context.out(`  agents   ${agents.length === 0 ? `none (put agent modules in ${options.agents})` : agents.map((agent) => agent.name).join(', ')}`);
    if (adminKey !== null) context.out(`First admin key (shown only now; only its hash is stored):\n  ${adminKey}`);
    else context.out(`Admin keys exist already; create another with \`${hint(context, database, ['keys', 'create', '--tenant', 'default', '--role', 'admin', '--name', '<who>'])}\`.`);
    await new Promise<void>((done) => interrupt.signal.addEventListener('abort', () => done(), { once: true }));
    context.err('keel: stopping: cancelling the sessions running here…');
    return interrupt.exitCode() ?? 0;
  } finally {
    interrupt.dispose();
    await server.close();
    await keel.close();
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
