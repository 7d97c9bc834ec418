/**
 * A read-only SQL tool over one SQLite file, safe to hand to a model: no input can stall the event loop or take
 * the host down. Three layers stand between the model's text and the data, each able to reject on its own:
 * 1. At validation, synchronously: the read-only guard's token checks (and any verdict it already has cached).
 * 2. Before the query runs: the guard's full check, whose SQL parser runs in a worker thread under a time limit.
 * 3. In a query process (sqlite-query-pool.ts): a connection opened read-only with `query_only`, where only a
 *    statement SQLite itself reports as read-only and row-returning runs.
 * The query runs in that process under a time limit (the process is killed past it, or on abort), and stops
 * reading once it has the rows asked for or the result outgrows its byte budget. Every failure is a KeelError
 * saying what to change: `tool-invalid-input`, `tool-timeout`, `tool-result-too-large`, `tool-failed`.
 */
import { z } from 'zod';
import { KeelError } from '../errors/index.ts';
import { defineTool } from './define-tool.ts';
import type { ToolDefinition } from './define-tool.ts';
import { runSqliteQuery, warmSqliteQueryPool } from './sqlite-query-pool.ts';
import type { SqliteQueryOutcome } from './sqlite-query-pool.ts';
import { withSemanticValidation } from './validators/semantic-validator.ts';
import { createReadOnlySqlChecker, defaultReadOnlyHint, readOnlySqlGuard } from './validators/sql-read-only.ts';

/** What running a query needs, without the guard: the runtime layer alone. */
export interface SqliteReadOnlyQueryOptions {
  /** The tool's name, used in messages. */
  readonly name: string;
  /** The SQLite file; it must exist, and is only ever opened read-only. */
  readonly databasePath: string;
  /** The largest `limit` a call may ask for; defaults to 500. More matching rows set `truncated`. */
  readonly maxRows?: number;
  /** Budget for the rows as JSON, and for any single value, in bytes; defaults to 1 MiB. Past it the call fails as `tool-result-too-large`. */
  readonly maxResultBytes?: number;
  /** Longest a query may run; defaults to 10 s. Past it the query's process is killed and the call fails as `tool-timeout`. */
  readonly timeoutMs?: number;
  /** Appended to rejections of statements that would write: what to do instead. */
  readonly hint?: string;
  /** The tables and their columns in a line, appended to SQL errors so the model can correct a name. */
  readonly schemaSummary?: string;
}

export interface SqliteQueryToolOptions extends SqliteReadOnlyQueryOptions {
  readonly description: string;
  /** Tables the query may read (case-insensitive); omit to allow every table, sqlite_master included. */
  readonly allowedTables?: readonly string[];
  /** Rows a call returns unless it asks for another `limit`; defaults to 100. */
  readonly defaultRows?: number;
  /** Longest the SQL parser may work on one query; defaults to 1 s. */
  readonly parseTimeoutMs?: number;
  /** Characters a query may have; defaults to 10,000. */
  readonly maxQueryLength?: number;
  readonly scopes?: readonly string[];
  /** Characters of output the model sees; the full output is kept as a blob. Defaults to 16,000. */
  readonly maxOutputChars?: number;
}

export interface SqliteQueryResult {
  readonly columns: string[];
  readonly rowCount: number;
  /** More rows matched than the call's `limit`. */
  readonly truncated: boolean;
  readonly note?: string;
  readonly rows: Record<string, unknown>[];
}

/** Time beyond the parse and the query that the pipeline's own limit leaves for a process to start and a queue to move. */
const startupAllowanceMs = 15_000;

interface Settings {
  readonly name: string;
  readonly databasePath: string;
  readonly maxRows: number;
  readonly maxResultBytes: number;
  readonly timeoutMs: number;
  readonly hint: string;
  readonly schemaSummary: string | undefined;
}

function positiveInteger(toolName: string, field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new KeelError('invalid-config', `Tool "${toolName}": ${field} must be a positive integer, got ${value}.`);
  return value;
}

function allowedStatements(name: string): string {
  return `${name} runs only a single read-only SELECT statement (WITH … SELECT is fine; for a table's columns use SELECT name, type FROM pragma_table_info('table'))`;
}

/** The KeelError for a query that did not produce rows, worded so the model can change the query. */
function failure(outcome: Exclude<SqliteQueryOutcome, { ok: true }>, settings: Settings, limit: number): KeelError {
  const { name, maxResultBytes } = settings;
  const narrow = 'Narrow the query: add LIMIT (or ask for a smaller limit), select fewer or shorter columns (substr(column, 1, 200), length(column)), or aggregate with COUNT and GROUP BY.';
  switch (outcome.kind) {
    case 'rejected':
      return new KeelError('tool-invalid-input', `Rejected: ${allowedStatements(name)}; ${outcome.what} is not permitted. ${settings.hint}`);
    case 'sql-error': {
      const tables = settings.schemaSummary === undefined ? '' : `; tables: ${settings.schemaSummary}`;
      return new KeelError('tool-invalid-input', `SQL error: ${outcome.message}. ${allowedStatements(name)}${tables}.`);
    }
    case 'open-failed':
      return new KeelError('tool-failed', `The database at ${settings.databasePath} cannot be opened: ${outcome.message}`);
    case 'too-large':
      return outcome.reason === 'value'
        ? new KeelError('tool-result-too-large', `Column "${outcome.column}" of row ${outcome.rowsRead + 1} holds a value of ${outcome.bytes} characters, more than the ${maxResultBytes}-byte result limit. ${narrow}`, { details: { ...outcome } })
        : new KeelError('tool-result-too-large', `The result passed the ${maxResultBytes}-byte limit after ${outcome.rowsRead} of at most ${limit} rows. ${narrow}`, { details: { ...outcome } });
    case 'timeout':
      return new KeelError(
        'tool-timeout',
        `The query did not finish within ${settings.timeoutMs} ms and was stopped. Make it cheaper: filter with WHERE (a narrow time window), aggregate with GROUP BY, add LIMIT, and avoid joins without an ON condition and recursive CTEs without an end.`,
      );
    case 'crashed':
      return outcome.outOfMemory
        ? new KeelError('tool-result-too-large', `The query ran out of memory and was stopped (${outcome.message}). ${narrow}`)
        : new KeelError('tool-failed', `The query could not be run: ${outcome.message}.`);
  }
}

