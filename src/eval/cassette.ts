import { AsyncLocalStorage } from 'node:async_hooks';
import { isKeelError, KeelError } from '../errors/index.ts';
import type { BlobStore } from '../spec/journal.ts';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../spec/model.ts';
import { canonicalJson, sha256 } from '../util/index.ts';
import { recordedResponse } from './recorded-response.ts';
import { diffLines, prettyRequest, sharedLeadingLines } from './request-diff.ts';

/**
 * Cassettes: every model call of an eval run, the request's hash and the response, so the run can be replayed
 * offline bit for bit. A call belongs to the case run it was made for (its scope, `case#repetition`), carried by an
 * AsyncLocalStorage around the case: sessions, child sessions and judges of a case all record into its scope, and
 * cases running side by side never take each other's answers.
 */
export interface CassetteEntry {
  readonly scope: string;
  /** Order of recording in the run, from 0. */
  readonly position: number;
  /** SHA-256 of the normalized request text, which is stored as a blob under that same hash. */
  readonly requestHash: string;
  readonly responseHash: string;
  /** The model as the run named it (a spec, a registered name, or `provider:modelId`). */
  readonly label: string;
  readonly provider: string;
  readonly modelId: string;
}

const scopeStorage = new AsyncLocalStorage<string>();

/** Runs `work` with every model call inside it recorded to (or replayed from) `scope`. */
export function inCassetteScope<T>(scope: string, work: () => Promise<T>): Promise<T> {
  return scopeStorage.run(scope, work);
}

function currentScope(label: string): string {
  const scope = scopeStorage.getStore();
  if (scope === undefined) throw new KeelError('internal', `A model call through the eval cassette (${label}) was made outside any case.`);
  return scope;
}

/**
 * The request as the cassette keys it: canonical JSON with the session's random context boundary replaced, since
 * a fresh session draws a new one and nothing else about the request changes with it.
 */
export function normalizedRequest(request: ModelRequest): string {
  return canonicalJson(request).replace(/keel-data-[0-9a-f]{8,64}/g, 'keel-data-BOUNDARY');
}

export interface CassetteRecorder {
  /** The model with every successful call recorded under `label`. */
  wrap(model: Model, label: string): Model;
}

/** Records each answered call: request and response go to the blob store, the entry to `onEntry` (the run store). */
export function createCassetteRecorder(blobs: BlobStore, onEntry: (entry: CassetteEntry) => void): CassetteRecorder {
  let position = 0;
  const record = async (label: string, model: Model, scope: string, request: ModelRequest, response: ModelResponse): Promise<void> => {
    const requestHash = await blobs.put(normalizedRequest(request));
    const responseHash = await blobs.put(canonicalJson(response));
    onEntry({ scope, position: position++, requestHash, responseHash, label, provider: model.provider, modelId: model.modelId });
  };
  return {
    wrap(model, label) {
      return {
        provider: model.provider,
        modelId: model.modelId,
        ...(model.countTokens === undefined ? {} : { countTokens: model.countTokens.bind(model) }),
        async generate(request, signal) {
          const scope = currentScope(label);
          const response = await model.generate(request, signal);
          await record(label, model, scope, request, response);
          return response;
        },
        async *stream(request, signal) {
          const scope = currentScope(label);
          for await (const part of model.stream(request, signal)) {
            if (part.type === 'finish') await record(label, model, scope, request, part.response);
            yield part;
          }
        },
      };
    },
  };
}

interface Slot {
  readonly entry: CassetteEntry;
  used: boolean;
}

export interface CassettePlayer {
  /** A model that answers from the cassette only: it never reaches a provider. */
  model(label: string, fallback: { readonly provider: string; readonly modelId: string }): Model;
  /** Every call the cassette could not answer (a request it does not hold, a recorded response altered), in order. */
  readonly mismatches: readonly KeelError[];
  /** Recorded calls a scope never asked for again (the replay made fewer calls). */
  unused(scope: string): number;
}

/** Most recorded requests compared with a refused one when looking for its counterpart. */
const maxCompared = 64;

/**
 * Replays a recorded run. A call is answered by an unused entry of its scope with the same request hash (in recorded
 * order). A call with no such entry fails with `cassette-mismatch`: its message shows the diff between the request
 * sent now and the recorded request of the scope that shares the most leading lines with it.
 */
