import type { Redis } from 'ioredis';
import { KeelError } from '../errors/index.ts';
import type { CachedModelResponse, ResponseCacheStore } from '../spec/response-cache.ts';
import { connectRedis } from './redis-connection.ts';

export interface RedisResponseCacheOptions {
  /** `redis://host:port/db`; `KEEL_REDIS_URL` in the composition root. */
  readonly url?: string;
  /** A connection made by the caller; it is not closed by `close()`. */
  readonly client?: Redis;
  /** Prefix of every key, so several deployments can share one Redis. Default `keel:response-cache`. */
  readonly prefix?: string;
}

/**
 * The response cache in Redis, shared by every process on the same server and prefix; Redis expires the entries.
 * @example
 * ```ts
 * const planner = withResponseCache(model, { store: createRedisResponseCache({ url: process.env.KEEL_REDIS_URL }) });
 * ```
 */
export function createRedisResponseCache(options: RedisResponseCacheOptions): ResponseCacheStore {
  if (options.client === undefined && options.url === undefined) {
    throw new KeelError('invalid-config', 'The Redis response cache needs a url (KEEL_REDIS_URL, e.g. redis://127.0.0.1:6379) or a client.');
  }
  const client = options.client ?? connectRedis(options.url as string, { maxRetriesPerRequest: 2, enableOfflineQueue: true });
  const owned = options.client === undefined;
  // Connection errors reach callers from the command that met them.
  if (owned) client.on('error', () => undefined);
  const prefix = options.prefix ?? 'keel:response-cache';
  const failure = (action: string, error: unknown): KeelError =>
    new KeelError('storage-failure', `${action} in Redis failed: ${error instanceof Error ? error.message : String(error)}. Check KEEL_REDIS_URL and that the server is up.`, { cause: error, retryable: true });

  return {
    async get(key) {
      let text: string | null;
      try {
        text = await client.get(`${prefix}:${key}`);
      } catch (error) {
        throw failure('Reading the response cache', error);
      }
      return text === null ? undefined : (JSON.parse(text) as CachedModelResponse);
    },
    async set(key, value, ttlMs) {
      try {
        await client.set(`${prefix}:${key}`, JSON.stringify(value), 'PX', Math.max(1, Math.round(ttlMs)));
      } catch (error) {
        throw failure('Writing the response cache', error);
      }
    },
    async close() {
      if (owned) client.disconnect();
    },
  };
}
