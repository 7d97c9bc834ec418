import type { Command } from 'commander';
import type { Action, CliContext } from './cli-context.ts';
import { nonEmptyText } from './option-values.ts';
import type { PlanDecideOptions } from './plan-driver.ts';

/*
 * `keel plan show | approve | reject`: the plan of a planner session (defineAgent({ planner })) and a person's answer
 * to it. Their work is in plan-driver.ts, loaded when one of them runs.
 */

const driver = () => import('./plan-driver.ts');

export function registerPlanCommands(program: Command, context: CliContext, action: Action): void {
  const plan = program.command('plan').description("Show a planner session's plan, and approve (optionally edited) or reject a plan that waits");

  plan
    .command('show')
    .description('Print the current plan: its steps, dependencies, and where each stands')
    .argument('<session-id>')
    .option('--json', 'print the plan and step states as JSON')
    .action(action(async (sessionId: string, options: { json?: boolean }, command: Command) => (await driver()).showPlan(context, command, sessionId, options)));

  plan
    .command('approve')
    .description('Approve the waiting plan (or an edited one from a JSON file), then resume the session')
    .argument('<session-id>')
    .option('--edit <file>', 'a JSON file with the plan to run instead ({ "goal", "steps": [...] }, as `keel plan show --json` prints it)')
    .option('--as <name>', 'who decides, for the audit trail (default: $USER)')
    .option('--reason <text>', 'why, journaled with the decision', nonEmptyText('--reason'))
    .option('--model <spec>', 'model spec (default: the one the session started with)')
    .option('--json', 'print the outcome as one JSON line (progress goes to stderr)')
    .action(action(async (sessionId: string, options: PlanDecideOptions, command: Command) => (await driver()).decidePlan(context, command, sessionId, true, options)));

  plan
    .command('reject')
    .description('Reject the waiting plan: the session ends with approval-rejected and no step runs')
    .argument('<session-id>')
    .requiredOption('--reason <text>', 'why, journaled with the decision', nonEmptyText('--reason'))
    .option('--as <name>', 'who decides, for the audit trail (default: $USER)')
    .option('--json', 'print the outcome as one JSON line')
    .action(action(async (sessionId: string, options: PlanDecideOptions, command: Command) => (await driver()).decidePlan(context, command, sessionId, false, options)));
}
