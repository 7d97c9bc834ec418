import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { asTool, defineAgent } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { planJsonSchema, validatePlan } from '../../src/planner/index.ts';
import { planStep } from './planner-fixtures.ts';

const lookup = defineTool({ name: 'lookup', description: 'Looks up.', input: z.object({ q: z.string() }), risk: 'read', execute: ({ q }) => q });
const helper = defineAgent({ name: 'helper', instructions: 'Help.' });
const agent = defineAgent({ name: 'planner', instructions: 'Plan.', tools: [lookup, asTool(helper, { description: 'Helps.' })], planner: { maxSteps: 4 } });
const context = { agent, options: agent.planner! };
const problems = (steps: unknown[]) => {
  const validation = validatePlan({ goal: 'g', steps }, context);
  return validation.ok ? [] : validation.problems;
};

describe('validatePlan', () => {
  it('accepts a DAG naming existing tools and subagents, and fills defaults', () => {
    const validation = validatePlan({ goal: 'g', steps: [{ ...planStep('a', [], { tool: 'lookup' }), dependsOn: undefined }, planStep('b', ['a', 'a'], { subagent: 'helper' })] }, context);
    expect(validation).toEqual({ ok: true, plan: { goal: 'g', steps: [expect.objectContaining({ id: 'a', dependsOn: [], tool: 'lookup' }), expect.objectContaining({ id: 'b', dependsOn: ['a'], subagent: 'helper' })] } });
  });

  it('names every problem: a cycle, a duplicate id, a missing dependency, an unknown tool and subagent', () => {
    expect(problems([planStep('a', ['c']), planStep('b', ['a']), planStep('c', ['b'])])).toEqual(['the dependencies form a cycle through steps "a", "b", "c"; a plan must be a directed acyclic graph']);
    expect(problems([planStep('a'), planStep('a'), planStep('b', ['ghost'], { tool: 'nope', subagent: 'nobody' })])).toEqual([
      'step id "a" is used twice',
      'step "b" depends on "ghost", which is not a step of this plan',
      'step "b" names tool "nope", which agent "planner" does not have (tools: "lookup", "helper")',
      'step "b" names subagent "nobody", which is not available (subagents: "helper")',
    ]);
  });

  it('enforces the shape and the step limit', () => {
    expect(problems([planStep('a'), planStep('b'), planStep('c'), planStep('d'), planStep('e')])).toEqual(['the plan has 5 steps; at most 4 are allowed']);
    expect(problems([{ ...planStep('bad id!'), extra: 1 }])).toEqual([expect.stringContaining('steps.0.id'), expect.stringContaining('Unrecognized key')]);
    expect(validatePlan('a plan', context)).toMatchObject({ ok: false });
  });

  it('tells the model the same shape it validates', () => {
    expect(planJsonSchema).toMatchObject({ type: 'object', required: ['goal', 'steps'] });
  });
});

describe('a v1 planner journal (test/fixtures/journals)', () => {
  it('folds into the same plan state: two revisions, the approval, the reused step and the outcome', async () => {
    const { readFileSync } = await import('node:fs');
    const { PlanState } = await import('../../src/planner/index.ts');
    const text = readFileSync(new URL('../fixtures/journals/v1-planner-session.jsonl', import.meta.url), 'utf8');
    const state = PlanState.of(text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line)));
    expect([...state.revisions.keys()]).toEqual([1, 2]);
    expect(state.revisions.get(1)).toMatchObject({ approval: { decision: 'approved', approver: 'dana' }, deviations: [{ stepId: 'draft', kind: 'criterion-missed' }] });
    expect([...state.passedResults().keys()].sort()).toEqual(['draft-cited', 'gather']);
    expect(state.passedResults().get('gather')?.revision).toBe(1);
    expect(state.end).toMatchObject({ status: 'completed', output: 'a brief [source]' });
    expect(state.needsPlan).toBe(false);
  });
});
