import { describe, expect, it } from 'vitest';
import { DurableSteps } from '../../src/restate/durable-steps.ts';
import type { StepContext } from '../../src/restate/durable-steps.ts';
import { StepClock } from '../../src/restate/step-clock.ts';

/** A test double of `ctx.run` that records each step's name and runs its action later, from its own scheduling, as the SDK does. */
function recordingContext(): { readonly context: StepContext; readonly names: string[] } {
  const names: string[] = [];
  return {
    names,
    context: {
      run: <T>(name: string, action: () => Promise<T>): PromiseLike<T> => {
        names.push(name);
        return new Promise<T>((resolve, reject) => setImmediate(() => action().then(resolve, reject)));
      },
    },
  };
}

function sessionSteps(): { readonly steps: DurableSteps; readonly names: string[] } {
  const { context, names } = recordingContext();
  return { steps: new DurableSteps(context, new StepClock(0)), names };
}

describe('durable steps', () => {
  it('runs a step asked for inside one of its own steps directly, as part of the enclosing step', async () => {
    const { steps, names } = sessionSteps();
    const value = await steps.run('tool call_1', async () => `sampled ${await steps.run('side-model 1', async () => 'an answer')}`);
    expect(value).toBe('sampled an answer');
    expect(names).toEqual(['tool call_1']);
  });

  it('records a step of another session asked for inside a step: only a session’s own steps enclose', async () => {
    const parent = sessionSteps();
    const child = sessionSteps();
    const value = await parent.steps.run('tool call_1', async () => {
      const inner = await child.steps.run('model 1', async () => child.steps.run('model 1 token count', async () => 7));
      return inner + (await parent.steps.run('nested', async () => 1));
    });
    expect(value).toBe(8);
    expect(parent.names).toEqual(['tool call_1']);
    expect(child.names).toEqual(['model 1']);
  });

  it('adds nothing to the promises of the process per session: one storage serves every session', async () => {
    const ownSymbols = (): number => Object.getOwnPropertySymbols(Promise.resolve()).length;
    await sessionSteps().steps.run('first', async () => 1);
    const afterOne = ownSymbols();
    // Each session's steps once entered a storage of its own, which stays registered and tags every later promise.
    for (let session = 0; session < 50; session += 1) await sessionSteps().steps.run('step', async () => session);
    expect(ownSymbols()).toBe(afterOne);
  });
});
