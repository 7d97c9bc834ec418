import { KeelError, toKeelError } from '../errors/index.ts';
import { linkedSignal } from '../util/index.ts';
import { createToolPipeline, validateInput } from '../tools/index.ts';
import { sanitizationOf } from '../tools/stages/sanitize.ts';
import { isRecordedOutcome } from '../tools/stages/idempotency.ts';
import { createInformationFlowStage, outputProvenanceOf } from '../tools/stages/information-flow.ts';
import { scanUntrustedItem } from './injection-scan.ts';
import { verifyCall } from './verify-step.ts';
import { sessionReader } from './quarantined-read.ts';
import { sessionSampler } from './session-sampling.ts';
import { flowContextFor } from './provenance-tracker.ts';
import type { ToolDefinition, ToolPipeline } from '../tools/index.ts';
import type { EventBody } from '../spec/events.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import type { LoopDependencies } from './loop-types.ts';
import type { LoopContext } from './loop-context.ts';
import { runBounded } from './bounded-pool.ts';
import { ToolExecution, replayOf } from './in-flight.ts';
import { messageToolUses } from './tool-requests.ts';
import { bindSubagentCall, suspendedChildApprovals } from './subagent-calls.ts';
import { effectiveInput, outcomeUnknownCode } from './session-state.ts';
import type { SessionState, ToolCallState } from './session-state.ts';

/** Tool output kept inline in the journal; anything longer is stored whole as a blob and cut here with a visible marker. */
export const inlineOutputLimit = 64 * 1024;

const defaultPipeline = createToolPipeline({ decideStages: [createInformationFlowStage()] });

export function pipelineOf(dependencies: LoopDependencies): ToolPipeline {
  return dependencies.tools ?? defaultPipeline;
}

type Invocation = Parameters<ToolPipeline['execute']>[0];
type Outcome = Awaited<ReturnType<ToolPipeline['execute']>>;

/** The decide phase for each call: one `tool-decision` each, journaled together, with the error result of every denial. */
export async function decideTools(context: LoopContext, callIds: readonly string[]): Promise<void> {
  const { agent, writer } = context;
  const state = writer.state;
  const uses = new Map<string, ToolUseBlock>(messageToolUses(state).map((use) => [use.id, use]));
  const pipeline = pipelineOf(context.dependencies);
  const available = [...agent.tools.keys()];
  const flow = flowContextFor(agent, state);
  const events: EventBody[] = [];
  for (const callId of callIds) {
    const call = state.toolCalls.get(callId);
    const use = uses.get(callId);
    if (call === undefined || use === undefined) throw new KeelError('internal', `Call ${callId} has no request in session ${state.sessionId}.`);
    const tool = agent.tools.get(use.name);
    const started = performance.now();
    const decided = await pipeline.decide({
      sessionId: state.sessionId,
      turn: state.turn,
      idempotencyKey: call.request.idempotencyKey,
      agent: { name: agent.name, scopes: agent.scopes, redaction: agent.redaction },
      call: use,
      tool,
      availableTools: available,
      signal: context.signal,
      ...(flow === undefined ? {} : { flow }),
    });
    // Layer 4: the agent's verifier, when it has one, checks a call the pipeline allowed; its decision is journaled first.
    const { events: checks, verdict } = await verifyCall(context, use, tool, decided);
    events.push(...checks);
    events.push({ type: 'tool-decision', turn: state.turn, callId, tool: use.name, decision: verdict.decision, rule: verdict.rule, reason: verdict.reason, risk: tool?.risk ?? 'unknown' });
    if (verdict.decision === 'deny') {
      const error = verdict.error ?? new KeelError('tool-denied', verdict.reason);
      events.push({ type: 'tool-error', turn: state.turn, callId, tool: use.name, error: error.toRecord(), latencyMs: elapsedSince(started) });
    }
  }
  await writer.append(events);
}

/**
 * The execute phase for calls that were allowed or approved, at most `toolCalls.concurrency` at a time, each outcome
 * journaled as soon as it is known. When the caller cancels, calls not started yet are journaled as not run, and calls
 * in flight get `toolCalls.cancelGraceMs` to settle (see `settleAfterCancel`): the step returns only once every
 * call it started has its outcome journaled, so the session's end is never written while a call may still write.
 */
