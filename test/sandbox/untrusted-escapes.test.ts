import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyLimiter, createBubblewrapRunner, createProcessRunner } from '../../src/sandbox/index.ts';
import type { SandboxJob, SandboxResult } from '../../src/sandbox/index.ts';
import { eventually, expectKeelError, isAlive, processesWithMarker } from './sandbox-test-kit.ts';

// The escapes an adversarial review found, one test per class, against the runner Keel offers for untrusted code
// (bubblewrap). Each of these passed on the code before the fix: the job killed or outlived its limits, or left
// something behind that the next job or the host would trust.

const runner = createBubblewrapRunner();
const available = await runner.available();
const hostIsRoot = process.getuid?.() === 0;
const hasPython = spawnSync('python3', ['-c', 'pass']).status === 0;
const title = available ? 'bubblewrap escapes' : `bubblewrap escapes (skipped: ${await runner.unavailableReason()})`;

const shell = (script: string): SandboxJob => ({ kind: 'command', argv: ['sh', '-c', script] });
const limits = { timeoutMs: 20_000 };

let folders: string[] = [];
let victim: ChildProcess | undefined;
beforeAll(() => {
  // A long-lived process of the host's user that a job must not be able to signal.
  victim = spawn('sleep', ['600'], { stdio: 'ignore' });
});
afterAll(() => {
  victim?.kill('SIGKILL');
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  folders = [];
});

function writeFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'keel-escape-'));
  folders.push(folder);
  return folder;
}

describe.skipIf(!available)(`${title}: signals and other processes`, () => {
  it('a JavaScript job cannot kill its parent, the host, or another host process; the host lives', async () => {
    const code = `
      const attempt = (pid) => { try { process.kill(pid, 'SIGKILL'); return 'sent'; } catch (error) { return error.code; } };
      return { host: attempt(input.host), victim: attempt(input.victim), parentIsOutside: process.ppid <= 1 };`;
    const result = await runner.run({ kind: 'javascript', code, input: { host: process.pid, victim: victim?.pid } }, limits);
    // The host's pids do not exist in the job's pid namespace, whatever their numbers.
    expect(result.value).toEqual({ host: 'ESRCH', victim: 'ESRCH', parentIsOutside: true });
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(victim?.pid ?? -1)).toBe(true);
  });

  it('a JavaScript job cannot open node:inspector (the permission model denies it) nor reach the host loopback', async () => {
    const inspect = `const session = new (process.getBuiltinModule('node:inspector').Session)(); session.connect(); return 'connected';`;
    await expectKeelError(runner.run({ kind: 'javascript', code: inspect }, limits), 'sandbox-violation', 'Inspector');
    const connect = `const net = process.getBuiltinModule('node:net');
      return await new Promise((resolve) => { const socket = net.connect(input, '127.0.0.1'); socket.on('connect', () => resolve('connected')); socket.on('error', (error) => resolve(error.code)); });`;
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      expect((await runner.run({ kind: 'javascript', code: connect, input: port }, limits)).value).toBe('ECONNREFUSED');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a command cannot kill its parent or a host process', async () => {
    const result = await runner.run(shell(`kill -9 $PPID; kill -9 ${victim?.pid ?? 0} 2>&1; kill -9 ${process.pid} 2>&1; echo still-here`), limits);
    expect(result.stdout).toContain('still-here');
    expect(result.stdout).toMatch(/No such process/);
    expect(isAlive(victim?.pid ?? -1)).toBe(true);
  });
});

describe.skipIf(!available)(`${title}: privileges and system calls`, () => {
  it('cannot create a nested user namespace (unshare -U) or any other namespace', async () => {
    const result = await runner.run(shell('unshare -U true; echo user=$?; unshare -n true; echo net=$?'), limits);
    expect(result.stdout).toContain('user=1');
    expect(result.stdout).toContain('net=1');
  });

  it('runs under the seccomp filter with no_new_privs', async () => {
    const result = await runner.run(shell('grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status'), limits);
    expect(result.stdout).toMatch(/NoNewPrivs:\s+1/);
    // 2 is SECCOMP_MODE_FILTER.
    expect(result.stdout).toMatch(/Seccomp:\s+2/);
  });

  it.skipIf(!hasPython)('ptrace, keyctl, bpf and userfaultfd fail with EPERM inside (python3 calls them directly)', async () => {
    const numbers = process.arch === 'arm64' ? { ptrace: 117, keyctl: 219, bpf: 280, userfaultfd: 282 } : { ptrace: 101, keyctl: 250, bpf: 321, userfaultfd: 323 };
    const script = `import ctypes, json; libc = ctypes.CDLL(None, use_errno=True)
out = {}
for name, number in ${JSON.stringify(numbers)}.items():
    ctypes.set_errno(0); libc.syscall(number, 0, 0, 0, 0); out[name] = ctypes.get_errno()
print(json.dumps(out))`;
    const result = await runner.run({ kind: 'command', argv: ['python3', '-c', script] }, limits);
    expect(JSON.parse(result.stdout)).toEqual({ ptrace: 1, keyctl: 1, bpf: 1, userfaultfd: 1 });
  });

  it('leaves no setuid or setgid file in a persistent write path, and nothing owned by root', async () => {
    const folder = writeFolder();
    const result = await runner.run(shell('cp /bin/sh ./escalate && chmod 6755 ./escalate && mkdir -p sub && touch sub/marked && chmod 4755 sub/marked && stat -c %a escalate'), { ...limits, writePath: folder });
    expect(result.exitCode, result.stderr).toBe(0);
    for (const path of [join(folder, 'escalate'), join(folder, 'sub', 'marked')]) {
      const stat = lstatSync(path);
      expect(stat.mode & 0o6000, path).toBe(0);
      if (hostIsRoot) expect(stat.uid, path).toBe(65534);
    }
  });
});

