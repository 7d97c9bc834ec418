import { KeelError, toKeelError } from '../errors/index.ts';
import type { EventBody } from '../spec/events.ts';
import type { AnomalyBody } from '../tracing/anomalies.ts';
import type { AgentDefinition } from './define-agent.ts';
import type { LoopDependencies, PendingApproval, RunOptions, SessionUpdate } from './loop-types.ts';
import type { ToolTraits } from './next-step.ts';
import type { SessionState } from './session-state.ts';
import type { SessionWriter } from './session-writer.ts';

/** Everything one run of the loop works with: the driver and every step receive this one object. */
export interface LoopContext {
  readonly agent: AgentDefinition;
  readonly dependencies: LoopDependencies;
  readonly writer: SessionWriter;
  readonly traits: ToolTraits;
  /** The caller's cancellation; never aborted when the caller gave none. */
  readonly signal: AbortSignal;
  readonly options: RunOptions;
  readonly emit: (update: SessionUpdate) => void;
  /** Anomaly signals found in written events, waiting to be journaled by the next `record-anomalies` step. */
  readonly anomalies: AnomalyBody[];
  /** Completed calls when reflection last checked its threshold; on resume, those before the run were checked. */
  readonly memoryProgress: { reflectedAfterCalls: number };
  /** Subagent calls whose child waits for a person, with the child's pending calls: they stay open, and the session waits too. */
  readonly suspendedChildren: Map<string, readonly PendingApproval[]>;
}

export type EndStatus = 'completed' | 'failed' | 'cancelled';

export function endBody(state: SessionState, status: EndStatus, output: string | null, error: KeelError | null): EventBody {
  return { type: 'session-end', status, output, error: error === null ? null : error.toRecord(), turns: state.turn, usage: state.usage, costUsd: state.costUsd };
}

/** The calls of unknown outcome, named in the session's end so that a person checks their effects. */
export function unknownOutcomeNote(state: SessionState): string {
  const unknown = state.effectCalls.filter((call) => call.outcome === 'unknown');
  if (unknown.length === 0) return '';
  const list = unknown.map((call) => `${call.tool} (call ${call.callId}, idempotency key ${call.idempotencyKey})`).join(', ');
  return ` ${unknown.length} call(s) may have run but their outcome is unknown: ${list}. Check their effects before asking for them again.`;
}

/** The caller's reason for a cancellation, as the session's error. */
export function cancellationError(signal: AbortSignal): KeelError {
  return toKeelError(signal.reason ?? new KeelError('cancelled', 'Cancelled by the caller.'));
}
