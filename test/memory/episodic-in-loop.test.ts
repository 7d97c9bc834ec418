import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import { createExactScanIndex, createHashingEmbedder, createMemoryStore } from '../../src/memory/index.ts';
import type { MemoryStore } from '../../src/memory/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { validateJournal } from '../../src/store/index.ts';
import type { ModelRequest, SessionEvent } from '../../src/spec/index.ts';
import { toolResultMemoryId } from '../../src/loop/memory-recording.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

const bigLog = Array.from({ length: 800 }, (_unused, line) => `line ${line}: disk=/dev/sda${line % 4} latency_ms=${(line * 13) % 101}`).join('\n');

const fetchLog = defineTool({
  name: 'fetch_log',
  description: 'Fetch the log of a host',
  input: z.object({ host: z.string() }),
  risk: 'read',
  maxOutputChars: 100_000,
  execute: ({ host }) => (host === 'db-1' ? bigLog : `host ${host}: nothing to report, disk quota exceeded on /var`),
});

function newStore(): MemoryStore {
  return createMemoryStore({ path: ':memory:', embedder: createHashingEmbedder({ dimensions: 128 }), index: createExactScanIndex({ dimensions: 128 }) });
}

function toolResults(events: readonly SessionEvent[], tool: string): string[] {
  return events.flatMap((event) => (event.type === 'tool-result' && event.tool === tool ? [event.output] : []));
}

describe('read_tool_result: the episodic record behind the context planner\u2019s stubs', () => {
  it('reads an earlier result back, page by page, with the planner on', async () => {
    const model = scriptedCaller([
      { content: [toolUse('call_log', 'fetch_log', { host: 'db-1' })] },
      { content: [toolUse('call_read1', 'read_tool_result', { callId: 'call_log' })] },
      { content: [toolUse('call_read2', 'read_tool_result', { callId: 'call_log', offset: 12_000 })] },
      { content: [toolUse('call_read3', 'read_tool_result', { callId: 'call_nope' })] },
      { content: [text('done')] },
    ]);
    const dependencies = dependenciesFor(model);
    const agent = defineAgent({ name: 'ops', instructions: 'Investigate.', tools: [fetchLog], context: true });
    const result = await startSession(agent, dependencies, { input: 'Why is db-1 slow?', sessionId: 's1' }).result;
    expect(result.status, JSON.stringify(result.error)).toBe('completed');
    const events = await readAll(dependencies, 's1');
    expect(validateJournal(events).problems).toEqual([]);
    const start = events[0];
    expect(start?.type === 'session-start' && start.agent.tools).toEqual(['fetch_log', 'read_tool_result']);
    const [first, second] = toolResults(events, 'read_tool_result');
    expect(first).toContain(`characters 0–12000 of ${bigLog.length}]`);
    expect(first).toContain(bigLog.slice(0, 11_000));
    expect(first).toContain('{"callId":"call_log","offset":12000}');
    expect(bigLog.length).toBeGreaterThan(24_000);
    expect(second).toContain(`characters 12000–24000 of ${bigLog.length}]`);
    expect(second).toContain(bigLog.slice(12_000, 24_000));
    expect(second).toContain('{"callId":"call_log","offset":24000}');
    const unknown = events.find((event) => event.type === 'tool-error' && event.callId === 'call_read3');
    expect(unknown?.type === 'tool-error' && unknown.error.message).toContain('recent call ids: call_log');
  });

  it('is not offered without the context planner, and an agent\u2019s own tool of that name wins', async () => {
    const plain = dependenciesFor(scriptedCaller([{ content: [text('ok')] }]));
    await startSession(defineAgent({ name: 'a', instructions: 'x', tools: [fetchLog] }), plain, { input: 'go', sessionId: 'p' }).result;
    const [start] = await readAll(plain, 'p');
    expect(start?.type === 'session-start' && start.agent.tools).toEqual(['fetch_log']);

    const own = defineTool({ name: 'read_tool_result', description: 'mine', input: z.object({ callId: z.string() }), risk: 'read', execute: () => 'my own' });
    const requests: ModelRequest[] = [];
    const dependencies = dependenciesFor(scriptedCaller((request: ModelRequest) => (requests.push(request), { content: [text('ok')] })));
    await startSession(defineAgent({ name: 'b', instructions: 'x', tools: [own], context: true }), dependencies, { input: 'go', sessionId: 'q' }).result;
    expect(requests[0]?.tools.filter((tool) => tool.name === 'read_tool_result').map((tool) => tool.description)).toEqual(['mine']);
  });
});

