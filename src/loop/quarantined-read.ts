import { toKeelError } from '../errors/index.ts';
import type { z } from 'zod';
import { fieldKinds, readUntrusted } from '../security/quarantine/index.ts';
import type { ReaderAttempt, UntrustedRead, UntrustedReader } from '../security/quarantine/index.ts';
import type { EventBody } from '../spec/events.ts';
import type { Usage } from '../spec/usage.ts';
import type { LoopContext } from './loop-context.ts';
import type { ModelCaller } from './loop-types.ts';
import { sideCallCost, sideModelCaller } from './side-model.ts';
import { addUsage, zeroUsage } from './session-state.ts';

/**
 * The quarantined reader a tool call gets in its context: `readUntrusted` on the session's model (or the one the tool
 * names), each read journaled as a `quarantined-read` in the call's turn, its usage and cost counted in the session's.
 */
export function sessionReader(context: LoopContext, call: { readonly turn: number; readonly callId: string }, signal: AbortSignal): UntrustedReader {
  let reads = 0;
  return async (content, schema, options = {}) => {
    const readIndex = reads;
    reads += 1;
    const contentHash = await context.dependencies.blobs.put(content);
    const provenance = options.provenance ?? 'tool';
    const replayed = replay(context, call.callId, readIndex, contentHash, schema);
    if (replayed !== null) return { ...replayed, provenance };
    const caller: ModelCaller = options.model === undefined ? context.dependencies.model : sideModelCaller(context, options.model, 'quarantined reader');
    const attempts: ReaderAttempt[] = [];
    const journal = async (outcome: { ok: true; read: UntrustedRead<unknown> } | { ok: false; error: unknown }): Promise<void> => {
      // A cancelled call may outlive its session's end; what it spent is not worth a write after it.
      if (signal.aborted || context.writer.state.end !== null) return;
      const usage = attempts.reduce<Usage>((sum, attempt) => addUsage(sum, attempt.response.usage), zeroUsage);
      const model = attempts[attempts.length - 1]?.response.model ?? caller.modelId;
      const event: EventBody = {
        type: 'quarantined-read',
        turn: call.turn,
        callId: call.callId,
        readIndex,
        provenance,
        model,
        attempts: attempts.length,
        contentHash,
        ok: outcome.ok,
        ...(outcome.ok ? { value: outcome.read.value } : { error: toKeelError(outcome.error).toRecord() }),
        usage,
        costUsd: sideCallCost(context, caller, usage, model),
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

/**
 * The read this call already journaled at this position, for the same content, when it succeeded and still parses:
 * a call run again after a crash gets the same fields without a second model call (and without a second charge).
 */
function replay<Schema extends z.ZodObject>(context: LoopContext, callId: string, readIndex: number, contentHash: string, schema: Schema): UntrustedRead<z.output<Schema>> | null {
  const recorded = context.writer.state.quarantinedReads.get(callId)?.find((event) => event.readIndex === readIndex);
  if (recorded === undefined || !recorded.ok || recorded.contentHash !== contentHash) return null;
  const parsed = schema.safeParse(recorded.value);
  if (!parsed.success) return null;
  return { value: parsed.data, trust: 'untrusted', provenance: recorded.provenance, fields: fieldKinds(schema), model: recorded.model, attempts: recorded.attempts, usage: recorded.usage };
}
