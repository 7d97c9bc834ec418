import { resolve } from 'node:path';
import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import type { Model } from '../spec/model.ts';
import type { SessionLeaseStore } from '../spec/session-lease.ts';
import type { ProviderLimitStore } from '../spec/provider-limits.ts';
import { checkSchemaName, describeDatabaseUrl } from '../store/index.ts';
import type { BackgroundCheckpointOptions, SqliteSynchronous } from '../store/index.ts';
import { systemClock } from '../util/index.ts';
import { defaultLeaseTtlMs } from './leased-run.ts';
import type { KeelOptions } from './keel-options.ts';

/** Where sessions are kept, decided once: each kind has one backend factory (backends.ts). */
export type StorageConfig =
  | { readonly kind: 'sqlite'; readonly path: string; readonly synchronous?: SqliteSynchronous; readonly backgroundCheckpoints?: BackgroundCheckpointOptions | boolean }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema?: string; readonly maxConnections?: number }
  | { readonly kind: 'memory' }
  | { readonly kind: 'given'; readonly journal: Journal; readonly blobs: BlobStore };

/** The options and the environment resolved and validated: everything createKeel builds from. */
export interface KeelConfig {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly clock: Clock;
  readonly storage: StorageConfig;
  readonly leases: SessionLeaseStore | undefined;
  readonly leaseTtlMs: number;
  readonly modelRetries: number;
  /** Models by the names runs and sessions refer to them: `models` from the options. */
  readonly models: ReadonlyMap<string, Model>;
  readonly auditSigningKey: string | undefined;
  /** Where the model limiter keeps its buckets and queues (backends.ts builds it), or off. */
  readonly limitStore: LimitStoreConfig;
}

export type LimitStoreConfig =
  | { readonly kind: 'off' }
  | { readonly kind: 'memory' }
  | { readonly kind: 'redis'; readonly url: string }
  | { readonly kind: 'given'; readonly store: ProviderLimitStore };

/**
 * Argument, then environment variable, then default, in one place; options that cannot take effect together are
 * rejected here with the reason instead of one silently winning.
 */
export function resolveKeelConfig(options: KeelOptions): KeelConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  rejectConflicts(options);
  const storage = storageOf(options, env, cwd);
  for (const name of ['synchronous', 'backgroundCheckpoints'] as const) {
    if (options[name] !== undefined && storage.kind !== 'sqlite') {
      throw conflict(`${name} was given, but sessions are not kept in a SQLite file here (${storage.kind === 'memory' ? 'database :memory:' : storage.kind === 'postgres' ? 'PostgreSQL' : 'a journal given directly'}): it would not take effect; drop it, or give a database file.`);
    }
  }
  return {
    env,
    cwd,
    clock: options.clock ?? systemClock,
    storage,
    leases: options.leases,
    leaseTtlMs: positiveInteger('leaseTtlMs', options.leaseTtlMs ?? defaultLeaseTtlMs, 100),
    modelRetries: positiveInteger('modelRetries', options.modelRetries ?? 4, 0),
    models: modelRegistry(options.models),
    auditSigningKey: nonEmpty(env.KEEL_AUDIT_SIGNING_KEY),
    limitStore: limitStoreOf(options.modelLimits, env),
  };
}

