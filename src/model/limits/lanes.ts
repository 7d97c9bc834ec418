import type { QueueLane } from '../../spec/provider-limits.ts';

/** Batch work yields to interactive work in the queue; interactive is the default. */
export type RunPriority = 'interactive' | 'batch';

/** What the gateway of one session tells the limiter about it. */
export interface SessionLane {
  readonly priority?: RunPriority;
  /** A resumed session is already running: even its first call here goes in a running lane. */
  readonly resumed?: boolean;
  /** Charged in the tenant's token budget (admission control). */
  readonly tenant?: string;
}

/**
 * The queue lane of a call: calls of running sessions (this one has had a call granted, or was resumed) before calls
 * that would start a session; interactive before batch within each.
 */
export function queueLane(lane: SessionLane | undefined, started: boolean): QueueLane {
  const running = started || lane?.resumed === true;
  const batch = lane?.priority === 'batch';
  return ((running ? 0 : 2) + (batch ? 1 : 0)) as QueueLane;
}
