import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInProcessRunner } from '../../src/sandbox/index.ts';
import { eventually, expectKeelError, hostReadOfShadow, javascriptEscapes, startCountingServer } from './sandbox-test-kit.ts';
import type { CountingServer } from './sandbox-test-kit.ts';

// The in-process runner isolates nothing: these tests pin down exactly what it does (timeout and abort of the
// wait, captured console, JSON result) and show what it does not, on a throwaway host where needed.

const runner = createInProcessRunner();
const hostScript = fileURLToPath(new URL('./fixtures/in-process-host.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
let server: CountingServer;

beforeAll(async () => {
  server = await startCountingServer();
});
afterAll(async () => {
  await server.close();
});

/** Runs a job on a separate host process; returns its output so far and whether it is still alive, then kills it. */
async function onThrowawayHost(code: string, timeoutMs: number, nodeFlags: string[], watchMs: number) {
  const host = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', hostScript, code, String(timeoutMs)], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  host.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  host.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  host.on('exit', (exitCode, signal) => (exit = { code: exitCode, signal }));
  try {
    expect(await eventually(() => stdout.includes('started'), 20_000)).toBe(true);
    await eventually(() => exit !== undefined, watchMs);
    return { stdout, stderr, exit };
  } finally {
    if (exit === undefined) host.kill('SIGKILL');
  }
}

describe('in-process runner: what it does', () => {
  it('runs the code with input, captures its console, returns the JSON value', async () => {
    const input = { items: [1, 2, 3] };
    const result = await runner.run({ kind: 'javascript', code: 'console.log("n =", input.items.length); input.items.push(4); return input.items;', input }, { timeoutMs: 1_000 });
    expect(result.value).toEqual([1, 2, 3, 4]);
    expect(result.stdout).toBe('n = 3\n');
    expect(input.items).toEqual([1, 2, 3]); // the code got a copy
  });

  it('stops waiting at the timeout, and says the code was abandoned, not stopped', async () => {
    const error = await expectKeelError(runner.run({ kind: 'javascript', code: 'await new Promise((resolve) => setTimeout(resolve, 5_000));' }, { timeoutMs: 100 }), 'tool-timeout', 'timeoutMs');
    expect(error.message).toContain('abandoned');
  });

  it('stops waiting on abort', async () => {
    const controller = new AbortController();
    const running = runner.run({ kind: 'javascript', code: 'await new Promise((resolve) => setTimeout(resolve, 5_000));' }, { timeoutMs: 10_000 }, controller.signal);
    controller.abort();
    await expectKeelError(running, 'cancelled');
  });

  it('cuts console output past outputBytes and rejects a result over it', async () => {
    const result = await runner.run({ kind: 'javascript', code: 'console.log("a".repeat(300)); return 1;' }, { timeoutMs: 1_000, outputBytes: 100 });
    expect(result.stdout).toBe(`${'a'.repeat(100)}\n[output cut: 201 more bytes over the limit of 100 bytes (outputBytes)]`);
    await expectKeelError(runner.run({ kind: 'javascript', code: 'return "b".repeat(300);' }, { timeoutMs: 1_000, outputBytes: 100 }), 'sandbox-limit', 'outputBytes');
  });

  it('refuses memoryMb and cpuTimeMs instead of pretending to enforce them', async () => {
    await expectKeelError(runner.run({ kind: 'javascript', code: 'return 1' }, { timeoutMs: 1_000, memoryMb: 64 }), 'invalid-config', 'memoryMb');
    await expectKeelError(runner.run({ kind: 'javascript', code: 'return 1' }, { timeoutMs: 1_000, cpuTimeMs: 100 }), 'invalid-config', 'cpuTimeMs');
  });
});

describe('in-process runner: NOT contained', () => {
  it('reads /etc/shadow as the host can, and reaches the network', async () => {
    const host = hostReadOfShadow();
    const shadow = runner.run({ kind: 'javascript', code: javascriptEscapes.readFile('/etc/shadow') }, { timeoutMs: 5_000 });
    if (host.readable) expect((await shadow).value).toBe(host.content);
    else await expectKeelError(shadow, 'tool-failed');
    const before = server.connections();
    expect((await runner.run({ kind: 'javascript', code: javascriptEscapes.connect(server.port) }, { timeoutMs: 5_000 })).value).toBe('hello from the host\n');
    expect(server.connections()).toBe(before + 1);
  });

  it('a synchronous infinite loop blocks its host for good: the timeout never fires', async () => {
    const { stdout, exit } = await onThrowawayHost(javascriptEscapes.infiniteLoop, 200, [], 2_500);
    expect(exit).toBeUndefined(); // still stuck in the loop
    expect(stdout).not.toContain('settled');
  });

  it('a heap bomb takes its host down with it', async () => {
    const { stdout, stderr, exit } = await onThrowawayHost(javascriptEscapes.heapBomb, 60_000, ['--max-old-space-size=64'], 30_000);
    expect(exit).toBeDefined();
    expect(exit?.code === 0).toBe(false);
    expect(stderr).toContain('heap out of memory');
    expect(stdout).not.toContain('settled');
  });
});
