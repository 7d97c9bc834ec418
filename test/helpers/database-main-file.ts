import { copyFileSync } from 'node:fs';
import Database from 'better-sqlite3';

/**
 * Events in a SQLite database file alone, without its write-ahead log, as a power loss that took the log with it
 * would leave it: what checkpoints have copied so far. 0 when the file has no events table yet.
 */
export function eventsInMainFile(path: string): number {
  const copy = `${path}.main-only`;
  copyFileSync(path, copy);
  const database = new Database(copy, { readonly: true });
  try {
    const table = database.prepare("SELECT 1 FROM sqlite_master WHERE name = 'events'").get();
    return table === undefined ? 0 : (database.prepare('SELECT count(*) AS count FROM events').get() as { count: number }).count;
  } finally {
    database.close();
  }
}
