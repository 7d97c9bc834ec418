import { KeelError } from '../errors/index.ts';
import { migratePostgres } from '../store/postgres/index.ts';
import type { PostgresDatabase, PostgresMigration } from '../store/postgres/index.ts';
import { guardedQuery } from '../store/postgres/postgres-database.ts';
import { checkedRoles, hashApiKey, keyIdOf, keyMatches, LastUsedThrottle, newKey, principalOf, toView } from './api-keys.ts';
import type { ApiKeyStore, KeyRow } from './api-keys.ts';
import { pageFilter, toOwner } from './session-owners.ts';
import type { OwnerRow, SessionOwners } from './session-owners.ts';

/**
 * The server's tables in PostgreSQL, beside the journal (component `server` of `schema_migrations`): API keys
 * (hashes only) and the tenant that owns each session the API started. Every server process on the database shares
 * them, so a key created or revoked through one is seen by all, and any of them serves any tenant's sessions.
 */
export const postgresServerMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'api keys and session owners',
    sql: `
      CREATE TABLE server_api_keys (
        id text PRIMARY KEY,
        hash text NOT NULL,
        name text NOT NULL,
        tenant text NOT NULL,
        roles text NOT NULL,
        created_at bigint NOT NULL,
        created_by text,
        revoked_at bigint,
        last_used_at bigint
      );
      CREATE INDEX server_api_keys_by_tenant ON server_api_keys (tenant, created_at, id);
      CREATE TABLE server_sessions (
        session_id text PRIMARY KEY,
        tenant text NOT NULL,
        agent text NOT NULL,
        key_id text,
        priority text NOT NULL,
        created_at bigint NOT NULL,
        ended_status text
      );
      CREATE INDEX server_sessions_by_tenant ON server_sessions (tenant, created_at DESC, session_id DESC);
    `,
  },
];

export const postgresServerComponent = 'server';

// bigint columns come back from pg as strings; as float8 they are numbers (epoch milliseconds are exact in a double).
const keyColumns = 'id, hash, name, tenant, roles, created_at::float8 AS created_at, created_by, revoked_at::float8 AS revoked_at, last_used_at::float8 AS last_used_at';
const ownerColumns = 'session_id, tenant, agent, key_id, priority, created_at::float8 AS created_at, ended_status';

/** Migrates the server's tables once, before the first statement; a failed migration is tried again by the next one. */
export function postgresServerQueries(database: PostgresDatabase): <T>(action: string, work: () => Promise<T>) => Promise<T> {
  let migrated: Promise<unknown> | undefined;
  return async (action, work) => {
    migrated ??= migratePostgres(database, postgresServerComponent, postgresServerMigrations).catch((error: unknown) => {
      migrated = undefined;
      throw error;
    });
    await migrated;
    return guardedQuery(database, action, work);
  };
}

type Run = ReturnType<typeof postgresServerQueries>;

export function createPostgresApiKeyStore(database: PostgresDatabase, run: Run, now: () => number = Date.now): ApiKeyStore {
  const lastUsed = new LastUsedThrottle();
  const byId = async (id: string): Promise<KeyRow | undefined> => (await database.query<KeyRow>(`SELECT ${keyColumns} FROM server_api_keys WHERE id = $1`, [id])).rows[0];
  return {
    create: (options) =>
      run('creating an API key', async () => {
        const roles = checkedRoles(options.roles);
        const { id, key } = newKey(now);
        await database.query('INSERT INTO server_api_keys (id, hash, name, tenant, roles, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)', [id, hashApiKey(key), options.name, options.tenant, JSON.stringify(roles), now(), options.createdBy]);
        return { key, view: toView((await byId(id)) as KeyRow) };
      }),
    authenticate: (presented) =>
      run('checking an API key', async () => {
        const keyId = keyIdOf(presented);
        if (keyId === null) return null;
        const row = await byId(keyId);
        if (row === undefined || !keyMatches(row, presented)) return null;
        const at = now();
        if (lastUsed.due(row.id, at)) {
          // A hint only: a failed write is dropped rather than failing the request.
          database.query('UPDATE server_api_keys SET last_used_at = $1 WHERE id = $2', [at, row.id]).catch(() => lastUsed.failed(row.id));
        }
        return principalOf(row);
      }),
    list: (tenant) =>
      run('listing API keys', async () => {
        const rows = tenant === undefined
          ? await database.query<KeyRow>(`SELECT ${keyColumns} FROM server_api_keys ORDER BY created_at, id`)
          : await database.query<KeyRow>(`SELECT ${keyColumns} FROM server_api_keys WHERE tenant = $1 ORDER BY created_at, id`, [tenant]);
        return rows.rows.map(toView);
      }),
    revoke: (keyId, tenant) =>
      run(`revoking API key ${keyId}`, async () => {
        const existing = await byId(keyId);
        if (existing === undefined || (tenant !== undefined && existing.tenant !== tenant)) return null;
        await database.query('UPDATE server_api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [now(), keyId]);
        const row = await byId(keyId);
        return row === undefined ? null : toView(row);
      }),
    countAdmins: () =>
      run('counting admin keys', async () => {
        const rows = await database.query<{ count: number }>(`SELECT COUNT(*)::int AS count FROM server_api_keys WHERE revoked_at IS NULL AND roles LIKE '%"admin"%'`);
        return rows.rows[0]?.count ?? 0;
      }),
  };
}

export function createPostgresSessionOwners(database: PostgresDatabase, run: Run): SessionOwners {
  return {
    record: (owner) =>
      run(`recording the owner of session ${owner.sessionId}`, async () => {
        const inserted = await database.query(
          'INSERT INTO server_sessions (session_id, tenant, agent, key_id, priority, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id) DO NOTHING',
          [owner.sessionId, owner.tenant, owner.agent, owner.keyId, owner.priority, owner.createdAt],
        );
        if (inserted.rowCount === 0) throw new KeelError('invalid-argument', `Session ${owner.sessionId} already exists.`);
      }),
    get: (sessionId) =>
      run(`reading the owner of session ${sessionId}`, async () => {
        const row = (await database.query<OwnerRow>(`SELECT ${ownerColumns} FROM server_sessions WHERE session_id = $1`, [sessionId])).rows[0];
        return row === undefined ? undefined : toOwner(row);
      }),
    markEnded: (sessionId, status) =>
      run(`recording the end of session ${sessionId}`, async () => {
        await database.query('UPDATE server_sessions SET ended_status = $1 WHERE session_id = $2 AND ended_status IS NULL', [status, sessionId]);
      }),
    page: (query) =>
      run('listing sessions', async () => {
        const { where, values } = pageFilter(query, (index) => `$${index}`);
        const sql = `SELECT ${ownerColumns} FROM server_sessions WHERE ${where} ORDER BY created_at DESC, session_id DESC LIMIT $${values.length + 1}`;
        return (await database.query<OwnerRow>(sql, [...values, query.limit])).rows.map(toOwner);
      }),
  };
}
