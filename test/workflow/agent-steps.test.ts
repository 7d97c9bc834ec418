import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import type { ScriptedResponseInput } from '../../src/model/scripted-script.ts';
import { defineTool } from '../../src/tools/index.ts';
import { renderTraceTree } from '../../src/tracing/index.ts';
import { agentStep, chain, modelStep, parallel, step } from '../../src/workflow/index.ts';
import type { ParallelResults } from '../../src/workflow/index.ts';
import { promptModel, scratchKeel } from './workflow-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** 1,500 tokens per response, so budgets cross at known points. */
const usage = { input_tokens: 1000, output_tokens: 500 };
const noteCall: ScriptedResponseInput = { content: [{ type: 'tool_use', name: 'note', input: { text: 'a finding' } }], stop_reason: 'tool_use', usage };
const answer = (text: string): ScriptedResponseInput => ({ content: [{ type: 'text', text }], stop_reason: 'end_turn', usage });

const note = defineTool({ name: 'note', description: 'Notes a finding.', input: z.object({ text: z.string() }), risk: 'read', execute: ({ text }) => `noted: ${text}` });
const researcher = defineAgent({ name: 'researcher', instructions: 'Research the task.', tools: [note], model: 'worker', streaming: false });

function setup() {
  const scratch = scratchKeel({ worker: createScriptedModel([noteCall, answer('two findings')]), writer: promptModel((prompt) => `Report on: ${prompt}`) });
  cleanups.push(scratch.cleanup);
  return scratch.keel;
}

describe('agent steps', () => {
  it('run as child sessions linked both ways; their spend counts in the workflow and the trace shows the steps', async () => {
    const keel = setup();
    const research = parallel('research', {
      branches: {
        market: agentStep(researcher, { name: 'market', task: (topic: string) => `Market of ${topic}.` }),
        rivals: agentStep(researcher, { name: 'rivals', task: (topic: string) => `Rivals of ${topic}.` }),
      },
      synthesize: modelStep('report', { prompt: ({ results }: ParallelResults<string, { market: string; rivals: string }>) => `${results.market} / ${results.rivals}`, model: 'writer' }),
    });
    const workflow = chain<string>('study').then(step('topic', (text: string) => text.toUpperCase())).then(research);
    const run = keel.runWorkflow(workflow, 'e-bikes');
    const result = await run.result;
    expect(result).toMatchObject({ status: 'completed', output: 'Report on: two findings / two findings' });
    // Two children of two responses each (3,000 tokens each) and one model step (150).
    expect(result.usage).toMatchObject({ inputTokens: 4100, outputTokens: 2050 });

    const events = await keel.events(run.sessionId);
    const childStarts = events.filter((event) => event.type === 'child-start');
    expect(childStarts.map((event) => event.type === 'child-start' && [event.callId, event.mode, event.agent])).toEqual(
      expect.arrayContaining([
        ['study/research/market#1', 'step', 'researcher'],
        ['study/research/rivals#1', 'step', 'researcher'],
      ]),
    );
    for (const start of childStarts) {
      if (start.type !== 'child-start') continue;
      const stepStart = events.find((event) => event.type === 'step-start' && `${event.path}#${event.attempt}` === start.callId);
      expect(stepStart).toMatchObject({ kind: 'agent', childSessionId: start.childSessionId });
      const child = await keel.events(start.childSessionId);
      expect(child[0]).toMatchObject({ type: 'session-start', parentSessionId: run.sessionId, input: expect.stringMatching(/^(Market|Rivals) of E-BIKES\.$/) });
      expect(child.at(-1)).toMatchObject({ type: 'session-end', status: 'completed', output: 'two findings' });
      expect(events.find((event) => event.type === 'child-end' && event.callId === start.callId)).toMatchObject({ status: 'completed', usage: { inputTokens: 2000, outputTokens: 1000 } });
    }

    const text = renderTraceTree(await keel.trace(run.sessionId));
    expect(text).toMatch(/workflow study \(chain\)/);
    expect(text).toMatch(/step topic \[function\]/);
    expect(text).toMatch(/step market \[agent\].*ok {2}in=2000 out=1000 {2}child session ses_/);
    expect(text).toMatch(/join \(all\): 2 ok; proceeds/);
    expect(text).toMatch(/step report \[model\].*in=100 out=50/);
  });

  it("the run's token budget bounds its children: the child that crosses it stops with a guard-trip naming the workflow", async () => {
    const keel = setup();
    const workflow = chain<string>('two')
      .then(agentStep(researcher, { name: 'first', task: () => 'First.' }))
      .then(agentStep(researcher, { name: 'second', task: () => 'Second.' }));
    // The first child spends 3,000; the second's first response takes the run to 4,500, past 4,000.
    const run = keel.runWorkflow(workflow, 'x', { budget: { tokens: 4_000 } });
    const result = await run.result;
    expect(result.status).toBe('failed');
    expect(result.usage.inputTokens + result.usage.outputTokens).toBe(4_500);
    const events = await keel.events(run.sessionId);
    const second = events.find((event) => event.type === 'child-start' && event.callId === 'two/second#1');
    const child = await keel.events(second?.type === 'child-start' ? second.childSessionId : '');
    expect(child.find((event) => event.type === 'guard-trip')).toMatchObject({ guard: 'tokens', limit: 4_000, actual: 4_500, budgetSessionId: run.sessionId });
  });

  it('an agent step whose agent declares a scope the workflow does not grant is refused at delegation', async () => {
    const keel = setup();
    const writerAgent = defineAgent({ name: 'refunder', instructions: 'Refund.', tools: [note], scopes: ['orders:write'], model: 'worker', streaming: false });
    const run = keel.runWorkflow(chain<string>('desk').then(agentStep(writerAgent)), 'refund order 7', { scopes: ['orders:read'] });
    const result = await run.result;
    expect(result).toMatchObject({ status: 'failed', error: { code: 'tool-denied' } });
    expect(result.error?.message).toMatch(/orders:write/);
    expect((await keel.sessions()).filter((session) => session.agent === 'refunder')).toHaveLength(0);
  });
});
