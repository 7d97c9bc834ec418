/**
 * A read-only SQL guard (seed §10.2: `{"query": "DELETE FROM users WHERE id > 0"}` is valid JSON and a valid
 * string, and catastrophic). It accepts exactly one SELECT statement and rejects everything else with a message
 * the model can act on. It fails closed: whatever it cannot classify is rejected.
 *
 * Three layers, each able to reject on its own:
 * 1. A scanner that reads the text as the engine does (sql-scanner.ts): statement count, comments, quotes, and
 *    refusal of the constructs on which parsers and engines disagree.
 * 2. node-sql-parser with the engine's grammar, in a worker under a time limit (sql-parser-host.ts), on the
 *    text with comments blanked out. Anything it cannot parse is rejected.
 * 3. A walk over the whole syntax tree: the statement must be a SELECT; no statement of another kind may be
 *    nested in it (data-modifying CTEs), no SELECT … INTO, no FOR UPDATE or other row locks, no variable
 *    assignment, no function known to act outside the query (load_extension, readfile, writefile, pg_sleep,
 *    pg_read_file, nextval, …), and with `allowedTables`, no table outside the list (checked against both the
 *    tree and the parser's own `tableList`).
 *
 * This is validation, not a sandbox: user-defined functions, for one, are opaque to it. Run the query on a
 * read-only connection as well (SQLite `readonly`, a PostgreSQL READ ONLY transaction, a MySQL user without
 * write grants), as the incident example does.
 *
 * Decisions, documented here because they reject some valid reads:
 * - PRAGMA statements are rejected, including read-only ones: some PRAGMAs write, and the parser cannot parse
 *   them. SQLite's table-valued pragma functions are SELECTs and are accepted, e.g.
 *   `SELECT name, type FROM pragma_table_info('deploys')` (SQLite provides them only for pragmas that return
 *   results; pragma_optimize, which may run ANALYZE, is refused). EXPLAIN, VALUES, SHOW and DESCRIBE are
 *   rejected too: only SELECT (and WITH … SELECT) is accepted.
 * - SQL that node-sql-parser's grammar does not know is rejected even when the engine would run it. For SQLite
 *   (node-sql-parser 5.4) that includes INTERSECT/EXCEPT, RIGHT and FULL JOIN, OVER (…) without PARTITION BY,
 *   frame clauses, WINDOW, NULLS FIRST/LAST, IS DISTINCT FROM, aggregate FILTER, COLLATE after GLOB, VALUES
 *   and INDEXED BY. The message points at the spot and, when the grammar wanted a keyword, names it. There is
 *   deliberately no fallback to another dialect's grammar: a grammar that is not the engine's may read the
 *   text differently, and the guard fails closed.
 */
import { KeelError } from '../../errors/index.ts';
import type { SemanticValidator } from './semantic-validator.ts';
import { parseSqlBounded, warmSqlParser } from './sql-parser-host.ts';
import { leadingKeyword, scanSql, sqlDialectNames } from './sql-scanner.ts';
import type { SqlDialect, SqlToken } from './sql-scanner.ts';

export type { SqlDialect } from './sql-scanner.ts';

export interface ReadOnlySqlOptions {
  /** The grammar node-sql-parser uses and the engine whose tokenizer the scanner follows. */
  readonly dialect: SqlDialect;
  /** When given, only these tables may be read (case-insensitive; a qualified name such as `main.t` or `public.t` must be listed as such, except SQLite's `main`). */
  readonly allowedTables?: readonly string[];
  /** Characters; defaults to 10,000. */
  readonly maxLength?: number;
  /** Longest the parser may take before the query is rejected as too complex; defaults to 1,000 ms. */
  readonly parseTimeoutMs?: number;
  /** Appended to rejections of statements that would write, to say what to do instead. */
  readonly hint?: string;
}

