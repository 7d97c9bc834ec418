import { KeelError } from '../errors/index.ts';
import { leaseLostError } from '../loop/session-writer.ts';
import { currentEventVersion } from '../spec/events.ts';
import type { ChildEndEvent, EventBody, SessionEndEvent, SessionEvent, SessionStartEvent, StepEndEvent, StepStartEvent, WorkflowStartEvent } from '../spec/events.ts';
import type { Clock } from '../spec/clock.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import type { DecisionEvent } from './workflow-types.ts';

/** Outputs up to this many characters of JSON stay in the `step-end` event; larger ones go to the blob store. */
export const inlineOutputLimit = 16 * 1024;

export function stepKey(path: string, attempt: number): string {
  return `${path}#${attempt}`;
}

export function gateKey(path: string, gate: string, attempt: number): string {
  return `gate|${path}|${gate}|${attempt}`;
}

export function routeKey(path: string): string {
  return `route|${path}`;
}

export function joinKey(path: string): string {
  return `join|${path}`;
}

/** The key under which a decision is recorded once: a gate per step attempt, one route decision or join per path. */
export function decisionKey(body: DecisionEvent): string {
  switch (body.type) {
    case 'gate':
      return gateKey(body.path, body.gate, body.attempt);
    case 'route-decision':
      return routeKey(body.path);
    case 'parallel-join':
      return joinKey(body.path);
  }
}

/**
 * What a workflow's journal says so far, kept current as the writer appends: the engine asks it whether a step has an
 * outcome (reuse it) or a start without an outcome (the process died while it ran: run it again, same attempt).
 */
export class WorkflowRecord {
  readonly starts = new Map<string, StepStartEvent>();
  readonly ends = new Map<string, StepEndEvent>();
  readonly decisions = new Map<string, DecisionEvent>();
  /** Agent steps' child sessions by call id (the step's path and attempt): started, and ended with their spend. */
  readonly childStarts = new Set<string>();
  readonly childEnds = new Map<string, ChildEndEvent>();
  sessionStart: SessionStartEvent | null = null;
  workflowStart: WorkflowStartEvent | null = null;
  end: SessionEndEvent | null = null;
  lastSeq = 0;

  apply(event: SessionEvent): void {
    this.lastSeq = event.seq;
    switch (event.type) {
      case 'session-start':
        this.sessionStart = event;
        break;
      case 'workflow-start':
        this.workflowStart = event;
        break;
      case 'step-start':
        this.starts.set(stepKey(event.path, event.attempt), event);
        break;
      case 'step-end':
        this.ends.set(stepKey(event.path, event.attempt), event);
        break;
      case 'gate':
      case 'route-decision':
      case 'parallel-join': {
        const { v: _v, sessionId: _sessionId, seq: _seq, at: _at, ...body } = event;
        this.decisions.set(decisionKey(body), body);
        break;
      }
      case 'child-start':
        this.childStarts.add(event.callId);
        break;
      case 'child-end':
        this.childEnds.set(event.callId, event);
        break;
      case 'session-end':
        this.end = event;
        break;
      default:
        // Agent events (guard trips, anomalies) may sit in a workflow's journal; they decide nothing here.
        break;
    }
  }
}

export interface WorkflowWriterOptions {
  readonly sessionId: string;
  readonly journal: Journal;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly record: WorkflowRecord;
  readonly onEvent?: (event: SessionEvent) => void;
  readonly leaseLost?: AbortSignal;
}

/**
 * The workflow session's single writer: stamps envelopes, appends with the journal's optimistic concurrency, and
 * serializes the appends of parallel branches. After a failed append it writes nothing more (its view may be stale).
 */
export class WorkflowWriter {
  private tail: Promise<unknown> = Promise.resolve();
  private failure: unknown = undefined;
  private readonly options: WorkflowWriterOptions;

  constructor(options: WorkflowWriterOptions) {
    this.options = options;
  }

  get record(): WorkflowRecord {
    return this.options.record;
  }

  append(bodies: readonly EventBody[]): Promise<readonly SessionEvent[]> {
    const run = this.tail.then(() => this.write(bodies));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** The output as it goes into `step-end`: inline when small, else its JSON text in the blob store. */
  async storeOutput(json: string): Promise<{ output: unknown } | { outputBlob: string }> {
    if (json.length <= inlineOutputLimit) return { output: JSON.parse(json) as unknown };
    return { outputBlob: await this.options.blobs.put(json) };
  }

  async readOutput(end: StepEndEvent): Promise<unknown> {
    if (end.outputBlob === undefined) return end.output ?? null;
    const text = await this.options.blobs.get(end.outputBlob);
    if (text === undefined) {
      throw new KeelError('journal-corrupt', `Step ${end.path} of session ${end.sessionId}: its output blob ${end.outputBlob} is missing from the blob store.`);
    }
    return JSON.parse(text) as unknown;
  }

  private async write(bodies: readonly EventBody[]): Promise<readonly SessionEvent[]> {
    if (this.failure !== undefined) throw this.failure;
    const { sessionId, journal, clock, record, leaseLost } = this.options;
    if (leaseLost?.aborted === true) {
      this.failure = leaseLostError(sessionId, leaseLost);
      throw this.failure;
    }
    const at = clock.now();
    const events = bodies.map((body, index) => ({ ...body, v: currentEventVersion, sessionId, seq: record.lastSeq + index + 1, at }) as SessionEvent);
    try {
      await journal.append(sessionId, events, record.lastSeq);
    } catch (error) {
      this.failure = error;
      throw error;
    }
    for (const event of events) {
      record.apply(event);
      this.options.onEvent?.(event);
    }
    return events;
  }
}

/** Reads a session's whole journal into a record. */
export async function readRecord(journal: Journal, sessionId: string): Promise<{ record: WorkflowRecord; events: SessionEvent[] }> {
  const record = new WorkflowRecord();
  const events: SessionEvent[] = [];
  for await (const event of journal.read(sessionId)) {
    events.push(event);
    record.apply(event);
  }
  return { record, events };
}
