// Keel with its durable journal and streamed model calls (SSE with include_usage), Keel's default for agents.
import { createKeelAdapter } from './keel-common.ts';

export const adapter = createKeelAdapter({
  name: 'keel-sqlite-stream',
  description: 'Keel, SQLite journal in a temporary file, streaming (the agent default)',
  journal: 'file',
  streaming: true,
});
