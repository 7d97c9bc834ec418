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
  it('strongest takes bubblewrap when it works, for JavaScript and for commands', async () => {
    const bubblewrap = createBubblewrapRunner();
    const runners = [createInProcessRunner(), createWorkerRunner(), createProcessRunner(), bubblewrap];
    if (await bubblewrap.available()) {
      expect((await selectRunner('strongest', runners, 'javascript', limits)).name).toBe('bubblewrap');
      expect((await selectRunner('strongest', runners, 'command', limits)).name).toBe('bubblewrap');
    } else {
      expect((await selectRunner('strongest', runners, 'javascript', limits)).name).toBe('process');
    }
  });

  it('strongest never takes the worker or in-process runner for untrusted code while the process runner is available', async () => {
    const runners = [createInProcessRunner(), createWorkerRunner(), createProcessRunner(), unavailable(createBubblewrapRunner())];
    expect((await selectRunner('strongest', runners, 'javascript', limits)).name).toBe('process');
  });

  it('strongest falls back to the worker only when nothing stronger is available, and never to in-process', async () => {
    const withWorker = [createInProcessRunner(), createWorkerRunner(), unavailable(createProcessRunner()), unavailable(createBubblewrapRunner())];
    expect((await selectRunner('strongest', withWorker, 'javascript', limits)).name).toBe('worker');
    const onlyInProcess = [createInProcessRunner(), unavailable(createWorkerRunner())];
    await expectKeelError(selectRunner('strongest', onlyInProcess, 'javascript', limits), 'sandbox-unavailable');
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
});
