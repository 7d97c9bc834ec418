import type { ProviderLimitStore } from '../../spec/provider-limits.ts';
import type { ModelLimiterOptions } from './model-limiter.ts';

/**
 * `createKeel({ modelLimits })`: the gateway's rate limits, priority queue and admission control. The store is Redis
 * when `redisUrl` (else `KEEL_REDIS_URL`) is set, so that every process sharing the accounts shares the buckets and
 * the queue; in this process otherwise.
 * @example
 * ```ts
 * const keel = createKeel({
 *   modelLimits: {
 *     accounts: { anthropic: { requestsPerMinute: 4_000, inputTokensPerMinute: 400_000, outputTokensPerMinute: 80_000 } },
 *     admission: { tenantBudget: { tokens: 2_000_000, windowMs: 3_600_000 }, maxQueueLength: 500 },
 *   },
 * });
 * keel.run(agent, { task: 'Summarise the incident.', priority: 'batch', tenant: 'acme' });
 * ```
 */
export interface ModelLimitsOptions extends Omit<ModelLimiterOptions, 'clock' | 'random' | 'ownsStore'> {
  /** A store given directly (for example `createRedisLimitStore({ client })`); not given together with `redisUrl`. */
  readonly store?: ProviderLimitStore;
  /** `redis://host:port/db`: buckets and queues shared through Redis. Else `KEEL_REDIS_URL`. */
  readonly redisUrl?: string;
}
