import { parseArgs } from 'node:util';
import { isKeelError } from '../errors/index.ts';
import { resolve } from 'node:path';
import { runCommand } from './commands.ts';
import { auditCommand } from './audit-command.ts';

const usage = `Usage: keel <command> [options]

Commands:
  run <agent-module> [task]   Run an agent (its default export is defineAgent({...}))
  resume <sessionId>          Continue a session from its journal
  sessions                    List sessions, newest first
  trace <sessionId>           Print the trace tree of a session
  approve <sessionId> <callId> [--input JSON] [--as NAME]
                              Approve a call that waits for a person (optionally with edited arguments), then resume
  reject <sessionId> <callId> --reason TEXT [--as NAME]
                              Reject a waiting call; the model is told why, and the session resumes
  replay <sessionId> [--turn N] [--model SPEC] [--system TEXT|@FILE] [--strategy window:N|elide-tool-results|no-tools]
                              Rebuild the exact request of a turn (checked against its hash), or re-run it
                              with a change and show how the outcome differs
  explain <sessionId> <turn> [--json]
                              The plan of that turn's context: segments and items, tokens, kept or dropped and why
  diff <sessionA>[:turn] <sessionB>[:turn] [--all]
                              What one model saw that the other did not, segment by segment
  audit verify | audit list [--session ID]
                              Check the hash chain of the tool audit log, or list its records

Options:
  --model SPEC   anthropic:<model> | openai:<model> | openai-compatible:<model>@<baseURL> | scripted:<file.json>
  --db PATH      SQLite database (default .keel/keel.db, or KEEL_DB)
  --json         Machine-readable output
  --limit N      With sessions: how many to list (default 20)
  -h, --help     This help`;

export async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'audit') {
    // The audit command parses its own options (--session, --from), so it gets its arguments unparsed.
    const database = resolve(process.cwd(), process.env.KEEL_DB ?? '.keel/keel.db');
    try {
      return await auditCommand(argv.slice(1), { database, json: false }, (line) => process.stdout.write(`${line}\n`), (line) => process.stderr.write(`${line}\n`));
    } catch (error) {
      process.stderr.write(`keel: ${error instanceof Error ? error.message : String(error)}\n`);
      return isKeelError(error) && error.fault === 'user' ? 2 : 1;
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        db: { type: 'string' },
        json: { type: 'boolean', default: false },
        limit: { type: 'string' },
        as: { type: 'string' },
        input: { type: 'string' },
        reason: { type: 'string' },
        session: { type: 'string' },
        turn: { type: 'string' },
        system: { type: 'string' },
        strategy: { type: 'string' },
        all: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`keel: ${error instanceof Error ? error.message : String(error)}\n\n${usage}\n`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help || command === undefined) {
    process.stdout.write(`${usage}\n`);
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  try {
    return await runCommand(command, rest, {
      model: parsed.values.model,
      database: parsed.values.db,
      json: parsed.values.json ?? false,
      limit: parsed.values.limit === undefined ? undefined : Number.parseInt(parsed.values.limit, 10),
      approver: parsed.values.as,
      input: parsed.values.input,
      reason: parsed.values.reason,
      session: parsed.values.session,
      turn: parsed.values.turn === undefined ? undefined : Number.parseInt(parsed.values.turn, 10),
      system: parsed.values.system,
      strategy: parsed.values.strategy,
      all: parsed.values.all ?? false,
    }, usage);
  } catch (error) {
    if (isKeelError(error)) {
      process.stderr.write(`keel: ${error.code}: ${error.message}\n`);
      return error.fault === 'user' ? 2 : 1;
    }
    process.stderr.write(`keel: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
