import { afterEach, describe, expect, it } from 'vitest';
import { createKeel } from '../../src/runtime/index.ts';
import { createMemoryBlobStore, createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/events.ts';
import { chain, modelStep, parallel, predicateGate, route, step, vote, majority } from '../../src/workflow/index.ts';
import { pause, promptModel, scratchKeel } from './workflow-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A workflow of every kind whose steps count their runs by path, so a resume that re-runs a finished step shows. */
function countedWorkflow(runs: Map<string, number>) {
  const counted = <I, O>(name: string, work: (input: I) => O) =>
    step(name, (input: I, context) => {
      runs.set(`${context.path}#${context.attempt}`, (runs.get(`${context.path}#${context.attempt}`) ?? 0) + 1);
      return work(input);
    });
  return chain<string>('pipeline')
    .then(counted('normalize', (text: string) => text.trim().toLowerCase()))
    .then(
      step('draft', (text: string, context) => {
        runs.set(`${context.path}#${context.attempt}`, (runs.get(`${context.path}#${context.attempt}`) ?? 0) + 1);
        return `${text} (draft ${context.attempt})`;
      }),
    )
    .gate(predicateGate('second-draft', (draft: string) => draft.includes('draft 2') || 'Revise once.'), { retries: 1 })
    .then(
      parallel('sections', {
        branches: { facts: counted('facts', (draft: string) => `facts of ${draft}`), risks: counted('risks', (draft: string) => `risks of ${draft}`) },
        synthesize: counted('join', ({ results }: { results: { facts?: string; risks?: string } }) => `${results.facts} + ${results.risks}`),
      }),
    )
    .then(
      route('tone', {
        classify: (text: string) => (text.length > 10 ? 'long' : 'short'),
        branches: { long: counted('long', (text: string) => `LONG: ${text}`) },
        fallback: counted('short', (text: string) => `SHORT: ${text}`),
      }),
    )
    .then(vote('check', { voter: counted('checker', (text: string) => text.startsWith('LONG')), voters: 3, aggregate: majority(), maxConcurrency: 1 }))
    .then(modelStep('title', { prompt: (verdict: { value: boolean }) => `title for ${String(verdict.value)}`, model: 'titles' }));
}

describe('resume of a workflow', () => {
  it('after a journal cut at every point, reuses every finished step and ends with the same output', async () => {
    const titles = promptModel((prompt) => `Title: ${prompt}`);
    const journal = createMemoryJournal();
    const blobs = createMemoryBlobStore();
    const keel = createKeel({ journal, blobs, models: { titles }, env: {} });
    cleanups.push(() => keel.close());
    const firstRuns = new Map<string, number>();
    const run = keel.runWorkflow(countedWorkflow(firstRuns), '  Quarterly Report  ');
    const clean = await run.result;
    expect(clean).toMatchObject({ status: 'completed', output: 'Title: title for true' });
    const events = await keel.events(run.sessionId);
    expect(events.length).toBeGreaterThan(30);

    for (let cut = 2; cut < events.length; cut += 1) {
      const prefix = events.slice(0, cut);
      const cutJournal = createMemoryJournal();
      await cutJournal.append(run.sessionId, prefix, 0);
      const resumer = createKeel({ journal: cutJournal, blobs, models: { titles }, env: {} });
      const runs = new Map<string, number>();
      const resumed = await resumer.resumeWorkflow(countedWorkflow(runs), run.sessionId).result;
      expect(resumed, `cut after ${cut} events`).toMatchObject({ status: 'completed', output: clean.output, usage: clean.usage });
      // A step whose step-end survived the cut is never run again.
      const finished = new Set(prefix.flatMap((event) => (event.type === 'step-end' && event.status === 'ok' ? [`${event.path}#${event.attempt}`] : [])));
      for (const path of runs.keys()) expect(finished.has(path), `cut after ${cut}: ${path} ran again`).toBe(false);
      const all: SessionEvent[] = [];
      for await (const event of cutJournal.read(run.sessionId)) all.push(event);
      expect(all.filter((event) => event.type === 'session-end')).toHaveLength(1);
      expect(validateJournal(all).problems, `cut after ${cut}`).toEqual([]);
      expect(new Set(all.filter((event) => event.type === 'step-end').map((event) => event.type === 'step-end' && `${event.path}#${event.attempt}`)).size).toBe(all.filter((event) => event.type === 'step-end').length);
      await resumer.close();
    }
  });

  it('an ended run returns its recorded outcome without running anything; a changed definition is refused', async () => {
    const { keel, cleanup } = scratchKeel({ titles: promptModel(() => 'T') });
    cleanups.push(cleanup);
    const runs = new Map<string, number>();
    const run = keel.runWorkflow(countedWorkflow(runs), 'abc');
    const first = await run.result;
    const again = new Map<string, number>();
    expect(await keel.resumeWorkflow(countedWorkflow(again), run.sessionId).result).toEqual(first);
    expect(again.size).toBe(0);
    const changed = chain<string>('pipeline').then(step('normalize', (text: string) => text));
    await expect(keel.resumeWorkflow(changed, run.sessionId).result).rejects.toThrow(/different definition/);
  });

  it('cancelling through the signal cancels the running branches and ends the run cancelled', async () => {
    const { keel, cleanup } = scratchKeel({});
    cleanups.push(cleanup);
    const controller = new AbortController();
    const started: string[] = [];
    const slow = (name: string) =>
      step(name, async (_: string, context) => {
        started.push(name);
        await pause(name === 'a' ? 10 : 10_000, context.signal);
        return name;
      });
    const workflow = parallel('fan', { branches: { a: slow('a'), b: slow('b') } });
    const run = keel.runWorkflow(workflow, 'x', { signal: controller.signal });
    await pause(100);
    controller.abort();
    const result = await run.result;
    expect(result).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    const ends = (await keel.events(run.sessionId)).filter((event) => event.type === 'step-end');
    expect(ends.map((event) => event.type === 'step-end' && [event.path, event.status])).toEqual([
      ['fan/a', 'ok'],
      ['fan/b', 'cancelled'],
      ['fan', 'cancelled'],
    ]);
  });

  it('a deadline stops the run with a guard-trip naming it', async () => {
    const { keel, cleanup } = scratchKeel({});
    cleanups.push(cleanup);
    const workflow = chain<string>('slow').then(step('wait', async (_: string, context) => pause(10_000, context.signal).then(() => 'late')));
    const run = keel.runWorkflow(workflow, 'x', { budget: { deadlineMs: 50 } });
    expect(await run.result).toMatchObject({ status: 'failed', error: { code: 'deadline-exceeded' } });
    expect((await keel.events(run.sessionId)).find((event) => event.type === 'guard-trip')).toMatchObject({ guard: 'deadline' });
  });

  it("a token budget stops the run before the step that would start past it, naming the budget", async () => {
    const { keel, cleanup } = scratchKeel({ titles: promptModel(() => 'T') });
    cleanups.push(cleanup);
    // Each model call spends 150 tokens: the second brings the run to 300 of its 250, so the third never starts.
    const workflow = chain<string>('spend')
      .then(modelStep('one', { prompt: () => 'one', model: 'titles' }))
      .then(modelStep('two', { prompt: () => 'two', model: 'titles' }))
      .then(modelStep('three', { prompt: () => 'three', model: 'titles' }));
    const run = keel.runWorkflow(workflow, 'x', { budget: { tokens: 250 } });
    const result = await run.result;
    expect(result).toMatchObject({ status: 'failed', error: { code: 'guard-tripped' }, usage: { inputTokens: 200, outputTokens: 100 } });
    const events = await keel.events(run.sessionId);
    expect(events.find((event) => event.type === 'guard-trip')).toMatchObject({ guard: 'tokens', limit: 250, actual: 300, budgetSessionId: run.sessionId });
    expect(events.some((event) => event.type === 'step-start' && event.path === 'spend/three')).toBe(false);
  });
});
