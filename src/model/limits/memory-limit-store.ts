import { limitDimensions } from '../../spec/provider-limits.ts';
import type {
  AcquireLimitRequest,
  AcquireLimitResult,
  BudgetState,
  LimitCost,
  LimitDimension,
  ObserveLimitRequest,
  ProviderLimits,
  ProviderLimitStore,
  QueueLane,
  SettleLimitRequest,
  WindowBudget,
} from '../../spec/provider-limits.ts';
import { queueTuning, waitEstimate, type BucketView } from './queue-tuning.ts';

interface Bucket {
  tokens: number;
  updatedAt: number;
  learnedLimit: number | undefined;
  configuredLimit: number | undefined;
  /** When a call was taken from the bucket full: it does not refill until a call settles or is observed (queueTuning.maxRefillHoldMs). */
  heldSince?: number | undefined;
}

interface Waiter {
  readonly ticket: string;
  readonly lane: QueueLane;
  readonly seq: number;
  readonly cost: LimitCost;
  lastSeen: number;
}

interface Account {
  readonly buckets: Map<LimitDimension, Bucket>;
  /** Sorted by (lane, seq): the head is served first. */
  queue: Waiter[];
  /** Tickets granted while their holders slept, with the time of the grant. */
  readonly granted: Map<string, number>;
  blockedUntil: number;
  seq: number;
}

const configured: Readonly<Record<LimitDimension, keyof ProviderLimits>> = {
  requests: 'requestsPerMinute',
  inputTokens: 'inputTokensPerMinute',
  outputTokens: 'outputTokensPerMinute',
  tokens: 'tokensPerMinute',
};

/** The lower of the configured limit and the one the provider's headers named; undefined when neither is known. */
export function effectiveLimit(configuredLimit: number | undefined, learnedLimit: number | undefined): number | undefined {
  if (configuredLimit === undefined) return learnedLimit;
  if (learnedLimit === undefined) return configuredLimit;
  return Math.min(configuredLimit, learnedLimit);
}

/**
 * Token buckets per account (refilled continuously, a minute's limit per minute, as the providers refill theirs)
 * and a lane-ordered queue, in this process. The algorithm is the same as the Redis store's Lua scripts.
 */
