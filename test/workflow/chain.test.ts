import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chain, modelGate, modelStep, predicateGate, schemaGate, step } from '../../src/workflow/index.ts';
import type { SessionEvent } from '../../src/spec/events.ts';
import { promptModel, scratchKeel } from './workflow-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const ofType = <T extends SessionEvent['type']>(events: readonly SessionEvent[], type: T) => events.filter((event): event is Extract<SessionEvent, { type: T }> => event.type === type);

describe('chain', () => {
  it("passes step N's output to step N+1 and journals each step as a session of its own", async () => {
    const model = promptModel((prompt) => `SUMMARY(${prompt})`);
    const { keel, cleanup } = scratchKeel({ writer: model });
    cleanups.push(cleanup);
    const pipeline = chain<string>('report')
      .then(step('extract', (text: string) => text.split(' ').filter((word) => /^[A-Z]/.test(word))))
      .then(step('count', (names: string[]) => ({ names, count: names.length })))
      .then(modelStep('write', { prompt: ({ names }: { names: string[]; count: number }) => names.join('+') }));
    const run = keel.runWorkflow(pipeline, 'met Ada and Grace in London', { model: 'writer' });
    const result = await run.result;
    expect(result).toMatchObject({ status: 'completed', output: 'SUMMARY(Ada+Grace+London)', error: null });
    expect(result.usage).toMatchObject({ inputTokens: 100, outputTokens: 50 });

    const events = await keel.events(run.sessionId);
    expect(events[0]).toMatchObject({ type: 'session-start', agent: { name: 'report' }, model: { provider: 'workflow', modelId: 'chain', spec: 'writer' } });
    expect(events[1]).toMatchObject({ type: 'workflow-start', workflow: 'report', kind: 'chain', input: 'met Ada and Grace in London' });
    expect(ofType(events, 'step-end').map((end) => [end.path, end.status])).toEqual([
      ['report/extract', 'ok'],
      ['report/count', 'ok'],
      ['report/write', 'ok'],
      ['report', 'ok'],
    ]);
    expect(ofType(events, 'step-end').find((end) => end.path === 'report/count')?.output).toEqual({ names: ['Ada', 'Grace', 'London'], count: 3 });
    expect(events.at(-1)).toMatchObject({ type: 'session-end', status: 'completed', output: 'SUMMARY(Ada+Grace+London)', usage: { inputTokens: 100, outputTokens: 50 } });
    expect((await keel.sessions()).find((session) => session.sessionId === run.sessionId)).toMatchObject({ agent: 'report', status: 'completed' });
  });

  it('a failing gate sends the step back with its reason as feedback, a bounded number of times', async () => {
    const { keel, cleanup } = scratchKeel({});
    cleanups.push(cleanup);
    const seen: (string | null)[] = [];
    const pipeline = chain<number>('numbers')
      .then(
        step('draft', (input: number, context) => {
          seen.push(context.feedback);
          return input * context.attempt;
        }),
      )
      .gate(predicateGate('at-least-30', (value: number) => value >= 30 || `${value} is under 30; try a larger number.`), { retries: 2 });
    const run = keel.runWorkflow(pipeline, 10);
    const result = await run.result;
    expect(result).toMatchObject({ status: 'completed', output: 30 });
    expect(seen).toEqual([null, '10 is under 30; try a larger number.', '20 is under 30; try a larger number.']);
    const gates = ofType(await keel.events(run.sessionId), 'gate');
    expect(gates.map((gate) => [gate.attempt, gate.verdict])).toEqual([
      [1, 'retry'],
      [2, 'retry'],
      [3, 'pass'],
    ]);
  });

  it('stops the chain with gate-rejected and the reason once the retries are spent; later steps never run', async () => {
    const { keel, cleanup } = scratchKeel({});
    cleanups.push(cleanup);
    let later = 0;
    const pipeline = chain<string>('extract')
      .then(step('parse', (text: string) => ({ names: text === '' ? [] : text.split(',') })))
      .gate(schemaGate(z.object({ names: z.array(z.string()).min(1) })), { retries: 1 })
      .then(
        step('use', () => {
          later += 1;
          return 'used';
        }),
      );
    const run = keel.runWorkflow(pipeline, '');
    const result = await run.result;
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('gate-rejected');
    expect(result.error?.message).toMatch(/Gate schema stopped step extract\/parse after 2 attempts: The output does not match the schema: names:/);
    expect(later).toBe(0);
    const events = await keel.events(run.sessionId);
    expect(ofType(events, 'gate').map((gate) => gate.verdict)).toEqual(['retry', 'stop']);
    expect(events.at(-1)).toMatchObject({ type: 'session-end', status: 'failed', error: { code: 'gate-rejected' } });
  });

  it('a model gate asks a model, journals its verdict and spend, and a gate of 0 retries stops at once', async () => {
    const checker = promptModel((prompt) => (prompt.includes('Reply: a refund') ? 'FAIL: it talks about refunds' : 'PASS'));
    const { keel, cleanup } = scratchKeel({ checker });
    cleanups.push(cleanup);
    const pipeline = chain<string>('reply').then(step('draft', (text: string) => `Reply: ${text}`)).gate(modelGate('on-topic', { criteria: 'No refunds.', model: 'checker' }));
    const passing = await keel.runWorkflow(pipeline, 'shipping times').result;
    expect(passing).toMatchObject({ status: 'completed', output: 'Reply: shipping times', usage: { inputTokens: 100, outputTokens: 50 } });
    const failing = keel.runWorkflow(pipeline, 'a refund');
    expect(await failing.result).toMatchObject({ status: 'failed', error: { code: 'gate-rejected' } });
    const gate = ofType(await keel.events(failing.sessionId), 'gate')[0];
    expect(gate).toMatchObject({ verdict: 'stop', reason: 'it talks about refunds', usage: { inputTokens: 100 } });
  });

  it('checks at compile time that each step takes the output type of the step before it', () => {
    const lengths = chain<string>('typed').then(step('length', (text: string) => text.length));
    const doubled = lengths.then(step('double', (value: number) => value * 2));
    expect(doubled.name).toBe('typed');
    // @ts-expect-error the step after `length` must take a number, not a string
    expect(() => lengths.then(step('shout', (text: string) => text.toUpperCase()))).not.toThrow();
    // @ts-expect-error a gate checks the output of the step before it: a number here
    expect(() => lengths.gate(predicateGate('non-empty', (text: string) => text.length > 0))).not.toThrow();
  });

  it('refuses step names that would break journal paths, duplicate names, and a gate before any step', () => {
    expect(() => step('a/b', () => 1)).toThrow(/not valid/);
    const base = chain<number>('c').then(step('one', (value: number) => value));
    expect(() => base.then(step('one', (value: number) => value))).toThrow(/already has a step named one/);
    expect(() => chain<number>('c').gate(predicateGate('p', () => true))).toThrow(/add a step with then\(\) first/);
    expect(() => base.gate(predicateGate('p', () => true), { retries: 11 })).toThrow(/from 0 to 10/);
  });
});
