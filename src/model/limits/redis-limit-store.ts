import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { KeelError } from '../../errors/index.ts';
import { limitDimensions } from '../../spec/provider-limits.ts';
import type { AcquireLimitRequest, AcquireLimitResult, BudgetState, LimitCost, ObserveLimitRequest, ProviderLimits, ProviderLimitStore, SettleLimitRequest, WindowBudget } from '../../spec/provider-limits.ts';
import { connectRedis } from '../redis-connection.ts';
import { queueTuning } from './queue-tuning.ts';
import { acquireScript, budgetScript, cancelScript, observeScript, queueLengthScript, settleScript } from './redis-limit-scripts.ts';

export interface RedisLimitStoreOptions {
  /** `redis://host:port/db`; `KEEL_REDIS_URL` in the composition root. */
  readonly url?: string;
  /** A connection made by the caller; it is not closed by `close()`. */
  readonly client?: Redis;
  /** Prefix of every key, so several deployments can share one Redis. Default `keel:limits`. */
  readonly prefix?: string;
}

/** Idle account state expires after this long: by then every bucket has long refilled to full. */
const expireMs = 600_000;

const limitFields: readonly (keyof ProviderLimits)[] = ['requestsPerMinute', 'inputTokensPerMinute', 'outputTokensPerMinute', 'tokensPerMinute'];

/**
 * Buckets, queues and budgets in Redis, shared by every process that uses the same server and prefix. Each operation
 * is one Lua script, so it is atomic across processes; time is the server's own.
 * @example
 * ```ts
 * const limitStore = createRedisLimitStore({ url: 'redis://127.0.0.1:6379' });
 * const keel = createKeel({ modelLimits: { store: limitStore, accounts: { anthropic: { requestsPerMinute: 50 } } } });
 * ```
 */
export function createRedisLimitStore(options: RedisLimitStoreOptions): ProviderLimitStore {
  if (options.client === undefined && options.url === undefined) {
    throw new KeelError('invalid-config', 'The Redis limit store needs a url (KEEL_REDIS_URL, e.g. redis://127.0.0.1:6379) or a client.');
  }
  const client = options.client ?? connectRedis(options.url as string, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
  const owned = options.client === undefined;
  // Connection errors reach callers as storage-failure from the command that met them; the event itself is not news.
  if (owned) client.on('error', () => undefined);
  const prefix = options.prefix ?? 'keel:limits';
  // Braces make every key of one account hash to the same Redis Cluster slot.
  const keys = (account: string): string[] => ['S', 'Q', 'W', 'L', 'G'].map((kind) => `${prefix}:{${account}}:${kind}`);

  const channel = `${prefix}:wake`;
  let subscriber: Redis | undefined;
  const listeners = new Set<(account: string, granted: readonly string[]) => void>();
  // Telling the other processes is best effort: a missed wake-up only means a waiter polls at its own time.
  // The message is the account, then the tickets granted while they slept, separated by newlines.
  const announce = (account: string, granted: readonly string[] = []): void => {
    client.publish(channel, [account, ...granted].join('\n')).catch(() => undefined);
  };

  // Scripts go by their SHA1 (EVALSHA); the text is sent only when the server does not have it cached yet.
  const shas = new Map<string, string>();
  const shaOf = (script: string): string => {
    let sha = shas.get(script);
    if (sha === undefined) {
      sha = createHash('sha1').update(script).digest('hex');
      shas.set(script, sha);
    }
    return sha;
  };

  async function run(script: string, keyList: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const parameters = [...keyList, ...args.map(String)];
    try {
      try {
        return await client.evalsha(shaOf(script), keyList.length, ...parameters);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return await client.eval(script, keyList.length, ...parameters);
      }
    } catch (error) {
      throw new KeelError('storage-failure', `The Redis limit store failed: ${error instanceof Error ? error.message : String(error)}. Check that Redis is reachable (KEEL_REDIS_URL).`, { cause: error });
    }
  }

  return {
    async acquire(request: AcquireLimitRequest): Promise<AcquireLimitResult> {
      const limits = limitFields.map((field) => request.limits[field] ?? -1);
      const cost = limitDimensions.map((dimension) => request.cost[dimension]);
      const result = (await run(acquireScript, keys(request.account), [
        request.ticket,
        request.lane,
        ...cost,
        ...limits,
        queueTuning.staleAfterMs,
        queueTuning.grantsPerCall,
        expireMs,
      ])) as [number, number, number, number, unknown];
      const grantedOthers = Array.isArray(result[4]) ? result[4].map(String) : [];
      if (grantedOthers.length > 0) announce(request.account, grantedOthers);
      return { granted: result[0] === 1, waitMs: Number(result[1]), position: Number(result[2]), queueLength: Number(result[3]), grantedOthers };
    },

    async cancel(account: string, ticket: string): Promise<void> {
      await run(cancelScript, keys(account), [ticket]);
      announce(account);
    },

    async settle(request: SettleLimitRequest): Promise<void> {
      await run(settleScript, keys(request.account).slice(0, 1), [...costArguments(request.reserved), ...costArguments(request.actual)]);
      announce(request.account);
    },

    async observe(request: ObserveLimitRequest): Promise<void> {
      const args: number[] = [];
      for (const dimension of limitDimensions) {
        const reading = request.readings[dimension];
        args.push(reading?.limit ?? -1, reading?.remaining ?? -1, reading?.resetInMs ?? -1);
      }
      args.push(request.blockForMs ?? -1);
      await run(observeScript, keys(request.account).slice(0, 1), args);
    },

    async queueLength(account: string): Promise<number> {
      return Number(await run(queueLengthScript, keys(account).slice(0, 4), [queueTuning.staleAfterMs]));
    },

    async spend(key: string, budget: WindowBudget, tokens: number): Promise<void> {
      const whole = Math.round(tokens);
      if (whole > 0) await run(budgetScript, [`${prefix}:budget:{${key}}`], [budget.windowMs, whole]);
    },

    async budget(key: string, budget: WindowBudget): Promise<BudgetState> {
      const result = (await run(budgetScript, [`${prefix}:budget:{${key}}`], [budget.windowMs, 0])) as number[];
      return { spent: Number(result[0]), resetInMs: Number(result[1]) };
    },

    watch(listener: (account: string, granted: readonly string[]) => void): () => void {
      listeners.add(listener);
      if (subscriber === undefined) {
        subscriber = client.duplicate();
        subscriber.on('error', () => undefined);
        subscriber.on('message', (_channel: string, message: string) => {
          const [account = '', ...granted] = message.split('\n');
          for (const each of listeners) each(account, granted);
        });
        subscriber.subscribe(channel).catch(() => undefined);
      }
      return () => listeners.delete(listener);
    },

    async close(): Promise<void> {
      listeners.clear();
      if (subscriber !== undefined) await subscriber.quit().catch(() => subscriber?.disconnect());
      if (owned) await client.quit().catch(() => client.disconnect());
    },
  };
}

function costArguments(cost: LimitCost): number[] {
  return limitDimensions.map((dimension) => cost[dimension]);
}
