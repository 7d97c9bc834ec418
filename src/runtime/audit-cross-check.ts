import type { AuditLog } from '../store/index.ts';
import type { Journal } from '../spec/journal.ts';

/**
 * Checks the audit log against the journal's tool events. The two are written by different code into different
 * tables, so an attacker who rewrites one consistently (re-hashing the audit chain, say) still has to rewrite the
 * other the same way:
 * - every tool result in the journal needs an audit record of that call (records were removed otherwise);
 * - every audit record names a call the journal requested (a record was forged otherwise);
 * - an audit record that says the call was denied cannot sit beside a journaled result of that call.
 */
export interface AuditMismatch {
  readonly sessionId: string;
  readonly callId: string;
  readonly problem: string;
}

export interface AuditCrossCheck {
  readonly ok: boolean;
  readonly sessions: number;
  readonly callsChecked: number;
  readonly mismatches: readonly AuditMismatch[];
}

export interface AuditCrossCheckOptions {
  readonly journal: Journal;
  readonly audit: AuditLog;
  /** Stops collecting after this many mismatches; default 50. */
  readonly maxMismatches?: number;
}

interface JournalCalls {
  readonly requested: Set<string>;
  readonly succeeded: Map<string, string>;
}

export async function crossCheckAudit(options: AuditCrossCheckOptions): Promise<AuditCrossCheck> {
  const limit = options.maxMismatches ?? 50;
  const mismatches: AuditMismatch[] = [];
  const audited = await auditedCalls(options.audit);
  const sessions = await options.journal.listSessions({ limit: Number.MAX_SAFE_INTEGER });
  let callsChecked = 0;
  for (const session of sessions) {
    const calls = await journalCalls(options.journal, session.sessionId);
    const records = audited.get(session.sessionId) ?? new Map<string, readonly string[]>();
    for (const [callId, tool] of calls.succeeded) {
      callsChecked += 1;
      const decisions = records.get(callId);
      if (decisions === undefined) {
        mismatches.push({ sessionId: session.sessionId, callId, problem: `the journal holds the result of call ${callId} (${tool}) but the audit log has no record of it: audit records were removed` });
      } else if (decisions.every((decision) => decision === 'deny')) {
        mismatches.push({ sessionId: session.sessionId, callId, problem: `the audit log says call ${callId} (${tool}) was denied, but the journal holds its result` });
      }
    }
    for (const callId of records.keys()) {
      if (!calls.requested.has(callId)) {
        mismatches.push({ sessionId: session.sessionId, callId, problem: `the audit log has a record of call ${callId}, which the journal never requested: the record was forged or the journal edited` });
      }
    }
    audited.delete(session.sessionId);
    if (mismatches.length >= limit) break;
  }
  if (mismatches.length < limit) {
    for (const [sessionId, records] of audited) {
      const callId = records.keys().next().value ?? '';
      mismatches.push({ sessionId, callId, problem: `the audit log has records of session ${sessionId}, which the journal does not have` });
    }
  }
  return { ok: mismatches.length === 0, sessions: sessions.length, callsChecked, mismatches: mismatches.slice(0, limit) };
}

/** Session → call → the decisions audited for it (a call approved after an ask has more than one record). */
async function auditedCalls(audit: AuditLog): Promise<Map<string, Map<string, string[]>>> {
  const bySession = new Map<string, Map<string, string[]>>();
  for await (const record of audit.read()) {
    const calls = bySession.get(record.sessionId) ?? new Map<string, string[]>();
    bySession.set(record.sessionId, calls);
    const decisions = calls.get(record.callId) ?? [];
    decisions.push(record.decision);
    calls.set(record.callId, decisions);
  }
  return bySession;
}

async function journalCalls(journal: Journal, sessionId: string): Promise<JournalCalls> {
  const requested = new Set<string>();
  const succeeded = new Map<string, string>();
  for await (const event of journal.read(sessionId)) {
    if (event.type === 'tool-request') requested.add(event.callId);
    else if (event.type === 'tool-result') succeeded.set(event.callId, event.tool);
  }
  return { requested, succeeded };
}
