import { KeelError } from '../errors/index.ts';
import type { GuardName, SessionBudget } from '../spec/events.ts';
import type { Usage } from '../spec/usage.ts';

/** A budget a tree of sessions shares: its root's, or a slice a parent gave a child. `null` is no limit of that kind. */
export interface BudgetLimits {
  /** Input, output and cache tokens of every model call in the tree, added together. */
  readonly tokens?: number;
  readonly costUsd?: number;
  /** Wall-clock time from the session's start; every descendant's deadline is at most its ancestors'. */
  readonly timeMs?: number;
}

/** Which budget tripped, whose it was, and which session's spending crossed it. */
export interface BudgetTrip {
  readonly guard: Extract<GuardName, 'tokens' | 'cost'>;
  readonly limit: number;
  readonly actual: number;
  readonly budgetSessionId: string;
  readonly spenderSessionId: string;
  readonly message: string;
}

interface Spending {
  tokens: number;
  costUsd: number;
}

export function tokensOf(usage: Usage): number {
  return usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
}

/**
 * The in-process ledger of one session in a tree: what its subtree has spent (its own model calls and its
 * descendants'), against its own budget. Every charge is added to the session and all its ancestors, so a child
 * draws from its parent's remainder and the root's budget bounds the whole tree. It is rebuilt from the journals on
 * resume: each session preloads what its journal says it spent, which its ancestors count too.
 * `keel.run(agent, { budget })` makes the root's; a workflow that runs agent steps makes one with `TreeBudget.root`.
 * @example
 * ```ts
 * const budget = TreeBudget.root(workflowSessionId, { tokens: 50_000, costUsd: 1 });
 * const child = keel.runChild({ agent, parentSessionId: workflowSessionId, callId: 'summarize', task, mode: 'step',
 *   heldScopes: [], deadlineAt: null, budget, slice: { tokens: 20_000, costUsd: null } });
 * ```
 */
export class TreeBudget {
  readonly sessionId: string;
  readonly limits: SessionBudget;
  private readonly parent: TreeBudget | null;
  private readonly spent: Spending = { tokens: 0, costUsd: 0 };
  /** The first session whose charge took this budget to its limit. */
  private crossedBy: string | null = null;

  private constructor(sessionId: string, limits: SessionBudget, parent: TreeBudget | null) {
    this.sessionId = sessionId;
    this.limits = limits;
    this.parent = parent;
  }

  /** The ledger of a root session (an agent run or a workflow) with its budget. */
  static root(sessionId: string, limits: SessionBudget): TreeBudget {
    checkLimits(limits, `Session ${sessionId}`);
    return new TreeBudget(sessionId, limits, null);
  }

  /**
   * The ledger of a child. A slice may be smaller than this session's budget, never larger: a larger one is refused
   * here, at delegation, since a child that could outspend its parent would escape the tree's bound.
   */
  child(sessionId: string, slice: SessionBudget | null): TreeBudget {
    const limits = slice ?? { tokens: null, costUsd: null };
    checkLimits(limits, `The budget slice of child session ${sessionId}`);
    for (const kind of ['tokens', 'costUsd'] as const) {
      const own = limits[kind];
      const bound = this.tightest(kind);
      if (own !== null && bound !== null && own > bound) {
        throw new KeelError(
          'invalid-config',
          `A child's ${kind === 'tokens' ? 'token' : 'cost'} budget (${own}) may not exceed its parent's (${bound}, session ${this.sessionId}): give the child a smaller slice or raise the root's budget.`,
          { details: { childSessionId: sessionId, parentSessionId: this.sessionId, kind, slice: own, parentBudget: bound } },
        );
      }
    }
    return new TreeBudget(sessionId, limits, this);
  }

  /** What this session spent before this process took it up (its journal's fold); its ancestors count it too. */
  preload(usage: Usage, costUsd: number | null): void {
    this.charge(usage, costUsd);
  }

