import { toKeelError } from '../errors/index.ts';
import type { EventBody } from '../spec/events.ts';
import type { ModelRequest, ModelResponse } from '../spec/model.ts';
import type { LoopContext } from './loop-context.ts';
import { sideCallCost } from './side-model.ts';
import { zeroUsage } from './session-state.ts';

export type SessionSampler = (request: ModelRequest, options: { readonly signal: AbortSignal; readonly purpose: string }) => Promise<ModelResponse>;

/**
 * The sampler a tool call gets in its context (`context.sample`): a tool-less model call on the session's model, each
 * journaled as a `side-call` in the call's turn, its usage and cost counted in the session's (so its budgets see it).
 */
export function sessionSampler(context: LoopContext, call: { readonly turn: number; readonly callId: string }, signal: AbortSignal): SessionSampler {
  const caller = context.dependencies.model;
  return async (request, options) => {
    const callSignal = AbortSignal.any([signal, options.signal]);
    const started = context.dependencies.clock.monotonic();
    const journal = async (outcome: { ok: true; response: ModelResponse; latencyMs: number } | { ok: false; error: unknown }): Promise<void> => {
      // A cancelled call may outlive its session's end; what it spent is not worth a write after it.
      if (signal.aborted || context.writer.state.end !== null) return;
      const usage = outcome.ok ? outcome.response.usage : zeroUsage;
      const model = outcome.ok ? outcome.response.model : caller.modelId;
      const event: EventBody = {
        type: 'side-call',
        turn: call.turn,
        callId: call.callId,
        purpose: options.purpose,
        model,
        usage,
        costUsd: sideCallCost(context, caller, usage, model),
        latencyMs: outcome.ok ? outcome.latencyMs : Math.round(context.dependencies.clock.monotonic() - started),
        ok: outcome.ok,
        ...(outcome.ok ? {} : { error: toKeelError(outcome.error).toRecord() }),
      };
      await context.writer.append([event]);
    };
    try {
      const result = await caller.call({ ...request, tools: [] }, { signal: callSignal, streaming: false });
      await journal({ ok: true, response: result.response, latencyMs: result.latencyMs });
      return result.response;
    } catch (error) {
      await journal({ ok: false, error });
      throw error;
    }
  };
}
