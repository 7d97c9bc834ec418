import { asciiLowerCase } from '../../util/index.ts';
/**
 * The read-only guard's checks on node-sql-parser's syntax tree: the statement must be a SELECT; no statement of
 * another kind may be nested in it (data-modifying CTEs), no SELECT … INTO, no row locks, no variable assignment,
 * no function known to act outside the query, and with `allowedTables`, no table outside the list (checked
 * against both the tree and the parser's own `tableList`). The walk is linear in the size of the tree.
 */
import type { SqlDialect } from './sql-scanner.ts';

/** Thrown by a check with the message for the model; the checker turns it into a rejection verdict. */
export class SqlRejection extends Error {}

export const onlySelect = 'only a single read-only SELECT is accepted';

/** Statement types that never belong inside a SELECT; finding one anywhere in the tree rejects the query. */
const writingStatementTypes = new Set([
  'insert', 'replace', 'update', 'delete', 'merge', 'upsert', 'create', 'drop', 'alter', 'truncate', 'rename',
  'attach', 'detach', 'grant', 'revoke', 'lock', 'unlock', 'transaction', 'load_data', 'call', 'exec', 'use', 'vacuum', 'pragma',
]);

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

export function isForbiddenFunction(name: string): boolean {
  return forbiddenFunctions.has(name) || forbiddenFunctionPrefixes.some((prefix) => name.startsWith(prefix));
}

export const forbiddenFunctionReason = 'it acts outside the query (loading code, files, sleeping, locks, sequences or settings)';

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
  if (typeof name === 'string') return asciiLowerCase(name);
  if (isNode(name) && Array.isArray(name.name) && name.name.length > 0) {
    const parts = name.name.map(nameValue);
    if (parts.some((part) => part === null)) return null;
    return asciiLowerCase(parts.at(-1) as string);
  }
  return null;
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
    return { type: asciiLowerCase(type), qualifier: qualifier === 'null' ? null : qualifier, table: rest.join('::') };
  });
}

export interface TreeCheckOptions {
  readonly dialect: SqlDialect;
  /** Lower-cased table names that may be read, or null for any. */
  readonly allowed: ReadonlySet<string> | null;
  /** The allowed tables as configured, for messages. */
  readonly allowedList: string;
  /** Appended to rejections of statements that would write. */
  readonly hint: string;
}

const reject = (message: string): never => {
  throw new SqlRejection(message);
};

/** Checks one parsed statement; returns the tables it reads (sorted), or throws a SqlRejection. */
export function checkSyntaxTree(parsed: { readonly ast: unknown; readonly tableList: readonly string[] }, options: TreeCheckOptions): string[] {
  const writes = (what: string): never => reject(`${onlySelect}; found ${what}. ${options.hint}`);
  const trees = (Array.isArray(parsed.ast) ? parsed.ast : [parsed.ast]).filter((tree) => tree !== null && tree !== undefined);
  if (trees.length !== 1) reject(trees.length === 0 ? 'the query is empty; send one SELECT statement.' : `${onlySelect}; found ${trees.length} statements. Send one statement per call.`);
  const tree = trees[0];
  if (!isNode(tree) || typeof tree.type !== 'string') return reject(`${onlySelect}; the statement could not be classified.`);
  const tableList = parseTableList(parsed.tableList);
  if (asciiLowerCase(tree.type) !== 'select') {
    const target = tableList.find((entry) => entry.type !== 'select' && entry.table !== 'null');
    writes(`${statementLabel(tree)}${target === undefined ? '' : ` on table ${target.table}`}`);
  }
  const written = tableList.find((entry) => entry.type !== 'select');
  if (written !== undefined) writes(`${written.type.toUpperCase()}${written.table === 'null' ? '' : ` on table ${written.table}`}`);
  const { tables, cteNames } = walk(tree, options);
  // The parser's own table list as a second opinion: a name the walk did not see must be allowed or a CTE.
  for (const entry of tableList) {
    const name = qualifiedName(options.dialect, entry.qualifier, entry.table);
    if (entry.qualifier === null && cteNames.has(name)) continue;
    checkAllowed(name, options);
    tables.add(name);
  }
  return [...tables].sort();
}

function qualifiedName(dialect: SqlDialect, qualifier: string | null, table: string): string {
  const unqualified = qualifier === null || (dialect === 'sqlite' && asciiLowerCase(qualifier) === 'main');
  return asciiLowerCase(unqualified ? table : `${qualifier}.${table}`);
}