describe('tool results kept in the episodic store (memory.recordToolResults)', () => {
  it('remembers each result once, journals the write, and recall finds it by meaning', async () => {
    const store = newStore();
    const model = scriptedCaller([
      { content: [toolUse('c1', 'fetch_log', { host: 'web-1' }), toolUse('c2', 'fetch_log', { host: 'web-2' })] },
      { content: [text('done')] },
    ]);
    const dependencies = dependenciesFor(model);
    const agent = defineAgent({ name: 'ops', instructions: 'Investigate.', tools: [fetchLog], memory: { store, scope: 'session', recordToolResults: { importance: 4 } } });
    const result = await startSession(agent, dependencies, { input: 'Check the web hosts.', sessionId: 's2' }).result;
    expect(result.status).toBe('completed');
    const events = await readAll(dependencies, 's2');
    expect(validateJournal(events).problems).toEqual([]);
    const writes = events.filter((event) => event.type === 'memory-write');
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ reason: 'tool-result', records: [{ callId: 'c1', importance: 4 }, { callId: 'c2', importance: 4 }] });
    const memories = await store.list({ agent: 'ops', sessionId: 's2' });
    expect(memories.map((memory) => memory.id)).toEqual([toolResultMemoryId('s2', 'c1'), toolResultMemoryId('s2', 'c2')]);
    expect(memories[1]?.text).toContain('fetch_log({"host":"web-2"}) at turn 1 returned: host web-2');
    const { buildSpans } = await import('../../src/tracing/index.ts');
    const turn = buildSpans(events).find((span) => span.name.startsWith('agent_turn') && span.events.some((event) => event.name === 'keel.memory.write'));
    expect(turn?.events.find((event) => event.name === 'keel.memory.write')?.attributes['keel.memory.record.count']).toBe(2);
    const found = await store.recall({ scope: { agent: 'ops', sessionId: 's2' }, query: 'web-2 disk quota exceeded', k: 1 });
    expect(found[0]?.record.id).toBe(toolResultMemoryId('s2', 'c2'));
    await store.close();
  });

  it('a resume after the tools ran but before the write records each result exactly once', async () => {
    const store = newStore();
    const script = [{ content: [toolUse('c1', 'fetch_log', { host: 'web-1' })] }, { content: [text('done')] }];
    const dependencies = dependenciesFor(scriptedCaller(script));
    const agent = defineAgent({ name: 'ops', instructions: 'x', tools: [fetchLog], memory: { store, recordToolResults: true } });
    await startSession(agent, dependencies, { input: 'go', sessionId: 's3' }).result;
    const events = await readAll(dependencies, 's3');
    // The journal up to the tool result, as if the process had died before journaling the memory-write; the memory itself was written.
    const cut = events.findIndex((event) => event.type === 'memory-write');
    const replayed = dependenciesFor(scriptedCaller(script));
    await replayed.journal.append('s3', events.slice(0, cut), 0);
    const resumed = await resumeSession(agent, replayed, 's3').result;
    expect(resumed.status).toBe('completed');
    const after = await readAll(replayed, 's3');
    expect(after.filter((event) => event.type === 'memory-write')).toHaveLength(1);
    expect(await store.list({ agent: 'ops' })).toHaveLength(1);
    await store.close();
  });

  it('an embedder that fails is journaled as skipped, and the task still completes', async () => {
    const store = newStore();
    const failing: MemoryStore = { ...store, remember: () => Promise.reject(new Error('embedding endpoint down')) };
    const dependencies = dependenciesFor(scriptedCaller([{ content: [toolUse('c1', 'fetch_log', { host: 'web-1' })] }, { content: [text('done')] }]));
    const agent = defineAgent({ name: 'ops', instructions: 'x', tools: [fetchLog], memory: { store: failing, recordToolResults: true } });
    const result = await startSession(agent, dependencies, { input: 'go', sessionId: 's4' }).result;
    expect(result.status).toBe('completed');
    const write = (await readAll(dependencies, 's4')).find((event) => event.type === 'memory-write');
    expect(write).toMatchObject({ reason: 'tool-result', records: [], skippedCallIds: ['c1'], error: { message: expect.stringContaining('embedding endpoint down') } });
    await store.close();
  });
});

