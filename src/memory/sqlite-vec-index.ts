import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { KeelError } from '../errors/index.ts';
import type { VectorFilter, VectorIndex, VectorItem, VectorMatch, VectorMetadata } from './memory-types.ts';
import { checkIdentifier, migrate, toStorageFailure } from './sqlite-migrations.ts';
import { createQuantizedStore, maxKnn, quantizedMigration } from './sqlite-vec-quantized.ts';
import type { SqliteDatabase } from './sqlite-migrations.ts';
import { checkFilterKeys, checkPositiveInteger, toVector } from './vector-math.ts';

export interface SqliteVecIndexOptions {
  /** An open better-sqlite3 database (shared with the journal, say); the index does not close it. */
  readonly database?: SqliteDatabase;
  /** Or a file path (or `:memory:`) the index opens and closes itself. */
  readonly path?: string;
  readonly dimensions: number;
  /** Prefix of the index's tables: `<name>_items`, the vec0 tables `<name>_vectors` and `<name>_codes`, and `<name>_rescore`. Defaults to `vector_index`. */
  readonly name?: string;
  /**
   * `quantized` (default): a coarse KNN over binary-quantized codes picks `k·oversample` candidates, re-scored with
   * exact cosine on the float vectors; approximate (recall@10 and latency per mode: `bench/memory-retrieval.ts`), and
   * about 5 times faster at 100,000 × 384. `exact`: a brute-force vec0 KNN over the float vectors, the same answer as
   * a full scan. Both modes keep every table up to date, so the mode can change between opens.
   */
  readonly search?: 'quantized' | 'exact';
  /** In quantized mode, search exactly while the index has held at most this many items (rowids); default 10,000. */
  readonly exactUpTo?: number;
  /** In quantized mode, coarse candidates per wanted result; default 32 (256 candidates for k = 10). */
  readonly oversample?: number;
}
/** A filtered search first asks vec0 for this many times `k` neighbours and filters them. */
const exactFilterOversample = 8;

const loaded = new WeakSet<SqliteDatabase>();

/**
 * Vectors in SQLite with the sqlite-vec extension: a `vec0` virtual table (exact KNN, cosine distance) beside a
 * plain table of ids and JSON metadata sharing its rowid, plus the binary codes and rescore vectors of the quantized
 * search (`sqlite-vec-quantized.ts`). An exact filtered search asks vec0 for the `8·k` nearest and keeps those that
 * match, widening fourfold (up to 4,096) while fewer than `k` match, then scans the matching rows; the answer is
 * exact, as an item outside the global top `n` cannot beat one inside it. The quantized search widens the same way
 * and falls back to that exact path.
 */
