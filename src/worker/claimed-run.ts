import { isKeelError } from '../errors/index.ts';
import type { SessionResult, SessionRun, SessionUpdate } from '../loop/index.ts';
import type { Keel } from '../runtime/index.ts';
import type { AgentCatalog, WorkerAgent } from './agent-catalog.ts';
import type { QueuedRun, Settlement } from './queue-rows.ts';

export interface ClaimedRunContext {
  readonly keel: Keel;
  readonly agents: AgentCatalog;
  /** Aborted to hand the session off (the worker stops, or lost its claim): the run stops before its next write. */
  readonly handOff: AbortSignal;
  /** Aborted when a cancel of the session is requested: the model call and tools stop, compensations run, it ends `cancelled`. */
  readonly cancel: AbortSignal;
  /** Told of each update of the run (journaled events wake the session's event streams elsewhere). */
  readonly onUpdate?: (update: SessionUpdate) => void;
  /** Claims of one session before it is given up as `failed`. */
  readonly maxAttempts: number;
  /** Delay before retrying a run that failed without reaching an end, doubling with each attempt. */
  readonly retryBaseMs: number;
  /** Model specs a queue row may name besides provider specs (exact matches). */
  readonly queueModels: ReadonlySet<string>;
}

const maxRetryDelayMs = 60_000;

/**
 * Runs one claimed session to its end, its suspension, or its hand-off, and says how to settle the claim. A session
 * with no journal yet is started; one with a journal is resumed from it (finished steps are never run again, and a
 * tool call cut off by a crash runs again with the same idempotency key), so a claim taken over from a dead worker
 * continues where that worker stopped.
 */
export async function runClaimedSession(row: QueuedRun, context: ClaimedRunContext): Promise<Settlement> {
  const refusedModel = modelProblem(row.model, context.queueModels);
  if (refusedModel !== undefined) return { kind: 'gave-up', error: { code: 'invalid-argument', message: refusedModel } };
  const known = context.agents.get(row.agent);
  if (known === undefined) {
    const error = { code: 'invalid-config', message: `This worker has no agent named "${row.agent}" (it has ${context.agents.names().join(', ')}); run a worker that loads it.` };
    return row.attempts >= context.maxAttempts ? { kind: 'gave-up', error } : { kind: 'retry', outcome: 'error', delayMs: retryDelay(row, context), error };
  }
  try {
    const run = await startOrResume(row, known, context);
    return settlementOf(await run.result);
  } catch (error) {
    return failureSettlement(row, error, context);
  }
}

async function startOrResume(row: QueuedRun, known: WorkerAgent, context: ClaimedRunContext): Promise<SessionRun> {
  const { keel, handOff, cancel } = context;
  const common = {
    handOff,
    signal: cancel,
    ...(row.tenant === null ? {} : { tenant: row.tenant }),
    ...(row.priority === null ? {} : { priority: row.priority }),
    ...(context.onUpdate === undefined ? {} : { onUpdate: context.onUpdate }),
  };
  if ((await keel.journal.lastSeq(row.sessionId)) > 0) return keel.resume(known.agent, row.sessionId, common);
  const agentModule = row.agentModule ?? known.module;
  return keel.run(known.agent, {
    sessionId: row.sessionId,
    ...common,
    ...(row.budget === null ? {} : { budget: row.budget }),
    ...(row.task === null ? {} : { task: row.task }),
    ...(agentModule === undefined ? {} : { agentModule }),
    ...(row.model === null ? {} : { model: row.model }),
  });
}

function settlementOf(result: SessionResult): Settlement {
  if (result.status === 'awaiting-approval') {
    const waiting = new Set<string>([result.sessionId]);
    for (const pending of result.pendingApprovals) if (pending.sessionId !== undefined) waiting.add(pending.sessionId);
    return { kind: 'waiting-approval', waitingSessions: [...waiting] };
  }
  return { kind: 'ended', status: result.status };
}

function failureSettlement(row: QueuedRun, error: unknown, context: ClaimedRunContext): Settlement {
  const record = errorRecord(error);
  if (context.handOff.aborted) return { kind: 'retry', outcome: 'handed-off', delayMs: 0, error: null };
  if (isKeelError(error, 'session-busy')) {
    // Another process holds the session's lease (a worker whose claim expired but which is still alive, or a
    // `keel resume` in a terminal): try again when that lease would have expired.
    const seconds = Number((error.details as { expiresInSeconds?: unknown } | undefined)?.expiresInSeconds);
    return { kind: 'retry', outcome: 'busy', delayMs: Number.isFinite(seconds) ? Math.max(200, seconds * 1000 + 100) : 1000, error: record };
  }
  // A mistake in the request (no task, an unknown model) fails the same way however often it is tried.
  const permanent = isKeelError(error) && !error.retryable && error.fault === 'user';
  if (permanent || row.attempts >= context.maxAttempts) return { kind: 'gave-up', error: record };
  return { kind: 'retry', outcome: 'error', delayMs: retryDelay(row, context), error: record };
}

const providerSpec = /^(?:anthropic|openai|openai-compatible):\S/;

/**
 * Why a queue row's model spec is refused, or undefined. Provider specs only name a remote model; any other spec
 * (`scripted:<file>` reads a local file) must be one this worker was configured with, since the queue is written by
 * clients. The message names the spec by its provider prefix and never quotes what it points at.
 */
function modelProblem(model: string | null, allowed: ReadonlySet<string>): string | undefined {
  if (model === null || allowed.has(model) || providerSpec.test(model.trim())) return undefined;
  const colon = model.indexOf(':');
  const prefix = colon > 0 && colon <= 40 ? `'${model.slice(0, colon)}:'` : 'without a known provider prefix';
  return `The queued model spec (${prefix}) is not accepted from the run queue: a queued session may name anthropic:, openai: or openai-compatible: models, or a spec the worker was started with (queueModels, or keel worker --model).`;
}

function retryDelay(row: QueuedRun, context: ClaimedRunContext): number {
  return Math.min(maxRetryDelayMs, context.retryBaseMs * 2 ** Math.max(0, row.attempts - 1));
}

function errorRecord(error: unknown): { readonly code: string; readonly message: string } {
  if (isKeelError(error)) return { code: error.code, message: error.message.slice(0, 4000) };
  return { code: 'internal', message: (error instanceof Error ? error.message : String(error)).slice(0, 4000) };
}
