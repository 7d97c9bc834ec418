import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerRunner, selectRunner } from '../../src/sandbox/index.ts';
import {
  createHostFiles,
  expectHostHealthy,
  expectKeelError,
  hostReadOfShadow,
  javascriptEscapes,
  startCountingServer,
} from './sandbox-test-kit.ts';
import type { CountingServer, HostFiles } from './sandbox-test-kit.ts';

// The worker runner contains loops and JavaScript heap bombs, and nothing of the file system, network or child
// processes: these tests assert both halves, so the doc comment cannot drift from the truth.

const runner = createWorkerRunner();
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

describe('worker runner: contained', () => {
  it('runs a job with its own empty process.env and captures its console', async () => {
    const result = await runner.run({ kind: 'javascript', code: 'console.log("doubling", input); return { doubled: input * 2, env: Object.keys(process.env) };', input: 4 }, { timeoutMs: 10_000 });
    expect(result.value).toEqual({ doubled: 8, env: [] });
    expect(result.stdout).toBe('doubling 4\n');
  });

  it('cannot reach the host objects: its globals are its own', async () => {
    (globalThis as Record<string, unknown>).keelHostMarker = 'host only';
    try {
      const result = await runner.run({ kind: 'javascript', code: 'return typeof globalThis.keelHostMarker;' }, { timeoutMs: 10_000 });
      expect(result.value).toBe('undefined');
    } finally {
      delete (globalThis as Record<string, unknown>).keelHostMarker;
    }
  });

  it('terminates an infinite loop at the wall-clock limit; the host stays healthy', async () => {
    const heap = process.memoryUsage().heapUsed;
    await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.infiniteLoop }, { timeoutMs: 500 }), 'tool-timeout', 'timeoutMs');
    await expectHostHealthy(runner, heap);
  });

  it('bounds cpuTimeMs as wall-clock time and says so', async () => {
    const error = await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.infiniteLoop }, { timeoutMs: 10_000, cpuTimeMs: 300 }), 'sandbox-limit', 'cpuTimeMs');
    expect(error.message).toContain('wall-clock');
  });

  it('ends a heap bomb at memoryMb with ERR_WORKER_OUT_OF_MEMORY mapped to sandbox-limit; the host heap is untouched', async () => {
    const heap = process.memoryUsage().heapUsed;
    const error = await expectKeelError(runner.run({ kind: 'javascript', code: javascriptEscapes.heapBomb }, { timeoutMs: 20_000, memoryMb: 24 }), 'sandbox-limit', 'memoryMb');
    expect(error.message).toContain('24 MiB');
    await expectHostHealthy(runner, heap);
  });

  it('is stopped by abort mid-loop', async () => {
    const controller = new AbortController();
    const running = runner.run({ kind: 'javascript', code: javascriptEscapes.infiniteLoop }, { timeoutMs: 20_000 }, controller.signal);
    setTimeout(() => controller.abort(), 200);
    await expectKeelError(running, 'cancelled');
    await expectHostHealthy(runner, process.memoryUsage().heapUsed);
  });

  it('cuts console output past outputBytes with a marker, and rejects a result over it', async () => {
    const result = await runner.run({ kind: 'javascript', code: 'console.log("w".repeat(20_000)); return 1;' }, { timeoutMs: 10_000, outputBytes: 500 });
    expect(result.stdout).toMatch(/^w{500}\n\[output cut: 19501 more bytes over the limit of 500 bytes \(outputBytes\)\]$/);
    await expectKeelError(runner.run({ kind: 'javascript', code: 'return "z".repeat(5_000);' }, { timeoutMs: 10_000, outputBytes: 500 }), 'sandbox-limit', 'outputBytes');
  });

  it('refuses limits it cannot enforce rather than ignoring them', async () => {
    await expectKeelError(runner.run({ kind: 'javascript', code: 'return 1' }, { timeoutMs: 10_000, readPaths: ['/tmp'] }), 'invalid-config', 'readPaths');
  });
});

