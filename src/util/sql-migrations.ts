/*
 * The versioned migration runner of Keel's PostgreSQL tables. Both the session stores (store/postgres) and the
 * memory store (memory/) migrate with it; they are on the same level and may not import each other, so the runner
 * lives here and knows a database only by the structural interfaces below (a `pg` pool or PGlite wrapped by
 * `openPostgresDatabase` / `pgliteDatabase` is one). It throws no domain errors itself: a refusal is handed to the
 * caller's `refuse`, which builds the error its layer reports.
 */

/** One statement with `$1, $2, …` parameters, on a pool or inside a transaction. */
export interface SqlStatements {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ readonly rows: Row[]; readonly rowCount: number }>;
  /** Several statements separated by semicolons, without parameters. */
  exec(script: string): Promise<void>;
}

/** A database whose connections find Keel's tables in `schema`, with transactions on one connection. */
export interface MigratableSqlDatabase extends SqlStatements {
  /** The database without credentials, for messages. */
  readonly description: string;
  readonly schema: string;
  transaction<T>(work: (transaction: SqlStatements) => Promise<T>): Promise<T>;
}

/** One numbered step of a component's schema. */
export interface SqlMigration {
  /** From 1, without gaps; a released migration never changes, the next change is a new version. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** A data step after `sql`, in the same transaction: what SQL alone cannot compute (hashes, say). */
  readonly run?: (transaction: SqlStatements) => Promise<void>;
}

/** Why the runner refused to migrate, with a message a person can act on. */
export type MigrationRefusal =
  | {
      readonly kind: 'newer-schema';
      readonly message: string;
      readonly details: { readonly database: string; readonly component: string; readonly databaseVersion: number; readonly knownVersion: number };
    }
  | { readonly kind: 'misnumbered'; readonly message: string; readonly details: { readonly component: string; readonly position: number; readonly version: number } };

export interface MigrationRun {
  /** The tables' owner in `schema_migrations`: `journal`, `blobs`, `memory`, … */
  readonly component: string;
  readonly migrations: readonly SqlMigration[];
  /** Stop after this version (tests of upgrades from an earlier version). Default: the latest. */
  readonly upTo?: number;
  /** Builds the error thrown for a refusal (the caller's layer owns its error type). */
  readonly refuse: (refusal: MigrationRefusal) => Error;
}

// One key for every Keel process migrating any component of the database: migrations are rare and short.
export const migrationLockKey = 0x6b65656c; // "keel"

/**
 * Brings one component's tables up to `upTo`. Components share a schema but migrate independently, each with its own
 * version line in `schema_migrations`. Pending migrations run in one transaction under a transaction-scoped advisory
 * lock, so processes starting at once serialise and the later ones find the work done. A schema newer than the list
 * is refused. Returns the versions applied now.
 */
export async function applySqlMigrations(database: MigratableSqlDatabase, run: MigrationRun): Promise<readonly number[]> {
  const { component, migrations } = run;
  checkMigrationList(run);
  const latest = migrations.at(-1)?.version ?? 0;
  const upTo = run.upTo ?? latest;
  return database.transaction(async (transaction) => {
    await transaction.query('SELECT pg_advisory_xact_lock($1)', [migrationLockKey]);
    await createSchemaIfMissing(transaction, database.schema);
    await transaction.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
        component text NOT NULL,
        version integer NOT NULL,
        name text NOT NULL,
        applied_at bigint NOT NULL,
        PRIMARY KEY (component, version)
      )`,
    );
    const applied = await appliedVersions(transaction, component);
    const newest = Math.max(0, ...applied);
    if (newest > latest) {
      throw run.refuse({
        kind: 'newer-schema',
        message: `The ${component} tables in the ${database.description} are at schema version ${newest}, newer than this Keel knows (${latest}). Upgrade Keel to use this database.`,
        details: { database: database.description, component, databaseVersion: newest, knownVersion: latest },
      });
    }
    const appliedNow: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version) || migration.version > upTo) continue;
      await transaction.exec(migration.sql);
      await migration.run?.(transaction);
      await transaction.query('INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)', [
        component,
        migration.version,
        migration.name,
        Date.now(),
      ]);
      appliedNow.push(migration.version);
    }
    return appliedNow;
  });
}

/** The component's schema version in this database: 0 before its first migration. */
export async function sqlSchemaVersion(database: MigratableSqlDatabase, component: string): Promise<number> {
  const table = await database.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [`${database.schema}.schema_migrations`]);
  if (table.rows[0]?.present !== true) return 0;
  const result = await database.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations WHERE component = $1', [component]);
  return Number(result.rows[0]?.version ?? 0);
}

async function appliedVersions(transaction: SqlStatements, component: string): Promise<Set<number>> {
  const result = await transaction.query<{ version: number }>('SELECT version FROM schema_migrations WHERE component = $1', [component]);
  return new Set(result.rows.map((row) => Number(row.version)));
}

/** CREATE SCHEMA needs a privilege on the database that a user of an existing schema may lack: only when missing. */
async function createSchemaIfMissing(transaction: SqlStatements, schema: string): Promise<void> {
  const present = await transaction.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (present.rows.length === 0) await transaction.exec(`CREATE SCHEMA ${schema}`);
}

function checkMigrationList(run: MigrationRun): void {
  run.migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw run.refuse({
        kind: 'misnumbered',
        message: `Migrations of ${run.component} must be numbered 1, 2, 3… in order; position ${index + 1} has version ${migration.version}.`,
        details: { component: run.component, position: index + 1, version: migration.version },
      });
    }
  });
}