function checkAllowed(name: string, options: TreeCheckOptions): void {
  if (options.allowed !== null && !options.allowed.has(name)) reject(`the query reads ${name}, which is not one of the tables that may be read: ${options.allowedList}.`);
}

/** Walks the tree with the CTE names in scope; returns the tables read and every CTE name seen. */
function walk(ast: unknown, options: TreeCheckOptions): { tables: Set<string>; cteNames: Set<string> } {
  const tables = new Set<string>();
  const cteNames = new Set<string>();
  const writes = (what: string): never => reject(`${onlySelect}; found ${what}. ${options.hint}`);
  const visit = (value: unknown, scope: ReadonlySet<string>): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, scope);
      return;
    }
    if (!isNode(value)) return;
    let inner = scope;
    if (Array.isArray(value.with)) {
      const names = value.with.map((cte: unknown) => (isNode(cte) ? nameValue(cte.name) : null));
      if (names.some((name) => name === null)) reject(`${onlySelect}; the WITH clause could not be analysed.`);
      for (const name of names as string[]) cteNames.add(asciiLowerCase(name));
      inner = new Set([...scope, ...(names as string[]).map((name) => asciiLowerCase(name))]);
    }
    const type = typeof value.type === 'string' ? asciiLowerCase(value.type) : null;
    if (type !== null && writingStatementTypes.has(type)) writes(`${statementLabel(value)} inside the query`);
    if (type === 'assign') writes('a variable assignment (:=), which changes session state');
    if (type === 'function' || type === 'aggr_func' || type === 'window_func') checkFunction(value, options);
    if (type === 'select') checkSelect(value, writes);
    if (Array.isArray(value.from)) {
      for (const source of value.from) {
        const name = sourceTable(source, inner, options.dialect);
        if (name === null) continue;
        checkAllowed(name, options);
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
}

function checkFunction(node: Node, options: TreeCheckOptions): void {
  const name = functionName(node);
  if (name === null) return reject(`${onlySelect}; a function call in it could not be analysed.`);
  if (isForbiddenFunction(name)) reject(`${onlySelect}; ${name}() is not allowed: ${forbiddenFunctionReason}.`);
  if (options.allowed === null || !name.startsWith('pragma_')) return;
  const args = isNode(node.args) && Array.isArray(node.args.value) ? node.args.value : [];
  const first = args[0];
  const target = isNode(first) && typeof first.value === 'string' && /string/.test(String(first.type)) ? asciiLowerCase(first.value) : null;
  if (!tablePragmaFunctions.has(name) || target === null) reject(`${name}() is not allowed here; to list a table's columns use pragma_table_info('table') with one of: ${options.allowedList}.`);
  checkAllowed(target as string, options);
}

function checkSelect(node: Node, writes: (what: string) => never): void {
  const into = node.into;
  if (into !== undefined && into !== null) {
    if (!isNode(into)) writes('SELECT … INTO, which writes its result');
    const target = (into as Node).expr;
    if ((into as Node).type === 'into' || (target !== undefined && target !== null) || ((into as Node).position ?? null) !== null) {
      const name = typeof target === 'string' ? ` ${target}` : '';
      writes(`SELECT … INTO${name}, which writes its result`);
    }
  }
  for (const key of ['locking_read', 'for_update']) {
    const lock = node[key];
    if (lock !== undefined && lock !== null && lock !== false) writes(`SELECT … ${typeof lock === 'string' ? lock.toUpperCase() : 'FOR UPDATE'}, which locks rows`);
  }
}

/** The qualified, lower-cased table a FROM entry reads, or null for a subquery, a CTE in scope or no table. */
function sourceTable(source: unknown, scope: ReadonlySet<string>, dialect: SqlDialect): string | null {
  if (!isNode(source) || !('table' in source) || source.table === null || source.table === undefined) return null;
  if (typeof source.table !== 'string') return reject(`${onlySelect}; a table reference in it could not be analysed.`);
  const table = source.table;
  const qualifier = [source.db, source.schema].filter((part): part is string => typeof part === 'string' && part !== '').join('.') || null;
  if (qualifier === null && scope.has(asciiLowerCase(table))) return null;
  // Eponymous virtual tables such as pragma_optimize run like the function of the same name.
  if (isForbiddenFunction(asciiLowerCase(table))) reject(`${onlySelect}; ${asciiLowerCase(table)} is not allowed: ${forbiddenFunctionReason}.`);
  return qualifiedName(dialect, qualifier, table);
}
