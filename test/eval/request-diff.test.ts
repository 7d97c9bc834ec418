import { describe, expect, it } from 'vitest';
import { diffLines, prettyRequest } from '../../src/eval/request-diff.ts';

describe('the diff of two requests', () => {
  it('shows the changed lines with context, and a long line around its first difference', () => {
    const long = 'x'.repeat(5_000);
    const recorded = prettyRequest(JSON.stringify({ system: `${long} keep refunds small`, messages: ['a', 'b'] }));
    const sent = prettyRequest(JSON.stringify({ system: `${long} refund everything`, messages: ['a', 'b'] }));
    const diff = diffLines(recorded, sent);
    expect(diff).toMatch(/^@@ line 2: 1 recorded line, 1 sent now @@/);
    expect(diff).toMatch(/^- …x+ keep refunds small",$/m);
    expect(diff).toMatch(/^\+ …x+ refund everything",$/m);
    expect(diff).toContain('  {');
    expect(diffLines('{\n  "a": 1\n}', '{\n  "a": 1\n}')).toBe('(the two requests are identical)');
  });

  it('caps what it shows of a large difference', () => {
    const before = Array.from({ length: 500 }, (_, index) => `line ${index}`).join('\n');
    const after = Array.from({ length: 500 }, (_, index) => `row ${index}`).join('\n');
    const diff = diffLines(before, after);
    expect(diff).toContain('- … 460 more lines');
    expect(diff).toContain('+ … 460 more lines');
    expect(diff.split('\n').length).toBeLessThan(100);
  });
});
