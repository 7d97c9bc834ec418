import { z } from 'zod';
import { KeelError } from '../errors/index.ts';
import type { BlobStore } from '../spec/journal.ts';
import type { ModelResponse } from '../spec/model.ts';
import { stopReasons } from '../spec/stop-reason.ts';
import { sha256 } from '../util/index.ts';

const count = z.number().int().nonnegative();

const contentBlock = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.unknown() }),
  z.object({ type: z.literal('tool_result'), toolUseId: z.string(), content: z.string(), isError: z.boolean() }),
  z.object({ type: z.literal('thinking'), thinking: z.string() }),
  z.object({ type: z.literal('hosted_tool'), provider: z.string(), kind: z.string(), data: z.record(z.string(), z.unknown()) }),
]);

/** What the replay hands the agent must be a model response; the stored value is returned as it is, never reshaped. */
const modelResponse = z.object({
  id: z.string(),
  model: z.string(),
  content: z.array(contentBlock),
  stopReason: z.enum(stopReasons as [string, ...string[]]),
  providerStopReason: z.string(),
  usage: z.object({ inputTokens: count, outputTokens: count, cacheReadTokens: count, cacheWriteTokens: count }),
});

export interface RecordedCall {
  /** The case run (`case#repetition`). */
  readonly scope: string;
  readonly label: string;
  /** 1 for the scope's first recorded call of any model. */
  readonly call: number;
  readonly responseHash: string;
}

function altered(recorded: RecordedCall, why: string): KeelError {
  const { scope, label, call, responseHash } = recorded;
  return new KeelError(
    'cassette-mismatch',
    `Replay of case run ${scope}: recorded call ${call} (model ${label}) cannot be replayed: its response blob ${responseHash.slice(0, 12)} ${why}. The cassette was altered or damaged after recording, so this replay would not reproduce the recorded run; record the suite again with --record.`,
    { details: { scope, label, call, responseHash } },
  );
}

/**
 * The recorded response of one call, checked before the agent sees it: the blob's content must still hash to the
 * hash it was recorded under (a blob store hands back whatever its row holds), and must be a model response. A
 * recording edited by hand would otherwise replay as if the model had said it.
 */
export async function recordedResponse(blobs: BlobStore, recorded: RecordedCall): Promise<ModelResponse> {
  const stored = await blobs.get(recorded.responseHash);
  if (stored === undefined) throw altered(recorded, 'is missing from the blob store');
  if (sha256(stored) !== recorded.responseHash) throw altered(recorded, `no longer has that hash (its content hashes to ${sha256(stored).slice(0, 12)})`);
  let value: unknown;
  try {
    value = JSON.parse(stored);
  } catch (error) {
    throw altered(recorded, `is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const shape = modelResponse.safeParse(value);
  if (!shape.success) {
    const issue = shape.error.issues[0];
    throw altered(recorded, `is not a model response (${issue === undefined ? 'invalid' : `${issue.path.join('.') || '(root)'}: ${issue.message}`})`);
  }
  return value as ModelResponse;
}
