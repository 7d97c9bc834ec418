import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ConcurrencyLimiter, configureSandboxConcurrency, createBubblewrapRunner, createInProcessRunner, sandboxConcurrency } from '../../src/sandbox/index.ts';
import { expectKeelError, processesWithMarker } from './sandbox-test-kit.ts';

// 300 sandboxed calls must not start 300 sandboxes: each runner kind has a process-wide limit and a line.
// The in-process runner shares the host's globals, so its jobs can count themselves: the count is what ran, not
// what the limiter believes.

interface Tally {
  active: number;
  peak: number;
  started: string[];
  gate?: Promise<void>;
}
const tally = (): Tally => (globalThis as unknown as { keelTally: Tally }).keelTally;

afterEach(() => {
  delete (globalThis as Record<string, unknown>).keelTally;
});

const countingJob = `
  const tally = globalThis.keelTally;
  tally.active += 1;
  tally.peak = Math.max(tally.peak, tally.active);
  tally.started.push(input);
  await (tally.gate ?? new Promise((resolve) => setTimeout(resolve, 2)));
  tally.active -= 1;
  return input;`;

describe('sandbox concurrency limit', () => {
  it('300 concurrent calls never run more than the limit at once, and all of them finish', async () => {
    (globalThis as Record<string, unknown>).keelTally = { active: 0, peak: 0, started: [] };
    const limiter = new ConcurrencyLimiter(4);
    const runner = createInProcessRunner({ concurrency: limiter });
    const calls = Array.from({ length: 300 }, (_, index) => runner.run({ kind: 'javascript', code: countingJob, input: `job-${index}` }, { timeoutMs: 60_000 }));
    expect(limiter.active).toBeLessThanOrEqual(4);
    const results = await Promise.all(calls);
    expect(results.map((result) => result.value)).toEqual(Array.from({ length: 300 }, (_, index) => `job-${index}`));
    expect(tally().peak).toBe(4);
    expect(tally().started).toHaveLength(300);
    expect(limiter.peak).toBe(4);
    expect([limiter.active, limiter.waiting]).toEqual([0, 0]);
  });

  it('a queued call honours its abort signal: it leaves the line and never starts', async () => {
    let open: () => void = () => {};
    (globalThis as Record<string, unknown>).keelTally = { active: 0, peak: 0, started: [], gate: new Promise<void>((resolve) => (open = resolve)) };
    const limiter = new ConcurrencyLimiter(1);
    const runner = createInProcessRunner({ concurrency: limiter });
    const first = runner.run({ kind: 'javascript', code: countingJob, input: 'first' }, { timeoutMs: 60_000 });
    const controller = new AbortController();
    const queued = runner.run({ kind: 'javascript', code: countingJob, input: 'queued' }, { timeoutMs: 60_000 }, controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(limiter.waiting).toBe(1);
    controller.abort();
    await expectKeelError(queued, 'cancelled');
    expect(limiter.waiting).toBe(0);
    open();
    expect((await first).value).toBe('first');
    expect(tally().started).toEqual(['first']);
  });

  it('a queued call honours its timeout: tool-timeout that says it never started', async () => {
    let open: () => void = () => {};
    (globalThis as Record<string, unknown>).keelTally = { active: 0, peak: 0, started: [], gate: new Promise<void>((resolve) => (open = resolve)) };
    const limiter = new ConcurrencyLimiter(1);
    const runner = createInProcessRunner({ concurrency: limiter });
    const first = runner.run({ kind: 'javascript', code: countingJob, input: 'first' }, { timeoutMs: 60_000 });
    const error = await expectKeelError(runner.run({ kind: 'javascript', code: countingJob, input: 'late' }, { timeoutMs: 150 }), 'tool-timeout', 'timeoutMs');
    expect(error.message).toContain('never started');
    open();
    await first;
    expect(tally().started).toEqual(['first']);
  });

  it('has a process-wide default of one slot per CPU, which can be configured', () => {
    expect(sandboxConcurrency('worker').limit).toBe(availableParallelism());
    configureSandboxConcurrency({ worker: 3 });
    expect(sandboxConcurrency('worker').limit).toBe(3);
    expect(() => configureSandboxConcurrency({ worker: 0 })).toThrow(/at least 1/);
  });
});

const bubblewrap = createBubblewrapRunner({ concurrency: new ConcurrencyLimiter(2) });
const bubblewrapAvailable = await bubblewrap.available();

describe.skipIf(!bubblewrapAvailable)(`bubblewrap concurrency${bubblewrapAvailable ? '' : ' (skipped: bubblewrap is not available here)'}`, () => {
  it('never has more sandboxes running than its limit: counted from the host process table', async () => {
    const marker = `concurrency-${process.pid}-${Date.now()}`;
    // One sandbox is one bwrap process started by this host process (its own children inside share the marker).
    const running = (): number => processesWithMarker(marker).filter((pid) => parentOf(pid) === process.pid).length;
    let most = 0;
    const poll = setInterval(() => (most = Math.max(most, running())), 10);
    try {
      const calls = Array.from({ length: 12 }, () => bubblewrap.run({ kind: 'command', argv: ['sh', '-c', `sleep 0.3 # ${marker}`] }, { timeoutMs: 60_000 }));
      const results = await Promise.all(calls);
      expect(results.every((result) => result.exitCode === 0)).toBe(true);
    } finally {
      clearInterval(poll);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
  });
});

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}
