import type { Migration, SqliteDatabase } from './sqlite-migrations.ts';
import type { VectorFilter, VectorMetadata } from './memory-types.ts';

/**
 * Binary-quantized coarse search with exact rescoring for the sqlite-vec index (sqlite-vec's "oversample and
 * re-score" recipe, docs: guides/binary-quant). Beside the float vec0 table the index keeps:
 *
 * - `<name>_codes`: vec0 `bit[d]` codes (`vec_quantize_binary`, one sign bit per dimension: 48 bytes at 384-d,
 *   1/32 of the float vectors), partitioned by the `agent` metadata field and by `rowid % 8`;
 * - `<name>_rescore`: the float32 vectors again in a plain rowid table, because reading 250 vectors back out of vec0
 *   by rowid costs milliseconds while a B-tree lookup costs microseconds.
 *
 * A search asks each of the 8 shards for its nearest codes by Hamming distance and re-scores the union with exact
 * cosine distance. Why shards: sqlite-vec 0.1.9 selects each chunk's top k by repeated passes (O(chunk·k)), so one
 * KNN for 256 candidates costs about 20 times one for 10, while 8 KNNs for 32 each cost about 3 times one for 10 —
 * and the union of the shards' top 32 is, for a random rowid split, nearly the global top 256.
 * Why partition by agent: the memory store's scope filter always names the agent, and a vec0 partition key
 * restricts the KNN to that agent's chunks (metadata columns were measured 10–50 times slower as a filter).
 */

/** Rowid shards of the coarse codes; fixed by the migration. */
export const shardCount = 8;
/** The metadata field whose string value is the codes' partition; the memory scope's agent. */
export const partitionField = 'agent';
/** sqlite-vec's vec0 answers at most this many neighbours in one KNN query. */
export const maxKnn = 4096;

export interface QuantizedRow {
  readonly id: string;
  readonly metadata: string;
  readonly distance: number;
}

/** Sign bits need whole bytes: codes cover the first multiple of 8 dimensions (all of them for usual models). */
export function codeDimensions(dimensions: number): number {
  return dimensions - (dimensions % 8);
}

/** Schema version 2 of a sqlite-vec index: the codes and rescore tables, filled from the rows already stored. */
export function quantizedMigration(name: string, dimensions: number): Migration {
  const bits = codeDimensions(dimensions);
  const codes =
    bits === 0
      ? ''
      : `CREATE VIRTUAL TABLE ${name}_codes USING vec0(
           agent text partition key,
           shard integer partition key,
           code bit[${bits}],
           chunk_size=512
         );
         INSERT INTO ${name}_codes (rowid, agent, shard, code)
           SELECT i.rowid,
                  CASE json_type(i.metadata, '$.${partitionField}') WHEN 'text' THEN json_extract(i.metadata, '$.${partitionField}') ELSE '' END,
                  i.rowid % ${shardCount},
                  vec_quantize_binary(vec_slice(r.embedding, 0, ${bits}))
             FROM ${name}_items i JOIN ${name}_rescore r ON r.rowid = i.rowid;`;
  return {
    version: 2,
    name: 'binary-quantized codes and rescore vectors',
    sql: `CREATE TABLE ${name}_rescore (rowid INTEGER PRIMARY KEY, embedding BLOB NOT NULL);
          INSERT INTO ${name}_rescore (rowid, embedding) SELECT rowid, embedding FROM ${name}_vectors;
          ${codes}`,
  };
}

/** Items with a non-string (or no) agent share the '' partition; every filter is re-checked after rescoring anyway. */
export function partitionOf(metadata: VectorMetadata | undefined): string {
  const value = metadata?.[partitionField];
  return typeof value === 'string' ? value : '';
}

export interface QuantizedStore {
  /** False when the vectors have fewer than 8 dimensions: no codes, every search is exact. */
  readonly available: boolean;
  write(rowid: bigint, vector: Buffer, metadata: VectorMetadata | undefined): void;
  remove(rowid: bigint): void;
  /**
   * The best `k` rows matching `filter` among the re-scored candidates, or `undefined` when even `maxKnn` codes per
   * shard did not yield `k` matches (the caller then scans exactly).
   */
  search(query: Buffer, k: number, filter: VectorFilter | undefined, oversample: number): QuantizedRow[] | undefined;
}

