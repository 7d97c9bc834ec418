import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, startSession } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { KeelError } from '../../src/errors/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

const look = defineTool({ name: 'look', description: 'looks', input: z.object({}), risk: 'read', execute: () => 'seen' });

describe('a lost lease', () => {
  it('stops the loop before its next append: the run rejects with session-busy and the journal ends where it was', async () => {
    const dependencies = dependenciesFor(scriptedCaller([{ content: [toolUse('c1', 'look', {})], delayMs: 30 }, { content: [text('Done.')] }]));
    const lease = new AbortController();
    const seen: string[] = [];
    const run = startSession(defineAgent({ name: 'a', instructions: 'i', tools: [look] }), dependencies, {
      input: 'go',
      sessionId: 'ses_lease',
      leaseLost: lease.signal,
      onUpdate: (update) => {
        if (update.type !== 'event') return;
        seen.push(update.event.type);
        // Another process takes the session over while the model call is in flight.
        if (update.event.type === 'model-request') lease.abort(new KeelError('session-busy', 'The lease of ses_lease moved to process 2.'));
      },
    });
    await expect(run.result).rejects.toMatchObject({ code: 'session-busy', message: 'The lease of ses_lease moved to process 2.' });
    const events = await readAll(dependencies, 'ses_lease');
    expect(events.map((event) => event.type)).toEqual(['session-start', 'turn-start', 'context-assemble', 'model-request']);
    expect(seen).toEqual(events.map((event) => event.type));
  });

  it('a lease already lost writes nothing at all', async () => {
    const dependencies = dependenciesFor(scriptedCaller([{ content: [text('Done.')] }]));
    const lease = new AbortController();
    lease.abort();
    const run = startSession(defineAgent({ name: 'a', instructions: 'i' }), dependencies, { input: 'go', sessionId: 'ses_gone', leaseLost: lease.signal });
    await expect(run.result).rejects.toMatchObject({ code: 'session-busy', message: expect.stringContaining('lost the lease of session ses_gone') });
    expect(await readAll(dependencies, 'ses_gone')).toEqual([]);
  });
});

describe('the default tool timeout', () => {
  it('a tool without a usable timeout of its own gets the agent default; one with its own keeps it', async () => {
    const hanging = (name: string) => defineTool({ name, description: name, input: z.object({}), risk: 'read', timeoutMs: 40, execute: () => new Promise<never>(() => undefined) });
    const withoutTimeout = { ...hanging('no_timeout'), timeoutMs: Number.NaN };
    const ownTimeout = hanging('own_timeout');
    const dependencies = dependenciesFor(scriptedCaller([{ content: [toolUse('c1', 'no_timeout', {}), toolUse('c2', 'own_timeout', {})] }, { content: [text('Done.')] }]));
    const agent = defineAgent({ name: 'a', instructions: 'i', tools: [withoutTimeout, ownTimeout], toolCalls: { defaultTimeoutMs: 25 } });
    const result = await startSession(agent, dependencies, { input: 'go', sessionId: 'ses_timeout' }).result;
    expect(result.status).toBe('completed');
    const errors = (await readAll(dependencies, 'ses_timeout')).flatMap((event) => (event.type === 'tool-error' ? [[event.callId, event.error.code, event.error.message]] : []));
    expect(errors).toEqual([
      ['c1', 'tool-timeout', 'Tool "no_timeout" did not finish within its 25 ms timeout.'],
      ['c2', 'tool-timeout', 'Tool "own_timeout" did not finish within its 40 ms timeout.'],
    ]);
    expect(defineAgent({ name: 'b', instructions: 'i' }).toolCalls).toEqual({ maxPerMessage: 32, concurrency: 8, cancelGraceMs: 5_000, defaultTimeoutMs: 120_000 });
  });
});
