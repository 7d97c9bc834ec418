import { KeelError, keelCodes, toKeelError } from '../errors/index.ts';
import type { KeelCode } from '../errors/index.ts';
import { TreeBudget, addUsage, childSessionId, zeroUsage } from '../loop/index.ts';
import type { ErrorRecord, StepEndEvent, StepStatus } from '../spec/events.ts';
import type { Usage } from '../spec/usage.ts';
import { decisionKey, stepKey } from './workflow-journal.ts';
import type { WorkflowWriter } from './workflow-journal.ts';
import type { ChildScope, DecisionEvent, StepContext, StepScope, StepSpend, WorkflowExecution, WorkflowServices, WorkflowStep } from './workflow-types.ts';

/** The run's limits: tokens (input + output + cache of every step) and cost, and the deadline fixed at start. */
export interface WorkflowBudget {
  readonly tokens: number | null;
  readonly costUsd: number | null;
  readonly deadlineAt: number | null;
}

/** Thrown when a step fails; carries the error the step's `step-end` recorded, so callers above see the same one. */
export class StepFailure extends Error {
  readonly record: ErrorRecord;
  readonly status: StepStatus;
  readonly path: string;
  constructor(path: string, status: StepStatus, record: ErrorRecord) {
    super(record.message);
    this.path = path;
    this.status = status;
    this.record = record;
  }

  toKeelError(): KeelError {
    return errorFromRecord(this.record);
  }
}

export function errorFromRecord(record: ErrorRecord): KeelError {
  const code: KeelCode = Object.hasOwn(keelCodes, record.code) ? (record.code as KeelCode) : 'internal';
  return new KeelError(code, record.message, { retryable: record.retryable });
}

/** A failure as a step's outcome: the caller's cancel is `cancelled`, a deadline or timeout is `timeout`. */
export function stepFailure(path: string, thrown: unknown, signal: AbortSignal): StepFailure {
  if (thrown instanceof StepFailure) return thrown;
  const error = signal.aborted ? toKeelError(signal.reason, 'cancelled') : toKeelError(thrown, 'tool-failed');
  const status: StepStatus = error.code === 'cancelled' ? 'cancelled' : error.code === 'deadline-exceeded' ? 'timeout' : 'error';
  return new StepFailure(path, status, error.toRecord());
}

/** The step's output as the journal keeps it: JSON. A value JSON cannot hold is the step's error, named. */
function jsonText(path: string, output: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(output === undefined ? null : output);
  } catch (error) {
    throw new KeelError('invalid-argument', `Step ${path} returned a value that cannot be journaled as JSON (${toKeelError(error).message}); return plain data.`);
  }
  if (text === undefined) throw new KeelError('invalid-argument', `Step ${path} returned a ${typeof output}, which JSON cannot hold; return plain data.`);
  return text;
}

/** Settles with `work`, or rejects with the signal's reason as soon as it aborts: a step that ignores its signal still stops the workflow on time. */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

export interface ExecutionOptions {
  readonly sessionId: string;
  readonly services: WorkflowServices;
  readonly writer: WorkflowWriter;
  readonly budget: WorkflowBudget;
}

/**
 * One workflow run: every step goes through `runChild`, which reuses a recorded outcome or journals the step's start
 * and end around it. Spend is summed from the journal, so a resume knows what was spent before the crash.
 */
export class Execution implements WorkflowExecution {
  readonly sessionId: string;
  readonly services: WorkflowServices;
  readonly writer: WorkflowWriter;
  readonly budget: WorkflowBudget;

  /** The tree's ledger when the run has a token or cost budget: agent steps' child sessions charge it as they spend. */
  readonly ledger: TreeBudget | null;

  constructor(options: ExecutionOptions) {
    this.sessionId = options.sessionId;
    this.services = options.services;
    this.writer = options.writer;
    this.budget = options.budget;
    const { tokens, costUsd } = options.budget;
    this.ledger = tokens === null && costUsd === null ? null : TreeBudget.root(options.sessionId, { tokens, costUsd });
    // What earlier runs of this session spent, as journaled; a child still running preloads its own when it resumes.
    const before = this.spent();
    this.ledger?.preload(before.usage, before.costUsd);
  }

  /** A model step's or model gate's spend; agent steps' children charge the ledger themselves. */
  charge(spend: StepSpend): void {
    this.ledger?.charge(spend.usage, spend.costUsd);
  }

  /** Spend recorded so far: model steps' `step-end`s, model gates, and agent steps' child sessions (`child-end`). */
  spent(): StepSpend {
    let usage: Usage = zeroUsage;
    let costUsd: number | null = 0;
    const add = (more: Usage | undefined, cost: number | null | undefined): void => {
      if (more === undefined) return;
      usage = addUsage(usage, more);
      costUsd = costUsd === null || cost === undefined || cost === null ? null : costUsd + cost;
    };
    for (const end of this.writer.record.ends.values()) add(end.usage, end.costUsd);
    for (const decision of this.writer.record.decisions.values()) if (decision.type === 'gate') add(decision.usage, decision.costUsd);
    for (const child of this.writer.record.childEnds.values()) add(child.usage, child.costUsd);
    return { usage, costUsd };
  }

  remainingBudget(): ReturnType<WorkflowExecution['remainingBudget']> {
    const left = this.ledger?.remaining() ?? { tokens: null, costUsd: null };
    return { ...left, deadlineAt: this.budget.deadlineAt };
  }