describe('worker runner: NOT contained (it is a thread of the host process)', () => {
  it('reads /etc/shadow exactly as the host can', async () => {
    const host = hostReadOfShadow();
    const attempt = runner.run({ kind: 'javascript', code: javascriptEscapes.readFile('/etc/shadow') }, { timeoutMs: 10_000 });
    if (host.readable) expect((await attempt).value).toBe(host.content);
    else await expectKeelError(attempt, 'tool-failed');
  });

  it('reads a host file nobody allowed', async () => {
    const result = await runner.run({ kind: 'javascript', code: javascriptEscapes.readFile(files.secretPath) }, { timeoutMs: 10_000 });
    expect(result.value).toBe(files.secret);
  });

  it('writes anywhere the host can', async () => {
    try {
      await runner.run({ kind: 'javascript', code: javascriptEscapes.writeFile(files.forbiddenWritePath) }, { timeoutMs: 10_000 });
      expect(readFileSync(files.forbiddenWritePath, 'utf8')).toBe('escaped');
    } finally {
      rmSync(files.forbiddenWritePath, { force: true });
    }
    expect(existsSync(files.forbiddenWritePath)).toBe(false);
  });

  it('connects to the host loopback', async () => {
    const before = server.connections();
    const result = await runner.run({ kind: 'javascript', code: javascriptEscapes.connect(server.port) }, { timeoutMs: 10_000 });
    expect(result.value).toBe('hello from the host\n');
    expect(server.connections()).toBe(before + 1);
  });

  it('spawns processes', async () => {
    const result = await runner.run({ kind: 'javascript', code: javascriptEscapes.spawn }, { timeoutMs: 10_000 });
    expect(result.value).toBe('spawned\n');
  });

  it("attaches node:inspector to the host's main thread and reads the host's environment", async () => {
    process.env.KEEL_WORKER_PROBE = 'host environment value';
    try {
      const code = `
        const inspector = process.getBuiltinModule('node:inspector');
        const session = new inspector.Session();
        session.connectToMainThread();
        // The session does not keep the worker's event loop alive while the main thread answers; a timer does.
        const keepAlive = setInterval(() => {}, 1000);
        try {
          return await new Promise((resolve, reject) => session.post('Runtime.evaluate', { expression: 'process.env.KEEL_WORKER_PROBE' },
            (error, answer) => (error ? reject(error) : resolve(answer.result.value))));
        } finally {
          clearInterval(keepAlive);
        }`;
      const result = await runner.run({ kind: 'javascript', code }, { timeoutMs: 10_000 });
      expect(result.value).toBe('host environment value');
    } finally {
      delete process.env.KEEL_WORKER_PROBE;
    }
  });

  it('a Map grown past memoryMb aborts the whole host with a fatal out-of-memory error (run in a separate host)', () => {
    const host = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'worker-heap-bomb-host.ts');
    const run = (code: string) => spawnSync(process.execPath, ['--import', 'tsx', host, code], { encoding: 'utf8', timeout: 120_000 });
    // The usual heap bomb is contained: the host prints the job's error and lives.
    const contained = run(javascriptEscapes.heapBomb);
    expect(contained.stdout).toContain('host alive: sandbox-limit');
    // A Map or array that must grow in one step past the limit makes V8 abort the process: the host dies.
    const fatal = run('const m = new Map(); for (let i = 0; ; i++) m.set(i, i);');
    expect(fatal.stdout).not.toContain('host alive');
    expect(fatal.signal === 'SIGABRT' || fatal.status === 134).toBe(true);
  });

  it('says so: its containment list holds neither file system, network, child processes, signals nor host memory', () => {
    expect([...runner.contains].sort()).toEqual(['cpu', 'environment', 'memory']);
  });

  it('is refused for untrusted code with sandbox-unavailable naming what it lacks', async () => {
    const error = await expectKeelError(selectRunner('worker', [runner], 'javascript', { timeoutMs: 1_000 }, { untrusted: true }), 'sandbox-unavailable', 'cannot run untrusted code');
    expect(error.message).toContain('signals to and inspection of the host');
    await expectKeelError(selectRunner('strongest', [runner], 'javascript', { timeoutMs: 1_000 }), 'sandbox-unavailable', 'worker does not contain');
  });
});
