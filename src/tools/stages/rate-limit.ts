import { checkTokenBucketLimit } from '../../security/token-bucket.ts';
import { normalizedNameMap, normalizeToolName } from '../../security/tool-name.ts';
import type { TokenBucketLimit } from '../../security/token-bucket.ts';
import type { RateLimitBucket, RateLimitStore } from '../../spec/rate-limit-store.ts';
import type { Clock } from '../../spec/clock.ts';
import { systemClock } from '../../util/index.ts';
import type { DecideStage, DecisionOutcome } from '../pipeline/tool-invocation.ts';
import { createMemoryRateLimitStore } from './memory-rate-limit-store.ts';

export interface RateLimitOptions {
  /** Calls of one tool by one agent. Defaults to a burst of 20, then 1 a second; null turns it off. */
  readonly perAgentTool?: TokenBucketLimit | null;
  /** Calls of any tool by one agent. Defaults to a burst of 60, then 2 a second; null turns it off. */
  readonly perAgent?: TokenBucketLimit | null;
  /**
   * A tighter or looser agent-tool limit for named tools, for example `{ send_email: { capacity: 5, refillPerSecond: 0.1 } }`.
   * Names match whatever the case, separators or invisible characters (`normalizeToolName`), and so do the buckets:
   * `Send-Email` and `send_email` draw from one.
   */
  readonly tools?: Readonly<Record<string, TokenBucketLimit>>;
  /**
   * Where the buckets live. Defaults to this process's memory (one set per stage); a store shared by several processes
   * makes the limits hold across them.
   */
  readonly store?: RateLimitStore;
  /** Only `monotonic` is read: wall-clock steps must not refill or drain a bucket. */
  readonly clock?: Pick<Clock, 'monotonic'>;
}

export const defaultAgentToolLimit: TokenBucketLimit = { capacity: 20, refillPerSecond: 1 };
export const defaultAgentLimit: TokenBucketLimit = { capacity: 60, refillPerSecond: 2 };

/** A rate-limit denial also carries the wait in numbers, for a caller that sets `retryAfterMs` on the model's error. */
export interface RateLimitDenial extends DecisionOutcome {
  readonly decision: 'deny';
  readonly rule: 'rate-limit:agent-tool' | 'rate-limit:agent';
  readonly retryAfterMs: number;
}

interface Shortfall {
  readonly rule: 'rate-limit:agent-tool' | 'rate-limit:agent';
  readonly waitMs: number;
  readonly limit: TokenBucketLimit;
}

/**
 * The rate-limit stage: token buckets per (agent, tool) and per agent, shared by
 * every session this stage serves, which is what stops a runaway agent. Over a limit the call is
 * denied with a reason that says when to retry: a result the model reads and can wait out, not an
 * exception. A call takes a token from both buckets or from neither, so a denial costs nothing.
 * Buckets live in a `RateLimitStore`: process memory unless `store` names a shared one.
 */
export function createRateLimitStage(options: RateLimitOptions = {}): DecideStage {
  const agentToolLimit = options.perAgentTool === null ? null : checkTokenBucketLimit(options.perAgentTool ?? defaultAgentToolLimit, 'perAgentTool');
  const agentLimit = options.perAgent === null ? null : checkTokenBucketLimit(options.perAgent ?? defaultAgentLimit, 'perAgent');
  const toolLimits = normalizedNameMap(Object.entries(options.tools ?? {}).map(([tool, limit]) => [tool, checkTokenBucketLimit(limit, `tools.${tool}`)] as const), 'Rate limit tools', (a, b) => a.capacity === b.capacity && a.refillPerSecond === b.refillPerSecond);
  const clock = options.clock ?? systemClock;
  const store = options.store ?? createMemoryRateLimitStore();

  return async (invocation, next) => {
    const now = clock.monotonic();
    const agent = invocation.agent.name;
    const tool = invocation.tool.name;
    const toolKey = normalizeToolName(tool);
    const perTool = toolLimits.get(toolKey) ?? agentToolLimit;
    const checks: { rule: Shortfall['rule']; bucket: RateLimitBucket }[] = [];
    // Keys are JSON under a prefix, so that no agent or tool name, whatever characters it holds, can collide with another.
    if (perTool !== null) checks.push({ rule: 'rate-limit:agent-tool', bucket: { key: `agent-tool:${JSON.stringify([agent, toolKey])}`, limit: perTool } });
    if (agentLimit !== null) checks.push({ rule: 'rate-limit:agent', bucket: { key: `agent:${JSON.stringify(agent)}`, limit: agentLimit } });
    if (checks.length === 0) return next();

    const taken = await store.take({ buckets: checks.map((check) => check.bucket), now });
    if (!taken.allowed) {
      const shortfalls: Shortfall[] = checks.flatMap((check, index) => {
        const waitMs = taken.retryAfterMs[index] ?? 0;
        return waitMs > 0 ? [{ rule: check.rule, waitMs, limit: check.bucket.limit }] : [];
      });
      // The longest wait is the one that decides when a retry can succeed; a store that denies without naming a
      // wait still yields a denial (retry in 1 ms), never a crash.
      const first = checks[0] as (typeof checks)[number];
      const named = shortfalls.length > 0 ? shortfalls : [{ rule: first.rule, waitMs: 1, limit: first.bucket.limit }];
      const worst = named.reduce((longest, shortfall) => (shortfall.waitMs > longest.waitMs ? shortfall : longest));
      return denial(worst, agent, tool);
    }
    return next();
  };
}

function denial(shortfall: Shortfall, agent: string, tool: string): RateLimitDenial {
  const { capacity, refillPerSecond } = shortfall.limit;
  const pace = `${formatCount(capacity)} calls at once, then ${formatCount(refillPerSecond)} per second`;
  const what = shortfall.rule === 'rate-limit:agent-tool' ? `calls of tool "${tool}" by agent "${agent}"` : `tool calls by agent "${agent}"`;
  return {
    decision: 'deny',
    rule: shortfall.rule,
    reason: `Rate limit reached for ${what} (${pace}); retry in ${formatWait(shortfall.waitMs)}, or do something else meanwhile.`,
    retryAfterMs: shortfall.waitMs,
  };
}

export function formatWait(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.max(1, Math.ceil(milliseconds))} ms`;
  const seconds = Math.ceil(milliseconds / 100) / 10;
  return `${seconds.toFixed(1)} seconds`;
}

function formatCount(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(3)));
}
