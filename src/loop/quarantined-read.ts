import { toKeelError } from '../errors/index.ts';
import { readUntrusted } from '../security/quarantine/index.ts';
import type { ReaderAttempt, UntrustedRead, UntrustedReader } from '../security/quarantine/index.ts';
import type { EventBody } from '../spec/events.ts';
import type { Usage } from '../spec/usage.ts';
import type { LoopContext } from './loop-context.ts';
import type { ModelCaller } from './loop-types.ts';
import { sideModelCaller } from './side-model.ts';
import { addUsage, zeroUsage } from './session-state.ts';

/**
 * The quarantined reader a tool call gets in its context: `readUntrusted` on the session's model (or the one the tool
 * names), each read journaled as a `quarantined-read` in the call's turn, its usage and cost counted in the session's.
 */
export function sessionReader(context: LoopContext, call: { readonly turn: number; readonly callId: string }, signal: AbortSignal): UntrustedReader {
  return async (content, schema, options = {}) => {
    const caller: ModelCaller = options.model === undefined ? context.dependencies.model : sideModelCaller(context, options.model, 'quarantined reader');
    const attempts: ReaderAttempt[] = [];
    const contentHash = await context.dependencies.blobs.put(content);
    const provenance = options.provenance ?? 'tool';
    const journal = async (outcome: { ok: true; read: UntrustedRead<unknown> } | { ok: false; error: unknown }): Promise<void> => {
      // A cancelled call may outlive its session's end; what it spent is not worth a write after it.
      if (signal.aborted || context.writer.state.end !== null) return;
      const usage = attempts.reduce<Usage>((sum, attempt) => addUsage(sum, attempt.response.usage), zeroUsage);
      const model = attempts[attempts.length - 1]?.response.model ?? caller.modelId;
      const event: EventBody = {
        type: 'quarantined-read',
        turn: call.turn,
        callId: call.callId,
        provenance,
        model,
        attempts: attempts.length,
        contentHash,
        ok: outcome.ok,
        ...(outcome.ok ? { value: outcome.read.value } : { error: toKeelError(outcome.error).toRecord() }),
        usage,
        costUsd: context.dependencies.price(usage, model),
        latencyMs: attempts.reduce((sum, attempt) => sum + attempt.latencyMs, 0),
      };
      await context.writer.append([event]);
    };
    try {
      const read = await readUntrusted(content, schema, {
        model: { modelId: caller.modelId, generate: async (request, callSignal) => (await caller.call(request, { signal: callSignal, streaming: false })).response },
        signal,
        provenance,
        onAttempt: (attempt) => attempts.push(attempt),
        ...(options.instructions === undefined ? {} : { instructions: options.instructions }),
        ...(options.maxOutputTokens === undefined ? {} : { maxOutputTokens: options.maxOutputTokens }),
        ...(options.maxContentChars === undefined ? {} : { maxContentChars: options.maxContentChars }),
      });
      await journal({ ok: true, read });
      return read;
    } catch (error) {
      await journal({ ok: false, error });
      throw error;
    }
  };
}