export async function runTools(context: LoopContext, callIds: readonly string[]): Promise<void> {
  const state = context.writer.state;
  const [only] = callIds;
  if (callIds.length === 1 && only !== undefined) {
    // One call has no siblings to stop: it runs under the session's signal, without a controller and a link of its
    // own (the tool itself still gets a linked signal from the pipeline, released when it returns).
    await runCall(context, state, only, { signal: context.signal, isLastOfStep: () => true });
    return;
  }
  // When one call's outcome cannot be journaled the run fails: its sibling calls are stopped too, so nothing keeps
  // writing for a run whose caller has been told it failed (a resume must find the journal still).
  const siblings = new AbortController();
  // Linked and released rather than AbortSignal.any, which Node keeps alive while it has listeners and has not aborted.
  const linked = linkedSignal([context.signal, siblings.signal]);
  let unfinished = callIds.length;
  const run: CallRun = { signal: linked.signal, isLastOfStep: () => unfinished === 1 };
  try {
    const results = await runBounded(callIds, context.agent.toolCalls.concurrency, async (callId) => {
      try {
        await runCall(context, state, callId, run);
      } catch (error) {
        siblings.abort(error);
        throw error;
      } finally {
        unfinished -= 1;
      }
    });
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  } finally {
    linked.dispose();
  }
}

/** How one call of a step runs: under which signal, and whether it is the last of its step still to finish. */
interface CallRun {
  readonly signal: AbortSignal;
  readonly isLastOfStep: () => boolean;
}

async function runCall(context: LoopContext, state: SessionState, callId: string, run: CallRun): Promise<void> {
  const { signal } = run;
  const { agent } = context;
  const call = state.toolCalls.get(callId);
  if (call === undefined) throw new KeelError('internal', `Call ${callId} has no request in session ${state.sessionId}.`);
  const fail = (error: KeelError, latencyMs = 0): Promise<unknown> => journalOutcome(context, call, { ok: false, error, latencyMs }, false);
  if (signal.aborted) {
    // Checked before the tool is called: a call that never started certainly did not run.
    await fail(new KeelError('cancelled', `Not run: the session was stopped before this call started (${toKeelError(signal.reason).message}).`));
    return;
  }
  const tool = agent.tools.get(call.request.tool);
  if (tool === undefined) {
    await fail(new KeelError('tool-unknown', `There is no tool named "${call.request.tool}".`));
    return;
  }
  // Re-validated here: an approver's edit, or a journal written before decisions existed, has not been through the schema.
  const validated = validateInput(tool, effectiveInput(call));
  if ('error' in validated) {
    await fail(validated.error);
    return;
  }
  // A subagent tool executes its child session; the child-start is journaled here, before it runs.
  const bound = await bindSubagentCall(context, call, tool, validated.input);
  const execution = new ToolExecution(bound, timeoutOf(bound, agent.toolCalls.defaultTimeoutMs));
  const decision = call.decision ?? { decision: 'allow' as const, rule: 'legacy', reason: 'Requested before the pipeline journaled decisions.' };
  const invocation: Invocation = {
    sessionId: state.sessionId,
    turn: state.turn,
    callId,
    idempotencyKey: call.request.idempotencyKey,
    agent: { name: agent.name, scopes: agent.scopes, redaction: agent.redaction },
    tool: execution.tool,
    input: validated.input,
    signal,
    decision: { decision: decision.decision, rule: decision.rule, reason: decision.reason },
    approval: call.approval === null ? null : { approver: call.approval.approver, edited: call.approval.editedInput !== undefined },
    reader: sessionReader(context, { turn: call.request.turn, callId }, signal),
    sampler: sessionSampler(context, { turn: call.request.turn, callId }, signal),
  };
  const started = performance.now();
  let outcome = await execute(context, invocation);
  // The call's own signal: the caller's cancellation, or a sibling whose outcome could not be journaled stopping it.
  if (!outcome.ok && signal.aborted && execution.started) outcome = await settleAfterCancel(context, invocation, execution, outcome, started);
  const waitingInChild = outcome.ok ? null : suspendedChildApprovals(outcome.error);
  if (waitingInChild !== null) {
    // The child waits for a person: the call stays open (no outcome), and this session waits with it.
    context.suspendedChildren.set(callId, waitingInChild);
    return;
  }
  // The last call of a step to finish is followed at once by the next append (the next turn's request, the session's
  // end); an earlier one is written alone, so the journal shows it while its siblings still run.
  await journalOutcome(context, call, outcome, run.isLastOfStep() && isRecordedOutcome(outcome));
}

/** A tool without a usable timeout of its own gets the agent's default: no call waits forever. */
export function timeoutOf(tool: ToolDefinition, defaultTimeoutMs: number): number {
  return Number.isFinite(tool.timeoutMs) && tool.timeoutMs > 0 ? tool.timeoutMs : defaultTimeoutMs;
}

async function execute(context: LoopContext, invocation: Invocation): Promise<Outcome> {
  try {
    return await pipelineOf(context.dependencies).execute(invocation);
  } catch (error) {
    // The tool's own failures come back as outcomes; a throw is a stage's infrastructure failure (the audit log or
    // the idempotency store could not be written). Journaling it as the call's outcome would record a call that may
    // have run as failed, for good: the run fails instead, and a resume runs the call again with the same key.
    throw toKeelError(error, 'storage-failure');
  }
}

