import { asciiLowerCase } from '../../util/index.ts';
/**
 * A read-only SQL guard: `{"query": "DELETE FROM users WHERE id > 0"}` is valid JSON and a valid
 * string, and catastrophic. It accepts exactly one SELECT statement and rejects everything else with a message
 * the model can act on. It fails closed: whatever it cannot classify is rejected.
 *
 * Three layers, each able to reject on its own:
 * 1. A scanner that reads the text as the engine does (sql-scanner.ts), and checks on its tokens
 *    (sql-token-checks.ts): statement count, comments, quotes, the constructs on which parsers and engines
 *    disagree, statements of any other kind, data-modifying keywords, INTO, row locks, forbidden functions.
 * 2. node-sql-parser with the engine's grammar, in a worker thread under a time limit (sql-parser-host.ts), on
 *    the text with comments blanked out. Anything it cannot parse is rejected.
 * 3. A walk over the whole syntax tree (sql-tree-checks.ts): the statement must be a SELECT, with nothing that
 *    writes, locks, assigns or acts outside the query nested in it, and with `allowedTables`, no other table.
 *
 * Layer 1 is synchronous and linear in the length of the query: `checker.precheck(sql)`. Layers 2 and 3 need
 * the parser, which can take seconds on hostile input, so they run off the event loop: `await checker.check(sql)`.
 * Both share one bounded LRU cache of verdicts, acceptances and rejections alike (time-outs included: the same
 * text would time out again), so a text is parsed at most once while it stays in the cache.
 *
 * `readOnlySqlGuard` attaches layer 1 (and any cached full verdict) to a tool's input schema, since zod
 * refinements run synchronously; the tool must then `await checker.check(sql)` before it runs the query.
 * `defineSqliteQueryTool` (src/tools/sqlite-query-tool.ts) does both.
 *
 * This is validation, not a sandbox: user-defined functions, for one, are opaque to it. Run the query on a
 * read-only connection as well (SQLite `readonly`, a PostgreSQL READ ONLY transaction, a MySQL user without
 * write grants), as `defineSqliteQueryTool` does.
 *
 * Decisions, documented here because they reject some valid reads:
 * - PRAGMA statements are rejected, including read-only ones: some PRAGMAs write, and the parser cannot parse
 *   them. SQLite's table-valued pragma functions are SELECTs and are accepted, e.g.
 *   `SELECT name, type FROM pragma_table_info('deploys')` (SQLite provides them only for pragmas that return
 *   results; pragma_optimize, which may run ANALYZE, is refused). EXPLAIN, VALUES, SHOW and DESCRIBE are
 *   rejected too: only SELECT (and WITH … SELECT) is accepted.
 * - A data-modifying keyword (INSERT, UPDATE, DELETE, REPLACE, MERGE) or INTO outside quotes rejects the query
 *   even where it is meant as a name; quote such a name.
 * - SQL that node-sql-parser's grammar does not know is rejected even when the engine would run it. For SQLite
 *   (node-sql-parser 5.4) that includes INTERSECT/EXCEPT, RIGHT and FULL JOIN, OVER (…) without PARTITION BY,
 *   frame clauses, WINDOW, NULLS FIRST/LAST, IS DISTINCT FROM, aggregate FILTER, COLLATE after GLOB, VALUES
 *   and INDEXED BY. The message points at the spot and, when the grammar wanted a keyword, names it. There is
 *   deliberately no fallback to another dialect's grammar: a grammar that is not the engine's may read the
 *   text differently, and the guard fails closed.
 */
import { KeelError } from '../../errors/index.ts';
import { LruCache } from '../../util/index.ts';
import type { SemanticValidator } from './semantic-validator.ts';
import { parseSql, warmSqlParser } from './sql-parser-host.ts';
import type { ParseReply } from './sql-parser-host.ts';
import { sqlDialectNames } from './sql-scanner.ts';
import type { SqlDialect } from './sql-scanner.ts';
import { checkTokens } from './sql-token-checks.ts';
import { checkSyntaxTree, SqlRejection } from './sql-tree-checks.ts';

export type { SqlDialect } from './sql-scanner.ts';

export interface ReadOnlySqlOptions {
  /** The grammar node-sql-parser uses and the engine whose tokenizer the scanner follows. */
  readonly dialect: SqlDialect;
  /** When given, only these tables may be read (case-insensitive; a qualified name such as `main.t` or `public.t` must be listed as such, except SQLite's `main`). */
  readonly allowedTables?: readonly string[];
  /** Characters; defaults to 10,000. */
  readonly maxLength?: number;
  /** Longest the parser may work on one query before it is rejected as too complex; defaults to 1,000 ms. It runs off the event loop. */
  readonly parseTimeoutMs?: number;
  /** Appended to rejections of statements that would write, to say what to do instead. */
  readonly hint?: string;
  /** Verdicts remembered, least recently used forgotten first; defaults to 1,000. */
  readonly cacheSize?: number;
}

