import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Action, CliContext } from './cli-context.ts';
import { chooseDatabaseLocation, databaseUrlHelp } from './database-location.ts';

/*
 * Care of the database itself: backup and check-db. Both read the database only; the work is in
 * backup-command.ts and check-db-command.ts, loaded when one of them runs.
 */

export function registerDatabaseCommands(program: Command, context: CliContext, action: Action): void {
  program
    .command('backup')
    .description('An online, consistent copy of the database (while sessions run), checked, with a heads file beside it')
    .argument('<path>', 'where the copy goes; an existing file is refused')
    .option('--database-url <url>', `${databaseUrlHelp}: refused, pg_dump and pg_basebackup back it up`)
    .action(action(async (destination: string, options: { databaseUrl?: string }, command: Command) => {
      const database = await chooseDatabaseLocation(context, command, options.databaseUrl);
      const { runBackupCommand } = await import('./backup-command.ts');
      return runBackupCommand({ database, destination: resolve(context.cwd, destination), out: context.out, err: context.err });
    }));

  program
    .command('check-db')
    .description("Check the database: page integrity, every session's sequence and hash chain, session rows against their events")
    .option('--expect-heads <file>', 'a heads file written by `keel backup`: every session in it must still be whole')
    .option('--json', 'print the report as JSON')
    .option('--database-url <url>', `check the journal in ${databaseUrlHelp}`)
    .action(action(async (options: { expectHeads?: string; json?: boolean; databaseUrl?: string }, command: Command) => {
      const database = await chooseDatabaseLocation(context, command, options.databaseUrl);
      const { runCheckDatabaseCommand } = await import('./check-db-command.ts');
      return runCheckDatabaseCommand({
        database,
        json: options.json === true,
        ...(options.expectHeads === undefined ? {} : { expectHeads: resolve(context.cwd, options.expectHeads) }),
        out: context.out,
        err: context.err,
      });
    }));
}
