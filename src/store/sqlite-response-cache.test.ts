import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CachedModelResponse } from '../spec/response-cache.ts';
import { createSqliteResponseCache } from './sqlite-response-cache.ts';

const entry = (text: string): CachedModelResponse => ({
  response: { id: 'msg_1', model: 'claude-haiku-4-5', content: [{ type: 'text', text }], stopReason: 'end_turn', providerStopReason: 'end_turn', usage: { inputTokens: 5, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 } },
  account: 'main',
  storedAt: 1,
});
const folders: string[] = [];

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe('createSqliteResponseCache', () => {
  it('keeps answers across reopening the file (mode 0600), forgets them past their time to live, and keeps at most maxEntries', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'keel-response-cache-'));
    folders.push(folder);
    const path = join(folder, 'cache.db');
    let now = 1_000;
    const clock = { now: () => now };
    const first = createSqliteResponseCache({ path, clock, maxEntries: 2 });
    await first.set('a', entry('A'), 500);
    await first.close?.();
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const cache = createSqliteResponseCache({ path, clock, maxEntries: 2 });
    expect(await cache.get('a')).toEqual(entry('A'));
    now = 1_500;
    expect(await cache.get('a')).toBeUndefined();
    await cache.set('b', entry('B'), 10_000);
    now += 1;
    await cache.set('c', entry('C'), 10_000);
    now += 1;
    await cache.set('d', entry('D'), 10_000);
    expect([await cache.get('b'), (await cache.get('c'))?.response.content, (await cache.get('d'))?.response.content]).toEqual([undefined, [{ type: 'text', text: 'C' }], [{ type: 'text', text: 'D' }]]);
    await cache.close?.();
    await expect(cache.get('c')).rejects.toMatchObject({ code: 'storage-failure' });
  });
});
