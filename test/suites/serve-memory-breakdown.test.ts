import { describe, expect, it } from 'vitest';
import { memoryBreakdown } from '../../bench/serve-load/memory-breakdown.ts';

// bench:serve explains the server's RSS with this breakdown; a parser that silently read nothing would report every
// part as 0 and hide where memory is.
describe.runIf(process.platform === 'linux')('bench:serve memory breakdown', () => {
  it('splits RSS into parts that add up to it, with the JS heap inside V8 pages', () => {
    const held = Array.from({ length: 20_000 }, (_unused, index) => ({ index, text: `value ${index}` }));
    const breakdown = memoryBreakdown();
    const smaps = breakdown.smaps;
    expect(smaps).not.toBeNull();
    if (smaps === null) return;
    const parts = smaps.fileBacked + smaps.mainArena + smaps.threadArenas + smaps.v8Pages + smaps.otherAnonymous;
    // process.memoryUsage() and /proc/self/smaps are read a moment apart: allow 10 %.
    expect(Math.abs(parts - breakdown.rss)).toBeLessThan(breakdown.rss * 0.1);
    expect(smaps.fileBacked).toBeGreaterThan(0);
    expect(smaps.mainArena).toBeGreaterThan(0);
    expect(smaps.v8Pages).toBeGreaterThan(breakdown.heapUsed * 0.5);
    expect(breakdown.heapTotal).toBeGreaterThanOrEqual(breakdown.heapUsed);
    expect(held.length).toBe(20_000);
  });
});