export function createSqliteVecIndex(options: SqliteVecIndexOptions): VectorIndex {
  const { dimensions } = options;
  checkPositiveInteger(dimensions, 'dimensions', 'invalid-config');
  const name = options.name ?? 'vector_index';
  checkIdentifier(name, 'name');
  const mode = options.search ?? 'quantized';
  if (mode !== 'quantized' && mode !== 'exact') throw new KeelError('invalid-config', `search must be 'quantized' or 'exact', not ${String(mode)}.`);
  const exactUpTo = options.exactUpTo ?? 10_000;
  if (!Number.isInteger(exactUpTo) || exactUpTo < 0) throw new KeelError('invalid-config', `exactUpTo must be a non-negative integer, not ${exactUpTo}.`);
  const oversample = options.oversample ?? 32;
  checkPositiveInteger(oversample, 'oversample', 'invalid-config');
  if ((options.database === undefined) === (options.path === undefined)) {
    throw new KeelError('invalid-config', 'createSqliteVecIndex needs exactly one of `database` or `path`.');
  }
  const ownsDatabase = options.database === undefined;
  const database = options.database ?? new Database(options.path as string);
  try {
    if (ownsDatabase) database.pragma('journal_mode = WAL');
    if (!loaded.has(database)) {
      sqliteVec.load(database);
      loaded.add(database);
    }
    migrate(database, `vector-index:${name}`, [
      {
        version: 1,
        name: 'items and vec0 vectors',
        sql: `CREATE TABLE ${name}_items (
                rowid INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                metadata TEXT NOT NULL,
                dimensions INTEGER NOT NULL
              );
              CREATE VIRTUAL TABLE ${name}_vectors USING vec0(embedding float[${dimensions}] distance_metric=cosine);`,
      },
      quantizedMigration(name, dimensions),
    ]);
  } catch (error) {
    if (ownsDatabase) database.close();
    throw toStorageFailure(error, `opening the sqlite-vec index ${name}`);
  }
  const existing = database.prepare(`SELECT sql FROM sqlite_master WHERE name = ?`).pluck().get(`${name}_vectors`) as string;
  const declared = /float\[(\d+)\]/.exec(existing)?.[1];
  if (Number(declared) !== dimensions) {
    if (ownsDatabase) database.close();
    throw new KeelError('invalid-config', `The sqlite-vec index ${name} holds ${declared}-dimensional vectors, not ${dimensions}.`);
  }

  const findRowid = database.prepare<[string], bigint>(`SELECT rowid FROM ${name}_items WHERE id = ?`).pluck().safeIntegers(true);
  const insertItem = database.prepare(`INSERT INTO ${name}_items (id, metadata, dimensions) VALUES (?, ?, ?)`);
  const updateItem = database.prepare(`UPDATE ${name}_items SET metadata = ? WHERE rowid = ?`);
  const deleteVector = database.prepare(`DELETE FROM ${name}_vectors WHERE rowid = ?`);
  const insertVector = database.prepare(`INSERT INTO ${name}_vectors (rowid, embedding) VALUES (?, ?)`);
  const deleteItem = database.prepare(`DELETE FROM ${name}_items WHERE rowid = ?`);
  const countItems = database.prepare(`SELECT count(*) FROM ${name}_items`).pluck();
  // The largest rowid bounds the count from above in O(log n), where count(*) walks the whole table.
  const largestRowid = database.prepare(`SELECT coalesce(max(rowid), 0) FROM ${name}_items`).pluck();
  const quantized = createQuantizedStore(database, name, dimensions);
  const knn = database.prepare<[Buffer, number], { id: string; metadata: string; distance: number }>(
    `SELECT i.id AS id, i.metadata AS metadata, v.distance AS distance
       FROM ${name}_vectors v JOIN ${name}_items i ON i.rowid = v.rowid
      WHERE v.embedding MATCH ? AND k = ?
      ORDER BY v.distance`,
  );
  let closed = false;

  const upsertAll = database.transaction((items: readonly VectorItem[], vectors: readonly Float32Array[]) => {
    items.forEach((item, index) => {
      const metadata = JSON.stringify(item.metadata ?? {});
      let rowid = findRowid.get(item.id);
      if (rowid === undefined) {
        rowid = BigInt(insertItem.run(item.id, metadata, dimensions).lastInsertRowid);
      } else {
        updateItem.run(metadata, rowid);
        deleteVector.run(rowid);
      }
      const blob = toBlob(vectors[index] as Float32Array);
      insertVector.run(rowid, blob);
      quantized.write(rowid, blob, item.metadata);
    });
  });
  const deleteAll = database.transaction((ids: readonly string[]) => {
    for (const id of ids) {
      const rowid = findRowid.get(id);
      if (rowid === undefined) continue;
      deleteVector.run(rowid);
      quantized.remove(rowid);
      deleteItem.run(rowid);
    }
  });

  function ensureOpen(): void {
    if (closed) throw new KeelError('invalid-argument', `The sqlite-vec index ${name} is closed.`);
  }

  function run<T>(action: string, body: () => T): T {
    try {
      return body();
    } catch (error) {
      throw toStorageFailure(error, `${action} in the sqlite-vec index ${name}`);
    }
  }

  function scanFiltered(query: Buffer, k: number, filter: VectorFilter): VectorMatch[] {
    const conditions: string[] = [];
    const values: (string | number)[] = [];
    for (const [key, value] of Object.entries(filter)) {
      // json_extract turns JSON true/false into 1/0, so booleans are matched by their JSON type instead.
      if (typeof value === 'boolean') {
        conditions.push(`json_type(i.metadata, '$.${key}') = '${value ? 'true' : 'false'}'`);
      } else {
        conditions.push(`json_extract(i.metadata, '$.${key}') = ?`);
        values.push(value);
      }
    }
    const rows = database
      .prepare(
        `SELECT i.id AS id, i.metadata AS metadata, vec_distance_cosine(v.embedding, ?) AS distance
           FROM ${name}_items i JOIN ${name}_vectors v ON v.rowid = i.rowid
          ${conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`}
          ORDER BY distance LIMIT ?`,
      )
      .all(query, ...values, k) as { id: string; metadata: string; distance: number }[];
    return rows.map(toMatch);
  }

  return {
    dimensions,
    async upsert(items: readonly VectorItem[]): Promise<void> {
      ensureOpen();
      const vectors = items.map((item) => toVector(item.vector, dimensions));
      run('upserting', () => upsertAll(items, vectors));
    },
    async search(vector: ArrayLike<number>, k: number, filter?: VectorFilter): Promise<VectorMatch[]> {
      ensureOpen();
      checkPositiveInteger(k, 'k');
      checkFilterKeys(filter);
      const query = toBlob(toVector(vector, dimensions, 'query vector'));
      const hasFilter = filter !== undefined && Object.keys(filter).length > 0;
      return run('searching', () => {
        if (mode === 'quantized' && quantized.available && k <= maxKnn && Number(largestRowid.get()) > exactUpTo) {
          const rows = quantized.search(query, k, hasFilter ? filter : undefined, oversample);
          if (rows !== undefined) return rows.map(toMatch);
          return scanFiltered(query, k, filter ?? {});
        }
        if (!hasFilter) {
          if (k <= maxKnn) return knn.all(query, k).map(toMatch);
          return scanFiltered(query, k, {});
        }
        // Widen the KNN fourfold while too few of the neighbours match, then fall back to a filtered scan.
        for (let wanted = Math.min(maxKnn, k * exactFilterOversample); ; wanted = Math.min(maxKnn, wanted * 4)) {
          const near = knn.all(query, wanted);
          const matching = near.map(toMatch).filter((match) => matchesExactly(match.metadata, filter));
          if (matching.length >= k || near.length < wanted) return matching.slice(0, k);
          if (wanted === maxKnn) return scanFiltered(query, k, filter);
        }
      });
    },
    async delete(ids: readonly string[]): Promise<void> {
      ensureOpen();
      run('deleting', () => deleteAll(ids));
    },
    async count(): Promise<number> {
      ensureOpen();
      return run('counting', () => Number(countItems.get()));
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (ownsDatabase) database.close();
    },
  };
}

function toBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

function toMatch(row: { id: string; metadata: string; distance: number }): VectorMatch {
  return { id: row.id, score: 1 - row.distance, metadata: JSON.parse(row.metadata) as VectorMetadata };
}

function matchesExactly(metadata: VectorMetadata, filter: VectorFilter): boolean {
  return Object.entries(filter).every(([key, value]) => metadata[key] === value);
}
