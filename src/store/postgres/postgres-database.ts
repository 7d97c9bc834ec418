import { createRequire } from 'node:module';
import type * as PgModule from 'pg';
import type { Pool, PoolClient } from 'pg';
import { KeelError } from '../../errors/index.ts';
import { toPostgresFailure } from './postgres-failure.ts';

/** Rows and how many rows a statement returned or changed. */
export interface SqlResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number;
}

/** One statement with `$1, $2, …` parameters, on a pool or inside a transaction. */
export interface SqlExecutor {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<SqlResult<Row>>;
  /** Several statements separated by semicolons, without parameters (migrations). */
  exec(script: string): Promise<void>;
}

/**
 * A PostgreSQL database as Keel's stores use it: a connection pool (or one PGlite instance) whose connections
 * find Keel's tables in `schema`. Several stores may share one; the one that created it closes it.
 */
export interface PostgresDatabase extends SqlExecutor {
  /** The database without credentials, for messages: "PostgreSQL database keel on 127.0.0.1:5432 (schema public)". */
  readonly description: string;
  readonly schema: string;
  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (transaction: SqlExecutor) => Promise<T>): Promise<T>;
  /** Closes the pool (PGlite: closes nothing, the instance belongs to the caller). Safe to call twice. */
  close(): Promise<void>;
}

export interface PostgresConnectionOptions {
  /** `postgres://user:password@host:5432/database`; KEEL_DATABASE_URL in the composition root. */
  readonly url: string;
  /**
   * The schema that holds Keel's tables, created if missing. Default `public`. Give each application (or test)
   * its own to keep several Keel installations in one database apart.
   */
  readonly schema?: string;
  /** Connections in the pool. Default 10; each Keel process holds up to this many on the server. */
  readonly maxConnections?: number;
  /** How long an operation waits for a connection before failing with a retryable `storage-failure`. Default 10 s. */
  readonly connectionTimeoutMs?: number;
}

const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks a schema name before it is written into SQL: lower-case letters, digits and underscores only. */
export function checkSchemaName(schema: string): string {
  if (!schemaPattern.test(schema)) {
    throw new KeelError('invalid-config', `The PostgreSQL schema name "${schema.slice(0, 80)}" must be lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters.`);
  }
  return schema;
}

/** The URL's host, port and database, never its password. */
export function describeDatabaseUrl(url: string, schema: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KeelError('invalid-config', 'The PostgreSQL URL is not a URL: write it as postgres://user:password@host:5432/database (KEEL_DATABASE_URL or storage.url).');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new KeelError('invalid-config', `The PostgreSQL URL must start with postgres:// or postgresql://, got ${parsed.protocol}// (KEEL_DATABASE_URL or storage.url).`);
  }
  const name = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(the user\'s default)';
  return `PostgreSQL database ${name} on ${parsed.host || 'the local socket'} (schema ${schema})`;
}

/**
 * Opens a connection pool. Connections are made on first use, so this returns at once and a server that is down
 * shows up as a retryable `storage-failure` of the first operation.
 */
export function openPostgresDatabase(options: PostgresConnectionOptions): PostgresDatabase {
  const schema = checkSchemaName(options.schema ?? 'public');
  const description = describeDatabaseUrl(options.url, schema);
  const maxConnections = options.maxConnections ?? 10;
  if (!(Number.isInteger(maxConnections) && maxConnections >= 1)) throw new KeelError('invalid-config', `maxConnections must be a positive integer, got ${maxConnections}.`);
  // pg (CommonJS) is loaded by the first PostgreSQL store only: a process on SQLite never pays for it.
  const pg = createRequire(import.meta.url)('pg') as typeof PgModule;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: maxConnections,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    // Every connection resolves Keel's tables in its schema, so statements need not name it.
    options: `-c search_path=${schema}`,
  });
  // An idle connection the server closed (a restart) is reported here; without a listener it would crash the
  // process. The pool drops it, and the next operation opens a new one.
  pool.on('error', () => undefined);
  let closed: Promise<void> | undefined;
  const executor = (client: Pool | PoolClient): SqlExecutor => ({
    async query<Row>(sql: string, params?: readonly unknown[]) {
      const result = await client.query(sql, params === undefined ? undefined : [...params]);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(script) {
      await client.query(script);
    },
  });
  return {
    ...executor(pool),
    description,
    schema,
    async transaction(work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(executor(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        throw error;
      } finally {
        // A connection whose rollback failed is in an unknown state: destroy it rather than reuse it.
        client.release(broken);
      }
    },
    close() {
      closed ??= pool.end();
      return closed;
    },
  };
}

/** What Keel uses of a PGlite instance (`@electric-sql/pglite`), so the store does not depend on the package. */
export interface PgliteLike {
  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[]; affectedRows?: number }>;
  exec(sql: string): Promise<unknown>;
  transaction<T>(work: (transaction: PgliteTransactionLike) => Promise<T>): Promise<T>;
}

export interface PgliteTransactionLike {
  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[]; affectedRows?: number }>;
  exec(sql: string): Promise<unknown>;
}

/**
 * Wraps a PGlite instance (PostgreSQL compiled to WebAssembly, in this process) as a `PostgresDatabase`: the same
 * stores and migrations run on it, in tests or in a single-process application. Keel's tables go in `schema`
 * (default `public`); closing the database leaves the instance open for its owner.
 */
export function pgliteDatabase(instance: PgliteLike, options: { readonly schema?: string } = {}): PostgresDatabase {
  const schema = checkSchemaName(options.schema ?? 'public');
  // PGlite is one connection, which several wrappers with different schemas may share: every statement runs in a
  // transaction (PGlite runs one at a time) that sets its own search_path, so none sees another's tables.
  const scoped = <T>(work: (transaction: PgliteTransactionLike) => Promise<T>): Promise<T> =>
    instance.transaction(async (transaction) => {
      await transaction.exec(`SET LOCAL search_path TO ${schema}`);
      return work(transaction);
    });
  const executor = (client: PgliteTransactionLike): SqlExecutor => ({
    async query<Row>(sql: string, params?: readonly unknown[]) {
      const result = await client.query<Row>(sql, params === undefined ? undefined : [...params]);
      return { rows: result.rows, rowCount: result.affectedRows !== undefined && result.affectedRows > 0 ? result.affectedRows : result.rows.length };
    },
    async exec(script) {
      await client.exec(script);
    },
  });
  return {
    query: (sql, params) => scoped((transaction) => executor(transaction).query(sql, params)),
    exec: (script) => scoped((transaction) => executor(transaction).exec(script)),
    description: `PGlite database (schema ${schema})`,
    schema,
    transaction: (work) => scoped((transaction) => work(executor(transaction))),
    async close() {
      // The instance belongs to the caller.
    },
  };
}

/** Runs `work`, turning anything the driver throws into a `storage-failure` naming the database and the action. */
export async function guardedQuery<T>(database: PostgresDatabase, action: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toPostgresFailure(error, { database: database.description, action });
  }
}
