import type { Statement } from 'better-sqlite3';
import { KeelError } from '../errors/index.ts';
import type { SqliteDatabase } from './sqlite-database.ts';

/**
 * Group commit for the stores that share one connection (journal, blobs, idempotency records, audit log).
 *
 * A commit is the expensive part of a small write: every page it touched goes to the write-ahead log again. So
 * writes share commits, in three kinds:
 * - *Queued* writes (journal appends): held until the end of the current turn of the event loop, then written
 *   together, each in a savepoint of its own, and committed in one transaction. Each caller's promise settles only
 *   after that commit: a session's append is acknowledged when it is on disk, and the sessions that appended in
 *   the same turn of the event loop share one commit. A session writing alone commits at once instead (it would
 *   only wait), so a single session pays no extra latency.
 * - *Deferred* writes (audit records): nothing depends on them being on disk before the journal event that follows
 *   them, so they run at once, inside a transaction that stays open, and commit with the next commit.
 * - *Held* writes (request blobs): like deferred ones, but kept in memory, not in an open transaction, until the
 *   next transaction opens (they run first in it) or at the latest `heldWritesMaxMs` later, in a commit of their
 *   own. A blob put before a slow model call then neither commits alone nor keeps the write lock during the call.
 * - *Durable* writes (idempotency records, leases, a synchronous append): committed before they return, with
 *   everything deferred or queued before them.
 *
 * What this keeps:
 * - A journal append is on disk (as far as the connection's synchronous level goes) when its promise resolves, and
 *   so is every deferred write made before it: a blob or an audit record is never missing behind an event that was
 *   acknowledged.
 * - A write's own error (a journal conflict, a constraint, a tampered audit chain) reaches its own caller only: it
 *   runs in a savepoint that is rolled back alone, and the other writes of the transaction commit.
 * - An error that ends the whole transaction (a full disk, I/O) fails the write that hit it; the queued writes the
 *   transaction had carried were not acknowledged yet, so they are written again in the next one.
 * - A failed COMMIT rejects exactly the queued writes it carried; the deferred writes it carried are run again, in
 *   order, at the start of the next transaction, before anything that could depend on them.
 * - Readers on the connection never see a queued write before its commit: it is written and committed in one
 *   synchronous step.
 *
 * The write lock is held from the first deferred write to the commit, which is at most until the event loop's
 * check phase; other processes wait for it within their busy timeout, as they would for any writer.
 */
export interface GroupCommit {
  /** Runs a write in the shared transaction (opening it if needed); it commits with the next commit or soon after. */
  deferred<T>(work: () => T): T;
  /**
   * Keeps a write for the next transaction, where it runs before anything else, or runs it in a commit of its own
   * after `heldWritesMaxMs`. Its errors surface there (they fail the write that opened the transaction). Until then
   * readers on the connection do not see it: the caller answers reads of it from memory.
   */
  held(work: () => void): void;
  /** Runs a write in the shared transaction and commits it, with every deferred and queued write before it, before returning. */
  durable<T>(work: () => T): T;
  /**
   * Holds a write for the next commit (at the latest at the end of this turn of the event loop), where it runs in
   * a savepoint of its own. Resolves with its result once that commit is done; rejects with its own error alone,
   * or with the error of the commit that carried it. `writer` names who writes (a session): a writer writing alone
   * commits at once, having nothing to share a commit with; once another writer writes in the same turn of the event
   * loop, writes are held until the turn's end and committed together.
   */
  queued<T>(work: () => T, writer: string): Promise<T>;
  /** Commits the deferred and queued writes now; throws when the commit fails (deferred writes are kept for the next transaction). */
  flush(): void;
}

const groupCommits = new WeakMap<SqliteDatabase, GroupCommit>();

/** How long a held write waits for a transaction to join before it commits on its own. */
export const heldWritesMaxMs = 100;

/** Turns group commit on for a connection; the stores created on it afterwards take part. Idempotent. */
export function enableGroupCommit(database: SqliteDatabase): GroupCommit {
  let groupCommit = groupCommits.get(database);
  if (groupCommit === undefined) {
    groupCommit = createGroupCommit(database);
    groupCommits.set(database, groupCommit);
  }
  return groupCommit;
}

