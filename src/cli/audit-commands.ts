import type { Command } from 'commander';
import type { Action, CliContext } from './cli-context.ts';
import { chooseDatabaseLocation, databaseUrlHelp } from './database-location.ts';
import type { DatabaseLocation } from './database-location.ts';
import { positiveInteger } from './option-values.ts';

/*
 * `keel audit verify | head | list | keygen`: the options are parsed here, the work is done by audit-command.ts.
 */

interface VerifyOptions {
  readonly json?: boolean;
  readonly expectHead?: string;
  readonly publicKey?: string;
  readonly allowUnsignedBefore?: number;
  readonly checkpoints?: string;
  readonly journalCheck: boolean;
  readonly databaseUrl?: string;
}

export function registerAuditCommands(program: Command, context: CliContext, action: Action): void {
  const audit = program.command('audit').description('The hash-chained audit log of every tool call: verify it, print its head, list it');
  const database = (command: Command, options: { readonly databaseUrl?: string }): Promise<DatabaseLocation> => chooseDatabaseLocation(context, command, options.databaseUrl);
  const urlOption = `the audit log in ${databaseUrlHelp}`;
  const load = () => import('./audit-command.ts');

  audit
    .command('verify')
    .description("Check the audit log: its hash chain, signatures (with a public key), the head checkpoints kept beside the database, an expected head, and the journal's tool events; exit 1 naming the first problem")
    .option('--expect-head <seq:hash>', 'the chain must still hold this head (as `keel audit head` printed it)')
    .option('--public-key <key>', 'check the signatures with this Ed25519 public key (default KEEL_AUDIT_PUBLIC_KEY)')
    .option('--allow-unsigned-before <seq>', 'records before this one may be unsigned (written before signing was on)', positiveInteger('--allow-unsigned-before'))
    .option('--checkpoints <path>', 'head checkpoint file (default <database>.audit-heads on SQLite; none on PostgreSQL)')
    .option('--no-journal-check', "skip comparing the log with the journal's tool events")
    .option('--json', 'print the verification as JSON')
    .option('--database-url <url>', urlOption)
    .action(action(async (options: VerifyOptions, command: Command) =>
      (await load()).runAuditVerify({
        database: await database(command, options),
        json: options.json === true,
        env: context.env,
        out: context.out,
        err: context.err,
        crossCheck: options.journalCheck,
        ...(options.expectHead === undefined ? {} : { expectHead: options.expectHead }),
        ...(options.publicKey === undefined ? {} : { publicKey: options.publicKey }),
        ...(options.allowUnsignedBefore === undefined ? {} : { allowUnsignedBefore: options.allowUnsignedBefore }),
        ...(options.checkpoints === undefined ? {} : { checkpoints: options.checkpoints }),
      })));

  audit
    .command('head')
    .description("Print the log's head (seq:hash), to keep somewhere the log's writers cannot reach")
    .option('--json', 'print the head as JSON')
    .option('--database-url <url>', urlOption)
    .action(action(async (options: { json?: boolean; databaseUrl?: string }, command: Command) =>
      (await load()).runAuditHead({ database: await database(command, options), json: options.json === true, out: context.out, err: context.err })));

  audit
    .command('list')
    .description('Print audit records, oldest first')
    .option('--session <session-id>', "only this session's records")
    .option('--from <seq>', 'start at this record', positiveInteger('--from'), 1)
    .option('--json', 'one JSON record per line')
    .option('--database-url <url>', urlOption)
    .action(action(async (options: { session?: string; from: number; json?: boolean; databaseUrl?: string }, command: Command) =>
      (await load()).runAuditList({ database: await database(command, options), sessionId: options.session, fromSeq: options.from, json: options.json === true, out: context.out, err: context.err })));

  audit
    .command('keygen')
    .description('Make an Ed25519 key pair for signing the log (KEEL_AUDIT_SIGNING_KEY, KEEL_AUDIT_PUBLIC_KEY)')
    .option('--json', 'print the pair as JSON')
    .action(action(async (options: { json?: boolean }) => (await load()).runAuditKeygen({ json: options.json === true, out: context.out })));
}
