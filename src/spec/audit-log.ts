import type { ToolDecision } from './events.ts';

/**
 * The tool-call audit log: the forensic record of who called what, with
 * which input, under which rule, with what result. Append-only and hash-chained, so an edited,
 * removed or reordered record is found by `verify`.
 */

export interface AuditFinding {
  readonly type: string;
  readonly count: number;
}

export interface AuditError {
  readonly code: string;
  readonly message: string;
}

/** One tool call's outcome, as the caller appends it. JSON values only: it is hashed as canonical JSON. */
export interface AuditEntry {
  readonly sessionId: string;
  readonly turn: number;
  readonly callId: string;
  readonly agent: string;
  readonly tool: string;
  /** The call's input, redacted before it gets here: the log keeps it for as long as the log is kept. */
  readonly input: unknown;
  readonly decision: ToolDecision;
  /** The rule that decided, for example `scope:orders:write`, `refund-limit`, `risk:irreversible`. */
  readonly rule: string;
  /** Who approved an `ask`; null when no person was asked. */
  readonly approver: string | null;
  /** Whether the approver changed the input; `input` is then what ran. */
  readonly inputEdited: boolean;
  /** SHA-256 hex of the output the model saw; null when the call produced none. */
  readonly resultDigest: string | null;
  readonly outputChars: number | null;
  /** Blob hash of the full (redacted) output when the model saw it truncated. */
  readonly outputBlob: string | null;
  readonly durationMs: number;
  readonly error: AuditError | null;
  /** What the sanitizer found in the output: redactions and injection detections, by type. */
  readonly findings: readonly AuditFinding[];
}

export interface AuditRecord extends AuditEntry {
  /** From 1, without gaps: one chain per log. */
  readonly seq: number;
  /** When the record was appended, epoch milliseconds. */
  readonly at: number;
  /** The hash of record `seq - 1`, or 64 zeros for the first record. */
  readonly previousHash: string;
  /** sha256(previousHash + canonicalJson(the record without `hash` and `signature`)). */
  readonly hash: string;
  /** Ed25519 signature of `hash` (base64), present when the log was written with a signing key. */
  readonly signature?: string;
}

/** The last record's position and hash. Copy it somewhere the log's writers cannot reach to detect a rewritten log. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

/** What to check a chain against besides itself: proofs kept where the log's writers cannot reach. */
export interface AuditVerifyOptions {
  /** Checks every record's signature; records without one fail, except those before `allowUnsignedBefore`. */
  readonly verifier?: { verify(hash: string, signature: string): boolean };
  /** Records with a smaller seq may be unsigned: the log was written without a key until then. Default 1. */
  readonly allowUnsignedBefore?: number;
  /** A head exported earlier (`keel audit head`): the chain must still contain it. */
  readonly expectHead?: AuditHead;
  /** Heads written outside the database over time; each must still be in the chain. */
  readonly checkpoints?: readonly AuditHead[];
}

export type AuditVerification =
  | { readonly ok: true; readonly records: number; readonly head: AuditHead; readonly signed?: number; readonly checkpointsMatched?: number }
  | { readonly ok: false; readonly firstBadSeq: number; readonly problem: string };

export interface AuditLog {
  append(entry: AuditEntry): Promise<AuditRecord>;
  /** Records from `fromSeq` (default 1) in order. */
  read(fromSeq?: number): AsyncIterable<AuditRecord>;
  readSession(sessionId: string): AsyncIterable<AuditRecord>;
  head(): Promise<AuditHead>;
  /** Walks the whole chain and names the first record that is missing, out of place, changed or not signed. */
  verify(options?: AuditVerifyOptions): Promise<AuditVerification>;
  close(): Promise<void>;
}
