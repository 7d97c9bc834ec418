import type { Command } from 'commander';
import { KeelError } from '../errors/index.ts';
import { createKeel } from '../runtime/index.ts';
import type { Keel } from '../runtime/index.ts';
import { statusFromEvents } from '../runtime/session-status.ts';
import type { AgentDefinition, ApprovalDecision, SessionRun } from '../loop/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { CliContext, DatabaseChoice } from './cli-context.ts';
import { chooseDatabase, choosePostgres, hint, withReadOnlyAccess } from './cli-context.ts';
import { watchInterrupt } from './interrupt.ts';
import { loadAgentModule } from './load-agent.ts';
import { findSubagent } from '../loop/index.ts';
import { followSession } from './session-output.ts';
import { decideOnRestate } from './restate-commands.ts';
import { restateIngressConfigured } from '../restate/restate-config.ts';

/*
 * What run, resume, approve and reject do, loaded only when one of them runs (it brings in the whole runtime).
 */

export interface DriveOptions {
  readonly model?: string;
  readonly json?: boolean;
}

export interface DecideOptions extends DriveOptions {
  readonly input?: unknown;
  readonly as?: string;
  readonly reason?: string;
}

export async function runAgent(context: CliContext, command: Command, modulePath: string, task: readonly string[], options: DriveOptions): Promise<number> {
  const { agent, modulePath: resolved } = await loadAgentModule(modulePath, context.cwd);
  const text = task.length > 0 ? task.join(' ') : undefined;
  return drive(context, command, options, (keel, signal) => keel.run(agent, { ...(text === undefined ? {} : { task: text }), agentModule: resolved, signal, ...modelOption(options) }));
}

export async function resumeSession(context: CliContext, command: Command, sessionId: string, options: DriveOptions): Promise<number> {
  const agent = await resumableAgent(context, command, sessionId);
  return drive(context, command, options, (keel, signal) => keel.resume(agent, sessionId, { signal, ...modelOption(options) }));
}

/** The decision of `keel approve|reject` from its options; the approver defaults to $USER. */
export function decisionOf(context: CliContext, approved: boolean, options: DecideOptions): ApprovalDecision {
  return {
    approved,
    approver: options.as ?? context.env.USER ?? 'operator',
    ...(options.reason === undefined ? {} : { reason: options.reason }),
    ...(options.input === undefined ? {} : { editedInput: options.input }),
  };
}

export async function decideCall(context: CliContext, command: Command, call: { readonly sessionId: string; readonly callId: string; readonly approved: boolean }, options: DecideOptions): Promise<number> {
  const decision = decisionOf(context, call.approved, options);
  // A session that runs on Restate waits there: the decision resolves its awakeable instead of resuming it here.
  if (restateIngressConfigured(context.env)) {
    const onRestate = await decideOnRestate(context, { sessionId: call.sessionId, callId: call.callId, ...decision }, options.json === true);
    if (onRestate !== null) return onRestate;
  }
  return drive(context, command, options, async (keel, signal) => {
    const events = await keel.events(call.sessionId);
    const agent = await agentOf(context.cwd, call.sessionId, events[0]);
    return keel.decide(agent, call.sessionId, call.callId, decision, { signal, ...modelOption(options) });
  });
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
  // With KEEL_DATABASE_URL (and no --db or KEEL_DB), createKeel finds PostgreSQL in the environment itself.
  // Nothing in this process reads the metrics: record them only to push them to a collector, since loading the
  // OpenTelemetry SDK competes with the run's start for the CPU.
  const pushesMetrics = [context.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, context.env.OTEL_EXPORTER_OTLP_ENDPOINT].some((value) => value !== undefined && value.trim() !== '');
  const keel = createKeel({
    ...(choosePostgres(context, command) === undefined ? { database: database.path } : {}),
    ...(pushesMetrics ? {} : { metrics: false as const }),
    env: context.env,
    cwd: context.cwd,
  });
  const interrupt = watchInterrupt(context.err);
  try {
    const session = await start(keel, interrupt.signal, database);
    return await followSession(context, session, { json: options.json === true, database, interrupt });
  } finally {
    interrupt.dispose();
    await keel.close();
  }
}

/**
 * The session's agent, after checking (read-only, with its lease) that there is something to resume: an ended
 * session is reported as such, never re-run or re-printed as if it ran.
 */
async function resumableAgent(context: CliContext, command: Command, sessionId: string): Promise<AgentDefinition> {
  const start = await withReadOnlyAccess(context, command, async (access, database) => {
    const events = await access.events(sessionId);
    const view = await statusFromEvents(access.statusSources, events);
    if (view.status === 'completed' || view.status === 'failed' || view.status === 'cancelled') {
      throw new KeelError('session-finished', `Session ${sessionId} has already ended (${view.status}); there is nothing to resume. See what it did with \`${hint(context, database, ['trace', sessionId])}\`.`, { details: { sessionId, status: view.status } });
    }
    if (view.status === 'running') {
      throw new KeelError('session-busy', `Session ${sessionId} is running in another process (${view.lease?.owner ?? 'owner unknown'}); resume it only after that process has stopped.`, { details: { sessionId } });
    }
    return events[0];
  });
  return agentOf(context.cwd, sessionId, start);
}

export async function agentOf(cwd: string, sessionId: string, start: SessionEvent | undefined): Promise<AgentDefinition> {
  const module = start?.type === 'session-start' ? start.agent.module : undefined;
  if (module === undefined) {
    throw new KeelError('invalid-argument', `Session ${sessionId} was not started from an agent module, so the CLI cannot load its agent; use the API (keel.resume / keel.decide).`);
  }
  const loaded = (await loadAgentModule(module, cwd)).agent;
  const name = start?.type === 'session-start' ? start.agent.name : loaded.name;
  // A child session (a subagent's, a handoff's) records its tree's module: its agent is found in the root's tree.
  const agent = findSubagent(loaded, name);
  if (agent === null) {
    throw new KeelError('invalid-argument', `Session ${sessionId} was run by agent "${name}", which is neither ${module}'s agent ("${loaded.name}") nor one of its subagents; use the API (keel.resume / keel.decide).`);
  }
  return agent;
}
