import type { Usage } from './usage.ts';

export type CallLogChannel = 'sampled' | 'audit';

export interface CallLogEntry {
  readonly sessionId: string;
  readonly turn: number;
  /** The journaled hash of the request (its blob in the blob store). */
  readonly requestHash: string;
  readonly responseId: string;
  /** When the response arrived (the `model-response` event's time), epoch ms; retention counts from it. */
  readonly at: number;
  readonly provider: string;
  readonly model: string;
  readonly usage: Usage;
  readonly costUsd: number | null;
  /** Null when the call was not sampled, or its text was purged. */
  readonly prompt: string | null;
  readonly response: string | null;
  /** Whether `prompt` and `response` went through PII redaction. */
  readonly redacted: boolean;
}

export interface StoredCallLogEntry extends CallLogEntry {
  /** When retention erased the texts, epoch ms; null while they are kept. */
  readonly purgedAt: number | null;
}

export interface CallLogPurge {
  /** Entries whose texts were erased now. */
  readonly purged: number;
}

export interface CallLogStore {
  readonly channel: CallLogChannel;
  /** Records one call; recording the same call (channel, session, turn, response id) again is a no-op that returns false. */
  record(entry: CallLogEntry): Promise<boolean>;
  /** A session's entries in turn order. */
  read(sessionId: string): Promise<readonly StoredCallLogEntry[]>;
  /** Erases the prompt and response of every entry answered before `cutoff` (epoch ms), keeping the rest of the row. */
  purgeOlderThan(cutoff: number): Promise<CallLogPurge>;
  close(): Promise<void>;
}
