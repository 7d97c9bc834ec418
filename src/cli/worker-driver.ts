import { readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { KeelError } from '../errors/index.ts';
import type { ApprovalDecision } from '../loop/index.ts';
import { createKeel } from '../runtime/index.ts';
import type { Keel } from '../runtime/index.ts';
import { createRunQueue, createWorker } from '../worker/index.ts';
import type { RunQueue, WorkerAgent, WorkerEvent } from '../worker/index.ts';
import type { CliContext } from './cli-context.ts';
import { loadAgentModule } from './load-agent.ts';
import { agentOf } from './session-driver.ts';

/*
 * What `keel worker`, `keel run --queue` and `keel approve|reject --queue` do, loaded only when one of them runs.
 */

export interface WorkerCommandOptions {
  readonly agents: readonly string[];
  readonly databaseUrl?: string;
  readonly concurrency: number;
  readonly leaseTtl: number;
  readonly grace: number;
  readonly model?: string;
  readonly json?: boolean;
}

const agentExtensions = new Set(['.ts', '.mts', '.js', '.mjs']);

/** Runs a worker until SIGTERM or Ctrl-C, then stops it gracefully; a second signal exits at once. */
export async function runWorker(context: CliContext, options: WorkerCommandOptions): Promise<number> {
  const url = databaseUrlOf(context, options.databaseUrl);
  const agents = await loadWorkerAgents(options.agents, context.cwd);
  return withQueuedKeel(context, { url, leaseTtlMs: options.leaseTtl, ...(options.model === undefined ? {} : { model: options.model }) }, async (keel, queue) => {
    const worker = createWorker({ keel, queue, agents, concurrency: options.concurrency, claimTtlMs: options.leaseTtl, queueModels: options.model === undefined ? [] : [options.model], onEvent: (event) => printEvent(context, event, options.json === true) });
    const stopRequested = new Promise<number>((resolveStop) => {
      const onSignal = (code: number) => () => {
        process.once('SIGINT', () => process.exit(130));
        process.once('SIGTERM', () => process.exit(143));
        context.err(`keel worker: stopping; running sessions may finish for ${options.grace} ms, then they are handed off (signal again to exit at once)…`);
        resolveStop(code);
      };
      process.once('SIGINT', onSignal(130));
      process.once('SIGTERM', onSignal(143));
    });
    await worker.start();
    context.err(`keel worker ${worker.id}: agents ${agents.map((entry) => entry.agent.name).join(', ')}; up to ${options.concurrency} sessions at once; waiting for queued sessions.`);
    await stopRequested;
    const report = await worker.stop({ graceMs: options.grace });
    context.err(`keel worker ${worker.id}: stopped; ${report.finished} sessions finished during the grace period, ${report.handedOff} handed off to other workers.`);
    return 0;
  });
}

/** `keel run --queue`: queues a new session for a worker instead of running it here. */
export async function enqueueRun(context: CliContext, request: { readonly modulePath: string; readonly task: readonly string[]; readonly model?: string; readonly json?: boolean; readonly databaseUrl?: string }): Promise<number> {
  const url = databaseUrlOf(context, request.databaseUrl);
  const { agent, modulePath } = await loadAgentModule(request.modulePath, context.cwd);
  const text = request.task.length > 0 ? request.task.join(' ') : undefined;
  if (text === undefined && (agent.defaultTask === undefined || agent.defaultTask === null)) {
    throw new KeelError('invalid-argument', `Agent "${agent.name}" has no default task; give one, for example \`keel run --queue ${request.modulePath} "your task"\`.`);
  }
  const queue = createRunQueue({ url });
  try {
    const { sessionId } = await queue.enqueue({ agent: agent.name, agentModule: modulePath, ...(text === undefined ? {} : { task: text }), ...(request.model === undefined ? {} : { model: request.model }) });
    if (request.json === true) context.out(JSON.stringify({ sessionId, agent: agent.name, queued: true }));
    else context.out(`Queued session ${sessionId} (agent ${agent.name}); a worker running \`keel worker --agents …\` with this agent will run it.`);
    return 0;
  } finally {
    await queue.close();
  }
}

export interface QueuedDecision {
  readonly sessionId: string;
  readonly callId: string;
  readonly decision: ApprovalDecision;
  readonly json?: boolean;
  readonly databaseUrl?: string;
}

/** `keel approve|reject --queue`: journals the decision and wakes the queued session, wherever a worker claims it next. */
export async function decideQueued(context: CliContext, request: QueuedDecision): Promise<number> {
  const url = databaseUrlOf(context, request.databaseUrl);
  return withQueuedKeel(context, { url }, async (keel, queue) => {
    const events = await keel.events(request.sessionId);
    const agent = await agentOf(context.cwd, request.sessionId, events[0]);
    await keel.recordDecision(agent, request.sessionId, request.callId, request.decision);
    const woken = await queue.wake(request.sessionId);
    const verb = request.decision.approved ? 'approval' : 'rejection';
    if (request.json === true) context.out(JSON.stringify({ sessionId: request.sessionId, callId: request.callId, approved: request.decision.approved, woken }));
    else if (woken.length > 0) context.out(`Recorded the ${verb} of ${request.callId}; session ${woken.join(', ')} is queued again and the next free worker continues it.`);
    else context.out(`Recorded the ${verb} of ${request.callId}. No queued session waits on ${request.sessionId}; continue it with \`keel resume ${request.sessionId}\` or queue it with the API's enqueueResume.`);
    return 0;
  });
}

interface QueuedKeelSettings {
  readonly url: string;
  readonly leaseTtlMs?: number;
  readonly model?: string;
}

/** A Keel whose every store is in PostgreSQL, with the run queue beside them; all closed after `work`. */
async function withQueuedKeel<T>(context: CliContext, settings: QueuedKeelSettings, work: (keel: Keel, queue: RunQueue) => Promise<T>): Promise<T> {
  const keel = createKeel({
    storage: { kind: 'postgres', url: settings.url },
    env: context.env,
    cwd: context.cwd,
    ...(settings.leaseTtlMs === undefined ? {} : { leaseTtlMs: settings.leaseTtlMs }),
    ...(settings.model === undefined ? {} : { model: settings.model }),
  });
  const queue = createRunQueue({ url: settings.url });
  try {
    return await work(keel, queue);
  } finally {
    await queue.close();
    await keel.close();
  }
}

function databaseUrlOf(context: CliContext, given: string | undefined): string {
  const url = given ?? context.env.KEEL_DATABASE_URL;
  if (url === undefined || url.trim() === '') {
    throw new KeelError('invalid-argument', 'The run queue lives in PostgreSQL: set KEEL_DATABASE_URL (postgres://user:password@host:5432/database) or pass --database-url.');
  }
  return url;
}

/** Each path is an agent module, or a folder whose script files (not tests or declarations) are agent modules. */
export async function loadWorkerAgents(paths: readonly string[], cwd: string): Promise<WorkerAgent[]> {
  const modules: string[] = [];
  for (const path of paths) {
    const absolute = resolve(cwd, path);
    let folder = false;
    try {
      folder = statSync(absolute).isDirectory();
    } catch {
      throw new KeelError('invalid-argument', `--agents: ${absolute} does not exist.`);
    }
    if (!folder) {
      modules.push(absolute);
      continue;
    }
    const found = readdirSync(absolute)
      .filter((name) => agentExtensions.has(extname(name)) && !/\.(d|test|spec)\.[mc]?[jt]s$/.test(name))
      .sort()
      .map((name) => join(absolute, name));
    if (found.length === 0) throw new KeelError('invalid-argument', `--agents: the folder ${absolute} has no .ts, .mts, .js or .mjs agent modules.`);
    modules.push(...found);
  }
  const agents: WorkerAgent[] = [];
  for (const module of modules) {
    const { agent, modulePath } = await loadAgentModule(module, cwd);
    agents.push({ agent, module: modulePath });
  }
  return agents;
}

function printEvent(context: CliContext, event: WorkerEvent, json: boolean): void {
  if (json) {
    context.out(JSON.stringify({ at: new Date().toISOString(), ...event, ...(event.type === 'queue-error' ? { error: event.error.toRecord() } : {}) }));
    return;
  }
  const at = new Date().toISOString();
  switch (event.type) {
    case 'claimed':
      context.out(`${at}  ${event.sessionId}  claimed (attempt ${event.attempt})`);
      return;
    case 'settled': {
      const settlement = event.settlement;
      const outcome = settlement.kind === 'ended' ? settlement.status : settlement.kind === 'retry' ? `${settlement.outcome}, queued again${settlement.error === null ? '' : `: ${settlement.error.message}`}` : settlement.kind === 'gave-up' ? `failed for good: ${settlement.error.message}` : 'waiting for approval';
      context.out(`${at}  ${event.sessionId}  ${outcome}${event.kept ? '' : ' (the claim had been lost; another worker holds the session)'}`);
      return;
    }
    case 'claim-lost':
      context.out(`${at}  ${event.sessionId}  claim lost; stopping before the next write`);
      return;
    case 'queue-error':
      context.err(`${at}  run queue: ${event.error.message}`);
      return;
  }
}
