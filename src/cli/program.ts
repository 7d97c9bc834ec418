import { Command } from 'commander';
import type { Action, CliContext } from './cli-context.ts';
import { registerAuditCommands } from './audit-commands.ts';
import { registerCheckCommand } from './check-command.ts';
import { registerDatabaseCommands } from './database-commands.ts';
import { registerEvalCommands } from './eval-commands.ts';
import { registerInspectCommands } from './inspect-commands.ts';
import { registerMcpCommands } from './mcp-commands.ts';
import { packageVersion } from './package-version.ts';
import { registerRunCommands } from './run-commands.ts';
import { registerPlanCommands } from './plan-commands.ts';
import { registerScanCommand } from './scan-commands.ts';
import { registerServeCommands } from './serve-command.ts';
import { registerRestateCommands } from './restate-commands.ts';
import { registerStatusCommands } from './status-commands.ts';
import { registerWorkerCommands } from './worker-commands.ts';

export const exitCodesHelp = `Exit codes:
  0    success (a session that completed, or stopped to wait for approval)
  1    the operation failed: a session failed or was cancelled, a check found a problem,
       a session or database does not exist, storage or provider error
  2    usage error: unknown command or option, missing or malformed argument, no model configured
  130  interrupted by Ctrl-C (a running session is first cancelled cleanly; a second Ctrl-C exits at once)
  143  terminated by SIGTERM (likewise)`;

export const environmentHelp = `Environment:
  KEEL_DB                               database when --db is not given (default .keel/keel.db)
  KEEL_MODEL                            model spec when neither --model nor the agent names one
  ANTHROPIC_API_KEY, OPENAI_API_KEY     provider credentials; the default model follows the key present`;

/** Every command with its own options and help; `--db` is global and may be written before or after the command. */
export function createProgram(context: CliContext): Command {
  const program = new Command('keel');
  program
    .description('Keel: run agents durably, and inspect, approve and resume their sessions.')
    .usage('<command> [options]')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--db <path>', 'SQLite database (default .keel/keel.db, or KEEL_DB); accepted before or after the command')
    .helpOption('-h, --help', 'show help (also: keel help <command>)')
    .helpCommand('help [command]', 'show help for a command')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (text) => context.out(text.replace(/\n$/, '')),
      writeErr: (text) => context.err(text.replace(/\n$/, '')),
      outputError: (text, write) => write(`keel: ${text.replace(/^error: /, '')}`),
    })
    .exitOverride()
    .addHelpText('after', `\n${exitCodesHelp}\n\n${environmentHelp}`);

  const action: Action = (handler) => async (...args) => {
    context.exitCode = await handler(...args);
  };
  registerRunCommands(program, context, action);
  registerPlanCommands(program, context, action);
  registerStatusCommands(program, context, action);
  registerInspectCommands(program, context, action);
  registerAuditCommands(program, context, action);
  registerDatabaseCommands(program, context, action);
  registerMcpCommands(program, context, action);
  registerScanCommand(program, context, action);
  registerServeCommands(program, context, action);
  registerCheckCommand(program, context, action);
  registerRestateCommands(program, context, action);
  registerWorkerCommands(program, context, action);
  registerEvalCommands(program, context, action);
  pointToHelpAfterErrors(program, context.prefix);
  return program;
}

/** After a usage error, each command names its own help (`keel sessions --help`), not the whole program's. */
function pointToHelpAfterErrors(command: Command, prefix: string, path: readonly string[] = []): void {
  command.showHelpAfterError(`(${[prefix, ...path, '--help'].join(' ')} lists the ${command.commands.length > 0 ? 'commands' : 'options'})`);
  for (const child of command.commands) pointToHelpAfterErrors(child, prefix, [...path, child.name()]);
}
