import { KeelError, toKeelError } from '../errors/index.ts';
import { createRedactor } from '../security/redaction.ts';
import type { Clock } from '../spec/clock.ts';
import type { ModelRequestEvent, SessionEvent } from '../spec/events.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import type { ContentBlock } from '../spec/message.ts';
import type { BlobEraser, CallLogEntry, CallLogPurge, CallLogStore } from '../store/index.ts';
import { canonicalJson, systemClock } from '../util/index.ts';
import { purgedBlobMarker, readPurgedBlobMarker, readSessionEvents } from './replay.ts';

/**
 * The LLM call logging policy:
 * - token counts always (they are in the journal's `model-response` too) — in the sampled log, one entry per call;
 * - the prompt and response text in the sampled log only for a sampled share of calls (`sampleRate`), redacted;
 * - the full, unredacted prompt and response only in the access-controlled audit log (an `audit` store,
 *   best its own SQLite file, which `createSqliteCallLog({ path })` creates with mode 0600);
 * - retention: texts older than `retentionDays` are erased by `purge()`; rows, counts and hashes stay.
 *
 * The journal never holds prompt text, only `requestHash`; the assembled requests live in the blob
 * store because replay needs them. Purging the call logs leaves those blobs alone. Where the
 * request blobs must go too, `purgeRequestBlobs` erases those that no journal event newer than the
 * cutoff references, replacing their content with a marker, so that replay reports "purged by the
 * retention policy" instead of `journal-corrupt`. The journal itself is never changed: it still
 * validates, folds and resumes (a resume assembles a new request and does not need the old blobs).
 */

export const dayMs = 86_400_000;

/** One model call as the policy sees it: a log entry's facts, with the exact request (null when no longer available) and the serialised response. */
export type ModelCallRecord = Omit<CallLogEntry, 'response' | 'redacted'> & { readonly response: string };

export interface CallLogPolicyOptions {
  /** Share of calls whose redacted text goes to the sampled log, 0 to 1. Defaults to 0: token counts only. */
  readonly sampleRate?: number;
  /** PII redaction for sampled texts. Defaults to Keel's redactor (secrets, e-mail addresses, card numbers, phones, …). */
  readonly redact?: (text: string) => string;
  /** Texts older than this are purged. Defaults to 30. */
  readonly retentionDays?: number;
  /** Draws in [0, 1) for sampling; inject one in tests. */
  readonly random?: () => number;
  readonly clock?: Pick<Clock, 'now'>;
  /** The ordinary log (channel `sampled`): token counts always, redacted texts when sampled. */
  readonly sampledLog?: CallLogStore;
  /** The access-controlled log (channel `audit`): full texts of every call. */
  readonly auditLog?: CallLogStore;
}

export interface CallLogDecision {
  readonly sampled: boolean;
  /** What goes to the sampled log: token counts, and redacted texts when sampled. */
  readonly sampledEntry: CallLogEntry;
  /** What goes to the audit log: the full texts. */
  readonly auditEntry: CallLogEntry;
}

export interface CallLogPurgeReport {
  readonly cutoff: number;
  readonly sampled: CallLogPurge | null;
  readonly audit: CallLogPurge | null;
}

export interface RequestBlobPurge {
  readonly cutoff: number;
  /** Hashes whose content was erased now. */
  readonly purged: readonly string[];
  /** Request blobs still referenced by an event at or after the cutoff (content addressing shares them), kept. */
  readonly stillReferenced: number;
}

export interface CallLogObserver {
  /** Feed every journal event (for example from `onUpdate`); a `model-response` is logged with its request. Never throws. */
  observe(event: SessionEvent): void;
  /** Waits for the writes started so far; rejects with the first failure among them. */
  flush(): Promise<void>;
}