describe('reflection triggered by the loop (memory.reflection)', () => {
  it('reflects once the accumulated importance passes the threshold, citing the recorded results', async () => {
    const store = newStore();
    const reflections: string[][] = [];
    const model = scriptedCaller((request: ModelRequest) => {
      const prompt = JSON.stringify(request.messages);
      if (prompt.includes('high-level insights')) {
        const ids = [...prompt.matchAll(/\[(mem_tool_[0-9a-f]+)\]/g)].map((match) => match[1] as string);
        reflections.push(ids);
        return { content: [text(JSON.stringify([{ text: 'Disk quotas are the recurring problem.', sourceIds: ids.slice(0, 2), importance: 7 }, { text: 'made up', sourceIds: ['mem_nope'] }]))] };
      }
      const turn = request.messages.filter((message) => message.role === 'assistant').length;
      return turn < 3 ? { content: [toolUse(`c${turn}`, 'fetch_log', { host: `web-${turn}` })] } : { content: [text('done')] };
    });
    const dependencies = dependenciesFor(model);
    const agent = defineAgent({ name: 'ops', instructions: 'x', tools: [fetchLog], memory: { store, recordToolResults: { importance: 6 }, reflection: { threshold: 12 } } });
    const result = await startSession(agent, dependencies, { input: 'Check the hosts.', sessionId: 's5' }).result;
    expect(result.status, JSON.stringify(result.error)).toBe('completed');
    // Importance 6 per result: the threshold of 12 is reached with the second result, once.
    expect(reflections).toEqual([[toolResultMemoryId('s5', 'c0'), toolResultMemoryId('s5', 'c1')]]);
    const events = await readAll(dependencies, 's5');
    const reflection = events.find((event) => event.type === 'memory-write' && event.reason === 'reflection');
    expect(reflection).toMatchObject({ records: [{ kind: 'reflection', importance: 7, sources: [toolResultMemoryId('s5', 'c0'), toolResultMemoryId('s5', 'c1')] }], invalidCitations: ['mem_nope'] });
    expect((await store.list({ agent: 'ops' })).filter((memory) => memory.kind === 'reflection').map((memory) => memory.text)).toEqual(['Disk quotas are the recurring problem.']);
    expect(validateJournal(events).problems).toEqual([]);
    await store.close();
  });

  it('a reflection answer that is not JSON is journaled as an error and the session completes', async () => {
    const store = newStore();
    const model = scriptedCaller((request: ModelRequest) => {
      if (JSON.stringify(request.messages).includes('high-level insights')) return { content: [text('I would rather not.')] };
      return request.messages.length < 2 ? { content: [toolUse('c0', 'fetch_log', { host: 'web-0' })] } : { content: [text('done')] };
    });
    const dependencies = dependenciesFor(model);
    const agent = defineAgent({ name: 'ops', instructions: 'x', tools: [fetchLog], memory: { store, recordToolResults: { importance: 9 }, reflection: { threshold: 5 } } });
    const result = await startSession(agent, dependencies, { input: 'go', sessionId: 's6' }).result;
    expect(result.status).toBe('completed');
    const failed = (await readAll(dependencies, 's6')).find((event) => event.type === 'memory-write' && event.reason === 'reflection');
    expect(failed).toMatchObject({ records: [], error: { code: 'model-malformed-response' } });
    await store.close();
  });
});
