// Keel with the in-memory journal and blob store, non-streaming: Keel's loop without the database.
import { createKeelAdapter } from './keel-common.ts';

export const adapter = createKeelAdapter({
  name: 'keel-memory',
  description: 'Keel, in-memory journal (":memory:"), non-streaming',
  journal: 'memory',
  streaming: false,
});
