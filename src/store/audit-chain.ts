import { KeelError } from '../errors/index.ts';
import { canonicalJson, mapJsonStrings, sha256 } from '../util/index.ts';
import type { AuditEntry, AuditHead, AuditRecord, AuditVerification, AuditVerifyOptions } from './audit-log.ts';
import { toWellFormedText } from './well-formed-text.ts';

/**
 * The hash chain of the audit log, pure so that every backend verifies the same way: each record
 * names the hash of the one before it, and its own hash covers its content and that link. Changing,
 * removing or reordering a record breaks the chain at that record. Removing records from the end is
 * found only against a head kept elsewhere (the SQLite log keeps one; copy it out for stronger proof).
 */

export const genesisHash = '0'.repeat(64);

const decisions = ['allow', 'deny', 'ask'];

/** A stored record that could not be turned back into an AuditRecord, so verification can name it. */
export interface UnreadableAuditRecord {
  readonly seq: number;
  readonly unreadable: string;
}

export function recordHash(record: Omit<AuditRecord, 'hash'> & { readonly hash?: string }): string {
  // The signature signs the hash, so it cannot be part of what is hashed.
  const { hash: _hash, signature: _signature, ...content } = record;
  return sha256(record.previousHash + canonicalJson(content));
}

/** Links an entry after `previous` (the head of the chain) and computes its hash. */
export function chainRecord(entry: AuditEntry, previous: AuditHead, at: number): AuditRecord {
  return linkNormalizedEntry(normalizeAuditEntry(entry), previous, at);
}

/** chainRecord for an entry that has been through normalizeAuditEntry already (it is not checked again). */
export function linkNormalizedEntry(normalized: AuditEntry, previous: AuditHead, at: number): AuditRecord {
  const seq = previous.seq + 1;
  if (!hasEntryFieldsOnly(normalized)) {
    const content = { ...normalized, seq, at, previousHash: previous.hash };
    return { ...content, hash: recordHash(content) };
  }
  // Written out rather than spread: on Node 20, properties added to a spread copy take V8's slow path, several
  // microseconds per record. Same fields, same order, same hash.
  const record = linkedRecord(normalized, seq, at, previous.hash);
  // The hash field is not hashed (recordHash leaves it out), so it is filled in afterwards.
  record.hash = recordHash(record);
  return record;
}

/** The fields of an entry, in the order normalizeAuditEntry writes them. */
const entryFields: readonly string[] = [
  'sessionId', 'turn', 'callId', 'agent', 'tool', 'input', 'decision', 'rule', 'approver', 'inputEdited', 'resultDigest', 'outputChars', 'outputBlob', 'durationMs', 'error', 'findings',
];

/** Whether the entry has exactly the fields normalizeAuditEntry writes, in its order, so that copying them one by one is the same copy as a spread. */
function hasEntryFieldsOnly(entry: AuditEntry): boolean {
  const keys = Object.keys(entry);
  if (keys.length !== entryFields.length) return false;
  for (let index = 0; index < keys.length; index += 1) if (keys[index] !== entryFields[index]) return false;
  return true;
}

function linkedRecord(entry: AuditEntry, seq: number, at: number, previousHash: string): { -readonly [Field in keyof AuditRecord]: AuditRecord[Field] } {
  return {
    sessionId: entry.sessionId,
    turn: entry.turn,
    callId: entry.callId,
    agent: entry.agent,
    tool: entry.tool,
    input: entry.input,
    decision: entry.decision,
    rule: entry.rule,
    approver: entry.approver,
    inputEdited: entry.inputEdited,
    resultDigest: entry.resultDigest,
    outputChars: entry.outputChars,
    outputBlob: entry.outputBlob,
    durationMs: entry.durationMs,
    error: entry.error,
    findings: entry.findings,
    seq,
    at,
    previousHash,
    hash: '',
  };
}

// JSON.stringify writes a lone surrogate as an escape (\ud800 to \udfff) and writes no other escape in that
// range: text without one needs no repair. (An escaped backslash before "ud8…" also matches; that only costs time.)
const escapedSurrogate = /\\u[dD][89a-fA-F]/;

/**
 * The entry as every backend will store and read it back: JSON values only (a Date becomes its ISO
 * text, `undefined` disappears) and well-formed strings (a lone surrogate becomes U+FFFD, as it does
 * through UTF-8). Without this, a record read back from SQLite would hash differently from the one written.
 */
