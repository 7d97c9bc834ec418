import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './sqlite-database.ts';

/**
 * Group commit for the stores that share one connection (journal, blobs, idempotency records, audit log).
 *
 * A commit is the expensive part of a small write: every page it touched goes to the write-ahead log again. A
 * turn used to commit seven times (request blob, four journal appends, audit record, idempotency record), and
 * some of those writes do not need a commit of their own: nothing depends on a request blob or an audit record
 * being on disk before the journal event that follows it is. So those writes are *deferred*: they run at once,
 * inside a transaction that stays open, and commit with the next *durable* write (a journal append or an
 * idempotency record, which commit before they return, as always) or at the end of the current turn of the event
 * loop, whichever comes first.
 *
 * What this keeps:
 * - A journal append is on disk (as far as synchronous=NORMAL goes) when it returns, and so is every deferred
 *   write made before it: a blob or an audit record is never missing behind an event that was acknowledged.
 * - A deferred write's errors (a constraint, a tampered audit chain, a lock timeout) reach its own caller, since
 *   it runs at once, in a savepoint that is rolled back alone.
 * - A failed commit (disk full, I/O error) loses nothing that was acknowledged: the deferred writes it carried are
 *   run again, in order, at the start of the next transaction, before anything that could depend on them.
 *
 * The write lock is held from the first deferred write to the commit, which is at most until the event loop's
 * check phase; other processes wait for it within their busy timeout, as they would for any writer.
 */
export interface GroupCommit {
  /** Runs a write in the shared transaction (opening it if needed); it commits with the next durable write or soon after. */
  deferred<T>(work: () => T): T;
  /** Runs a write in the shared transaction and commits it, with every deferred write before it, before returning. */
  durable<T>(work: () => T): T;
  /** Commits the deferred writes now; throws when that fails (they are kept for the next transaction). */
  flush(): void;
}

const groupCommits = new WeakMap<SqliteDatabase, GroupCommit>();

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

function createGroupCommit(database: SqliteDatabase): GroupCommit {
  let begin: Statement | undefined;
  let commit: Statement | undefined;
  let rollback: Statement | undefined;
  /** Whether the open transaction is this one's; a transaction someone else opened is left to them. */
  let own = false;
  let scheduled = false;
  /** The deferred writes since the last commit, run again if that commit fails. */
  let pending: (() => unknown)[] = [];

  function open(): void {
    begin ??= database.prepare('BEGIN IMMEDIATE');
    begin.run();
    own = true;
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
    if (database.inTransaction) {
      rollback ??= database.prepare('ROLLBACK');
      rollback.run();
    }
    own = false;
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

  /** The transaction ended without a commit: its deferred writes stay pending. */
  function lost(): void {
    own = false;
  }

  function commitNow(): void {
    commit ??= database.prepare('COMMIT');
    try {
      commit.run();
    } catch (error) {
      abandon();
      throw error;
    }
    own = false;
    pending = [];
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      try {
        flush();
      } catch {
        // The writes stay pending and go in with the next transaction; a durable write reports the failure.
      }
    });
  }

  function flush(): void {
    if (!database.open) return;
    if (!own && pending.length > 0 && !database.inTransaction) open();
    if (own) commitNow();
  }

  return {
    deferred(work) {
      if (database.inTransaction && !own) return work();
      if (!own) open();
      schedule();
      return run(work);
    },
    durable<T>(work: () => T): T {
      if (database.inTransaction && !own) return work();
      // Nothing deferred: the work commits by itself, as without group commit.
      if (!own && pending.length === 0) return work();
      if (!own) open();
      const result = inTransaction(work);
      commitNow();
      return result;
    },
    flush,
  };
}