export interface CallLogPolicy {
  readonly sampleRate: number;
  readonly retentionDays: number;
  /** Decides what one call logs; draws one random number. */
  decide(call: ModelCallRecord): CallLogDecision;
  /** Decides and writes to the configured logs. */
  record(call: ModelCallRecord): Promise<CallLogDecision>;
  /** Logs every answered model call of a session from its journal and blobs (calls logged before are skipped by the stores). */
  recordSession(journal: Journal, blobs: BlobStore, sessionId: string): Promise<number>;
  /** Logs calls as a live session journals them. */
  observer(blobs: BlobStore): CallLogObserver;
  /** `now - retentionDays`, epoch ms. */
  cutoff(): number;
  /** Erases the texts of log entries older than the retention period. */
  purge(): Promise<CallLogPurgeReport>;
  /** Erases request blobs that no event newer than the retention period references; see the module comment. */
  purgeRequestBlobs(journal: Journal, blobs: BlobStore, eraser: BlobEraser): Promise<RequestBlobPurge>;
}

export function createCallLogPolicy(options: CallLogPolicyOptions = {}): CallLogPolicy {
  const sampleRate = options.sampleRate ?? 0;
  if (!(sampleRate >= 0 && sampleRate <= 1)) throw new KeelError('invalid-config', `The call log sampleRate must be between 0 and 1, got ${sampleRate}.`);
  const retentionDays = options.retentionDays ?? 30;
  if (!(retentionDays > 0)) throw new KeelError('invalid-config', `The call log retentionDays must be a positive number of days, got ${retentionDays}.`);
  const { sampledLog, auditLog } = options;
  if (sampledLog !== undefined && sampledLog.channel !== 'sampled') throw new KeelError('invalid-config', `The sampled call log must be a store of channel "sampled", not "${sampledLog.channel}".`);
  if (auditLog !== undefined && auditLog.channel !== 'audit') throw new KeelError('invalid-config', `The audit call log must be a store of channel "audit", not "${auditLog.channel}": full prompts go only to the access-controlled log.`);
  const redact = options.redact ?? defaultRedact();
  const random = options.random ?? Math.random;
  const clock = options.clock ?? systemClock;
  const cutoff = (): number => clock.now() - retentionDays * dayMs;

  function decide(call: ModelCallRecord): CallLogDecision {
    const sampled = sampleRate > 0 && random() < sampleRate;
    const base = {
      sessionId: call.sessionId,
      turn: call.turn,
      requestHash: call.requestHash,
      responseId: call.responseId,
      at: call.at,
      provider: call.provider,
      model: call.model,
      usage: call.usage,
      costUsd: call.costUsd,
    };
    return {
      sampled,
      sampledEntry: sampled
        ? { ...base, prompt: call.prompt === null ? null : redact(call.prompt), response: redact(call.response), redacted: true }
        : { ...base, prompt: null, response: null, redacted: false },
      auditEntry: { ...base, prompt: call.prompt, response: call.response, redacted: false },
    };
  }

  async function record(call: ModelCallRecord): Promise<CallLogDecision> {
    const decision = decide(call);
    await Promise.all([sampledLog?.record(decision.sampledEntry), auditLog?.record(decision.auditEntry)]);
    return decision;
  }

  return {
    sampleRate,
    retentionDays,
    decide,
    record,
    async recordSession(journal, blobs, sessionId) {
      const events = await readSessionEvents(journal, sessionId);
      let recorded = 0;
      const requests = new Map<number, ModelRequestEvent>();
      for (const event of events) {
        if (event.type === 'model-request') requests.set(event.turn, event);
        if (event.type !== 'model-response') continue;
        const request = requests.get(event.turn);
        if (request === undefined) continue;
        await record(await callRecord(blobs, request, event));
        recorded += 1;
      }
      return recorded;
    },
    observer(blobs) {
      const requests = new Map<string, ModelRequestEvent>();
      const pending = new Set<Promise<void>>();
      const failures: unknown[] = [];
      return {
        observe(event) {
          const key = `${event.sessionId}\u0000${'turn' in event ? event.turn : 0}`;
          if (event.type === 'model-request') requests.set(key, event);
          if (event.type !== 'model-response') return;
          const request = requests.get(key);
          if (request === undefined) return;
          requests.delete(key);
          const write = (async () => {
            await record(await callRecord(blobs, request, event));
          })().catch((error: unknown) => {
            failures.push(error);
          });
          pending.add(write);
          void write.finally(() => pending.delete(write));
        },
        async flush() {
          await Promise.all([...pending]);
          const failure = failures.shift();
          if (failure !== undefined) throw toKeelError(failure);
        },
      };
    },
    cutoff,
    async purge() {
      const before = cutoff();
      const [sampled, audit] = await Promise.all([sampledLog?.purgeOlderThan(before) ?? null, auditLog?.purgeOlderThan(before) ?? null]);
      return { cutoff: before, sampled, audit };
    },
    async purgeRequestBlobs(journal, blobs, eraser) {
      return purgeRequestBlobs({ journal, blobs, eraser, before: cutoff(), now: clock.now(), retentionDays });
    },
  };
}

