import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { linkedSignal } from '../../src/util/abort.ts';

const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

describe('linkedSignal after the link became its own listener (probe H5)', () => {
  it('leaves no listener on its inputs after 10,000 links are disposed, and none behind on an input that aborted', () => {
    const session = new AbortController();
    const tool = new AbortController();
    for (let index = 0; index < 10_000; index += 1) {
      const link = linkedSignal([session.signal, undefined, tool.signal], 60_000);
      link.dispose();
    }
    expect(abortListeners(session.signal)).toBe(0);
    expect(abortListeners(tool.signal)).toBe(0);
    const link = linkedSignal([session.signal, tool.signal]);
    tool.abort(new Error('tool cancelled'));
    link.dispose();
    expect(abortListeners(session.signal)).toBe(0);
  });

  it("aborts with the reason of whichever input aborted, each link on its own", () => {
    const session = new AbortController();
    const first = new AbortController();
    const second = new AbortController();
    const a = linkedSignal([session.signal, first.signal]);
    const b = linkedSignal([session.signal, second.signal]);
    const reason = new Error('first cancelled');
    first.abort(reason);
    expect(a.signal.aborted).toBe(true);
    expect(a.signal.reason).toBe(reason);
    expect(b.signal.aborted).toBe(false);
    const sessionReason = new Error('session cancelled');
    session.abort(sessionReason);
    expect(b.signal.reason).toBe(sessionReason);
    // The link that aborted first keeps its own reason.
    expect(a.signal.reason).toBe(reason);
    a.dispose();
    b.dispose();
  });

  it('is aborted at once, with its reason, by an input already aborted, and then arms no timer and no listener', async () => {
    const done = new AbortController();
    const reason = new Error('already cancelled');
    done.abort(reason);
    const live = new AbortController();
    const link = linkedSignal([live.signal, done.signal], 5, () => new Error('timed out'));
    expect(link.signal.aborted).toBe(true);
    expect(link.signal.reason).toBe(reason);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(link.signal.reason).toBe(reason);
    link.dispose();
    expect(abortListeners(live.signal)).toBe(0);
  });

  it('times out with the given reason (or the default one), and not after dispose', async () => {
    const reason = new Error('tool timed out');
    const timed = linkedSignal([new AbortController().signal], 5, () => reason);
    const plain = linkedSignal([], 5);
    const disposed = linkedSignal([], 5, () => reason);
    disposed.dispose();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(timed.signal.reason).toBe(reason);
    expect(String(plain.signal.reason)).toContain('Timed out after 5 ms');
    expect(disposed.signal.aborted).toBe(false);
    timed.dispose();
    plain.dispose();
  });
});
