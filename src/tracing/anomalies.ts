import { canonicalJson } from '../util/index.ts';
import { ignoreNever } from '../util/assert-never.ts';
import type { AnomalyEvent, AnomalySignal, EventBody, SessionEvent } from '../spec/events.ts';

/**
 * The anomaly signals. Each comparison follows the wording of the signal it measures:
 *
 * | signal                | fires when                                                        | default |
 * |-----------------------|-------------------------------------------------------------------|---------|
 * | `turn-count`          | a turn starts whose number is greater than `maxTurns`             | 15      |
 * | `tool-error-rate`     | after an outcome, errors / outcomes > `maxToolErrorRate`, with at least `minToolCallsForErrorRate` outcomes | 0.5, 4 |
 * | `repeated-tool-call`  | the same tool with the same canonical input is requested the `maxIdenticalToolCalls`-th time, in a row or not | 3 |
 * | `context-utilization` | a context-assemble reports `utilization` greater than `contextUtilizationWarning` | 0.7 |
 * | `cost-over-budget`    | the sum of model-response costs is greater than `costBudgetUsd`  | off     |
 *
 * A signal fires at most once per session. Signals only inform; guards stop sessions.
 */
export interface AnomalyThresholds {
  readonly maxTurns?: number;
  readonly maxToolErrorRate?: number;
  readonly minToolCallsForErrorRate?: number;
  readonly maxIdenticalToolCalls?: number;
  readonly contextUtilizationWarning?: number;
  /** Null or absent: no cost signal. */
  readonly costBudgetUsd?: number | null;
}

export interface ResolvedAnomalyThresholds {
  readonly maxTurns: number;
  readonly maxToolErrorRate: number;
  readonly minToolCallsForErrorRate: number;
  readonly maxIdenticalToolCalls: number;
  readonly contextUtilizationWarning: number;
  readonly costBudgetUsd: number | null;
}

export const defaultAnomalyThresholds: ResolvedAnomalyThresholds = {
  maxTurns: 15,
  maxToolErrorRate: 0.5,
  minToolCallsForErrorRate: 4,
  maxIdenticalToolCalls: 3,
  contextUtilizationWarning: 0.7,
  costBudgetUsd: null,
};

export function resolveAnomalyThresholds(thresholds: AnomalyThresholds = {}): ResolvedAnomalyThresholds {
  return {
    maxTurns: thresholds.maxTurns ?? defaultAnomalyThresholds.maxTurns,
    maxToolErrorRate: thresholds.maxToolErrorRate ?? defaultAnomalyThresholds.maxToolErrorRate,
    minToolCallsForErrorRate: thresholds.minToolCallsForErrorRate ?? defaultAnomalyThresholds.minToolCallsForErrorRate,
    maxIdenticalToolCalls: thresholds.maxIdenticalToolCalls ?? defaultAnomalyThresholds.maxIdenticalToolCalls,
    contextUtilizationWarning: thresholds.contextUtilizationWarning ?? defaultAnomalyThresholds.contextUtilizationWarning,
    costBudgetUsd: thresholds.costBudgetUsd ?? defaultAnomalyThresholds.costBudgetUsd,
  };
}

/** An anomaly event's body, ready for the writer to stamp with its envelope. */
export type AnomalyBody = EventBody<AnomalyEvent>;

function round(value: number, digits = 6): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * The incremental form, for the loop: push each event as it is journaled and journal what it returns. It also
 * notes anomaly events already in the journal, so pushing a resumed session's history first avoids repeats.
 */
export class AnomalyDetector {
  readonly thresholds: ResolvedAnomalyThresholds;
  private readonly fired = new Set<AnomalySignal>();
  private turn = 0;
  private outcomes = 0;
  private errors = 0;
  private costUsd = 0;
  private readonly requested = new Map<string, number>();

  constructor(thresholds: AnomalyThresholds = {}) {
    this.thresholds = resolveAnomalyThresholds(thresholds);
  }

  /**
   * Folds history (a resumed session's journal) before pushing new events; returns the signals it shows that are
   * not journaled in it (say, the process stopped before writing them). Journaled signals do not fire again.
   */
  preload(events: readonly SessionEvent[]): AnomalyBody[] {
    const journaled = new Set<AnomalySignal>();
    const found: AnomalyBody[] = [];
    for (const event of events) {
      if (event.type === 'anomaly') journaled.add(event.signal);
      found.push(...this.push(event));
    }
    return found.filter((body) => !journaled.has(body.signal));
  }

