import type { Command } from 'commander';
import type { Action, CliContext } from './cli-context.ts';
import { jsonValue, nonEmptyText } from './option-values.ts';
import type { DecideOptions, DriveOptions } from './session-driver.ts';

/*
 * The commands that drive a session and so write to the database: run, resume, approve, reject. Their work is in
 * session-driver.ts, loaded when one of them runs.
 */

const driver = () => import('./session-driver.ts');
const queueDriver = () => import('./worker-driver.ts');
const queueHelp = 'queue it for a `keel worker` in PostgreSQL (KEEL_DATABASE_URL) instead of running it here';

const modelHelp = 'model spec: anthropic:<model> | openai:<model> | openai-compatible:<model>@<baseURL> | scripted:<file.json>';

export function registerRunCommands(program: Command, context: CliContext, action: Action): void {
  program
    .command('run')
    .description('Run an agent; its module default-exports defineAgent({...})')
    .argument('<agent-module>', 'path to the agent module (.ts or .js)')
    .argument('[task...]', "the task; without one, the agent's default task")
    .option('--model <spec>', modelHelp)
    .option('--json', 'print the outcome as one JSON line (progress goes to stderr)')
    .option('--queue', queueHelp)
    .action(action(async (modulePath: string, task: string[], options: DriveOptions & { queue?: boolean }, command: Command) =>
      options.queue === true
        ? (await queueDriver()).enqueueRun(context, { modulePath, task, ...(options.model === undefined ? {} : { model: options.model }), json: options.json === true })
        : (await driver()).runAgent(context, command, modulePath, task, options)));

  program
    .command('resume')
    .description('Continue an interrupted session from its journal; completed steps are not repeated')
    .argument('<session-id>')
    .option('--model <spec>', `${modelHelp} (default: the one the session started with)`)
    .option('--json', 'print the outcome as one JSON line (progress goes to stderr)')
    .action(action(async (sessionId: string, options: DriveOptions, command: Command) => (await driver()).resumeSession(context, command, sessionId, options)));

  for (const approved of [true, false]) registerDecision(program, context, action, approved);
}

function registerDecision(program: Command, context: CliContext, action: Action, approved: boolean): void {
  const verb = approved ? 'approve' : 'reject';
  const command = program
    .command(verb)
    .description(approved
      ? 'Approve a call that waits for a person (optionally with edited arguments), then resume the session'
      : 'Reject a call that waits for a person; the model is told why, and the session resumes')
    .argument('<session-id>')
    .argument('<call-id>', '`keel pending` lists the calls waiting')
    .option('--as <name>', 'who decides, for the audit trail (default: $USER)');
  if (approved) command.option('--input <json>', 'the arguments to run the call with instead of the model\'s', jsonValue('--input'));
  else command.requiredOption('--reason <text>', 'why: the model reads it and chooses another approach', nonEmptyText('--reason'));
  command
    .option('--model <spec>', `${modelHelp} (default: the one the session started with)`)
    .option('--json', 'print the outcome as one JSON line (progress goes to stderr)')
    .option('--queue', 'the session runs on workers: record the decision and wake it for the next free worker, instead of resuming it here')
    .action(action(async (sessionId: string, callId: string, options: DecideOptions & { queue?: boolean }, invoked: Command) =>
      options.queue === true
        ? (await queueDriver()).decideQueued(context, { sessionId, callId, decision: (await driver()).decisionOf(context, approved, options), json: options.json === true })
        : (await driver()).decideCall(context, invoked, { sessionId, callId, approved }, options)));
}