  /** One model call of this session. */
  charge(usage: Usage, costUsd: number | null): void {
    const tokens = tokensOf(usage);
    for (const node of this.lineage()) {
      node.spent.tokens += tokens;
      node.spent.costUsd += costUsd ?? 0;
      if (node.crossedBy === null && node.exhausted() !== null) node.crossedBy = this.sessionId;
    }
  }

  /**
   * The first budget, from this session up to the root, that its tree has used up, counting `pending` (this session's
   * call about to be journaled) as spent; null while every one has room.
   */
  trip(pending?: { readonly usage: Usage; readonly costUsd: number | null }): BudgetTrip | null {
    const extra = pending === undefined ? { tokens: 0, costUsd: 0 } : { tokens: tokensOf(pending.usage), costUsd: pending.costUsd ?? 0 };
    for (const node of this.lineage()) {
      const kind = node.exhausted(extra);
      if (kind !== null) return node.tripOf(kind, extra, node.crossedBy ?? this.sessionId);
    }
    return null;
  }

  /** What is left of the tightest budget above and including this session, per kind; null when nothing bounds it. */
  remaining(): SessionBudget {
    const left = (kind: 'tokens' | 'costUsd'): number | null => {
      let least: number | null = null;
      for (const node of this.lineage()) {
        const limit = node.limits[kind];
        if (limit !== null) least = Math.min(least ?? Number.POSITIVE_INFINITY, Math.max(0, limit - node.spent[kind]));
      }
      return least;
    };
    return { tokens: left('tokens'), costUsd: left('costUsd') };
  }

  /** This session's subtree spending so far. */
  spending(): { readonly tokens: number; readonly costUsd: number } {
    return { ...this.spent };
  }

  /** This session's node, then its parent's, up to the root's. */
  private lineage(): TreeBudget[] {
    return this.parent === null ? [this] : [this, ...this.parent.lineage()];
  }

  private tightest(kind: 'tokens' | 'costUsd'): number | null {
    let least: number | null = null;
    for (const node of this.lineage()) {
      const limit = node.limits[kind];
      if (limit !== null) least = Math.min(least ?? Number.POSITIVE_INFINITY, limit);
    }
    return least;
  }

  private exhausted(extra: Spending = { tokens: 0, costUsd: 0 }): 'tokens' | 'costUsd' | null {
    if (this.limits.tokens !== null && this.spent.tokens + extra.tokens >= this.limits.tokens) return 'tokens';
    if (this.limits.costUsd !== null && this.spent.costUsd + extra.costUsd >= this.limits.costUsd) return 'costUsd';
    return null;
  }

  private tripOf(kind: 'tokens' | 'costUsd', extra: Spending, spender: string): BudgetTrip {
    const limit = this.limits[kind] ?? 0;
    const actual = this.spent[kind] + extra[kind];
    const figures = kind === 'tokens' ? `${actual} tokens of its budget of ${limit}` : `$${actual.toFixed(4)} of its budget of $${limit}`;
    return {
      guard: kind === 'tokens' ? 'tokens' : 'cost',
      limit,
      actual,
      budgetSessionId: this.sessionId,
      spenderSessionId: spender,
      message: `The session tree of ${this.sessionId} spent ${figures}; session ${spender} crossed it.`,
    };
  }
}

function checkLimits(limits: SessionBudget, owner: string): void {
  for (const [kind, value] of Object.entries(limits)) {
    if (value !== null && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new KeelError('invalid-config', `${owner}: budget ${kind} must be a positive finite number, got ${String(value)}.`);
    }
  }
}

/** The journal's form of a budget: every kind present, null for none. */
export function sessionBudgetOf(limits: BudgetLimits | undefined): SessionBudget | null {
  if (limits === undefined || (limits.tokens === undefined && limits.costUsd === undefined)) return null;
  return { tokens: limits.tokens ?? null, costUsd: limits.costUsd ?? null };
}
