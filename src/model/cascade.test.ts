import { afterEach, describe, expect, it } from 'vitest';
import type { ModelRequest } from '../spec/model.ts';
import { startMockAnthropicServer } from '../testing/mock-anthropic-server.ts';
import type { MockServer } from '../testing/mock-http-server.ts';
import { createAnthropicModel } from './anthropic-model.ts';
import { cascadeChecks, createCascade, createTaskRouter, statedConfidence } from './cascade.ts';
import { costOf } from './pricing.ts';

const request: ModelRequest = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Capital of France?' }] }], tools: [], maxOutputTokens: 64 };
const servers: MockServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function model(modelId: string, text: string) {
  const server = await startMockAnthropicServer({ script: () => ({ content: [{ type: 'text', text }], usage: { input_tokens: 400, output_tokens: 20 } }) });
  servers.push(server);
  return { server, model: createAnthropicModel({ modelId, baseURL: server.baseURL, apiKey: 'key' }) };
}

describe('createCascade', () => {
  it('escalates to the larger model when the small one reports low confidence, reporting the billed small answer', async () => {
    const small = await model('claude-haiku-4-5', 'Lyon, I think. Confidence: 0.4');
    const large = await model('claude-sonnet-4-6', 'Paris. Confidence: 0.97');
    const cascade = createCascade({ name: 'answer', stages: [small.model, large.model], checks: [cascadeChecks.completed(), cascadeChecks.confidence({ min: 0.7 })] });
    const parts: string[] = [];
    const result = await cascade.call(request, { signal: new AbortController().signal, streaming: true, onPart: (part) => parts.push(part.type === 'text-delta' ? part.text : part.type) });

    expect(result.response.content).toEqual([{ type: 'text', text: 'Paris. Confidence: 0.97' }]);
    expect(result.attempts).toEqual([
      expect.objectContaining({ model: 'claude-haiku-4-5', outcome: 'escalated', reason: 'check:confidence', usage: { inputTokens: 400, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: costOf('anthropic', 'claude-haiku-4-5', { inputTokens: 400, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0 }) }),
    ]);
    // Only the answer used was streamed to the caller.
    expect(parts.join('')).toContain('Paris.');
    expect(parts.join('')).not.toContain('Lyon');
  });

  it('keeps the small answer when every check passes, and never calls the larger model', async () => {
    const small = await model('claude-haiku-4-5', 'Paris. Confidence: 90%');
    const large = await model('claude-sonnet-4-6', 'Never.');
    const cascade = createCascade({ name: 'answer', stages: [small.model, large.model], checks: [cascadeChecks.confidence({ min: 0.7 }), cascadeChecks.validToolCalls()] });
    const result = await cascade.call(request, { signal: new AbortController().signal, streaming: false });
    expect(result.response.model).toBe('claude-haiku-4-5');
    expect(result.attempts).toEqual([]);
    expect(large.server.requests).toHaveLength(0);
  });

  it('reads the last confidence statement, as a fraction or a percentage', () => {
    expect(statedConfidence('Confidence: 0.3 … on reflection, confidence = 72%')).toBe(0.72);
    expect(statedConfidence('No statement here.')).toBeUndefined();
    expect(statedConfidence('Confidence: 7')).toBeUndefined();
  });
});

describe('createTaskRouter', () => {
  it('sends each call to the model of its task class, the default class when none is named, and refuses an unknown class', async () => {
    const small = await model('claude-haiku-4-5', 'extracted');
    const large = await model('claude-sonnet-4-6', 'answered');
    const router = createTaskRouter({ name: 'by-task', defaultClass: 'answer', routes: { extract: small.model, answer: large.model } });
    const signal = new AbortController().signal;
    expect((await router.call(request, { signal, streaming: false, hints: { taskClass: 'extract' } })).response.model).toBe('claude-haiku-4-5');
    expect((await router.call(request, { signal, streaming: false })).response.model).toBe('claude-sonnet-4-6');
    await expect(router.call(request, { signal, streaming: false, hints: { taskClass: 'poetry' } })).rejects.toMatchObject({ code: 'invalid-argument' });
  });
});
