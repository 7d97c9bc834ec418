import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** A throwaway PostgreSQL cluster on 127.0.0.1, made by {@link startPostgresServer}. */
export interface PostgresServerProcess {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`: the superuser on the default database, no password. */
  readonly url: string;
  readonly port: number;
  /** The postmaster's process id. */
  readonly pid: number;
  /** The temporary folder holding the data directory and the socket; removed by `stop`. */
  readonly directory: string;
  /** Creates a new empty database in this cluster and returns its URL (names are generated: `keel_test_<n>`). */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown, by PID) and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface PostgresServerOptions {
  /**
   * Folder of `initdb` and `postgres`. Default: `KEEL_POSTGRES_BIN`, else the newest `/usr/lib/postgresql/<n>/bin`
   * (Debian's layout), else the programs on `PATH`.
   */
  readonly binDirectory?: string;
  /** Extra `-c name=value` server settings, for example `{ max_connections: '200' }`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** How long to wait for the server to accept connections. Default 30 s. */
  readonly startTimeoutMs?: number;
}

const postgresUser = 'postgres';

/**
 * Starts a new PostgreSQL cluster in a temporary folder, on 127.0.0.1 with a free port and trust authentication,
 * for tests. Durability is off (`fsync`, `synchronous_commit`, `full_page_writes`): the cluster is thrown away.
 * When the process runs as root, `initdb` and the server run as the `postgres` user, which PostgreSQL requires.
 * Call `stop()` in `afterAll`.
 */
export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServerProcess> {
  const binDirectory = options.binDirectory ?? process.env['KEEL_POSTGRES_BIN'] ?? findDebianBinDirectory();
  const program = (name: string): string => (binDirectory === undefined ? name : join(binDirectory, name));
  const identity = runAsIdentity();
  const directory = await mkdtemp(join(tmpdir(), 'keel-pg-'));
  try {
    if (identity !== undefined) await chown(directory, identity.uid, identity.gid);
    const dataDirectory = join(directory, 'data');
    await runToEnd(program('initdb'), ['-D', dataDirectory, '-U', postgresUser, '--auth=trust', '-E', 'UTF8', '--no-sync'], identity);
    const started = await startWithFreePort({ program: program('postgres'), directory, dataDirectory, identity, options });
    return handle(started, directory);
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

interface StartedServer {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly exited: Promise<void>;
}

function handle(started: StartedServer, directory: string): PostgresServerProcess {
  const url = `postgres://${postgresUser}@127.0.0.1:${started.port}/postgres`;
  let databases = 0;
  let stopped: Promise<void> | undefined;
  return {
    url,
    port: started.port,
    pid: started.pid,
    directory,
    async createDatabase() {
      databases += 1;
      const name = `keel_test_${databases}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://${postgresUser}@127.0.0.1:${started.port}/${name}`;
    },
    stop() {
      stopped ??= stopServer(started, directory);
      return stopped;
    },
  };
}

async function stopServer(started: StartedServer, directory: string): Promise<void> {
  try {
    process.kill(started.pid, 'SIGINT');
    await started.exited;
  } catch {
    // Already gone: nothing to wait for.
  }
  await rm(directory, { recursive: true, force: true });
}

interface StartContext {
  readonly program: string;
  readonly directory: string;
  readonly dataDirectory: string;
  readonly identity: Identity | undefined;
  readonly options: PostgresServerOptions;
}

/** Another process may take the free port between the probe and the bind: try a few ports before giving up. */
async function startWithFreePort(context: StartContext): Promise<StartedServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    try {
      return await startOnPort(context, port);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOnPort(context: StartContext, port: number): Promise<StartedServer> {
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    ...context.options.settings,
  };
  const args = ['-D', context.dataDirectory, '-p', String(port), '-k', context.directory, '-c', `logging_collector=off`];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  const child = spawnAs(context.program, args, context.identity, ['ignore', 'ignore', 'pipe']);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    if (log.length < 200) log.push(chunk.toString('utf8'));
  });
  if (child.pid === undefined) throw new Error(`${context.program} did not start: ${await waitForSpawnError(child)}`);
  const pid = child.pid;
  let exitedEarly = false;
  void exited.then(() => {
    exitedEarly = true;
  });
  const url = `postgres://${postgresUser}@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + (context.options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exitedEarly) throw new Error(`PostgreSQL exited while starting on port ${port}: ${log.join('').trim().slice(-2000)}`);
    if (await accepts(url)) return { child, pid, port, exited };
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      await exited;
      throw new Error(`PostgreSQL did not accept connections within the start timeout: ${log.join('').trim().slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface Identity {
  readonly uid: number;
  readonly gid: number;
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user from /etc/passwd. */
function runAsIdentity(): Identity | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${postgresUser}:`));
  if (line === undefined) throw new Error(`Running as root, PostgreSQL needs a "${postgresUser}" user to run as; none exists in /etc/passwd.`);
  const fields = line.split(':');
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

function findDebianBinDirectory(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'postgres')))
    .sort((left, right) => Number(right) - Number(left));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

function spawnAs(program: string, args: readonly string[], identity: Identity | undefined, stdio: SpawnOptions['stdio']): ChildProcess {
  const options: SpawnOptions = { stdio, cwd: tmpdir(), env: { ...process.env, LC_ALL: 'C' } };
  if (identity !== undefined) {
    options.uid = identity.uid;
    options.gid = identity.gid;
  }
  return spawn(program, args, options);
}

async function waitForSpawnError(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve(error.message));
    setTimeout(() => resolve('no process id'), 1000);
  });
}

async function runToEnd(program: string, args: readonly string[], identity: Identity | undefined): Promise<void> {
  const child = spawnAs(program, args, identity, ['ignore', 'pipe', 'pipe']);
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`${program} could not start (${error.message}); install PostgreSQL or set KEEL_POSTGRES_BIN.`)));
    child.once('exit', (exitCode) => resolve(exitCode));
  });
  if (code !== 0) throw new Error(`${program} failed with exit code ${String(code)}: ${output.join('').trim().slice(-2000)}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
