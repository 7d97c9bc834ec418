import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import type { KeelCode } from '../../src/errors/index.ts';
import type { SandboxLimits, SandboxRunner } from '../../src/sandbox/index.ts';

/** A TCP server on the host's loopback that counts connections: the network escape test's witness. */
export interface CountingServer {
  readonly port: number;
  connections(): number;
  close(): Promise<void>;
}

export async function startCountingServer(): Promise<CountingServer> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count += 1;
    socket.end('hello from the host\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    connections: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Host files for the file-system escape tests: a secret the job is not given, and a place it must not write. */
export interface HostFiles {
  readonly folder: string;
  readonly secretPath: string;
  readonly secret: string;
  /** A path outside any work folder; the write test checks it was not created. */
  readonly forbiddenWritePath: string;
  /** A folder the job is allowed to read. */
  readonly allowedFolder: string;
  readonly allowedContent: string;
  remove(): void;
}

export function createHostFiles(): HostFiles {
  const folder = mkdtempSync(join(tmpdir(), 'keel-sandbox-test-'));
  const secretPath = join(folder, 'secret.txt');
  const secret = `secret-${Math.random().toString(36).slice(2)}`;
  writeFileSync(secretPath, secret, { mode: 0o644 });
  const allowedFolder = mkdtempSync(join(tmpdir(), 'keel-sandbox-allowed-'));
  // Under a root host jobs run as nobody, so what they may read must be readable by others.
  chmodSync(allowedFolder, 0o755);
  const allowedContent = 'you may read this';
  writeFileSync(join(allowedFolder, 'allowed.txt'), allowedContent, { mode: 0o644 });
  return {
    folder,
    secretPath,
    secret,
    forbiddenWritePath: join(folder, 'written-by-the-job.txt'),
    allowedFolder,
    allowedContent,
    remove: () => {
      rmSync(folder, { recursive: true, force: true });
      rmSync(allowedFolder, { recursive: true, force: true });
    },
  };
}

/** What the host itself gets when it reads /etc/shadow: the runners that contain nothing get the same. */
export function hostReadOfShadow(): { readonly readable: true; readonly content: string } | { readonly readable: false } {
  try {
    return { readable: true, content: readFileSync('/etc/shadow', 'utf8') };
  } catch {
    return { readable: false };
  }
}

/** Resolves to the rejection, failing the test if the promise resolved instead. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error;
  }
}

/** Asserts a KeelError with this code whose message names `limitName`, and returns it. */
export async function expectKeelError(promise: Promise<unknown>, code: KeelCode, limitName?: string): Promise<Error> {
  const error = await rejectionOf(promise);
  if (!isKeelError(error)) throw new Error(`expected a KeelError ${code}, got ${String(error)}`);
  expect(error.code, error.message).toBe(code);
  if (limitName !== undefined) expect(error.message).toContain(limitName);
  return error;
}

/**
 * After a contained escape: the same runner still runs a trivial job, and the host's own heap did not absorb the
 * job's allocations.
 */
export async function expectHostHealthy(runner: SandboxRunner, heapBeforeBytes: number, limits: SandboxLimits = { timeoutMs: 20_000 }): Promise<void> {
  const result = await runner.run({ kind: 'javascript', code: 'return input * 2', input: 21 }, limits);
  expect(result.value).toBe(42);
  const growthMb = (process.memoryUsage().heapUsed - heapBeforeBytes) / 1024 / 1024;
  expect(growthMb).toBeLessThan(64);
}

/** Host processes whose command line contains `marker`: a job's leftovers, if any survived it. */
export function processesWithMarker(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) found.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `condition` holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(condition: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return condition();
}

/**
 * Escape attempts written as job code, shared by every JavaScript runner. They load modules with
 * `process.getBuiltinModule` (Node 20.16+), which works in every runner, where `import()` inside constructed code
 * does not under vitest's module runner (the in-process runner runs the code in vitest's own context).
 */
export const javascriptEscapes = {
  readFile: (path: string) => `return process.getBuiltinModule('node:fs').readFileSync(${JSON.stringify(path)}, 'utf8');`,
  writeFile: (path: string) => `process.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(path)}, 'escaped'); return 'written';`,
  connect: (port: number) => `
    const net = process.getBuiltinModule('node:net');
    return await new Promise((resolve, reject) => {
      const socket = net.connect(${port}, '127.0.0.1');
      socket.on('data', (data) => { socket.destroy(); resolve(String(data)); });
      socket.on('error', reject);
    });`,
  spawn: `return process.getBuiltinModule('node:child_process').execFileSync('/bin/echo', ['spawned']).toString();`,
  infiniteLoop: 'for (;;) {}',
  heapBomb: `const hoard = []; for (;;) hoard.push({ text: 'x'.repeat(64) + Math.random() });`,
  bufferBomb: `const hoard = []; for (;;) hoard.push(Buffer.alloc(8 * 1024 * 1024, 1));`,
};
