import { KeelError } from '../errors/index.ts';
import { hashValue, linkedSignal } from '../util/index.ts';
import type { EventBody, SessionEvent } from '../spec/events.ts';
import { Execution, stepFailure } from './workflow-execution.ts';
import type { WorkflowBudget } from './workflow-execution.ts';
import { readRecord, stepKey, WorkflowRecord, WorkflowWriter } from './workflow-journal.ts';
import type { WorkflowResult, WorkflowServices, WorkflowStep } from './workflow-types.ts';

export interface WorkflowRunOptions {
  readonly sessionId?: string;
  /** Cancels the run: running steps and branches are cancelled and the session ends `cancelled`. */
  readonly signal?: AbortSignal;
  /** Aborts when this process loses the session's lease; the run stops before its next write. */
  readonly leaseLost?: AbortSignal;
  /** Called for each event as it is journaled. */
  readonly onEvent?: (event: SessionEvent) => void;
}

export interface WorkflowStartOptions extends WorkflowRunOptions {
  /** The whole run's budget: `tokens` (input + output + cache) and `costUsd` across every step and child session; `deadlineMs` from the start. */
  readonly budget?: { readonly tokens?: number; readonly costUsd?: number; readonly deadlineMs?: number };
  /** The run's model as recorded (a registered name or provider spec), for model steps without their own. */
  readonly modelSpec?: string;
  readonly parentSessionId?: string;
}

/** A running workflow: its session id at once, its outcome when it settles. */
export interface WorkflowRun<O> {
  readonly sessionId: string;
  /** Resolves with the outcome, failures included; rejects only when the journal cannot be written. */
  readonly result: Promise<WorkflowResult<O>>;
}

/** Hash of the workflow's shape: a resume refuses a definition whose steps changed. */
export function definitionHash(workflow: WorkflowStep<unknown, unknown>): string {
  return `sha256:${hashValue(workflow.shape)}`;
}

function inputJson(input: unknown): unknown {
  const text = JSON.stringify(input ?? null) as string | undefined;
  if (text === undefined) throw new KeelError('invalid-argument', 'A workflow input must be JSON data: it is journaled so a resume can run the workflow again.');
  return JSON.parse(text) as unknown;
}

function checkBudget(budget: WorkflowStartOptions['budget']): void {
  for (const [kind, value] of Object.entries(budget ?? {})) {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new KeelError('invalid-argument', `Workflow budget ${kind} must be a positive number, got ${String(value)}.`);
    }
  }
}

/** Starts a workflow run as a new session: `session-start` and `workflow-start`, then its steps. */
export function startWorkflow<I, O>(workflow: WorkflowStep<I, O>, input: I, services: WorkflowServices, options: WorkflowStartOptions & { readonly sessionId: string }): WorkflowRun<O> {
  const { sessionId } = options;
  const result = (async (): Promise<WorkflowResult<O>> => {
    checkBudget(options.budget);
    const journaledInput = inputJson(input);
    const now = services.clock.now();
    const budget: WorkflowBudget = {
      tokens: options.budget?.tokens ?? null,
      costUsd: options.budget?.costUsd ?? null,
      deadlineAt: options.budget?.deadlineMs === undefined ? null : now + options.budget.deadlineMs,
    };
    const hash = definitionHash(workflow as WorkflowStep<unknown, unknown>);
    const record = new WorkflowRecord();
    const writer = new WorkflowWriter({ sessionId, journal: services.journal, blobs: services.blobs, clock: services.clock, record, ...optional(options) });
    const start: EventBody[] = [
      {
        type: 'session-start',
        agent: { name: workflow.name, instructionsHash: hash, tools: [] },
        model: { provider: 'workflow', modelId: workflow.kind, ...(options.modelSpec === undefined ? {} : { spec: options.modelSpec }) },
        input: typeof journaledInput === 'string' ? journaledInput : JSON.stringify(journaledInput),
        limits: { maxTurns: 0, deadlineAt: budget.deadlineAt, maxInputTokens: null, maxOutputTokens: null, maxCostUsd: budget.costUsd, maxIdenticalToolCalls: 0 },
        ...(budget.tokens === null && budget.costUsd === null ? {} : { budget: { tokens: budget.tokens, costUsd: budget.costUsd } }),
        ...(options.parentSessionId === undefined ? {} : { parentSessionId: options.parentSessionId }),
      },
      { type: 'workflow-start', workflow: workflow.name, kind: workflow.kind, definitionHash: hash, input: journaledInput, budget },
    ];
    await writer.append(start);
    return drive(new Execution({ sessionId, services, writer, budget }), workflow, journaledInput as I, options.signal);
  })();
  result.catch(() => undefined);
  return { sessionId, result };
}

