import { KeelError, toKeelError } from '../errors/index.ts';
import { linkedSignal, sha256 } from '../util/index.ts';
import { createToolPipeline, validateInput } from '../tools/index.ts';
import type { ToolPipeline } from '../tools/index.ts';
import type { EventBody } from '../spec/events.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import type { AgentDefinition } from './define-agent.ts';
import type { LoopDependencies } from './loop-types.ts';
import { effectiveInput } from './session-state.ts';
import type { SessionState } from './session-state.ts';
import type { SessionWriter } from './session-writer.ts';

/** Tool output kept inline in the journal; anything longer is stored whole as a blob and cut here with a visible marker. */
export const inlineOutputLimit = 64 * 1024;

const defaultPipeline = createToolPipeline();

export function pipelineOf(dependencies: LoopDependencies): ToolPipeline {
  return dependencies.tools ?? defaultPipeline;
}

export function idempotencyKeyFor(sessionId: string, turn: number, callId: string): string {
  return `idem_${sha256(`${sessionId}\u0000${turn}\u0000${callId}`).slice(0, 40)}`;
}

export function toolRequest(state: SessionState, call: ToolUseBlock): EventBody {
  return { type: 'tool-request', turn: state.turn, callId: call.id, tool: call.name, input: call.input, idempotencyKey: idempotencyKeyFor(state.sessionId, state.turn, call.id) };
}

function toolUses(state: SessionState): Map<string, ToolUseBlock> {
  return new Map((state.response?.content ?? []).filter((block): block is ToolUseBlock => block.type === 'tool_use').map((use) => [use.id, use]));
}

/** The decide phase for each call: one `tool-decision` each, journaled together, with the error result of every denial. */
export async function decideTools(agent: AgentDefinition, dependencies: LoopDependencies, writer: SessionWriter, callIds: readonly string[], signal: AbortSignal): Promise<void> {
  const state = writer.state;
  const uses = toolUses(state);
  const pipeline = pipelineOf(dependencies);
  const available = [...agent.tools.keys()];
  const events: EventBody[] = [];
  for (const callId of callIds) {
    const call = state.toolCalls.get(callId);
    const use = uses.get(callId);
    if (call === undefined || use === undefined) throw new KeelError('internal', `Call ${callId} has no request in session ${state.sessionId}.`);
    const tool = agent.tools.get(use.name);
    const started = performance.now();
    const verdict = await pipeline.decide({
      sessionId: state.sessionId,
      turn: state.turn,
      idempotencyKey: call.request.idempotencyKey,
      agent: { name: agent.name, scopes: agent.scopes },
      call: use,
      tool,
      availableTools: available,
      signal,
    });
    events.push({ type: 'tool-decision', turn: state.turn, callId, tool: use.name, decision: verdict.decision, rule: verdict.rule, reason: verdict.reason, risk: tool?.risk ?? 'unknown' });
    if (verdict.decision === 'deny') {
      const error = verdict.error ?? new KeelError('tool-denied', verdict.reason);
      events.push({ type: 'tool-error', turn: state.turn, callId, tool: use.name, error: error.toRecord(), latencyMs: Math.round((performance.now() - started) * 1000) / 1000 });
    }
  }
  await writer.append(events);
}

/** The execute phase for calls that were allowed or approved; each outcome is journaled as soon as it is known. */
export async function runTools(agent: AgentDefinition, dependencies: LoopDependencies, writer: SessionWriter, callIds: readonly string[], signal: AbortSignal): Promise<void> {
  const state = writer.state;
  const pipeline = pipelineOf(dependencies);
  // When one call's outcome cannot be journaled the run fails: its sibling calls are stopped too, so nothing keeps
  // writing for a run whose caller has been told it failed (a resume must find the journal still).
  const siblings = new AbortController();
  // Linked and released rather than AbortSignal.any, which Node keeps alive while it has listeners and has not aborted.
  const linked = linkedSignal([signal, siblings.signal]);
  const callSignal = linked.signal;
  const results = await Promise.allSettled(
    callIds.map(async (callId) => {
      const call = state.toolCalls.get(callId);
      if (call === undefined) throw new KeelError('internal', `Call ${callId} has no request in session ${state.sessionId}.`);
      const tool = agent.tools.get(call.request.tool);
      const fail = (error: KeelError, latencyMs = 0): Promise<unknown> =>
        writer.append([{ type: 'tool-error', turn: state.turn, callId, tool: call.request.tool, error: error.toRecord(), latencyMs }]);
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
      const decision = call.decision ?? { decision: 'allow' as const, rule: 'legacy', reason: 'Requested before the pipeline journaled decisions.' };
      let outcome;
      try {
        outcome = await pipeline.execute({
          sessionId: state.sessionId,
          turn: state.turn,
          callId,
          idempotencyKey: call.request.idempotencyKey,
          agent: { name: agent.name, scopes: agent.scopes },
          tool,
          input: validated.input,
          signal: callSignal,
          decision: { decision: decision.decision, rule: decision.rule, reason: decision.reason },
          approval: call.approval === null ? null : { approver: call.approval.approver, edited: call.approval.editedInput !== undefined },
        });
      } catch (error) {
        // The tool's own failures come back as outcomes; a throw is a stage's infrastructure failure (the audit log or
        // the idempotency store could not be written). Journaling it as the call's outcome would record a call that may
        // have run as failed, for good: the run fails instead, and a resume runs the call again with the same key.
        throw toKeelError(error, 'storage-failure');
      }
      if (outcome.ok) {
        let output = outcome.output;
        let outputBlob = outcome.fullOutputBlob;
        if (output.length > inlineOutputLimit) {
          outputBlob ??= await dependencies.blobs.put(output);
          output = `${output.slice(0, inlineOutputLimit)}\n[output truncated: ${outcome.output.length} characters in total, ${inlineOutputLimit} shown; full text kept as blob ${outputBlob}]`;
        }
        await writer.append([{ type: 'tool-result', turn: state.turn, callId, tool: tool.name, output, latencyMs: outcome.latencyMs, ...(outputBlob === undefined ? {} : { outputBlob }) }]);
      } else {
        await fail(outcome.error, outcome.latencyMs);
      }
    }).map((call) =>
      call.catch((error: unknown) => {
        siblings.abort(error);
        throw error;
      }),
    ),
  );
  linked.dispose();
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
