import { buildTraceTree } from '../tracing/trace-tree.ts';
import { renderTraceTree } from '../tracing/render-trace-tree.ts';
import { statusFromEvents, statusOfSummary } from '../runtime/session-status.ts';
import type { DerivedSessionStatus, SessionStatusSources, SessionStatusView } from '../runtime/session-status.ts';
import type { SessionSummary } from '../spec/journal.ts';
import type { CliContext, DatabaseChoice, SessionAccess } from './cli-context.ts';
import { hint } from './cli-context.ts';
import { waitingCallLines } from './session-output.ts';
import { renderSessionTrees, sessionTrees } from './session-tree.ts';

/*
 * What `keel sessions`, `keel pending` and `keel trace` do. Imported when one of them runs (status-commands.ts
 * registers them): the session status reads the session fold, whose module graph is most of the runtime.
 */

interface ListedSession extends SessionSummary {
  readonly view: SessionStatusView;
}

const endedStatuses: readonly DerivedSessionStatus[] = ['completed', 'failed', 'cancelled'];

export async function printSessions(context: CliContext, access: SessionAccess, options: { limit: number; status?: DerivedSessionStatus; json?: boolean; tree?: boolean }): Promise<number> {
  const sessions = await listSessions(access.statusSources, { limit: options.limit, status: options.status });
  if (options.tree === true) {
    const trees = await sessionTrees(access, sessions);
    context.out(options.json === true ? JSON.stringify(trees) : trees.length === 0 ? `No sessions in ${access.databasePath}.` : renderSessionTrees(trees).join('\n'));
  } else if (options.json === true) {
    context.out(JSON.stringify(sessions.map(sessionJson)));
  } else if (sessions.length === 0) {
    context.out(`No ${options.status === undefined ? '' : `${options.status} `}sessions in ${access.databasePath}.`);
  } else {
    for (const session of sessions) {
      const waiting = session.view.waiting.length === 0 ? '' : ` (${session.view.waiting.length} ${session.view.waiting.length === 1 ? 'call' : 'calls'})`;
      context.out(`${session.sessionId}  ${new Date(session.startedAt).toISOString()}  ${`${session.view.status}${waiting}`.padEnd(26)}  events=${session.lastSeq}  ${session.agent}`);
    }
  }
  return 0;
}

export async function printPendingSessions(context: CliContext, access: SessionAccess, database: DatabaseChoice, options: { json?: boolean }): Promise<number> {
  const open = await listSessions(access.statusSources, { limit: Number.POSITIVE_INFINITY, status: undefined, openOnly: true });
  const waiting = open.filter((session) => session.view.status === 'waiting-approval');
  const interrupted = open.filter((session) => session.view.status === 'interrupted');
  if (options.json === true) {
    context.out(JSON.stringify({
      waitingApproval: waiting.map((session) => ({ ...sessionJson(session), approve: session.view.waiting.map((call) => hint(context, database, ['approve', session.sessionId, call.callId])) })),
      interrupted: interrupted.map((session) => ({ ...sessionJson(session), resume: hint(context, database, ['resume', session.sessionId]) })),
    }));
    return 0;
  }
  printPending(context, database, { waiting, interrupted, databasePath: access.databasePath });
  return 0;
}

export async function traceSession(context: CliContext, access: SessionAccess, database: DatabaseChoice, sessionId: string, json: boolean): Promise<number> {
  const events = await access.events(sessionId);
  const view = await statusFromEvents(access.statusSources, events);
  const tree = buildTraceTree(events);
  if (json) {
    context.out(JSON.stringify({ ...tree, status: view.status, waiting: view.waiting }, null, 2));
    return 0;
  }
  const [, ...rest] = renderTraceTree(tree).split('\n');
  context.out([`Trace: session ${tree.sessionId}  agent=${tree.agent}  model=${tree.model}  status=${view.status}`, ...rest].join('\n'));
  if (view.status === 'waiting-approval') {
    context.out('\nWaiting for approval:');
    for (const line of waitingCallLines(context, database, sessionId, view.waiting)) context.out(line);
  } else if (view.status === 'interrupted') {
    context.out(`\nInterrupted (no process is running it); continue it with: ${hint(context, database, ['resume', sessionId])}`);
  }
  return 0;
}

/**
 * Sessions newest first with their derived status. An ended status is stored with the session, so the journal
 * filters by it; the others need each open session's journal and lease, so open sessions are read and filtered here.
 */
interface ListFilter {
  readonly limit: number;
  readonly status: DerivedSessionStatus | undefined;
  /** Only sessions without a session-end, whatever their derived status. */
  readonly openOnly?: boolean;
}

async function listSessions(sources: SessionStatusSources, { limit, status, openOnly }: ListFilter): Promise<ListedSession[]> {
  const storedFilter = openOnly === true ? 'open' : status === undefined ? undefined : endedStatuses.includes(status) ? (status as 'completed' | 'failed' | 'cancelled') : 'open';
  const filterHere = status !== undefined && !endedStatuses.includes(status);
  const summaries = await sources.journal.listSessions({
    ...(storedFilter === undefined ? {} : { status: storedFilter }),
    ...(filterHere || !Number.isFinite(limit) ? {} : { limit }),
  });
  const listed: ListedSession[] = [];
  for (const summary of summaries) {
    if (listed.length >= limit) break;
    const view = await statusOfSummary(sources, summary);
    if (status === undefined || view.status === status) listed.push({ ...summary, view });
  }
  return listed;
}

function sessionJson(session: ListedSession): Record<string, unknown> {
  const { view, ...summary } = session;
  return { ...summary, status: view.status, ...(view.waiting.length === 0 ? {} : { waiting: view.waiting }) };
}

function printPending(context: CliContext, database: DatabaseChoice, found: { waiting: readonly ListedSession[]; interrupted: readonly ListedSession[]; databasePath: string | null }): void {
  if (found.waiting.length === 0 && found.interrupted.length === 0) {
    context.out(`Nothing needs a person in ${found.databasePath ?? 'this journal'}: no session waits for approval or was interrupted.`);
    return;
  }
  if (found.waiting.length > 0) {
    context.out(`Waiting for approval (${found.waiting.length}):`);
    for (const session of found.waiting) {
      context.out(`${session.sessionId}  ${session.agent}  started ${new Date(session.startedAt).toISOString()}`);
      for (const line of waitingCallLines(context, database, session.sessionId, session.view.waiting)) context.out(line);
    }
  }
  if (found.interrupted.length > 0) {
    if (found.waiting.length > 0) context.out('');
    context.out(`Interrupted, no process running them (${found.interrupted.length}):`);
    for (const session of found.interrupted) {
      context.out(`${session.sessionId}  ${session.agent}  last change ${new Date(session.updatedAt).toISOString()}`);
      context.out(`    resume: ${hint(context, database, ['resume', session.sessionId])}`);
    }
  }
}
