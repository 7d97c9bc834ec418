import { describe, expect, it } from 'vitest';
import { TreeBudget } from '../../src/loop/index.ts';
import { isKeelError } from '../../src/errors/index.ts';

const usage = (tokens: number) => ({ inputTokens: tokens, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });

describe('TreeBudget', () => {
  it('charges a session and every ancestor, so a child draws from what the root has left', () => {
    const root = TreeBudget.root('root', { tokens: 1_000, costUsd: null });
    const child = root.child('child', { tokens: 600, costUsd: null });
    const grandchild = child.child('grandchild', null);
    grandchild.charge(usage(300), null);
    root.charge(usage(200), null);
    expect(root.spending().tokens).toBe(500);
    expect(child.spending().tokens).toBe(300);
    // The child's own slice has 300 left, the root 500: the tighter one bounds it.
    expect(child.remaining().tokens).toBe(300);
    expect(grandchild.remaining().tokens).toBe(300);
    root.charge(usage(300), null);
    expect(grandchild.remaining().tokens).toBe(200);
  });

  it('trips every descendant once the root is used up, naming the root and the spender', () => {
    const root = TreeBudget.root('root', { tokens: 1_000, costUsd: null });
    const first = root.child('first', null);
    const second = root.child('second', null);
    first.charge(usage(999), null);
    expect(second.trip()).toBeNull();
    // A pending response is counted before it is journaled: the session that would cross is the spender.
    expect(second.trip({ usage: usage(1), costUsd: null })).toMatchObject({ guard: 'tokens', limit: 1_000, actual: 1_000, budgetSessionId: 'root', spenderSessionId: 'second' });
    second.charge(usage(5), null);
    for (const node of [root, first, second]) expect(node.trip()).toMatchObject({ guard: 'tokens', actual: 1_004, budgetSessionId: 'root', spenderSessionId: 'second' });
  });

  it('trips a child on its own slice while the root still has room', () => {
    const root = TreeBudget.root('root', { tokens: null, costUsd: 1 });
    const child = root.child('child', { tokens: null, costUsd: 0.25 });
    child.charge(usage(10), 0.3);
    expect(child.trip()).toMatchObject({ guard: 'cost', limit: 0.25, budgetSessionId: 'child', spenderSessionId: 'child' });
    expect(root.trip()).toBeNull();
  });

  it('refuses a slice larger than the parent budget, and budgets that are not positive', () => {
    const root = TreeBudget.root('root', { tokens: 1_000, costUsd: null });
    const refuse = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return isKeelError(error, 'invalid-config');
      }
      return false;
    };
    expect(refuse(() => root.child('child', { tokens: 1_001, costUsd: null }))).toBe(true);
    expect(refuse(() => root.child('child', { tokens: 0, costUsd: null }))).toBe(true);
    expect(refuse(() => TreeBudget.root('root', { tokens: Number.NaN, costUsd: null }))).toBe(true);
    // A cost slice under a root with no cost budget is the child's own bound.
    expect(root.child('child', { tokens: 500, costUsd: 2 }).limits).toEqual({ tokens: 500, costUsd: 2 });
  });

  it('rebuilds from journals on resume: what a session spent before is preloaded and counts for its ancestors', () => {
    const root = TreeBudget.root('root', { tokens: 1_000, costUsd: null });
    root.preload(usage(400), null);
    const child = root.child('child', null);
    child.preload(usage(500), null);
    expect(root.spending().tokens).toBe(900);
    expect(child.remaining().tokens).toBe(100);
  });
});
