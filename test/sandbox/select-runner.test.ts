import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBubblewrapRunner, createInProcessRunner, createProcessRunner, createRunners, createWorkerRunner, selectRunner } from '../../src/sandbox/index.ts';
import type { SandboxRunner } from '../../src/sandbox/index.ts';
import { expectKeelError } from './sandbox-test-kit.ts';

/** A real runner that reports itself unavailable, as on a machine without it. */
function unavailable(runner: SandboxRunner): SandboxRunner {
  return { ...runner, available: () => Promise.resolve(false) };
}

const limits = { timeoutMs: 5_000 };

describe('selectRunner', () => {
  it('strongest takes bubblewrap when it works, for JavaScript and for commands, and otherwise fails naming why', async () => {
    const bubblewrap = createBubblewrapRunner();
    const runners = [createInProcessRunner(), createWorkerRunner(), createProcessRunner(), bubblewrap];
    if (await bubblewrap.available()) {
      expect((await selectRunner('strongest', runners, 'javascript', limits)).name).toBe('bubblewrap');
      expect((await selectRunner('strongest', runners, 'command', limits)).name).toBe('bubblewrap');
    } else {
      await expectKeelError(selectRunner('strongest', runners, 'javascript', limits), 'sandbox-unavailable', 'bubblewrap is unavailable');
    }
  });

  it('strongest never falls back to the process, worker or in-process runner: untrusted code gets a sandbox or sandbox-unavailable', async () => {
    const runners = [createInProcessRunner(), createWorkerRunner(), createProcessRunner(), createBubblewrapRunner({ bubblewrapPath: '/nonexistent/bwrap' })];
    const error = await expectKeelError(selectRunner('strongest', runners, 'javascript', limits), 'sandbox-unavailable');
    // Each runner is named with what it lacks: the operator can tell what to install or why a runner does not count.
    expect(error.message).toContain('bubblewrap is unavailable: bwrap is not installed');
    expect(error.message).toContain('process does not contain the network');
    expect(error.message).toContain('signals to and inspection of the host');
    expect(error.message).toContain('worker does not contain the host file system');
    expect(error.message).toContain('in-process does not contain');
  });

  it('a named weaker runner is refused for untrusted code with sandbox-unavailable naming what it lacks', async () => {
    const worker = await expectKeelError(selectRunner('worker', [createWorkerRunner()], 'javascript', limits, { untrusted: true }), 'sandbox-unavailable', 'cannot run untrusted code');
    expect(worker.message).toContain("the host's memory");
    await expectKeelError(selectRunner('process', [createProcessRunner()], 'javascript', limits, { untrusted: true }), 'sandbox-unavailable', 'the network');
    await expectKeelError(selectRunner('in-process', [createInProcessRunner()], 'javascript', limits, { untrusted: true }), 'sandbox-unavailable', 'the host environment');
    // Named without `untrusted`, a weaker runner is the operator's choice for trusted code.
    expect((await selectRunner('worker', [createWorkerRunner()], 'javascript', limits)).name).toBe('worker');
  });

  it('a missing bwrap is reported as such when bubblewrap is named for untrusted code', async () => {
    const error = await expectKeelError(
      selectRunner('bubblewrap', [createBubblewrapRunner({ bubblewrapPath: '/nonexistent/bwrap' })], 'command', limits, { untrusted: true }),
      'sandbox-unavailable',
      'bwrap is not installed',
    );
    expect(error.message).toContain('apt-get install bubblewrap');
  });

  it('strongest skips runners that cannot enforce the limits asked for', async () => {
    const runners = [createInProcessRunner(), createWorkerRunner(), unavailable(createProcessRunner()), unavailable(createBubblewrapRunner())];
    // readPaths needs a runner that restricts reads; the worker cannot, so nothing qualifies.
    await expectKeelError(selectRunner('strongest', runners, 'javascript', { ...limits, readPaths: ['/tmp'] }), 'sandbox-unavailable');
  });

  it('a named runner that is unavailable fails with sandbox-unavailable saying how to get it', async () => {
    const runners = [unavailable(createBubblewrapRunner())];
    const error = await expectKeelError(selectRunner('bubblewrap', runners, 'command', limits), 'sandbox-unavailable');
    expect(error.message).toContain('apt-get install bubblewrap');
  });

  it('a named runner that cannot run the job kind or hold a limit is a configuration error', async () => {
    await expectKeelError(selectRunner('process', [createProcessRunner()], 'command', limits), 'invalid-config', 'command');
    await expectKeelError(selectRunner('worker', [createWorkerRunner()], 'javascript', { ...limits, writePath: '/tmp/x' }), 'invalid-config', 'writePath');
  });

  it('commands run nowhere but bubblewrap', async () => {
    const runners = createRunners().map((runner) => (runner.name === 'bubblewrap' ? unavailable(runner) : runner));
    await expectKeelError(selectRunner('strongest', runners, 'command', limits), 'sandbox-unavailable', 'bubblewrap');
  });

  it('ranks runners by isolation, strongest first', () => {
    expect(createRunners().map((runner) => [runner.name, runner.isolation])).toEqual([
      ['bubblewrap', 3],
      ['process', 2],
      ['worker', 1],
      ['in-process', 0],
    ]);
  });

  it('names the missing capability when bwrap is there but cannot sandbox: no user namespaces, or too old', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'keel-fake-bwrap-'));
    chmodSync(folder, 0o755);
    try {
      // Test doubles that answer the availability probe the way a real bwrap does on such machines.
      const fake = (name: string, message: string): string => {
        const path = join(folder, name);
        writeFileSync(path, `#!/bin/sh\necho '${message}' >&2\nexit 1\n`, { mode: 0o755 });
        return path;
      };
      const noNamespaces = createBubblewrapRunner({ bubblewrapPath: fake('no-userns', 'bwrap: setting up uid map: Permission denied') });
      const error = await expectKeelError(selectRunner('strongest', [noNamespaces, createProcessRunner()], 'javascript', limits), 'sandbox-unavailable', 'unprivileged user namespaces disabled');
      expect(error.message).toContain('setting up uid map: Permission denied');
      const old = createBubblewrapRunner({ bubblewrapPath: fake('old', 'bwrap: Unknown option --disable-userns') });
      await expectKeelError(old.run({ kind: 'command', argv: ['true'] }, limits), 'sandbox-unavailable', 'too old for --disable-userns');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
