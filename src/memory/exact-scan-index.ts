import { KeelError } from '../errors/index.ts';
import type { VectorFilter, VectorIndex, VectorItem, VectorMatch, VectorMetadata } from './memory-types.ts';
import { TopK } from './top-k.ts';
import { checkFilterKeys, checkPositiveInteger, matchesFilter, norm, toVector } from './vector-math.ts';

export interface ExactScanIndexOptions {
  readonly dimensions: number;
}

/**
 * An in-memory index that compares the query with every vector (brute-force cosine over one contiguous
 * Float32Array of unit vectors). Exact by construction: the reference the other backends are tested against,
 * and fast enough for up to about 10^5 vectors.
 */
export function createExactScanIndex(options: ExactScanIndexOptions): VectorIndex {
  const { dimensions } = options;
  checkPositiveInteger(dimensions, 'dimensions', 'invalid-config');
  let data = new Float32Array(dimensions * 1024);
  const ids: string[] = [];
  const metadata: VectorMetadata[] = [];
  const slotOf = new Map<string, number>();
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new KeelError('invalid-argument', 'This vector index is closed.');
  }

  function writeSlot(slot: number, vector: Float32Array): void {
    const length = norm(vector);
    const scale = length === 0 ? 0 : 1 / length;
    const offset = slot * dimensions;
    for (let index = 0; index < dimensions; index += 1) data[offset + index] = (vector[index] as number) * scale;
  }

  return {
    dimensions,
    async upsert(items: readonly VectorItem[]): Promise<void> {
      ensureOpen();
      const vectors = items.map((item) => toVector(item.vector, dimensions));
      items.forEach((item, index) => {
        let slot = slotOf.get(item.id);
        if (slot === undefined) {
          slot = ids.length;
          if ((slot + 1) * dimensions > data.length) {
            const grown = new Float32Array(data.length * 2);
            grown.set(data);
            data = grown;
          }
          ids.push(item.id);
          metadata.push({});
          slotOf.set(item.id, slot);
        }
        writeSlot(slot, vectors[index] as Float32Array);
        metadata[slot] = { ...item.metadata };
      });
    },
    async search(vector: ArrayLike<number>, k: number, filter?: VectorFilter): Promise<VectorMatch[]> {
      ensureOpen();
      checkPositiveInteger(k, 'k');
      checkFilterKeys(filter);
      const query = toVector(vector, dimensions, 'query vector');
      const queryNorm = norm(query);
      const scale = queryNorm === 0 ? 0 : 1 / queryNorm;
      for (let index = 0; index < dimensions; index += 1) query[index] = (query[index] as number) * scale;
      const best = new TopK(k);
      const hasFilter = filter !== undefined && Object.keys(filter).length > 0;
      for (let slot = 0; slot < ids.length; slot += 1) {
        if (hasFilter && !matchesFilter(metadata[slot] as VectorMetadata, filter)) continue;
        let dot = 0;
        const offset = slot * dimensions;
        for (let index = 0; index < dimensions; index += 1) dot += (query[index] as number) * (data[offset + index] as number);
        if (dot > best.threshold) best.offer(slot, dot);
      }
      return best.entries().map(({ slot, score }) => ({ id: ids[slot] as string, score, metadata: metadata[slot] as VectorMetadata }));
    },
    async delete(deleted: readonly string[]): Promise<void> {
      ensureOpen();
      for (const id of deleted) {
        const slot = slotOf.get(id);
        if (slot === undefined) continue;
        const last = ids.length - 1;
        if (slot !== last) {
          data.copyWithin(slot * dimensions, last * dimensions, (last + 1) * dimensions);
          const movedId = ids[last] as string;
          ids[slot] = movedId;
          metadata[slot] = metadata[last] as VectorMetadata;
          slotOf.set(movedId, slot);
        }
        ids.pop();
        metadata.pop();
        slotOf.delete(id);
      }
    },
    async count(): Promise<number> {
      ensureOpen();
      return ids.length;
    },
    async close(): Promise<void> {
      closed = true;
    },
  };
}
