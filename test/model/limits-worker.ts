// One of the processes of the shared-limits acceptance test: runs its share of sessions against the mock provider,
// with the model limiter's buckets and queue in the Redis all the processes share, and prints one JSON line.
//   node --import tsx test/model/limits-worker.ts <redis-url | memory | off> <base-url> <first> <count> <limits-json>
import { z } from 'zod';
import { createAnthropicModel, createKeel, defineAgent, defineTool } from '../../src/index.ts';
import type { ProviderLimits } from '../../src/spec/provider-limits.ts';

const [redisUrl, baseURL, firstText, countText, limitsText] = process.argv.slice(2);
const first = Number(firstText);
const count = Number(countText);
const limits = JSON.parse(limitsText as string) as ProviderLimits;

const lookup = defineTool({ name: 'lookup', description: 'Looks a record up.', risk: 'read', input: z.object({ id: z.string() }), execute: ({ id }) => `record ${id}: ok` });
const agent = defineAgent({ name: 'worker', instructions: 'Look the record up, then answer.', tools: [lookup], maxOutputTokensPerCall: 1_000 });
const keel = createKeel({
  database: ':memory:',
  model: createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'test-key', baseURL: baseURL as string }),
  modelLimits: redisUrl === 'off' ? false : { ...(redisUrl === 'memory' ? {} : { redisUrl: redisUrl as string }), accounts: { anthropic: limits }, maxQueueWaitMs: 90_000 },
  redaction: false,
});

const runs = Array.from({ length: count }, (_, index) => keel.run(agent, { task: `task-${first + index}` }).result.catch((error: unknown) => error));
const results = await Promise.all(runs);
const summary = { completed: 0, failures: [] as string[] };
for (const result of results) {
  if (typeof result === 'object' && result !== null && 'status' in result && result.status === 'completed') summary.completed += 1;
  else summary.failures.push(JSON.stringify(result, Object.getOwnPropertyNames(result ?? {})).slice(0, 300));
}
await keel.close();
process.stdout.write(`${JSON.stringify(summary)}\n`);
