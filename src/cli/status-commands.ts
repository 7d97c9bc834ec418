import type { Command } from 'commander';
import type { DerivedSessionStatus } from '../runtime/session-status.ts';
import type { Action, CliContext } from './cli-context.ts';
import { withReadOnlyAccess } from './cli-context.ts';
import { positiveInteger, sessionStatus } from './option-values.ts';

/*
 * The read-only commands about sessions and their status: sessions, pending, trace. What they do is in
 * status-actions.ts, imported when one runs, so that registering them (every `keel` command line) stays cheap.
 */

export function registerStatusCommands(program: Command, context: CliContext, action: Action): void {
  program
    .command('sessions')
    .description('List sessions, newest first, with their status')
    .option('--limit <count>', 'how many to list', positiveInteger('--limit'), 20)
    .option('--status <status>', 'only sessions in this status: running, waiting-approval, interrupted, completed, failed, cancelled', sessionStatus)
    .option('--json', 'print a JSON array')
    .option('--tree', 'show child sessions (subagents, handoffs, workflow steps) under the session that started them')
    .action(action(async (options: { limit: number; status?: DerivedSessionStatus; json?: boolean; tree?: boolean }, command: Command) =>
      withReadOnlyAccess(context, command, async (access) => (await import('./status-actions.ts')).printSessions(context, access, options))));

  program
    .command('pending')
    .description('What needs a person: sessions waiting for approval (with the calls) and interrupted sessions (with the command that resumes them)')
    .option('--json', 'print one JSON object')
    .action(action(async (options: { json?: boolean }, command: Command) =>
      withReadOnlyAccess(context, command, async (access, database) => (await import('./status-actions.ts')).printPendingSessions(context, access, database, options))));

  program
    .command('trace')
    .description('Print the trace tree of a session: turns, model calls, tool calls, totals, and its status')
    .argument('<session-id>')
    .option('--json', 'print the tree as JSON')
    .action(action(async (sessionId: string, options: { json?: boolean }, command: Command) =>
      withReadOnlyAccess(context, command, async (access, database) => (await import('./status-actions.ts')).traceSession(context, access, database, sessionId, options.json === true))));
}
