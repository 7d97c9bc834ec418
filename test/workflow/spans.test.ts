import { afterEach, describe, expect, it } from 'vitest';
import { buildSpans } from '../../src/tracing/index.ts';
import { chain, parallel, step } from '../../src/workflow/index.ts';
import { scratchKeel } from './workflow-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('workflow spans', () => {
  it('exports each step as a span under its enclosing step, with its status, and a failed step marked as an error', async () => {
    const scratch = scratchKeel({});
    cleanups.push(scratch.cleanup);
    const workflow = chain<string>('flow')
      .then(step('first', (text: string) => text))
      .then(parallel('fan', { branches: { ok: step('ok', () => 1), broken: step('broken', (): number => { throw new Error('down'); }) }, policy: 'best-effort' }));
    const run = scratch.keel.runWorkflow(workflow, 'x');
    expect((await run.result).status).toBe('completed');
    const spans = buildSpans(await scratch.keel.events(run.sessionId));
    const byPath = new Map(spans.filter((span) => span.name.startsWith('workflow_step ')).map((span) => [span.attributes['keel.workflow.step.path'], span]));
    const root = spans.find((span) => span.name === 'invoke_agent flow');
    expect([...byPath.keys()].sort()).toEqual(['flow', 'flow/fan', 'flow/fan/broken', 'flow/fan/ok', 'flow/first']);
    expect(byPath.get('flow')?.parentSpanId).toBe(root?.spanId);
    expect(byPath.get('flow/first')?.parentSpanId).toBe(byPath.get('flow')?.spanId);
    expect(byPath.get('flow/fan/ok')?.parentSpanId).toBe(byPath.get('flow/fan')?.spanId);
    expect(byPath.get('flow/fan/ok')?.attributes).toMatchObject({ 'keel.workflow.step.kind': 'function', 'keel.workflow.step.status': 'ok', 'keel.workflow.step.attempt': 1 });
    expect(byPath.get('flow/fan/broken')).toMatchObject({ status: { code: 'error' }, attributes: { 'keel.workflow.step.status': 'error' } });
  });
});
