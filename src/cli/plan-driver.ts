import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { KeelError } from '../errors/index.ts';
import { createKeel } from '../runtime/index.ts';
import type { AgentDefinition } from '../loop/index.ts';
import { PlanState, planView, stepCallId } from '../planner/index.ts';
import type { PlanDecision, PlanView } from '../planner/index.ts';
import type { PlanStepRecord, SessionEvent } from '../spec/events.ts';
import type { CliContext } from './cli-context.ts';
import { chooseDatabase, hint, withReadOnlyAccess } from './cli-context.ts';
import { watchInterrupt } from './interrupt.ts';
import { loadAgentModule } from './load-agent.ts';
import { followSession } from './session-output.ts';

export interface PlanDecideOptions {
  readonly edit?: string;
  readonly as?: string;
  readonly reason?: string;
  readonly model?: string;
  readonly json?: boolean;
}

/** An edited plan file larger than this is refused: a plan of 100 steps is a few tens of kilobytes. */
const maxPlanFileBytes = 1024 * 1024;

/** Where one step of the current plan stands, from the journal. */
function stepState(view: PlanView, step: PlanStepRecord): string {
  const { state, revision } = view;
  const own = state.stepEnds.get(stepCallId(revision, step.id));
  const passed = state.passedResults().get(step.id);
  if (step.rerun !== true && passed !== undefined) return passed.revision === revision ? 'done' : `done (reused from revision ${passed.revision})`;
  if (own !== undefined) return own.status === 'completed' ? `missed its criterion: ${own.check.reason}` : `${own.status}${own.error === null ? '' : `: ${own.error.message}`}`;
  if (state.stepStarts.has(stepCallId(revision, step.id))) return 'started, no outcome yet';
  return view.waitingForApproval ? 'waits for the plan approval' : 'not started';
}

function planLines(view: PlanView): string[] {
  const current = view.state.current;
  const approval = current?.approval;
  const standing = view.waitingForApproval
    ? 'waiting for approval'
    : approval !== null && approval !== undefined
      ? `${approval.decision} by ${approval.approver}`
      : current?.proposed.requiresApproval === false ? 'no approval required' : 'proposed';
  const lines = [`Session ${view.sessionId}  plan revision ${view.revision} (${standing})${view.state.end === null ? '' : `  session ${view.state.end.status}`}`, `Goal: ${view.plan.goal}`];
  view.plan.steps.forEach((step, index) => {
    const uses = step.subagent !== undefined ? `  [subagent ${step.subagent}]` : step.tool !== undefined ? `  [tool ${step.tool}]` : '';
    const inputs = step.dependsOn.length === 0 ? '' : `  ← ${step.dependsOn.join(', ')}`;
    lines.push(`  ${index + 1}. ${step.id}${uses}${inputs}${step.rerun === true ? '  (rerun)' : ''}`);
    lines.push(`     ${step.description}`);
    lines.push(`     expected: ${step.expectedOutput}`);
    lines.push(`     success:  ${step.successCriterion}`);
    lines.push(`     state:    ${stepState(view, step)}`);
  });
  return lines;
}

export async function showPlan(context: CliContext, command: Command, sessionId: string, options: { readonly json?: boolean }): Promise<number> {
  return withReadOnlyAccess(context, command, async (access, database) => {
    const view = planView(PlanState.of(await access.events(sessionId)), sessionId);
    if (options.json === true) {
      const steps = Object.fromEntries(view.plan.steps.map((step) => [step.id, stepState(view, step)]));
      context.out(JSON.stringify({ sessionId, revision: view.revision, waitingForApproval: view.waitingForApproval, plan: view.plan, steps }));
      return 0;
    }
    for (const line of planLines(view)) context.out(line);
    if (view.waitingForApproval) {
      context.out('');
      context.out(`approve: ${hint(context, database, ['plan', 'approve', sessionId])}`);
      context.out(`edit:    ${hint(context, database, ['plan', 'show', sessionId, '--json'])} (take "plan", edit it), then ${hint(context, database, ['plan', 'approve', sessionId, '--edit', 'plan.json'])}`);
      context.out(`reject:  ${hint(context, database, ['plan', 'reject', sessionId, '--reason', '…'])}`);
    }
    return 0;
  });
}

/** The edited plan: a JSON file, either the plan itself or `keel plan show --json` output (its `plan` field). */
function readPlanFile(cwd: string, path: string): unknown {
  const file = resolve(cwd, path);
  let text: string;
  try {
    if (statSync(file).size > maxPlanFileBytes) throw new KeelError('invalid-argument', `${path} is larger than ${maxPlanFileBytes} bytes; a plan is a small JSON object.`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof KeelError) throw error;
    throw new KeelError('invalid-argument', `Cannot read the edited plan ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new KeelError('invalid-argument', `${path} is not JSON: ${(error as Error).message}`);
  }
  const inner = (value as { plan?: { steps?: unknown } } | null)?.plan;
  return typeof inner === 'object' && inner !== null && Array.isArray(inner.steps) ? inner : value;
}

async function plannerAgent(cwd: string, sessionId: string, start: SessionEvent | undefined): Promise<AgentDefinition> {
  const module = start?.type === 'session-start' ? start.agent.module : undefined;
  if (module === undefined) throw new KeelError('invalid-argument', `Session ${sessionId} was not started from an agent module, so the CLI cannot load its agent; use the API (keel.decidePlan).`);
  const { agent } = await loadAgentModule(module, cwd);
  if (start?.type === 'session-start' && agent.name !== start.agent.name) {
    throw new KeelError('invalid-argument', `Session ${sessionId} was run by agent "${start.agent.name}", but ${module} now exports "${agent.name}"; use the API (keel.decidePlan).`);
  }
  return agent;
}

export async function decidePlan(context: CliContext, command: Command, sessionId: string, approved: boolean, options: PlanDecideOptions): Promise<number> {
  const decision: PlanDecision = {
    approved,
    approver: options.as ?? context.env.USER ?? 'operator',
    ...(options.reason === undefined ? {} : { reason: options.reason }),
    ...(options.edit === undefined ? {} : { editedPlan: readPlanFile(context.cwd, options.edit) }),
  };
  const database = chooseDatabase(context, command);
  const keel = createKeel({ database: database.path, env: context.env, cwd: context.cwd });
  const interrupt = watchInterrupt(context.err);
  try {
    const events = await keel.events(sessionId);
    const agent = await plannerAgent(context.cwd, sessionId, events[0]);
    const session = await keel.decidePlan(agent, sessionId, decision, { signal: interrupt.signal, ...(options.model === undefined ? {} : { model: options.model }) });
    return await followSession(context, session, { json: options.json === true, database, interrupt });
  } finally {
    interrupt.dispose();
    await keel.close();
  }
}