export type ReadOnlySqlVerdict =
  | {
      readonly ok: true;
      /** Tables the query reads, lower-cased and qualified as written (CTE names excluded). */
      readonly tables: readonly string[];
    }
  | {
      readonly ok: false;
      /** Addressed to the model; like zod's own messages, without a final period. */
      readonly message: string;
    };

export interface ReadOnlySqlCheckerStatistics {
  /** Texts handed to the parser. */
  readonly parses: number;
  /** Checks answered from the cache. */
  readonly cacheHits: number;
}

export interface ReadOnlySqlChecker {
  /**
   * Synchronous and cheap (never parses): the cached verdict if there is one, else the token checks' rejection,
   * else null, meaning only `check` can decide.
   */
  precheck(sql: string): ReadOnlySqlVerdict | null;
  /** The full verdict. The parse runs in a worker thread; the promise never rejects unless `signal` aborts the wait. */
  check(sql: string, signal?: AbortSignal): Promise<ReadOnlySqlVerdict>;
  readonly statistics: ReadOnlySqlCheckerStatistics;
}

export type ReadOnlySqlGuardOptions<Field extends string> = {
  /** The input field holding the SQL; defaults to `query`. */
  readonly field?: Field;
} & ({ readonly checker: ReadOnlySqlChecker } | ReadOnlySqlOptions);

export const defaultReadOnlyHint = 'This database is read-only here: narrow results with WHERE, GROUP BY and LIMIT instead of changing data.';

interface CheckerSettings {
  readonly dialect: SqlDialect;
  readonly maxLength: number;
  readonly parseTimeoutMs: number;
  readonly hint: string;
  readonly allowed: ReadonlySet<string> | null;
  readonly allowedList: string;
  readonly cacheSize: number;
}

function settingsOf(options: ReadOnlySqlOptions): CheckerSettings {
  const { dialect } = options;
  const invalid = (message: string): never => {
    throw new KeelError('invalid-config', `readOnlySqlGuard: ${message}`);
  };
  if (!Object.hasOwn(sqlDialectNames, dialect)) invalid(`dialect must be one of ${Object.keys(sqlDialectNames).join(', ')}, got ${JSON.stringify(dialect)}.`);
  const maxLength = options.maxLength ?? 10_000;
  const parseTimeoutMs = options.parseTimeoutMs ?? 1_000;
  const cacheSize = options.cacheSize ?? 1_000;
  if (!Number.isInteger(maxLength) || maxLength < 1) invalid(`maxLength must be a positive integer, got ${maxLength}.`);
  if (!(parseTimeoutMs > 0)) invalid(`parseTimeoutMs must be positive, got ${parseTimeoutMs}.`);
  if (!Number.isInteger(cacheSize) || cacheSize < 1) invalid(`cacheSize must be a positive integer, got ${cacheSize}.`);
  const tables = options.allowedTables;
  if (tables !== undefined && (tables.length === 0 || tables.some((table) => typeof table !== 'string' || table.trim() === ''))) {
    invalid('allowedTables must list at least one table name; omit it to allow every table.');
  }
  return {
    dialect,
    maxLength,
    parseTimeoutMs,
    cacheSize,
    hint: options.hint ?? defaultReadOnlyHint,
    allowed: tables === undefined ? null : new Set(tables.map((table) => asciiLowerCase(table.trim()))),
    allowedList: tables === undefined ? '' : tables.map((table) => table.trim()).join(', '),
  };
}

function rejected(message: string): ReadOnlySqlVerdict {
  return { ok: false, message: message.replace(/\.$/, '') };
}

function snippetAt(text: string, offset: number): string {
  if (offset >= text.trimEnd().length) return 'at the end of the query';
  const raw = text.slice(offset, offset + 40).replace(/\s+/g, ' ').trim();
  return `near "${raw}${offset + 40 < text.length ? '…' : ''}"`;
}

/** Why the parser could not parse it: the spot, and the keywords the grammar wanted there when they are few. */
function syntaxMessage(text: string, dialect: SqlDialect, failure: Extract<ParseReply, { kind: 'syntax' }>): string {
  const dialectName = sqlDialectNames[dialect];
  const expected = [...(/^Expected (.*) but /.exec(failure.message)?.[1] ?? '').matchAll(/"([A-Z][A-Z_]*(?: [A-Z_]+)*)"/g)].map((match) => match[1]!);
  const wanted = expected.length > 0 && expected.length <= 3 ? `; the parser expected ${expected.join(' or ')} there` : '';
  const where = failure.offset === null ? '' : ` ${snippetAt(text, failure.offset)} (line ${failure.line}, column ${failure.column}${wanted})`;
  return `could not parse the query as ${dialectName} SQL${where}. Send one SELECT statement; if this is valid ${dialectName}, rewrite that part with more common syntax (the checker's parser does not know every construct).`;
}

