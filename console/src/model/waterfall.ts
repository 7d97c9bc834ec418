import type { SessionEvent, SessionStatus } from '../../../src/spec/events.ts';

/**
 * The session page's waterfall, folded from the journal events as they stream in: one row per step (turn, context
 * assembly, model call, side call, tool call, child session) with its start and end on the session's clock, and
 * markers for guard trips and anomalies. A step without its outcome yet is open: it grows until the outcome arrives.
 */
export type WaterfallKind = 'turn' | 'context' | 'model' | 'side' | 'tool' | 'child' | 'compensation';

export type StepState = 'running' | 'ok' | 'error' | 'awaiting-approval' | 'denied' | 'rejected';

export interface WaterfallRow {
  readonly key: string;
  readonly kind: WaterfallKind;
  readonly turn: number;
  readonly label: string;
  readonly detail: string;
  readonly startAt: number;
  /** Null while the step is open. */
  readonly endAt: number | null;
  readonly state: StepState;
  readonly inputTokens: number | null;
  readonly outputTokens: number | null;
  readonly costUsd: number | null;
  /** Why the row is highlighted: an escalation, a denial, a possible injection, an error. */
  readonly flags: readonly string[];
  readonly callId?: string;
}

export interface WaterfallMarker {
  readonly kind: 'guard-trip' | 'anomaly';
  readonly turn: number;
  readonly at: number;
  readonly title: string;
  readonly message: string;
}

export interface Waterfall {
  readonly sessionId: string | null;
  readonly agent: string | null;
  readonly model: string | null;
  readonly input: string | null;
  readonly startAt: number | null;
  readonly lastAt: number | null;
  readonly end: { readonly status: SessionStatus; readonly at: number; readonly output: string | null; readonly error: string | null } | null;
  readonly rows: readonly WaterfallRow[];
  readonly markers: readonly WaterfallMarker[];
  readonly totals: { readonly inputTokens: number; readonly outputTokens: number; readonly costUsd: number | null; readonly unpricedCalls: number };
  /** The highest seq folded: a stream resumes after it. */
  readonly lastSeq: number;
}

interface MutableRow {
  key: string;
  kind: WaterfallKind;
  turn: number;
  label: string;
  detail: string;
  startAt: number;
  endAt: number | null;
  state: StepState;
  inputTokens: number | null;
  outputTokens: number | null;
  costUsd: number | null;
  flags: string[];
  callId?: string;
}

/** Folds events in seq order; an event at or below a seq already folded is ignored, so a resumed stream is idempotent. */
export function foldWaterfall(events: readonly SessionEvent[]): Waterfall {
  const builder = new WaterfallBuilder();
  for (const event of events) builder.add(event);
  return builder.snapshot();
}

export class WaterfallBuilder {
  #rows: MutableRow[] = [];
  #byKey = new Map<string, MutableRow>();
  #markers: WaterfallMarker[] = [];
  #start: Extract<SessionEvent, { type: 'session-start' }> | null = null;
  #end: Waterfall['end'] = null;
  #lastAt: number | null = null;
  #lastSeq = 0;
  #openModel = new Map<number, MutableRow>();

  /** Returns false for an event already folded (a repeat after a reconnect). */
  add(event: SessionEvent): boolean {
    if (event.seq <= this.#lastSeq) return false;
    this.#lastSeq = event.seq;
    this.#lastAt = event.at;
    this.#apply(event);
    return true;
  }

  snapshot(): Waterfall {
    let inputTokens = 0;
    let outputTokens = 0;
    let costUsd: number | null = 0;
    let unpricedCalls = 0;
    for (const row of this.#rows) {
      if (row.kind === 'turn' || row.kind === 'child') continue;
      inputTokens += row.inputTokens ?? 0;
      outputTokens += row.outputTokens ?? 0;
      if ((row.kind === 'model' || row.kind === 'side') && row.inputTokens !== null && row.costUsd === null) unpricedCalls += 1;
      if (row.costUsd !== null && costUsd !== null) costUsd += row.costUsd;
    }
    if (unpricedCalls > 0 && costUsd === 0) costUsd = null;
    return {
      sessionId: this.#start?.sessionId ?? null,
      agent: this.#start?.agent.name ?? null,
      model: this.#start === null ? null : (this.#start.model.spec ?? `${this.#start.model.provider}:${this.#start.model.modelId}`),
      input: this.#start?.input ?? null,
      startAt: this.#start?.at ?? null,
      lastAt: this.#lastAt,
      end: this.#end,
      rows: this.#rows.map((row) => ({ ...row, flags: [...row.flags] })),
      markers: [...this.#markers],
      totals: { inputTokens, outputTokens, costUsd, unpricedCalls },
      lastSeq: this.#lastSeq,
    };
  }

  #push(row: Omit<MutableRow, 'flags' | 'inputTokens' | 'outputTokens' | 'costUsd'> & Partial<MutableRow>): MutableRow {
    const full: MutableRow = { inputTokens: null, outputTokens: null, costUsd: null, flags: [], ...row };
    this.#rows.push(full);
    this.#byKey.set(full.key, full);
    return full;
  }

  #turnRow(turn: number): MutableRow | undefined {
    return this.#byKey.get(`turn:${turn}`);
  }