/**
 * Continues a workflow from its journal: steps with an outcome are not run again (their journaled output is used),
 * a step that was running when the process stopped runs again with the same idempotency key, and an agent step's
 * child session is resumed, not started twice. An ended run returns its recorded outcome.
 */
export function resumeWorkflow<I, O>(workflow: WorkflowStep<I, O>, sessionId: string, services: WorkflowServices, options: WorkflowRunOptions = {}): WorkflowRun<O> {
  const result = (async (): Promise<WorkflowResult<O>> => {
    const { record, events } = await readRecord(services.journal, sessionId);
    if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId} in this journal; list sessions with \`keel sessions\`.`);
    const started = record.workflowStart;
    if (started === null) throw new KeelError('invalid-argument', `Session ${sessionId} is not a workflow run (it has no workflow-start event); resume agent sessions with keel.resume.`);
    const hash = definitionHash(workflow as WorkflowStep<unknown, unknown>);
    if (started.workflow !== workflow.name || started.definitionHash !== hash) {
      throw new KeelError(
        'invalid-argument',
        `Session ${sessionId} ran workflow "${started.workflow}" with a different definition (${started.definitionHash}, this one is ${hash}): steps were added, removed, renamed or regated. Resume it with the definition it started with.`,
        { details: { sessionId, recorded: started.definitionHash, given: hash } },
      );
    }
    const writer = new WorkflowWriter({ sessionId, journal: services.journal, blobs: services.blobs, clock: services.clock, record, ...optional(options) });
    const execution = new Execution({ sessionId, services, writer, budget: started.budget });
    if (record.end !== null) return recordedResult<O>(execution, workflow.name);
    return drive(execution, workflow, started.input as I, options.signal);
  })();
  result.catch(() => undefined);
  return { sessionId, result };
}

function optional(options: WorkflowRunOptions): { onEvent?: (event: SessionEvent) => void; leaseLost?: AbortSignal } {
  return { ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }), ...(options.leaseLost === undefined ? {} : { leaseLost: options.leaseLost }) };
}

/** Runs the root step under the deadline, then ends the session: completed, failed (with a guard-trip if a budget ran out), or cancelled. */
async function drive<I, O>(execution: Execution, workflow: WorkflowStep<I, O>, input: I, signal: AbortSignal | undefined): Promise<WorkflowResult<O>> {
  const { deadlineAt } = execution.budget;
  const clock = execution.services.clock;
  const deadline = deadlineAt === null ? undefined : Math.max(0, deadlineAt - clock.now());
  const linked = linkedSignal([signal], deadline, () => new KeelError('deadline-exceeded', `Workflow ${workflow.name} passed its deadline (${new Date(deadlineAt ?? 0).toISOString()}).`));
  try {
    const output = await execution.runChild(workflow, input, { parentPath: '', signal: linked.signal });
    const spent = execution.spent();
    await execution.writer.append([
      { type: 'session-end', status: 'completed', output: typeof output === 'string' ? output : JSON.stringify(output), error: null, turns: 0, usage: spent.usage, costUsd: spent.costUsd },
    ]);
    return { sessionId: execution.sessionId, status: 'completed', output, error: null, ...spent };
  } catch (thrown) {
    // A journal that cannot be written is not an outcome: the writer refuses this append too, and the result rejects.
    const failure = stepFailure(workflow.name, thrown, linked.signal);
    const trip = execution.budgetTrip();
    const bodies: EventBody[] = [];
    if (trip !== null && failure.status !== 'cancelled') {
      bodies.push({
        type: 'guard-trip',
        turn: 0,
        guard: trip.guard,
        limit: trip.limit,
        actual: trip.actual,
        message: trip.message,
        ...(trip.budgetSessionId === undefined ? {} : { budgetSessionId: trip.budgetSessionId }),
        ...(trip.spenderSessionId === undefined ? {} : { spenderSessionId: trip.spenderSessionId }),
      });
    }
    const status = failure.status === 'cancelled' ? 'cancelled' : 'failed';
    const spent = execution.spent();
    bodies.push({ type: 'session-end', status, output: null, error: failure.record, turns: 0, usage: spent.usage, costUsd: spent.costUsd });
    await execution.writer.append(bodies);
    return { sessionId: execution.sessionId, status, output: null, error: failure.record, ...spent };
  } finally {
    linked.dispose();
  }
}

async function recordedResult<O>(execution: Execution, rootName: string): Promise<WorkflowResult<O>> {
  const end = execution.writer.record.end;
  if (end === null) throw new KeelError('internal', `Session ${execution.sessionId} has no session-end.`);
  const rootEnd = execution.writer.record.ends.get(stepKey(rootName, 1));
  const output = end.status === 'completed' && rootEnd !== undefined ? ((await execution.writer.readOutput(rootEnd)) as O) : null;
  return { sessionId: execution.sessionId, status: end.status, output, error: end.error, usage: end.usage, costUsd: end.costUsd };
}
