import { KeelError } from '../errors/index.ts';
import { canonicalJson, sha256 } from '../util/index.ts';
import { migrate, openOwnedDatabase, toStorageFailure } from './sqlite-migrations.ts';
import type { SqliteDatabase } from './sqlite-migrations.ts';

/** A system prompt (text) or a few-shot set (any JSON value, e.g. `[{ input, output }]`). */
export type ProceduralContent = string | readonly unknown[] | Readonly<Record<string, unknown>>;

export interface ProcedureVersion {
  readonly name: string;
  /** 1, 2, 3… per name. */
  readonly version: number;
  readonly content: ProceduralContent;
  /** `sha256:<hex>` of the content (its text, or its canonical JSON): what a turn journals to say which version it used. */
  readonly contentHash: string;
  readonly createdAt: number;
}

export interface ProceduralMemory {
  /** Stores a new version, or returns the latest unchanged when its content is the same. */
  publish(name: string, content: ProceduralContent): ProcedureVersion;
  /** The given version, or the latest; undefined when there is none. */
  get(name: string, version?: number): ProcedureVersion | undefined;
  /** Every version, oldest first. */
  history(name: string): ProcedureVersion[];
  close(): void;
}

export interface ProceduralMemoryOptions {
  readonly database?: SqliteDatabase;
  readonly path?: string;
  readonly clock?: { now(): number };
}

const migrations = [
  {
    version: 1,
    name: 'procedures',
    sql: `CREATE TABLE procedures (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            content TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (name, version)
          ) WITHOUT ROWID;`,
  },
];

interface ProcedureRow {
  name: string;
  version: number;
  content: string;
  content_hash: string;
  created_at: number;
}

/** The content hash journaled with a turn: sha256 of a prompt's text, or of a few-shot set's canonical JSON. */
export function contentHash(content: ProceduralContent): string {
  return `sha256:${sha256(typeof content === 'string' ? content : canonicalJson(content))}`;
}

/** Procedural memory: versioned system prompts and few-shot sets, content-addressed, in SQLite. */
export function createProceduralMemory(options: ProceduralMemoryOptions): ProceduralMemory {
  const { database, owned } = openOwnedDatabase(options, 'procedural memory');
  migrate(database, 'procedures', migrations);
  const clock = options.clock ?? { now: () => Date.now() };
  const latest = database.prepare<[string], ProcedureRow>('SELECT * FROM procedures WHERE name = ? ORDER BY version DESC LIMIT 1');
  const byVersion = database.prepare<[string, number], ProcedureRow>('SELECT * FROM procedures WHERE name = ? AND version = ?');
  const all = database.prepare<[string], ProcedureRow>('SELECT * FROM procedures WHERE name = ? ORDER BY version');
  const insert = database.prepare('INSERT INTO procedures (name, version, content, content_hash, created_at) VALUES (?, ?, ?, ?, ?)');
  const publish = database.transaction((name: string, content: ProceduralContent): ProcedureVersion => {
    const hash = contentHash(content);
    const current = latest.get(name);
    if (current !== undefined && current.content_hash === hash) return toVersion(current);
    const row: ProcedureRow = { name, version: (current?.version ?? 0) + 1, content: JSON.stringify(content), content_hash: hash, created_at: clock.now() };
    insert.run(row.name, row.version, row.content, row.content_hash, row.created_at);
    return toVersion(row);
  });

  function guarded<T>(action: string, body: () => T): T {
    try {
      return body();
    } catch (error) {
      throw toStorageFailure(error, `${action} in procedural memory`);
    }
  }

  return {
    publish(name, content) {
      if (typeof name !== 'string' || name === '') throw new KeelError('invalid-argument', 'A procedure needs a name.');
      if (content === undefined || content === null) throw new KeelError('invalid-argument', `Procedure "${name}" needs content.`);
      return guarded('publishing', () => publish.immediate(name, content));
    },
    get(name, version) {
      const row = guarded('reading', () => (version === undefined ? latest.get(name) : byVersion.get(name, version)));
      return row === undefined ? undefined : toVersion(row);
    },
    history(name) {
      return guarded('reading', () => all.all(name)).map(toVersion);
    },
    close() {
      if (owned && database.open) database.close();
    },
  };
}

function toVersion(row: ProcedureRow): ProcedureVersion {
  return { name: row.name, version: row.version, content: JSON.parse(row.content) as ProceduralContent, contentHash: row.content_hash, createdAt: row.created_at };
}
