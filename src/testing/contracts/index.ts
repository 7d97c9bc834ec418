// Contract suites for backends of the ports in spec/: run them with vitest against your own implementation.
// A subpath of its own (`keel/testing/contracts`) because it needs vitest, which the rest of the kit does not.
export { describeJournalContract, readAll, expectKeelError } from './journal.contract.ts';
export { describeBlobStoreContract } from './blob-store.contract.ts';
export { sampleSession, stampEvents, sessionStartBody, turnStartBody, toolResultBody, sessionEndBody } from './journal-samples.ts';
export { describeVectorIndexContract } from './vector-index.contract.ts';
export { describeSessionLeaseContract, createManualClock } from './session-lease.contract.ts';
export type { ManualClock } from './session-lease.contract.ts';
export { describeProviderLimitStoreContract } from './provider-limit-store.contract.ts';
export { describeAuditLogContract, sampleAuditEntry } from './audit-log.contract.ts';
export { describeIdempotencyStoreContract } from './idempotency-store.contract.ts';
export { describeCallLogContract, sampleCallLogEntry } from './call-log.contract.ts';
export { describeMemoryStoreContract } from './memory-store.contract.ts';
export type { MemoryStoreContractContext, MemoryStoreContractOptions } from './memory-store.contract.ts';
