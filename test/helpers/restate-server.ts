import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, openSync, writeFileSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';

/**
 * A real restate-server on 127.0.0.1 with random free ports and its data in a directory of the test's, started from
 * the npm package's binary (not its node wrapper, so that a SIGKILL reaches the server itself). Stopped by its PID.
 */
export interface RestateServerProcess {
  readonly ingressUrl: string;
  readonly adminUrl: string;
  pid(): number;
  /** SIGKILL, as a crash: nothing is flushed or closed. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
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

function serverBinary(): string {
  const require = createRequire(import.meta.url);
  const platformPackage = `@restatedev/restate-server-${process.platform}-${process.arch}`;
  try {
    const binary = join(dirname(require.resolve(`${platformPackage}/package.json`)), 'bin', 'restate-server');
    if (existsSync(binary)) return binary;
  } catch {
    // No prebuilt binary for this platform in node_modules.
  }
  throw new Error(`${platformPackage} is not installed: the Restate tests need the restate-server binary of @restatedev/restate-server.`);
}

export async function startRestateServer(directory: string): Promise<RestateServerProcess> {
  const [nodePort, adminPort, ingressPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(directory, 'restate.toml');
  writeFileSync(
    config,
    [
      'bind-ip = "127.0.0.1"',
      `bind-port = ${nodePort}`,
      'listen-mode = "tcp"',
      'disable-telemetry = true',
      `base-dir = "${join(directory, 'restate-data')}"`,
      'rocksdb-total-memory-size = "256 MiB"',
      '[admin]',
      `bind-port = ${adminPort}`,
      'disable-web-ui = true',
      '[ingress]',
      `bind-port = ${ingressPort}`,
      '',
    ].join('\n'),
  );
  const binary = serverBinary();
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const ingressUrl = `http://127.0.0.1:${ingressPort}`;
  let child: ChildProcess;
  let exited: Promise<void>;
  const launch = async (): Promise<void> => {
    const log = openSync(join(directory, 'restate-server.log'), 'a');
    child = spawn(binary, ['--config-file', config], { stdio: ['ignore', log, log], env: { ...process.env, SCARF_ANALYTICS: 'false', DO_NOT_TRACK: '1' } });
    closeSync(log);
    exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`restate-server exited with ${child.exitCode}; see ${join(directory, 'restate-server.log')}`);
      if ((await healthy(`${adminUrl}/health`)) && (await healthy(`${ingressUrl}/restate/health`))) return;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`restate-server was not healthy within 20 s; see ${join(directory, 'restate-server.log')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await launch();
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(name);
    await exited;
  };
  return {
    ingressUrl,
    adminUrl,
    pid: () => child.pid ?? -1,
    kill: () => signal('SIGKILL'),
    restart: launch,
    stop: () => signal('SIGTERM'),
  };
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}
