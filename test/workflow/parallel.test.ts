import { afterEach, describe, expect, it } from 'vitest';
import { judge, majority, parallel, step, threshold, vote } from '../../src/workflow/index.ts';
import type { ParallelResults } from '../../src/workflow/index.ts';
import type { SessionEvent } from '../../src/spec/events.ts';
import { pause, scratchKeel } from './workflow-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function setup() {
  const scratch = scratchKeel({});
  cleanups.push(scratch.cleanup);
  return scratch.keel;
}

const joinOf = (events: readonly SessionEvent[]) => events.find((event) => event.type === 'parallel-join');
const failing = (name: string) =>
  step(name, (): string => {
    throw new Error(`${name} could not reach its source`);
  });

describe('parallel sectioning', () => {
  it('runs different subtasks at once, at most maxConcurrency at a time, and synthesizes their results', async () => {
    const keel = setup();
    let running = 0;
    let peak = 0;
    const analysis = (name: string) =>
      step(name, async (topic: string) => {
        running += 1;
        peak = Math.max(peak, running);
        await pause(20);
        running -= 1;
        return `${name} of ${topic}`;
      });
    const review = parallel('review', {
      branches: { legal: analysis('legal'), financial: analysis('financial'), technical: analysis('technical') },
      maxConcurrency: 2,
      synthesize: step('synthesize', ({ results, failed }: ParallelResults<string, { legal: string; financial: string; technical: string }>) => `${results.legal} | ${results.financial} | ${results.technical} | failed: ${failed.length}`),
    });
    const run = keel.runWorkflow(review, 'the merger');
    expect(await run.result).toMatchObject({ status: 'completed', output: 'legal of the merger | financial of the merger | technical of the merger | failed: 0' });
    expect(peak).toBe(2);
    expect(joinOf(await keel.events(run.sessionId))).toMatchObject({ policy: 'all', succeeded: ['legal', 'financial', 'technical'], failed: [], proceed: true });
  });

  it("policy all: one failure fails the step with quorum-not-met and cancels the branches still waiting", async () => {
    const keel = setup();
    let startedAfterFailure = 0;
    const review = parallel('review', {
      branches: {
        broken: failing('broken'),
        slow: step('slow', async (_: string, context) => {
          await pause(5_000, context.signal);
          return 'slow';
        }),
        later: step('later', () => {
          startedAfterFailure += 1;
          return 'later';
        }),
      },
      maxConcurrency: 2,
    });
    const run = keel.runWorkflow(review, 'x');
    const result = await run.result;
    expect(result).toMatchObject({ status: 'failed', error: { code: 'quorum-not-met' } });
    expect(result.error?.message).toMatch(/0 of 3 branches succeeded, not enough for all: broken error \(tool-failed: broken could not reach its source\); slow cancelled/);
    expect(startedAfterFailure).toBe(0);
  });

  it('policy quorum proceeds with enough branches and tells the synthesis which failed; best effort needs one', async () => {
    const keel = setup();
    const seen: string[] = [];
    const synthesize = step('synthesize', ({ succeeded, failed }: ParallelResults<string, Record<string, string>>) => {
      seen.push(`${succeeded.join(',')} without ${failed.map((failure) => `${failure.branch}:${failure.error?.code}`).join(',')}`);
      return 'combined';
    });
    const ok = (name: string) => step(name, () => name);
    const quorum = parallel('quorum', { branches: { a: ok('a'), b: ok('b'), c: failing('c') }, policy: { quorum: 2 }, synthesize });
    expect(await keel.runWorkflow(quorum, 'x').result).toMatchObject({ status: 'completed', output: 'combined' });
    expect(seen).toEqual(['a,b without c:tool-failed']);

    const short = parallel('quorum', { branches: { a: ok('a'), b: failing('b'), c: failing('c') }, policy: { quorum: 2 }, synthesize });
    expect(await keel.runWorkflow(short, 'x').result).toMatchObject({ status: 'failed', error: { code: 'quorum-not-met' } });

    const bestEffort = parallel('best', { branches: { a: failing('a'), b: ok('b') }, policy: 'best-effort' });
    const run = keel.runWorkflow(bestEffort, 'x');
    expect(await run.result).toMatchObject({ status: 'completed', output: { results: { b: 'b' }, succeeded: ['b'], failed: [{ branch: 'a', status: 'error' }] } });
    const none = parallel('best', { branches: { a: failing('a'), b: failing('b') }, policy: 'best-effort' });
    expect(await keel.runWorkflow(none, 'x').result).toMatchObject({ status: 'failed', error: { code: 'quorum-not-met' } });
  });

  it('a branch over its timeout fails with status timeout, even when it ignores its signal', async () => {
    const keel = setup();
    const review = parallel('review', {
      branches: { quick: step('quick', () => 'quick'), stuck: step('stuck', () => pause(10_000).then(() => 'never')) },
      branchTimeoutMs: 50,
      policy: 'best-effort',
    });
    const run = keel.runWorkflow(review, 'x');
    expect(await run.result).toMatchObject({ status: 'completed', output: { succeeded: ['quick'], failed: [{ branch: 'stuck', status: 'timeout', error: { code: 'deadline-exceeded' } }] } });
    const stuckEnd = (await keel.events(run.sessionId)).find((event) => event.type === 'step-end' && event.path === 'review/stuck');
    expect(stuckEnd).toMatchObject({ status: 'timeout', error: { message: 'Branch review/stuck took longer than its 50 ms timeout.' } });
  });

  it('two branches updating the same record lose an update without a lock key, and keep both with one', async () => {
    const keel = setup();
    // A record store without concurrency control: read, think, write back the whole record.
    const records = new Map<string, { tags: string[] }>();
    const addTag = (tag: string) =>
      step(tag, async (id: string) => {
        const current = records.get(id) ?? { tags: [] };
        await pause(10);
        records.set(id, { tags: [...current.tags, tag] });
        return tag;
      });
    records.set('order-1', { tags: [] });
    const racing = parallel('tagging', { branches: { urgent: addTag('urgent'), vip: addTag('vip') } });
    expect(await keel.runWorkflow(racing, 'order-1').result).toMatchObject({ status: 'completed' });
    expect(records.get('order-1')?.tags).toHaveLength(1);

    records.set('order-2', { tags: [] });
    const serialized = parallel('tagging', { branches: { urgent: addTag('urgent'), vip: addTag('vip') }, resources: { urgent: ['order'], vip: ['order'] } });
    expect(await keel.runWorkflow(serialized, 'order-2').result).toMatchObject({ status: 'completed' });
    expect(records.get('order-2')?.tags.sort()).toEqual(['urgent', 'vip']);
  });

  it('a merge rule: branches return their changes and the synthesis applies them in one write', async () => {
    const keel = setup();
    const record = { id: 7, status: 'open', owner: 'nobody', version: 1 };
    const merge = parallel('update', {
      branches: { triage: step('triage', () => ({ status: 'triaged' })), assign: step('assign', () => ({ owner: 'ana' })) },
      synthesize: step('merge', ({ results }: ParallelResults<unknown, { triage: { status: string }; assign: { owner: string } }>) => {
        Object.assign(record, results.triage, results.assign, { version: record.version + 1 });
        return record;
      }),
    });
    expect(await keel.runWorkflow(merge, null).result).toMatchObject({ status: 'completed', output: { id: 7, status: 'triaged', owner: 'ana', version: 2 } });
  });

  it('refuses too many branches, a bad concurrency and an impossible quorum at definition', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, index) => [`b${index}`, step(`b${index}`, () => index)]));
    expect(() => parallel('p', { branches: many })).toThrow(/at most 64/);
    expect(() => parallel('p', { branches: { a: step('a', () => 1) }, maxConcurrency: 0 })).toThrow(/maxConcurrency/);
    expect(() => parallel('p', { branches: { a: step('a', () => 1) }, policy: { quorum: 2 } })).toThrow(/quorum/);
  });
});

