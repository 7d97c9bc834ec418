import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBubblewrapRunner } from '../../src/sandbox/index.ts';
import {
  createHostFiles,
  eventually,
  expectHostHealthy,
  expectKeelError,
  hostReadOfShadow,
  javascriptEscapes,
  processesWithMarker,
  startCountingServer,
} from './sandbox-test-kit.ts';
import type { CountingServer, HostFiles } from './sandbox-test-kit.ts';

const runner = createBubblewrapRunner();
const available = await runner.available();
const title = available
  ? 'bubblewrap runner'
  : 'bubblewrap runner (SKIPPED: bwrap is not installed or cannot create user namespaces here; apt-get install bubblewrap)';
const limits = { timeoutMs: 20_000 };
let files: HostFiles;
let server: CountingServer;

beforeAll(async () => {
  files = createHostFiles();
  server = await startCountingServer();
});
afterAll(async () => {
  files.remove();
  await server.close();
});

const command = (argv: string[], extra: { stdin?: string; files?: Record<string, string> } = {}) => ({ kind: 'command' as const, argv, ...extra });
const shell = (script: string) => command(['sh', '-c', script]);

describe.skipIf(!available)(`${title}: commands`, () => {
  it('runs a command as an unprivileged user with its files, stdin, a cleared environment and a hostname of its own', async () => {
    process.env.KEEL_TEST_HOST_SECRET = 'must not leak';
    try {
      const result = await runner.run(
        command(['sh', '-c', 'id -u; hostname; cat greeting.txt; cat; env | sort'], { stdin: 'from stdin\n', files: { 'greeting.txt': 'from a file\n' } }),
        limits,
      );
      expect(result.exitCode).toBe(0);
      const lines = result.stdout.split('\n');
      expect(lines.slice(0, 4)).toEqual(['65534', 'sandbox', 'from a file', 'from stdin']);
      expect(result.stdout).not.toContain('KEEL_TEST_HOST_SECRET');
      expect(result.stdout).toContain('HOME=/work');
    } finally {
      delete process.env.KEEL_TEST_HOST_SECRET;
    }
  });

  it('has no /etc/shadow: the minimal /etc does not hold it', async () => {
    const host = hostReadOfShadow();
    const result = await runner.run(command(['cat', '/etc/shadow']), limits);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain('No such file or directory');
    if (host.readable && host.content.length > 0) expect(result.stdout).not.toContain(host.content.slice(0, 20));
  });

  it('reads readPaths, and no other host file', async () => {
    const allowed = await runner.run(command(['cat', join(files.allowedFolder, 'allowed.txt')]), { ...limits, readPaths: [files.allowedFolder] });
    expect(allowed.stdout).toBe(files.allowedContent);
    const secret = await runner.run(command(['cat', files.secretPath]), { ...limits, readPaths: [files.allowedFolder] });
    expect(secret.exitCode).not.toBe(0);
    expect(secret.stdout).not.toContain(files.secret);
  });

  it('writes its work folder, and nothing outside it', async () => {
    const workFolder = mkdtempSync(join(tmpdir(), 'keel-bwrap-work-'));
    try {
      const result = await runner.run(shell(`echo kept > /work/out.txt; echo escaped > ${files.forbiddenWritePath}; touch /usr/escaped; touch /etc/escaped`), { ...limits, writePath: workFolder });
      expect(readFileSync(join(workFolder, 'out.txt'), 'utf8')).toBe('kept\n');
      expect(existsSync(files.forbiddenWritePath)).toBe(false);
      expect(existsSync('/usr/escaped')).toBe(false);
      expect(existsSync('/etc/escaped')).toBe(false);
      expect(result.stderr).toContain('Read-only file system');
    } finally {
      rmSync(workFolder, { recursive: true, force: true });
    }
  });

  it('has no network: the host loopback server sees no connection', async () => {
    const before = server.connections();
    const result = await runner.run(command(['bash', '-c', `echo hello > /dev/tcp/127.0.0.1/${server.port}`]), limits);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/Connection refused|Network is unreachable/);
    expect(server.connections()).toBe(before);
  });

  it('sees none of the host processes, and what it spawns dies with it', async () => {
    const marker = `31.${Date.now() % 100_000}`;
    const result = await runner.run(shell(`sleep ${marker} & ls /proc | grep -c '^[0-9]'`), limits);
    expect(Number(result.stdout.trim())).toBeLessThan(10);
    expect(await eventually(() => processesWithMarker(marker).length === 0, 5_000)).toBe(true);
  });

  it('ends an infinite loop at the wall clock (tool-timeout) and at the CPU limit (sandbox-limit)', async () => {
    const heap = process.memoryUsage().heapUsed;
    await expectKeelError(runner.run(shell('while :; do :; done'), { timeoutMs: 1_000 }), 'tool-timeout', 'timeoutMs');
    await expectKeelError(runner.run(shell('while :; do :; done'), { timeoutMs: 30_000, cpuTimeMs: 1_000 }), 'sandbox-limit', 'cpuTimeMs');
    await expectHostHealthy(runner, heap);
  });

  it('a memory bomb fails inside against RLIMIT_DATA, long before the timeout; the command reports it', async () => {
    const heap = process.memoryUsage().heapUsed;
    // A time-out would reject with tool-timeout; a result means the memory limit ended it first. The kernel refuses
    // the allocation to the command; how it dies is the command's business (dash segfaults).
    const result = await runner.run(shell('x=aaaaaaaa; while :; do x=$x$x; done'), { timeoutMs: 120_000, memoryMb: 64 });
    expect(result.exitCode).not.toBe(0);
    await expectHostHealthy(runner, heap);
  });

  it('is killed with everything it started when the signal aborts', async () => {
    const marker = `keel-abort-marker-${Date.now()}`;
    const controller = new AbortController();
    const running = runner.run(command(['sh', '-c', 'sleep 1000 & while :; do :; done', marker]), { timeoutMs: 30_000 }, controller.signal);
    // Generous waits: under CI load bubblewrap can take seconds to start; what is asserted is that nothing survives.
    expect(await eventually(() => processesWithMarker(marker).length > 0, 30_000)).toBe(true);
    controller.abort();
    await expectKeelError(running, 'cancelled');
    expect(await eventually(() => processesWithMarker(marker).length === 0, 15_000)).toBe(true);
  }, 60_000);

  it('does not outlive a host that is killed (--die-with-parent)', async () => {
    const marker = `keel-orphan-marker-${Date.now()}`;
    const hostScript = fileURLToPath(new URL('./fixtures/runner-host.ts', import.meta.url));
    const host = spawn(process.execPath, ['--import', 'tsx', hostScript, 'bubblewrap', marker], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: 'ignore' });
    try {
      expect(await eventually(() => processesWithMarker(marker).length > 0, 20_000)).toBe(true);
      host.kill('SIGKILL');
      expect(await eventually(() => processesWithMarker(marker).length === 0, 5_000)).toBe(true);
    } finally {
      host.kill('SIGKILL');
    }
  });

  it('cuts stdout past outputBytes with a marker', async () => {
    const result = await runner.run(shell("head -c 100000 /dev/zero | tr '\\0' y"), { ...limits, outputBytes: 2_000 });
    expect(result.stdout.startsWith('y'.repeat(2_000))).toBe(true);
    expect(result.stdout).toContain('[output cut: 98000 more bytes over the limit of 2000 bytes (outputBytes)]');
  });

  it('refuses job files that would land outside the work folder', async () => {
    await expectKeelError(runner.run(command(['true'], { files: { '../escape.txt': 'x' } }), limits), 'invalid-argument');
  });
});

