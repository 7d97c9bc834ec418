import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { KeelError } from '../errors/index.ts';
import type { SqliteDatabase } from '../store/index.ts';
import { writeWhenFree } from './server-database.ts';
import { createId } from '../util/index.ts';
import { apiRoles } from './api-schemas.ts';
import type { ApiRole, KeyView } from './api-schemas.ts';

/** Who is calling: the key's id and name, its tenant and roles. */
export interface ApiPrincipal {
  readonly keyId: string;
  readonly name: string;
  readonly tenant: string;
  readonly roles: readonly ApiRole[];
}

export interface KeyRow {
  readonly id: string;
  readonly hash: string;
  readonly name: string;
  readonly tenant: string;
  readonly roles: string;
  readonly created_at: number;
  readonly created_by: string | null;
  readonly revoked_at: number | null;
  readonly last_used_at: number | null;
}

/** What a new key is given. */
export interface KeyCreation {
  readonly name: string;
  readonly tenant: string;
  readonly roles: readonly ApiRole[];
  readonly createdBy: string | null;
}

/**
 * API keys: `keel_<id>_<secret>`, 256 random bits of secret; only the SHA-256 of the whole key is stored, in the
 * journal's database (SQLite or PostgreSQL), so every server process on that database sees the same keys.
 */
export interface ApiKeyStore {
  create(options: KeyCreation): Promise<{ key: string; view: KeyView }>;
  /** The principal of a presented key, or null for an unknown, malformed or revoked one. */
  authenticate(presented: string): Promise<ApiPrincipal | null>;
  /** Every key, or only those of `tenant`. */
  list(tenant?: string): Promise<KeyView[]>;
  /** Revokes a key; with `tenant`, only a key of that tenant (another tenant's key answers null, as an unknown one). */
  revoke(keyId: string, tenant?: string): Promise<KeyView | null>;
  /** Keys that are not revoked and hold `admin`. */
  countAdmins(): Promise<number>;
}

const keyPattern = /^keel_(key_[0-9a-z]{26})_([A-Za-z0-9_-]{43})$/;

/** The key id inside a presented key, or null when it is not shaped like a key. */
export function keyIdOf(presented: string): string | null {
  return keyPattern.exec(presented)?.[1] ?? null;
}

/** The checked roles of a new key; at least one, each known. */
export function checkedRoles(roles: readonly ApiRole[]): ApiRole[] {
  const unique = [...new Set(roles)];
  for (const role of unique) if (!apiRoles.includes(role)) throw new KeelError('invalid-argument', `Unknown role "${role}"; roles are ${apiRoles.join(', ')}.`);
  if (unique.length === 0) throw new KeelError('invalid-argument', `A key needs at least one role: ${apiRoles.join(', ')}.`);
  return unique;
}

/** A new key and its id: the secret part is 256 random bits. */
export function newKey(now: () => number): { id: string; key: string } {
  const id = createId('key', now());
  return { id, key: `keel_${id}_${randomBytes(32).toString('base64url')}` };
}

/** Whether `presented` hashes to the stored hash, compared in constant time. */
export function keyMatches(row: KeyRow, presented: string): boolean {
  if (row.revoked_at !== null) return false;
  const expected = Buffer.from(row.hash, 'hex');
  const actual = Buffer.from(hashApiKey(presented), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** last_used_at is a hint for people, not an audit record: written at most once a minute per key. */
export class LastUsedThrottle {
  private readonly touched = new Map<string, number>();

  /** Whether to write the key's last use now; `failed` forgets the mark so the next use writes again. */
  due(keyId: string, at: number): boolean {
    if ((this.touched.get(keyId) ?? 0) + 60_000 > at) return false;
    if (this.touched.size >= 10_000) this.touched.clear();
    this.touched.set(keyId, at);
    return true;
  }

  failed(keyId: string): void {
    this.touched.delete(keyId);
  }
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function createApiKeyStore(database: SqliteDatabase, now: () => number = Date.now): ApiKeyStore {
  const insert = database.prepare('INSERT INTO server_api_keys (id, hash, name, tenant, roles, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const byId = database.prepare<[string], KeyRow>('SELECT * FROM server_api_keys WHERE id = ?');
  const touch = database.prepare('UPDATE server_api_keys SET last_used_at = ? WHERE id = ?');
  const revoke = database.prepare('UPDATE server_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const all = database.prepare<[], KeyRow>('SELECT * FROM server_api_keys ORDER BY created_at, id');
  const ofTenant = database.prepare<[string], KeyRow>('SELECT * FROM server_api_keys WHERE tenant = ? ORDER BY created_at, id');
  const admins = database.prepare<[], { count: number }>("SELECT COUNT(*) AS count FROM server_api_keys WHERE revoked_at IS NULL AND roles LIKE '%\"admin\"%'");
  const lastUsed = new LastUsedThrottle();

  return {
    async create({ name, tenant, roles, createdBy }) {
      const unique = checkedRoles(roles);
      const { id, key } = newKey(now);
      await writeWhenFree(database, () => insert.run(id, hashApiKey(key), name, tenant, JSON.stringify(unique), now(), createdBy));
      return { key, view: toView(byId.get(id) as KeyRow) };
    },
    async authenticate(presented) {
      const keyId = keyIdOf(presented);
      if (keyId === null) return null;
      const row = byId.get(keyId);
      if (row === undefined || !keyMatches(row, presented)) return null;
      const at = now();
      // A hint only: a write that cannot get the lock is dropped rather than delaying the request.
      if (lastUsed.due(row.id, at)) writeWhenFree(database, () => touch.run(at, row.id)).catch(() => lastUsed.failed(row.id));
      return principalOf(row);
    },
    async list(tenant) {
      return (tenant === undefined ? all.all() : ofTenant.all(tenant)).map(toView);
    },
    async revoke(keyId, tenant) {
      const existing = byId.get(keyId);
      if (existing === undefined || (tenant !== undefined && existing.tenant !== tenant)) return null;
      await writeWhenFree(database, () => revoke.run(now(), keyId));
      const row = byId.get(keyId);
      return row === undefined ? null : toView(row);
    },
    async countAdmins() {
      return admins.get()?.count ?? 0;
    },
  };
}

export function principalOf(row: KeyRow): ApiPrincipal {
  return { keyId: row.id, name: row.name, tenant: row.tenant, roles: parseRoles(row.roles) };
}

function parseRoles(text: string): ApiRole[] {
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? parsed.filter((role): role is ApiRole => apiRoles.includes(role as ApiRole)) : [];
}

/** Timestamps arrive as numbers from SQLite and as strings from PostgreSQL's bigint. */
export function toView(row: KeyRow): KeyView {
  return {
    id: row.id,
    name: row.name,
    tenant: row.tenant,
    roles: parseRoles(row.roles),
    createdAt: Number(row.created_at),
    createdBy: row.created_by,
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

/** Whether a principal holds `role`; `admin` holds every role. */
export function hasRole(principal: ApiPrincipal, role: ApiRole): boolean {
  return principal.roles.includes(role) || principal.roles.includes('admin');
}