function limitStoreOf(modelLimits: KeelOptions['modelLimits'], env: KeelConfig['env']): LimitStoreConfig {
  if (modelLimits === false) return { kind: 'off' };
  if (modelLimits?.store !== undefined && modelLimits.redisUrl !== undefined) {
    throw conflict('modelLimits.store and modelLimits.redisUrl were both given: the limiter keeps its buckets in one store; drop one of them.');
  }
  if (modelLimits?.store !== undefined) return { kind: 'given', store: modelLimits.store };
  const url = modelLimits?.redisUrl ?? nonEmpty(env.KEEL_REDIS_URL);
  if (url === undefined) return { kind: 'memory' };
  if (!/^rediss?:\/\//.test(url)) throw new KeelError('invalid-config', `The Redis URL for the model limiter must start with redis:// or rediss://, got '${url.slice(0, 80)}' (modelLimits.redisUrl or KEEL_REDIS_URL).`);
  return { kind: 'redis', url };
}

function storageOf(options: KeelOptions, env: KeelConfig['env'], cwd: string): StorageConfig {
  if (options.journal !== undefined && options.blobs !== undefined) return { kind: 'given', journal: options.journal, blobs: options.blobs };
  const postgres = postgresStorageOf(options, env);
  if (postgres !== undefined) return postgres;
  const database = options.database ?? nonEmpty(env.KEEL_DB) ?? resolve(cwd, '.keel', 'keel.db');
  if (database === ':memory:') return { kind: 'memory' };
  const { synchronous, backgroundCheckpoints } = options;
  return { kind: 'sqlite', path: resolve(cwd, database), ...(synchronous === undefined ? {} : { synchronous }), ...(backgroundCheckpoints === undefined ? {} : { backgroundCheckpoints }) };
}

/** `storage` from the options, else KEEL_DATABASE_URL unless a SQLite `database` was given as an argument. */
function postgresStorageOf(options: KeelOptions, env: KeelConfig['env']): StorageConfig | undefined {
  if (options.storage !== undefined) {
    if (options.storage.kind !== 'postgres') throw new KeelError('invalid-config', `storage.kind must be 'postgres', got '${String(options.storage.kind)}'; for SQLite give \`database\`.`);
    describeDatabaseUrl(options.storage.url, checkSchemaName(options.storage.schema ?? 'public'));
    return { ...options.storage };
  }
  const url = options.database === undefined ? nonEmpty(env.KEEL_DATABASE_URL) : undefined;
  if (url === undefined) return undefined;
  if (nonEmpty(env.KEEL_DB) !== undefined) {
    throw new KeelError('invalid-config', 'KEEL_DB and KEEL_DATABASE_URL are both set: sessions live in one database; unset KEEL_DB to use PostgreSQL, or KEEL_DATABASE_URL to use the SQLite file.');
  }
  const schema = nonEmpty(env.KEEL_DATABASE_SCHEMA);
  describeDatabaseUrl(url, checkSchemaName(schema ?? 'public'));
  return { kind: 'postgres', url, ...(schema === undefined ? {} : { schema }) };
}

/** The pipeline options `toolPipeline` replaces: given together, they would be ignored. */
const pipelineOptions = ['policy', 'rateLimits', 'redaction', 'outputDetectors', 'idempotency'] as const;

function rejectConflicts(options: KeelOptions): void {
  if (options.toolPipeline !== undefined) {
    const ignored = pipelineOptions.filter((name) => options[name] !== undefined);
    if (ignored.length > 0) {
      throw conflict(`toolPipeline replaces the tool pipeline that ${ignored.join(', ')} ${ignored.length === 1 ? 'configures' : 'configure'}; pass ${ignored.length === 1 ? 'it' : 'them'} to your own pipeline's stages, or drop toolPipeline.`);
    }
  }
  if ((options.journal === undefined) !== (options.blobs === undefined)) {
    const given = options.journal === undefined ? 'blobs' : 'journal';
    throw conflict(`${given} was given without ${given === 'journal' ? 'blobs' : 'journal'}: a session's events and the blobs they name must live in one backend; give both, or neither (and a database).`);
  }
  if (options.storage !== undefined && (options.database !== undefined || options.journal !== undefined)) {
    throw conflict(`storage and ${options.database !== undefined ? 'database' : 'journal/blobs'} were both given: sessions live in one backend; drop one of them.`);
  }
  if (options.journal !== undefined && options.database !== undefined) {
    throw conflict('database and journal/blobs were both given: with journal and blobs given directly the database is not used; drop one of them.');
  }
  if (options.journal !== undefined && options.leases === undefined && options.leaseTtlMs !== undefined) {
    throw conflict('leaseTtlMs was given for a journal given directly without leases: pass the leases store that goes with that journal, or drop leaseTtlMs.');
  }
}

function modelRegistry(models: KeelOptions['models']): ReadonlyMap<string, Model> {
  const registry = new Map<string, Model>();
  for (const [name, model] of Object.entries(models ?? {})) {
    if (name.trim() === '' || name.includes(':')) {
      throw new KeelError('invalid-config', `models: "${name}" cannot name a model: names are non-empty and contain no ":" (which marks provider specs such as openai:gpt-4.1).`);
    }
    registry.set(name, model);
  }
  return registry;
}

function positiveInteger(name: string, value: number, minimum: number): number {
  if (!Number.isInteger(value) || value < minimum) throw new KeelError('invalid-config', `${name} must be an integer of at least ${minimum}, got ${String(value)}.`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function conflict(message: string): KeelError {
  return new KeelError('invalid-config', `Conflicting createKeel options: ${message}`);
}