export function normalizeAuditEntry(entry: AuditEntry): AuditEntry {
  checkEntry(entry);
  // Only the known fields: anything else would be hashed now but not stored, and fail verification later.
  const picked: AuditEntry = {
    sessionId: entry.sessionId,
    turn: entry.turn,
    callId: entry.callId,
    agent: entry.agent,
    tool: entry.tool,
    input: entry.input ?? null,
    decision: entry.decision,
    rule: entry.rule,
    approver: entry.approver,
    inputEdited: entry.inputEdited,
    resultDigest: entry.resultDigest,
    outputChars: entry.outputChars,
    outputBlob: entry.outputBlob,
    durationMs: entry.durationMs,
    error: entry.error === null ? null : { code: entry.error.code, message: entry.error.message },
    findings: entry.findings.map((finding) => ({ type: finding.type, count: finding.count })),
  };
  let text: string;
  try {
    text = JSON.stringify(picked);
  } catch (error) {
    throw new KeelError('invalid-argument', `Cannot audit call ${entry.callId} of tool ${entry.tool}: its input is not JSON (${error instanceof Error ? error.message : String(error)}).`, { cause: error });
  }
  const copy = JSON.parse(text) as AuditEntry;
  return escapedSurrogate.test(text) ? (wellFormed(copy) as AuditEntry) : copy;
}

/** Without recursion: an audited input can nest as deep as the model made it. */
function wellFormed(value: unknown): unknown {
  return mapJsonStrings(value, toWellFormedText);
}

function checkEntry(entry: AuditEntry): void {
  const problems: string[] = [];
  for (const field of ['sessionId', 'callId', 'agent', 'tool', 'rule'] as const) {
    if (typeof entry[field] !== 'string' || entry[field] === '') problems.push(`${field} must be a non-empty string`);
  }
  if (!decisions.includes(entry.decision)) problems.push(`decision must be one of ${decisions.join(', ')}`);
  if (!Number.isInteger(entry.turn) || entry.turn < 0) problems.push('turn must be a non-negative integer');
  if (!(Number.isFinite(entry.durationMs) && entry.durationMs >= 0)) problems.push('durationMs must be a non-negative number');
  if (entry.outputChars !== null && !(Number.isInteger(entry.outputChars) && entry.outputChars >= 0)) problems.push('outputChars must be a non-negative integer or null');
  if (entry.approver !== null && typeof entry.approver !== 'string') problems.push('approver must be a string or null');
  if (typeof entry.inputEdited !== 'boolean') problems.push('inputEdited must be a boolean');
  if (entry.error !== null && (typeof entry.error?.code !== 'string' || typeof entry.error.message !== 'string')) problems.push('error must be { code, message } or null');
  for (const field of ['resultDigest', 'outputBlob'] as const) {
    if (entry[field] !== null && typeof entry[field] !== 'string') problems.push(`${field} must be a string or null`);
  }
  if (!Array.isArray(entry.findings) || !entry.findings.every((finding) => typeof finding?.type === 'string' && Number.isInteger(finding.count))) {
    problems.push('findings must be an array of { type, count }');
  }
  if (problems.length > 0) {
    throw new KeelError('invalid-argument', `Cannot audit call ${String(entry.callId)} of tool ${String(entry.tool)}: ${problems.join('; ')}.`);
  }
}

/**
 * Walks records in stored order and names the first bad one. `head`, when the backend keeps one,
 * is where the chain must end: a shorter chain lost records from its end. The options add proofs kept
 * outside the log: signatures, an exported head and checkpoints, which a rewrite of the whole log cannot match.
 */
export function verifyChain(records: Iterable<AuditRecord | UnreadableAuditRecord>, head?: AuditHead, options: AuditVerifyOptions = {}): AuditVerification {
  const anchors = anchorsOf(options);
  let expectedSeq = 1;
  let previousHash = genesisHash;
  let signed = 0;
  let anchorsMatched = 0;
  for (const record of records) {
    const problem = linkProblem(record, expectedSeq, previousHash) ?? signatureProblem(record as AuditRecord, options);
    if (problem !== undefined) return problem;
    const current = record as AuditRecord;
    if (current.signature !== undefined && options.verifier !== undefined) signed += 1;
    const anchor = anchors.get(current.seq);
    if (anchor !== undefined) {
      if (anchor.hash !== current.hash) {
        return bad(current.seq, `record ${current.seq} is not the record ${anchor.source} names: it hashes to ${short(current.hash)}, the ${anchor.source} says ${short(anchor.hash)}; the log was rewritten from here or earlier`);
      }
      anchorsMatched += 1;
    }
    previousHash = current.hash;
    expectedSeq += 1;
  }
  const last: AuditHead = { seq: expectedSeq - 1, hash: previousHash };
  const beyond = [...anchors.entries()].filter(([seq]) => seq > last.seq).sort(([left], [right]) => left - right)[0];
  if (beyond !== undefined) {
    const [seq, anchor] = beyond;
    return bad(last.seq + 1, `the log ends at ${last.seq === 0 ? 'its start' : `record ${last.seq}`}, but the ${anchor.source} shows record ${seq} was written; records were removed from the end (or the table was wiped) and the head moved back`);
  }
  if (head !== undefined) {
    const headProblem = headMismatch(head, last);
    if (headProblem !== undefined) return headProblem;
  }
  const extra = options.verifier === undefined ? {} : { signed };
  return { ok: true, records: last.seq, head: last, ...extra, ...(anchors.size === 0 ? {} : { checkpointsMatched: anchorsMatched }) };
}