async function callRecord(blobs: BlobStore, request: ModelRequestEvent, response: Extract<SessionEvent, { type: 'model-response' }>): Promise<ModelCallRecord> {
  const stored = await blobs.get(request.requestHash);
  const prompt = stored === undefined || readPurgedBlobMarker(stored) !== null ? null : stored;
  return {
    sessionId: response.sessionId,
    turn: response.turn,
    requestHash: request.requestHash,
    responseId: response.responseId,
    at: response.at,
    provider: request.provider,
    model: response.model,
    usage: response.usage,
    costUsd: response.costUsd,
    prompt,
    response: responseText(response.content),
  };
}

/** The response as logged: its content blocks in canonical JSON, lossless. */
export function responseText(content: readonly ContentBlock[]): string {
  return canonicalJson(content);
}

function defaultRedact(): (text: string) => string {
  const redactor = createRedactor();
  return (text) => redactor.redactText(text).text;
}

export interface PurgeRequestBlobsOptions {
  readonly journal: Journal;
  readonly blobs: BlobStore;
  readonly eraser: BlobEraser;
  /** Request blobs whose newest reference is older than this (epoch ms) are erased. */
  readonly before: number;
  /** Stamped in the marker left behind. */
  readonly now: number;
  readonly retentionDays?: number;
}

/**
 * Erases the request blobs (the `requestHash` of `context-assemble` and `model-request` events) whose every
 * reference, across all sessions of the journal, is older than `before`. The content is replaced by a marker
 * under the same hash, so replay says "purged by the retention policy" with the date. Tool-result blobs are
 * not touched. Reads the whole journal: run it as a periodic job, not per request.
 */
export async function purgeRequestBlobs(options: PurgeRequestBlobsOptions): Promise<RequestBlobPurge> {
  const newestReference = new Map<string, number>();
  for (const session of await options.journal.listSessions()) {
    for await (const event of options.journal.read(session.sessionId)) {
      if (event.type !== 'context-assemble' && event.type !== 'model-request') continue;
      newestReference.set(event.requestHash, Math.max(newestReference.get(event.requestHash) ?? Number.NEGATIVE_INFINITY, event.at));
    }
  }
  const marker = purgedBlobMarker({ at: options.now, retentionDays: options.retentionDays ?? null, reason: 'retention' });
  const purged: string[] = [];
  let stillReferenced = 0;
  for (const [hash, newest] of newestReference) {
    if (newest >= options.before) {
      stillReferenced += 1;
      continue;
    }
    const content = await options.blobs.get(hash);
    if (content === undefined || readPurgedBlobMarker(content) !== null) continue;
    if (await options.eraser.erase(hash, marker)) purged.push(hash);
  }
  return { cutoff: options.before, purged, stillReferenced };
}
