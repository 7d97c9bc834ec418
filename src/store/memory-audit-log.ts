import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import { systemClock } from '../util/index.ts';
import { chainRecord, genesisHash, verifyChain } from './audit-chain.ts';
import type { AuditHead, AuditLog, AuditRecord } from './audit-log.ts';
import type { AuditSigner } from './audit-signing.ts';

export interface MemoryAuditLogOptions {
  readonly clock?: Pick<Clock, 'now'>;
  readonly signer?: AuditSigner;
}

/** An AuditLog in process memory, for tests and embedded use; records are frozen so no caller can edit one in place. */
export function createMemoryAuditLog(options: MemoryAuditLogOptions = {}): AuditLog {
  const clock = options.clock ?? systemClock;
  const records: AuditRecord[] = [];
  let head: AuditHead = { seq: 0, hash: genesisHash };
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new KeelError('storage-failure', 'The in-memory audit log is closed.', { retryable: false });
  }

  return {
    async append(entry) {
      ensureOpen();
      const linked = chainRecord(entry, head, clock.now());
      const record = deepFreeze(options.signer === undefined ? linked : { ...linked, signature: options.signer.sign(linked.hash) });
      records.push(record);
      head = { seq: record.seq, hash: record.hash };
      return record;
    },
    async *read(fromSeq = 1) {
      ensureOpen();
      // A snapshot of the length: records appended while a reader is paused are read by the next reader.
      const end = records.length;
      for (let index = Math.max(0, fromSeq - 1); index < end; index += 1) yield records[index]!;
    },
    async *readSession(sessionId) {
      ensureOpen();
      for (const record of records.slice()) if (record.sessionId === sessionId) yield record;
    },
    async head() {
      ensureOpen();
      return head;
    },
    async verify(verifyOptions) {
      ensureOpen();
      return verifyChain(records, head, verifyOptions);
    },
    async close() {
      closed = true;
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const entry of Object.values(value)) deepFreeze(entry);
  }
  return value;
}
