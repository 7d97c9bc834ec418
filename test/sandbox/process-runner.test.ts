import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessRunner } from '../../src/sandbox/index.ts';
import type { SandboxRunner } from '../../src/sandbox/index.ts';
import { findSystemTool } from '../../src/sandbox/executables.ts';
import { findPrlimit } from '../../src/sandbox/resource-limits.ts';
import {
  createHostFiles,
  eventually,
  expectHostHealthy,
  expectKeelError,
  isAlive,
  javascriptEscapes,
  startCountingServer,
} from './sandbox-test-kit.ts';
import type { CountingServer, HostFiles } from './sandbox-test-kit.ts';

const runner = createProcessRunner();
const nodeMajor = Number(process.versions.node.split('.')[0]);
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

describe('process runner: a node child under the permission model', () => {
  it('is available here and runs a job: input in, JSON result and console output back, empty environment', async () => {
    expect(await runner.available()).toBe(true);
    const result = await runner.run(
      { kind: 'javascript', code: 'console.log("sum", input.a + input.b); console.error("to stderr"); return { sum: input.a + input.b, env: Object.keys(process.env) };', input: { a: 2, b: 3 } },
      { timeoutMs: 20_000 },
    );
    expect(result.value).toEqual({ sum: 5, env: [] });
    expect(result.stdout).toBe('sum 5\n');
    expect(result.stderr).toBe('to stderr\n');
    expect(result.cpuMs).toBeGreaterThan(0);
  });

  it('denies /etc/shadow with a sandbox-violation that names the permission and the path', async () => {
    const heap = process.memoryUsage().heapUsed;
    const error = await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.readFile('/etc/shadow') }, { timeoutMs: 20_000 }), 'sandbox-violation', 'FileSystemRead');
    expect(error.message).toContain('/etc/shadow');
    await expectHostHealthy(runner, heap);
  });

  it('reads what readPaths allow and nothing beside it', async () => {
    const limits = { timeoutMs: 20_000, readPaths: [files.allowedFolder] };
    const allowed = await runner.run({ kind: 'javascript', code: javascriptEscapes.readFile(join(files.allowedFolder, 'allowed.txt')) }, limits);
    expect(allowed.value).toBe(files.allowedContent);
    const error = await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.readFile(files.secretPath) }, limits), 'sandbox-violation', 'FileSystemRead');
    expect(error.message).not.toContain(files.secret);
  });

  it('writes inside its work folder and is denied outside it', async () => {
    const workFolder = mkdtempSync(join(tmpdir(), 'keel-process-work-'));
    try {
      const inside = await runner.run({ kind: 'javascript', code: javascriptEscapes.writeFile(join(workFolder, 'out.txt')) }, { timeoutMs: 20_000, writePath: workFolder });
      expect(inside.value).toBe('written');
      expect(readFileSync(join(workFolder, 'out.txt'), 'utf8')).toBe('escaped');
      await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.writeFile(files.forbiddenWritePath) }, { timeoutMs: 20_000, writePath: workFolder }), 'sandbox-violation', 'FileSystemWrite');
      expect(existsSync(files.forbiddenWritePath)).toBe(false);
    } finally {
      rmSync(workFolder, { recursive: true, force: true });
    }
  });

  it('cannot spawn a process', async () => {
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.spawn }, { timeoutMs: 20_000 }), 'sandbox-violation', 'ChildProcess');
  });

  it(`network: ${nodeMajor >= 25 ? 'denied by the permission model' : 'NOT contained on this Node version (the permission model has no network rule before Node 25)'}`, async () => {
    const before = server.connections();
    const attempt = runner.run({ kind: 'javascript', code: javascriptEscapes.connect(server.port) }, { timeoutMs: 20_000 });
    if (runner.contains.has('network')) {
      await expectKeelError(attempt, 'sandbox-violation');
      expect(server.connections()).toBe(before);
    } else {
      // The truth the doc comment states: the job reaches the host's loopback.
      expect((await attempt).value).toBe('hello from the host\n');
      expect(server.connections()).toBe(before + 1);
    }
  });

  it('ends an infinite loop at the wall-clock limit with tool-timeout', async () => {
    const heap = process.memoryUsage().heapUsed;
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.infiniteLoop }, { timeoutMs: 1_500 }), 'tool-timeout', 'timeoutMs');
    await expectHostHealthy(runner, heap);
  });

  it('ends an infinite loop at the CPU-time limit, saying how it was enforced', async () => {
    const error = await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.infiniteLoop }, { timeoutMs: 30_000, cpuTimeMs: 1_000 }), 'sandbox-limit', 'cpuTimeMs');
    expect(error.message).toContain(findPrlimit() === undefined ? 'watchdog' : 'prlimit');
  });

  it('ends a heap bomb at memoryMb, and the host stays healthy', async () => {
    const heap = process.memoryUsage().heapUsed;
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.heapBomb }, { timeoutMs: 30_000, memoryMb: 48 }), 'sandbox-limit', 'memoryMb');
    await expectHostHealthy(runner, heap);
  });

  it('ends a Buffer bomb (memory outside the V8 heap) at memoryMb', async () => {
    const heap = process.memoryUsage().heapUsed;
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.bufferBomb }, { timeoutMs: 30_000, memoryMb: 48 }), 'sandbox-limit', 'memoryMb');
    await expectHostHealthy(runner, heap);
  });

  it('kills the process when the signal aborts', async () => {
    const workFolder = mkdtempSync(join(tmpdir(), 'keel-process-abort-'));
    try {
      const controller = new AbortController();
      const code = `(await import('node:fs')).writeFileSync('pid', String(process.pid)); for (;;) {}`;
      const running = runner.run({ kind: 'javascript', code }, { timeoutMs: 30_000, writePath: workFolder }, controller.signal);
      expect(await eventually(() => existsSync(join(workFolder, 'pid')), 15_000)).toBe(true);
      const pid = Number(readFileSync(join(workFolder, 'pid'), 'utf8'));
      expect(isAlive(pid)).toBe(true);
      controller.abort();
      await expectKeelError(running, 'cancelled');
      expect(isAlive(pid)).toBe(false);
    } finally {
      rmSync(workFolder, { recursive: true, force: true });
    }
  });

  it.skipIf(findSystemTool('setpriv') === undefined)('does not outlive a host that is killed (setpriv --pdeathsig; skipped without setpriv)', async () => {
    const workFolder = mkdtempSync(join(tmpdir(), 'keel-process-orphan-'));
    const hostScript = fileURLToPath(new URL('./fixtures/runner-host.ts', import.meta.url));
    const host = spawn(process.execPath, ['--import', 'tsx', hostScript, 'process', workFolder], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: 'ignore' });
    try {
      expect(await eventually(() => existsSync(join(workFolder, 'pid')) && readFileSync(join(workFolder, 'pid'), 'utf8') !== '', 20_000)).toBe(true);
      const pid = Number(readFileSync(join(workFolder, 'pid'), 'utf8'));
      expect(isAlive(pid)).toBe(true);
      host.kill('SIGKILL');
      expect(await eventually(() => !isAlive(pid), 5_000)).toBe(true);
    } finally {
      host.kill('SIGKILL');
      rmSync(workFolder, { recursive: true, force: true });
    }
  });

  it('cuts stdout past outputBytes with a marker, and rejects a result over it', async () => {
    const result = await runner.run({ kind: 'javascript', code: 'process.stdout.write("y".repeat(50_000)); return 1;' }, { timeoutMs: 20_000, outputBytes: 1_000 });
    expect(result.stdout.startsWith('y'.repeat(1_000))).toBe(true);
    expect(result.stdout).toContain('[output cut: 49000 more bytes over the limit of 1000 bytes (outputBytes)]');
    await expectKeelError(runner.run({ kind: 'javascript', code: 'return "z".repeat(5_000);' }, { timeoutMs: 20_000, outputBytes: 1_000 }), 'sandbox-limit', 'outputBytes');
  });

  it('stops reading a huge answer at its cap instead of buffering it in the host', async () => {
    const heap = process.memoryUsage().heapUsed;
    const error = await expectKeelError(runner.run({ kind: 'javascript', code: 'return "z".repeat(20_000_000);' }, { timeoutMs: 20_000, outputBytes: 1_000 }), 'sandbox-limit', 'outputBytes');
    expect(error.message).toContain('far larger than');
    await expectHostHealthy(runner, heap);
  });

  it('reports a thrown error as tool-failed with its message', async () => {
    const error = await expectKeelError(runner.run({ kind: 'javascript', code: 'throw new TypeError("bad input shape")' }, { timeoutMs: 20_000 }), 'tool-failed');
    expect(error.message).toContain('TypeError: bad input shape');
  });
});

describe('process runner without prlimit: the /proc watchdog', () => {
  const watched: SandboxRunner = createProcessRunner({ limitEnforcement: 'watchdog' });

  it('ends an infinite loop at the CPU-time limit and says the watchdog did it', async () => {
    await expectKeelError(watched.run({ kind: 'javascript', code: javascriptEscapes.infiniteLoop }, { timeoutMs: 30_000, cpuTimeMs: 700 }), 'sandbox-limit', 'watchdog');
  });

  it('ends a Buffer bomb at memoryMb', async () => {
    const heap = process.memoryUsage().heapUsed;
    await expectKeelError(watched.run({ kind: 'javascript', code: javascriptEscapes.bufferBomb }, { timeoutMs: 30_000, memoryMb: 48 }), 'sandbox-limit', 'memoryMb');
    await expectHostHealthy(watched, heap);
  });
});