/**
 * The outcome of a call a stop caught in flight (the caller's cancellation, or a sibling call whose outcome could not
 * be journaled, which fails the run). The tool saw the abort, but it may ignore it or
 * have applied its effect before it looked, so `cancelled` would be a claim the loop cannot make. It waits up to
 * `toolCalls.cancelGraceMs` for the tool itself:
 * - completed: the real result is journaled (run through the pipeline's stages, so it is sanitized and recorded
 *   under its idempotency key like any result);
 * - failed: the tool reported that it stopped, and its cancellation is journaled;
 * - still running: the outcome is journaled as `tool-outcome-unknown`. Such a call counts as one that may have run:
 *   the saga compensates it when its tool can (compensations are keyed, so undoing an effect that never happened is
 *   harmless), and the session's end names it for a person.
 *
 * Exactly-once: an effect must neither be lost nor happen twice. Running the call again could apply it twice (the
 * tool may not deduplicate on its idempotency key); calling it cancelled could lose it. So a journaled unknown outcome
 * is final for the loop: a resume treats the call as answered and never runs it again by itself; only a person, who
 * can check the effect at the far end by its idempotency key, decides whether to ask for it again. (A process that
 * dies within the grace period leaves the call without an outcome, the crash case: a resume runs it again with the
 * same idempotency key, and the idempotency stage returns the recorded outcome if the first run completed.)
 */
async function settleAfterCancel(context: LoopContext, invocation: Invocation, execution: ToolExecution, cancelled: Outcome, started: number): Promise<Outcome> {
  const graceMs = context.agent.toolCalls.cancelGraceMs;
  const settlement = await execution.settleWithin(graceMs);
  if (settlement === null) {
    const error = new KeelError(
      outcomeUnknownCode,
      `"${invocation.tool.name}" was still running ${graceMs} ms after it was asked to stop (${toKeelError(invocation.signal.reason).message}): it may have applied its effect, and its outcome is unknown. Check its effect (idempotency key ${invocation.idempotencyKey}) before asking for it again.`,
      { details: { idempotencyKey: invocation.idempotencyKey, graceMs } },
    );
    return { ok: false, error, latencyMs: elapsedSince(started) };
  }
  if (!settlement.ok) return cancelled;
  // The late result goes through the stages with a signal of its own: the session's is aborted.
  return execute(context, { ...invocation, tool: replayOf(invocation.tool, settlement.value), signal: new AbortController().signal });
}

/** Journals a call's outcome; `hold` when its idempotency record has it (see `SessionWriter.append`). */
async function journalOutcome(context: LoopContext, call: ToolCallState, outcome: Outcome, hold: boolean): Promise<void> {
  const { writer, dependencies } = context;
  const { turn, callId, tool } = call.request;
  const definition = context.agent.tools.get(tool);
  const provenance = definition === undefined ? 'tool' : outputProvenanceOf(definition);
  if (!outcome.ok) {
    // A tool's own failure message is its text (a server may echo what it was sent); Keel's messages are not scanned.
    const record = outcome.error.toRecord();
    const scannedError = outcome.error.code === 'tool-failed' ? await scanUntrustedItem({ policy: context.agent.injection, blobs: dependencies.blobs, turn, callId, tool, provenance, text: record.message }) : { text: record.message, event: null };
    await writer.append([...(scannedError.event === null ? [] : [scannedError.event]), { type: 'tool-error', turn, callId, tool, error: { ...record, message: scannedError.text }, latencyMs: outcome.latencyMs }], { hold });
    return;
  }
  // The result enters the context here: scanned once, and the decision journaled in the same append as the result.
  const scanned = await scanUntrustedItem({ policy: context.agent.injection, blobs: dependencies.blobs, turn, callId, tool, provenance, text: outcome.output });
  let output = scanned.text;
  let outputBlob = outcome.fullOutputBlob;
  if (output.length > inlineOutputLimit) {
    outputBlob ??= await dependencies.blobs.put(output);
    output = `${output.slice(0, inlineOutputLimit)}\n[output truncated: ${scanned.text.length} characters in total, ${inlineOutputLimit} shown; full text kept as blob ${outputBlob}]`;
  }
  const redactions = sanitizationOf(outcome)?.redactionLocations ?? [];
  await writer.append([
    ...(scanned.event === null ? [] : [scanned.event]),
    { type: 'tool-result', turn, callId, tool, output, latencyMs: outcome.latencyMs, ...(outputBlob === undefined ? {} : { outputBlob }), ...(redactions.length === 0 ? {} : { redactions }), ...(provenance === 'tool' ? {} : { provenance }) },
  ], { hold });
}

function elapsedSince(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
