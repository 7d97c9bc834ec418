import type { Clock } from '../spec/clock.ts';
import type { BlobStore } from '../spec/journal.ts';
import type { EncryptionOptions } from './encryption.ts';
import type { SessionLeaseStore } from '../spec/session-lease.ts';
import { createSqliteBlobStore } from './sqlite-blob-store.ts';
import { startBackgroundCheckpoints } from './sqlite-checkpointer.ts';
import type { BackgroundCheckpointOptions, BackgroundCheckpoints } from './sqlite-checkpointer.ts';
import { defaultBusyTimeoutMs, openSqliteDatabase } from './sqlite-database.ts';
import type { SqliteDatabase, SqliteSynchronous } from './sqlite-database.ts';
import { enableGroupCommit } from './sqlite-group-commit.ts';
import { createSqliteJournal } from './sqlite-journal.ts';
import { createSqliteSessionLeaseStore } from './sqlite-session-lease.ts';
import { toStorageFailure } from './storage-failure.ts';
import type { SqliteJournal } from './sqlite-journal.ts';

export interface SqliteStoreOptions {
  readonly path: string;
  readonly busyTimeoutMs?: number;
  /**
   * `normal` (the default): a commit survives a crash of the process; a power loss may undo the commits since the
   * last checkpoint. `full`: it also survives a power loss (one fsync per commit). See docs/storage.md.
   */
  readonly synchronous?: SqliteSynchronous;
  readonly clock?: Pick<Clock, 'now'>;
  /**
   * Whether writes other than journal appends (blobs, and the idempotency records and audit log created on
   * `database`) commit together with the next journal append instead of one by one. Defaults to true; see
   * sqlite-group-commit.ts for what it keeps.
   */
  readonly groupCommit?: boolean;
  /**
   * Encrypts event bodies and blobs at rest (AES-256-GCM). Defaults to KEEL_ENCRYPTION_KEY and
   * KEEL_ENCRYPTION_PREVIOUS_KEYS from the environment, none when unset; `false` turns it off. See docs/storage.md.
   */
  readonly encryption?: EncryptionOptions | false;
  /**
   * `true` or options: checkpoints the write-ahead log from a worker thread about every `intervalMs` (1 s), instead
   * of inside the commit that fills it, so that with `synchronous: 'normal'` a power loss can undo only about the last
   * interval of commits (a bounded window without a flush per commit). Off by default: on the benchmark it cost about
   * 8 % more CPU per turn (docs/storage.md). See sqlite-checkpointer.ts.
   */
  readonly backgroundCheckpoints?: BackgroundCheckpointOptions | boolean;
}

export interface SqliteStore {
  readonly journal: SqliteJournal;
  readonly blobs: BlobStore;
  /** One writer per session: take a session's lease here before appending to it. */
  readonly leases: SessionLeaseStore;
  readonly database: SqliteDatabase;
  /** The write-ahead log's checkpointer (its state says whether it runs). */
  readonly checkpoints: BackgroundCheckpoints;
  /** Closes the journal, the blob store, the lease store and the database. */
  close(): Promise<void>;
}

/**
 * The embedded default: journal, blobs and session leases in one database file, one connection. The
 * connection closes when the journal and the blobs have been closed, so a caller that only knows them
 * as `Journal` and `BlobStore` still releases the file.
 * @example
 * ```ts
 * const store = createSqliteStore({ path: '.keel/keel.db' });
 * const keel = createKeel({
 *   journal: store.journal,
 *   blobs: store.blobs,
 *   leases: store.leases,
 *   auditLog: createSqliteAuditLog({ database: store.database }),
 * });
 * await keel.run(agent, 'Where is order 1042?').result;
 * await store.close();
 * ```
 */
export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const database = openSqliteDatabase(options);
  const groupCommit = options.groupCommit === false ? undefined : enableGroupCommit(database);
  let journalImplementation: SqliteJournal;
  let blobImplementation: BlobStore;
  let leaseImplementation: SessionLeaseStore;
  let checkpoints: BackgroundCheckpoints;
  const clock = options.clock === undefined ? {} : { clock: options.clock };
  const encryption = options.encryption === undefined ? {} : { encryption: options.encryption };
  try {
    journalImplementation = createSqliteJournal({ database, ...encryption });
    blobImplementation = createSqliteBlobStore({ database, ...clock, ...encryption });
    leaseImplementation = createSqliteSessionLeaseStore({ database, ...clock });
    checkpoints = startBackgroundCheckpoints({ database, busyTimeoutMs: options.busyTimeoutMs ?? defaultBusyTimeoutMs, options: options.backgroundCheckpoints });
  } catch (error) {
    database.close();
    throw error;
  }
  let users = 2;
  const release = async (): Promise<void> => {
    users -= 1;
    if (users > 0) return;
    // Before the last commit and the close: the worker's final checkpoint must not race the connection's own.
    await checkpoints.stop();
    try {
      groupCommit?.flush();
    } catch (error) {
      throw toStorageFailure(error, { path: database.name, action: 'committing the last writes before closing' });
    } finally {
      database.close();
    }
  };
  const once = (close: () => Promise<void>): (() => Promise<void>) => {
    let closed = false;
    return async () => {
      if (closed) return;
      closed = true;
      await close();
      await release();
    };
  };
  const journal: SqliteJournal = { ...journalImplementation, close: once(() => journalImplementation.close()) };
  const blobs: BlobStore = { ...blobImplementation, close: once(() => blobImplementation.close()) };
  // Not counted as a user of the connection: a caller that closes the journal and the blobs releases the file,
  // as before leases existed, and the lease store then fails like any closed store.
  const leases = leaseImplementation;
  return {
    journal,
    blobs,
    leases,
    database,
    checkpoints,
    async close() {
      await journal.close();
      await blobs.close();
      await leases.close();
    },
  };
}