interface Anchor {
  readonly hash: string;
  readonly source: string;
}

function anchorsOf(options: AuditVerifyOptions): Map<number, Anchor> {
  const anchors = new Map<number, Anchor>();
  for (const checkpoint of options.checkpoints ?? []) anchors.set(checkpoint.seq, { hash: checkpoint.hash, source: `checkpoint of record ${checkpoint.seq}` });
  if (options.expectHead !== undefined && options.expectHead.seq > 0) {
    anchors.set(options.expectHead.seq, { hash: options.expectHead.hash, source: 'expected head' });
  }
  return anchors;
}

function linkProblem(record: AuditRecord | UnreadableAuditRecord, expectedSeq: number, previousHash: string): AuditVerification | undefined {
  if ('unreadable' in record) return bad(record.seq, `record ${record.seq} cannot be read (${record.unreadable}); it was edited outside Keel`);
  if (record.seq !== expectedSeq) {
    if (record.seq < expectedSeq) {
      return bad(expectedSeq, `the record after record ${expectedSeq - 1} carries seq ${record.seq}: records were duplicated or reordered here, or its seq was changed`);
    }
    const missing = record.seq - 1 === expectedSeq ? `record ${expectedSeq} is missing` : `records ${expectedSeq} to ${record.seq - 1} are missing`;
    return bad(expectedSeq, `${missing}: the log goes from ${expectedSeq - 1 === 0 ? 'its start' : `record ${expectedSeq - 1}`} to record ${record.seq}`);
  }
  if (record.previousHash !== previousHash) {
    const predecessor = expectedSeq === 1 ? 'the start of the log' : `record ${expectedSeq - 1}`;
    return bad(
      record.seq,
      `record ${record.seq} does not follow ${predecessor}: it names ${short(record.previousHash)} as its predecessor's hash, but ${predecessor} hashes to ${short(previousHash)}; records were removed or reordered here, or this record's previousHash was changed`,
    );
  }
  const computed = recordHash(record);
  if (computed !== record.hash) {
    return bad(record.seq, `record ${record.seq} was changed after it was written: its content hashes to ${short(computed)}, not to its stored hash ${short(record.hash)}`);
  }
  return undefined;
}

function signatureProblem(record: AuditRecord, options: AuditVerifyOptions): AuditVerification | undefined {
  if (options.verifier === undefined) return undefined;
  if (record.signature === undefined) {
    if (record.seq < (options.allowUnsignedBefore ?? 1)) return undefined;
    return bad(record.seq, `record ${record.seq} has no signature: it was written without the signing key, or the log was rewritten without it`);
  }
  if (!options.verifier.verify(record.hash, record.signature)) {
    return bad(record.seq, `record ${record.seq}'s signature does not verify with this public key: it was forged or re-hashed, or signed with another key`);
  }
  return undefined;
}

function headMismatch(head: AuditHead, last: AuditHead): AuditVerification | undefined {
  if (head.seq > last.seq) {
    const missing = head.seq === last.seq + 1 ? `record ${head.seq} is missing` : `records ${last.seq + 1} to ${head.seq} are missing`;
    return bad(last.seq + 1, `${missing}: the log ends at ${last.seq === 0 ? 'its start' : `record ${last.seq}`}, but its head says ${head.seq} records were written; records were removed from the end`);
  }
  if (head.seq < last.seq) {
    return bad(head.seq + 1, `record ${head.seq + 1} was added outside the audit log: its head says the log ends at record ${head.seq}`);
  }
  if (head.hash !== last.hash) {
    if (last.seq === 0) return bad(1, `the log is empty, but its head names hash ${short(head.hash)} rather than the start of a chain`);
    return bad(last.seq, `record ${last.seq} does not match the log's head: the head names hash ${short(head.hash)}, the record hashes to ${short(last.hash)}`);
  }
  return undefined;
}

function bad(firstBadSeq: number, problem: string): AuditVerification {
  return { ok: false, firstBadSeq, problem };
}

function short(hash: string): string {
  return typeof hash === 'string' && hash.length > 12 ? `${hash.slice(0, 12)}…` : String(hash);
}
