import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { asTool, defineAgent } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { planJsonSchema, validatePlan } from '../../src/planner/index.ts';
import { planStep } from './planner-fixtures.ts';
import { cappedProblems, invalidPlanError, maxListedProblems, maxPlanAnswerChars, planLimits } from '../../src/planner/plan-schema.ts';
import { firstJsonObject, maxAnswerChars } from '../../src/security/model-json.ts';

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

describe('plan problems and answers stay bounded', () => {
  const wide = defineAgent({ name: 'wide', instructions: 'Plan.', tools: [lookup], planner: { maxSteps: 100 } });
  const wideContext = { agent: wide, options: wide.planner! };

  it('lists at most 20 problems and counts the rest, in the validation, the error message and its details', () => {
    const unknown = Array.from({ length: 100 }, (_, index) => `u${'x'.repeat(60)}${index}`);
    const steps = Array.from({ length: 100 }, (_, index) => planStep(`s${index}`, unknown, { tool: 'nope'.repeat(32) }));
    const validation = validatePlan({ goal: 'g', steps }, wideContext);
    if (validation.ok) throw new Error('expected the plan to be invalid');
    // 100 steps × (100 unknown dependencies + 1 unknown tool) problems.
    expect(validation.problems).toHaveLength(maxListedProblems + 1);
    expect(validation.problems.at(-1)).toMatch(/^… and 10080 more problems, not listed/);
    const error = invalidPlanError(validation.problems, 1);
    expect(error.message.length).toBeLessThan(8_000);
    expect(error.message).toContain('… and 10080 more problems');
    expect(error.details?.problems).toEqual(validation.problems);
  });

  it('caps long problems and the total, and a capped list passes through unchanged', () => {
    const long = Array.from({ length: 15 }, (_, index) => `problem ${index} ${'y'.repeat(2_000)}`);
    const capped = cappedProblems(long);
    expect(capped.join('; ').length).toBeLessThan(7_000);
    expect(capped.at(-1)).toMatch(/^… and \d+ more problems/);
    expect(cappedProblems(capped)).toEqual(capped);
    expect(cappedProblems(['one', 'two'])).toEqual(['one', 'two']);
  });

  it('reads a plan answer as long as the largest plan the schema accepts, and says when an answer is over the limit', () => {
    const field = (length: number, seed: string) => seed.repeat(length).slice(0, length);
    const ids = Array.from({ length: 100 }, (_, index) => `${field(60, 's')}${String(index).padStart(4, '0')}`);
    const steps = ids.map((id, index) => ({
      id,
      description: field(planLimits.descriptionChars, 'd"\\'),
      dependsOn: ids.slice(0, index).slice(-planLimits.dependencies),
      tool: 'lookup',
      expectedOutput: field(planLimits.expectationChars, 'e\n'),
      successCriterion: field(planLimits.expectationChars, 'c'),
      rerun: true,
    }));
    const plan = { goal: field(planLimits.goalChars, 'g'), steps };
    expect(validatePlan(plan, wideContext).ok).toBe(true);
    const answer = `Here is the plan:\n\`\`\`json\n${JSON.stringify(plan, null, 2)}\n\`\`\`\nDone.`;
    expect(answer.length).toBeGreaterThan(maxAnswerChars);
    expect(answer.length).toBeLessThanOrEqual(maxPlanAnswerChars(100));
    const read = firstJsonObject(answer, { maxChars: maxPlanAnswerChars(100) });
    expect(read.ok && validatePlan(read.value, wideContext).ok).toBe(true);
    expect(firstJsonObject(answer)).toEqual({ ok: false, problem: `the answer is ${answer.length} characters, over the limit of ${maxAnswerChars}, and its JSON object does not end within the limit` });
    expect(maxPlanAnswerChars(4)).toBeLessThan(maxPlanAnswerChars(100));
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
