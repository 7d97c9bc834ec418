export { describeJournalContract, readAll, expectKeelError } from './journal.contract.ts';
export { describeBlobStoreContract } from './blob-store.contract.ts';
export { sampleSession, stampEvents, sessionStartBody, turnStartBody, toolResultBody, sessionEndBody } from './journal-samples.ts';
export { describeVectorIndexContract } from './vector-index.contract.ts';
