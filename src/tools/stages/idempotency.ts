import { KeelError, keelCodes } from '../../errors/index.ts';
import type { KeelCode } from '../../errors/index.ts';
import type { IdempotencyStore } from '../../store/idempotency-store.ts';
import type { ExecuteStage, ExecutionOutcome } from '../pipeline/tool-invocation.ts';

/** An outcome this stage has recorded in a durable store (or answered from it): a crash before the journal has it loses nothing. */
export type RecordedOutcome = ExecutionOutcome & { readonly recorded?: true };

/**
 * True when the outcome is in a durable idempotency store under its call's key: a re-run of the call after a crash
 * gets it back without running the tool, so the loop may write it with the session's next append instead of alone.
 */
export function isRecordedOutcome(outcome: ExecutionOutcome): boolean {
  return (outcome as RecordedOutcome).recorded === true;
}

function markRecorded(outcome: ExecutionOutcome): RecordedOutcome {
  // A copy with every field inner stages attached (the sanitizer's report), not a mutation of what they returned.
  return { ...outcome, recorded: true as const };
}

/**
 * The idempotency stage: the outcome of a call is recorded by its idempotency key as soon as
 * the tool returns, before the journal hears of it. A call re-run after a crash in between gets the recorded
 * outcome back and the tool does not run twice. Cancellations, and failures once the call was told to stop, are not
 * recorded: the call may not have finished.
 */
export function createIdempotencyStage(store: IdempotencyStore): ExecuteStage {
  // A record in memory dies with the process, so it answers nothing after a crash: its outcomes are not marked.
  const recordedOutcome = store.durable === true ? markRecorded : (outcome: ExecutionOutcome): ExecutionOutcome => outcome;
  return async (invocation, next) => {
    const recorded = await store.get(invocation.idempotencyKey);
    if (recorded !== undefined) {
      if (recorded.ok) {
        return recordedOutcome({ ok: true, output: recorded.output ?? '', latencyMs: 0, ...(recorded.fullOutputBlob === null ? {} : { fullOutputBlob: recorded.fullOutputBlob }) });
      }
      const code = (recorded.error?.code ?? 'tool-failed') in keelCodes ? (recorded.error?.code as KeelCode) : 'tool-failed';
      return recordedOutcome({ ok: false, error: new KeelError(code, recorded.error?.message ?? 'The tool failed.'), latencyMs: 0 });
    }
    const outcome: ExecutionOutcome = await next();
    // A failure that comes back once the call was told to stop may be the stop itself (its reason, whatever its code),
    // not the tool's outcome: the loop waits for the tool and records what it really did (settleAfterCancel).
    if (!outcome.ok && (outcome.error.code === 'cancelled' || invocation.signal.aborted)) return outcome;
    await store.put(invocation.idempotencyKey, {
      ok: outcome.ok,
      output: outcome.ok ? outcome.output : null,
      error: outcome.ok ? null : { code: outcome.error.code, message: outcome.error.message },
      fullOutputBlob: outcome.ok ? (outcome.fullOutputBlob ?? null) : null,
      recordedAt: Date.now(),
    });
    return recordedOutcome(outcome);
  };
}