describe.skipIf(!available)(`${title}: fork bombs`, () => {
  it('a fork bomb is stopped by the process limit; the host and the next job live', async () => {
    const bounded = createBubblewrapRunner({ maxProcesses: 24 });
    const marker = `forkbomb-${process.pid}-${Date.now()}`;
    let most = 0;
    const poll = setInterval(() => (most = Math.max(most, processesWithMarker(marker).length)), 20);
    try {
      const result = await bounded.run(shell(`# ${marker}\ni=0; while [ $i -lt 400 ]; do sleep 30 & i=$((i+1)); done 2>/dev/null; echo done`), { timeoutMs: 4_000 }).catch((error: unknown) => error);
      // Either the loop gave up against EAGAIN and the sandbox was torn down at the timeout, or it finished first.
      expect(result).toBeDefined();
    } finally {
      clearInterval(poll);
    }
    // The shell and its sleeps count against RLIMIT_NPROC in the job's own user namespace: never 400 of them.
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(24);
    expect(await eventually(() => processesWithMarker(marker).length === 0)).toBe(true);
    expect((await runner.run(shell('echo alive'), limits)).stdout).toBe('alive\n');
  });
});

describe.skipIf(!available)(`${title}: the process limit is per job`, () => {
  it('two jobs at once may each hold most of their limit: the count is in each job\'s own user namespace, not per host uid', async () => {
    const bounded = createBubblewrapRunner({ maxProcesses: 24, concurrency: new ConcurrencyLimiter(2) });
    const job = (): Promise<SandboxResult> => bounded.run(shell('i=0; while [ $i -lt 20 ]; do sleep 2 & i=$((i+1)); done; wait; echo ok'), limits);
    const results = await Promise.all([job(), job()]);
    // 40 processes of uid 65534 at once, over the limit of 24 had it been counted per host user.
    expect(results.map((result) => [result.exitCode, result.stdout])).toEqual([
      [0, 'ok\n'],
      [0, 'ok\n'],
    ]);
  });
});

describe.skipIf(!available)(`${title}: links planted in a shared write path`, () => {
  it('removes links that point outside after the job, so the next job (even in the process runner) cannot follow them', async () => {
    const folder = writeFolder();
    const secretFolder = writeFolder();
    const secret = join(secretFolder, 'secret.txt');
    writeFileSync(secret, 'host secret', { mode: 0o644 });
    await runner.run(shell(`echo inside > real.txt; ln -s ${secret} planted; ln -s ../../../.. climbing; ln -s /work/real.txt absolute; ln -s real.txt kept`), { ...limits, writePath: folder });
    expect(lstatSync(join(folder, 'planted'), { throwIfNoEntry: false })).toBeUndefined();
    expect(lstatSync(join(folder, 'climbing'), { throwIfNoEntry: false })).toBeUndefined();
    expect(lstatSync(join(folder, 'absolute'), { throwIfNoEntry: false })).toBeUndefined();
    // A relative link that stays inside is the job's own business and survives.
    expect(lstatSync(join(folder, 'kept')).isSymbolicLink()).toBe(true);
    const next = createProcessRunner();
    const read = `const fs = process.getBuiltinModule('node:fs'); try { return fs.readFileSync(input, 'utf8'); } catch (error) { return error.code; }`;
    expect((await next.run({ kind: 'javascript', code: read, input: join(folder, 'planted') }, { ...limits, writePath: folder })).value).toBe('ENOENT');
    expect((await next.run({ kind: 'javascript', code: read, input: join(folder, 'kept') }, { ...limits, writePath: folder })).value).toBe('inside\n');
  });

  it('sweeps a link planted before the job (by anyone) before the job starts', async () => {
    const folder = writeFolder();
    symlinkSync('/etc/passwd', join(folder, 'left-behind'));
    const read = `const fs = process.getBuiltinModule('node:fs'); try { return fs.readFileSync(input, 'utf8').slice(0, 4); } catch (error) { return error.code; }`;
    const result = await createProcessRunner().run({ kind: 'javascript', code: read, input: join(folder, 'left-behind') }, { ...limits, writePath: folder });
    expect(result.value).toBe('ENOENT');
  });
});

describe.skipIf(!hostIsRoot)('process runner under a root host (skipped when not root: jobs then run as the host user, see docs/sandboxes.md)', () => {
  it('runs the job as nobody, so kill(ppid) fails with EPERM and the host lives', async () => {
    const code = `const attempt = (pid) => { try { process.kill(pid, 'SIGKILL'); return 'sent'; } catch (error) { return error.code; } };
      return { uid: process.getuid(), parent: attempt(process.ppid), victim: attempt(input) };`;
    const result = await createProcessRunner().run({ kind: 'javascript', code, input: victim?.pid }, limits);
    expect(result.value).toEqual({ uid: 65534, parent: 'EPERM', victim: 'EPERM' });
    expect(isAlive(victim?.pid ?? -1)).toBe(true);
  });
});

describe('a missing capability', () => {
  it('a bubblewrap runner with bwrap missing refuses the job with sandbox-unavailable naming bwrap', async () => {
    const missing = createBubblewrapRunner({ bubblewrapPath: '/nonexistent/bwrap' });
    await expectKeelError(missing.run(shell('true'), limits), 'sandbox-unavailable', 'bwrap is not installed');
  });
});