  /** The child session of an agent step: derived from the workflow session and the step's path and attempt. */
  childSessionId(path: string, attempt: number): string {
    return this.writer.record.starts.get(stepKey(path, attempt))?.childSessionId ?? childSessionId(this.sessionId, stepKey(path, attempt));
  }

  async decide<E extends DecisionEvent>(body: E): Promise<E> {
    const recorded = this.writer.record.decisions.get(decisionKey(body));
    if (recorded !== undefined) return recorded as E;
    await this.writer.append([body]);
    return body;
  }

  async runChild<I, O>(step: WorkflowStep<I, O>, input: I, scope: ChildScope): Promise<O> {
    const path = scope.parentPath === '' ? step.name : `${scope.parentPath}/${step.name}`;
    const attempt = scope.attempt ?? 1;
    const key = stepKey(path, attempt);
    const record = this.writer.record;
    const ended = record.ends.get(key);
    // A finished step is never run again: its output (or its failure) is what the journal says. A step the caller
    // cancelled did not finish; a resume runs it again.
    if (ended !== undefined && ended.status !== 'cancelled') return this.reuse(ended);
    this.checkBudget(path);
    const childSessionId = step.kind === 'agent' ? this.childSessionId(path, attempt) : undefined;
    if (!record.starts.has(key) || ended !== undefined) {
      await this.writer.append([{ type: 'step-start', path, step: step.name, kind: step.kind, attempt, ...(childSessionId === undefined ? {} : { childSessionId }) }]);
    }
    const startedAt = this.services.clock.now();
    const stepScope: StepScope = { path, attempt, feedback: scope.feedback ?? null, signal: scope.signal, run: this };
    let outcome: { output: O; spend?: StepSpend };
    try {
      outcome = await raceSignal(step.execute(input, stepScope), scope.signal);
    } catch (thrown) {
      const failure = stepFailure(path, thrown, scope.signal);
      await this.writer.append([
        {
          type: 'step-end',
          path,
          step: step.name,
          attempt,
          status: failure.status,
          error: failure.record,
          latencyMs: this.services.clock.now() - startedAt,
          ...(childSessionId === undefined ? {} : { childSessionId }),
        },
      ]);
      throw failure;
    }
    const latencyMs = this.services.clock.now() - startedAt;
    const text = jsonText(path, outcome.output);
    const stored = await this.writer.storeOutput(text);
    if (outcome.spend !== undefined && step.kind !== 'agent') this.charge(outcome.spend);
    const spend = outcome.spend === undefined ? {} : { usage: outcome.spend.usage, costUsd: outcome.spend.costUsd };
    await this.writer.append([{ type: 'step-end', path, step: step.name, attempt, status: 'ok', ...stored, error: null, latencyMs, ...spend, ...(childSessionId === undefined ? {} : { childSessionId }) }]);
    // The journaled value, not the step's own object: the first run and every resume see the same data.
    return JSON.parse(text) as O;
  }

  private async reuse<O>(ended: StepEndEvent): Promise<O> {
    if (ended.status !== 'ok') throw new StepFailure(ended.path, ended.status, ended.error ?? { code: 'internal', message: `Step ${ended.path} failed.`, fault: 'system', retryable: false });
    return (await this.writer.readOutput(ended)) as O;
  }

  /** A spent budget or a passed deadline stops the run before its next step. */
  checkBudget(path: string): void {
    const trip = this.budgetTrip();
    if (trip !== null) throw new BudgetExceeded(path, trip);
  }

  budgetTrip(): BudgetTrip | null {
    const now = this.services.clock.now();
    if (this.budget.deadlineAt !== null && now >= this.budget.deadlineAt) {
      return { guard: 'deadline', limit: this.budget.deadlineAt, actual: now, message: `The workflow's deadline passed ${now - this.budget.deadlineAt} ms ago.` };
    }
    const trip = this.ledger?.trip() ?? null;
    return trip === null ? null : { guard: trip.guard, limit: trip.limit, actual: trip.actual, message: trip.message, budgetSessionId: trip.budgetSessionId, spenderSessionId: trip.spenderSessionId };
  }

  /** The context a function step receives. */
  contextFor(scope: StepScope): StepContext {
    return {
      signal: scope.signal,
      sessionId: this.sessionId,
      path: scope.path,
      attempt: scope.attempt,
      feedback: scope.feedback,
      idempotencyKey: `${this.sessionId}:${scope.path}#${scope.attempt}`,
      withLock: (resource, work) => this.services.locks.withLock(resource, work),
    };
  }
}

export interface BudgetTrip {
  readonly guard: 'deadline' | 'tokens' | 'cost';
  readonly limit: number;
  readonly actual: number;
  readonly message: string;
  readonly budgetSessionId?: string;
  readonly spenderSessionId?: string;
}

/** The run's budget is spent: the run ends with a `guard-trip` naming it. */
export class BudgetExceeded extends KeelError {
  readonly trip: BudgetTrip;
  constructor(path: string, trip: BudgetTrip) {
    super(trip.guard === 'deadline' ? 'deadline-exceeded' : 'guard-tripped', `${trip.message} Step ${path} was not started.`, { details: { guard: trip.guard, limit: trip.limit, actual: trip.actual } });
    this.trip = trip;
  }
}

export function totalTokens(usage: Usage): number {
  return usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
}

export function isStepFailure(value: unknown): value is StepFailure {
  return value instanceof StepFailure;
}

