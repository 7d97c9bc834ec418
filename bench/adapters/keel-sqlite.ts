// Keel with its durable journal: SQLite in a file (WAL, synchronous=NORMAL), non-streaming model calls.
import { createKeelAdapter } from './keel-common.ts';

export const adapter = createKeelAdapter({
  name: 'keel-sqlite',
  description: 'Keel, SQLite journal in a temporary file, non-streaming',
  journal: 'file',
  streaming: false,
});
