import type { PendingApproval, SessionResult, SessionRun } from '../loop/index.ts';
import type { CliContext, DatabaseChoice } from './cli-context.ts';
import { hint } from './cli-context.ts';
import { createProgressPrinter } from './progress-printer.ts';
import type { InterruptWatch } from './interrupt.ts';

export interface FollowOptions {
  readonly json: boolean;
  readonly database: DatabaseChoice;
  readonly interrupt: InterruptWatch;
}

/** Prints a session's progress as it runs, then its outcome; returns the exit code. */
export async function followSession(context: CliContext, session: SessionRun, options: FollowOptions): Promise<number> {
  const printer = createProgressPrinter(options.json ? context.err : context.out);
  for await (const update of session) printer(update);
  const result = await session.result;
  reportResult(context, result, options);
  const interrupted = options.interrupt.exitCode();
  if (interrupted !== undefined) return interrupted;
  return result.status === 'completed' || result.status === 'awaiting-approval' ? 0 : 1;
}

function reportResult(context: CliContext, result: SessionResult, options: FollowOptions): void {
  if (options.json) {
    const summary: Record<string, unknown> = { sessionId: result.sessionId, status: result.status, turns: result.turns, usage: result.usage, costUsd: result.costUsd };
    if (result.status === 'awaiting-approval') summary.pendingApprovals = result.pendingApprovals;
    context.out(JSON.stringify(summary));
    return;
  }
  if (result.status === 'awaiting-approval') {
    context.out(`\nSession ${result.sessionId} is waiting for approval (it is saved; this process may exit):`);
    for (const line of waitingCallLines(context, options.database, result.sessionId, result.pendingApprovals)) context.out(line);
    return;
  }
  if (result.status === 'cancelled') {
    context.out(`\nSession ${result.sessionId} was cancelled; its journal is complete up to the cancellation.`);
    return;
  }
  if (result.output !== null) context.out(`\n${result.output}`);
}

/** Each waiting call with what the policy said and the two commands that answer it. */
export function waitingCallLines(context: CliContext, database: DatabaseChoice, sessionId: string, waiting: readonly PendingApproval[]): string[] {
  return waiting.flatMap((call) => call.rule === 'planner:approval' ? [
    `  ${call.callId}  a plan waits for approval`,
    `    show:    ${hint(context, database, ['plan', 'show', sessionId])}`,
    `    approve: ${hint(context, database, ['plan', 'approve', sessionId])} (or with --edit FILE)`,
    `    reject:  ${hint(context, database, ['plan', 'reject', sessionId, '--reason', '…'])}`,
  ] : [
    `  ${call.callId}  ${call.tool} ${JSON.stringify(call.input)}`,
    `    why: ${call.reason} (rule ${call.rule})`,
    `    approve: ${hint(context, database, ['approve', sessionId, call.callId])}`,
    `    reject:  ${hint(context, database, ['reject', sessionId, call.callId, '--reason', '…'])}`,
  ]);
}
