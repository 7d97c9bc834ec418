import type { Command } from 'commander';
import type { Action, CliContext } from './cli-context.ts';
import { withReadOnlyAccess } from './cli-context.ts';
import { positiveInteger } from './option-values.ts';

/*
 * The read-only commands that look inside a session's model requests: replay, explain, diff.
 */

interface ReplayOptions {
  readonly turn?: number;
  readonly model?: string;
  readonly system?: string;
  readonly strategy?: string;
  readonly json?: boolean;
}

export function registerInspectCommands(program: Command, context: CliContext, action: Action): void {
  program
    .command('replay')
    .description('Rebuild the exact request of a turn (checked against its hash), or re-run it with a change and show how the outcome differs')
    .argument('<session-id>')
    .option('--turn <number>', 'the turn to rebuild; without it every turn is checked', positiveInteger('--turn'))
    .option('--model <spec>', 'counterfactual: re-run the turn with another model (one model call, nothing journaled)')
    .option('--system <text|@file>', 'counterfactual: another system prompt, inline or read from @file')
    .option('--strategy <name>', 'counterfactual: a context strategy: window:N | elide-tool-results | no-tools')
    .option('--json', 'print JSON')
    .action(action(async (sessionId: string, options: ReplayOptions, command: Command) =>
      withReadOnlyAccess(context, command, async (access) =>
        (await import('./replay-command.ts')).replayCommand(access, [sessionId], { turn: options.turn, model: options.model, system: options.system, strategy: options.strategy, json: options.json === true }, context.out, context.err))));

  program
    .command('explain')
    .description("The plan of a turn's context: segments and items, tokens, kept or dropped and why")
    .argument('<session-id>')
    .argument('<turn>', 'the turn number, from 1')
    .option('--json', 'print the plan as JSON')
    .action(action(async (sessionId: string, turn: string, options: { json?: boolean }, command: Command) =>
      withReadOnlyAccess(context, command, async (access) => (await import('./explain-command.ts')).explainCommand(access, [sessionId, turn], { json: options.json === true }, context.out))));

  program
    .command('diff')
    .description('What the model saw at one turn that it did not at another, segment by segment')
    .argument('<first>', 'session[:turn]; without a turn, its last turn that called the model')
    .argument('<second>', 'session[:turn]')
    .option('--all', 'list identical segments too')
    .option('--json', 'print JSON')
    .action(action(async (first: string, second: string, options: { all?: boolean; json?: boolean }, command: Command) =>
      withReadOnlyAccess(context, command, async (access) => (await import('./diff-command.ts')).diffCommand(access, [first, second], { json: options.json === true, all: options.all === true }, context.out, context.err))));
}