export interface ReadOnlySqlGuardOptions<Field extends string> extends ReadOnlySqlOptions {
  /** The input field holding the SQL; defaults to `query`. */
  readonly field?: Field;
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

export const defaultReadOnlyHint = 'This database is read-only here: narrow results with WHERE, GROUP BY and LIMIT instead of changing data.';

const only = 'only a single read-only SELECT is accepted';

/** Statement types that never belong inside a SELECT; finding one anywhere in the tree rejects the query. */
const writingStatementTypes = new Set([
  'insert', 'replace', 'update', 'delete', 'merge', 'upsert', 'create', 'drop', 'alter', 'truncate', 'rename',
  'attach', 'detach', 'grant', 'revoke', 'lock', 'unlock', 'transaction', 'load_data', 'call', 'exec', 'use', 'vacuum', 'pragma',
]);

/** Leading keywords that name a statement other than a read, for messages when the parser cannot parse it. */
const statementKeywords = new Set([
  'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'MERGE', 'UPSERT', 'CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'RENAME', 'GRANT', 'REVOKE',
  'ATTACH', 'DETACH', 'VACUUM', 'REINDEX', 'ANALYZE', 'ANALYSE', 'PRAGMA', 'BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE',
  'LOCK', 'UNLOCK', 'SET', 'RESET', 'CALL', 'DO', 'EXEC', 'EXECUTE', 'PREPARE', 'DEALLOCATE', 'DECLARE', 'LOAD', 'COPY', 'HANDLER', 'USE',
  'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'VALUES', 'TABLE', 'LISTEN', 'NOTIFY', 'UNLISTEN', 'DISCARD', 'CLUSTER', 'REFRESH', 'COMMENT',
  'SECURITY', 'REASSIGN', 'IMPORT', 'CHECKPOINT', 'FLUSH', 'KILL', 'OPTIMIZE', 'REPAIR', 'INSTALL', 'UNINSTALL', 'SHUTDOWN', 'RESTART',
]);

const dataModifyingKeywords = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'MERGE']);

/**
 * Functions that act outside the query or wait: loading code, reading or writing files, sleeping, locks,
 * sequences, session settings, running other SQL given as text. Checked for every dialect (a name that does not
 * exist in one engine costs nothing there). Not exhaustive, hence the read-only connection underneath.
 */
const forbiddenFunctions = new Set([
  // SQLite core and the CLI's extensions
  'load_extension', 'readfile', 'writefile', 'edit', 'fsdir', 'zipfile', 'fts3_tokenizer', 'sqlite_dbpage', 'pragma_optimize',
  // PostgreSQL
  'pg_read_file', 'pg_read_binary_file', 'pg_stat_file', 'pg_sleep', 'pg_sleep_for', 'pg_sleep_until', 'set_config', 'nextval', 'setval',
  'pg_terminate_backend', 'pg_cancel_backend', 'pg_reload_conf', 'pg_rotate_logfile', 'pg_switch_wal', 'pg_promote', 'pg_notify',
  'pg_import_system_collations', 'txid_current', 'pg_current_xact_id', 'pg_start_backup', 'pg_stop_backup', 'pg_log_backend_memory_contexts',
  // MySQL
  'sleep', 'benchmark', 'load_file', 'get_lock', 'release_lock', 'release_all_locks', 'master_pos_wait', 'source_pos_wait',
  'wait_for_executed_gtid_set', 'wait_until_sql_thread_after_gtids', 'sys_exec', 'sys_eval',
]);
const forbiddenFunctionPrefixes = [
  'pg_advisory_', 'pg_try_advisory_', 'pg_ls_', 'pg_file_', 'pg_create_', 'pg_drop_', 'pg_replication_', 'pg_logical_', 'pg_wal_', 'pg_backup_',
  'pg_stat_reset', 'lo_', 'dblink', 'query_to_xml', 'cursor_to_xml', 'table_to_xml', 'schema_to_xml', 'database_to_xml',
];

/** SQLite pragma functions that describe one table, named by their first argument; checked against `allowedTables`. */
const tablePragmaFunctions = new Set(['pragma_table_info', 'pragma_table_xinfo', 'pragma_index_list', 'pragma_foreign_key_list']);