describe.skipIf(!available)(`${title}: JavaScript in node under the permission model, inside the namespaces`, () => {
  it('runs a job as the sandbox user on the sandbox host', async () => {
    const result = await runner.run({ kind: 'javascript', code: 'console.log("in"); return [input, process.getuid(), process.getBuiltinModule("node:os").hostname()];', input: 'x' }, limits);
    expect(result.value).toEqual(['x', 65534, 'sandbox']);
    expect(result.stdout).toBe('in\n');
  });

  it('denies /etc/shadow and a host secret with sandbox-violation', async () => {
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.readFile('/etc/shadow') }, limits), 'sandbox-violation', '/etc/shadow');
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.readFile(files.secretPath) }, limits), 'sandbox-violation', 'FileSystemRead');
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.writeFile(files.forbiddenWritePath) }, limits), 'sandbox-violation', 'FileSystemWrite');
    expect(existsSync(files.forbiddenWritePath)).toBe(false);
  });

  it('cannot spawn a process', async () => {
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.spawn }, limits), 'sandbox-violation', 'ChildProcess');
  });

  it('has no network even on Node versions whose permission model allows it', async () => {
    const before = server.connections();
    const error = await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.connect(server.port) }, limits), 'tool-failed');
    expect(error.message).toMatch(/ECONNREFUSED|ENETUNREACH/);
    expect(server.connections()).toBe(before);
  });

  it('ends a heap bomb and a Buffer bomb at memoryMb; the host stays healthy', async () => {
    const heap = process.memoryUsage().heapUsed;
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.heapBomb }, { timeoutMs: 30_000, memoryMb: 48 }), 'sandbox-limit', 'memoryMb');
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.bufferBomb }, { timeoutMs: 30_000, memoryMb: 48 }), 'sandbox-limit', 'memoryMb');
    await expectHostHealthy(runner, heap);
  });

  it('ends an infinite loop at the CPU limit', async () => {
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.infiniteLoop }, { timeoutMs: 30_000, cpuTimeMs: 1_000 }), 'sandbox-limit', 'cpuTimeMs');
  });
});

describe('bubblewrap runner when bwrap is missing', () => {
  it('is unavailable, and running says how to get it', async () => {
    const missing = createBubblewrapRunner({ bubblewrapPath: '/nonexistent/bwrap' });
    expect(await missing.available()).toBe(false);
    const error = await expectKeelError(missing.run(command(['true']), limits), 'sandbox-unavailable');
    expect(error.message).toContain('apt-get install bubblewrap');
  });
});
