import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisResponseCache } from '../../src/model/redis-response-cache.ts';
import type { CachedModelResponse } from '../../src/spec/response-cache.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import type { RedisServerProcess } from '../helpers/redis-server.ts';

let redis: RedisServerProcess | undefined;
beforeAll(async () => {
  redis = await startRedisServer();
}, 20_000);
afterAll(async () => {
  await redis?.stop();
});

const entry: CachedModelResponse = {
  response: { id: 'msg_1', model: 'claude-haiku-4-5', content: [{ type: 'text', text: 'Cached.' }], stopReason: 'end_turn', providerStopReason: 'end_turn', usage: { inputTokens: 5, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 } },
  account: 'main',
  storedAt: 1,
};

describe('createRedisResponseCache', () => {
  it('shares answers between two connections and lets Redis expire them', async () => {
    const url = (redis as RedisServerProcess).url;
    const writer = createRedisResponseCache({ url });
    const reader = createRedisResponseCache({ url });
    try {
      await writer.set('k1', entry, 60_000);
      await writer.set('k2', entry, 30);
      expect(await reader.get('k1')).toEqual(entry);
      expect(await reader.get('missing')).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(await reader.get('k2')).toBeUndefined();
    } finally {
      await writer.close?.();
      await reader.close?.();
    }
  });
});
