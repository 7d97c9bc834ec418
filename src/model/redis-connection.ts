import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';

/**
 * A new ioredis connection. ioredis is loaded here, when a Redis-backed store is built, not when Keel is imported:
 * most processes never use Redis, and the client with its dependencies costs every one of them memory and start time.
 */
export function connectRedis(url: string, options: RedisOptions): Redis {
  const ioredis = createRequire(import.meta.url)('ioredis') as typeof IORedis;
  return new ioredis.Redis(url, options);
}