describe('parallel voting', () => {
  const answers = (values: readonly string[]) => {
    let index = 0;
    return step('classify', () => values[index++ % values.length] as string);
  };

  it('majority keeps the answer most voters gave, and reports the dissent', async () => {
    const keel = setup();
    const run = keel.runWorkflow(vote('spam', { voter: answers(['spam', 'spam', 'ham']), voters: 3, aggregate: majority(), maxConcurrency: 1 }), 'buy now');
    expect(await run.result).toMatchObject({ status: 'completed', output: { value: 'spam', votes: 2, total: 3, dissent: [{ voter: 'classify.3', value: 'ham' }] } });
    expect(joinOf(await keel.events(run.sessionId))).toMatchObject({ vote: { method: 'majority', winner: '"spam"', votes: 2, total: 3, dissent: ['classify.3'] }, proceed: true });

    const split = await keel.runWorkflow(vote('spam', { voter: answers(['spam', 'ham']), voters: 2, aggregate: majority(), maxConcurrency: 1 }), 'hmm').result;
    expect(split).toMatchObject({ status: 'failed', error: { code: 'quorum-not-met' } });
    expect(split.error?.message).toMatch(/No answer reached the majority of 2 answers/);
  });

  it('threshold needs that share of the answers to agree', async () => {
    const keel = setup();
    const voter = () => answers(['a', 'a', 'a', 'b', 'c']);
    expect(await keel.runWorkflow(vote('v', { voter: voter(), voters: 5, aggregate: threshold(0.6), maxConcurrency: 1 }), 'x').result).toMatchObject({ status: 'completed', output: { value: 'a', votes: 3 } });
    expect(await keel.runWorkflow(vote('v', { voter: voter(), voters: 5, aggregate: threshold(0.8), maxConcurrency: 1 }), 'x').result).toMatchObject({ status: 'failed', error: { code: 'quorum-not-met' } });
    expect(() => threshold(1.5)).toThrow(/share/);
  });

  it('a judge sees every ballot and the failed voters, and picks the answer', async () => {
    const keel = setup();
    let index = 0;
    const voter = step('estimate', (): number => {
      index += 1;
      if (index === 2) throw new Error('timeout upstream');
      return index * 10;
    });
    const seen: string[] = [];
    const pick = step('pick', ({ ballots, failed }: { ballots: readonly { voter: string; value: number }[]; failed: readonly { branch: string }[] }) => {
      seen.push(`${ballots.map((ballot) => ballot.value).join(',')} failed ${failed.map((failure) => failure.branch).join(',')}`);
      return Math.max(...ballots.map((ballot) => ballot.value));
    });
    const run = keel.runWorkflow(vote('estimate-all', { voter, voters: 3, aggregate: judge(pick), policy: 'best-effort', maxConcurrency: 1 }), 'x');
    expect(await run.result).toMatchObject({ status: 'completed', output: { value: 30, votes: 1, total: 2, failed: [{ branch: 'estimate.2' }] } });
    expect(seen).toEqual(['10,30 failed estimate.2']);
  });
});