  /** A turn's row spans its steps: it ends where its last step ended, and carries their tokens and cost. */
  #extendTurn(turn: number, at: number, spend?: { input: number; output: number; cost: number | null }): void {
    const row = this.#turnRow(turn);
    if (row === undefined) return;
    row.endAt = Math.max(row.endAt ?? row.startAt, at);
    if (spend === undefined) return;
    row.inputTokens = (row.inputTokens ?? 0) + spend.input;
    row.outputTokens = (row.outputTokens ?? 0) + spend.output;
    row.costUsd = spend.cost === null ? row.costUsd : (row.costUsd ?? 0) + spend.cost;
  }

  #apply(event: SessionEvent): void {
    switch (event.type) {
      case 'session-start':
        this.#start = event;
        return;
      case 'turn-start':
        this.#push({ key: `turn:${event.turn}`, kind: 'turn', turn: event.turn, label: `Turn ${event.turn}`, detail: '', startAt: event.at, endAt: event.at, state: 'ok' });
        return;
      case 'context-assemble': {
        const utilization = event.utilization === undefined ? '' : `, ${(event.utilization * 100).toFixed(1)}% of the window`;
        // The turn-start is journaled with the assembly, after it: the turn really began when the assembly did.
        const startAt = Math.max(event.at - event.durationMs, this.#start?.at ?? Number.NEGATIVE_INFINITY);
        this.#push({ key: `context:${event.seq}`, kind: 'context', turn: event.turn, label: 'Context assembly', detail: `${event.messageCount} messages, ${event.tokens.total} tokens${utilization}`, startAt, endAt: event.at, state: 'ok', inputTokens: null });
        const turn = this.#turnRow(event.turn);
        if (turn !== undefined) turn.startAt = Math.min(turn.startAt, startAt);
        this.#extendTurn(event.turn, event.at);
        return;
      }
      case 'model-request': {
        const row = this.#push({ key: `model:${event.seq}`, kind: 'model', turn: event.turn, label: `Model call ${event.model}`, detail: event.streaming ? 'streaming' : '', startAt: event.at, endAt: null, state: 'running' });
        this.#openModel.set(event.turn, row);
        return;
      }
      case 'model-response': {
        const row = this.#openModel.get(event.turn);
        this.#openModel.delete(event.turn);
        if (row === undefined) return;
        const usage = event.usage;
        Object.assign(row, { endAt: event.at, state: 'ok', inputTokens: usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens, outputTokens: usage.outputTokens, costUsd: event.costUsd, detail: `stop ${event.stopReason}${event.retries > 0 ? `, ${event.retries} retries` : ''}${event.cachedResponse === undefined ? '' : ', from the response cache'}` });
        if (event.retries > 0) row.flags.push(`${event.retries} retried attempt(s)`);
        this.#extendTurn(event.turn, event.at, { input: row.inputTokens ?? 0, output: usage.outputTokens, cost: event.costUsd });
        return;
      }
      case 'model-error': {
        const row = this.#openModel.get(event.turn);
        this.#openModel.delete(event.turn);
        if (row === undefined) return;
        Object.assign(row, { endAt: event.at, state: 'error', detail: `${event.error.code}: ${event.error.message}` });
        row.flags.push(`model error ${event.error.code}`);
        this.#extendTurn(event.turn, event.at);
        return;
      }
      case 'tool-request':
        this.#push({ key: `tool:${event.callId}`, kind: 'tool', turn: event.turn, label: `Tool ${event.tool}`, detail: '', startAt: event.at, endAt: null, state: 'running', callId: event.callId });
        return;
      case 'tool-decision': {
        const row = this.#byKey.get(`tool:${event.callId}`);
        if (row === undefined || event.decision === 'allow') return;
        if (event.decision === 'ask') {
          row.state = 'awaiting-approval';
          row.flags.push(`needs approval (${event.rule})`);
        } else {
          Object.assign(row, { state: 'denied', endAt: event.at });
          row.flags.push(`denied (${event.rule})`);
        }
        row.detail = event.reason;
        return;
      }
      case 'tool-approval': {
        const row = this.#byKey.get(`tool:${event.callId}`);
        if (row === undefined) return;
        const edited = event.editedInput === undefined ? '' : ', arguments edited';
        row.detail = `${event.approved ? 'approved' : 'rejected'} by ${event.approver}${edited}${event.reason === null ? '' : `: ${event.reason}`}`;
        if (event.approved) row.state = 'running';
        else Object.assign(row, { state: 'rejected', endAt: event.at });
        return;
      }
      case 'tool-result':
      case 'tool-error': {
        const row = this.#byKey.get(`tool:${event.callId}`);
        if (row === undefined) return;
        row.endAt = event.at;
        if (event.type === 'tool-result') {
          row.state = row.state === 'rejected' || row.state === 'denied' ? row.state : 'ok';
          if (row.detail === '') row.detail = `${event.output.length} characters of output`;
        } else {
          row.state = row.state === 'rejected' || row.state === 'denied' ? row.state : 'error';
          row.detail = [row.detail, `${event.error.code}: ${event.error.message}`].filter((part) => part !== '').join('; ');
          if (row.state === 'error') row.flags.push(`tool error ${event.error.code}`);
        }
        this.#extendTurn(event.turn, event.at);
        return;
      }
      case 'injection-detect': {
        const row = event.callId === undefined ? undefined : this.#byKey.get(`tool:${event.callId}`);
        row?.flags.push(`possible prompt injection (score ${event.score.toFixed(2)}, ${event.action})`);
        return;
      }
      case 'verifier-decision':
      case 'quarantined-read':
      case 'side-call': {
        const what = event.type === 'verifier-decision' ? `Verifier: ${event.decision}` : event.type === 'quarantined-read' ? 'Quarantined read' : `Side call ${event.purpose}`;
        const failed = event.type === 'verifier-decision' ? event.failure !== undefined : !event.ok;
        const input = event.usage === null ? null : event.usage.inputTokens + event.usage.cacheReadTokens + event.usage.cacheWriteTokens;
        const row = this.#push({ key: `side:${event.seq}`, kind: 'side', turn: event.turn, label: what, detail: event.type === 'verifier-decision' ? event.reason : event.model, startAt: event.at - event.latencyMs, endAt: event.at, state: failed ? 'error' : 'ok', inputTokens: input, outputTokens: event.usage?.outputTokens ?? null, costUsd: event.costUsd });
        if (event.type === 'verifier-decision' && event.decision !== 'allow') row.flags.push(`verifier said ${event.decision}`);
        this.#extendTurn(event.turn, event.at, { input: input ?? 0, output: event.usage?.outputTokens ?? 0, cost: event.costUsd });
        return;
      }
      case 'child-start':
        this.#push({ key: `child:${event.callId}`, kind: 'child', turn: event.turn, label: `Subagent ${event.agent}`, detail: `${event.mode}, session ${event.childSessionId}`, startAt: event.at, endAt: null, state: 'running', callId: event.callId });
        return;
      case 'child-end': {
        const row = this.#byKey.get(`child:${event.callId}`);
        if (row === undefined) return;
        Object.assign(row, { endAt: event.at, state: event.status === 'completed' ? 'ok' : 'error', inputTokens: event.usage.inputTokens + event.usage.cacheReadTokens + event.usage.cacheWriteTokens, outputTokens: event.usage.outputTokens, costUsd: event.costUsd });
        this.#extendTurn(event.turn, event.at, { input: row.inputTokens ?? 0, output: event.usage.outputTokens, cost: event.costUsd });
        return;
      }
      case 'compensation-request':
        this.#push({ key: `compensation:${event.callId}`, kind: 'compensation', turn: event.turn, label: `Compensation ${event.tool}`, detail: event.reason, startAt: event.at, endAt: null, state: 'running', callId: event.callId });
        return;
      case 'compensation-result': {
        const row = this.#byKey.get(`compensation:${event.callId}`);
        if (row === undefined) return;
        Object.assign(row, { endAt: event.at, state: event.ok ? 'ok' : 'error' });
        if (!event.ok) row.flags.push('compensation failed');
        return;
      }
      case 'guard-trip':
        this.#markers.push({ kind: 'guard-trip', turn: event.turn, at: event.at, title: `Guard ${event.guard} tripped`, message: `${event.message} (limit ${event.limit}, actual ${event.actual})` });
        return;
      case 'anomaly':
        this.#markers.push({ kind: 'anomaly', turn: event.turn, at: event.at, title: `Anomaly: ${event.signal}`, message: `${event.message} (threshold ${event.threshold}, value ${event.value})` });
        return;
      case 'session-end':
        this.#end = { status: event.status, at: event.at, output: event.output, error: event.error === null ? null : `${event.error.code}: ${event.error.message}` };
        for (const row of this.#rows) if (row.endAt === null) row.endAt = event.at;
        return;
      default:
        // Memory, summaries and workflow steps do not draw a bar of their own: their time is inside the turn's.
        return;
    }
  }
}

/** Whether a session that has not ended is waiting for a person: some tool call awaits an approval. */
export function awaitingApproval(waterfall: Waterfall): readonly WaterfallRow[] {
  return waterfall.rows.filter((row) => row.state === 'awaiting-approval');
}
