import type { AuditLog, AuditRecord } from '../spec/audit-log.ts';
import { recordHash } from '../store/index.ts';

/** What the audit route says of one session's records; the whole chain is checked by `keel audit verify`. */
export type SessionAuditVerification =
  | { readonly ok: true; readonly scope: 'session'; readonly checked: number }
  | { readonly ok: false; readonly scope: 'session'; readonly checked: number; readonly firstBadSeq: number; readonly problem: string };

/**
 * Checks a session's own records, not the whole log (which holds every tenant's records and grows without bound):
 * each record's hash matches its content, each record links to the session's record before it when they are
 * neighbours in the chain, and the record after the session's last one links to it. Cost: the session's records
 * plus one read; nothing about other sessions' records is returned.
 */
export async function verifySessionRecords(audit: AuditLog, records: readonly AuditRecord[]): Promise<SessionAuditVerification> {
  let checked = 0;
  for (let index = 0; index < records.length; index += 1) {
    const record = records[index]!;
    checked += 1;
    if (recordHash(record) !== record.hash) return bad(checked, record.seq, `record ${record.seq}'s content does not match its hash: it was changed after it was written`);
    const previous = records[index - 1];
    if (previous !== undefined && previous.seq === record.seq - 1 && record.previousHash !== previous.hash) {
      return bad(checked, record.seq, `record ${record.seq} does not link to record ${previous.seq}: the chain was rewritten here`);
    }
  }
  const last = records.at(-1);
  if (last !== undefined) {
    for await (const next of audit.read(last.seq + 1)) {
      if (next.seq === last.seq + 1 && next.previousHash !== last.hash) return bad(checked, next.seq, `record ${next.seq} does not link to record ${last.seq}, this session's last: the chain was rewritten here`);
      break;
    }
  }
  return { ok: true, scope: 'session', checked };
}

function bad(checked: number, firstBadSeq: number, problem: string): SessionAuditVerification {
  return { ok: false, scope: 'session', checked, firstBadSeq, problem };
}
