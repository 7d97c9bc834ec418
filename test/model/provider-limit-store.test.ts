import { afterAll, beforeAll } from 'vitest';
import { createMemoryLimitStore, createRedisLimitStore } from '../../src/model/limits/index.ts';
import { describeProviderLimitStoreContract } from '../../src/testing/contracts/index.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import type { RedisServerProcess } from '../helpers/redis-server.ts';

let redis: RedisServerProcess | undefined;
beforeAll(async () => {
  redis = await startRedisServer();
}, 20_000);
afterAll(async () => {
  await redis?.stop();
});

describeProviderLimitStoreContract('memory', () => {
  const store = createMemoryLimitStore();
  return [store, store];
});

describeProviderLimitStoreContract('redis (two connections)', () => {
  const url = (redis as RedisServerProcess).url;
  return [createRedisLimitStore({ url }), createRedisLimitStore({ url })];
});
