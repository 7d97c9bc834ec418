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