export function createMemoryLimitStore(): ProviderLimitStore {
  const accounts = new Map<string, Account>();
  const budgets = new Map<string, { window: number; spent: number }>();

  function account(name: string): Account {
    let found = accounts.get(name);
    if (found === undefined) {
      found = { buckets: new Map(), queue: [], granted: new Map(), blockedUntil: 0, seq: 0 };
      accounts.set(name, found);
    }
    return found;
  }

  /** Refills every bucket to `now`; returns the limited ones with their capacity. */
  function refill(state: Account, limits: ProviderLimits | undefined, now: number): Map<LimitDimension, BucketView> {
    const views = new Map<LimitDimension, BucketView>();
    for (const dimension of limitDimensions) {
      let bucket = state.buckets.get(dimension);
      const configuredLimit = limits === undefined ? bucket?.configuredLimit : limits[configured[dimension]];
      const capacity = effectiveLimit(configuredLimit, bucket?.learnedLimit);
      if (capacity === undefined || capacity <= 0) continue;
      if (bucket === undefined) {
        bucket = { tokens: capacity, updatedAt: now, learnedLimit: undefined, configuredLimit };
        state.buckets.set(dimension, bucket);
      }
      bucket.configuredLimit = configuredLimit;
      if (bucket.heldSince !== undefined && now - bucket.heldSince >= queueTuning.maxRefillHoldMs) bucket.heldSince = undefined;
      const elapsed = bucket.heldSince === undefined ? Math.max(0, now - bucket.updatedAt) : 0;
      bucket.tokens = Math.min(capacity, bucket.tokens + (elapsed * capacity) / 60_000);
      bucket.updatedAt = Math.max(bucket.updatedAt, now);
      views.set(dimension, { tokens: bucket.tokens, capacity });
    }
    return views;
  }

  function fits(views: Map<LimitDimension, BucketView>, cost: LimitCost): boolean {
    for (const [dimension, view] of views) {
      // A call larger than the whole bucket goes when the bucket is full, rather than never.
      if (view.tokens < Math.min(cost[dimension], view.capacity)) return false;
    }
    return true;
  }

  function take(state: Account, views: Map<LimitDimension, BucketView>, cost: LimitCost, now: number): void {
    for (const [dimension, view] of views) {
      const bucket = state.buckets.get(dimension) as Bucket;
      // The provider's bucket is full too, and refills nothing until this call reaches it.
      if (cost[dimension] > 0 && bucket.tokens >= view.capacity) bucket.heldSince = now;
      bucket.tokens -= cost[dimension];
      view.tokens = bucket.tokens;
    }
  }

  /** A call settled or its response was observed: the provider has seen calls again, and held buckets refill. */
  function release(state: Account): void {
    for (const bucket of state.buckets.values()) bucket.heldSince = undefined;
  }

  function dropStale(state: Account, now: number): void {
    const stale = (waiter: Waiter): boolean => now - waiter.lastSeen > queueTuning.staleAfterMs;
    if (state.queue.some(stale)) state.queue = state.queue.filter((waiter) => !stale(waiter));
    for (const [ticket, at] of state.granted) if (now - at > queueTuning.staleAfterMs) state.granted.delete(ticket);
  }

  return {
    async acquire(request: AcquireLimitRequest): Promise<AcquireLimitResult> {
      const { now } = request;
      const state = account(request.account);
      if (state.granted.delete(request.ticket)) return { granted: true, waitMs: 0, position: 0, queueLength: state.queue.length, grantedOthers: [] };
      dropStale(state, now);
      let own = state.queue.find((waiter) => waiter.ticket === request.ticket);
      if (own === undefined) {
        state.seq += 1;
        own = { ticket: request.ticket, lane: request.lane, seq: state.seq, cost: request.cost, lastSeen: now };
        const place = state.queue.findIndex((waiter) => waiter.lane > request.lane);
        state.queue.splice(place === -1 ? state.queue.length : place, 0, own);
      }
      own.lastSeen = now;
      const views = refill(state, request.limits, now);
      let ownGranted = false;
      const grantedOthers: string[] = [];
      if (now >= state.blockedUntil) {
        for (let served = 0; served < queueTuning.grantsPerCall && state.queue.length > 0; served += 1) {
          const head = state.queue[0] as Waiter;
          if (!fits(views, head.cost)) break;
          take(state, views, head.cost, now);
          state.queue.shift();
          if (head.ticket === request.ticket) ownGranted = true;
          else {
            state.granted.set(head.ticket, now);
            grantedOthers.push(head.ticket);
          }
        }
      }
      if (ownGranted) return { granted: true, waitMs: 0, position: 0, queueLength: state.queue.length, grantedOthers };
      const position = state.queue.indexOf(own);
      const ahead = sumCosts(state.queue, position);
      return { granted: false, waitMs: waitEstimate({ views, ahead, own: own.cost, blockedForMs: state.blockedUntil - now }), position, queueLength: state.queue.length, grantedOthers };
    },

    async cancel(accountName: string, ticket: string): Promise<void> {
      const state = accounts.get(accountName);
      if (state === undefined) return;
      state.queue = state.queue.filter((waiter) => waiter.ticket !== ticket);
      state.granted.delete(ticket);
    },

    async settle(request: SettleLimitRequest): Promise<void> {
      const state = account(request.account);
      const views = refill(state, undefined, request.now);
      release(state);
      for (const [dimension, view] of views) {
        const bucket = state.buckets.get(dimension) as Bucket;
        bucket.tokens = Math.min(view.capacity, bucket.tokens + request.reserved[dimension] - request.actual[dimension]);
      }
    },

    async observe(request: ObserveLimitRequest): Promise<void> {
      const state = account(request.account);
      for (const dimension of limitDimensions) {
        const reading = request.readings[dimension];
        if (reading === undefined) continue;
        let bucket = state.buckets.get(dimension);
        if (bucket === undefined) {
          bucket = { tokens: reading.limit ?? reading.remaining, updatedAt: request.now, learnedLimit: undefined, configuredLimit: undefined };
          state.buckets.set(dimension, bucket);
        }
        if (reading.limit !== undefined && reading.limit > 0) bucket.learnedLimit = reading.limit;
      }
      const views = refill(state, undefined, request.now);
      release(state);
      for (const [dimension, view] of views) {
        const reading = request.readings[dimension];
        if (reading === undefined) continue;
        const bucket = state.buckets.get(dimension) as Bucket;
        bucket.tokens = Math.min(bucket.tokens, reading.remaining, readingImpliedTokens(reading, view.capacity));
      }
      if (request.blockForMs !== undefined && request.blockForMs > 0) state.blockedUntil = Math.max(state.blockedUntil, request.now + request.blockForMs);
    },

    async queueLength(accountName: string, now: number): Promise<number> {
      const state = accounts.get(accountName);
      if (state === undefined) return 0;
      dropStale(state, now);
      return state.queue.length;
    },

    async spend(key: string, budget: WindowBudget, tokens: number, now: number): Promise<void> {
      const window = Math.floor(now / budget.windowMs);
      const current = budgets.get(key);
      if (current === undefined || current.window !== window) budgets.set(key, { window, spent: tokens });
      else current.spent += tokens;
    },

    async budget(key: string, budget: WindowBudget, now: number): Promise<BudgetState> {
      const window = Math.floor(now / budget.windowMs);
      const current = budgets.get(key);
      const spent = current !== undefined && current.window === window ? current.spent : 0;
      return { spent, resetInMs: (window + 1) * budget.windowMs - now };
    },

    async close(): Promise<void> {
      accounts.clear();
      budgets.clear();
    },
  };
}

/** A reset time says how far from full the bucket is: under a minute's refill, that many tokens are missing. */
export function readingImpliedTokens(reading: { readonly resetInMs?: number }, capacity: number): number {
  if (reading.resetInMs === undefined || !Number.isFinite(reading.resetInMs)) return Number.POSITIVE_INFINITY;
  return capacity - (Math.max(0, reading.resetInMs) * capacity) / 60_000;
}

/** The summed cost of the first `count` waiters. */
function sumCosts(waiters: readonly Waiter[], count: number): LimitCost {
  const total = { requests: 0, inputTokens: 0, outputTokens: 0, tokens: 0 };
  for (let index = 0; index < count; index += 1) {
    const cost = (waiters[index] as Waiter).cost;
    total.requests += cost.requests;
    total.inputTokens += cost.inputTokens;
    total.outputTokens += cost.outputTokens;
    total.tokens += cost.tokens;
  }
  return total;
}
