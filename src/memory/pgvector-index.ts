import { KeelError } from '../errors/index.ts';
import type { VectorFilter, VectorIndex, VectorItem, VectorMatch, VectorMetadata } from './memory-types.ts';
import { checkFilterKeys, checkPositiveInteger, toVector } from './vector-math.ts';

/** What both a `pg` Pool or Client and PGlite offer. */
export interface SqlClient {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

export interface PgvectorIndexOptions {
  readonly client: SqlClient;
  readonly dimensions: number;
  /** Defaults to `keel_vectors`. */
  readonly table?: string;
  /** Runs `CREATE EXTENSION IF NOT EXISTS vector` and creates the table. Defaults to true; turn off where a migration tool owns the schema. */
  readonly setup?: boolean;
  /**
   * The schema pgvector is installed in, when it is not on the connection's search path (installed in `public`,
   * Keel's tables in another schema): its type and operator are then named with the schema.
   */
  readonly extensionSchema?: string;
}

const tablePattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const batchSize = 500;

/**
 * Vectors in PostgreSQL with pgvector: a `vector(d)` column ordered by `<=>` (cosine distance), metadata as jsonb
 * filtered with `@>`. Without an ANN index the scan is exact; an HNSW index (`USING hnsw (embedding vector_cosine_ops)`)
 * trades recall for speed and is the operator's choice.
 */
export async function createPgvectorIndex(options: PgvectorIndexOptions): Promise<VectorIndex> {
  const { client, dimensions } = options;
  checkPositiveInteger(dimensions, 'dimensions', 'invalid-config');
  const table = options.table ?? 'keel_vectors';
  if (!tablePattern.test(table)) throw new KeelError('invalid-config', `table "${table}" must match ${tablePattern}.`);
  const extensionSchema = options.extensionSchema;
  if (extensionSchema !== undefined && !tablePattern.test(extensionSchema)) throw new KeelError('invalid-config', `extensionSchema "${extensionSchema}" must match ${tablePattern}.`);
  const vectorType = extensionSchema === undefined ? 'vector' : `${extensionSchema}.vector`;
  const cosineDistance = extensionSchema === undefined ? '<=>' : `OPERATOR(${extensionSchema}.<=>)`;
  const query = async <Row>(action: string, sql: string, params?: unknown[]): Promise<Row[]> => {
    try {
      return (await client.query(sql, params)).rows as Row[];
    } catch (error) {
      if (error instanceof KeelError) throw error;
      throw new KeelError('storage-failure', `PostgreSQL failed while ${action} in the pgvector index ${table}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
        details: { table, action },
      });
    }
  };

  if (options.setup ?? true) {
    await query('creating the extension', `CREATE EXTENSION IF NOT EXISTS vector${extensionSchema === undefined ? '' : ` SCHEMA ${extensionSchema}`}`);
    await query(
      'creating the table',
      `CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, embedding ${vectorType}(${dimensions}) NOT NULL, metadata jsonb NOT NULL DEFAULT '{}'::jsonb)`,
    );
  }
  const [column] = await query<{ atttypmod: number }>(
    'reading the table',
    `SELECT atttypmod FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'embedding'`,
    [table],
  );
  if (column === undefined || Number(column.atttypmod) !== dimensions) {
    throw new KeelError('invalid-config', `The pgvector table ${table} holds vectors of ${column?.atttypmod ?? 'no'} dimensions, not ${dimensions}.`);
  }
  let closed = false;
  function ensureOpen(): void {
    if (closed) throw new KeelError('invalid-argument', `The pgvector index ${table} is closed.`);
  }

  return {
    dimensions,
    async upsert(items: readonly VectorItem[]): Promise<void> {
      ensureOpen();
      const latest = new Map<string, { vector: Float32Array; metadata: VectorMetadata }>();
      for (const item of items) latest.set(item.id, { vector: toVector(item.vector, dimensions), metadata: item.metadata ?? {} });
      const entries = [...latest];
      for (let start = 0; start < entries.length; start += batchSize) {
        const batch = entries.slice(start, start + batchSize);
        const params: unknown[] = [];
        const rows = batch.map(([id, { vector, metadata }]) => {
          params.push(id, toLiteral(vector), JSON.stringify(metadata));
          const base = params.length - 3;
          return `($${base + 1}, $${base + 2}::${vectorType}, $${base + 3}::jsonb)`;
        });
        await query(
          'upserting',
          `INSERT INTO ${table} (id, embedding, metadata) VALUES ${rows.join(', ')}
           ON CONFLICT (id) DO UPDATE SET embedding = excluded.embedding, metadata = excluded.metadata`,
          params,
        );
      }
    },
    async search(vector: ArrayLike<number>, k: number, filter?: VectorFilter): Promise<VectorMatch[]> {
      ensureOpen();
      checkPositiveInteger(k, 'k');
      checkFilterKeys(filter);
      const literal = toLiteral(toVector(vector, dimensions, 'query vector'));
      const rows = await query<{ id: string; metadata: VectorMetadata; distance: number }>(
        'searching',
        `SELECT id, metadata, embedding ${cosineDistance} $1::${vectorType} AS distance FROM ${table}
          WHERE metadata @> $2::jsonb ORDER BY distance LIMIT $3`,
        [literal, JSON.stringify(filter ?? {}), k],
      );
      return rows.map((row) => ({ id: row.id, score: 1 - Number(row.distance), metadata: parseJson(row.metadata) }));
    },
    async delete(ids: readonly string[]): Promise<void> {
      ensureOpen();
      if (ids.length === 0) return;
      await query('deleting', `DELETE FROM ${table} WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))`, [JSON.stringify(ids)]);
    },
    async count(): Promise<number> {
      ensureOpen();
      const [row] = await query<{ count: number | string }>('counting', `SELECT count(*)::int AS count FROM ${table}`);
      return Number(row?.count ?? 0);
    },
    async close(): Promise<void> {
      // The client belongs to the caller.
      closed = true;
    },
  };
}

function toLiteral(vector: Float32Array): string {
  return `[${Array.from(vector).join(',')}]`;
}

function parseJson(value: unknown): VectorMetadata {
  return (typeof value === 'string' ? JSON.parse(value) : value) as VectorMetadata;
}