  /** Signals that this event newly triggers (at most one per signal per session). */
  push(event: SessionEvent): AnomalyBody[] {
    const found: AnomalyBody[] = [];
    const t = this.thresholds;
    switch (event.type) {
      case 'child-start':
      case 'child-end':
        break;
      case 'anomaly':
        this.fired.add(event.signal);
        break;
      case 'turn-start':
        this.turn = event.turn;
        if (event.turn > t.maxTurns) this.fire(found, 'turn-count', t.maxTurns, event.turn, `The session reached turn ${event.turn}, more than ${t.maxTurns} turns: sessions this long warrant investigation.`);
        break;
      case 'context-assemble':
        if (event.utilization !== undefined && event.utilization > t.contextUtilizationWarning) {
          this.fire(found, 'context-utilization', t.contextUtilizationWarning, event.utilization, `The assembled context fills ${(event.utilization * 100).toFixed(1)} % of the model's window, above the ${(t.contextUtilizationWarning * 100).toFixed(1)} % warning level.`);
        }
        break;
      // A verifier's and a quarantined reader's calls are spending of the session like the agent's own.
      case 'model-response':
      case 'verifier-decision':
      case 'quarantined-read':
      case 'side-call':
        if (event.costUsd !== null) this.costUsd += event.costUsd;
        if (t.costBudgetUsd !== null && this.costUsd > t.costBudgetUsd) {
          this.fire(found, 'cost-over-budget', t.costBudgetUsd, round(this.costUsd, 9), `The session has cost $${this.costUsd.toFixed(4)}, over its budget of $${t.costBudgetUsd.toFixed(4)}.`);
        }
        break;
      case 'tool-request': {
        const key = `${event.tool}\u0000${canonicalJson(event.input) ?? 'null'}`;
        const count = (this.requested.get(key) ?? 0) + 1;
        this.requested.set(key, count);
        if (count >= t.maxIdenticalToolCalls) {
          this.fire(found, 'repeated-tool-call', t.maxIdenticalToolCalls, count, `Tool "${event.tool}" was called ${count} times with identical input.`);
        }
        break;
      }
      case 'tool-result':
      case 'tool-error': {
        this.outcomes += 1;
        if (event.type === 'tool-error') this.errors += 1;
        const rate = this.errors / this.outcomes;
        if (this.outcomes >= t.minToolCallsForErrorRate && rate > t.maxToolErrorRate) {
          this.fire(found, 'tool-error-rate', t.maxToolErrorRate, round(rate), `${this.errors} of ${this.outcomes} tool calls failed (${(rate * 100).toFixed(1)} %), above the ${(t.maxToolErrorRate * 100).toFixed(1)} % threshold.`);
        }
        break;
      }
      case 'session-start':
      case 'context-summary':
      case 'memory-read':
      case 'memory-write':
      case 'model-request':
      case 'model-error':
      case 'tool-decision':
      case 'injection-detect':
      case 'tool-approval':
      case 'compensation-request':
      case 'compensation-result':
      case 'guard-trip':
      case 'session-end':
        break;
      // Workflow steps: their model spend is in the child sessions and step-ends, not in turns.
      case 'workflow-start':
      case 'step-start':
      case 'step-end':
      case 'gate':
      case 'route-decision':
      case 'parallel-join':
        break;
      // Planner events: the steps' spend is in their child sessions.
      case 'plan-proposed':
      case 'plan-invalid':
      case 'plan-approval':
      case 'plan-step-start':
      case 'plan-step-end':
      case 'plan-deviation':
      case 'replan':
        break;
      default:
        ignoreNever(event);
        break;
    }
    return found;
  }

  /** Adds a signal to `found` unless it already fired in this session. A method, not a closure made per event. */
  private fire(found: AnomalyBody[], signal: AnomalySignal, threshold: number, value: number, message: string): void {
    if (this.fired.has(signal)) return;
    this.fired.add(signal);
    found.push({ type: 'anomaly', turn: this.turn, signal, threshold, value, message });
  }
}

/**
 * The anomaly signals a session's journal shows that are not journaled yet, each at the turn where its threshold
 * was first crossed. Pure: the loop journals what it returns (`type: 'anomaly'` bodies without the envelope).
 */
export function detectAnomalies(events: readonly SessionEvent[], thresholds: AnomalyThresholds = {}): AnomalyBody[] {
  return new AnomalyDetector(thresholds).preload(events);
}
