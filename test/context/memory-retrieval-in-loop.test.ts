import { describe, expect, it } from 'vitest';
import { defineAgent, startSession } from '../../src/loop/index.ts';
import { createExactScanIndex, createHashingEmbedder, createMemoryStore } from '../../src/memory/index.ts';
import { validateJournal } from '../../src/store/index.ts';
import type { ModelRequest } from '../../src/spec/index.ts';
import { scriptedCaller, text } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

describe('automatic memory retrieval into each turn', () => {
  it('puts the memories relevant to the task into the fenced memory segment and journals the read', async () => {
    const store = createMemoryStore({ path: ':memory:', embedder: createHashingEmbedder({ dimensions: 384 }), index: createExactScanIndex({ dimensions: 384 }) });
    const scope = { agent: 'support' };
    const relevant = await store.remember({ scope, text: 'The customer Ada Lovelace prefers refunds to store credit.', importance: 8 });
    await store.remember({ scope, text: 'The warehouse in Lyon closes at 18:00 on Fridays.', importance: 3 });
    await store.remember({ scope: { agent: 'someone-else' }, text: 'Ada Lovelace refunds are forbidden.', importance: 10 });
    const requests: ModelRequest[] = [];
    const model = scriptedCaller((request: ModelRequest) => {
      requests.push(request);
      return { content: [text('Offering Ada a refund.')] };
    });
    const dependencies = dependenciesFor(model);
    const agent = defineAgent({ name: 'support', instructions: 'Help customers.', memory: { store, k: 1 } });
    const result = await startSession(agent, dependencies, { input: 'Ada Lovelace wants her money back: refund or store credit?', sessionId: 's' }).result;
    expect(result.status).toBe('completed');
    const sent = JSON.stringify(requests[0]);
    expect(sent).toContain('prefers refunds to store credit');
    expect(sent).not.toContain('Lyon');
    expect(sent).not.toContain('forbidden');
    const events = await readAll(dependencies, 's');
    const read = events.find((event) => event.type === 'memory-read');
    expect(read).toMatchObject({ turn: 1, results: [{ id: relevant.id }] });
    expect(validateJournal(events).problems).toEqual([]);
    await store.close();
  });
});

describe('memory reads in the trace', () => {
  it('each read is a search_memory span under the turn\u2019s context_assembly, the same live and rebuilt', async () => {
    const { buildSpans } = await import('../../src/tracing/index.ts');
    const store = createMemoryStore({ path: ':memory:', embedder: createHashingEmbedder({ dimensions: 64 }), index: createExactScanIndex({ dimensions: 64 }) });
    await store.remember({ scope: { agent: 'support' }, text: 'Ada prefers refunds.', importance: 8 });
    const dependencies = dependenciesFor(scriptedCaller([{ content: [text('ok')] }]));
    await startSession(defineAgent({ name: 'support', instructions: 'x', memory: { store, k: 1 } }), dependencies, { input: 'Ada refund?', sessionId: 'm' }).result;
    const spans = buildSpans(await readAll(dependencies, 'm'));
    const search = spans.find((span) => span.name === 'search_memory');
    const assembly = spans.find((span) => span.name === 'context_assembly');
    expect(search?.parentSpanId).toBe(assembly?.spanId);
    expect(search?.attributes['gen_ai.memory.record.count']).toBe(1);
    await store.close();
  });
});

describe('procedural memory', () => {
  it('every turn journals the content hash of the prompt version it used', async () => {
    const { createProceduralMemory } = await import('../../src/memory/index.ts');
    const procedures = createProceduralMemory({ path: ':memory:' });
    const first = procedures.publish('support-prompt', 'You answer questions about orders.');
    const second = procedures.publish('support-prompt', 'You answer questions about orders. Be brief.');
    const dependencies = dependenciesFor(scriptedCaller([{ content: [text('ok')] }]));
    const prompt = procedures.get('support-prompt');
    await startSession(defineAgent({ name: 'support', instructions: String(prompt?.content) }), dependencies, { input: 'hi', sessionId: 'p' }).result;
    const assemble = (await readAll(dependencies, 'p')).find((event) => event.type === 'context-assemble');
    expect(assemble).toMatchObject({ instructionsHash: second.contentHash });
    expect(second.contentHash).not.toBe(first.contentHash);
  });
});
