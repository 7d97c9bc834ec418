import { describe, expect, it } from 'vitest';
import { createKeel, defineAgent, isKeelError } from '../../src/index.ts';
import { createMemoryLimitStore } from '../../src/model/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';

const agent = defineAgent({ name: 'answerer', instructions: 'Answer.', tools: [] });
const answers = () =>
  createScriptedModel([
    { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'one' }], usage: { input_tokens: 30, output_tokens: 20 } },
    { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'two' }], usage: { input_tokens: 30, output_tokens: 20 } },
  ]);

describe('createKeel({ modelLimits })', () => {
  it('refuses a new run once the tenant budget is spent, before anything is journaled, and lets other tenants run', async () => {
    const keel = createKeel({ database: ':memory:', model: answers(), modelLimits: { admission: { tenantBudget: { tokens: 40, windowMs: 3_600_000 } } } });
    const first = await keel.run(agent, { task: 'first', tenant: 'acme' }).result;
    expect(first.status).toBe('completed');
    const refusedRun = keel.run(agent, { task: 'second', tenant: 'acme' });
    const refused = await refusedRun.result.catch((error: unknown) => error);
    expect(isKeelError(refused, 'admission-refused')).toBe(true);
    expect((refused as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThan(0);
    expect(await keel.sessions()).toHaveLength(1);
    const other = await keel.run(agent, { task: 'second', tenant: 'globex' }).result;
    expect(other.status).toBe('completed');
    await keel.close();
  });

  it('journals the queue wait of a call that waited for its account', async () => {
    const store = createMemoryLimitStore();
    // The scripted provider's account holds 600 requests a minute, all taken here: the run waits for the refill.
    for (let index = 0; index < 600; index += 1) await store.acquire({ account: 'scripted', ticket: `t${index}`, lane: 0, cost: { requests: 1, inputTokens: 0, outputTokens: 0, tokens: 0 }, limits: { requestsPerMinute: 600 }, now: Date.now() });
    const keel = createKeel({ database: ':memory:', model: answers(), modelLimits: { store, accounts: { scripted: { requestsPerMinute: 600 } } } });
    const result = await keel.run(agent, 'first').result;
    expect(result.status).toBe('completed');
    const response = (await keel.events(result.sessionId)).find((event) => event.type === 'model-response');
    expect(response?.type === 'model-response' ? response.queueWaitMs : undefined).toBeGreaterThan(0);
    await keel.close();
    await store.close();
  });

  it('refuses a store given together with a Redis URL', () => {
    expect(() => createKeel({ database: ':memory:', model: answers(), modelLimits: { store: createMemoryLimitStore(), redisUrl: 'redis://127.0.0.1:6379' } })).toThrow(/modelLimits.store and modelLimits.redisUrl/);
    expect(() => createKeel({ database: ':memory:', model: answers(), env: { KEEL_REDIS_URL: 'http://nope' } })).toThrow(/must start with redis:\/\//);
  });
});
