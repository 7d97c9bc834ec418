// The provider-limit store port: the gateway's per-account rate-limit buckets, its priority queue and the admission
// budgets. In process by default; shared by several processes through Redis. One contract suite covers both.

/** A provider account's per-minute limits. An absent one is not limited (until the provider's headers name it). */
export interface ProviderLimits {
  readonly requestsPerMinute?: number;
  readonly inputTokensPerMinute?: number;
  readonly outputTokensPerMinute?: number;
  /** Input and output together, as OpenAI's `x-ratelimit-*-tokens` counts them. */
  readonly tokensPerMinute?: number;
}

/** The dimensions an account is limited in. `tokens` is input plus output. */
export type LimitDimension = 'requests' | 'inputTokens' | 'outputTokens' | 'tokens';

export const limitDimensions: readonly LimitDimension[] = ['requests', 'inputTokens', 'outputTokens', 'tokens'];

/** What one call takes from each bucket: estimated before it is sent, corrected after it from the usage. */
export type LimitCost = Readonly<Record<LimitDimension, number>>;

/**
 * Queue lanes, served in this order: calls of running sessions before calls that would start a new session,
 * interactive before batch within each.
 */
export type QueueLane = 0 | 1 | 2 | 3;

export interface AcquireLimitRequest {
  readonly account: string;
  /** One waiting call; it enters the queue on its first acquire and leaves it when granted or cancelled. */
  readonly ticket: string;
  readonly lane: QueueLane;
  readonly cost: LimitCost;
  /** The configured limits; a lower limit learned from the provider's headers takes precedence. */
  readonly limits: ProviderLimits;
  /** The caller's wall-clock milliseconds. An in-process store uses it; a shared store uses its own time. */
  readonly now: number;
}

export interface AcquireLimitResult {
  /** The cost was taken from every bucket and the ticket left the queue. */
  readonly granted: boolean;
  /** When not granted: the store's estimate of how long until this ticket's turn, in milliseconds. */
  readonly waitMs: number;
  /** 0-based place in the queue (0 when granted). */
  readonly position: number;
  readonly queueLength: number;
  /** Other waiters this step granted while they slept: their holders should look again at once. */
  readonly grantedOthers: readonly string[];
}

/** What the provider said about one bucket: its limit, what remains, and how long until it is full again. */
export interface BucketReading {
  readonly limit?: number;
  readonly remaining: number;
  readonly resetInMs?: number;
}

export interface ObserveLimitRequest {
  readonly account: string;
  readonly readings: Readonly<Partial<Record<LimitDimension, BucketReading>>>;
  /** A 429's `retry-after`: nothing is granted on this account before it has passed. */
  readonly blockForMs?: number;
  readonly now: number;
}

export interface SettleLimitRequest {
  readonly account: string;
  /** What was taken at acquire. */
  readonly reserved: LimitCost;
  /** What the call really used: the difference is given back (or taken, when the estimate was low). */
  readonly actual: LimitCost;
  readonly now: number;
}

/** A token budget over a fixed window: `tokens` may be spent per `windowMs`, counted from the Unix epoch. */
export interface WindowBudget {
  readonly tokens: number;
  readonly windowMs: number;
}

export interface BudgetState {
  readonly spent: number;
  /** Milliseconds until the current window ends and the budget is whole again. */
  readonly resetInMs: number;
}

export interface ProviderLimitStore {
  /** Atomic: the queue is served in lane order, and nothing is granted past a waiting call of an earlier lane. */
  acquire(request: AcquireLimitRequest): Promise<AcquireLimitResult>;
  /** Removes a ticket that gave up waiting (cancelled, deadline, maximum wait). Harmless for an unknown ticket. */
  cancel(account: string, ticket: string): Promise<void>;
  settle(request: SettleLimitRequest): Promise<void>;
  /** Keeps the buckets in step with the provider's headers: never above what the provider says remains. */
  observe(request: ObserveLimitRequest): Promise<void>;
  queueLength(account: string, now: number): Promise<number>;
  /** Adds spent tokens to a budget's current window (keyed `global` or `tenant:<name>`). */
  spend(key: string, budget: WindowBudget, tokens: number, now: number): Promise<void>;
  budget(key: string, budget: WindowBudget, now: number): Promise<BudgetState>;
  /**
   * Shared stores only: calls `listener` with an account's name whenever another process may have freed capacity
   * there or moved its queue, so waiters wake before their next poll. Returns the unsubscribe function.
   */
  watch?(listener: (account: string, granted: readonly string[]) => void): () => void;
  close(): Promise<void>;
}