/** The verdict on a parser reply; null when the parser was unavailable (a host fault, not worth caching). */
function verdictOnParse(reply: ParseReply, text: string, settings: CheckerSettings): ReadOnlySqlVerdict | null {
  if (reply.ok) {
    try {
      return { ok: true, tables: checkSyntaxTree(reply, settings) };
    } catch (error) {
      if (error instanceof SqlRejection) return rejected(error.message);
      // A crash while analysing (say, a tree too deep to walk) rejects the query; the same tree would crash again.
      return rejected(`the query could not be checked (${error instanceof Error ? error.message : String(error)}), so it is rejected`);
    }
  }
  if (reply.kind === 'syntax') return rejected(syntaxMessage(text, settings.dialect, reply));
  if (reply.kind === 'timeout') return rejected(`the query could not be checked within ${settings.parseTimeoutMs} ms (${reply.message}); simplify it, e.g. fewer nested subqueries or CASTs.`);
  if (reply.kind === 'unavailable') return null;
  return rejected(`the query could not be checked (${reply.message}), so it is rejected; try a simpler query.`);
}

function waitFor<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Creates a checker for one dialect and set of options; its cache and statistics are its own. */
export function createReadOnlySqlChecker(options: ReadOnlySqlOptions): ReadOnlySqlChecker {
  const settings = settingsOf(options);
  const cache = new LruCache<ReadOnlySqlVerdict>(settings.cacheSize);
  // Concurrent checks of one text share one parse.
  const pending = new Map<string, Promise<ReadOnlySqlVerdict>>();
  const statistics = { parses: 0, cacheHits: 0 };
  warmSqlParser(settings.dialect);

  const cached = (sql: string): ReadOnlySqlVerdict | undefined => {
    const verdict = cache.get(sql);
    if (verdict !== undefined) statistics.cacheHits++;
    return verdict;
  };

  /** The token checks' rejection (cached: it is the full verdict too), or the text the parser should read. */
  const tokenCheck = (sql: string): { readonly verdict: ReadOnlySqlVerdict } | { readonly text: string } => {
    try {
      return { text: checkTokens(sql, settings).text };
    } catch (error) {
      if (!(error instanceof SqlRejection)) throw error;
      const verdict = rejected(error.message);
      cache.set(sql, verdict);
      return { verdict };
    }
  };

  const precheck = (sql: string): ReadOnlySqlVerdict | null => {
    const hit = cached(sql);
    if (hit !== undefined) return hit;
    const tokens = tokenCheck(sql);
    return 'verdict' in tokens ? tokens.verdict : null;
  };

  const parseAndCheck = async (sql: string, text: string): Promise<ReadOnlySqlVerdict> => {
    statistics.parses++;
    const reply = await parseSql({ sql: text, dialect: settings.dialect, timeoutMs: settings.parseTimeoutMs });
    const verdict = verdictOnParse(reply, text, settings);
    if (verdict === null) return rejected(`the query could not be checked (${reply.ok ? '' : reply.message}), so it is rejected; try again later.`);
    cache.set(sql, verdict);
    return verdict;
  };

  const check = (sql: string, signal?: AbortSignal): Promise<ReadOnlySqlVerdict> => {
    const hit = cached(sql);
    if (hit !== undefined) return Promise.resolve(hit);
    let shared = pending.get(sql);
    if (shared === undefined) {
      const tokens = tokenCheck(sql);
      if ('verdict' in tokens) return Promise.resolve(tokens.verdict);
      shared = parseAndCheck(sql, tokens.text).finally(() => pending.delete(sql));
      pending.set(sql, shared);
    }
    return waitFor(shared, signal);
  };

  return { precheck, check, statistics };
}

/**
 * A semantic validator for the SQL in `field` (default `query`): the synchronous layer of the guard (see the
 * module comment). It rejects at that field what the token checks or a cached verdict reject, with a message the
 * model can act on, and passes the rest, which the tool must still `await checker.check(sql)` for.
 */
export function readOnlySqlGuard<Field extends string = 'query'>(options: ReadOnlySqlGuardOptions<Field>): SemanticValidator<{ readonly [K in NoInfer<Field>]: string }> {
  const field = options.field ?? 'query';
  const checker = 'checker' in options ? options.checker : createReadOnlySqlChecker(options);
  return (input) => {
    const sql: unknown = (input as Record<string, unknown>)[field];
    if (typeof sql !== 'string') return { ok: false, field, message: 'must be a string holding one SELECT statement' };
    const verdict = checker.precheck(sql);
    return verdict === null || verdict.ok ? { ok: true } : { ok: false, field, message: verdict.message };
  };
}
