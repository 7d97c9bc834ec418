import { resolve } from 'node:path';
import type { Command } from 'commander';
import { KeelError } from '../errors/index.ts';
import type { SessionStatusSources } from '../runtime/session-status.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import { hintCommand } from './shell-hint.ts';

export type Print = (line: string) => void;

/** What every command handler gets: where to print, the environment, and how to name itself in hints. */
export interface CliContext {
  readonly out: Print;
  readonly err: Print;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** `keel` or `npm run keel --`: how the person started this process. */
  readonly prefix: string;
  /** The exit code of the command that ran; a handler sets it (commander actions return nothing). */
  exitCode: number;
}

export interface DatabaseChoice {
  /** Absolute path, or `:memory:`. */
  readonly path: string;
  /** As the person named it with --db or KEEL_DB, for hints; undefined for the default location. */
  readonly named: string | undefined;
}

/** The global options, wherever they were written on the command line. */
export function globalsOf(command: Command): { readonly db: string | undefined } {
  const options = command.optsWithGlobals<{ db?: string }>();
  return { db: options.db };
}

/** --db, else KEEL_DB, else .keel/keel.db under the working directory. */
export function chooseDatabase(context: CliContext, command: Command): DatabaseChoice {
  const named = globalsOf(command).db ?? context.env.KEEL_DB;
  if (named === undefined) return { path: resolve(context.cwd, '.keel', 'keel.db'), named: undefined };
  if (named.trim() === '') throw new KeelError('invalid-argument', '--db (or KEEL_DB) must name a database file, got an empty value.');
  return { path: named === ':memory:' ? named : resolve(context.cwd, named), named };
}

/**
 * The PostgreSQL URL sessions live at: KEEL_DATABASE_URL, unless --db or KEEL_DB names a SQLite file (which wins,
 * as an argument wins in createKeel). Undefined when sessions are in SQLite.
 */
export function choosePostgres(context: CliContext, command: Command): string | undefined {
  if ((globalsOf(command).db ?? context.env.KEEL_DB) !== undefined) return undefined;
  const url = context.env.KEEL_DATABASE_URL;
  return url === undefined || url.trim() === '' ? undefined : url;
}

/** A command line to paste, with this process's prefix and the database in use. */
export function hint(context: CliContext, database: DatabaseChoice, words: readonly string[]): string {
  return hintCommand({ prefix: context.prefix, database: database.named }, words);
}

/** Reading a session's journal and blobs, from a read-only store or from a Keel that may write. */
export interface SessionAccess {
  readonly databasePath: string | null;
  readonly journal: Journal;
  readonly blobs: BlobStore;
  readonly statusSources: SessionStatusSources;
  /** The session's events; `session-not-found` when it has none. */
  events(sessionId: string): Promise<readonly SessionEvent[]>;
}

/** Runs `work` against the database opened read-only, and closes it after. */
export async function withReadOnlyAccess<T>(context: CliContext, command: Command, work: (access: SessionAccess, database: DatabaseChoice) => Promise<T>): Promise<T> {
  const database = chooseDatabase(context, command);
  const postgresUrl = choosePostgres(context, command);
  if (postgresUrl !== undefined) {
    const { withPostgresAccess } = await import('./postgres-access.ts');
    return withPostgresAccess(context, postgresUrl, (access) => work(access, database));
  }
  // Loaded on use, like every command's heavy parts: `keel --help` and usage errors answer at once.
  const { openReadOnlyStore } = await import('./read-only-store.ts');
  const store = openReadOnlyStore(database.path);
  try {
    const access = {
      store,
      databasePath: store.path,
      journal: store.journal,
      blobs: store.blobs,
      statusSources: { journal: store.journal, leases: store.leases, now: Date.now },
      async events(sessionId: string): Promise<readonly SessionEvent[]> {
        const events: SessionEvent[] = [];
        for await (const event of store.journal.read(sessionId)) events.push(event);
        if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId} in ${store.path}; list them with \`${hint(context, database, ['sessions'])}\`.`);
        return events;
      },
    };
    return await work(access, database);
  } finally {
    await store.close();
  }
}

/** Wraps a handler that returns an exit code into a commander action that records it on the context. */
export type Action = <Args extends unknown[]>(handler: (...args: Args) => Promise<number>) => (...args: Args) => Promise<void>;
