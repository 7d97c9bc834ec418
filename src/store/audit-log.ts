// The audit log's port lives in spec/; this re-export keeps the store's own imports short.
export type * from '../spec/audit-log.ts';
