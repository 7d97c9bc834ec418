import type { AuditEntry, AuditLog, AuditRecord } from '../../src/store/index.ts';

/** A plausible audit entry; `index` varies the call so that records differ. */
export function sampleEntry(index: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  const failed = index % 3 === 2;
  return {
    sessionId: index % 2 === 0 ? 'ses_even' : 'ses_odd',
    turn: 1 + Math.floor(index / 2),
    callId: `call_${index}`,
    agent: 'support',
    tool: index % 2 === 0 ? 'lookup_order' : 'issue_refund',
    input: { orderId: `ord_${index}`, amount: index * 10.5, note: index === 1 ? 'ünïcode ✓ 😀' : null },
    decision: index % 2 === 0 ? 'allow' : 'ask',
    rule: index % 2 === 0 ? 'default' : 'risk:irreversible',
    approver: index % 2 === 0 ? null : 'ops@example.com',
    inputEdited: index === 3,
    resultDigest: failed ? null : `${String(index).padStart(2, '0')}${'ab'.repeat(31)}`,
    outputChars: failed ? null : 100 + index,
    outputBlob: index === 4 ? 'cd'.repeat(32) : null,
    durationMs: 1.25 * (index + 1),
    error: failed ? { code: 'tool-failed', message: `attempt ${index} failed` } : null,
    findings: index === 0 ? [{ type: 'email', count: 2 }] : [],
    ...overrides,
  };
}

export async function appendSamples(log: AuditLog, count: number): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for (let index = 0; index < count; index += 1) records.push(await log.append(sampleEntry(index)));
  return records;
}

export async function readAll(iterable: AsyncIterable<AuditRecord>): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const record of iterable) records.push(record);
  return records;
}