/** The connection's group commit, or undefined when every write commits on its own (the default). */
export function groupCommitOf(database: SqliteDatabase): GroupCommit | undefined {
  return groupCommits.get(database);
}

interface QueuedWrite {
  readonly work: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** A queued write that ran in the open transaction and waits for its commit. */
interface CarriedWrite {
  readonly write: QueuedWrite;
  readonly value: unknown;
}

function statementsOf(database: SqliteDatabase): Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Statement> {
  return {
    begin: database.prepare('BEGIN IMMEDIATE'),
    commit: database.prepare('COMMIT'),
    rollback: database.prepare('ROLLBACK'),
    savepoint: database.prepare('SAVEPOINT keel_queued_write'),
    release: database.prepare('RELEASE keel_queued_write'),
    rollbackTo: database.prepare('ROLLBACK TO keel_queued_write'),
  };
}

function createGroupCommit(database: SqliteDatabase): GroupCommit {
  let statements: ReturnType<typeof statementsOf> | undefined;
  const sql = (): ReturnType<typeof statementsOf> => (statements ??= statementsOf(database));
  /** Whether the open transaction is this one's; a transaction someone else opened is left to them. */
  let own = false;
  let scheduled = false;
  /**
   * The writer whose writes commit at once, until another writer's write has to wait: from then on writes wait for
   * the end of the turn of the event loop, where this resets. Nothing else runs per turn for a single writer.
   */
  let firstWriter: string | undefined;
  /** The deferred writes since the last commit, run again if that commit fails. */
  let pending: (() => unknown)[] = [];
  /** Queued writes not yet run, in the order they were queued. */
  let queue: QueuedWrite[] = [];
  /** Queued writes run in the open transaction, settled by its commit. */
  let carried: CarriedWrite[] = [];
  /** Held writes, in the order they were made, waiting for the next transaction. */
  let held: (() => unknown)[] = [];
  let heldTimer: ReturnType<typeof setTimeout> | undefined;

  function open(): void {
    sql().begin.run();
    own = true;
    if (held.length > 0) {
      // From here on they are deferred writes of this transaction, run again if its commit fails.
      pending = [...pending, ...held];
      held = [];
      if (heldTimer !== undefined) clearTimeout(heldTimer);
      heldTimer = undefined;
    }
    if (pending.length > 0) {
      // A failed commit rolled these back after their callers were told they were written.
      const again = pending;
      pending = [];
      try {
        for (const work of again) run(work);
      } catch (error) {
        // All or nothing, so that they keep their order when they are tried again.
        abandon();
        pending = again;
        throw error;
      }
    }
  }

  function abandon(): void {
    if (database.inTransaction) sql().rollback.run();
    lost();
  }

  /** Runs work inside the open transaction; some errors (a full disk, I/O) roll back the whole transaction, not only the statement. */
  function inTransaction<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (!database.inTransaction) lost();
      throw error;
    }
  }

  function run<T>(work: () => T): T {
    const result = inTransaction(work);
    pending.push(work);
    return result;
  }

  /**
   * The transaction ended without a commit: its deferred writes stay pending, and the queued writes it carried,
   * which nobody was told about yet, go back to the front of the queue.
   */
  function lost(): void {
    own = false;
    if (carried.length > 0) {
      queue = [...carried.map((entry) => entry.write), ...queue];
      carried = [];
      schedule();
    }
  }

  /** Runs the queued writes, each in its own savepoint; false when one of them ended the whole transaction. */
  function runQueued(): boolean {
    const writes = queue;
    queue = [];
    const { savepoint, release, rollbackTo } = sql();
    for (let index = 0; index < writes.length; index += 1) {
      const write = writes[index]!;
      // A write alone in its transaction needs no savepoint: rolling the transaction back undoes only it.
      const alone = pending.length === 0 && carried.length === 0;
      try {
        if (!alone) savepoint.run();
        const value = write.work();
        if (!alone) release.run();
        carried.push({ write, value });
      } catch (error) {
        write.reject(error);
        if (database.inTransaction && !alone) {
          rollbackTo.run();
          release.run();
          continue;
        }
        queue = [...writes.slice(index + 1), ...queue];
        abandon();
        return false;
      }
    }
    return true;
  }

  /** Opens the transaction if needed and runs every queued write in it; a write that ends the transaction fails alone. */
  function writeQueued(): void {
    for (;;) {
      if (!own) open();
      if (queue.length === 0 || runQueued()) return;
    }
  }

  function commitNow(): void {
    const settling = carried;
    carried = [];
    try {
      sql().commit.run();
    } catch (error) {
      abandon();
      for (const { write } of settling) write.reject(error);
      throw error;
    }
    own = false;
    pending = [];
    for (const { write, value } of settling) write.resolve(value);
  }

  function rejectQueued(error: unknown): void {
    const writes = queue;
    queue = [];
    for (const write of writes) write.reject(error);
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      firstWriter = undefined;
      try {
        flush(false);
      } catch {
        // Queued writes got the error; deferred ones stay pending and go in with the next transaction.
      }
    });
  }

  /** Commits what is deferred and queued; held writes too when `withHeld` (otherwise they wait for a transaction to join). */
  function flush(withHeld = true): void {
    if (!database.open) {
      // Closing rolled back whatever was carried: none of those writes was stored.
      queue = [...carried.map((entry) => entry.write), ...queue];
      carried = [];
      own = false;
      rejectQueued(new KeelError('storage-failure', `The database at ${database.name} was closed before a write could commit; nothing of that write was stored.`, { retryable: false, details: { path: database.name } }));
      return;
    }
    if (database.inTransaction && !own) {
      // Someone else's transaction: the queued writes join it, as durable writes do.
      const writes = queue;
      queue = [];
      for (const write of writes) settleAlone(write);
      return;
    }
    try {
      if (queue.length > 0) writeQueued();
      else if (!own && (pending.length > 0 || (withHeld && held.length > 0))) open();
    } catch (error) {
      // The transaction could not be opened (the lock stayed busy, say): the writes waiting for it fail with that.
      rejectQueued(error);
      throw error;
    }
    if (own) commitNow();
  }

  /** A queued write inside someone else's transaction: atomic by its savepoint, committed by them. */
  function settleAlone(write: QueuedWrite): void {
    const { savepoint, release, rollbackTo } = sql();
    try {
      savepoint.run();
      const value = write.work();
      release.run();
      write.resolve(value);
    } catch (error) {
      if (database.inTransaction) {
        rollbackTo.run();
        release.run();
      }
      write.reject(error);
    }
  }

  function deferred<T>(work: () => T): T {
    if (database.inTransaction && !own) return work();
    if (!own) open();
    schedule();
    return run(work);
  }

  return {
    deferred,
    held(work) {
      if (database.inTransaction) {
        // A transaction is open: the write joins it as a deferred one (someone else's commits it with theirs).
        deferred(work);
        return;
      }
      held.push(work);
      heldTimer ??= setTimeout(() => {
        heldTimer = undefined;
        try {
          flush();
        } catch {
          // The held writes are pending again and go in with the next transaction.
        }
      }, heldWritesMaxMs);
      // Unref'd: a held write matters only with the event that names it, which a later commit carries.
      heldTimer.unref?.();
    },
    durable<T>(work: () => T): T {
      if (database.inTransaction && !own) return work();
      // Nothing deferred, held or queued: the work commits by itself, as without group commit.
      if (!own && pending.length === 0 && queue.length === 0 && held.length === 0) return work();
      writeQueued();
      let result: T;
      try {
        result = inTransaction(work);
      } catch (error) {
        // What ran before the work still commits, soon.
        if (own) schedule();
        throw error;
      }
      commitNow();
      return result;
    },
    queued<T>(work: () => T, writer: string): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
        if (queue.length > 1 || (firstWriter !== undefined && firstWriter !== writer)) {
          // Reset at the end of the turn, with the flush: until then, this writer's writes wait for others'.
          schedule();
          return;
        }
        firstWriter = writer;
        try {
          flush();
        } catch {
          // The write got the error.
        }
      });
    },
    flush,
  };
}
