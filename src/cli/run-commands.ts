import type { Command } from 'commander';
import { KeelError } from '../errors/index.ts';
import { createKeel } from '../runtime/index.ts';
import type { Keel } from '../runtime/index.ts';
import { statusFromEvents } from '../runtime/session-status.ts';
import type { AgentDefinition, SessionRun } from '../loop/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { Action, CliContext, DatabaseChoice } from './cli-context.ts';
import { chooseDatabase, hint } from './cli-context.ts';
import { watchInterrupt } from './interrupt.ts';
import { loadAgentModule } from './load-agent.ts';
import { jsonValue, nonEmptyText } from './option-values.ts';
import { followSession } from './session-output.ts';

/*
 * The commands that drive a session and so write to the database: run, resume, approve, reject.
 */

interface DriveOptions {
  readonly model?: string;
  readonly json?: boolean;
}

interface DecideOptions extends DriveOptions {
  readonly input?: unknown;
  readonly as?: string;
  readonly reason?: string;
}

const modelHelp = 'model spec: anthropic:<model> | openai:<model> | openai-compatible:<model>@<baseURL> | scripted:<file.json>';

export function registerRunCommands(program: Command, context: CliContext, action: Action): void {
  program
    .command('run')
    .description('Run an agent; its module default-exports defineAgent({...})')
    .argument('<agent-module>', 'path to the agent module (.ts or .js)')
    .argument('[task...]', "the task; without one, the agent's default task")
    .option('--model <spec>', modelHelp)
    .option('--json', 'print the outcome as one JSON line (progress goes to stderr)')
    .action(action(async (modulePath: string, task: string[], options: DriveOptions, command: Command) => {
      const { agent, modulePath: resolved } = await loadAgentModule(modulePath, context.cwd);
      const text = task.length > 0 ? task.join(' ') : undefined;
      return drive(context, command, options, (keel, signal) => keel.run(agent, text, { agentModule: resolved, signal, ...modelOption(options) }));
    }));

  program
    .command('resume')
    .description('Continue an interrupted session from its journal; completed steps are not repeated')
    .argument('<session-id>')
    .option('--model <spec>', `${modelHelp} (default: the one the session started with)`)
    .option('--json', 'print the outcome as one JSON line (progress goes to stderr)')
    .action(action(async (sessionId: string, options: DriveOptions, command: Command) =>
      drive(context, command, options, async (keel, signal, database) => {
        const agent = await resumableAgent(context, keel, sessionId, database);
        return keel.resume(agent, sessionId, { signal, ...modelOption(options) });
      })));

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
    .action(action(async (sessionId: string, callId: string, options: DecideOptions, invoked: Command) =>
      drive(context, invoked, options, async (keel, signal) => {
        const events = await keel.events(sessionId);
        const agent = await agentOf(context.cwd, sessionId, events[0]);
        const decision = {
          approved,
          approver: options.as ?? context.env.USER ?? 'operator',
          ...(options.reason === undefined ? {} : { reason: options.reason }),
          ...(options.input === undefined ? {} : { editedInput: options.input }),
        };
        return keel.decide(agent, sessionId, callId, decision, { signal, ...modelOption(options) });
      })));
}

function modelOption(options: DriveOptions): { model?: string } {
  return options.model === undefined ? {} : { model: options.model };
}

/** Opens the database for writing, starts the session, follows it to its end or suspension; Ctrl-C cancels it. */
async function drive(
  context: CliContext,
  command: Command,
  options: DriveOptions,
  start: (keel: Keel, signal: AbortSignal, database: DatabaseChoice) => SessionRun | Promise<SessionRun>,
): Promise<number> {
  const database = chooseDatabase(context, command);
  const keel = createKeel({ database: database.path, env: context.env, cwd: context.cwd });
  const interrupt = watchInterrupt(context.err);
  try {
    const session = await start(keel, interrupt.signal, database);
    return await followSession(context, session, { json: options.json === true, database, interrupt });
  } finally {
    interrupt.dispose();
    await keel.close();
  }
}

/** The session's agent, after checking that there is something to resume: an ended session is reported, not re-run. */
async function resumableAgent(context: CliContext, keel: Keel, sessionId: string, database: DatabaseChoice): Promise<AgentDefinition> {
  const events = await keel.events(sessionId);
  const view = await statusFromEvents({ journal: keel.journal, now: Date.now }, events);
  if (view.status === 'completed' || view.status === 'failed' || view.status === 'cancelled') {
    throw new KeelError('session-finished', `Session ${sessionId} has already ended (${view.status}); there is nothing to resume. See what it did with \`${hint(context, database, ['trace', sessionId])}\`.`, { details: { sessionId, status: view.status } });
  }
  if (view.status === 'running') {
    throw new KeelError('session-busy', `Session ${sessionId} is running in another process (${view.lease?.owner ?? 'unknown owner'}); resume it once that process has stopped.`, { details: { sessionId } });
  }
  return agentOf(context.cwd, sessionId, events[0]);
}

async function agentOf(cwd: string, sessionId: string, start: SessionEvent | undefined): Promise<AgentDefinition> {
  const module = start?.type === 'session-start' ? start.agent.module : undefined;
  if (module === undefined) {
    throw new KeelError('invalid-argument', `Session ${sessionId} was not started from an agent module, so the CLI cannot load its agent; use the API (keel.resume / keel.decide).`);
  }
  return (await loadAgentModule(module, cwd)).agent;
}
