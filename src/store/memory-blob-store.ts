import { KeelError } from '../errors/index.ts';
import type { BlobStore } from '../spec/journal.ts';
import { sha256 } from '../util/index.ts';
import { toWellFormedText } from './well-formed-text.ts';

/**
 * A BlobStore in process memory, for tests. Content is kept as its UTF-8 round trip, as in SQLite:
 * a lone surrogate comes back as U+FFFD in both, which is also what the SHA-256 hash was taken over.
 */
export function createMemoryBlobStore(): BlobStore {
  const blobs = new Map<string, string>();
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new KeelError('storage-failure', 'The in-memory blob store is closed.', { retryable: false });
  }

  return {
    async put(content) {
      ensureOpen();
      const text = toWellFormedText(content);
      const hash = sha256(text);
      if (!blobs.has(hash)) blobs.set(hash, text);
      return hash;
    },
    async get(hash) {
      ensureOpen();
      return blobs.get(hash);
    },
    async close() {
      closed = true;
    },
  };
}