class Rejected extends Error {}

type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

function nameValue(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (isNode(value) && typeof value.value === 'string') return value.value;
  return null;
}

/** A function node's name, lower-cased and without its schema, or null if the node has an unknown shape. */
function functionName(node: Node): string | null {
  const name = node.name;
  if (typeof name === 'string') return name.toLowerCase();
  if (isNode(name) && Array.isArray(name.name) && name.name.length > 0) {
    const parts = name.name.map(nameValue);
    if (parts.some((part) => part === null)) return null;
    return (parts.at(-1) as string).toLowerCase();
  }
  return null;
}

function isForbiddenFunction(name: string): boolean {
  return forbiddenFunctions.has(name) || forbiddenFunctionPrefixes.some((prefix) => name.startsWith(prefix));
}

function statementLabel(node: Node): string {
  const type = String(node.type).toUpperCase().replace(/_/g, ' ');
  const keyword = typeof node.keyword === 'string' && ['CREATE', 'DROP', 'ALTER'].includes(type) ? ` ${node.keyword.toUpperCase()}` : '';
  return `${type}${keyword}`;
}

interface TableListEntry {
  readonly type: string;
  readonly qualifier: string | null;
  readonly table: string;
}

function parseTableList(entries: readonly string[]): TableListEntry[] {
  return entries.map((entry) => {
    const [type = '', qualifier = 'null', ...rest] = entry.split('::');
    return { type: type.toLowerCase(), qualifier: qualifier === 'null' ? null : qualifier, table: rest.join('::') };
  });
}

/** ` on table x` for the table a DELETE/INSERT/UPDATE/REPLACE at `index` names, when it is plain to see. */
function tokenTable(tokens: readonly SqlToken[], index: number): string {
  let k = index + 1;
  while (tokens[k]?.kind === 'word' && ['FROM', 'INTO', 'OR', 'ROLLBACK', 'ABORT', 'REPLACE', 'FAIL', 'IGNORE'].includes(tokens[k]!.text.toUpperCase())) k++;
  const name = tokens[k];
  return name?.kind === 'word' || name?.kind === 'quoted' ? ` on table ${name.text}` : '';
}

function snippetAt(text: string, offset: number): string {
  if (offset >= text.trimEnd().length) return 'at the end of the query';
  const raw = text.slice(offset, offset + 40).replace(/\s+/g, ' ').trim();
  return `near "${raw}${offset + 40 < text.length ? '…' : ''}"`;
}

