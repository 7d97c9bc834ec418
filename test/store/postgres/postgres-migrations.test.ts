import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../../src/errors/index.ts';
import {
  createPostgresJournal,
  migratePostgres,
  openPostgresDatabase,
  postgresAuditMigrations,
  postgresBlobMigrations,
  postgresCallLogMigrations,
  postgresIdempotencyMigrations,
  postgresJournalMigrations,
  postgresSchemaVersion,
  postgresSessionLeaseMigrations,
} from '../../../src/store/postgres/index.ts';
import type { PostgresDatabase, PostgresMigration } from '../../../src/store/postgres/index.ts';
import { readAll, sampleSession } from '../../../src/testing/contracts/index.ts';
import { startPostgresServer, type PostgresServerProcess } from '../../helpers/postgres-server.ts';

let server: PostgresServerProcess;
let schemas = 0;
const opened: PostgresDatabase[] = [];
beforeAll(async () => {
  server = await startPostgresServer();
}, 60_000);
afterAll(async () => {
  for (const database of opened) await database.close();
  await server.stop();
});
function freshDatabase(): PostgresDatabase {
  schemas += 1;
  const database = openPostgresDatabase({ url: server.url, schema: `migrations_${schemas}`, maxConnections: 2 });
  opened.push(database);
  return database;
}

const components: readonly (readonly [string, readonly PostgresMigration[]])[] = [
  ['journal', postgresJournalMigrations],
  ['blobs', postgresBlobMigrations],
  ['session-leases', postgresSessionLeaseMigrations],
  ['idempotency', postgresIdempotencyMigrations],
  ['audit', postgresAuditMigrations],
  ['call-log', postgresCallLogMigrations],
];

/** Tables, columns, indexes, constraints and triggers of the schema: what two migration paths must agree on. */
async function shapeOf(database: PostgresDatabase): Promise<unknown> {
  const schema = database.schema;
  const columns = await database.query(
    `SELECT table_name, column_name, data_type, is_nullable, column_default, collation_name FROM information_schema.columns
      WHERE table_schema = $1 AND table_name <> 'schema_migrations' ORDER BY table_name, column_name`,
    [schema],
  );
  const indexes = await database.query(`SELECT tablename, indexname, replace(indexdef, $1, 'S') AS definition FROM pg_indexes WHERE schemaname = $2 ORDER BY indexname`, [`${schema}.`, schema]);
  const constraints = await database.query(
    `SELECT conrelid::regclass::text AS relation, conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
      WHERE connamespace = $1::regnamespace ORDER BY conname`,
    [schema],
  );
  const triggers = await database.query(`SELECT event_object_table, trigger_name, event_manipulation FROM information_schema.triggers WHERE trigger_schema = $1 ORDER BY 1, 2, 3`, [schema]);
  return JSON.parse(JSON.stringify({ columns: columns.rows, indexes: indexes.rows, triggers: triggers.rows, constraints: constraints.rows }).replaceAll(schema, 'S'));
}

describe('PostgreSQL schema migrations', () => {
  it('brings every component from every earlier version to the same schema as a fresh install', async () => {
    for (const [component, migrations] of components) {
      const latest = migrations.at(-1)!.version;
      const fresh = freshDatabase();
      expect(await migratePostgres(fresh, component, migrations)).toEqual(migrations.map((migration) => migration.version));
      const expected = await shapeOf(fresh);
      for (let from = 0; from < latest; from += 1) {
        const upgraded = freshDatabase();
        await migratePostgres(upgraded, component, migrations, from);
        expect(await postgresSchemaVersion(upgraded, component)).toBe(from);
        const applied = await migratePostgres(upgraded, component, migrations);
        expect(applied).toEqual(migrations.slice(from).map((migration) => migration.version));
        expect(await postgresSchemaVersion(upgraded, component), `${component} from version ${from}`).toBe(latest);
        expect(await shapeOf(upgraded), `${component} from version ${from}`).toEqual(expected);
      }
      expect(await migratePostgres(fresh, component, migrations)).toEqual([]);
    }
  });

  it('keeps a journal written at version 1 readable and appendable after the upgrade', async () => {
    const database = freshDatabase();
    await migratePostgres(database, 'journal', postgresJournalMigrations, 1);
    const early = createPostgresJournal({ database });
    const session = sampleSession('ses_old');
    // A store migrates to its latest on first use: write at version 1 by hand, as an older Keel did.
    await database.query(
      `INSERT INTO events (session_id, seq, type, at, body, key_id, hash) SELECT 'ses_old', s, 'x', 0, b, NULL, 'h' FROM unnest($1::bigint[], $2::text[]) AS t(s, b)`,
      [session.slice(0, 3).map((event) => event.seq), session.slice(0, 3).map((event) => JSON.stringify(event))],
    );
    await database.query(`INSERT INTO sessions (session_id, agent, started_at, updated_at, last_seq, status, head_hash) VALUES ('ses_old', 'support-agent', $1, $2, 3, NULL, 'h')`, [
      session[0]!.at,
      session[2]!.at,
    ]);
    expect(await readAll(early, 'ses_old')).toEqual(session.slice(0, 3));
    expect(await postgresSchemaVersion(database, 'journal')).toBe(postgresJournalMigrations.length);
    expect(await early.append('ses_old', session.slice(3), 3)).toBe(session.length);
    expect(await readAll(early, 'ses_old')).toEqual(session);
    await early.close();
  });

  it('refuses a schema newer than this Keel knows, naming both versions', async () => {
    const database = freshDatabase();
    await migratePostgres(database, 'blobs', postgresBlobMigrations);
    await database.query("INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ('blobs', 99, 'from the future', 0)");
    const error = await migratePostgres(database, 'blobs', postgresBlobMigrations).catch((reason: unknown) => reason);
    expect(isKeelError(error, 'storage-failure')).toBe(true);
    expect((error as Error).message).toMatch(/schema version 99, newer than this Keel knows \(1\)/);
  });

  it('applies each migration once when several processes start at the same moment', async () => {
    schemas += 1;
    const schema = `migrations_${schemas}`;
    const pools = Array.from({ length: 4 }, () => openPostgresDatabase({ url: server.url, schema, maxConnections: 1 }));
    opened.push(...pools);
    const applied = await Promise.all(pools.map((pool) => migratePostgres(pool, 'journal', postgresJournalMigrations)));
    expect(applied.flat().sort()).toEqual(postgresJournalMigrations.map((migration) => migration.version));
    const rows = await pools[0]!.query<{ count: string }>("SELECT count(*) AS count FROM schema_migrations WHERE component = 'journal'");
    expect(Number(rows.rows[0]?.count)).toBe(postgresJournalMigrations.length);
  });

  it('rejects a migration list with a gap as a programming error', async () => {
    const error = await migratePostgres(freshDatabase(), 'broken', [{ version: 2, name: 'skips one', sql: 'SELECT 1' }]).catch((reason: unknown) => reason);
    expect(isKeelError(error, 'internal')).toBe(true);
  });
});