function settingsOf(options: SqliteReadOnlyQueryOptions): Settings {
  const { name } = options;
  return {
    name,
    databasePath: options.databasePath,
    maxRows: positiveInteger(name, 'maxRows', options.maxRows ?? 500),
    maxResultBytes: positiveInteger(name, 'maxResultBytes', options.maxResultBytes ?? 1_048_576),
    timeoutMs: positiveInteger(name, 'timeoutMs', options.timeoutMs ?? 10_000),
    hint: options.hint ?? defaultReadOnlyHint,
    schemaSummary: options.schemaSummary,
  };
}

async function runQuery(settings: Settings, request: { readonly query: string; readonly limit: number; readonly signal: AbortSignal }): Promise<SqliteQueryResult> {
  const { query, limit, signal } = request;
  if (!Number.isInteger(limit) || limit < 1 || limit > settings.maxRows) throw new KeelError('tool-invalid-input', `limit must be an integer from 1 to ${settings.maxRows}, got ${limit}.`);
  const outcome = await runSqliteQuery({ databasePath: settings.databasePath, sql: query, maxRows: limit, maxResultBytes: settings.maxResultBytes, timeoutMs: settings.timeoutMs, signal });
  if (!outcome.ok) throw failure(outcome, settings, limit);
  const { columns, rows, truncated } = outcome;
  const note = `Only the first ${limit} rows are shown; more matched. Aggregate, narrow the WHERE clause, or raise limit (at most ${settings.maxRows}).`;
  return { columns, rowCount: rows.length, truncated, ...(truncated ? { note } : {}), rows };
}

/**
 * The runtime layer alone, without the SQL guard: runs `query` in a query process on a read-only connection, where
 * only a statement SQLite reports as read-only and row-returning runs, under the time limit and the result budget.
 * For SQL that does not come from a model, or to test that layer on its own; a model's SQL goes through the tool.
 */
export function querySqliteReadOnly(options: SqliteReadOnlyQueryOptions, request: { readonly query: string; readonly limit: number; readonly signal: AbortSignal }): Promise<SqliteQueryResult> {
  return runQuery(settingsOf(options), request);
}

/**
 * Defines a tool that runs one read-only SELECT against `databasePath` and returns the rows as JSON. Its input is
 * `{ query, limit }`. See the module comment for the layers and limits.
 * @example
 * const queryOrders = defineSqliteQueryTool({
 *   name: 'query_orders',
 *   description: 'Run one read-only SELECT on the orders database.',
 *   databasePath: 'orders.db',
 *   allowedTables: ['orders', 'customers'],
 *   timeoutMs: 5_000,
 * });
 * const agent = defineAgent({ name: 'analyst', instructions: 'Answer from the orders data.', tools: [queryOrders] });
 */
export function defineSqliteQueryTool(options: SqliteQueryToolOptions): ToolDefinition {
  const { name } = options;
  const settings = settingsOf(options);
  const defaultRows = positiveInteger(name, 'defaultRows', options.defaultRows ?? 100);
  if (defaultRows > settings.maxRows) throw new KeelError('invalid-config', `Tool "${name}": defaultRows (${defaultRows}) must not exceed maxRows (${settings.maxRows}).`);
  const maxQueryLength = positiveInteger(name, 'maxQueryLength', options.maxQueryLength ?? 10_000);
  const parseTimeoutMs = positiveInteger(name, 'parseTimeoutMs', options.parseTimeoutMs ?? 1_000);
  const checker = createReadOnlySqlChecker({
    dialect: 'sqlite',
    maxLength: maxQueryLength,
    parseTimeoutMs,
    hint: settings.hint,
    ...(options.allowedTables === undefined ? {} : { allowedTables: options.allowedTables }),
  });
  // The first call should not wait for a query process to start (a few hundred ms on a busy machine).
  warmSqliteQueryPool();
  const input = withSemanticValidation(
    z.object({
      query: z.string().min(1).max(maxQueryLength).describe('One SQLite SELECT statement.'),
      limit: z.number().int().min(1).max(settings.maxRows).default(defaultRows).describe(`Maximum rows to return (default ${defaultRows}, at most ${settings.maxRows}).`),
    }),
    [readOnlySqlGuard({ checker })],
  );
  return defineTool({
    name,
    description: options.description,
    input,
    risk: 'read',
    ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
    ...(options.maxOutputChars === undefined ? {} : { maxOutputChars: options.maxOutputChars }),
    timeoutMs: parseTimeoutMs + settings.timeoutMs + startupAllowanceMs,
    execute: async ({ query, limit }, { signal }): Promise<SqliteQueryResult> => {
      signal.throwIfAborted();
      const verdict = await checker.check(query, signal);
      if (!verdict.ok) throw new KeelError('tool-invalid-input', `Invalid input for "${name}": query: ${verdict.message}.`, { details: { field: 'query' } });
      return runQuery(settings, { query, limit, signal });
    },
  });
}