export function createQuantizedStore(database: SqliteDatabase, name: string, dimensions: number): QuantizedStore {
  const bits = codeDimensions(dimensions);
  const insertRescore = database.prepare(`INSERT OR REPLACE INTO ${name}_rescore (rowid, embedding) VALUES (?, ?)`);
  const deleteRescore = database.prepare(`DELETE FROM ${name}_rescore WHERE rowid = ?`);
  const rescore = database.prepare<[Buffer, string], QuantizedRow>(
    `SELECT i.id AS id, i.metadata AS metadata, vec_distance_cosine(r.embedding, ?) AS distance
       FROM ${name}_rescore r JOIN ${name}_items i ON i.rowid = r.rowid
      WHERE r.rowid IN (SELECT value FROM json_each(?))
      ORDER BY distance`,
  );
  if (bits === 0) {
    return {
      available: false,
      write: (rowid, vector) => void insertRescore.run(rowid, vector),
      remove: (rowid) => void deleteRescore.run(rowid),
      search: () => undefined,
    };
  }
  const insertCode = database.prepare(`INSERT INTO ${name}_codes (rowid, agent, shard, code) VALUES (?, ?, ?, vec_quantize_binary(vec_slice(?, 0, ${bits})))`);
  const deleteCode = database.prepare(`DELETE FROM ${name}_codes WHERE rowid = ?`);
  const nearestCodes = database
    .prepare<[Buffer, number, number], bigint>(
      `SELECT rowid FROM ${name}_codes WHERE code MATCH vec_quantize_binary(vec_slice(?, 0, ${bits})) AND k = ? AND shard = ?`,
    )
    .pluck()
    .safeIntegers(true);
  const nearestCodesOfAgent = database
    .prepare<[Buffer, number, number, string], bigint>(
      `SELECT rowid FROM ${name}_codes WHERE code MATCH vec_quantize_binary(vec_slice(?, 0, ${bits})) AND k = ? AND shard = ? AND agent = ?`,
    )
    .pluck()
    .safeIntegers(true);

  return {
    available: true,
    write(rowid, vector, metadata) {
      insertRescore.run(rowid, vector);
      // vec0 cannot move a row between partitions in place, so a changed agent means delete and insert.
      deleteCode.run(rowid);
      insertCode.run(rowid, partitionOf(metadata), BigInt(Number(rowid % BigInt(shardCount))), vector);
    },
    remove(rowid) {
      deleteRescore.run(rowid);
      deleteCode.run(rowid);
    },
    search(query, k, filter, oversample) {
      const agent = filter?.[partitionField];
      const hasFilter = filter !== undefined && Object.keys(filter).length > 0;
      for (let perShard = Math.min(maxKnn, Math.ceil((k * oversample) / shardCount)); ; perShard = Math.min(maxKnn, perShard * 4)) {
        const candidates: string[] = [];
        let exhausted = true;
        for (let shard = 0; shard < shardCount; shard += 1) {
          const found = typeof agent === 'string' ? nearestCodesOfAgent.all(query, perShard, shard, agent) : nearestCodes.all(query, perShard, shard);
          if (found.length === perShard) exhausted = false;
          for (const rowid of found) candidates.push(rowid.toString());
        }
        const rows = candidates.length === 0 ? [] : rescore.all(query, `[${candidates.join(',')}]`);
        // The partition narrows by agent ('' also holds items without a string agent), so every field is re-checked.
        const matching = !hasFilter ? rows : rows.filter((row) => matches(JSON.parse(row.metadata) as VectorMetadata, filter as VectorFilter));
        // Exhausted: every code in scope was a candidate, so the re-scored answer is the exact one.
        if (matching.length >= k || exhausted) return matching.slice(0, k);
        if (perShard === maxKnn) return undefined;
      }
    },
  };
}

function matches(metadata: VectorMetadata, filter: VectorFilter): boolean {
  return Object.entries(filter).every(([key, value]) => metadata[key] === value);
}
