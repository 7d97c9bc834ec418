import { afterEach, describe, expect, it } from 'vitest';
import { modelClassifier, parseClassification, route, step } from '../../src/workflow/index.ts';
import { promptModel, scratchKeel } from './workflow-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const handled: string[] = [];
const branch = (name: string) =>
  step(name, (ticket: string) => {
    handled.push(name);
    return `${name} handled: ${ticket}`;
  });

describe('route', () => {
  it('dispatches a function classifier label in code and journals the decision with its confidence', async () => {
    const { keel, cleanup } = scratchKeel({});
    cleanups.push(cleanup);
    handled.length = 0;
    const desk = route('desk', {
      classify: (ticket: string) => ({ label: ticket.includes('invoice') ? 'billing' : 'technical', confidence: 0.9 }),
      branches: { billing: branch('billing'), technical: branch('technical') },
      fallback: branch('general'),
    });
    const run = keel.runWorkflow(desk, 'my invoice is wrong');
    expect(await run.result).toMatchObject({ status: 'completed', output: 'billing handled: my invoice is wrong' });
    expect(handled).toEqual(['billing']);
    const decision = (await keel.events(run.sessionId)).find((event) => event.type === 'route-decision');
    expect(decision).toMatchObject({ path: 'desk', label: 'billing', branch: 'billing', confidence: 0.9, fallback: false });
  });

  it('sends a label outside the closed set to the fallback, and says so in the journal', async () => {
    const { keel, cleanup } = scratchKeel({});
    cleanups.push(cleanup);
    handled.length = 0;
    const desk = route('desk', { classify: () => 'legal', branches: { billing: branch('billing') }, fallback: branch('general') });
    const run = keel.runWorkflow(desk, 'a contract question');
    expect(await run.result).toMatchObject({ status: 'completed', output: 'general handled: a contract question' });
    expect(handled).toEqual(['general']);
    const decision = (await keel.events(run.sessionId)).find((event) => event.type === 'route-decision');
    expect(decision).toMatchObject({ label: 'legal', branch: 'general', fallback: true, confidence: null });
    expect(decision?.type === 'route-decision' ? decision.reason : '').toMatch(/not one of billing; the fallback takes it/);
  });

  it('a model classifier answers from a closed set; its call is a journaled step with its spend', async () => {
    const classifier = promptModel((prompt) => (prompt.includes('crash') ? '{"label": "technical", "confidence": 0.82}' : 'I think this is about cooking.'));
    const { keel, cleanup } = scratchKeel({ classifier });
    cleanups.push(cleanup);
    handled.length = 0;
    const desk = route('desk', {
      classify: modelClassifier({ labels: ['billing', 'technical'], instructions: 'billing: invoices; technical: errors.', model: 'classifier' }),
      branches: { billing: branch('billing'), technical: branch('technical') },
      fallback: branch('general'),
    });
    const technical = keel.runWorkflow(desk, 'the app crashes on start');
    expect(await technical.result).toMatchObject({ status: 'completed', output: 'technical handled: the app crashes on start', usage: { inputTokens: 100, outputTokens: 50 } });
    const events = await keel.events(technical.sessionId);
    expect(events.find((event) => event.type === 'step-end' && event.path === 'desk/classify')).toMatchObject({ status: 'ok', output: { label: 'technical', confidence: 0.82 }, usage: { inputTokens: 100 } });
    expect(events.find((event) => event.type === 'route-decision')).toMatchObject({ label: 'technical', confidence: 0.82, fallback: false });

    const unknown = await keel.runWorkflow(desk, 'a recipe for soup').result;
    expect(unknown).toMatchObject({ status: 'completed', output: 'general handled: a recipe for soup' });
    expect(handled).toEqual(['technical', 'general']);
  });

  it('reads labels from JSON, from the text, or keeps the unknown answer for the fallback', () => {
    expect(parseClassification('Sure: {"label":"billing","confidence":2}', ['billing'])).toMatchObject({ label: 'billing', confidence: null });
    expect(parseClassification('It is Technical.', ['billing', 'technical'])).toMatchObject({ label: 'technical' });
    expect(parseClassification('x'.repeat(500), ['billing']).label.length).toBeLessThan(200);
  });

  it('refuses a route without branches and a branch named like its classifier', () => {
    expect(() => route('r', { classify: () => 'a', branches: {}, fallback: branch('general') })).toThrow(/at least one branch/);
    expect(() => route('r', { classify: () => 'a', branches: { a: branch('classify') }, fallback: branch('general') })).toThrow(/may not be named classify/);
  });
});