/** Returns a function that checks one SQL text; verdicts are cached per text (except timeouts). */
export function createReadOnlySqlChecker(options: ReadOnlySqlOptions): (sql: string) => ReadOnlySqlVerdict {
  const { dialect } = options;
  if (!Object.hasOwn(sqlDialectNames, dialect)) {
    throw new KeelError('invalid-config', `readOnlySqlGuard: dialect must be one of ${Object.keys(sqlDialectNames).join(', ')}, got ${JSON.stringify(dialect)}.`);
  }
  const maxLength = options.maxLength ?? 10_000;
  const parseTimeoutMs = options.parseTimeoutMs ?? 1_000;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new KeelError('invalid-config', `readOnlySqlGuard: maxLength must be a positive integer, got ${maxLength}.`);
  if (!(parseTimeoutMs > 0)) throw new KeelError('invalid-config', `readOnlySqlGuard: parseTimeoutMs must be positive, got ${parseTimeoutMs}.`);
  if (options.allowedTables !== undefined && (options.allowedTables.length === 0 || options.allowedTables.some((table) => typeof table !== 'string' || table.trim() === ''))) {
    throw new KeelError('invalid-config', 'readOnlySqlGuard: allowedTables must list at least one table name; omit it to allow every table.');
  }
  const allowed = options.allowedTables === undefined ? null : new Set(options.allowedTables.map((table) => table.trim().toLowerCase()));
  const allowedList = options.allowedTables === undefined ? '' : options.allowedTables.map((table) => table.trim()).join(', ');
  const hint = options.hint ?? defaultReadOnlyHint;
  const dialectName = sqlDialectNames[dialect];
  const cache = new Map<string, ReadOnlySqlVerdict>();
  warmSqlParser(dialect);

  const reject = (message: string): never => {
    throw new Rejected(message);
  };
  const writes = (what: string): never => reject(`${only}; found ${what}. ${hint}`);

  const qualifiedName = (qualifier: string | null, table: string): string => {
    const unqualified = qualifier === null || (dialect === 'sqlite' && qualifier.toLowerCase() === 'main');
    return (unqualified ? table : `${qualifier}.${table}`).toLowerCase();
  };
  const checkAllowed = (name: string) => {
    if (allowed !== null && !allowed.has(name)) reject(`the query reads ${name}, which is not one of the tables that may be read: ${allowedList}.`);
  };

  /** Walks the tree with the CTE names in scope; returns the tables read. */
  const walk = (ast: unknown): { tables: Set<string>; cteNames: Set<string> } => {
    const tables = new Set<string>();
    const cteNames = new Set<string>();
    const visit = (value: unknown, scope: ReadonlySet<string>): void => {
      if (Array.isArray(value)) {
        for (const item of value) visit(item, scope);
        return;
      }
      if (!isNode(value)) return;
      let inner = scope;
      if (Array.isArray(value.with)) {
        const names = value.with.map((cte: unknown) => (isNode(cte) ? nameValue(cte.name) : null));
        if (names.some((name) => name === null)) reject(`${only}; the WITH clause could not be analysed.`);
        for (const name of names as string[]) cteNames.add(name.toLowerCase());
        inner = new Set([...scope, ...(names as string[]).map((name) => name.toLowerCase())]);
      }
      const type = typeof value.type === 'string' ? value.type.toLowerCase() : null;
      if (type !== null && writingStatementTypes.has(type)) writes(`${statementLabel(value)} inside the query`);
      if (type === 'assign') writes('a variable assignment (:=), which changes session state');
      if (type === 'function' || type === 'aggr_func' || type === 'window_func') {
        const name = functionName(value);
        if (name === null) reject(`${only}; a function call in it could not be analysed.`);
        const fn = name as string;
        if (isForbiddenFunction(fn)) reject(`${only}; ${fn}() is not allowed: it acts outside the query (loading code, files, sleeping, locks, sequences or settings).`);
        if (allowed !== null && fn.startsWith('pragma_')) {
          const args = isNode(value.args) && Array.isArray(value.args.value) ? value.args.value : [];
          const first = args[0];
          const target = isNode(first) && typeof first.value === 'string' && /string/.test(String(first.type)) ? first.value.toLowerCase() : null;
          if (!tablePragmaFunctions.has(fn) || target === null) reject(`${fn}() is not allowed here; to list a table's columns use pragma_table_info('table') with one of: ${allowedList}.`);
          checkAllowed(target as string);
        }
      }
      if (type === 'select') {
        const into = value.into;
        if (into !== undefined && into !== null) {
          if (!isNode(into)) writes('SELECT … INTO, which writes its result');
          const target = (into as Node).expr;
          if ((into as Node).type === 'into' || (target !== undefined && target !== null) || ((into as Node).position ?? null) !== null) {
            const name = typeof target === 'string' ? ` ${target}` : '';
            writes(`SELECT … INTO${name}, which writes its result`);
          }
        }
        for (const key of ['locking_read', 'for_update']) {
          const lock = value[key];
          if (lock !== undefined && lock !== null && lock !== false) writes(`SELECT … ${typeof lock === 'string' ? lock.toUpperCase() : 'FOR UPDATE'}, which locks rows`);
        }
      }
      if (Array.isArray(value.from)) {
        for (const source of value.from) {
          if (!isNode(source) || !('table' in source) || source.table === null || source.table === undefined) continue;
          if (typeof source.table !== 'string') reject(`${only}; a table reference in it could not be analysed.`);
          const table = source.table as string;
          const qualifier = [source.db, source.schema].filter((part): part is string => typeof part === 'string' && part !== '').join('.') || null;
          if (qualifier === null && inner.has(table.toLowerCase())) continue;
          // Eponymous virtual tables such as pragma_optimize run like the function of the same name.
          if (isForbiddenFunction(table.toLowerCase())) reject(`${only}; ${table.toLowerCase()} is not allowed: it acts outside the query (loading code, files, sleeping, locks, sequences or settings).`);
          const name = qualifiedName(qualifier, table);
          checkAllowed(name);
          tables.add(name);
        }
      }
      for (const [key, child] of Object.entries(value)) {
        if (key === 'loc') continue;
        visit(child, inner);
      }
    };
    visit(ast, new Set());
    return { tables, cteNames };
  };

  /** Why the parser could not parse it, in the most useful words available. */
  const explainParseFailure = (tokens: readonly SqlToken[], text: string, failure: { message: string; offset: number | null; line: number | null; column: number | null }): never => {
    const keyword = leadingKeyword(tokens);
    if (keyword === 'PRAGMA') {
      const advice = dialect === 'sqlite' ? " To list a table's columns, use SELECT name, type FROM pragma_table_info('table')." : '';
      reject(`${only}; found PRAGMA. PRAGMA statements are not accepted (some change the database).${advice}`);
    }
    if (keyword !== null && statementKeywords.has(keyword)) writes(keyword);
    const words = tokens.map((token) => (token.kind === 'word' ? token.text.toUpperCase() : null));
    const lockAt = words.findIndex((word, index) => word === 'FOR' && ['UPDATE', 'SHARE', 'NO', 'KEY'].includes(words[index + 1] ?? ''));
    if (lockAt !== -1) writes(`SELECT … FOR ${words[lockAt + 1]}, which locks rows`);
    // A keyword followed by "(" is a function (REPLACE(), MySQL's INSERT()), not a statement.
    let depth = 0;
    for (const [index, token] of tokens.entries()) {
      if (token.text === '(') depth++;
      if (token.text === ')') depth--;
      const word = words[index];
      if (word === null || word === undefined || !dataModifyingKeywords.has(word) || tokens[index + 1]?.text === '(') continue;
      if (depth === 0 && keyword === 'WITH') writes(`WITH … ${word}${tokenTable(tokens, index)}, a data-modifying statement`);
      writes(`${word} inside the query (data-modifying WITH clauses and subqueries are not read-only)`);
    }
    if (words.includes('INTO')) writes('SELECT … INTO, which writes its result');
    // When the grammar wanted one of a few keywords (say PARTITION in OVER (…)), naming them helps a rewrite.
    const expected = [...(/^Expected (.*) but /.exec(failure.message)?.[1] ?? '').matchAll(/"([A-Z][A-Z_]*(?: [A-Z_]+)*)"/g)].map((match) => match[1]!);
    const wanted = expected.length > 0 && expected.length <= 3 ? `; the parser expected ${expected.join(' or ')} there` : '';
    const where = failure.offset === null ? '' : ` ${snippetAt(text, failure.offset)} (line ${failure.line}, column ${failure.column}${wanted})`;
    return reject(`could not parse the query as ${dialectName} SQL${where}. Send one SELECT statement; if this is valid ${dialectName}, rewrite that part with more common syntax (the checker's parser does not know every construct).`);
  };

  const check = (sql: string): ReadOnlySqlVerdict => {
    if (sql.length > maxLength) reject(`the query is ${sql.length} characters long; at most ${maxLength} are accepted.`);
    const scanned = scanSql(sql, dialect);
    if (!scanned.ok) return reject(`${scanned.message} (at character ${scanned.offset + 1}).`);
    const { statements, text } = scanned.scanned;
    if (statements.length === 0) reject('the query is empty; send one SELECT statement.');
    if (statements.length > 1) {
      const kinds = statements.map((tokens) => leadingKeyword(tokens) ?? '?');
      const message = `${only}; found ${statements.length} statements (${kinds.join('; ')}). Send one statement per call.`;
      reject(kinds.every((kind) => kind === 'SELECT' || kind === 'WITH') ? message : `${message} ${hint}`);
    }
    const tokens = statements[0]!;
    const parsed = parseSqlBounded(text, dialect, parseTimeoutMs);
    if (!parsed.ok) {
      if (parsed.kind === 'syntax') return explainParseFailure(tokens, text, parsed);
      if (parsed.kind === 'timeout') return reject(`the query could not be checked within ${parseTimeoutMs} ms (${parsed.message}); simplify it, e.g. fewer nested subqueries or CASTs.`);
      return reject(`the query could not be checked (${parsed.message}), so it is rejected; try a simpler query.`);
    }
    const trees = (Array.isArray(parsed.ast) ? parsed.ast : [parsed.ast]).filter((tree) => tree !== null && tree !== undefined);
    if (trees.length !== 1) reject(trees.length === 0 ? 'the query is empty; send one SELECT statement.' : `${only}; found ${trees.length} statements. Send one statement per call.`);
    const tree = trees[0];
    if (!isNode(tree) || typeof tree.type !== 'string') return reject(`${only}; the statement could not be classified.`);
    const tableList = parseTableList(parsed.tableList);
    if (tree.type.toLowerCase() !== 'select') {
      const target = tableList.find((entry) => entry.type !== 'select' && entry.table !== 'null');
      writes(`${statementLabel(tree)}${target === undefined ? '' : ` on table ${target.table}`}`);
    }
    const written = tableList.find((entry) => entry.type !== 'select');
    if (written !== undefined) writes(`${written.type.toUpperCase()}${written.table === 'null' ? '' : ` on table ${written.table}`}`);
    const { tables, cteNames } = walk(tree);
    // The parser's own table list as a second opinion: a name the walk did not see must be allowed or a CTE.
    for (const entry of tableList) {
      const name = qualifiedName(entry.qualifier, entry.table);
      if (entry.qualifier === null && cteNames.has(name)) continue;
      checkAllowed(name);
      tables.add(name);
    }
    return { ok: true, tables: [...tables].sort() };
  };

  return (sql: string) => {
    const cached = cache.get(sql);
    if (cached !== undefined) return cached;
    let verdict: ReadOnlySqlVerdict;
    let cacheable = true;
    try {
      verdict = check(sql);
    } catch (error) {
      if (!(error instanceof Rejected)) {
        // A crash while analysing (say, a tree too deep to walk) rejects the query; it is not cached.
        cacheable = false;
        verdict = { ok: false, message: `the query could not be checked (${error instanceof Error ? error.message : String(error)}), so it is rejected` };
      } else {
        verdict = { ok: false, message: error.message.replace(/\.$/, '') };
        cacheable = !/could not be checked/.test(error.message);
      }
    }
    if (cacheable) {
      if (cache.size >= 256) cache.delete(cache.keys().next().value as string);
      cache.set(sql, verdict);
    }
    return verdict;
  };
}

/**
 * A semantic validator for the SQL in `field` (default `query`): passes a single read-only SELECT and rejects
 * anything else at that field, with a message the model can act on. See the module comment for what it checks.
 */
export function readOnlySqlGuard<Field extends string = 'query'>(options: ReadOnlySqlGuardOptions<Field>): SemanticValidator<{ readonly [K in NoInfer<Field>]: string }> {
  const field = options.field ?? 'query';
  const check = createReadOnlySqlChecker(options);
  return (input) => {
    const sql: unknown = (input as Record<string, unknown>)[field];
    if (typeof sql !== 'string') return { ok: false, field, message: 'must be a string holding one SELECT statement' };
    const verdict = check(sql);
    return verdict.ok ? { ok: true } : { ok: false, field, message: verdict.message };
  };
}