export function createCassettePlayer(entries: readonly CassetteEntry[], blobs: BlobStore): CassettePlayer {
  const byScope = new Map<string, Slot[]>();
  for (const entry of [...entries].sort((a, b) => a.position - b.position)) {
    const slots = byScope.get(entry.scope) ?? [];
    slots.push({ entry, used: false });
    byScope.set(entry.scope, slots);
  }
  const mismatches: KeelError[] = [];

  const answer = async (label: string, request: ModelRequest): Promise<ModelResponse> => {
    const scope = currentScope(label);
    const text = normalizedRequest(request);
    const hash = sha256(text);
    const slots = byScope.get(scope) ?? [];
    const slot = slots.find((candidate) => !candidate.used && candidate.entry.requestHash === hash && candidate.entry.label === label);
    if (slot === undefined) {
      const error = await mismatch({ scope, label, text, hash, slots, blobs });
      mismatches.push(error);
      throw error;
    }
    slot.used = true;
    try {
      return await recordedResponse(blobs, { scope, label, call: slots.indexOf(slot) + 1, responseHash: slot.entry.responseHash });
    } catch (thrown) {
      // Kept with the mismatches, so the run's error names the altered call rather than the calls it left unasked.
      if (isKeelError(thrown)) mismatches.push(thrown);
      throw thrown;
    }
  };

  return {
    mismatches,
    unused: (scope) => (byScope.get(scope) ?? []).filter((slot) => !slot.used).length,
    model(label, fallback) {
      const recorded = entries.find((entry) => entry.label === label);
      return {
        provider: recorded?.provider ?? fallback.provider,
        modelId: recorded?.modelId ?? fallback.modelId,
        generate: (request) => answer(label, request),
        async *stream(request): AsyncGenerator<ModelStreamPart> {
          yield* partsOf(await answer(label, request));
        },
      };
    },
  };
}

interface MismatchContext {
  readonly scope: string;
  readonly label: string;
  readonly text: string;
  readonly hash: string;
  readonly slots: readonly Slot[];
  readonly blobs: BlobStore;
}

async function mismatch(context: MismatchContext): Promise<KeelError> {
  const { scope, label, text, hash, slots, blobs } = context;
  const candidates = slots.filter((slot) => slot.entry.label === label).slice(0, maxCompared);
  let closest: { readonly text: string; readonly entry: CassetteEntry; readonly shared: number } | null = null;
  const pretty = prettyRequest(text);
  for (const candidate of candidates) {
    const stored = await blobs.get(candidate.entry.requestHash);
    if (stored === undefined) continue;
    const recorded = prettyRequest(stored);
    const shared = sharedLeadingLines(recorded, pretty);
    // Unused entries win a tie: the call being replaced is most likely one not answered yet.
    if (closest === null || shared > closest.shared || (shared === closest.shared && !candidate.used && slots.find((slot) => slot.entry === closest?.entry)?.used === true)) closest = { text: recorded, entry: candidate.entry, shared };
  }
  const details = { scope, label, requestHash: hash, recordedHash: closest?.entry.requestHash ?? null };
  if (closest === null) {
    return new KeelError('cassette-mismatch', `Replay of case run ${scope}: the cassette holds no call of model ${label} for it, but the run sent one (request ${hash.slice(0, 12)}). Record the suite again with --record.`, { details });
  }
  const diff = diffLines(closest.text, pretty);
  return new KeelError(
    'cassette-mismatch',
    `Replay of case run ${scope}: the request sent to ${label} is not in the cassette (sent ${hash.slice(0, 12)}, closest recorded ${closest.entry.requestHash.slice(0, 12)}). The agent, its tools or the suite changed since the recording; record again with --record if the change is intended.\n--- recorded\n+++ sent now\n${diff}`,
    { details: { ...details, diff } },
  );
}

/** Stream parts that rebuild a recorded response, as a provider's stream would have delivered it. */
function* partsOf(response: ModelResponse): Generator<ModelStreamPart> {
  let index = 0;
  for (const block of response.content) {
    if (block.type === 'text' && block.text !== '') yield { type: 'text-delta', text: block.text };
    if (block.type === 'thinking') yield { type: 'thinking-delta', text: block.thinking };
    if (block.type === 'tool_use') {
      yield { type: 'tool-call-start', index, id: block.id, name: block.name };
      yield { type: 'tool-call-delta', index, argumentsDelta: JSON.stringify(block.input) };
      index += 1;
    }
  }
  yield { type: 'finish', response };
}
