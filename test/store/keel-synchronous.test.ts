import { copyFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createKeel } from '../../src/runtime/index.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());
afterEach(() => vi.restoreAllMocks());

/** The `synchronous` pragmas set on connections to `path`, as SQLite reports them back after each is set. */
function recordSynchronous(path: string): number[] {
  const levels: number[] = [];
  const pragma = Database.prototype.pragma;
  vi.spyOn(Database.prototype, 'pragma').mockImplementation(function (this: Database.Database, source: string, options?: Database.PragmaOptions) {
    const result: unknown = pragma.call(this, source, options);
    if (this.name === path && /^synchronous\s*=/i.test(source)) levels.push(pragma.call(this, 'synchronous', { simple: true }) as number);
    return result;
  });
  return levels;
}

describe('createKeel({ synchronous })', () => {
  it("opens the SQLite file with synchronous FULL when given 'full', and NORMAL by default", async () => {
    const fullPath = folders.databasePath();
    const full = recordSynchronous(fullPath);
    const keel = createKeel({ database: fullPath, synchronous: 'full', model: 'scripted:unused.json', env: {} });
    await keel.close();
    // SQLite's numbering: 1 NORMAL, 2 FULL.
    expect(full).toEqual([2]);
    vi.restoreAllMocks();

    const defaultPath = folders.databasePath();
    const normal = recordSynchronous(defaultPath);
    const plain = createKeel({ database: defaultPath, model: 'scripted:unused.json', env: {} });
    await plain.close();
    expect(normal).toEqual([1]);
  });

  it('refuses synchronous where there is no SQLite file for it to act on', () => {
    expect(() => createKeel({ database: ':memory:', synchronous: 'full', env: {} })).toThrow(expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('database :memory:') }));
    expect(() => createKeel({ storage: { kind: 'postgres', url: 'postgres://keel@127.0.0.1:1/keel' }, synchronous: 'full', env: {} })).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('PostgreSQL') }),
    );
  });

  it("refuses a level SQLite's WAL mode does not offer here", () => {
    expect(() => createKeel({ database: folders.databasePath(), synchronous: 'off' as never, env: {} })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });
});

describe('createKeel({ backgroundCheckpoints })', () => {
  /** Whether the database file alone, without its write-ahead log, has the journal's tables (a torn copy says no). */
  function journalInMainFile(path: string): boolean {
    const copy = `${path}.main-only`;
    copyFileSync(path, copy);
    try {
      const main = new Database(copy, { readonly: true });
      try {
        return main.prepare("SELECT 1 FROM sqlite_master WHERE name = 'events'").get() !== undefined;
      } finally {
        main.close();
      }
    } catch {
      return false;
    }
  }

  it('checkpoints the Keel database from the worker: the tables written at open reach the file, which SQLite alone would leave in the log', async () => {
    const path = folders.databasePath();
    const keel = createKeel({ database: path, backgroundCheckpoints: { intervalMs: 20 }, model: 'scripted:unused.json', env: {} });
    try {
      const deadline = Date.now() + 20_000;
      while (!journalInMainFile(path) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(journalInMainFile(path)).toBe(true);
    } finally {
      await keel.close();
    }
  });

  it('is off by default: the same tables stay in the log until SQLite checkpoints at 1,000 pages or at close', async () => {
    const path = folders.databasePath();
    const keel = createKeel({ database: path, model: 'scripted:unused.json', env: {} });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(journalInMainFile(path)).toBe(false);
    } finally {
      await keel.close();
    }
    expect(journalInMainFile(path)).toBe(true);
  });

  it('refuses it where there is no SQLite file for it to act on', () => {
    expect(() => createKeel({ database: ':memory:', backgroundCheckpoints: true, env: {} })).toThrow(expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('backgroundCheckpoints') }));
  });
});
