import { CommanderError } from 'commander';
import { isKeelError } from '../errors/index.ts';
import type { KeelError } from '../errors/index.ts';
import type { CliContext, Print } from './cli-context.ts';
import { createProgram } from './program.ts';
import { commandPrefix } from './shell-hint.ts';

export interface MainOptions {
  readonly out?: Print;
  readonly err?: Print;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

/** Error codes that mean the command line itself is wrong (exit 2); every other failure is the operation's (exit 1). */
const usageCodes: ReadonlySet<string> = new Set(['invalid-argument', 'missing-credentials']);

/** Runs one command line; returns the exit code (see `keel --help`). */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const context: CliContext = {
    out: options.out ?? ((line) => process.stdout.write(`${line}\n`)),
    err: options.err ?? ((line) => process.stderr.write(`${line}\n`)),
    env,
    cwd: options.cwd ?? process.cwd(),
    prefix: commandPrefix({ npmScript: env.npm_lifecycle_event }),
    exitCode: 0,
  };
  try {
    await createProgram(context).parseAsync([...argv], { from: 'user' });
    return context.exitCode;
  } catch (error) {
    return reportFailure(context, error);
  }
}

function reportFailure(context: CliContext, error: unknown): number {
  // Commander has printed its own message (unknown option, missing argument…) or the help it was asked for.
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  if (isKeelError(error)) {
    context.err(`keel: ${error.code}: ${error.message}`);
    const stack = causeStack(error);
    if (stack !== undefined) context.err(`caused by: ${stack}`);
    return usageCodes.has(error.code) ? 2 : 1;
  }
  context.err(`keel: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 1;
}

/** Codes whose cause is code the person wrote or must report (an agent module that throws at import, a Keel bug). */
const codesWithCauseStack: ReadonlySet<string> = new Set(['invalid-config', 'internal']);

/** Where such a failure began, unless the message already shows it. */
function causeStack(error: KeelError): string | undefined {
  const cause = error.cause;
  if (!codesWithCauseStack.has(error.code)) return undefined;
  if (!(cause instanceof Error) || isKeelError(cause) || cause.stack === undefined) return undefined;
  const frames = cause.stack.split('\n').filter((line) => line.trimStart().startsWith('at '));
  if (frames.length === 0 || error.message.includes(frames[0]!.trim())) return undefined;
  return cause.stack;
}
