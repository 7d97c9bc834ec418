import { addUsage, zeroUsage } from '../loop/session-state.ts';
import type {
  ChildEndEvent,
  PlanApprovalEvent,
  PlanDeviationEvent,
  PlanInvalidEvent,
  PlanProposedEvent,
  PlanRecord,
  PlanStepEndEvent,
  PlanStepStartEvent,
  ReplanEvent,
  SessionEndEvent,
  SessionEvent,
  SessionStartEvent,
} from '../spec/events.ts';
import type { Usage } from '../spec/usage.ts';

/** One revision of the plan: what was proposed, what a person decided, and the deviation that ended it. */
export interface PlanRevision {
  readonly revision: number;
  readonly proposed: PlanProposedEvent;
  approval: PlanApprovalEvent | null;
  /** Steps of this revision that failed or missed their criterion, in journal order. */
  readonly deviations: PlanDeviationEvent[];
}

/**
 * A planner session as its journal says: a fold of its events and nothing else, so a resumed run decides exactly as
 * the run before the crash would have. Kept current by the writer as it appends.
 */
export class PlanState {
  start: SessionStartEvent | null = null;
  end: SessionEndEvent | null = null;
  readonly revisions = new Map<number, PlanRevision>();
  /** Invalid planning answers of the revision being planned, by attempt. */
  readonly invalid = new Map<string, PlanInvalidEvent>();
  readonly replans: ReplanEvent[] = [];
  readonly stepStarts = new Map<string, PlanStepStartEvent>();
  readonly stepEnds = new Map<string, PlanStepEndEvent>();
  readonly childEnds = new Map<string, ChildEndEvent>();
  /** Spend of the planner's own model calls: planning answers (valid or not) and model checks. */
  ownUsage: Usage = zeroUsage;
  ownCostUsd: number | null = 0;
  lastSeq = 0;

  static of(events: readonly SessionEvent[]): PlanState {
    const state = new PlanState();
    for (const event of events) state.apply(event);
    return state;
  }

  apply(event: SessionEvent): void {
    this.lastSeq = event.seq;
    switch (event.type) {
      case 'session-start':
        this.start = event;
        break;
      case 'plan-proposed':
        this.revisions.set(event.revision, { revision: event.revision, proposed: event, approval: null, deviations: [] });
        this.spend(event.usage, event.costUsd);
        break;
      case 'plan-invalid':
        this.invalid.set(`${event.revision}#${event.attempt}`, event);
        this.spend(event.usage, event.costUsd);
        break;
      case 'plan-approval': {
        const revision = this.revisions.get(event.revision);
        if (revision !== undefined) revision.approval = event;
        break;
      }
      case 'plan-step-start':
        this.stepStarts.set(event.callId, event);
        break;
      case 'plan-step-end':
        this.stepEnds.set(event.callId, event);
        if (event.check.usage !== undefined) this.spend(event.check.usage, event.check.costUsd ?? null);
        break;
      case 'plan-deviation': {
        const revision = this.revisions.get(event.revision);
        revision?.deviations.push(event);
        break;
      }
      case 'replan':
        this.replans.push(event);
        break;
      case 'child-end':
        this.childEnds.set(event.callId, event);
        break;
      case 'session-end':
        this.end = event;
        break;
      default:
        // Other events (anomalies, guard trips written by tools of the runtime) decide nothing for the planner.
        break;
    }
  }

  private spend(usage: Usage, costUsd: number | null): void {
    this.ownUsage = addUsage(this.ownUsage, usage);
    this.ownCostUsd = this.ownCostUsd === null || costUsd === null ? null : this.ownCostUsd + costUsd;
  }

  /** The latest revision proposed, or null before the first plan. */
  get current(): PlanRevision | null {
    let latest: PlanRevision | null = null;
    for (const revision of this.revisions.values()) if (latest === null || revision.revision > latest.revision) latest = revision;
    return latest;
  }

  /** The plan the steps run from: the edited one when a person edited it, else the proposed one. */
  planOf(revision: PlanRevision): PlanRecord {
    return revision.approval?.plan ?? revision.proposed.plan;
  }

  /** The revision a planning call is for: 1, or one past the revision the last replan left. */
  get revisionToPlan(): number {
    const last = this.replans.at(-1);
    return last === undefined ? 1 : last.fromRevision + 1;
  }

  /** Whether the revision the planner needs next has no plan yet (never planned, or a replan was journaled). */
  get needsPlan(): boolean {
    return !this.revisions.has(this.revisionToPlan);
  }

  /**
   * The finished, passing result of each step id, latest first: a step a later plan keeps (same id, no `rerun`) is
   * not run again, and its output is what its dependents see.
   */
  passedResults(): Map<string, PlanStepEndEvent> {
    const results = new Map<string, PlanStepEndEvent>();
    for (const end of this.stepEnds.values()) {
      if (end.status !== 'completed' || !end.check.passed) continue;
      const before = results.get(end.stepId);
      if (before === undefined || before.revision <= end.revision) results.set(end.stepId, end);
    }
    return results;
  }

  /** Spend of the session so far: the planner's own calls and every step's child session. */
  spent(): { readonly usage: Usage; readonly costUsd: number | null } {
    let usage = this.ownUsage;
    let costUsd = this.ownCostUsd;
    for (const child of this.childEnds.values()) {
      usage = addUsage(usage, child.usage);
      costUsd = costUsd === null || child.costUsd === null ? null : costUsd + child.costUsd;
    }
    return { usage, costUsd };
  }
}

/** The call id of a step in a revision: with the plan's session id it names the step's child session. */
export function stepCallId(revision: number, stepId: string): string {
  return `plan-r${revision}-${stepId}`;
}
